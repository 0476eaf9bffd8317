"""Per-key normalisation statistics: computed once per dataset, cached, saved with checkpoints, inverted at evaluation.

Modes (a method picks one per key in ``DataSpec.normalization``):

``min_max``   ``y = 2 (x - min) / (max - min) - 1``, so the data spans ``[-1, 1]`` (the Diffusion Policy / LBP
              convention; diffusion heads clip samples to that range).
``mean_std``  ``y = (x - mean) / std``.
``identity``  ``y = x``.

A dimension that never changes (zero range, zero std: LIBERO's unused rotation axes in simple tasks) maps to 0
and back to its constant exactly, instead of dividing by zero.

``observation.state`` is the concatenation of the DataSpec's proprio keys in the spec's order, so its
statistics depend on those keys; the cache file name includes them.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from foresight.data.source import DataError, EpisodeDataset
from foresight.fileio import atomic_write
from foresight.types import ACTION, NORMALIZATION_MODES, STATE, DataSpec, Episode

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)
STATS = ("min", "max", "mean", "std")
_FORMAT = "foresight.normalizer/1"


def key_values(episode: Episode, key: str, proprio_keys: Sequence[str], *, check: bool = True) -> np.ndarray:
    """All frames of ``key`` (``action`` or ``observation.state``) in one episode, ``(T, dim)`` float64.

    With ``check`` a NaN or infinity is a :class:`DataError` naming the file, episode and key: left in, it would
    turn the statistics and then the first loss into NaN, which looks like a learning-rate problem.
    """
    if key == ACTION:
        values = np.asarray(episode.actions[:], dtype=np.float64)
        if check:
            check_finite(values, episode, "actions")
        return values
    if key == STATE:
        parts = [np.asarray(episode.proprio[k][:], dtype=np.float64) for k in proprio_keys]
        if check:
            for name, part in zip(proprio_keys, parts, strict=True):
                check_finite(part, episode, f"proprio {name!r}")
        return np.concatenate(parts, axis=-1)
    raise KeyError(f"no statistics for key {key!r}: normalisable keys are {ACTION!r} and {STATE!r}")


def nonfinite(values: np.ndarray) -> tuple[int, int, int] | None:
    """``(first frame, its first dimension, count)`` of the NaN / infinite entries of a ``(T, dim)`` array."""
    bad = ~np.isfinite(values.reshape(len(values), -1))
    if not bad.any():
        return None
    frame, dim = (int(i) for i in np.argwhere(bad)[0])
    return frame, dim, int(bad.sum())


def describe_nonfinite(episode: Episode, what: str, found: tuple[int, int, int]) -> str:
    frame, dim, count = found
    return (
        f"{episode.source or 'dataset'}: episode {episode.episode_id}, {what}: {count} non-finite value(s) "
        f"(NaN or inf), first at frame {frame}, dimension {dim}"
    )


def check_finite(values: np.ndarray, episode: Episode, what: str) -> None:
    found = nonfinite(values)
    if found is not None:
        raise DataError(
            f"{describe_nonfinite(episode, what, found)}; fix or leave out that episode "
            f"(python -m foresight.data.inspect lists every such episode)"
        )


def compute_stats(values: np.ndarray) -> dict[str, np.ndarray]:
    """min, max, mean and (population) std over the leading axis, as float32."""
    return {
        "min": values.min(axis=0).astype(np.float32),
        "max": values.max(axis=0).astype(np.float32),
        "mean": values.mean(axis=0).astype(np.float32),
        "std": values.std(axis=0).astype(np.float32),
    }


class Normalizer:
    """Normalises and un-normalises named arrays (NumPy or torch) with stored per-dimension statistics."""

    def __init__(self, modes: Mapping[str, str], stats: Mapping[str, Mapping[str, Any]]) -> None:
        self.modes = dict(modes)
        self.stats: dict[str, dict[str, np.ndarray]] = {}
        for key, mode in self.modes.items():
            if mode not in NORMALIZATION_MODES:
                raise ValueError(f"normalization mode {mode!r} for {key!r}: expected one of {NORMALIZATION_MODES}")
            if mode == "identity":
                continue
            if key not in stats:
                raise ValueError(f"normalizer needs statistics for {key!r} (mode {mode!r}); it has {sorted(stats)}")
        for key, values in stats.items():
            missing = [s for s in STATS if s not in values]
            if missing:
                raise ValueError(f"statistics of {key!r} lack {missing}")
            self.stats[key] = {s: np.asarray(_to_numpy(values[s]), dtype=np.float32) for s in STATS}

    # --- construction -------------------------------------------------------------------------------------------

    @classmethod
    def from_dataset(
        cls,
        dataset: EpisodeDataset,
        spec: DataSpec,
        *,
        episode_indices: Sequence[int] | None = None,
        cache: bool = True,
    ) -> Normalizer:
        """Statistics of ``dataset`` for the keys ``spec.normalization`` names, over all (or the given) episodes.

        ``observation.state`` is skipped when the spec reads no proprio keys. With ``cache`` the result is
        stored in ``dataset.cache_dir`` under a name derived from the dataset fingerprint, the keys, the proprio
        keys and the episodes, and read from there next time.
        """
        modes = {k: m for k, m in spec.normalization.items() if k != STATE or spec.proprio_keys}
        if STATE in modes:
            dataset.info.proprio_dim(spec.proprio_keys)  # raises a KeyError naming the available keys
        episodes = list(range(len(dataset.episodes))) if episode_indices is None else sorted(episode_indices)
        ident = json.dumps(
            {"fp": dataset.fingerprint, "modes": modes, "proprio": list(spec.proprio_keys), "episodes": episodes},
            sort_keys=True,
        )
        path = Path(dataset.cache_dir) / f"stats-{hashlib.sha256(ident.encode()).hexdigest()[:20]}.safetensors"
        if cache and path.exists():
            return cls.load(path)
        stats = {}
        for key, mode in modes.items():
            if mode == "identity":
                continue
            values = np.concatenate([key_values(dataset.episodes[i], key, spec.proprio_keys) for i in episodes])
            stats[key] = compute_stats(values)
        normalizer = cls(modes, stats)
        if cache:
            try:
                normalizer.save(path)
            except OSError as exc:
                warnings.warn(f"could not cache normalisation statistics at {path}: {exc}", stacklevel=2)
        return normalizer

    # --- application --------------------------------------------------------------------------------------------

    def normalize(self, key: str, x: ArrayT) -> ArrayT:
        """Raw -> normalised; statistics broadcast over all leading dimensions of ``x``."""
        mode = self.mode(key)
        if mode == "identity":
            return x
        if mode == "min_max":
            lo, hi = self._stat(key, "min", x), self._stat(key, "max", x)
            span = hi - lo
            ok = span > 0
            return _where(ok, 2 * (x - lo) / _where(ok, span, 1) - 1, 0 * x)
        mean, std = self._stat(key, "mean", x), self._stat(key, "std", x)
        ok = std > 0
        return _where(ok, (x - mean) / _where(ok, std, 1), 0 * x)

    def unnormalize(self, key: str, y: ArrayT) -> ArrayT:
        """Normalised -> raw (exact inverse of :meth:`normalize` up to float rounding; exact on constant dims)."""
        mode = self.mode(key)
        if mode == "identity":
            return y
        if mode == "min_max":
            lo, hi = self._stat(key, "min", y), self._stat(key, "max", y)
            span = hi - lo
            return _where(span > 0, (y + 1) / 2 * span + lo, lo + 0 * y)
        mean, std = self._stat(key, "mean", y), self._stat(key, "std", y)
        return _where(std > 0, y * std + mean, mean + 0 * y)

    def mode(self, key: str) -> str:
        """The mode of ``key``; a KeyError naming the known keys if it has none."""
        if key not in self.modes:
            raise KeyError(f"normalizer has no key {key!r}; it normalises {sorted(self.modes)}")
        return self.modes[key]

    def _stat(self, key: str, name: str, like: ArrayT) -> ArrayT:
        value = self.stats[key][name]
        if like.shape[-1:] != value.shape:
            raise ValueError(f"{key!r} has last dimension {like.shape[-1:]}, but its statistics have {value.shape}")
        if isinstance(like, torch.Tensor):
            return torch.as_tensor(value, dtype=like.dtype, device=like.device)
        return value.astype(like.dtype, copy=False)

    # --- persistence ---------------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """``{"modes": {key: mode}, "stats": {"<key>.<stat>": float32 tensor}}``: round-trips exactly."""
        tensors = {f"{k}.{s}": torch.from_numpy(v[s].copy()) for k, v in self.stats.items() for s in STATS}
        return {"modes": dict(self.modes), "stats": tensors}

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> Normalizer:
        stats: dict[str, dict[str, Any]] = {}
        for name, value in state["stats"].items():
            key, _, stat = name.rpartition(".")
            stats.setdefault(key, {})[stat] = value
        return cls(state["modes"], stats)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """One safetensors file: the statistics as tensors, the modes in the header. Written atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        state = self.state_dict()
        metadata = {"format": _FORMAT, "modes": json.dumps(state["modes"])}
        return atomic_write(path, lambda tmp: save_file(state["stats"], str(tmp), metadata=metadata))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Normalizer:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            if metadata.get("format") != _FORMAT:
                raise ValueError(
                    f"{path} is not a foresight normalizer file (header format {metadata.get('format')!r})"
                )
            stats = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
        return cls.from_state_dict({"modes": json.loads(metadata["modes"]), "stats": stats})

    def __repr__(self) -> str:
        return f"Normalizer(modes={self.modes})"


def _to_numpy(value: Any) -> np.ndarray:
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def _where(condition: Any, a: Any, b: Any) -> Any:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return torch.where(torch.as_tensor(condition), a, b)
    return np.where(condition, a, b)
