"""Frozen-encoder feature cache: encode every frame and instruction once, train from memory-mapped features.

CLaD's vision-language encoder is frozen (clad-paper §4.1), so its outputs for a dataset never change during
training; reading them from disk instead of decoding and encoding pixels is the biggest speed lever of the library.

Layout under the cache root (``$FORESIGHT_CACHE/features``, default ``~/.cache/foresight/features``)::

    <encoder>-<key hash>/
        manifest.json        the key (encoder feature_id, dataset fingerprint, preprocessing), episode ids and
                             lengths, and per source its feature shape and whether it is complete
        <view>.npy           (total frames, ...) float32, episodes concatenated in dataset order (np.memmap)
        <view>.done.npy      (episodes,) bool: per-episode done markers, so an interrupted build resumes
        instruction.npy      (unique instructions, ...) float32, rows in manifest order
        lock                 flock'd while building, so concurrent trainer processes build it once

The directory name hashes the whole key, so a new encoder (its ``feature_id`` changes with weights and
preprocessing), a changed dataset (its fingerprint covers files and read options such as image size and
orientation) or other preprocessing lands in a new directory and is built afresh; the manifest repeats the key
and is checked on open. Features are of the frames as the dataset delivers them (upright, resized, never
augmented): a method that augments images must encode on the fly instead.

Command line::

    python -m foresight.data.cache encoder=minilm data=calvin_debug data.path=/data/calvin_debug_dataset \
        sources=[instruction] [encoder.<arg>=...] [device=cuda] [batch_size=256]

Teacher targets (depth, motion, SAM, DINO) are cached the same way by :mod:`foresight.teachers.cache`; the same
command builds them with ``teacher=NAME [teacher.<arg>=...]`` instead of ``encoder=`` (docs/teachers.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from foresight.config import ConfigError
from foresight.data.config import cache_root
from foresight.data.source import DataError, EpisodeDataset
from foresight.encoders import build_encoder
from foresight.fileio import atomic_write, write_json
from foresight.interfaces import Encoder
from foresight.types import DataSpec, FeatureSpec, feature_key

INSTRUCTION = "instruction"
MANIFEST = "manifest.json"
FORMAT_VERSION = 1  # bump when the on-disk layout changes
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def features_root() -> Path:
    """Default root of all feature caches: ``$FORESIGHT_CACHE/features`` or ``~/.cache/foresight/features``."""
    return cache_root() / "features"


def _atomic_save_npy(path: Path, array: np.ndarray) -> None:
    atomic_write(path, lambda tmp: np.save(tmp, array))


def _write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    write_json(directory / MANIFEST, manifest)


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    with (directory / "lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cache_key(ds: EpisodeDataset, spec: FeatureSpec, encoder: Encoder) -> dict[str, Any]:
    """Everything the cached values depend on; any change gives a new cache directory."""
    if not encoder.feature_id:
        raise DataError(
            f"encoder {spec.encoder!r} ({type(encoder).__name__}) has no feature_id, so its outputs cannot be cached; "
            "a frozen encoder must set one (model id + weights hash + preprocessing)"
        )
    return {
        "format_version": FORMAT_VERSION,
        "encoder": spec.encoder,
        "feature_id": encoder.feature_id,
        "dataset_fingerprint": ds.fingerprint,
        # Frames reach the encoder as the reader delivers them: upright (the orientation convention that got them
        # there is a read option, covered by the fingerprint), at these sizes, never augmented.
        "preprocessing": {
            "image_shapes": {view: list(shape) for view, shape in sorted(ds.info.image_shapes.items())},
            "orientation": "upright",
            "augmentation": None,
        },
    }


def cache_directory(key: Mapping[str, Any], root: Path) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    return root / f"{key['encoder']}-{digest}"


def _check_sources(ds: EpisodeDataset, spec: FeatureSpec) -> None:
    if not spec.sources:
        raise DataError(f"feature {spec.name!r} ({spec.encoder}) lists no sources; expected views and/or 'instruction'")
    views = sorted(ds.info.image_shapes)
    for source in spec.sources:
        if source != INSTRUCTION and source not in ds.info.image_shapes:
            raise DataError(
                f"feature {spec.name!r}: source {source!r} is not a view of {ds.describe_source()}; "
                f"expected one of {views} or {INSTRUCTION!r}"
            )
        if not _SAFE_NAME.match(source):
            raise DataError(f"feature {spec.name!r}: source name {source!r} must match {_SAFE_NAME.pattern}")


def _instructions(ds: EpisodeDataset) -> list[str]:
    return list(dict.fromkeys(ep.instruction for ep in ds.episodes))


def _new_manifest(key: dict[str, Any], ds: EpisodeDataset) -> dict[str, Any]:
    return {
        "key": key,
        "episodes": {"ids": [ep.episode_id for ep in ds.episodes], "lengths": [ep.length for ep in ds.episodes]},
        "sources": {},
        "instructions": _instructions(ds),
    }


def _open_manifest(directory: Path, key: dict[str, Any], ds: EpisodeDataset) -> dict[str, Any]:
    """The directory's manifest, or a fresh one (and an emptied directory) when it is absent or for another key."""
    path = directory / MANIFEST
    if path.exists():
        try:
            manifest = json.loads(path.read_text())
        except json.JSONDecodeError:
            manifest = None
        if manifest is not None and manifest.get("key") == key:
            return manifest
        for child in directory.iterdir():
            if child.name != "lock":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    manifest = _new_manifest(key, ds)
    _write_manifest(directory, manifest)
    return manifest


