"""CALVIN reader: one ``episode_<7-digit frame id>.npz`` per 30 Hz frame, episodes from the split's index files.

Layout (``calvin/dataset/README.md``, ``calvin_env/datarenderer.py:save_step``; ../shared/notes/data-formats.md
§2d): a split folder (``training/`` or ``validation/``) holds the frames, ``ep_start_end_ids.npy`` (inclusive
``[first, last]`` frame ids of each recorded play episode) and ``lang_annotations/auto_lang_ann.npy`` (the
language-annotated windows). Frame ids need not start at 0 (the debug split starts at 358482).

Episodes are the language-annotated windows by default (``data.calvin.episodes=language``), as CALVIN's
language-conditioned policies train on them (``DiskDataset`` with ``lang`` keys): instruction = the annotation,
task = its task label. ``play`` yields the unannotated ``ep_start_end_ids`` spans instead.

Views: ``static`` (``rgb_static``, 200x200; role ``primary``) and ``gripper`` (``rgb_gripper``, 84x84; role
``wrist``); proprio ``robot_obs`` (15), ``scene_obs`` (24) and the parts of ``robot_obs``
(:mod:`foresight.data.calvin_layout`: ``joint_states`` is the ``arm`` role, ``gripper_width`` the ``gripper`` role,
``ee_pose`` the ``eef`` role); actions ``rel_actions`` (7) or absolute ``actions`` (7). Upright: pybullet's
``getCameraImage`` returns rows top-first, so the stored frames are already upright (convention ``opencv``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from foresight.data.calvin_layout import ROBOT_OBS_PARTS, ROLES
from foresight.data.config import DataConfig
from foresight.data.lazy_frames import Columns, LazyFrames, finish_images, resized_shape
from foresight.data.options import CALVIN_ACTION_KEYS, CALVIN_EPISODE_MODES, CalvinConfig
from foresight.data.orientation import check_convention
from foresight.data.source import (
    DataError,
    EpisodeDataset,
    default_cache_dir,
    fingerprint_files,
    info_from_episodes,
    register_format,
    resolve_local_path,
    select_episodes,
)
from foresight.types import Episode

FPS = 30.0  # CALVIN control and recording frequency (calvin_env conf: control_freq 30)
DEFAULT_VIEWS = {"static": "rgb_static", "gripper": "rgb_gripper"}
PROPRIO_KEYS = ("robot_obs", "scene_obs")
IMAGE_CONVENTION = "opencv"  # pybullet camera images are stored top row first
EPISODE_IDS = "ep_start_end_ids.npy"
LANG_ANN = Path("lang_annotations") / "auto_lang_ann.npy"


def frame_path(folder: Path, frame_id: int) -> Path:
    return folder / f"episode_{frame_id:07d}.npz"


def _read_key(path: Path, key: str) -> np.ndarray:
    try:
        with np.load(path) as frame:
            if key not in frame.files:
                raise DataError(f"CALVIN frame {path} has no key {key!r}; it has {sorted(frame.files)}")
            return frame[key]
    except FileNotFoundError:
        raise DataError(f"CALVIN frame file {path} is missing (listed by the split's {EPISODE_IDS})") from None


@functools.lru_cache(maxsize=16384)
def _read_vector(path: Path, key: str) -> np.ndarray:
    """Vectors are tiny and re-read by overlapping windows; memoised per process (about 0.5 KB each)."""
    return _read_key(path, key)


class NpzFrames(LazyFrames):
    """One key of consecutive CALVIN frame files, read per frame (images post-processed by ``finish``)."""

    def __init__(
        self,
        folder: Path,
        first: int,
        last: int,
        key: str,
        row_shape: tuple[int, ...],
        dtype: np.dtype,
        finish: Callable[[np.ndarray], np.ndarray] | None = None,
        out_shape: tuple[int, ...] | None = None,
    ) -> None:
        self.folder = folder
        self.first = first
        self.key = key
        self.finish = finish
        self.dtype = np.dtype(dtype)
        self.shape = out_shape if out_shape is not None else (last - first + 1, *row_shape)
        self.source = f"{frame_path(folder, first)}..{frame_path(folder, last).name}:{key}"

    def _read(self, frames: np.ndarray) -> np.ndarray:
        read = _read_key if self.finish is not None else _read_vector
        rows = np.stack([read(frame_path(self.folder, self.first + int(i)), self.key) for i in frames])
        return self.finish(rows) if self.finish is not None else rows


@dataclass(frozen=True)
class Span:
    first: int
    last: int
    task: str
    instruction: str
    label: str


def split_folder(root: Path, split: str) -> Path:
    """``root`` itself when it is a split folder, else ``root/<split>``."""
    if (root / EPISODE_IDS).exists():
        return root
    folder = root / split
    if not folder.is_dir():
        found = sorted(p.name for p in root.iterdir() if (p / EPISODE_IDS).exists()) if root.is_dir() else []
        raise DataError(
            f"CALVIN dataset {root}: missing {root / EPISODE_IDS} and no split folder {split!r} "
            f"(data.calvin.split); split folders found: {found or 'none'}"
        )
    if not (folder / EPISODE_IDS).exists():
        raise DataError(
            f"CALVIN split {folder}: missing {folder / EPISODE_IDS} (the inclusive [first, last] frame ids of every "
            "episode, shipped with each split of the official dataset)"
        )
    return folder


def load_episode_ids(folder: Path) -> np.ndarray:
    path = folder / EPISODE_IDS
    ids = np.load(path)
    if ids.ndim != 2 or ids.shape[1] != 2 or not np.issubdtype(ids.dtype, np.integer):
        raise DataError(
            f"{path}: expected an integer (K, 2) array of [first, last] frame ids, got {ids.dtype} {ids.shape}"
        )
    return ids


def load_language(folder: Path) -> list[Span]:
    """The annotated windows of ``lang_annotations/auto_lang_ann.npy``.

    The official file is a pickled Python dict saved with ``np.save``, so it needs ``allow_pickle=True``. We do this
    for this one documented file of the official CALVIN release only; unpickling runs code, so never point
    ``data.path`` at a CALVIN folder from a source you do not trust.
    """
    path = folder / LANG_ANN
    if not path.exists():
        raise DataError(
            f"CALVIN split {folder}: missing {path} (language annotations); use data.calvin.episodes=play to read "
            "the unannotated episodes"
        )
    ann = np.load(path, allow_pickle=True).item()
    try:
        sentences, tasks, windows = ann["language"]["ann"], ann["language"]["task"], ann["info"]["indx"]
    except (KeyError, TypeError) as exc:
        raise DataError(
            f"{path}: expected a dict with language.ann, language.task and info.indx; missing {exc}"
        ) from None
    if not len(sentences) == len(tasks) == len(windows):
        raise DataError(
            f"{path}: {len(sentences)} language.ann, {len(tasks)} language.task and {len(windows)} info.indx entries; "
            "they must match one to one"
        )
    return [
        Span(int(start), int(end), str(task), str(sentence), f"ann{i:05d}")
        for i, (sentence, task, (start, end)) in enumerate(zip(sentences, tasks, windows, strict=True))
    ]


def _check_spans(folder: Path, spans: list[Span], episode_ids: np.ndarray) -> None:
    """Every window lies inside one recorded episode and its end frames exist (inner frames are checked on read)."""
    for span in spans:
        inside = (episode_ids[:, 0] <= span.first) & (span.last <= episode_ids[:, 1])
        if span.last < span.first or not inside.any():
            raise DataError(
                f"CALVIN split {folder}: window {span.label} [{span.first}, {span.last}] is not inside any episode "
                f"of {EPISODE_IDS}"
            )
        for frame_id in (span.first, span.last):
            if not frame_path(folder, frame_id).exists():
                raise DataError(f"CALVIN frame file {frame_path(folder, frame_id)} is missing (window {span.label})")


def read_calvin(
    folder: Path,
    options: CalvinConfig,
    *,
    views: dict[str, str] | None = None,
    convention: str = IMAGE_CONVENTION,
    image_size: tuple[int, int] | None = None,
) -> list[Episode]:
    """Episodes of one CALVIN split folder (see the module docstring for the mapping)."""
    if options.actions not in CALVIN_ACTION_KEYS:
        raise DataError(f"data.calvin.actions={options.actions!r}: expected one of {CALVIN_ACTION_KEYS}")
    if options.episodes not in CALVIN_EPISODE_MODES:
        raise DataError(f"data.calvin.episodes={options.episodes!r}: expected one of {CALVIN_EPISODE_MODES}")
    check_convention(convention)
    views = dict(views) if views is not None else dict(DEFAULT_VIEWS)
    episode_ids = load_episode_ids(folder)
    if options.episodes == "language":
        spans = load_language(folder)
    else:
        spans = [Span(int(a), int(b), "play", "", f"play{i:05d}") for i, (a, b) in enumerate(episode_ids)]
    if not spans:
        raise DataError(f"CALVIN split {folder}: no {options.episodes} episodes")
    _check_spans(folder, spans, episode_ids)

    with np.load(frame_path(folder, spans[0].first)) as sample:
        keys = {k: (sample[k].shape, sample[k].dtype) for k in sample.files}
    for key in (options.actions, *PROPRIO_KEYS, *views.values()):
        if key not in keys:
            raise DataError(
                f"CALVIN frame {frame_path(folder, spans[0].first)} has no key {key!r}; it has {sorted(keys)}"
                + (
                    f" (data.views maps view names to these keys; defaults {DEFAULT_VIEWS})"
                    if key in views.values()
                    else ""
                )
            )

    def finish(rows: np.ndarray) -> np.ndarray:
        return finish_images(rows, convention, size=image_size)

    def vector(span: Span, key: str) -> NpzFrames:
        return NpzFrames(folder, span.first, span.last, key, keys[key][0], keys[key][1])

    def image(span: Span, key: str) -> NpzFrames:
        shape = resized_shape((span.last - span.first + 1, *keys[key][0]), image_size)
        return NpzFrames(folder, span.first, span.last, key, keys[key][0], np.uint8, finish, shape)

    def proprio(span: Span) -> dict[str, LazyFrames]:
        vectors = {key: vector(span, key) for key in PROPRIO_KEYS}
        robot = vectors["robot_obs"]
        return vectors | {key: Columns(robot, *cols) for key, cols in ROBOT_OBS_PARTS.items()}

    return [
        Episode(
            episode_id=f"{folder.name}/{span.label}_{span.first:07d}-{span.last:07d}",
            task=span.task,
            instruction=span.instruction,
            actions=vector(span, options.actions),
            proprio=proprio(span),
            images={view: image(span, key) for view, key in views.items()},
            source=str(folder),
            meta={"first_frame": span.first, "last_frame": span.last, "frame_rate": FPS},
        )
        for span in spans
    ]


def _detect(path: Path) -> bool:
    return (path / EPISODE_IDS).exists() or (path / "training" / EPISODE_IDS).exists()


@register_format("calvin", detect=_detect)
def open_calvin(cfg: DataConfig) -> EpisodeDataset:
    """``format: calvin``: ``data.path`` is the dataset root (split from ``data.calvin.split``) or a split folder."""
    options: CalvinConfig = getattr(cfg, "calvin", None) or CalvinConfig()
    folder = split_folder(resolve_local_path(cfg), options.split)
    convention = cfg.image_convention or IMAGE_CONVENTION
    size = tuple(cfg.image_size) if cfg.image_size is not None else None
    episodes = read_calvin(folder, options, views=cfg.views, convention=convention, image_size=size)
    episodes = select_episodes(episodes, cfg.tasks, cfg.max_episodes, "CALVIN tasks of this split")
    boundary_frames = {frame_path(folder, ep.meta[k]) for ep in episodes for k in ("first_frame", "last_frame")}
    index_files = [folder / EPISODE_IDS] + ([folder / LANG_ANN] if options.episodes == "language" else [])
    read_options = {
        "format": "calvin",
        "calvin": vars(options),
        "views": cfg.views,
        "image_convention": convention,
        "image_size": size,
        "tasks": cfg.tasks,
        "max_episodes": cfg.max_episodes,
    }
    # Frames are immutable once recorded; hashing the index files and every window's end frames (not all 1.8M
    # frame files of ABC) catches a changed split without a long stat walk on each open.
    fingerprint = fingerprint_files([*index_files, *sorted(boundary_frames)], read_options)
    return EpisodeDataset(
        episodes=episodes,
        info=info_from_episodes(episodes, fps=FPS, roles=ROLES, role_overrides=cfg.roles),
        fingerprint=fingerprint,
        source=str(folder),
        cache_dir=default_cache_dir(cfg, folder, fingerprint),
        meta={"split": folder.name, **read_options},
    )
