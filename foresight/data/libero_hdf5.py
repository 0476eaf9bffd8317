"""Read official LIBERO HDF5 files (``<TASK_NAME>_demo.hdf5``, schema of ``LIBERO/scripts/create_dataset.py``).

One file per task, one :class:`~foresight.types.Episode` per ``data/demo_<i>``:

* task name: the file name without ``_demo.hdf5`` (instructions can differ between releases for the same task,
  so tasks are matched by name, not by text);
* instruction: ``language_instruction`` of the ``data.attrs["problem_info"]`` JSON;
* views ``agentview`` and ``wrist`` from ``obs/agentview_rgb`` and ``obs/eye_in_hand_rgb``, turned upright from
  ``data.attrs["macros_image_convention"]`` by :func:`foresight.data.orientation.to_upright` and read lazily;
* proprio: whichever of ``joint_states`` (7), ``gripper_states`` (2), ``ee_states`` (6), ``ee_pos`` (3),
  ``ee_ori`` (3) the file has; actions ``(T, 7)``. Vectors are read at open time as float32 (they are small);
  images stay on disk until a sample needs them.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path

import h5py
import numpy as np

from foresight.data.config import DataConfig
from foresight.data.lazy import H5Frames
from foresight.data.options import LiberoReadConfig
from foresight.data.orientation import IMAGE_CONVENTIONS
from foresight.data.source import (
    DataError,
    EpisodeDataset,
    default_cache_dir,
    fingerprint_files,
    info_from_episodes,
    register_format,
    resolve_local_path,
)
from foresight.types import Episode

DEFAULT_VIEWS = {"agentview": "agentview_rgb", "wrist": "eye_in_hand_rgb"}
PROPRIO_KEYS = ("joint_states", "gripper_states", "ee_states", "ee_pos", "ee_ori")
ROLES = {
    "primary": "agentview", "wrist": "wrist", "arm": "joint_states", "gripper": "gripper_states", "eef": "ee_states"
}  # fmt: skip
"""Which view and proprio key plays each role (foresight.roles); ee_states is the 6-d eef position + axis-angle."""
FPS = 20.0  # control_freq=20 in create_dataset.py
READER_VERSION = 1  # bump when what the reader returns for the same files changes (invalidates caches)
_DEMO = re.compile(r"^demo_(\d+)$")


def task_name_of(path: Path) -> str:
    return path.name.removesuffix(".hdf5").removesuffix("_demo")


def find_files(path: Path) -> list[Path]:
    """The HDF5 files of a dataset: ``path`` itself, or the ``*.hdf5`` files directly inside the folder.

    Hidden files are skipped: a recorder killed mid-write leaves a hidden temporary file (``fileio.TMP_PREFIX``),
    never a partial dataset file, and it must not make the finished ones unreadable."""
    if path.is_file():
        return [path]
    files = sorted(p for p in path.glob("*.hdf5") if p.is_file() and not p.name.startswith("."))
    if not files:
        subfolders = sorted(p.name for p in path.iterdir() if p.is_dir() and any(p.glob("*.hdf5")))
        hint = f"; these subfolders have some: {subfolders} (set data.path to one of them)" if subfolders else ""
        raise DataError(f"no .hdf5 files in {path}{hint}")
    return files


def _looks_like_libero(path: Path) -> bool:
    if path.is_file():
        return path.suffix in (".hdf5", ".h5")
    return path.is_dir() and any(path.glob("*.hdf5"))


@register_format("libero_hdf5", detect=_looks_like_libero)
def open_libero_hdf5(cfg: DataConfig) -> EpisodeDataset:
    """Open a LIBERO suite folder, one ``*_demo.hdf5`` file, or the hub copy (``repo_id`` + ``subfolder``)."""
    path = resolve_local_path(cfg)
    return read_libero(path, cfg, source=str(path) if cfg.path else f"hf://{cfg.repo_id}/{cfg.subfolder or ''}")


def read_libero(path: Path, cfg: DataConfig, *, source: str | None = None) -> EpisodeDataset:
    files = find_files(path)
    by_task = {task_name_of(f): f for f in files}
    if cfg.tasks is not None:
        unknown = [t for t in cfg.tasks if t not in by_task]
        if unknown:
            raise DataError(f"data.tasks {unknown} not found in {path}; available tasks: {sorted(by_task)}")
        files = [by_task[t] for t in cfg.tasks]
    views = dict(cfg.views) if cfg.views is not None else dict(DEFAULT_VIEWS)
    size = _image_size(cfg)
    cleaning = getattr(cfg, "libero", None) or LiberoReadConfig()
    episodes: list[Episode] = []
    for file in files:
        episodes += read_file(
            file,
            views=views,
            size=size,
            max_episodes=cfg.max_episodes,
            convention=cfg.image_convention,
            cleaning=cleaning,
        )
    info = info_from_episodes(episodes, fps=FPS, roles=ROLES, role_overrides=cfg.roles)
    options = {
        "reader": f"libero_hdf5/{READER_VERSION}",
        "tasks": cfg.tasks,
        "max_episodes": cfg.max_episodes,
        "image_size": size,
        "views": views,
        "image_convention": cfg.image_convention,
    }
    if cleaning != LiberoReadConfig():  # only then: the default keeps the fingerprints of existing caches and runs
        options["cleaning"] = asdict(cleaning)
    fingerprint = fingerprint_files(files, options)
    root = path if path.is_dir() else path.parent
    return EpisodeDataset(
        episodes=episodes,
        info=info,
        fingerprint=fingerprint,
        source=source or str(path),
        cache_dir=default_cache_dir(cfg, root, fingerprint),
        meta={"files": [str(f) for f in files]},
    )


def _image_size(cfg: DataConfig) -> tuple[int, int] | None:
    if cfg.image_size is None:  # DataConfig has checked it is [H, W] with positive sizes
        return None
    return int(cfg.image_size[0]), int(cfg.image_size[1])


def read_file(
    file: Path,
    *,
    views: dict[str, str] | None = None,
    size: tuple[int, int] | None = None,
    max_episodes: int | None = None,
    convention: str | None = None,
    cleaning: LiberoReadConfig | None = None,
) -> list[Episode]:
    """The episodes of one ``<TASK>_demo.hdf5`` file; raises :class:`DataError` naming the file and key."""
    views = dict(DEFAULT_VIEWS) if views is None else views
    if not file.exists():
        raise DataError(f"LIBERO file {file} does not exist")
    try:
        handle = h5py.File(file, "r", locking=False)
    except OSError as exc:
        raise DataError(f"cannot open {file} as HDF5 (truncated or not an HDF5 file?): {exc}") from exc
    with handle:
        if "data" not in handle:
            raise DataError(f"{file}: no 'data' group; top-level keys are {sorted(handle)}")
        data = handle["data"]
        instruction = _instruction(file, data)
        if convention is not None:
            if convention not in IMAGE_CONVENTIONS:
                raise DataError(f"data.image_convention={convention!r} is unknown; expected one of {IMAGE_CONVENTIONS}")
        else:
            convention = _attr(file, data, "macros_image_convention")
            if convention not in IMAGE_CONVENTIONS:
                raise DataError(
                    f"{file}: data.attrs['macros_image_convention'] = {convention!r} is not a known image "
                    f"convention; expected one of {IMAGE_CONVENTIONS} (or set data.image_convention to override)"
                )
        demos = sorted((int(m.group(1)), k) for k in data if (m := _DEMO.match(k)))
        if not demos:
            raise DataError(f"{file}: no data/demo_<i> groups; 'data' holds {sorted(data)}")
        if max_episodes is not None:
            demos = demos[:max_episodes]
        task = task_name_of(file)
        cleaning = cleaning or LiberoReadConfig()
        if cleaning.drop_failed:
            demos = [(i, key) for i, key in demos if _succeeded(file, data[key], key)]
        return [
            _read_demo(file, data[key], key, task, instruction, views, size, convention, cleaning) for _, key in demos
        ]


def _succeeded(file: Path, demo: h5py.Group, key: str) -> bool:
    """Whether a demonstration's recorded ``dones`` reach 1 (LIBERO's success flag)."""
    if "dones" not in demo:
        raise DataError(f"{file}: data.libero.drop_failed needs data/{key}/dones, which is missing")
    return bool(np.asarray(demo["dones"][()]).any())


def noop_mask(actions: np.ndarray, threshold: float) -> np.ndarray:
    """True for the steps OpenVLA's ``regenerate_libero_dataset.py`` drops as no-ops (see LiberoReadConfig)."""
    keep = np.ones(len(actions), dtype=bool)
    previous = None
    for t, action in enumerate(actions):
        still = float(np.linalg.norm(action[:-1])) < threshold
        if still and (previous is None or action[-1] == previous[-1]):
            keep[t] = False
            continue
        previous = action
    return ~keep


