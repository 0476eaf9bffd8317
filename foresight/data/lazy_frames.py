"""Lazy per-frame arrays for readers whose frames live in many small files or in compressed video.

An :class:`~foresight.types.Episode` may hold array-likes instead of arrays; the windowing asks for a handful of
frames per sample (``arr[[t - 6, t, t + 6]]``), so a reader only has to implement "read these sorted, unique
frames". :class:`LazyFrames` does the rest: index forms (int, slice, integer arrays in any order with repeats),
bounds errors naming the source, ``np.asarray`` support. :func:`finish_images` is the one image post-processing
step (orientation via :func:`foresight.data.orientation.to_upright`, optional resize) shared by these readers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np
import torch
from torchvision.transforms.v2 import functional as TF

from foresight.data.orientation import to_upright


class LazyFrames(ABC):
    """A ``(T, ...)`` array read on demand; subclasses implement :meth:`_read`."""

    shape: tuple[int, ...]
    dtype: np.dtype
    source: str  # file or folder named in errors

    @abstractmethod
    def _read(self, frames: np.ndarray) -> np.ndarray:
        """Rows for ``frames``: sorted, unique, in-range int64 frame indices."""

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        rows = self[:]
        return rows if dtype is None else rows.astype(dtype)

    def __getitem__(self, index: Any) -> np.ndarray:
        if isinstance(index, int | np.integer):
            return self[np.array([index])][0]
        if isinstance(index, slice):
            wanted = np.arange(*index.indices(len(self)), dtype=np.int64)
        else:
            wanted = np.asarray(index, dtype=np.int64).reshape(-1)
        wanted = np.where(wanted < 0, wanted + len(self), wanted)
        if wanted.size and (wanted.min() < 0 or wanted.max() >= len(self)):
            raise IndexError(f"{self.source}: frames {np.asarray(index).tolist()} out of range for {len(self)} frames")
        if wanted.size == 0:
            return np.empty((0, *self.shape[1:]), dtype=self.dtype)
        unique, inverse = np.unique(wanted, return_inverse=True)
        return self._read(unique)[inverse]


class Columns(LazyFrames):
    """Columns ``start:stop`` of a lazy ``(T, D)`` vector (a named part of a packed state vector)."""

    def __init__(self, base: LazyFrames, start: int, stop: int) -> None:
        self.base = base
        self.start, self.stop = start, stop
        self.shape = (len(base), stop - start)
        self.dtype = base.dtype
        self.source = f"{base.source}[:, {start}:{stop}]"

    def _read(self, frames: np.ndarray) -> np.ndarray:
        return self.base[frames][:, self.start : self.stop]


def finish_images(
    raw: np.ndarray, convention: str, *, rotated_180: bool = False, size: tuple[int, int] | None = None
) -> np.ndarray:
    """Stored frames ``(N, H, W, 3)`` -> upright, resized, contiguous uint8 frames.

    ``rotated_180`` undoes a 180-degree rotation a converter applied on top of the camera's ``convention``
    (the LeRobot / OpenVLA LIBERO conversions store ``raw[::-1, ::-1]``), so the core's ``to_upright`` sees the
    camera's own frame and every reader agrees on what upright means.
    """
    frames = raw[:, ::-1, ::-1, :] if rotated_180 else raw
    frames = to_upright(frames, convention)
    if size is not None and tuple(frames.shape[1:3]) != tuple(size):
        chw = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
        frames = TF.resize(chw, list(size), antialias=True).permute(0, 2, 3, 1).numpy()
    return np.ascontiguousarray(frames)


def resized_shape(shape: tuple[int, ...], size: tuple[int, int] | None) -> tuple[int, ...]:
    """``(T, H, W, C)`` after an optional resize to ``size``."""
    if size is None:
        return tuple(int(n) for n in shape)
    return (int(shape[0]), int(size[0]), int(size[1]), int(shape[3]))
