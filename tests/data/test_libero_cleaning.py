"""``data.libero.filter_noops`` / ``drop_failed``: OpenVLA's cleaning of LIBERO demonstrations, applied at read time."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from foresight.config import ConfigError
from foresight.data import open_dataset
from foresight.data.config import DataConfig, load_data_config
from foresight.data.demo import build_demo_dataset
from foresight.data.libero_hdf5 import noop_mask
from foresight.data.options import LiberoReadConfig


def test_noop_rule_matches_openvla_by_hand():
    still_open = [0, 0, 0, 0, 0, 0, -1.0]
    still_closed = [0, 0, 0, 0, 0, 0, 1.0]
    move_open = [0.5, 0, 0, 0, 0, 0, -1.0]
    tiny = [5e-5, 0, 0, 0, 0, 0, -1.0]
    actions = np.array([still_open, move_open, still_open, tiny, still_closed, still_closed, move_open])
    # step 0: small norm, no previous kept step -> no-op; 2, 3: small norm, same gripper as the last kept (1);
    # 4: the gripper closes -> kept; 5: same gripper as the last kept (4) -> no-op; 6 moves
    assert noop_mask(actions, 1e-4).tolist() == [True, False, True, True, False, True, False]
    assert noop_mask(actions, 0.0).tolist() == [False] * 7  # threshold 0 keeps everything


@pytest.fixture
def folder(tmp_path):
    return build_demo_dataset(tmp_path / "d", num_tasks=1, episodes_per_task=2, length=8, image_size=16)


def _read(folder, **cleaning):
    return open_dataset(DataConfig(format="libero_hdf5", path=str(folder), libero=LiberoReadConfig(**cleaning)))


def test_filter_noops_drops_those_steps_from_actions_proprio_and_frames_alike(folder):
    file = next(folder.glob("*.hdf5"))
    with h5py.File(file, "r+", locking=False) as f:
        actions = f["data/demo_0/actions"]
        gripper = actions[1][6]
        actions[2] = [0, 0, 0, 0, 0, 0, gripper]
        actions[3] = [0, 0, 0, 0, 0, 0, gripper]
        actions[5] = [0, 0, 0, 0, 0, 0, -gripper]  # still, but the gripper switches: kept
        recorded = f["data/demo_0/actions"][()]
        joints = f["data/demo_0/obs/joint_states"][()]
    raw = _read(folder)
    assert not noop_mask(recorded[:2], 1e-4).any()  # the demo's own first steps move
    clean = _read(folder, filter_noops=True)
    kept = [0, 1, 4, 5, 6, 7]
    ep, full = clean.episodes[0], raw.episodes[0]
    assert ep.length == 6 and full.length == 8 and ep.meta["recorded_length"] == 8
    np.testing.assert_array_equal(ep.actions, recorded[kept].astype(np.float32))
    np.testing.assert_array_equal(ep.proprio["joint_states"], joints[kept].astype(np.float32))
    for view in ("agentview", "wrist"):
        assert ep.images[view].shape == (6, 16, 16, 3)
        np.testing.assert_array_equal(ep.images[view][:], full.images[view][kept])
        np.testing.assert_array_equal(ep.images[view][[5, 0, 2, 2]], full.images[view][[7, 0, 4, 4]])
        np.testing.assert_array_equal(ep.images[view][3], full.images[view][5])
        with pytest.raises(IndexError):
            ep.images[view][6]
    assert clean.episodes[1].length == 8  # the other demonstration has no still step
    assert clean.fingerprint != raw.fingerprint  # statistics and feature caches are kept apart


def test_drop_failed_leaves_out_demonstrations_never_done(folder):
    file = next(folder.glob("*.hdf5"))
    with h5py.File(file, "r+", locking=False) as f:
        f["data/demo_1/dones"][:] = 0
    assert [ep.episode_id.split("/")[1] for ep in _read(folder).episodes] == ["demo_0", "demo_1"]
    assert [ep.episode_id.split("/")[1] for ep in _read(folder, drop_failed=True).episodes] == ["demo_0"]


def test_the_options_are_data_config_keys_validated_like_the_rest(tmp_path):
    cfg = load_data_config(["data=libero_10", "data.libero.filter_noops=true", "data.libero.drop_failed=true"])
    assert cfg.libero == LiberoReadConfig(filter_noops=True, drop_failed=True)
    with pytest.raises(ConfigError, match=r"unknown key 'filter_noop' in data\.libero\. Did you mean 'filter_noops'"):
        load_data_config(["data=libero_10", "data.libero.filter_noop=true"])
    with pytest.raises(ConfigError, match=r"data\.libero\.noop_threshold=-1\.0: expected a number >= 0"):
        load_data_config(["data=libero_10", "data.libero.noop_threshold=-1"])
