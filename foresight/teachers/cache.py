"""Teacher targets in the feature cache: computed once per (teacher, dataset), whole episodes at a time.

Layout under ``$FORESIGHT_CACHE/targets`` (same files as :mod:`foresight.data.cache`, read by its
:class:`~foresight.data.cache.FeatureCache`)::

    <teacher>-<key hash>/
        manifest.json      key (teacher_id, dataset fingerprint, frame shapes), episodes, per source shape + dtype
        <view>.npy         (total frames, ...) in the teacher's storage dtype (float16, uint8), episodes concatenated
        <view>.done.npy    per-episode done markers: an interrupted build resumes at the first unfinished episode
        lock               flock'd while building

A source is marked complete in the manifest only after its last episode is written, so a build that stops early
(Ctrl-C, a crash, a full disk) never looks complete. Before anything is written, the size on disk is estimated
from one dry run of the teacher and printed; a build that would leave less than ``min_free_bytes`` free refuses.

Command line (also ``python -m foresight.data.cache teacher=...``)::

    python -m foresight.teachers.cache teacher=depth_anything teacher.path=/models/depth-anything-v2-small \\
        teacher.resolution=[56,56] data=libero_object [sources=[agentview]] [device=cuda] [batch_size=64] \\
        [min_free_gb=5]

``device`` defaults to CUDA when there is one; frames are batched there (``batch_size`` frames of one episode).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from foresight.config import ConfigError
from foresight.data.cache import FeatureCache, _atomic_save_npy, _locked, _open_manifest, _write_manifest
from foresight.data.config import cache_root
from foresight.data.source import DataError, EpisodeDataset
from foresight.teachers.base import Teacher, TeacherError, teacher_outputs
from foresight.teachers.registry import build_teacher
from foresight.types import DataSpec, TeacherSpec, target_key

FORMAT_VERSION = 1
DEFAULT_MIN_FREE_BYTES = 2 * 1024**3  # keep this much disk free for checkpoints, logs and the OS


def targets_root() -> Path:
    """Default root of all teacher caches: ``$FORESIGHT_CACHE/targets``."""
    return cache_root() / "targets"


def human_bytes(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    raise AssertionError("unreachable")


def teacher_cache_key(ds: EpisodeDataset, spec: TeacherSpec, teacher: Teacher) -> dict[str, Any]:
    """Everything the cached targets depend on; any change gives a new cache directory."""
    if not getattr(teacher, "teacher_id", None):
        raise TeacherError(f"teacher {spec.teacher!r} has no teacher_id, so its outputs cannot be cached")
    return {
        "format_version": FORMAT_VERSION,
        "teacher": spec.teacher,
        "teacher_id": teacher.teacher_id,
        "dataset_fingerprint": ds.fingerprint,
        "preprocessing": {
            "image_shapes": {view: list(shape) for view, shape in sorted(ds.info.image_shapes.items())},
            "orientation": "upright",
            "augmentation": None,
        },
    }


def teacher_directory(key: dict[str, Any], root: Path) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    return root / f"{key['teacher']}-{digest}"


def _check_sources(ds: EpisodeDataset, spec: TeacherSpec) -> None:
    if not spec.sources:
        raise DataError(f"teacher target {spec.name!r} ({spec.teacher}) lists no sources; expected view names")
    for source in spec.sources:
        if source not in ds.info.image_shapes:
            raise DataError(
                f"teacher target {spec.name!r}: source {source!r} is not a view of {ds.describe_source()}; "
                f"expected one of {sorted(ds.info.image_shapes)}"
            )


def _row_layout(teacher: Teacher, ds: EpisodeDataset, source: str, batch_size: int) -> tuple[tuple[int, ...], str]:
    """Shape and dtype of one frame's target, from a dry run on the first frames (also surfaces input errors)."""
    episode = next((ep for ep in ds.episodes if ep.length > 0), None)
    if episode is None:
        raise DataError(f"{ds.describe_source()}: no frames to compute teacher targets of")
    inputs = teacher.read(episode, source)[: 2 if teacher.per_episode else 1]
    row = teacher_outputs(teacher, inputs, batch_size)
    return tuple(row.shape[1:]), str(row.dtype)


def _free_bytes(root: Path) -> int:
    probe = root
    while not probe.exists():
        probe = probe.parent
    return shutil.disk_usage(probe).free


def _done(directory: Path, manifest: dict[str, Any] | None, source: str, episodes: int) -> np.ndarray:
    path = directory / f"{source}.done.npy"
    if manifest is not None and source in manifest["sources"] and path.exists():
        return np.load(path)
    return np.zeros(episodes, dtype=bool)


