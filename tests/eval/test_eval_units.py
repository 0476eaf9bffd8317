"""The runner's pieces in isolation: history stacking, chunk execution, the results file, batching, config."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from eval_fakes import ReachConfig, ReachSuite
from eval_policy import OBS_OFFSETS, loaded_policy

from foresight.config import ConfigError, validate
from foresight.eval.chunking import ActionQueue, RenderPlan
from foresight.eval.config import EvalConfig
from foresight.eval.history import ActionHistory, ObservationHistory, pack
from foresight.eval.policy import BatchedPolicy, Query, execution_start
from foresight.eval.results import EpisodeLog, EvalError, check_run_identity, finished_keys, latest_by_key
from foresight.eval.runner import resolve_execution, select_episodes
from foresight.rollout import Observation
from foresight.types import OBS_IS_PAD, STATE, DataSpec, image_key

# --- history ------------------------------------------------------------------------------------------------------


def test_history_clamps_to_the_first_frame_and_flags_padding() -> None:
    history = ObservationHistory((-6, -3, 0))
    seen = []
    for frame in range(10):
        history.push(frame)
        frames, pad = history.stack()
        seen.append((frames, pad.tolist()))
    assert seen[0] == ([0, 0, 0], [True, True, False])
    assert seen[2] == ([0, 0, 2], [True, True, False])
    assert seen[3] == ([0, 0, 3], [True, False, False])
    assert seen[5] == ([0, 2, 5], [True, False, False])
    assert seen[6] == ([0, 3, 6], [False, False, False])
    assert seen[9] == ([3, 6, 9], [False, False, False])


def test_history_clear_starts_a_new_episode() -> None:
    history = ObservationHistory((-2, 0))
    for frame in range(5):
        history.push(frame)
    history.clear()
    history.push(100)
    frames, pad = history.stack()
    assert frames == [100, 100] and pad.tolist() == [True, False]


@pytest.mark.parametrize("offsets", [(), (0, 1), (0, -2), (-1, -1, 0)])
def test_history_rejects_future_or_unordered_offsets(offsets: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="increasing and <= 0"):
        ObservationHistory(offsets)


def _obs(value: float) -> Observation:
    return Observation(
        images={"front": np.full((2, 3, 3), int(value), np.uint8)},
        proprio={"pos": np.array([value, -value]), "grip": np.array([value * 10])},
        instruction=f"step {value}",
    )


def test_pack_stacks_views_and_concatenates_proprio_in_spec_order() -> None:
    packed = pack([_obs(1), _obs(2)], np.array([True, False]), views=("front",), proprio_keys=("grip", "pos"))
    assert packed["images"]["front"].shape == (2, 2, 3, 3)
    assert packed["images"]["front"][:, 0, 0, 0].tolist() == [1, 2]
    np.testing.assert_array_equal(packed["proprio"], [[10, 1, -1], [20, 2, -2]])
    assert packed["proprio"].dtype == np.float32
    assert packed["instruction"] == "step 2"


def test_pack_carries_the_newest_frames_instruction_and_task() -> None:
    frames = [_obs(1), _obs(2)]
    frames[0].task, frames[1].task = "open_drawer", "move_slider_left"  # a CALVIN subtask switch in the window
    packed = pack(frames, np.array([False, False]), views=("front",), proprio_keys=())
    assert (packed["instruction"], packed["task"]) == ("step 2", "move_slider_left")
    assert pack([_obs(1)], np.array([False]), views=(), proprio_keys=())["task"] is None  # env names no task


def test_pack_names_missing_views_and_keys() -> None:
    with pytest.raises(KeyError, match=r"views \['agentview'\].*renders \['front'\]"):
        pack([_obs(1)], np.array([False]), views=("agentview",), proprio_keys=())
    with pytest.raises(KeyError, match=r"proprio keys \['joint'\].*reports \['grip', 'pos'\]"):
        pack([_obs(1)], np.array([False]), views=("front",), proprio_keys=("joint",))


# --- chunk execution ---------------------------------------------------------------------------------------------


def test_receding_horizon_executes_the_first_k_actions() -> None:
    queue = ActionQueue(replan_every=2)
    chunk = np.arange(8, dtype=np.float32).reshape(4, 2)
    np.testing.assert_array_equal(queue.plan(0, chunk), chunk[:2])
    with pytest.raises(ValueError, match=r"env\.replan_every to at most 4"):
        ActionQueue(replan_every=5).plan(0, chunk)


def test_temporal_ensemble_matches_act_weights_by_hand() -> None:
    k = 0.5
    queue = ActionQueue(replan_every=1, ensemble_decay=k)
    first = np.array([[0.0], [1.0], [2.0]])
    second = np.array([[10.0], [11.0], [12.0]])
    third = np.array([[20.0], [21.0], [22.0]])
    fourth = np.array([[30.0], [31.0], [32.0]])
    assert queue.plan(0, first)[0, 0] == pytest.approx(0.0)
    # step 1: the oldest prediction (1.0) gets weight 1, the newer (10.0) exp(-k)
    w = math.exp(-k)
    assert queue.plan(1, second)[0, 0] == pytest.approx((1.0 + w * 10.0) / (1 + w))
    # step 2: three predictions, oldest first: 2.0, 11.0, 20.0
    weights = [1, math.exp(-k), math.exp(-2 * k)]
    expected = (2.0 * weights[0] + 11.0 * weights[1] + 20.0 * weights[2]) / sum(weights)
    assert queue.plan(2, third)[0, 0] == pytest.approx(expected)
    # step 3: the chunk from step 0 (length 3) has expired
    assert queue.plan(3, fourth)[0, 0] == pytest.approx((12.0 + w * 21.0 + w * w * 30.0) / (1 + w + w * w))
    queue.reset()
    assert queue.plan(10, fourth)[0, 0] == pytest.approx(30.0)


def test_temporal_ensemble_over_several_steps_uses_only_chunks_that_cover_them() -> None:
    queue = ActionQueue(replan_every=2, ensemble_decay=0.0)  # k = 0: plain mean
    queue.plan(0, np.array([[0.0], [2.0], [4.0]]))
    out = queue.plan(2, np.array([[10.0], [20.0], [30.0]]))
    assert out[:, 0].tolist() == pytest.approx([(4.0 + 10.0) / 2, 20.0])


def _rendered(plan: RenderPlan, steps: int = 24) -> list[int]:
    return [t for t in range(1, steps + 1) if plan.needs_images(t)]


def test_render_plan_renders_the_frames_the_next_queries_read() -> None:
    assert _rendered(RenderPlan(6, (-6, 0))) == [6, 12, 18, 24]  # CLaD: chunk 6, reads the previous query's frame
    assert _rendered(RenderPlan(8, (0,))) == [8, 16, 24]  # dp: chunk 8, the current frame
    assert _rendered(RenderPlan(6, (-1, 0))) == [5, 6, 11, 12, 17, 18, 23, 24]  # two consecutive frames
    assert _rendered(RenderPlan(4, (-6, 0)), 12) == [2, 4, 6, 8, 10, 12]  # query 8 reads 2, query 12 reads 6
    assert _rendered(RenderPlan(1, (0,)), 5) == [1, 2, 3, 4, 5]  # temporal ensembling queries every step
    assert _rendered(RenderPlan(6, (0,), every_step=True), 5) == [1, 2, 3, 4, 5]  # a video, or eval.render
    assert _rendered(RenderPlan(6, (-6, 0), reads_images=False)) == []  # a proprio-only policy
    with pytest.raises(ValueError, match="<= 0"):
        RenderPlan(6, (0, 6))


def test_a_query_reading_an_unrendered_frame_is_an_error_not_a_blank_image() -> None:
    history = ObservationHistory((-1, 0))
    rendered = Observation(images={"front": np.zeros((2, 2, 3), np.uint8)}, proprio={}, instruction="x")
    history.push(Observation(images={}, proprio={}, instruction="x"))
    history.push(rendered)
    frames, pad = history.stack()
    with pytest.raises(RuntimeError, match=r"stacked frames \[0\] \(of 2\) came without images"):
        pack(frames, pad, ("front",), ())
    assert pack(frames, pad, (), ())["images"] == {}  # nothing read, nothing needed


# --- results file ------------------------------------------------------------------------------------------------


def test_episode_log_round_trip_and_repair_of_a_partial_line(tmp_path) -> None:
    log = EpisodeLog(tmp_path / "episodes.jsonl")
    log.append({"key": "000/000", "status": "ok", "success": True})
    log.append({"key": "000/001", "status": "error", "success": False})
    with open(log.path, "ab") as fh:
        fh.write(b'{"key": "000/002", "sta')  # killed mid-write
    assert log.repair() == len(b'{"key": "000/002", "sta')
    assert log.repair() == 0
    log.append({"key": "000/001", "status": "ok", "success": False})
    records = log.read()
    assert [r["key"] for r in records] == ["000/000", "000/001", "000/001"]
    assert finished_keys(records) == {"000/000", "000/001"}
    assert latest_by_key(records)["000/001"]["status"] == "ok"


def test_errors_are_not_finished() -> None:
    assert finished_keys([{"key": "a", "status": "error"}, {"key": "b", "status": "ok"}]) == {"b"}


def test_corrupt_line_names_the_file_and_line(tmp_path) -> None:
    path = tmp_path / "episodes.jsonl"
    path.write_text('{"key": "a", "status": "ok"}\nnot json\n')
    with pytest.raises(EvalError, match=r"episodes.jsonl line 2 is not valid JSON"):
        EpisodeLog(path).read()


def test_run_identity_refuses_a_different_protocol(tmp_path) -> None:
    identity = {"env": "reach", "protocol": {"max_steps": 12, "trials": (1, 2)}, "checkpoint": {"step": 7}}
    check_run_identity(tmp_path, identity)
    check_run_identity(tmp_path, identity)  # same (tuples compare after a JSON round trip)
    assert json.loads((tmp_path / "run.json").read_text())["protocol"]["max_steps"] == 12
    changed = {**identity, "protocol": {"max_steps": 20, "trials": (1, 2)}}
    with pytest.raises(EvalError, match=r"protocol.max_steps was 12, now 20.*another eval.out"):
        check_run_identity(tmp_path, changed)


# --- episode selection and execution options -----------------------------------------------------------------------


def test_select_episodes_by_task_and_trial() -> None:
    episodes = ReachSuite(ReachConfig(tasks=3, trials_per_task=4)).episodes()
    chosen = select_episodes(episodes, EvalConfig(tasks="0,2", trials=2))
    assert [e.key for e in chosen] == ["000/000", "000/001", "002/000", "002/001"]
    with pytest.raises(EvalError, match=r"tasks \[5\]; this protocol's tasks are \[0, 1, 2\]"):
        select_episodes(episodes, EvalConfig(tasks=[5]))


def test_execution_defaults_whole_chunk_or_every_step_when_ensembling() -> None:
    assert resolve_execution(ReachSuite(ReachConfig(replan_every=None)), 6)["replan_every"] == 6
    ensemble = resolve_execution(ReachSuite(ReachConfig(replan_every=None, temporal_ensemble=0.25)), 6)
    assert ensemble == {
        "action_execution": "temporal_ensemble",
        "replan_every": 1,
        "temporal_ensemble": 0.25,
        "adaptive_ensemble": None,
        "chunk_length": 6,
    }


def test_replanning_beyond_the_chunk_is_refused_up_front() -> None:
    with pytest.raises(EvalError, match=r"env\.replan_every=8 exceeds the 6 actions"):
        resolve_execution(ReachSuite(ReachConfig(replan_every=8)), 6)


def test_execution_start_is_offset_zero() -> None:
    assert execution_start(DataSpec(action_offsets=(-2, -1, 0, 1))) == 2
    with pytest.raises(ValueError, match="do not include 0"):
        execution_start(DataSpec(action_offsets=(1, 2)))


def test_eval_config_validation_messages() -> None:
    assert validate({"tasks": "0,3", "trials": 5}, EvalConfig, "eval").tasks == [0, 3]
    assert validate({"tasks": [3, 0]}, EvalConfig, "eval").tasks == [0, 3]
    with pytest.raises(ConfigError, match="Did you mean 'trials'"):
        validate({"trails": 5}, EvalConfig, "eval")
    with pytest.raises(ConfigError, match=r"eval\.tasks='zero'"):
        validate({"tasks": "zero"}, EvalConfig, "eval")
    with pytest.raises(ConfigError, match=r"eval\.workers must be at least 1"):
        validate({"workers": 0}, EvalConfig, "eval")
    with pytest.raises(ConfigError, match=r"eval\.render='always': expected one of on_query, every_step"):
        validate({"render": "always"}, EvalConfig, "eval")


# --- batching --------------------------------------------------------------------------------------------------------


def _query(suite: ReachSuite, key: str, steps: int) -> Query:
    """The packed observation a worker would send after ``steps`` steps of a straight-line rollout."""
    episode = next(e for e in suite.episodes() if e.key == key)
    env = suite.make_env()
    history, actions = ObservationHistory(OBS_OFFSETS), ActionHistory((-1,), action_dim=2)
    history.push(env.reset(episode))
    for _ in range(steps):
        action = np.array([0.05, -0.03])
        history.push(env.step(action).observation)
        actions.push(action)
    frames, pad = history.stack()
    packed = pack(frames, pad, ("front",), ("pos", "target"))
    packed["past_actions"], packed["past_actions_is_pad"] = actions.stack()
    return Query(task=episode.task, observation=packed)


def test_batched_inference_equals_per_episode_inference(tmp_path) -> None:
    suite = ReachSuite(ReachConfig(tasks=3, max_steps=50))
    loaded = loaded_policy(tmp_path)
    policy = BatchedPolicy(loaded.method, loaded.normalizer, loaded.spec)
    queries = [_query(suite, "000/000", 0), _query(suite, "001/001", 1), _query(suite, "002/000", 5)]
    batched = policy(queries)
    single = np.concatenate([policy([q]) for q in queries])
    assert batched.shape == (3, 4, 2)  # offsets -1..3 -> the 4 actions from the current step on
    np.testing.assert_allclose(batched, single, rtol=0, atol=1e-7)
    assert np.abs(batched).max() < 2  # the past action (normalised 50 -> raw 10) was dropped
    assert policy.calls == 4 and policy.rows == 6


def test_first_query_of_an_episode_repeats_the_first_frame(tmp_path) -> None:
    suite = ReachSuite(ReachConfig())
    loaded = loaded_policy(tmp_path)
    policy = BatchedPolicy(loaded.method, loaded.normalizer, loaded.spec)
    batch = policy.batch([_query(suite, "000/001", 0), _query(suite, "000/001", 3)])
    assert batch[OBS_IS_PAD].tolist() == [[True, False], [False, False]]
    images = batch[image_key("front")]
    assert images.shape == (2, 2, 3, 6, 6) and images.dtype == torch.uint8
    assert torch.equal(images[0, 0], images[0, 1])
    assert not torch.equal(images[1, 0], images[1, 1])
    # proprio normalised with the checkpoint's statistics: pos / 2 (min-max over [-2, 2]), target as is
    start = np.array([-0.1, 0.05])
    np.testing.assert_allclose(batch[STATE][0, 0, :2].numpy(), start / 2, rtol=1e-6)
    np.testing.assert_allclose(batch[STATE][1, 0, :2].numpy(), (start + np.array([0.05, -0.03])) / 2, rtol=1e-6)
    np.testing.assert_allclose(batch[STATE][0, 0, 2:].numpy(), [0.5, 0.0])