def _to_numpy(features: torch.Tensor) -> np.ndarray:
    return features.detach().to("cpu", torch.float32).numpy()


def _encode_images(encoder: Encoder, frames: np.ndarray, device: torch.device, source: str) -> np.ndarray:
    batch = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).to(device)
    try:
        return _to_numpy(encoder.encode_images(batch))
    except TypeError as exc:
        raise DataError(f"cannot cache features of view {source!r}: {exc}") from exc


def _build_view(
    directory: Path,
    manifest: dict[str, Any],
    ds: EpisodeDataset,
    encoder: Encoder,
    source: str,
    device: torch.device,
    batch_size: int,
    progress: bool,
) -> None:
    lengths = manifest["episodes"]["lengths"]
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    done_path, data_path = directory / f"{source}.done.npy", directory / f"{source}.npy"
    entry = manifest["sources"].get(source)
    done = np.load(done_path) if entry is not None and done_path.exists() else np.zeros(len(lengths), dtype=bool)
    todo = [i for i in range(len(lengths)) if not done[i] and lengths[i] > 0]
    data = np.load(data_path, mmap_mode="r+") if entry is not None and data_path.exists() else None
    bar = tqdm(
        total=int(sum(lengths[i] for i in todo)),
        desc=f"{manifest['key']['encoder']} {source}",
        unit="frame",
        disable=not progress,
    )
    for index in todo:
        frames = ds.episodes[index].images[source]
        for start in range(0, lengths[index], batch_size):
            stop = min(start + batch_size, lengths[index])
            features = _encode_images(encoder, frames[start:stop], device, source)
            if data is None:  # the feature shape is known only after the first batch
                entry = {"shape": list(features.shape[1:]), "dtype": "float32", "complete": False}
                data = np.lib.format.open_memmap(
                    data_path, mode="w+", dtype=np.float32, shape=(int(starts[-1]), *features.shape[1:])
                )
                manifest["sources"][source] = entry
                _write_manifest(directory, manifest)
            data[starts[index] + start : starts[index] + stop] = features
            bar.update(stop - start)
        data.flush()  # the features reach the file before the episode is marked done
        done[index] = True
        _atomic_save_npy(done_path, done)
    bar.close()
    if entry is None:  # no frames at all
        raise DataError(f"{ds.describe_source()}: view {source!r} has no frames to encode")
    entry["complete"] = True
    _write_manifest(directory, manifest)


def _build_instructions(directory: Path, manifest: dict[str, Any], encoder: Encoder) -> None:
    texts = manifest["instructions"]
    features = _to_numpy(encoder.encode_text(texts))
    if features.shape[0] != len(texts):
        raise DataError(
            f"encoder {manifest['key']['encoder']!r} returned {features.shape[0]} rows for {len(texts)} texts"
        )
    _atomic_save_npy(directory / f"{INSTRUCTION}.npy", features.astype(np.float32))
    manifest["sources"][INSTRUCTION] = {"shape": list(features.shape[1:]), "dtype": "float32", "complete": True}
    _write_manifest(directory, manifest)


