"""NaN / inf in a dataset is named by file, episode and key (statistics, training, inspect), not blamed on the lr."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from foresight.data import DataError, Normalizer, open_dataset
from foresight.data.config import load_data_config
from foresight.data.inspect import main as inspect
from foresight.data.source import EpisodeDataset
from foresight.train import main as train
from foresight.types import ACTION, STATE, DataSpec

SMALL = ["data.demo.num_tasks=1", "data.demo.length=6", "data.demo.episodes_per_task=3", "data.demo.image_size=16"]


def poisoned(tmp_path, key: str, frame: int, dim: int, value: float) -> tuple[list[str], str, str]:
    """The demo dataset with ``value`` written into its second episode's ``key`` at (frame, dim); the args, the
    file name and the episode's id."""
    args = ["data=demo", f"data.path={tmp_path / 'd'}", *SMALL]
    episode = open_dataset(load_data_config(args)).episodes[1]  # builds the dataset
    assert episode.episode_id.endswith("demo_1")
    with h5py.File(episode.meta["file"], "r+", locking=False) as f:
        f[f"data/demo_1/{key}"][frame, dim] = value
    return args, str(episode.meta["file"]), episode.episode_id


def stats(dataset: EpisodeDataset, proprio: tuple[str, ...] = ("joint_states",)) -> Normalizer:
    spec = DataSpec(obs_offsets=(0,), action_offsets=(0,), proprio_keys=proprio)
    return Normalizer.from_dataset(dataset, spec, cache=False)


def test_nan_in_actions_names_file_episode_key_and_place(tmp_path):
    args, file, episode = poisoned(tmp_path, "actions", 4, 2, np.nan)
    dataset = open_dataset(load_data_config(args))
    with pytest.raises(DataError) as info:
        stats(dataset)
    message = str(info.value)
    assert message.startswith(f"{file}: episode {episode}, actions: ")
    assert "1 non-finite value(s) (NaN or inf), first at frame 4, dimension 2" in message
    assert "foresight.data.inspect" in message and "lr" not in message


def test_inf_in_proprio_names_the_proprio_key(tmp_path):
    args, _, episode = poisoned(tmp_path, "obs/joint_states", 0, 5, np.inf)
    dataset = open_dataset(load_data_config(args))
    with pytest.raises(DataError, match=rf"episode {episode}, proprio 'joint_states': 1 non-finite .* frame 0, dim"):
        stats(dataset)
    clean = stats(dataset, proprio=())  # the actions alone are clean and still get statistics
    assert ACTION in clean.stats and STATE not in clean.stats and np.isfinite(clean.stats[ACTION]["std"]).all()


def test_training_on_nan_data_is_one_line_naming_the_file_not_the_learning_rate(tmp_path, capsys):
    args, file, episode = poisoned(tmp_path, "actions", 2, 0, np.nan)
    run = ["method=dp", *args, f"run_dir={tmp_path / 'r'}", "train.logger=none", "train.num_workers=0"]
    assert train(run) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"foresight train: error: {file}: episode {episode}, actions: 1 non-finite value(s)")
    assert "lower train.lr" not in err and "Traceback" not in err


def test_inspect_flags_every_nonfinite_episode_and_exits_1(tmp_path, capsys):
    args, file, episode = poisoned(tmp_path, "actions", 3, 1, -np.inf)
    assert inspect(args) == 1
    lines = capsys.readouterr().out.splitlines()
    assert "action statistics over 17 frames (1 with a non-finite value left out):" in lines
    at = lines.index("non-finite values (NaN / inf): 1")
    assert (
        lines[at + 1]
        == f"  {file}: episode {episode}, actions: 1 non-finite value(s) (NaN or inf), first at frame 3, dimension 1"
    )


def test_inspect_on_clean_data_says_none(tmp_path, capsys):
    assert inspect(["data=demo", f"data.path={tmp_path / 'd'}", *SMALL]) == 0
    assert "non-finite values (NaN / inf): none" in capsys.readouterr().out.splitlines()