def _attr(file: Path, group: h5py.Group, name: str) -> str:
    if name not in group.attrs:
        raise DataError(f"{file}: attribute data.attrs[{name!r}] is missing; present: {sorted(group.attrs)}")
    value = group.attrs[name]
    return value.decode() if isinstance(value, bytes) else str(value)


def _instruction(file: Path, data: h5py.Group) -> str:
    raw = _attr(file, data, "problem_info")
    try:
        return str(json.loads(raw)["language_instruction"])
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DataError(
            f"{file}: data.attrs['problem_info'] must be JSON with 'language_instruction', got {raw[:200]!r}"
        ) from exc


def _read_demo(
    file: Path,
    demo: h5py.Group,
    key: str,
    task: str,
    instruction: str,
    views: dict[str, str],
    size: tuple[int, int] | None,
    convention: str,
    cleaning: LiberoReadConfig,
) -> Episode:
    def dataset(name: str) -> h5py.Dataset:
        if name not in demo or not isinstance(demo[name], h5py.Dataset):
            where = "obs" if name.startswith("obs/") else ""
            present = sorted(demo[where]) if where and where in demo else sorted(demo)
            raise DataError(f"{file}: key data/{key}/{name} is missing; data/{key}/{where} holds {present}")
        return demo[name]

    actions = dataset("actions")
    length = actions.shape[0]
    if actions.ndim != 2:
        raise DataError(f"{file}: data/{key}/actions has shape {actions.shape}, expected (T, action_dim)")

    def check_length(name: str, ds: h5py.Dataset) -> None:
        if ds.shape[0] != length:
            raise DataError(
                f"{file}: data/{key}/{name} has {ds.shape[0]} frames but data/{key}/actions has {length}; "
                "every array of a demo must share its time axis"
            )

    all_actions = np.asarray(actions[()], dtype=np.float32)
    kept = None
    if cleaning.filter_noops:
        kept = np.flatnonzero(~noop_mask(all_actions, cleaning.noop_threshold))
        if len(kept) == 0:
            raise DataError(
                f"{file}: every step of data/{key} is a no-op; leave it out or set data.libero.filter_noops=false"
            )
    images = {}
    for view, file_key in views.items():
        ds = dataset(f"obs/{file_key}")
        check_length(f"obs/{file_key}", ds)
        if ds.ndim != 4 or ds.shape[-1] != 3 or ds.dtype != np.uint8:
            raise DataError(
                f"{file}: data/{key}/obs/{file_key} is {ds.dtype} {ds.shape}, expected uint8 (T, H, W, 3) images"
            )
        images[view] = H5Frames(str(file), ds.name, ds.shape, convention, size, frames=kept)
    proprio = {}
    obs = demo.get("obs", {})
    for name in PROPRIO_KEYS:
        if name in obs:
            ds = obs[name]
            check_length(f"obs/{name}", ds)
            values = np.asarray(ds[()], dtype=np.float32).reshape(length, -1)
            proprio[name] = values if kept is None else values[kept]
    return Episode(
        episode_id=f"{task}/{key}",
        task=task,
        instruction=instruction,
        actions=all_actions if kept is None else all_actions[kept],
        proprio=proprio,
        images=images,
        source=str(file),
        meta={"file": str(file), "demo": key, "image_convention": convention, "recorded_length": length},
    )
