"""Windowed samples on a hand-made episode: every key at both ends and in the middle, against hand-computed values.

Rule under test (foresight/data/windows.py): an offset outside ``[0, T-1]`` is clamped to the nearest edge frame and
flagged in ``*_is_pad``. Frame ``k`` of every array encodes ``k``, so a wrong index shows up as a wrong value.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, default_collate

from foresight.data.normalize import Normalizer
from foresight.data.source import EpisodeDataset, info_from_episodes
from foresight.data.windows import WindowDataset, split_episodes
from foresight.types import (
    ACTION,
    ACTION_IS_PAD,
    INSTRUCTION,
    OBS_IS_PAD,
    STATE,
    TASK_INDEX,
    DataSpec,
    Episode,
    image_key,
)

T = 10
OBS_OFFSETS = (-6, 0, 6)
PAST_ACTIONS = (-6, -5, -4, -3, -2, -1)
CHUNK = (0, 1, 2, 3, 4, 5, 6, 7)


def hand_episode(episode_id: str, task: str, instruction: str, length: int, base: float) -> Episode:
    """Frame k: action (base + k, -k), proprio a = (k, 2k), b = (100 + k), image pixels k (agentview) / 50 + k."""
    k = np.arange(length, dtype=np.float32)
    agent = np.broadcast_to(np.arange(length, dtype=np.uint8)[:, None, None, None], (length, 4, 5, 3)).copy()
    agent[:, 0, 0, 0] = 200  # an asymmetric marker, so a transposed or flipped frame would not match
    wrist = (agent + 50).astype(np.uint8)
    return Episode(
        episode_id=episode_id,
        task=task,
        instruction=instruction,
        actions=np.stack([base + k, -k], axis=1),
        proprio={"a": np.stack([k, 2 * k], axis=1), "b": (100 + k)[:, None]},
        images={"agentview": agent, "wrist": wrist},
        source=f"hand/{episode_id}",
    )


@pytest.fixture()
def dataset(tmp_path: Path) -> EpisodeDataset:
    episodes = [
        hand_episode("e0", "pick", "pick up the cup", T, 0.0),
        hand_episode("e1", "open", "open the drawer", 4, 1000.0),
        hand_episode("e2", "pick", "pick up the cup", 6, 2000.0),
    ]
    return EpisodeDataset(episodes, info_from_episodes(episodes), "fp-hand", "hand-made", tmp_path)


# Explicit statistics, so the expected normalised values are a hand computation: min_max maps [lo, hi] to [-1, 1].
ACTION_LO, ACTION_HI = np.array([0.0, -9.0]), np.array([9.0, 0.0])
STATE_LO, STATE_HI = np.array([100.0, 0.0, 0.0]), np.array([109.0, 9.0, 18.0])


def hand_normalizer() -> Normalizer:
    def stats(lo: np.ndarray, hi: np.ndarray) -> dict[str, np.ndarray]:
        return {"min": lo, "max": hi, "mean": (lo + hi) / 2, "std": hi - lo}

    return Normalizer(
        {ACTION: "min_max", STATE: "min_max"},
        {ACTION: stats(ACTION_LO, ACTION_HI), STATE: stats(STATE_LO, STATE_HI)},
    )


def spec(actions: tuple[int, ...]) -> DataSpec:
    return DataSpec(
        obs_offsets=OBS_OFFSETS, action_offsets=actions, views=("agentview", "wrist"), proprio_keys=("b", "a")
    )


# anchor t -> (frames read for the obs offsets (-6, 0, 6), their pad flags), computed by hand
OBS_EXPECTED = {
    0: ([0, 0, 6], [True, False, False]),
    3: ([0, 3, 9], [True, False, False]),
    9: ([3, 9, 9], [False, False, True]),
}
PAST_EXPECTED = {
    0: ([0, 0, 0, 0, 0, 0], [True] * 6),
    3: ([0, 0, 0, 0, 1, 2], [True, True, True, False, False, False]),
    9: ([3, 4, 5, 6, 7, 8], [False] * 6),
}
CHUNK_EXPECTED = {
    0: ([0, 1, 2, 3, 4, 5, 6, 7], [False] * 8),
    3: ([3, 4, 5, 6, 7, 8, 9, 9], [False] * 7 + [True]),
    9: ([9, 9, 9, 9, 9, 9, 9, 9], [False] + [True] * 7),
}


def expected_image(frames: list[int], shift: int) -> torch.Tensor:
    out = torch.zeros(len(frames), 3, 4, 5, dtype=torch.uint8)
    for i, k in enumerate(frames):
        out[i] = k + shift
        out[i, 0, 0, 0] = 200 + shift
    return out


@pytest.mark.parametrize("t", [0, 3, 9])
@pytest.mark.parametrize(("offsets", "table"), [(PAST_ACTIONS, PAST_EXPECTED), (CHUNK, CHUNK_EXPECTED)])
def test_every_key_at_both_ends_and_inside(dataset, t, offsets, table):
    windows = WindowDataset(dataset, spec(offsets), hand_normalizer(), episode_indices=[0])
    sample = windows[t]
    assert windows.locate(t) == (0, t)

    frames, pads = table[t]
    raw = np.array([[k, -k] for k in frames], dtype=np.float64)
    hand = 2 * (raw - ACTION_LO) / (ACTION_HI - ACTION_LO) - 1
    assert sample[ACTION].dtype == torch.float32
    np.testing.assert_allclose(sample[ACTION].numpy(), hand, rtol=0, atol=1e-6)
    assert sample[ACTION_IS_PAD].tolist() == pads

    obs_frames, obs_pads = OBS_EXPECTED[t]
    raw_state = np.array([[100 + k, k, 2 * k] for k in obs_frames], dtype=np.float64)  # spec order: b, then a
    hand_state = 2 * (raw_state - STATE_LO) / (STATE_HI - STATE_LO) - 1
    np.testing.assert_allclose(sample[STATE].numpy(), hand_state, rtol=0, atol=1e-6)
    assert sample[OBS_IS_PAD].tolist() == obs_pads
    assert torch.equal(sample[image_key("agentview")], expected_image(obs_frames, 0))
    assert torch.equal(sample[image_key("wrist")], expected_image(obs_frames, 50))
    assert sample[INSTRUCTION] == "pick up the cup"
    assert sample[TASK_INDEX].dtype == torch.int64 and int(sample[TASK_INDEX]) == 0


def test_windows_normalise_exactly_as_the_normalizer(dataset):
    norm = Normalizer.from_dataset(dataset, spec(CHUNK), cache=False)
    windows = WindowDataset(dataset, spec(CHUNK), norm)
    for index in (0, 5, 12, 19):
        e, t = windows.locate(index)
        episode = dataset.episodes[e]
        frames = np.clip(t + np.array(CHUNK), 0, episode.length - 1)
        raw = torch.from_numpy(episode.actions[frames])
        assert torch.equal(windows[index][ACTION], norm.normalize(ACTION, raw))
        obs = np.clip(t + np.array(OBS_OFFSETS), 0, episode.length - 1)
        state = np.concatenate([episode.proprio["b"][obs], episode.proprio["a"][obs]], axis=1)
        assert torch.equal(windows[index][STATE], norm.normalize(STATE, torch.from_numpy(state)))


def test_length_locate_and_task_index_across_episodes(dataset):
    windows = WindowDataset(dataset, spec(CHUNK), hand_normalizer())
    assert len(windows) == 10 + 4 + 6
    assert [windows.locate(i) for i in (0, 9, 10, 13, 14, 19)] == [(0, 0), (0, 9), (1, 0), (1, 3), (2, 0), (2, 5)]
    assert int(windows[10][TASK_INDEX]) == 1 and windows[10][INSTRUCTION] == "open the drawer"
    assert int(windows[14][TASK_INDEX]) == 0
    assert windows[13][ACTION_IS_PAD].tolist() == [False] + [True] * 7  # t=3 is the last frame of a 4-frame episode
    with pytest.raises(IndexError, match="out of range for 20 samples"):
        windows.locate(20)

    subset = WindowDataset(dataset, spec(CHUNK), hand_normalizer(), episode_indices=[2, 1])
    assert len(subset) == 10
    assert [subset.locate(i) for i in (0, 5, 6, 9)] == [(2, 0), (2, 5), (1, 0), (1, 3)]


def test_samples_collate_into_a_batch(dataset):
    windows = WindowDataset(dataset, spec(CHUNK), hand_normalizer())
    batch = default_collate([windows[i] for i in (0, 13)])
    assert batch[ACTION].shape == (2, 8, 2)
    assert batch[image_key("wrist")].shape == (2, 3, 3, 4, 5)
    assert batch[INSTRUCTION] == ["pick up the cup", "open the drawer"]
    assert batch[TASK_INDEX].tolist() == [0, 1]


def test_views_and_keys_the_dataset_lacks_are_named(dataset):
    with pytest.raises(ValueError, match=r"views \['top'\].*has \['agentview', 'wrist'\]"):
        WindowDataset(dataset, DataSpec(views=("top",)), hand_normalizer())
    with pytest.raises(ValueError, match=r"proprio key 'joint'.*proprio keys: \['a', 'b'\]"):
        WindowDataset(dataset, DataSpec(proprio_keys=("joint",)), hand_normalizer())


def test_two_dataloader_workers_give_the_same_samples_as_the_main_process(tmp_path):
    """Lazy HDF5 frames (the demo, written in the LIBERO schema) read correctly from forked workers."""
    from foresight.data.config import DataConfig
    from foresight.data.source import open_dataset

    cfg = DataConfig(name="demo", format="demo", path=str(tmp_path / "demo"))
    cfg.demo.episodes_per_task, cfg.demo.length, cfg.demo.image_size = 1, 6, 16
    ds = open_dataset(cfg)
    s = DataSpec(obs_offsets=(-2, 0), action_offsets=(0, 1), views=("agentview", "wrist"))
    windows = WindowDataset(ds, s, Normalizer.from_dataset(ds, s, cache=False))
    serial = default_collate([windows[i] for i in range(len(windows))])
    loader = DataLoader(windows, batch_size=len(windows), num_workers=2, multiprocessing_context="fork")
    parallel = next(iter(loader))
    for key in (ACTION, image_key("agentview"), image_key("wrist"), OBS_IS_PAD):
        assert torch.equal(serial[key], parallel[key]), key


def test_split_is_deterministic_disjoint_and_covers_every_episode():
    train, val = split_episodes(20, 0.25, seed=3)
    assert (train, val) == split_episodes(20, 0.25, seed=3)
    assert len(val) == 5 and not set(train) & set(val)
    assert sorted(train + val) == list(range(20))
    assert train == sorted(train) and val == sorted(val)
    others = {tuple(split_episodes(20, 0.25, seed=s)[1]) for s in range(4, 10)}
    assert len(others | {tuple(val)}) > 1  # the seed matters
    assert split_episodes(3, 0.1, seed=0)[1] != []  # a positive fraction holds out at least one episode
    assert split_episodes(5, 0.0, seed=0) == ([0, 1, 2, 3, 4], [])
    with pytest.raises(ValueError, match="keep any for training"):
        split_episodes(1, 0.5, seed=0)
    with pytest.raises(ValueError, match=r"val_fraction must be in \[0, 1\)"):
        split_episodes(10, 1.0, seed=0)
