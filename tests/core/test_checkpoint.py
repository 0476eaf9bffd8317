import json

import pytest
import torch
from torch import nn

from foresight import checkpoint, rng
from foresight.checkpoint import CheckpointError
from foresight.fileio import atomic_write_text


def write(path, model, step=1, **extra):
    files = {
        checkpoint.MODEL_FILE: model.state_dict(),
        checkpoint.TRAINER_STATE_FILE: {"step": step, "optimizer": {"state": {}}},
        checkpoint.STATS_FILE: {"action.min": torch.zeros(2)},
        checkpoint.CONFIG_FILE: "seed: 1\n",
        checkpoint.INFO_FILE: {"action_dim": 2},
        checkpoint.META_FILE: {"stage": "policy", "step": step},
        **extra,
    }
    return checkpoint.write_checkpoint(path / "checkpoints" / checkpoint.step_dir_name(step), files)


def test_written_checkpoint_round_trips_weights_and_state(tmp_path):
    model = nn.Linear(3, 2)
    ckpt = write(tmp_path, model, step=5)
    other = nn.Linear(3, 2)
    checkpoint.load_model_weights(other, ckpt / checkpoint.MODEL_FILE)
    assert torch.equal(other.weight, model.weight) and torch.equal(other.bias, model.bias)
    assert checkpoint.load_torch_state(ckpt / checkpoint.TRAINER_STATE_FILE)["step"] == 5
    assert not list(ckpt.parent.glob(".tmp-*"))


def test_a_crash_mid_write_leaves_no_checkpoint_that_looks_whole(tmp_path):
    def explode(path):
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write(tmp_path, nn.Linear(2, 2), step=3, **{"stats.safetensors": explode})
    assert checkpoint.list_checkpoints(tmp_path) == []


def test_truncated_weights_are_a_clear_error_naming_the_file(tmp_path):
    ckpt = write(tmp_path, nn.Linear(64, 64))
    weights = ckpt / checkpoint.MODEL_FILE
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"model\.safetensors is corrupted or truncated.*train\.resume="):
        checkpoint.load_model_weights(nn.Linear(64, 64), weights)


def test_corrupted_trainer_state_is_a_clear_error(tmp_path):
    ckpt = write(tmp_path, nn.Linear(2, 2))
    (ckpt / checkpoint.TRAINER_STATE_FILE).write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match=r"trainer_state\.pt is corrupted or truncated"):
        checkpoint.load_torch_state(ckpt / checkpoint.TRAINER_STATE_FILE)


def test_weights_of_another_architecture_are_refused(tmp_path):
    ckpt = write(tmp_path, nn.Linear(2, 2))
    with pytest.raises(CheckpointError, match=r"does not fit this model.*missing 0\.weight"):
        checkpoint.load_model_weights(nn.Sequential(nn.Linear(2, 2)), ckpt / checkpoint.MODEL_FILE)


def test_incomplete_checkpoint_lists_missing_files(tmp_path):
    ckpt = write(tmp_path, nn.Linear(2, 2))
    (ckpt / checkpoint.META_FILE).unlink()
    with pytest.raises(CheckpointError, match=r"incomplete: missing meta\.json"):
        checkpoint.verify(ckpt)


def test_prune_keeps_the_newest_and_the_final(tmp_path):
    for step in (1, 2, 3, 4):
        write(tmp_path, nn.Linear(2, 2), step=step)
    atomic_write_text(tmp_path / checkpoint.FINAL_MARKER, checkpoint.step_dir_name(1))
    checkpoint.prune(tmp_path, keep_last=2)
    assert [p.name for p in checkpoint.list_checkpoints(tmp_path)] == ["step_0000001", "step_0000003", "step_0000004"]


def test_resolve_finds_the_last_stages_final_checkpoint_from_a_run_dir(tmp_path):
    for stage, steps in (("dynamics", (2, 4)), ("policy", (3, 6))):
        for step in steps:
            write(tmp_path / stage, nn.Linear(2, 2), step=step)
    (tmp_path / "stages.json").write_text(json.dumps({"stages": ["dynamics", "policy"]}))
    atomic_write_text(tmp_path / "policy" / checkpoint.FINAL_MARKER, "step_0000003")
    assert checkpoint.resolve(tmp_path).name == "step_0000003"
    assert checkpoint.resolve(tmp_path / "dynamics").name == "step_0000004"
    with pytest.raises(CheckpointError, match="does not exist"):
        checkpoint.resolve(tmp_path / "nope")


def test_rng_state_round_trips_through_weights_only_load(tmp_path):
    import random

    import numpy as np

    torch.manual_seed(0), np.random.seed(0), random.seed(0)
    state = rng.capture()
    torch.save(state, tmp_path / "rng.pt")
    expected = (torch.rand(3), np.random.rand(3), random.random())
    rng.restore(torch.load(tmp_path / "rng.pt", weights_only=True))
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(expected[0], again[0]) and np.array_equal(expected[1], again[1]) and expected[2] == again[2]