def _existing_manifest(directory: Path, key: dict[str, Any]) -> dict[str, Any] | None:
    try:
        manifest = json.loads((directory / "manifest.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return manifest if manifest.get("key") == key else None


def _pending(directory: Path, manifest: dict[str, Any] | None, sources: Sequence[str]) -> list[str]:
    if manifest is None:
        return list(sources)
    return [
        s for s in sources if not (manifest["sources"].get(s, {}).get("complete") and (directory / f"{s}.npy").exists())
    ]


def ensure_teacher_cache(
    ds: EpisodeDataset,
    spec: TeacherSpec,
    device: str | torch.device = "cpu",
    batch_size: int = 32,
    *,
    teacher: Teacher | None = None,
    root: str | os.PathLike[str] | None = None,
    progress: bool = True,
    min_free_bytes: int = DEFAULT_MIN_FREE_BYTES,
    log: Callable[[str], None] = print,
) -> FeatureCache:
    """The cache of ``spec``'s teacher over ``ds``, computing whatever sources are missing or unfinished.

    Per-frame teachers run on batches of ``batch_size`` frames of one episode; per-episode (motion) teachers get
    each whole episode. Safe to call from several processes: the build holds a file lock, and a later call finds
    complete sources and computes nothing.
    """
    _check_sources(ds, spec)
    if teacher is None:
        teacher = build_teacher(spec.teacher, **dict(spec.kwargs))
    teacher.eval().to(torch.device(device))
    key = teacher_cache_key(ds, spec, teacher)
    directory = teacher_directory(key, Path(root) if root is not None else targets_root())
    pending = _pending(directory, _existing_manifest(directory, key), spec.sources)
    if not pending:
        return FeatureCache(directory)

    lengths = np.asarray([ep.length for ep in ds.episodes], dtype=np.int64)
    layouts = {source: _row_layout(teacher, ds, source, batch_size) for source in pending}
    needed = _report_size(spec, ds, directory, key, layouts, lengths, log)
    free = _free_bytes(directory.parent)
    if free - needed < min_free_bytes:
        raise TeacherError(
            f"refusing to build teacher {spec.teacher!r} targets: they need {human_bytes(needed)} on disk and "
            f"would leave {human_bytes(free - needed)} free under {directory.parent}, below the safe margin of "
            f"{human_bytes(min_free_bytes)}. Options: pool to a coarser grid or lower resolution (teacher.pool=, "
            "teacher.resolution=, teacher.grid=), a smaller model variant, fewer sources (sources=[...]), a bigger "
            "disk (FORESIGHT_CACHE=/path), or a smaller margin (min_free_gb=)"
        )
    directory.mkdir(parents=True, exist_ok=True)
    with _locked(directory), torch.inference_mode():
        manifest = _open_manifest(directory, key, ds)
        for source in _pending(directory, manifest, spec.sources):
            # a source complete before the lock may have been reset since (its manifest replaced): size it now
            layout = layouts.get(source) or _row_layout(teacher, ds, source, batch_size)
            _build_source(directory, manifest, ds, teacher, source, layout, batch_size, progress)
    return FeatureCache(directory)


def _report_size(
    spec: TeacherSpec,
    ds: EpisodeDataset,
    directory: Path,
    key: dict[str, Any],
    layouts: dict[str, tuple[tuple[int, ...], str]],
    lengths: np.ndarray,
    log: Callable[[str], None],
) -> int:
    """Print the estimated size of the pending sources and return the bytes still to write."""
    existing = _existing_manifest(directory, key)
    needed = 0
    lines = []
    for source, (shape, dtype) in layouts.items():
        per_frame = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        done = _done(directory, existing, source, len(lengths))
        remaining = int(lengths[~done].sum()) * per_frame
        needed += remaining
        lines.append(
            f"  {source}: {list(shape)} {dtype}, {human_bytes(per_frame)}/frame x {int(lengths.sum())} frames = "
            f"{human_bytes(per_frame * int(lengths.sum()))} ({human_bytes(remaining)} still to compute)"
        )
    log(f"teacher {spec.teacher!r} ({key['teacher_id']}) over {ds.describe_source()} -> {directory}")
    for line in lines:
        log(line)
    return needed


def _build_source(
    directory: Path,
    manifest: dict[str, Any],
    ds: EpisodeDataset,
    teacher: Teacher,
    source: str,
    layout: tuple[tuple[int, ...], str],
    batch_size: int,
    progress: bool,
) -> None:
    lengths = manifest["episodes"]["lengths"]
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    data_path, done_path = directory / f"{source}.npy", directory / f"{source}.done.npy"
    shape, dtype = layout
    if source in manifest["sources"] and data_path.exists():  # resume an unfinished build
        done = _done(directory, manifest, source, len(lengths))
        data = np.load(data_path, mmap_mode="r+")
    else:  # start afresh (also when the data file was deleted: its done markers no longer hold)
        done = np.zeros(len(lengths), dtype=bool)
        data = np.lib.format.open_memmap(data_path, mode="w+", dtype=dtype, shape=(int(starts[-1]), *shape))
        manifest["sources"][source] = {"shape": list(shape), "dtype": dtype, "complete": False}
        _write_manifest(directory, manifest)
    todo = [i for i in range(len(lengths)) if not done[i] and lengths[i] > 0]
    bar = tqdm(
        total=int(sum(lengths[i] for i in todo)), desc=f"{teacher.name} {source}", unit="frame", disable=not progress
    )
    for index in todo:
        out = teacher_outputs(teacher, teacher.read(ds.episodes[index], source), batch_size)
        if out.shape != (lengths[index], *shape) or str(out.dtype) != dtype:
            raise TeacherError(
                f"teacher {teacher.name!r} returned {out.dtype} {out.shape} for episode {index} of {lengths[index]} "
                f"frames; expected {dtype} {(lengths[index], *shape)}"
            )
        data[starts[index] : starts[index + 1]] = out
        data.flush()  # the values reach the file before the episode is marked done
        done[index] = True
        _atomic_save_npy(done_path, done)
        bar.update(int(lengths[index]))
    bar.close()
    manifest["sources"][source]["complete"] = True
    _write_manifest(directory, manifest)


class CachedTargets:
    """A :data:`foresight.data.windows.SampleExtra` adding ``targets.<name>.<source>`` ``(K, ...)`` from a cache.

    The K frames are the sample's observation frames at the spec's target offsets, already clamped to the episode
    by :class:`~foresight.data.windows.WindowDataset` (``observation.is_pad`` flags clamped ones).
    """

    def __init__(self, cache: FeatureCache, spec: TeacherSpec, obs_offsets: Sequence[int]) -> None:
        self.cache = cache
        self.name = spec.name
        self.sources = tuple(spec.sources)
        self.positions = np.asarray([list(obs_offsets).index(o) for o in spec.offsets], dtype=np.int64)

    def __call__(self, episode_index: int, obs_frames: np.ndarray) -> dict[str, torch.Tensor]:
        frames = np.asarray(obs_frames)[self.positions]
        lookup = self.cache.lookup
        return {target_key(self.name, s): torch.from_numpy(lookup(episode_index, frames, s)) for s in self.sources}


def target_extras(
    ds: EpisodeDataset,
    spec: DataSpec,
    device: str | torch.device = "cpu",
    batch_size: int = 32,
    *,
    root: str | os.PathLike[str] | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> list[CachedTargets]:
    """Build (or reuse) the caches of every teacher target ``spec`` declares; pass as ``WindowDataset(extras=)``."""
    extras = []
    for target in spec.targets:
        cache = ensure_teacher_cache(ds, target, device, batch_size, root=root, progress=progress, log=log)
        extras.append(CachedTargets(cache.bind(ds), target, spec.obs_offsets))
    return extras


@dataclass
class TeacherCacheConfig:
    """Options of ``foresight data cache teacher=NAME`` besides ``data=...`` and ``teacher.<arg>=...``."""

    sources: list[str] | None = None  # views; null: every view of the dataset
    device: str | None = None  # null: cuda when there is one, else cpu
    batch_size: int = 32  # frames per teacher call
    root: str | None = None  # cache folder; null: $FORESIGHT_CACHE/targets
    name: str | None = None  # target name; null: the teacher's name
    min_free_gb: float = DEFAULT_MIN_FREE_BYTES / 1024**3  # refuse a build that would leave less free disk


def _command(args: list[str]) -> tuple[str, dict[str, Any], TeacherCacheConfig, Any]:
    from foresight import cli
    from foresight.data.config import load_data_config

    name, kwargs, rest = cli.plugin_args(args, "teacher")
    sections, rest = cli.split_args(rest, "data")
    options = cli.parse_options(rest, TeacherCacheConfig, "cache")
    if name is None:
        raise ConfigError("missing teacher=NAME (see foresight.teachers.available_teachers())")
    return name, kwargs, options, load_data_config(sections["data"])


def resolved(args: list[str]) -> dict[str, Any]:
    name, kwargs, options, data = _command(args)
    return {"teacher": name, "teacher_kwargs": kwargs, "options": options, "data": data}


def run(args: list[str]) -> int:
    """Build (or find complete) one teacher's targets for the dataset ``data=`` describes."""
    from foresight.data.source import open_dataset

    name, kwargs, options, data = _command(args)
    teacher = build_teacher(name, **kwargs)  # a bad path or size fails before the data is opened
    ds = open_dataset(data)
    spec = TeacherSpec(
        name=options.name or name,
        teacher=name,
        sources=tuple(options.sources or sorted(ds.info.image_shapes)),
        offsets=(0,),
        kwargs=tuple(sorted(kwargs.items())),
    )
    cache = ensure_teacher_cache(
        ds,
        spec,
        options.device or ("cuda" if torch.cuda.is_available() else "cpu"),
        options.batch_size,
        teacher=teacher,
        root=options.root,
        min_free_bytes=int(options.min_free_gb * 1024**3),
    )
    print(f"teacher cache {cache.directory}: {len(cache.lengths)} episodes, {int(cache.lengths.sum())} frames")
    if teacher.licence:
        print(f"  weights licence ({teacher.name}): {teacher.licence}")
    for source in cache.sources:
        entry = cache.manifest["sources"][source]
        print(f"  {source}: {entry['shape']} {entry['dtype']}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from foresight import cli

    return cli.main("data cache", argv)


if __name__ == "__main__":
    sys.exit(main())
