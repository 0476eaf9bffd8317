"""Bad input: each case gives one DataError whose message names the file (or setting) and the key at fault."""

from __future__ import annotations

import re
from pathlib import Path

import h5py
import numpy as np
import pytest

from foresight.data.config import DataConfig, load_data_config
from foresight.data.libero_hdf5 import read_file
from foresight.data.libero_writer import LiberoHDF5Writer
from foresight.data.source import DataError, open_dataset

TASK = "LIVING_ROOM_pick_the_book"
T = 5


def write(folder: Path, demos: int = 1) -> Path:
    """A valid official-schema file with ``demos`` demonstrations of T steps (16x16 frames, stored as OpenGL)."""
    with LiberoHDF5Writer(folder, TASK, language_instruction="pick the book", problem_name="p") as writer:
        for _ in range(demos):
            writer.start_demo()
            for step in range(T):
                obs = {
                    "agentview_image": np.full((16, 16, 3), step, np.uint8),
                    "robot0_eye_in_hand_image": np.full((16, 16, 3), step, np.uint8),
                    "robot0_joint_pos": np.zeros(7),
                    "robot0_gripper_qpos": np.zeros(2),
                    "robot0_eef_pos": np.zeros(3),
                    "robot0_eef_quat": np.array([0.0, 0.0, 0.0, 1.0]),
                }
                writer.add_step(obs, np.zeros(7), state=np.zeros(3))
            writer.end_demo()
    return writer.path


def libero(path: Path, **kwargs) -> DataConfig:
    return DataConfig(name="t", format="libero_hdf5", path=str(path), **kwargs)


def test_missing_path_names_the_setting_and_path(tmp_path):
    missing = tmp_path / "no_such_suite"
    with pytest.raises(DataError, match=f"data.path {re.escape(str(missing))} does not exist"):
        open_dataset(libero(missing))
    with pytest.raises(DataError, match=f"data.path {re.escape(str(missing))} does not exist"):
        open_dataset(DataConfig(name="t", format="auto", path=str(missing)))
    with pytest.raises(DataError, match=f"LIBERO file {re.escape(str(missing))}.hdf5 does not exist"):
        read_file(Path(f"{missing}.hdf5"))


def test_folder_without_hdf5_files_points_at_subfolders(tmp_path):
    write(tmp_path / "libero_10")
    with pytest.raises(DataError, match=r"no \.hdf5 files in .*subfolders have some: \['libero_10'\]"):
        open_dataset(libero(tmp_path))


def test_missing_key_names_file_and_key(tmp_path):
    path = write(tmp_path)
    with h5py.File(path, "a") as f:
        del f["data/demo_0/obs/agentview_rgb"]
    with pytest.raises(DataError) as info:
        open_dataset(libero(tmp_path))
    message = str(info.value)
    assert str(path) in message and "data/demo_0/obs/agentview_rgb is missing" in message
    assert "eye_in_hand_rgb" in message  # what the demo does hold


def test_missing_problem_info_and_data_group(tmp_path):
    path = write(tmp_path)
    with h5py.File(path, "a") as f:
        f["data"].attrs["problem_info"] = "{not json"
    with pytest.raises(DataError, match=rf"{re.escape(str(path))}: data.attrs\['problem_info'\] must be JSON"):
        read_file(path)
    with h5py.File(path, "a") as f:
        del f["data"].attrs["problem_info"]
    with pytest.raises(DataError, match=rf"{re.escape(str(path))}: attribute data.attrs\['problem_info'\] is missing"):
        read_file(path)
    other = tmp_path / "other.hdf5"
    with h5py.File(other, "w") as f:
        f.create_group("mask")
    with pytest.raises(DataError, match=rf"{re.escape(str(other))}: no 'data' group; top-level keys are \['mask'\]"):
        read_file(other)


def test_truncated_file_names_the_file(tmp_path):
    path = write(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=rf"cannot open {re.escape(str(path))} as HDF5 \(truncated"):
        open_dataset(libero(tmp_path))


def test_mismatched_lengths_name_file_key_and_both_lengths(tmp_path):
    path = write(tmp_path)
    with h5py.File(path, "a") as f:
        del f["data/demo_0/obs/agentview_rgb"]
        f["data/demo_0/obs"].create_dataset("agentview_rgb", data=np.zeros((T - 1, 16, 16, 3), np.uint8))
    with pytest.raises(DataError) as info:
        read_file(path)
    message = str(info.value)
    assert str(path) in message
    assert f"data/demo_0/obs/agentview_rgb has {T - 1} frames but data/demo_0/actions has {T}" in message


def test_unknown_image_convention_names_file_attribute_and_options(tmp_path):
    path = write(tmp_path)
    with h5py.File(path, "a") as f:
        f["data"].attrs["macros_image_convention"] = "directx"
    with pytest.raises(DataError) as info:
        open_dataset(libero(tmp_path))
    message = str(info.value)
    assert str(path) in message and "macros_image_convention" in message and "'directx'" in message
    assert "('opengl', 'opencv')" in message and "data.image_convention" in message
    # the override fixes it; a wrong override is named as the setting it is
    assert len(open_dataset(libero(tmp_path, image_convention="opengl"))) == 1
    with pytest.raises(DataError, match=r"data.image_convention='sideways' is unknown; expected one of"):
        open_dataset(libero(tmp_path, image_convention="sideways"))


def test_hub_id_while_offline_says_to_set_data_path(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # tests/conftest.py sets it too; nothing here is in the hub cache
    cfg = load_data_config(["data=libero_10"])
    with pytest.raises(DataError) as info:
        open_dataset(cfg)
    message = str(info.value)
    assert "'yifengzhu-hf/LIBERO-datasets/libero_10'" in message
    assert "set data.path=DIR/libero_10" in message


def test_unknown_format_and_tasks_list_the_options(tmp_path):
    with pytest.raises(DataError, match=r"unknown data format 'parquet'; expected one of \[.*'libero_hdf5'.*\]"):
        open_dataset(DataConfig(name="t", format="parquet", path=str(tmp_path)))
    write(tmp_path)
    with pytest.raises(DataError, match=rf"data.tasks \['nope'\] not found in .*available tasks: \['{TASK}'\]"):
        open_dataset(libero(tmp_path, tasks=["nope"]))
    with pytest.raises(ValueError, match=r"data.image_size=0: expected a number >= 1"):  # checked by DataConfig
        libero(tmp_path, image_size=[0, 4])


def test_lerobot_revision_is_passed_to_the_hub(monkeypatch):
    import huggingface_hub

    calls = []

    def fake_snapshot_download(repo_id, **kwargs):
        calls.append((repo_id, kwargs))
        raise huggingface_hub.errors.LocalEntryNotFoundError("not cached")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    cfg = load_data_config(["data=libero_lerobot", "data.lerobot.revision=v3.0"])
    with pytest.raises(DataError, match=r"--revision v3.0 .*set data.path=DIR"):
        open_dataset(cfg)
    assert calls == [("lerobot/libero", {"repo_type": "dataset", "revision": "v3.0", "allow_patterns": None})]
