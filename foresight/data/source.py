"""Opening a dataset by config: the format table, auto-detection, fingerprints and hub downloads.

Every reader turns its files into :class:`~foresight.types.Episode` objects wrapped in an :class:`EpisodeDataset`
and registers an opener under a format name::

    @register_format("calvin", detect=lambda path: (path / "training" / "ep_start_end_ids.npy").exists())
    def open_calvin(cfg: DataConfig) -> EpisodeDataset: ...

Readers in this package are imported lazily by module name (:data:`BUILTIN_MODULES`), so a reader whose optional
dependency is missing breaks only its own format, with an error that says what to install.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from foresight.data.config import DataConfig, cache_root
from foresight.roles import assign
from foresight.types import DatasetInfo, Episode


class DataError(ValueError):
    """A dataset that cannot be read as configured; the message names the file, the key and what was expected."""


@dataclass
class EpisodeDataset:
    """A dataset as readers deliver it: episodes (arrays may be lazy), their summary and where they came from.

    ``fingerprint`` changes whenever the files or the read options change (it keys the statistics and feature
    caches); ``cache_dir`` is where those caches go.
    """

    episodes: Sequence[Episode]
    info: DatasetInfo
    fingerprint: str
    source: str
    cache_dir: Path
    meta: dict[str, Any] = field(default_factory=dict)

    def describe_source(self) -> str:
        """Where the data came from (a path or a hub id), for logs and checkpoints."""
        return self.source

    def __len__(self) -> int:
        return len(self.episodes)


Opener = Callable[[DataConfig], EpisodeDataset]
Detector = Callable[[Path], bool]

FORMATS: dict[str, Opener] = {}
"""Format name -> opener. Filled by :func:`register_format`, from any module."""

DETECTORS: dict[str, Detector] = {}
"""Format name -> a test on a local path used by ``format: auto``."""

BUILTIN_MODULES: dict[str, str] = {
    "libero_hdf5": "foresight.data.libero_hdf5",
    "demo": "foresight.data.demo",
    "lerobot": "foresight.data.lerobot",
    "calvin": "foresight.data.calvin",
}
"""Formats shipped with foresight and the module that registers each, imported on first use."""


def register_format(name: str, *, detect: Detector | None = None) -> Callable[[Opener], Opener]:
    """Register ``opener`` for ``format: name``; ``detect(path)`` lets ``format: auto`` recognise its files."""

    def decorator(opener: Opener) -> Opener:
        FORMATS[name] = opener
        if detect is not None:
            DETECTORS[name] = detect
        return opener

    return decorator


def _load_builtin(name: str) -> None:
    module = BUILTIN_MODULES.get(name)
    if module is None or name in FORMATS:
        return
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise DataError(
            f"data format {name!r} needs {module}, which failed to import ({exc}); install the missing package"
        ) from exc


def get_opener(name: str) -> Opener:
    """The opener registered for ``name``, importing its built-in module on first use."""
    _load_builtin(name)
    if name not in FORMATS:
        known = sorted(set(FORMATS) | set(BUILTIN_MODULES))
        raise DataError(f"unknown data format {name!r}; expected one of {known} or 'auto'")
    return FORMATS[name]


def detect_format(path: Path) -> str:
    """The format whose detector accepts ``path``; built-in readers that fail to import are skipped."""
    failed = {}
    for name in BUILTIN_MODULES:
        try:
            _load_builtin(name)
        except DataError as exc:
            failed[name] = str(exc)
    for name, detect in DETECTORS.items():
        if detect(path):
            return name
    hint = f" (formats that could not be loaded: {failed})" if failed else ""
    raise DataError(
        f"cannot tell the format of {path}: no reader recognises it{hint}. Expected a LIBERO *.hdf5 file or a "
        f"folder of them, a LeRobot folder (meta/info.json) or a CALVIN root or split (ep_start_end_ids.npy); "
        f"or set data.format to one of {sorted(set(FORMATS) | set(BUILTIN_MODULES))}"
    )


def open_dataset(cfg: DataConfig) -> EpisodeDataset:
    """Open the dataset ``cfg`` describes (``format: auto`` detects it from ``path``)."""
    name = cfg.format
    if name == "auto":
        if cfg.path is None:
            raise DataError(f"data.format is 'auto' but data.path is not set (repo_id={cfg.repo_id!r}); set both")
        path = Path(cfg.path).expanduser()
        if not path.exists():
            raise DataError(f"data.path {path} does not exist")
        name = detect_format(path)
    return get_opener(name)(cfg)


def fingerprint_files(files: Iterable[Path], options: dict[str, Any]) -> str:
    """A stable hash of file names, sizes, modification times and the read options that change what is read.

    Names are taken relative to the files' common folder, so a moved dataset keeps its fingerprint only if
    its files keep their times (a copy gets new times, hence a new fingerprint: caches rebuild rather than
    risk reading stale ones).
    """
    paths = sorted(Path(f).resolve() for f in files)
    root = Path(os.path.commonpath([str(p.parent) for p in paths])) if paths else Path()
    digest = hashlib.sha256()
    for p in paths:
        stat = p.stat()
        digest.update(f"{p.relative_to(root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    digest.update(json.dumps(options, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:32]


def default_cache_dir(cfg: DataConfig, data_root: Path | None, fingerprint: str) -> Path:
    """``cfg.cache_dir``, else ``<data_root>/.foresight`` when writable, else ``<cache_root>/datasets/<fp>``."""
    if cfg.cache_dir is not None:
        return Path(cfg.cache_dir).expanduser()
    if data_root is not None and os.access(data_root, os.W_OK):
        return data_root / ".foresight"
    return cache_root() / "datasets" / fingerprint[:16]


def download_from_hub(
    repo_id: str, *, subfolder: str | None = None, repo_type: str = "dataset", revision: str | None = None
) -> Path:
    """Local folder of a hub dataset (downloaded once into the Hugging Face cache), or ``<snapshot>/<subfolder>``.

    Offline (``HF_HUB_OFFLINE=1`` or no network) with nothing cached, the error tells the user to point
    ``data.path`` at a local copy.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled

    patterns = [f"{subfolder}/*"] if subfolder else None
    where = f"{repo_id}/{subfolder}" if subfolder else repo_id
    try:
        folder = Path(snapshot_download(repo_id, repo_type=repo_type, revision=revision, allow_patterns=patterns))
    except (LocalEntryNotFoundError, OfflineModeIsEnabled, HfHubHTTPError, OSError) as exc:
        raise DataError(
            f"cannot get hub dataset {where!r} ({type(exc).__name__}: {exc}). Download it where you have network "
            f"(huggingface-cli download {repo_id} --repo-type {repo_type}"
            f"{' --revision ' + revision if revision else ''}"
            f"{' --include ' + repr(patterns[0]) if patterns else ''} --local-dir DIR) and set data.path=DIR"
            f"{'/' + subfolder if subfolder else ''}"
        ) from exc
    return folder / subfolder if subfolder else folder


