"""The adapter's glue without calvin_env: CalvinRolloutEnv driving a stand-in for PlayTableSimEnv.

Checked against the official loop (evaluate_policy.evaluate_sequence / rollout): the reset vectors it sends, the
instruction per subtask, success asked of the oracle against the info at the subtask's start, the next subtask
starting at once, a chain ending at its first failure after ep_len steps, and the gripper command sent as +-1.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from calvin_fakes import CLOSED_DARK, STEPS_NEEDED, FakePlayTable, fake_sim, scripted_action

from foresight.envs.calvin import CalvinConfig, CalvinEnv, CalvinNotInstalled, CalvinRolloutEnv, reset_state
from foresight.envs.calvin.resources import INSTRUCTIONS, SEQUENCES, data_file
from foresight.envs.calvin.sim import to_observation
from foresight.eval.worker import POLICY_RESET
from foresight.rollout import EpisodeSpec, StepResult

DOABLE = ["open_drawer", "move_slider_left", "turn_on_lightbulb", "turn_on_led", "close_drawer"]


def sequences_file(tmp_path: Path, chains: list[tuple[dict, list[str]]]) -> str:
    path = tmp_path / "sequences.json"
    path.write_text(json.dumps([[cond, tasks] for cond, tasks in chains]))
    return str(path)


def make_env(tmp_path: Path, chains: list[tuple[dict, list[str]]], ep_len: int = 20) -> CalvinRolloutEnv:
    config = CalvinConfig(
        sequences_file=sequences_file(tmp_path, chains), num_sequences=len(chains), ep_len=ep_len, oracle="foresight"
    )
    return CalvinRolloutEnv(config, sim_factory=fake_sim)


def run_chain(env: CalvinRolloutEnv, suite_episode: EpisodeSpec) -> tuple[list[StepResult], list[str]]:
    """Act like the scripted policy until the chain ends; returns the step results and the instructions seen."""
    obs = env.reset(suite_episode)
    seen = [obs.instruction]
    results = []
    while True:
        result = env.step(scripted_action(obs.instruction))
        results.append(result)
        obs = result.observation
        if result.done:
            return results, seen
        if result.info.get(POLICY_RESET):
            seen.append(obs.instruction)


def episode(index: int = 0) -> EpisodeSpec:
    return EpisodeSpec(task_index=index, task=f"chain {index}", trial=0, init_index=index, seed=0)


def test_a_fully_solved_chain(tmp_path: Path) -> None:
    env = make_env(tmp_path, [(CLOSED_DARK, DOABLE)])
    results, seen = run_chain(env, episode())
    instructions = yaml.safe_load(data_file(INSTRUCTIONS).read_text())
    assert seen == [instructions[t][0] for t in DOABLE]
    steps = [STEPS_NEEDED[t] for t in DOABLE]
    assert len(results) == sum(steps)
    final = results[-1]
    assert final.done and final.success
    assert final.info == {
        "sequence_index": 0,
        "subtasks": DOABLE,
        "completed": 5,
        "failed_subtask": None,
        "subtask_steps": steps,
    }
    # A policy reset exactly where a subtask was completed and another follows; success only at the very end.
    resets = [i + 1 for i, r in enumerate(results) if r.info.get(POLICY_RESET)]
    assert resets == list(np.cumsum(steps)[:-1])
    assert [r.info["subtask"] for r in results[:-1]] == [
        t for t, n in zip(DOABLE, steps, strict=True) for _ in range(n)
    ][1:]
    assert [r.success for r in results].count(True) == 1
    with pytest.raises(RuntimeError, match="after the chain ended"):
        env.step(scripted_action(""))


def test_the_chain_stops_at_its_first_failure_after_ep_len_steps(tmp_path: Path) -> None:
    chain = ["open_drawer", "lift_red_block_table", "turn_on_led", "move_slider_left", "turn_on_lightbulb"]
    env = make_env(tmp_path, [(CLOSED_DARK, chain)], ep_len=15)
    results, seen = run_chain(env, episode())
    assert len(seen) == 2 and seen[1] == "grasp and lift the red block"
    assert len(results) == 4 + 15
    final = results[-1]
    assert final.done and not final.success
    assert final.info["completed"] == 1 and final.info["failed_subtask"] == "lift_red_block_table"
    assert final.info["subtask_steps"] == [4, 15]
    assert all(not r.done for r in results[:-1])


def test_success_is_judged_from_the_subtask_start_not_the_chain_start(tmp_path: Path) -> None:
    # close_drawer right after open_drawer: relative to the chain's start the drawer ends where it began, so only
    # an oracle asked against the info at the subtask's start sees it closed. A second open_drawer is impossible.
    chain = ["open_drawer", "close_drawer", "turn_on_led", "move_slider_left", "turn_on_lightbulb"]
    env = make_env(tmp_path, [(CLOSED_DARK, chain)])
    results, _ = run_chain(env, episode())
    assert results[-1].info["completed"] == 5 and results[-1].info["subtask_steps"] == [4, 4, 1, 5, 1]


def test_reset_sends_the_official_state_and_an_open_gripper(tmp_path: Path) -> None:
    chains = json.loads(data_file(SEQUENCES).read_text())[:2]
    env = make_env(tmp_path, [(c, t) for c, t in chains])
    for index in (1, 0):
        obs = env.reset(episode(index))
        sim: FakePlayTable = env.sim
        sent = sim.resets[-1]
        robot_obs, scene_obs = reset_state(chains[index][0])
        np.testing.assert_array_equal(sent["robot_obs"], robot_obs)
        np.testing.assert_array_equal(sent["scene_obs"], scene_obs)
        # The previous chain's closed gripper must not leak into this chain's first observation.
        assert sent["gripper"] == 1 and obs.proprio["robot_obs"][14] == 1.0
        sim.robot.gripper_action = -1
        np.testing.assert_array_equal(obs.proprio["scene_obs"], scene_obs)
        assert obs.images["static"].shape == (200, 200, 3) and obs.images["gripper"].shape == (84, 84, 3)
        assert obs.images["static"].dtype == np.uint8 and obs.images["static"][0, 0, 0] == 255
    assert len(env.sim.resets) == 2  # one simulator for all chains of a worker


@pytest.mark.parametrize(("raw", "sent"), [(0.7, 1.0), (1e-6, 1.0), (0.0, -1.0), (-0.3, -1.0)])
def test_gripper_output_is_sent_as_plus_or_minus_one(tmp_path: Path, raw: float, sent: float) -> None:
    env = make_env(tmp_path, [(CLOSED_DARK, DOABLE)])
    env.reset(episode())
    action = np.array([0.1, -0.2, 0.3, 0.01, 0.02, 0.03, raw], dtype=np.float32)
    env.step(action)
    got = env.sim.actions[-1]
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got[:6], action[:6].astype(np.float64))  # motions are passed on unclipped
    assert got[6] == sent
    assert action[6] == np.float32(raw)  # the caller's array is not modified


def test_bad_actions_are_rejected(tmp_path: Path) -> None:
    env = make_env(tmp_path, [(CLOSED_DARK, DOABLE)])
    env.reset(episode())
    with pytest.raises(ValueError, match="7-dim relative actions"):
        env.step(np.zeros(8))
    with pytest.raises(ValueError, match="non-finite"):
        env.step(np.array([np.nan, 0, 0, 0, 0, 0, 1]))
    with pytest.raises(IndexError, match="asks for chain 3; this protocol has 1 chains"):
        env.reset(episode(3))


def test_close_releases_the_simulator(tmp_path: Path) -> None:
    env = make_env(tmp_path, [(CLOSED_DARK, DOABLE)])
    env.reset(episode())
    sim = env.sim
    env.close()
    assert sim.closed
    env.reset(episode())  # a fresh simulator is built on demand
    assert env.sim is not sim


@pytest.mark.skipif(importlib.util.find_spec("calvin_env") is not None, reason="needs calvin_env absent")
def test_without_calvin_env_every_entry_point_names_the_install_doc() -> None:
    with pytest.raises(CalvinNotInstalled, match="calvin_env is not on PyPI"):
        CalvinEnv(CalvinConfig(num_sequences=1)).protocol()  # the main process fails before any worker starts
    with pytest.raises(CalvinNotInstalled, match=r"docs/envs/calvin.md"):
        CalvinEnv(CalvinConfig(num_sequences=1)).make_env()  # the official oracle
    env = CalvinEnv(CalvinConfig(num_sequences=1, oracle="foresight")).make_env()
    with pytest.raises(CalvinNotInstalled, match=r"docs/envs/calvin.md"):
        env.reset(episode(0))  # the simulator


def test_observation_conversion_checks_cameras_and_sizes() -> None:
    obs = FakePlayTable().reset(*reset_state(CLOSED_DARK))
    del obs["rgb_obs"]["rgb_gripper"]
    with pytest.raises(KeyError, match=r"rendered \['rgb_static'\], not \['rgb_gripper'\]"):
        to_observation(obs, "x")
    obs = FakePlayTable().reset(*reset_state(CLOSED_DARK))
    obs["scene_obs"] = obs["scene_obs"][:20]
    with pytest.raises(ValueError, match=r"scene_obs has shape \(20,\), expected \(24,\)"):
        to_observation(obs, "x")


def test_steps_without_rendering_change_nothing_but_the_images(tmp_path: Path) -> None:
    """Same chain, same actions: rendering every 3rd step gives the eager run's states, outcomes and query frames;
    a step completing a subtask renders anyway (the next subtask's first frame), the others not at all."""
    chain = ["open_drawer", "turn_on_lightbulb", "move_slider_left", "lift_red_block_table", "turn_on_led"]
    runs = {}
    for lazy in (False, True):
        env = make_env(tmp_path, [(CLOSED_DARK, chain)], ep_len=7)
        obs = env.reset(episode())
        results, t = [], 0
        while not results or not results[-1].done:
            t += 1
            result = env.step(scripted_action(obs.instruction), render=not lazy or t % 3 == 0)
            results.append(result)
            obs = result.observation
        runs[lazy] = (results, env.sim)
    (eager, eager_sim), (lazy, lazy_sim) = runs[False], runs[True]
    assert len(lazy) == len(eager) == 4 + 1 + 5 + 7
    np.testing.assert_array_equal(np.array(lazy_sim.actions), np.array(eager_sim.actions))
    rendered = []
    for t, (a, b) in enumerate(zip(eager, lazy, strict=True), start=1):
        assert (b.success, b.done, b.info) == (a.success, a.done, a.info)
        for key, value in a.observation.proprio.items():
            np.testing.assert_array_equal(b.observation.proprio[key], value)
        if b.observation.images:
            rendered.append(t)
            for view, image in a.observation.images.items():
                np.testing.assert_array_equal(b.observation.images[view], image, err_msg=f"{view} at step {t}")
    # Subtasks end at steps 4 (drawer), 5 (light bulb) and 10 (slider); the red block fails after 7 more.
    assert rendered == [3, 4, 5, 6, 9, 10, 12, 15]
    assert [step for step, camera in lazy_sim.renders if camera == "static"] == [0, 3, 4, 5, 6, 9, 10, 12, 15]
    assert len(eager_sim.renders) == 2 * (len(eager) + 1)
