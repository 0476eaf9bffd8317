"""The format table: a reader module registers its own format (and detector); a broken reader breaks only itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from foresight.data import DataConfig, EpisodeDataset, info_from_episodes, open_dataset, source
from foresight.data.libero_writer import LiberoHDF5Writer
from foresight.types import Episode


def write_task(folder: Path, task: str, length: int = 4) -> None:
    obs = {
        "agentview_image": np.zeros((4, 4, 3), np.uint8),
        "robot0_eye_in_hand_image": np.zeros((4, 4, 3), np.uint8),
        "robot0_joint_pos": np.zeros(7),
        "robot0_gripper_qpos": np.zeros(2),
        "robot0_eef_pos": np.zeros(3),
        "robot0_eef_quat": np.array([0.0, 0.0, 0.0, 1.0]),
    }
    with LiberoHDF5Writer(folder, task, language_instruction=task.lower(), problem_name="p") as writer:
        writer.start_demo()
        for t in range(length):
            writer.add_step(obs, np.full(7, float(t)), np.zeros(2))
        writer.end_demo()


@pytest.fixture
def isolated_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registrations made by a test vanish after it (the built-in LIBERO reader is registered beforehand)."""
    source.get_opener("libero_hdf5")
    monkeypatch.setattr(source, "FORMATS", dict(source.FORMATS))
    monkeypatch.setattr(source, "DETECTORS", dict(source.DETECTORS))
    monkeypatch.setattr(source, "BUILTIN_MODULES", dict(source.BUILTIN_MODULES))


def test_an_outside_module_registers_a_format_and_its_detector(isolated_table, tmp_path: Path) -> None:
    @source.register_format("toy", detect=lambda path: (path / "toy.marker").exists())
    def open_toy(cfg: DataConfig) -> EpisodeDataset:
        ep = Episode("toy/0", "toy", "do toy things", np.zeros((3, 2)), {}, {})
        return EpisodeDataset([ep], info_from_episodes([ep]), "fp", f"toy:{cfg.path}", tmp_path)

    assert source.FORMATS["toy"] is open_toy
    (tmp_path / "toy.marker").touch()
    assert open_dataset(DataConfig(format="toy", path=str(tmp_path))).describe_source() == f"toy:{tmp_path}"
    auto = open_dataset(DataConfig(format="auto", path=str(tmp_path)))  # found by its detector
    assert auto.info.tasks == ("toy",) and auto.info.action_dim == 2


def test_a_reader_that_fails_to_import_breaks_only_its_own_format(isolated_table, tmp_path: Path) -> None:
    source.BUILTIN_MODULES["broken"] = "foresight.data._no_such_module"
    with pytest.raises(source.DataError, match=r"data format 'broken' needs foresight\.data\._no_such_module"):
        open_dataset(DataConfig(format="broken", path=str(tmp_path)))
    write_task(tmp_path, "TASK_A")
    ds = open_dataset(DataConfig(format="auto", path=str(tmp_path)))  # auto-detection skips the broken reader
    assert [e.episode_id for e in ds.episodes] == ["TASK_A/demo_0"]
    np.testing.assert_array_equal(ds.episodes[0].actions[:, 0], [0, 1, 2, 3])
