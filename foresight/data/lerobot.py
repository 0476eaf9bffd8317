"""LeRobot dataset reader (codebase v2.0 / v2.1 and v3.0), from a local folder or a hub repo id.

Layouts (huggingface/lerobot ``src/lerobot/datasets/utils.py``; ../shared/notes/data-formats.md §2b):

* v3.0: ``meta/info.json``, ``meta/tasks.parquet`` (``task`` index, ``task_index``), episode metadata in
  ``meta/episodes/chunk-<c>/file-<f>.parquet`` (``episode_index``, ``length``, ``data/chunk_index``,
  ``data/file_index``, ``videos/<key>/{chunk_index,file_index,from_timestamp}``), frames of many episodes per
  ``data/chunk-<c>/file-<f>.parquet``, videos of many episodes per ``videos/<key>/chunk-<c>/file-<f>.mp4``.
* v2.x: ``meta/{info.json,tasks.jsonl,episodes.jsonl}``, one ``data/chunk-{:03d}/episode_{:06d}.parquet`` and
  one ``videos/chunk-{:03d}/<key>/episode_{:06d}.mp4`` per episode (``info.json`` holds the path templates).

Mapping to :class:`~foresight.types.Episode`: camera features (``dtype`` ``video`` or ``image``) become views,
``observation.images.image`` -> ``agentview`` and ``wrist_image`` / ``image2`` -> ``wrist`` (the LIBERO
conversions' names), any other ``observation.images.X`` -> ``X``; ``data.views`` replaces that mapping.
``observation.state`` (or ``state``) -> proprio ``state``, other float ``observation.*`` features -> proprio by
their last name part; ``action`` (or ``actions``) -> actions; the task string of the episode's first frame ->
instruction and task name. Orientation: see :class:`foresight.data.options.LeRobotConfig`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from foresight.data.config import DataConfig
from foresight.data.lazy_frames import finish_images, resized_shape
from foresight.data.lerobot_media import ParquetImages, VideoFrames
from foresight.data.options import LeRobotConfig
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

SUPPORTED_VERSIONS = ("v2.0", "v2.1", "v3.0")
INFO = Path("meta") / "info.json"
CAMERA_DTYPES = ("video", "image")
VIEW_NAMES = {"image": "agentview", "wrist_image": "wrist", "image2": "wrist"}
ACTION_KEYS = ("action", "actions")
STATE_KEYS = ("observation.state", "state")
FRAME_COLUMNS = ("timestamp", "frame_index", "episode_index", "index", "task_index")


@dataclass
class EpisodeRecord:
    """Where one episode's rows and videos are."""

    index: int
    length: int
    data_file: Path
    videos: dict[str, tuple[Path, float]] = field(default_factory=dict)  # key -> (file, from_timestamp)


@dataclass
class LeRobotLayout:
    root: Path
    version: str
    fps: float
    features: dict[str, dict[str, Any]]
    tasks: dict[int, str]
    episodes: list[EpisodeRecord]
    meta_files: list[Path]


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"{path} is not valid JSON: {exc}") from None


def _load_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise DataError(f"LeRobot v2 dataset {path.parents[1]}: missing {path}")
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise DataError(f"{path} is not valid JSON lines: {exc}") from None


def _require(record: dict[str, Any], key: str, where: Path) -> Any:
    if key not in record:
        raise DataError(f"{where}: missing key {key!r} (has {sorted(record)})")
    return record[key]


def load_info(root: Path) -> dict[str, Any]:
    """``meta/info.json`` with its version checked."""
    path = root / INFO
    if not path.exists():
        raise DataError(
            f"{path} is missing: {root} is not a LeRobot dataset folder (expected meta/info.json, data/ and, for "
            "video datasets, videos/); set data.format for other formats"
        )
    info = _load_json(path)
    version = _require(info, "codebase_version", path)
    if version not in SUPPORTED_VERSIONS:
        raise DataError(
            f"{path}: codebase_version {version!r} is not supported; supported: {SUPPORTED_VERSIONS} (convert with "
            "lerobot's scripts, e.g. python -m lerobot.scripts.convert_dataset_v21_to_v30)"
        )
    for key in ("fps", "features", "data_path"):
        _require(info, key, path)
    return info


def _tasks_v3(root: Path) -> dict[int, str]:
    path = root / "meta" / "tasks.parquet"
    if not path.exists():
        raise DataError(f"LeRobot v3.0 dataset {root}: missing {path}")
    table = pq.read_table(path)
    # Written by pandas with the task string as the index: it reads back as a "task" (or unnamed) column.
    text = next((c for c in ("task", "__index_level_0__") if c in table.column_names), None)
    if text is None or "task_index" not in table.column_names:
        raise DataError(f"{path}: expected columns 'task' and 'task_index', found {table.column_names}")
    return dict(zip(table.column("task_index").to_pylist(), table.column(text).to_pylist(), strict=True))