def ensure_feature_cache(
    ds: EpisodeDataset,
    feature_spec: FeatureSpec,
    device: str | torch.device = "cpu",
    batch_size: int = 64,
    *,
    encoder: Encoder | None = None,
    root: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> FeatureCache:
    """The cache of ``feature_spec``'s encoder over ``ds``, building whatever sources are missing or incomplete.

    ``encoder`` reuses an already-built instance (it must be the one ``feature_spec`` names); otherwise it is built
    from the registry. Safe to call from several processes at once: builders take a file lock, and later calls
    find complete sources and encode nothing.
    """
    _check_sources(ds, feature_spec)
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if encoder is None:
        encoder = build_encoder(feature_spec.encoder, **dict(feature_spec.kwargs))
    key = cache_key(ds, feature_spec, encoder)
    directory = cache_directory(key, Path(root) if root is not None else features_root())
    directory.mkdir(parents=True, exist_ok=True)
    device = torch.device(device)
    with _locked(directory):
        manifest = _open_manifest(directory, key, ds)
        pending = []
        for source in feature_spec.sources:
            entry = manifest["sources"].get(source)
            if entry is not None and not (directory / f"{source}.npy").exists():
                manifest["sources"].pop(source)  # its data file was deleted: start that source afresh
                entry = None
            if entry is None or not entry["complete"]:
                pending.append(source)
        if pending:
            was_training = encoder.training
            encoder.eval().to(device)
            try:
                with torch.inference_mode():
                    for source in pending:
                        if source == INSTRUCTION:
                            _build_instructions(directory, manifest, encoder)
                        else:
                            _build_view(directory, manifest, ds, encoder, source, device, batch_size, progress)
            finally:
                encoder.train(was_training)
    return FeatureCache(directory)


class FeatureCache:
    """Read access to one complete cache directory; cheap to pickle into DataLoader workers.

    Memory maps are opened lazily in each process (a map inherited through ``fork`` is reopened), so a worker
    touches only the pages its samples need.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        path = self.directory / MANIFEST
        if not path.exists():
            raise DataError(f"{path} is missing: {self.directory} is not a feature cache")
        self.manifest = json.loads(path.read_text())
        lengths = np.asarray(self.manifest["episodes"]["lengths"], dtype=np.int64)
        self.lengths = lengths
        self.starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        texts = self.manifest["instructions"]
        self._instruction_row = {text: i for i, text in enumerate(texts)}
        self._episode_instruction: list[str] | None = None
        self._arrays: dict[str, np.ndarray] = {}
        self._pid = os.getpid()

    @property
    def key(self) -> dict[str, Any]:
        return self.manifest["key"]

    @property
    def sources(self) -> list[str]:
        """Complete sources, in the order they were built."""
        return [s for s, entry in self.manifest["sources"].items() if entry.get("complete")]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_arrays"] = {}
        return state

    def _array(self, source: str) -> np.ndarray:
        if self._pid != os.getpid():
            self._arrays, self._pid = {}, os.getpid()
        if source not in self._arrays:
            if source not in self.sources:
                raise KeyError(
                    f"feature cache {self.directory} has no complete source {source!r}; it has {self.sources}"
                )
            self._arrays[source] = np.load(self.directory / f"{source}.npy", mmap_mode="r")
        return self._arrays[source]

    def lookup(self, episode_index: int, frame_indices: Sequence[int] | np.ndarray, source: str) -> np.ndarray:
        """``(len(frame_indices), ...)`` features of frames of one episode (indices into the dataset's episodes)."""
        if source == INSTRUCTION:
            raise KeyError(f"use FeatureCache.instruction(episode_index) for the {INSTRUCTION!r} source")
        if not 0 <= episode_index < len(self.lengths):
            raise IndexError(f"episode {episode_index} out of range for a cache of {len(self.lengths)} episodes")
        frames = np.asarray(frame_indices, dtype=np.int64)
        length = int(self.lengths[episode_index])
        if frames.size and (frames.min() < 0 or frames.max() >= length):
            raise IndexError(f"frames {frames.tolist()} out of range for episode {episode_index} of length {length}")
        return np.array(self._array(source)[self.starts[episode_index] + frames])

    def instruction_embedding(self, text: str) -> np.ndarray:
        """The cached embedding of one of the dataset's instructions."""
        if text not in self._instruction_row:
            raise KeyError(f"instruction {text!r} is not in feature cache {self.directory}")
        return np.array(self._array(INSTRUCTION)[self._instruction_row[text]])

    def bind(self, ds: EpisodeDataset) -> FeatureCache:
        """Check ``ds`` is the dataset this cache was built from and remember its episodes' instructions."""
        ids = [ep.episode_id for ep in ds.episodes]
        if ids != self.manifest["episodes"]["ids"] or ds.fingerprint != self.key["dataset_fingerprint"]:
            raise DataError(f"feature cache {self.directory} was built for another dataset than {ds.describe_source()}")
        self._episode_instruction = [ep.instruction for ep in ds.episodes]
        return self

    def instruction(self, episode_index: int) -> np.ndarray:
        """The instruction embedding of one episode (after :meth:`bind`)."""
        if self._episode_instruction is None:
            raise RuntimeError("call FeatureCache.bind(dataset) before instruction(episode_index)")
        return self.instruction_embedding(self._episode_instruction[episode_index])


class CachedFeatures:
    """A :data:`foresight.data.windows.SampleExtra` adding ``features.<name>.<source>`` keys from a cache.

    Views get ``(O, ...)`` features at the sample's observation frames, which :class:`WindowDataset` has already
    clamped to the episode (so padding matches the pixels path exactly); the instruction gets ``(...)``.
    """

    def __init__(self, cache: FeatureCache, spec: FeatureSpec) -> None:
        self.cache = cache
        self.name = spec.name
        self.sources = tuple(spec.sources)

    def __call__(self, episode_index: int, obs_frames: np.ndarray) -> dict[str, torch.Tensor]:
        out = {}
        for source in self.sources:
            if source == INSTRUCTION:
                value = self.cache.instruction(episode_index)
            else:
                value = self.cache.lookup(episode_index, obs_frames, source)
            out[feature_key(self.name, source)] = torch.from_numpy(value)
        return out


def feature_extras(
    ds: EpisodeDataset,
    spec: DataSpec,
    device: str | torch.device = "cpu",
    batch_size: int = 64,
    *,
    root: str | os.PathLike[str] | None = None,
    encoders: Mapping[str, Encoder] | None = None,
    progress: bool = True,
) -> list[CachedFeatures]:
    """Build (or reuse) the caches of every feature ``spec`` declares; pass the result as ``WindowDataset(extras=)``.

    ``encoders`` maps feature names to already-built encoder instances (e.g. the method's own frozen encoder).
    With ``spec.load_pixels=False`` the window dataset then decodes no images at all.
    """
    extras = []
    for feature in spec.features:
        encoder = (encoders or {}).get(feature.name)
        cache = ensure_feature_cache(ds, feature, device, batch_size, encoder=encoder, root=root, progress=progress)
        extras.append(CachedFeatures(cache.bind(ds), feature))
    return extras


@dataclass
class CacheCommandConfig:
    """Options of ``foresight data cache encoder=NAME`` besides ``data=...`` and ``encoder.<arg>=...``."""

    sources: list[str] | None = None  # views and/or "instruction"; null: every view plus the instruction
    device: str = "cpu"  # where the encoder runs
    batch_size: int = 64  # frames per encoder call
    root: str | None = None  # cache folder; null: next to the dataset (data.cache_dir)
    name: str | None = None  # feature name; null: the encoder's name


def resolved(args: list[str]) -> dict[str, Any]:
    if _is_teacher(args):
        from foresight.teachers.cache import resolved as teacher_resolved

        return teacher_resolved(args)
    encoder, kwargs, options, data = _command(args)
    return {"encoder": encoder, "encoder_kwargs": kwargs, "options": options, "data": data}


def _is_teacher(args: list[str]) -> bool:
    """``teacher=NAME`` selects the teacher-target cache (:mod:`foresight.teachers.cache`) instead."""
    return any(a.lstrip("+").split("=", 1)[0].split(".")[0] == "teacher" for a in args)


def _command(args: list[str]) -> tuple[str, dict[str, Any], CacheCommandConfig, Any]:
    from foresight import cli
    from foresight.data.config import load_data_config

    encoder, kwargs, rest = cli.plugin_args(args, "encoder")
    sections, rest = cli.split_args(rest, "data")
    options = cli.parse_options(rest, CacheCommandConfig, "cache")
    if encoder is None:
        raise ConfigError("missing encoder=NAME (see foresight.encoders.available_encoders()) or teacher=NAME")
    return encoder, kwargs, options, load_data_config(sections["data"])


def run(args: list[str]) -> int:
    """Build (or find complete) the cache of one encoder's features for the dataset ``data=`` describes."""
    from foresight.data.source import open_dataset

    if _is_teacher(args):
        from foresight.teachers.cache import run as teacher_run

        return teacher_run(args)
    encoder, encoder_kwargs, options, data = _command(args)
    ds = open_dataset(data)
    sources = options.sources or [*sorted(ds.info.image_shapes), INSTRUCTION]
    spec = FeatureSpec(
        name=options.name or encoder,
        encoder=encoder,
        sources=tuple(sources),
        kwargs=tuple(sorted(encoder_kwargs.items())),
    )
    cache = ensure_feature_cache(ds, spec, options.device, options.batch_size, root=options.root)
    frames = int(cache.lengths.sum())
    print(f"feature cache {cache.directory}: {len(cache.lengths)} episodes, {frames} frames, sources {cache.sources}")
    for source in cache.sources:
        print(f"  {source}: {cache.manifest['sources'][source]['shape']} float32")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from foresight import cli

    return cli.main("data cache", argv)


if __name__ == "__main__":
    sys.exit(main())
