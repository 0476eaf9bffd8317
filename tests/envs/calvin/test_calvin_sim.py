"""Finding calvin_env and its config without importing it: commit provenance, shadowing, config paths."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from foresight.envs.calvin import CalvinConfig, CalvinNotInstalled
from foresight.envs.calvin.resources import SCENE_D, data_file
from foresight.envs.calvin.sim import calvin_env_commit, env_config_path


@pytest.fixture(autouse=True)
def _unimported(monkeypatch: pytest.MonkeyPatch) -> None:
    """find_spec answers from sys.modules once calvin_env is imported (where it is installed): look it up afresh."""
    monkeypatch.delitem(sys.modules, "calvin_env", raising=False)


def _package(root: Path) -> Path:
    (root / "calvin_env").mkdir(parents=True)
    (root / "calvin_env" / "__init__.py").write_text('__version__ = "0.0.1"\n')
    return root


def _git(cwd: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    out = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env)
    return out.stdout.strip()


def test_commit_of_a_calvin_env_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clone = _package(tmp_path / "calvin_env_clone")
    _git(clone, "init", "-q")
    _git(clone, "add", ".")
    _git(clone, "commit", "-q", "-m", "x")
    monkeypatch.syspath_prepend(str(clone))
    assert calvin_env_commit() == _git(clone, "rev-parse", "HEAD")


def test_no_commit_for_a_copy_inside_another_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outer = tmp_path / "project"
    outer.mkdir()
    _git(outer, "init", "-q")
    vendored = _package(outer / "third_party" / "calvin_env")
    _git(outer, "add", ".")
    _git(outer, "commit", "-q", "-m", "x")
    monkeypatch.syspath_prepend(str(vendored))
    assert calvin_env_commit() is None  # the project's HEAD is not calvin_env's commit


def test_the_clone_folder_shadowing_the_package_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "calvin_env").mkdir()  # a clone's root seen from its parent folder: no __init__.py
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(CalvinNotInstalled, match=r"resolves to the bare folder .*run from another directory"):
        calvin_env_commit()


def test_env_config_paths(tmp_path: Path) -> None:
    assert env_config_path(CalvinConfig()) == data_file(SCENE_D)
    (tmp_path / ".hydra").mkdir()
    merged = tmp_path / ".hydra" / "merged_config.yaml"
    merged.write_text("cameras: {}\n")
    assert env_config_path(CalvinConfig(env_config=str(tmp_path))) == merged
    assert env_config_path(CalvinConfig(env_config=str(merged))) == merged
    with pytest.raises(
        FileNotFoundError, match=r"env.env_config=.*missing.*does not exist; give a CALVIN split folder"
    ):
        env_config_path(CalvinConfig(env_config=str(tmp_path / "missing")))


def test_shipped_scene_config_has_the_two_cameras_and_scene_d() -> None:
    import yaml

    config = yaml.safe_load(data_file(SCENE_D).read_text())
    assert sorted(config["cameras"]) == ["gripper", "static"]
    assert (config["cameras"]["static"]["width"], config["cameras"]["gripper"]["width"]) == (200, 84)
    assert config["scene"]["objects"]["fixed_objects"]["table"]["file"] == "calvin_table_D/urdf/calvin_table_D.urdf"
    assert config["env"]["control_freq"] == 30 and config["env"]["bullet_time_step"] == 240.0
    assert config["robot"]["filename"] == "franka_panda/panda_longer_finger.urdf"
