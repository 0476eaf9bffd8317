"""Building the official simulator (calvin_env's ``PlayTableSimEnv``) and reading its observations.

calvin_env is not on PyPI; it is installed from its repository (docs/envs/calvin.md) and imported only here,
inside :func:`make_sim`, which runs in an evaluation worker. Two known pitfalls are handled:

* ``PlayTableSimEnv.__init__`` logs calvin_env's git commit through gitpython and raises
  ``InvalidGitRepositoryError`` when calvin_env is not inside a git checkout (a copied or archived source tree);
  we let it log "unknown" instead, as the commit is recorded in the protocol when there is one.
* The official dataset's ``merged_config.yaml`` has a ``tactile`` camera, which needs ``tacto`` (a git
  submodule with an OpenGL stack of its own). Only the static and gripper cameras are kept, as calvin_agent does
  when it passes the policy's observation space to ``get_env``.
"""

from __future__ import annotations

import functools
import importlib.util
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from foresight.data.calvin_layout import robot_obs_parts
from foresight.envs.calvin.config import CalvinConfig
from foresight.envs.calvin.resources import SCENE_D, data_file
from foresight.rollout import Observation

INSTALL_DOC = "docs/envs/calvin.md"

VIEWS = {"static": "rgb_static", "gripper": "rgb_gripper"}
"""View name -> calvin_env image key; the same names the CALVIN data reader gives the recorded frames."""

PROPRIO_DIMS = {"robot_obs": 15, "scene_obs": 24}
"""Proprio keys and sizes, as in the dataset (``robot_obs``: tcp pose, gripper width, joints, gripper action;
``scene_obs``: doors, button, switch, lights, three block poses)."""


class CalvinNotInstalled(ImportError):
    """calvin_env (or one of its dependencies) cannot be imported."""


def missing_calvin_env(name: str, exc: ImportError | None = None) -> CalvinNotInstalled:
    detail = f" ({type(exc).__name__}: {exc})" if exc is not None else ""
    return CalvinNotInstalled(
        f"CALVIN evaluation needs the official simulator calvin_env, and {name!r} cannot be imported{detail}. "
        f"calvin_env is not on PyPI: clone mees/calvin_env and install it as described in {INSTALL_DOC} "
        "(pip install 'foresight[calvin]', then pip install --no-deps -e <calvin_env checkout>)"
    )


def calvin_env_commit() -> str | None:
    """The git commit of the installed calvin_env, found without importing it; raises if it is not installed.

    ``None`` when calvin_env is installed outside a git checkout. Called by the main process before any worker
    starts, so a missing simulator is reported once instead of by every episode's worker.
    """
    spec = importlib.util.find_spec("calvin_env")
    if spec is None or not spec.submodule_search_locations:
        raise missing_calvin_env("calvin_env")
    if spec.origin is None:  # a folder without __init__.py: the clone's root shadows the package
        where = ", ".join(spec.submodule_search_locations)
        raise missing_calvin_env(
            "calvin_env", ImportError(f"'calvin_env' resolves to the bare folder {where}; run from another directory")
        )
    source = Path(spec.origin).resolve().parents[1]
    try:
        out = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "--show-toplevel", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = out.stdout.split()
    # Only calvin_env's own checkout counts, not some repository it was copied into.
    if len(lines) != 2 or Path(lines[0]).resolve() != source:
        return None
    return lines[1]


def env_config_path(config: CalvinConfig) -> Path:
    """The calvin_env config to build from: the shipped scene-D one, or a dataset split's ``merged_config.yaml``."""
    if config.env_config is None:
        return data_file(SCENE_D)
    path = Path(config.env_config).expanduser()
    if path.is_dir():
        path = path / ".hydra" / "merged_config.yaml"
    if not path.is_file():
        raise FileNotFoundError(
            f"env.env_config={config.env_config!r}: {path} does not exist; give a CALVIN split folder holding "
            ".hydra/merged_config.yaml (e.g. task_ABC_D/validation), that file, or null for the shipped scene-D one"
        )
    return path


def _tolerate_missing_git() -> None:
    import git  # gitpython, a calvin_env dependency
    from calvin_env.envs import play_table_env

    original = play_table_env.get_git_commit_hash
    if getattr(original, "_foresight_tolerant", False):
        return

    @functools.wraps(original)
    def commit_hash(repo_path: Path) -> str:
        try:
            return original(repo_path)
        except git.exc.GitError:  # InvalidGitRepositoryError, NoSuchPathError
            return "unknown (calvin_env is not in a git checkout)"

    commit_hash._foresight_tolerant = True  # type: ignore[attr-defined]
    play_table_env.get_git_commit_hash = commit_hash


def make_sim(config: CalvinConfig) -> Any:
    """A ``PlayTableSimEnv`` in scene D with the static and gripper cameras and scene info for the oracle."""
    try:
        import calvin_env.envs.play_table_env  # noqa: F401  (fails here, with the message below, if absent)
        import hydra
        from omegaconf import OmegaConf
    except ImportError as exc:
        raise missing_calvin_env(exc.name or "calvin_env", exc) from exc
    path = env_config_path(config)
    cfg = OmegaConf.load(path)
    cameras = set(cfg.get("cameras", {}))
    needed = {key.split("_", 1)[1] for key in VIEWS.values()}
    if not needed <= cameras:
        raise ValueError(f"{path} defines cameras {sorted(cameras)}; CALVIN evaluation needs {sorted(needed)}")
    for name in cameras - needed:
        del cfg.cameras[name]
    cfg.env.use_egl = config.use_egl
    _tolerate_missing_git()
    return hydra.utils.instantiate(cfg.env, show_gui=False, use_vr=False, use_scene_info=True)


def to_observation(
    obs: dict[str, Any], instruction: str, task: str | None = None, *, images: bool = True
) -> Observation:
    """calvin_env's observation dict -> :class:`Observation` (pybullet images are already upright).

    ``task`` is the current subtask's name (``open_drawer``): the runner looks it up in the checkpoint's
    ``DatasetInfo.tasks``, whose CALVIN tasks are the annotated subtasks, for methods that read ``task_index``.
    ``images=False`` is a step taken without rendering: the observation has proprio only.
    """
    frames = {}
    if images:
        rgb = obs.get("rgb_obs", {})
        missing = [key for key in VIEWS.values() if key not in rgb]
        if missing:
            raise KeyError(
                f"the CALVIN simulator rendered {sorted(rgb)}, not {missing}: its config lacks those cameras"
            )
        frames = {view: np.asarray(rgb[key], dtype=np.uint8) for view, key in VIEWS.items()}
    proprio = {}
    for key, dim in PROPRIO_DIMS.items():
        value = np.asarray(obs[key], dtype=np.float64).reshape(-1)
        if value.shape != (dim,):
            raise ValueError(f"CALVIN {key} has shape {value.shape}, expected ({dim},)")
        proprio[key] = value
    proprio |= robot_obs_parts(proprio["robot_obs"])  # the keys the reader also gives (arm, gripper roles)
    return Observation(images=frames, proprio=proprio, instruction=instruction, task=task)