def _episodes_v3(root: Path, info: dict[str, Any]) -> tuple[list[EpisodeRecord], list[Path]]:
    files = sorted((root / "meta" / "episodes").glob("*/*.parquet"))
    if not files:
        raise DataError(f"LeRobot v3.0 dataset {root}: no episode metadata in {root / 'meta' / 'episodes'}/*/*.parquet")
    video_keys = [k for k, f in info["features"].items() if f.get("dtype") == "video"]
    records = []
    for path in files:
        schema = pq.read_schema(path)
        table = pq.read_table(path, columns=[c for c in schema.names if not c.startswith("stats/")])
        for row in table.to_pylist():
            where = f"{path} (episode {row.get('episode_index')})"
            need = ["episode_index", "length", "data/chunk_index", "data/file_index"]
            need += [f"videos/{k}/{p}" for k in video_keys for p in ("chunk_index", "file_index", "from_timestamp")]
            missing = [k for k in need if k not in row]
            if missing:
                raise DataError(f"{where}: missing keys {missing}")
            data_file = root / info["data_path"].format(
                chunk_index=row["data/chunk_index"], file_index=row["data/file_index"]
            )
            videos = {
                k: (
                    root
                    / info["video_path"].format(
                        video_key=k,
                        chunk_index=row[f"videos/{k}/chunk_index"],
                        file_index=row[f"videos/{k}/file_index"],
                    ),
                    float(row[f"videos/{k}/from_timestamp"]),
                )
                for k in video_keys
            }
            records.append(EpisodeRecord(int(row["episode_index"]), int(row["length"]), data_file, videos))
    return records, files


