"""Normalisation statistics: hand-computed values, constant dimensions, exact save/load, the statistics cache."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

import foresight.data.normalize as normalize_module
from foresight.data.normalize import Normalizer
from foresight.data.source import EpisodeDataset, info_from_episodes
from foresight.types import ACTION, STATE, DataSpec, Episode

# action dim 0 takes 1, 2, 3, 4 over the two episodes; dim 1 is constant 5 (a never-used axis)
ACTIONS = (np.array([[1.0, 5.0], [2.0, 5.0]]), np.array([[3.0, 5.0], [4.0, 5.0]]))
STATES = (np.array([[0.0], [10.0]]), np.array([[20.0], [30.0]]))


def dataset(cache_dir: Path) -> EpisodeDataset:
    episodes = [
        Episode(f"e{i}", "t", "do it", a.astype(np.float32), {"s": s.astype(np.float32)}, {}, source="hand")
        for i, (a, s) in enumerate(zip(ACTIONS, STATES, strict=True))
    ]
    return EpisodeDataset(episodes, info_from_episodes(episodes), "fp-norm", "hand", cache_dir)


def spec(action_mode: str = "min_max", state_mode: str = "mean_std") -> DataSpec:
    return DataSpec(proprio_keys=("s",), normalization={ACTION: action_mode, STATE: state_mode})


def test_statistics_and_min_max_against_hand_computation(tmp_path):
    norm = Normalizer.from_dataset(dataset(tmp_path), spec(), cache=False)
    stats = norm.stats[ACTION]
    np.testing.assert_array_equal(stats["min"], [1, 5])
    np.testing.assert_array_equal(stats["max"], [4, 5])
    np.testing.assert_allclose(stats["mean"], [2.5, 5])
    np.testing.assert_allclose(stats["std"], [math.sqrt(1.25), 0], rtol=1e-6)  # population std
    x = np.array([[1.0, 5.0], [2.0, 5.0], [4.0, 5.0], [7.0, 5.0]], dtype=np.float32)
    # 2 (x - 1) / 3 - 1 on dim 0; the constant dim 1 maps to 0
    expected = np.array([[-1.0, 0.0], [-1 / 3, 0.0], [1.0, 0.0], [3.0, 0.0]])
    np.testing.assert_allclose(norm.normalize(ACTION, x), expected, atol=1e-6)
    np.testing.assert_allclose(norm.normalize(ACTION, torch.from_numpy(x)).numpy(), expected, atol=1e-6)


def test_mean_std_against_hand_computation(tmp_path):
    norm = Normalizer.from_dataset(dataset(tmp_path), spec("mean_std", "mean_std"), cache=False)
    state_std = math.sqrt(125.0)  # values 0, 10, 20, 30: mean 15, population variance 125
    np.testing.assert_allclose(norm.stats[STATE]["mean"], [15.0])
    np.testing.assert_allclose(norm.stats[STATE]["std"], [state_std], rtol=1e-6)
    y = norm.normalize(STATE, torch.tensor([[[0.0], [15.0], [40.0]]]))  # leading batch dims broadcast
    np.testing.assert_allclose(y.numpy().ravel(), [-15 / state_std, 0.0, 25 / state_std], rtol=1e-6)
    a = norm.normalize(ACTION, np.array([[4.0, 5.0]], dtype=np.float32))
    np.testing.assert_allclose(a, [[1.5 / math.sqrt(1.25), 0.0]], rtol=1e-6)


@pytest.mark.parametrize("mode", ["min_max", "mean_std"])
def test_round_trip_and_constant_dims_return_exactly(tmp_path, mode):
    norm = Normalizer.from_dataset(dataset(tmp_path), spec(mode, mode), cache=False)
    x = torch.tensor([[1.5, 5.0], [3.25, 5.0]])
    y = norm.normalize(ACTION, x)
    assert torch.equal(y[:, 1], torch.zeros(2))
    back = norm.unnormalize(ACTION, y)
    torch.testing.assert_close(back, x, rtol=0, atol=1e-6)
    assert torch.equal(back[:, 1], torch.full((2,), 5.0))  # exact, not approximately, on the constant dim
    assert np.array_equal(norm.unnormalize(ACTION, np.zeros((1, 2), np.float32))[:, 1], [5.0])


def test_identity_mode_and_unknown_key(tmp_path):
    norm = Normalizer.from_dataset(dataset(tmp_path), spec("identity", "min_max"), cache=False)
    x = torch.tensor([[9.0, -9.0]])
    assert norm.normalize(ACTION, x) is x
    with pytest.raises(
        KeyError, match=r"no key 'observation.images.top'.*normalises \['action', 'observation.state'\]"
    ):
        norm.normalize("observation.images.top", x)
    with pytest.raises(ValueError, match="last dimension"):
        norm.normalize(STATE, x)


def test_save_load_round_trip_is_exact(tmp_path):
    norm = Normalizer.from_dataset(dataset(tmp_path), spec(), cache=False)
    loaded = Normalizer.load(norm.save(tmp_path / "sub" / "norm.safetensors"))
    assert loaded.modes == norm.modes
    for key in norm.stats:
        for name, value in norm.stats[key].items():
            assert value.dtype == np.float32 and np.array_equal(loaded.stats[key][name], value), (key, name)
    state = Normalizer.from_state_dict(norm.state_dict())
    assert all(np.array_equal(state.stats[k][s], v) for k in norm.stats for s, v in norm.stats[k].items())
    assert not list((tmp_path / "sub").glob("*.tmp*"))  # written atomically, no temporary left behind


def test_load_refuses_a_file_that_is_not_a_normalizer(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(1)}, str(tmp_path / "weights.safetensors"))
    with pytest.raises(ValueError, match=r"weights.safetensors is not a foresight normalizer file"):
        Normalizer.load(tmp_path / "weights.safetensors")


def test_statistics_cache_is_reused_and_keyed_by_the_episodes(tmp_path, monkeypatch):
    calls = []
    real = normalize_module.compute_stats
    monkeypatch.setattr(normalize_module, "compute_stats", lambda v: calls.append(len(v)) or real(v))
    ds = dataset(tmp_path)
    first = Normalizer.from_dataset(ds, spec())
    files = list(tmp_path.glob("stats-*.safetensors"))
    assert len(files) == 1 and len(calls) == 2  # action and state
    mtime = files[0].stat().st_mtime_ns
    second = Normalizer.from_dataset(ds, spec())
    assert len(calls) == 2 and files[0].stat().st_mtime_ns == mtime  # read from the cache, not recomputed
    assert np.array_equal(second.stats[ACTION]["std"], first.stats[ACTION]["std"])

    only_first = Normalizer.from_dataset(ds, spec(), episode_indices=[0])  # other episodes: another entry
    assert len(calls) == 4 and len(list(tmp_path.glob("stats-*.safetensors"))) == 2
    np.testing.assert_array_equal(only_first.stats[ACTION]["max"], [2, 5])
