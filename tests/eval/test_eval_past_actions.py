"""Past executed actions at evaluation: negative action offsets in an inference DataSpec are supplied by the runner,
normalised and padded exactly as a training window (foresight.data.windows) reads them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from eval_fakes import ReachConfig, ReachSuite
from eval_policy import (
    PAST_OFFSETS,
    clamped_past,
    loaded_past_policy,
    loaded_policy,
    normalizer,
    reference_past_rollout,
)

from foresight.data.source import EpisodeDataset, info_from_episodes
from foresight.data.windows import WindowDataset
from foresight.eval import EvalConfig, evaluate
from foresight.eval.history import ActionHistory, pack
from foresight.eval.policy import BatchedPolicy, Query, past_action_offsets
from foresight.eval.worker import WorkerSetup, _Episode
from foresight.types import ACTION, ACTION_IS_PAD, DataSpec, Episode

# --- ActionHistory --------------------------------------------------------------------------------------------------


def _a(i: int) -> np.ndarray:
    return np.array([i, -10 * i], dtype=np.float32)


def test_action_history_by_hand_before_during_and_after_the_first_tau_steps() -> None:
    history = ActionHistory((-3, -2, -1), action_dim=2)
    actions, pad = history.stack()  # t = 0: nothing executed, every row padding with the zero action
    assert pad.tolist() == [True, True, True]
    np.testing.assert_array_equal(actions, np.zeros((3, 2)))
    assert actions.dtype == np.float32

    history.push(_a(1))  # t = 1: a_0 = _a(1); offsets -3, -2 clamp to a_0 and are flagged
    actions, pad = history.stack()
    assert pad.tolist() == [True, True, False]
    np.testing.assert_array_equal(actions, [_a(1), _a(1), _a(1)])

    history.push(_a(2))  # t = 2
    actions, pad = history.stack()
    assert pad.tolist() == [True, False, False]
    np.testing.assert_array_equal(actions, [_a(1), _a(1), _a(2)])

    for i in range(3, 8):  # t = 7: a_4, a_5, a_6 = _a(5), _a(6), _a(7); a_0 has left the window
        history.push(_a(i))
    actions, pad = history.stack()
    assert len(history) == 7 and pad.tolist() == [False, False, False]
    np.testing.assert_array_equal(actions, [_a(5), _a(6), _a(7)])

    history.clear()
    history.push(_a(9))
    actions, pad = history.stack()
    assert pad.tolist() == [True, True, False]
    np.testing.assert_array_equal(actions, [_a(9)] * 3)


def test_action_history_with_sparse_offsets_keeps_the_first_action_for_clamping() -> None:
    history = ActionHistory((-6, -1), action_dim=2)
    for i in range(4):  # t = 4: offset -6 -> index -2, clamped to a_0 (still known though the deque is short)
        history.push(_a(i))
    actions, pad = history.stack()
    assert pad.tolist() == [True, False]
    np.testing.assert_array_equal(actions, [_a(0), _a(3)])


def test_action_history_equals_a_training_window_at_every_step() -> None:
    """The clamp-and-flag rule of WindowDataset, on an episode whose actions are the executed ones (t >= 1)."""
    offsets = (-4, -2, -1)
    executed = [np.array([0.01 * i, -0.02 * i], dtype=np.float32) for i in range(9)]
    episode = Episode(
        episode_id="e",
        task="reach-0",
        instruction="reach",
        actions=np.stack(executed),
        proprio={"pos": np.zeros((9, 2), np.float32)},
        images={},
    )
    source = EpisodeDataset([episode], info_from_episodes([episode]), "fingerprint", "memory", cache_dir=None)
    windows = WindowDataset(source, DataSpec(action_offsets=offsets, load_pixels=False), normalizer())
    history = ActionHistory(offsets, action_dim=2)
    for t in range(1, 9):
        history.push(executed[t - 1])
        actions, pad = history.stack()
        sample = windows[t]
        np.testing.assert_array_equal(pad, sample[ACTION_IS_PAD].numpy())
        torch.testing.assert_close(normalizer().normalize(ACTION, torch.from_numpy(actions)), sample[ACTION])


@pytest.mark.parametrize("offsets", [(), (-2, 0), (-1, -2), (1,)])
def test_action_history_rejects_offsets_that_are_not_past(offsets: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="increasing and < 0"):
        ActionHistory(offsets, action_dim=2)


def test_action_history_names_a_wrong_action_width() -> None:
    with pytest.raises(ValueError, match="executed action has 3 values; the policy's actions have 2"):
        ActionHistory((-1,), action_dim=2).push(np.zeros(3))


# --- the worker records what it stepped the environment with ------------------------------------------------------


def _setup(tmp_path: Path, offsets: tuple[int, ...] = PAST_OFFSETS) -> WorkerSetup:
    return WorkerSetup(
        offsets=(-1, 0),
        views=("front",),
        proprio_keys=("pos", "target"),
        video_dir=str(tmp_path),
        video_fps=10,
        action_offsets=offsets,
        action_dim=2,
    )


def test_worker_ships_the_executed_actions_with_the_observation(tmp_path: Path) -> None:
    suite = ReachSuite(ReachConfig(max_steps=50))
    env = suite.make_env()
    episode = _Episode(env, suite.episodes()[1], _setup(tmp_path), record_video=False)
    packed = episode.packed()
    assert packed["past_actions_is_pad"].tolist() == [True, True, True]
    np.testing.assert_array_equal(packed["past_actions"], np.zeros((3, 2)))

    rng = np.random.default_rng(0)
    for chunk_size in (2, 1, 3, 2):
        chunk = rng.uniform(-0.2, 0.2, size=(chunk_size, 2)).astype(np.float32)
        reply = episode.run(chunk)
        assert reply[0] == "obs"
        executed = [np.asarray(a, dtype=np.float32) for a in env.actions]  # what env.step received
        actions, pad = clamped_past(executed, PAST_OFFSETS)
        np.testing.assert_array_equal(reply[1]["past_actions"], actions)
        np.testing.assert_array_equal(reply[1]["past_actions_is_pad"], pad)
        np.testing.assert_array_equal(reply[1]["past_actions"][-1], chunk[-1])  # a_{t-1}: the chunk's last row
        assert reply[2] == len(env.actions)


def test_a_policy_reset_clears_past_actions_with_the_observation_history(tmp_path: Path) -> None:
    suite = ReachSuite(ReachConfig(max_steps=50, policy_reset_every=3))
    env = suite.make_env()
    episode = _Episode(env, suite.episodes()[0], _setup(tmp_path), record_video=False)
    first = np.array([[0.01, 0.02], [0.03, 0.04]], dtype=np.float32)
    reply = episode.run(first)
    assert reply[3] is False and reply[1]["past_actions_is_pad"].tolist() == [True, False, False]
    reply = episode.run(np.array([[0.05, 0.06], [0.07, 0.08]], dtype=np.float32))  # resets after the 3rd step
    assert reply[3] is True and reply[2] == 3  # the chunk's last action is dropped with the old subtask
    assert reply[1]["is_pad"].tolist() == [True, False]
    assert reply[1]["past_actions_is_pad"].tolist() == [True, True, True]
    np.testing.assert_array_equal(reply[1]["past_actions"], np.zeros((3, 2)))  # as at an episode's start
    reply = episode.run(np.array([[0.09, 0.1]], dtype=np.float32))
    assert reply[1]["past_actions_is_pad"].tolist() == [True, True, False]
    np.testing.assert_array_equal(reply[1]["past_actions"], np.tile(np.float32([0.09, 0.1]), (3, 1)))


def test_worker_without_past_offsets_ships_no_actions(tmp_path: Path) -> None:
    suite = ReachSuite(ReachConfig())
    episode = _Episode(suite.make_env(), suite.episodes()[0], _setup(tmp_path, offsets=()), record_video=False)
    episode.run(np.zeros((2, 2), dtype=np.float32))
    assert "past_actions" not in episode.packed()


# --- batching in the main process ----------------------------------------------------------------------------------


def _rollout_query(suite: ReachSuite, key: str, actions: np.ndarray, tmp_path: Path) -> tuple[Query, np.ndarray]:
    episode_spec = next(e for e in suite.episodes() if e.key == key)
    env = suite.make_env()
    episode = _Episode(env, episode_spec, _setup(tmp_path), record_video=False)
    if len(actions):
        episode.run(actions)
    return Query(task=episode_spec.task, observation=episode.packed()), np.asarray(env.actions, dtype=np.float32)


def test_batch_holds_each_episodes_executed_actions_normalised_in_mixed_order(tmp_path: Path) -> None:
    suite = ReachSuite(ReachConfig(tasks=3, max_steps=50))
    loaded = loaded_past_policy(tmp_path)
    policy = BatchedPolicy(loaded.method, loaded.normalizer, loaded.spec)
    assert policy.past_offsets == (-3, -2, -1) and policy.start == 3
    rng = np.random.default_rng(1)
    # t = 5, 0, 2 and 1 in four episodes, batched in that order
    plan = [("002/001", 5), ("000/000", 0), ("001/000", 2), ("000/001", 1)]
    made = [_rollout_query(suite, k, rng.uniform(-0.2, 0.2, (t, 2)).astype(np.float32), tmp_path) for k, t in plan]
    batch = policy.batch([q for q, _ in made])
    assert batch[ACTION].shape == (4, 3, 2) and batch[ACTION].dtype == torch.float32
    assert batch[ACTION_IS_PAD].tolist() == [
        [False, False, False],
        [True, True, True],
        [True, False, False],
        [True, True, False],
    ]
    _, five = made[0]
    # min-max over [-0.2, 0.2]: normalised = raw / 0.2, by hand
    np.testing.assert_allclose(batch[ACTION][0].numpy(), five[2:5] / 0.2, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(batch[ACTION][1].numpy(), np.zeros((3, 2)), atol=1e-7)  # the zero action
    _, two = made[2]
    np.testing.assert_allclose(batch[ACTION][2].numpy(), two[[0, 0, 1]] / 0.2, rtol=1e-6, atol=1e-7)
    _, one = made[3]
    np.testing.assert_allclose(batch[ACTION][3].numpy(), one[[0, 0, 0]] / 0.2, rtol=1e-6, atol=1e-7)
    # the rows do not leak into each other: the batched call equals one call per episode
    batched = policy([q for q, _ in made])
    np.testing.assert_allclose(batched, np.concatenate([policy([q]) for q, _ in made]), rtol=0, atol=1e-7)
    for row, (_, executed) in enumerate(made):  # and exactly the normaliser's own mapping
        expected = loaded.normalizer.normalize(ACTION, torch.from_numpy(clamped_past(list(executed), PAST_OFFSETS)[0]))
        torch.testing.assert_close(batch[ACTION][row], expected, rtol=0, atol=0)


def test_past_action_offsets_are_the_negative_ones_and_none_means_no_action_key(tmp_path: Path) -> None:
    assert past_action_offsets(DataSpec(action_offsets=(-6, -1, 0, 1))) == (-6, -1)
    loaded = loaded_policy(tmp_path)
    spec = DataSpec(obs_offsets=(-2, 0), action_offsets=(0, 1, 2, 3), views=("front",), proprio_keys=("pos", "target"))
    policy = BatchedPolicy(loaded.method, loaded.normalizer, spec)
    suite = ReachSuite(ReachConfig())
    env = suite.make_env()
    observation = env.reset(suite.episodes()[0])
    query = Query(
        task="reach-0",
        observation=pack([observation, observation], np.array([True, False]), ("front",), ("pos", "target")),
    )
    batch = policy.batch([query])
    assert ACTION not in batch and ACTION_IS_PAD not in batch


def test_the_predicted_chunk_may_cover_all_offsets_or_only_the_future(tmp_path: Path) -> None:
    suite = ReachSuite(ReachConfig(max_steps=50))
    loaded = loaded_past_policy(tmp_path)
    policy = BatchedPolicy(loaded.method, loaded.normalizer, loaded.spec)
    query, _ = _rollout_query(suite, "000/000", np.full((4, 2), 0.05, np.float32), tmp_path)
    future = policy([query])
    assert future.shape == (1, 3, 2)

    method = loaded.method
    short = method.predict_action_chunk
    method.predict_action_chunk = lambda batch, generator=None: torch.cat(
        [torch.full((1, 3, 2), 50.0), short(batch)], 1
    )
    np.testing.assert_allclose(policy([query]), future, rtol=0, atol=1e-7)  # the past rows are dropped

    method.predict_action_chunk = lambda batch, generator=None: short(batch)[:, :2]
    with pytest.raises(ValueError, match=r"returned shape \(1, 2, 2\).*horizon 3 or 6"):
        policy([query])


# --- end to end through the runner's worker processes -------------------------------------------------------------


@pytest.mark.parametrize(
    "env",
    [
        {"replan_every": 2},
        {"replan_every": 2, "policy_reset_every": 5},
        {"replan_every": None, "temporal_ensemble": 0.5},
    ],
    ids=["replan-2", "policy-reset", "temporal-ensemble"],
)
def test_runner_supplies_exactly_the_executed_actions(tmp_path: Path, env: dict) -> None:
    suite = ReachSuite(ReachConfig(tasks=2, trials_per_task=2, max_steps=12, **env))
    loaded = loaded_past_policy(tmp_path)
    evaluate(suite, loaded, EvalConfig(workers=2, progress=False), tmp_path / "out")
    records = {r["key"]: r for r in _records(tmp_path / "out")}

    expected: dict[tuple[str, bytes], dict] = {}
    for episode in suite.episodes():
        success, actions, queries = reference_past_rollout(suite, loaded, episode)
        np.testing.assert_allclose(np.array(records[episode.key]["info"]["actions"]), actions, rtol=0, atol=1e-6)
        assert records[episode.key]["success"] == success
        for q in queries:
            expected[(q["instruction"], np.round(q["state"], 5).tobytes())] = q

    rows = [
        {key: call[key][i] for key in ("instruction", "state", "past", "pad")}
        for call in loaded.method.seen
        for i in range(len(call["instruction"]))
    ]
    assert len(rows) == len(expected)
    for row in rows:
        want = expected[(row["instruction"], np.round(row["state"], 5).tobytes())]
        np.testing.assert_array_equal(row["pad"], want["pad"])
        np.testing.assert_allclose(row["past"], want["past"], rtol=0, atol=1e-6)
    pads = {tuple(r["pad"].tolist()) for r in rows}
    assert {(True, True, True), (False, False, False)} <= pads  # t = 0 and t > τ
    assert pads & {(True, True, False), (True, False, False)}  # 0 < t < τ


def _records(out: Path) -> list[dict]:
    import json

    return [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]