def _episodes_v2(root: Path, info: dict[str, Any]) -> tuple[list[EpisodeRecord], list[Path]]:
    path = root / "meta" / "episodes.jsonl"
    chunks_size = int(info.get("chunks_size", 1000))
    video_keys = [k for k, f in info["features"].items() if f.get("dtype") == "video"]
    records = []
    for row in _load_jsonl(path):
        index = int(_require(row, "episode_index", path))
        keys = {"episode_chunk": index // chunks_size, "episode_index": index}
        data_file = root / info["data_path"].format(**keys)
        videos = {k: (root / info["video_path"].format(video_key=k, **keys), 0.0) for k in video_keys}
        records.append(EpisodeRecord(index, int(_require(row, "length", path)), data_file, videos))
    return records, [path]


def load_layout(root: Path) -> LeRobotLayout:
    """The dataset's metadata: version, features, tasks, and where every episode's rows and videos are."""
    info = load_info(root)
    version = info["codebase_version"]
    if version == "v3.0":
        tasks = _tasks_v3(root)
        episodes, files = _episodes_v3(root, info)
        files = [root / "meta" / "tasks.parquet", *files]
    else:
        tasks_path = root / "meta" / "tasks.jsonl"
        tasks = {
            int(_require(t, "task_index", tasks_path)): str(_require(t, "task", tasks_path))
            for t in _load_jsonl(tasks_path)
        }
        episodes, files = _episodes_v2(root, info)
        files = [tasks_path, *files]
    if any(f.get("dtype") == "video" for f in info["features"].values()) and not info.get("video_path"):
        raise DataError(f"{root / INFO}: video features but no 'video_path' template")
    return LeRobotLayout(
        root,
        version,
        float(info["fps"]),
        info["features"],
        tasks,
        sorted(episodes, key=lambda e: e.index),
        [root / INFO, *files],
    )


def camera_views(features: dict[str, dict[str, Any]], views: dict[str, str] | None, where: Path) -> dict[str, str]:
    """Our view name -> feature key (``data.views`` if given, else the default naming)."""
    cameras = [k for k, f in features.items() if f.get("dtype") in CAMERA_DTYPES]
    if views is not None:
        for view, key in views.items():
            if key not in cameras:
                raise DataError(f"{where}: data.views.{view}={key!r} is not a camera feature; cameras: {cameras}")
        return dict(views)
    mapping: dict[str, str] = {}
    for key in cameras:
        short = key.removeprefix("observation.images.").removeprefix("observation.image.")
        name = VIEW_NAMES.get(short, short)
        if name in mapping:
            raise DataError(f"{where}: cameras {mapping[name]!r} and {key!r} both map to view {name!r}; set data.views")
        mapping[name] = key
    return mapping


def infer_roles(views: list[str], proprio: list[str]) -> dict[str, str]:
    """Roles from LeRobot's free-form names: the wrist camera by its name, the primary camera as the first other
    one; proprio by name (``joint``, ``gripper``, ``eef``/``ee_``/``tcp``), and a packed ``state`` vector, which
    holds the whole robot state, for every proprio role not found by name. ``data.roles`` overrides any of them.
    """
    roles: dict[str, str] = {}
    wrist = [v for v in views if re.search(r"wrist|hand|gripper", v)]
    others = [v for v in views if v not in wrist]
    if wrist:
        roles["wrist"] = wrist[0]
    if others:
        roles["primary"] = "agentview" if "agentview" in others else others[0]
    patterns = {"arm": r"joint", "gripper": r"gripper", "eef": r"eef|ee_|tcp|cartesian"}
    for role, pattern in patterns.items():
        named = [k for k in proprio if k != "state" and re.search(pattern, k)]
        if named:
            roles[role] = named[0]
        elif "state" in proprio:
            roles[role] = "state"
    return roles


def proprio_features(features: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Proprio name -> feature key: the state as ``state``, other float ``observation.*`` vectors by last name."""
    found: dict[str, str] = {}
    for key, feature in features.items():
        if feature.get("dtype") in CAMERA_DTYPES or not str(feature.get("dtype", "")).startswith("float"):
            continue
        if key in STATE_KEYS:
            found["state"] = key
        elif key.startswith("observation."):
            found[key.split(".")[-1]] = key
    return found


def action_feature(features: dict[str, dict[str, Any]], where: Path) -> str:
    for key in ACTION_KEYS:
        if key in features:
            return key
    raise DataError(
        f"{where}: no action feature; expected one of {ACTION_KEYS} in 'features', found {sorted(features)}"
    )


def _image_hw(feature: dict[str, Any], key: str, where: Path) -> tuple[int, int]:
    shape = list(_require(feature, "shape", where))
    names = feature.get("names")
    if isinstance(names, list) and len(names) == 3 and {"height", "width"} <= set(names):
        return int(shape[names.index("height")]), int(shape[names.index("width")])
    if len(shape) != 3:
        raise DataError(f"{where}: camera {key!r} has shape {shape}, expected (H, W, 3)")
    return (int(shape[1]), int(shape[2])) if shape[0] == 3 else (int(shape[0]), int(shape[1]))


def _as_matrix(column: pa.ChunkedArray, n: int, key: str, where: Path) -> np.ndarray:
    """A parquet column of fixed-length float lists (or scalars) -> ``(n, D)`` without a Python loop."""
    array = column.combine_chunks()
    if pa.types.is_list(array.type) or pa.types.is_fixed_size_list(array.type) or pa.types.is_large_list(array.type):
        values = array.flatten().to_numpy(zero_copy_only=False)
        if n and values.size % n:
            raise DataError(f"{where}: column {key!r} holds lists of unequal length")
        return values.reshape(n, -1)
    if pa.types.is_floating(array.type) or pa.types.is_integer(array.type):
        return array.to_numpy(zero_copy_only=False).reshape(n, 1)
    raise DataError(f"{where}: column {key!r} has type {array.type}, expected a list of floats")


def _read_rows(path: Path, columns: list[str]) -> tuple[dict[str, pa.ChunkedArray], int]:
    if not path.exists():
        raise DataError(f"LeRobot data file {path} is missing (listed by the episode metadata)")
    names = pq.read_schema(path).names
    missing = [c for c in columns if c not in names]
    if missing:
        raise DataError(f"{path}: missing columns {missing}; it has {names}")
    table = pq.read_table(path, columns=columns)
    return {c: table.column(c) for c in columns}, table.num_rows


@dataclass
class _Reader:
    layout: LeRobotLayout
    views: dict[str, str]
    proprio: dict[str, str]
    action_key: str
    finish: Callable[[np.ndarray], np.ndarray]
    image_size: tuple[int, int] | None
    tolerance_s: float

    def episodes(self) -> list[Episode]:
        by_file: dict[Path, list[EpisodeRecord]] = {}
        for record in self.layout.episodes:
            by_file.setdefault(record.data_file, []).append(record)
        episodes = []
        for path, in_file in by_file.items():
            columns = [self.action_key, *self.proprio.values(), "timestamp", "episode_index", "task_index"]
            table, n = _read_rows(path, columns)
            episode_of_row = table["episode_index"].to_numpy()
            arrays = {key: _as_matrix(table[key], n, key, path) for key in (self.action_key, *self.proprio.values())}
            times, task_of_row = table["timestamp"].to_numpy(), table["task_index"].to_numpy()
            for record in in_file:
                rows = np.flatnonzero(episode_of_row == record.index)
                if rows.size != record.length or (rows.size and rows[-1] - rows[0] + 1 != rows.size):
                    raise DataError(
                        f"{path}: episode {record.index} has {rows.size} rows"
                        f"{' (not contiguous)' if rows.size == record.length else ''}, but the episode metadata "
                        f"says length {record.length}"
                    )
                span = slice(int(rows[0]), int(rows[-1]) + 1)
                episodes.append(self._episode(record, span, arrays, times[span], int(task_of_row[span.start])))
        return sorted(episodes, key=lambda ep: ep.meta["episode_index"])

    def _episode(
        self, record: EpisodeRecord, span: slice, arrays: dict[str, np.ndarray], times: np.ndarray, task_index: int
    ) -> Episode:
        root = self.layout.root
        if task_index not in self.layout.tasks:
            raise DataError(f"{record.data_file}: task_index {task_index} is not in the dataset's tasks table")
        task = self.layout.tasks[task_index]
        images = {}
        for view, key in self.views.items():
            feature = self.layout.features[key]
            shape = resized_shape((record.length, *_image_hw(feature, key, root / INFO), 3), self.image_size)
            if feature["dtype"] == "video":
                video, start = record.videos[key]
                if not video.exists():
                    raise DataError(f"LeRobot video {video} is missing (camera {key!r}, episode {record.index})")
                images[view] = VideoFrames(video, times, start, shape, self.finish, self.tolerance_s)
            else:
                images[view] = ParquetImages(record.data_file, key, span.start, shape, self.finish, root)
        return Episode(
            episode_id=f"episode_{record.index:06d}",
            task=task,
            instruction=task,
            actions=arrays[self.action_key][span],
            proprio={name: arrays[key][span] for name, key in self.proprio.items()},
            images=images,
            source=str(record.data_file),
            meta={"episode_index": record.index, "task_index": task_index},
        )


def read_lerobot(
    root: Path,
    options: LeRobotConfig,
    *,
    views: dict[str, str] | None = None,
    image_size: tuple[int, int] | None = None,
) -> tuple[LeRobotLayout, list[Episode]]:
    """Every episode of a local LeRobot dataset folder, ordered by episode index."""
    layout = load_layout(root)
    convention = check_convention(options.image_convention)
    reader = _Reader(
        layout=layout,
        views=camera_views(layout.features, views, root / INFO),
        proprio=proprio_features(layout.features),
        action_key=action_feature(layout.features, root / INFO),
        finish=lambda raw: finish_images(raw, convention, rotated_180=options.rotated_180, size=image_size),
        image_size=image_size,
        tolerance_s=options.video_tolerance_s,
    )
    return layout, reader.episodes()


@register_format("lerobot", detect=lambda path: (path / INFO).exists())
def open_lerobot(cfg: DataConfig) -> EpisodeDataset:
    """``format: lerobot``: ``data.path`` (a local copy) or ``data.repo_id`` (downloaded with huggingface_hub)."""
    options: LeRobotConfig = getattr(cfg, "lerobot", None) or LeRobotConfig()
    if cfg.image_convention is not None:
        options = LeRobotConfig(**{**vars(options), "image_convention": cfg.image_convention})
    root = resolve_local_path(cfg)
    size = tuple(cfg.image_size) if cfg.image_size is not None else None
    layout, episodes = read_lerobot(root, options, views=cfg.views, image_size=size)
    episodes = select_episodes(episodes, cfg.tasks, cfg.max_episodes, "tasks of this dataset")
    used = {Path(ep.source) for ep in episodes} | {Path(f.path) for ep in episodes for f in ep.images.values()}
    read_options = {
        "format": "lerobot",
        "lerobot": vars(options),
        "views": cfg.views,
        "image_size": size,
        "tasks": cfg.tasks,
        "max_episodes": cfg.max_episodes,
    }
    fingerprint = fingerprint_files([*layout.meta_files, *sorted(used)], read_options)
    return EpisodeDataset(
        episodes=episodes,
        info=info_from_episodes(
            episodes,
            fps=layout.fps,
            roles=infer_roles(list(episodes[0].images), list(episodes[0].proprio)) if episodes else None,
            role_overrides=cfg.roles,
        ),
        fingerprint=fingerprint,
        source=cfg.repo_id if cfg.path is None and cfg.repo_id else str(root),
        cache_dir=default_cache_dir(cfg, root, fingerprint),
        meta={"codebase_version": layout.version, **read_options},
    )