def resolve_local_path(cfg: DataConfig) -> Path:
    """``cfg.path`` if set (must exist), else the hub download of ``cfg.repo_id`` / ``cfg.subfolder``.

    LeRobot datasets are versioned by hub revision (``data.lerobot.revision``), so that one is pinned when set.
    """
    if cfg.path is not None:
        path = Path(cfg.path).expanduser()
        if not path.exists():
            raise DataError(f"data.path {path} does not exist")
        return path
    if cfg.repo_id is None:
        raise DataError(f"data {cfg.name!r} has neither data.path nor data.repo_id; set data.path=/your/dataset")
    revision = cfg.lerobot.revision if cfg.format == "lerobot" else None
    return download_from_hub(cfg.repo_id, subfolder=cfg.subfolder, revision=revision)


def info_from_episodes(
    episodes: Sequence[Episode],
    *,
    fps: float | None = None,
    roles: Mapping[str, str] | None = None,
    role_overrides: Mapping[str, str] | None = None,
) -> DatasetInfo:
    """Summarise episodes; checks every episode has the first one's keys and per-frame shapes.

    Image shapes are reported channels-first ``(3, H, W)``, as they appear in batches. ``roles`` is the reader's
    declaration of which key plays each role, ``role_overrides`` the user's ``data.roles`` (:mod:`foresight.roles`).
    """
    if not episodes:
        raise DataError("the dataset has no episodes (check data.tasks and data.max_episodes)")
    first = episodes[0]
    action_dim = int(np.shape(first.actions)[1])
    proprio_dims = {k: int(np.shape(v)[1]) for k, v in first.proprio.items()}
    image_shapes = {}
    for view, frames in first.images.items():
        h, w, c = (int(n) for n in np.shape(frames)[1:])
        image_shapes[view] = (c, h, w)
    for ep in episodes[1:]:
        _check_same(ep, "actions", np.shape(ep.actions)[1:], (action_dim,))
        if set(ep.proprio) != set(proprio_dims) or set(ep.images) != set(image_shapes):
            raise DataError(
                f"episode {ep.episode_id} ({ep.source}) has proprio {sorted(ep.proprio)} and views {sorted(ep.images)}"
                f", but episode {first.episode_id} has {sorted(proprio_dims)} and {sorted(image_shapes)}"
            )
    tasks: dict[str, str] = {}
    for ep in episodes:
        tasks.setdefault(ep.task, ep.instruction)
    view_roles, proprio_roles = assign(roles or {}, role_overrides, image_shapes, proprio_dims)
    return DatasetInfo(
        action_dim=action_dim,
        proprio_dims=proprio_dims,
        image_shapes=image_shapes,
        tasks=tuple(tasks),
        instructions=tuple(tasks.values()),
        fps=fps,
        view_roles=view_roles,
        proprio_roles=proprio_roles,
    )


def _check_same(ep: Episode, key: str, shape: tuple[int, ...], expected: tuple[int, ...]) -> None:
    if tuple(shape) != tuple(expected):
        raise DataError(
            f"episode {ep.episode_id} ({ep.source}): {key} has per-frame shape {tuple(shape)}, expected {expected}"
        )


def select_episodes(
    episodes: list[Episode], tasks: list[str] | None, max_episodes: int | None, kind: str = "tasks of this dataset"
) -> list[Episode]:
    """``data.tasks`` and ``data.max_episodes`` (per task, first ones kept), for readers that filter episodes."""
    if tasks is not None:
        known = sorted({ep.task for ep in episodes})
        unknown = sorted(set(tasks) - set(known))
        if unknown:
            raise DataError(f"data.tasks {unknown} are not {kind}; it has {known}")
        episodes = [ep for ep in episodes if ep.task in tasks]
    if max_episodes is not None:
        counts: dict[str, int] = {}
        kept = []
        for ep in episodes:
            counts[ep.task] = counts.get(ep.task, 0) + 1
            if counts[ep.task] <= max_episodes:
                kept.append(ep)
        episodes = kept
    return episodes
