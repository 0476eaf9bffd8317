"""Frames read from HDF5 on demand, safely across DataLoader worker processes.

h5py file handles must not cross a ``fork``: a handle opened in the parent and used in a worker can return
corrupt data. :class:`H5Frames` holds only the file path and key; each process opens its own handle on first read
(the cache is keyed by process id) and keeps it open for the following reads.
"""

from __future__ import annotations

import os
from typing import Any

import h5py
import numpy as np
import torch
from torchvision.transforms.v2 import functional as TF

from foresight.data.orientation import check_convention, to_upright

_handles: dict[str, h5py.File] = {}
_handles_pid: int | None = None
_inherited: list[dict[str, h5py.File]] = []  # parent's handles after a fork: kept referenced, never used or closed


def open_h5(path: str) -> h5py.File:
    """This process's read-only handle on ``path`` (opened once per process)."""
    global _handles, _handles_pid
    if _handles_pid != os.getpid():
        if _handles:
            _inherited.append(_handles)
        _handles, _handles_pid = {}, os.getpid()
    handle = _handles.get(path)
    if handle is None:
        handle = h5py.File(path, "r", locking=False)
        _handles[path] = handle
    return handle


class H5Frames:
    """A lazy ``(T, H, W, 3)`` uint8 image stack: upright, optionally resized, read per index.

    Supports ``frames[i]``, ``frames[a:b]`` and ``frames[int_array]`` (any order, repeats allowed, as the
    windowing at episode ends produces); ``np.asarray(frames)`` reads everything.
    """

    dtype = np.dtype(np.uint8)

    def __init__(
        self,
        path: str,
        key: str,
        shape: tuple[int, ...],
        convention: str,
        size: tuple[int, int] | None = None,
        frames: np.ndarray | None = None,
    ) -> None:
        if len(shape) != 4:
            raise ValueError(f"{path}: {key} has shape {shape}, expected (T, H, W, 3) images")
        self.path = path
        self.key = key
        self.convention = check_convention(convention)
        self.size = tuple(size) if size is not None else None
        height, width = self.size if self.size is not None else shape[1:3]
        # ``frames``: the stored frames this stack shows, in order (e.g. without no-op steps); None shows all.
        self.frames = None if frames is None else np.asarray(frames, dtype=np.int64)
        count = shape[0] if self.frames is None else len(self.frames)
        self.shape = (int(count), int(height), int(width), int(shape[3]))

    @property
    def ndim(self) -> int:
        return 4

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"H5Frames({self.path!r}, {self.key!r}, shape={self.shape}, convention={self.convention!r})"

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        frames = self[:]
        return frames if dtype is None else frames.astype(dtype)

    def __getitem__(self, index: Any) -> np.ndarray:
        if self.frames is not None:
            picked = self.frames[index]  # IndexError for out-of-range indices, as the stored stack would raise
            if np.ndim(picked) == 0:
                return self._read_frames(np.asarray([picked]))[0]
            return self._read_frames(picked)
        dataset = open_h5(self.path)[self.key]
        if isinstance(index, int | np.integer):
            return self._finish(dataset[int(index)][None])[0]
        if isinstance(index, slice):
            return self._finish(dataset[index])
        wanted = np.asarray(index, dtype=np.int64).reshape(-1)
        wanted = np.where(wanted < 0, wanted + len(self), wanted)
        if wanted.size and (wanted.min() < 0 or wanted.max() >= len(self)):
            raise IndexError(f"{self.path}: frames {index} out of range for {self.key} with {len(self)} frames")
        return self._read_frames(wanted)

    def _read_frames(self, wanted: np.ndarray) -> np.ndarray:
        """Stored frames ``wanted`` (valid, any order, repeats allowed), upright and resized."""
        dataset = open_h5(self.path)[self.key]
        wanted = np.asarray(wanted, dtype=np.int64).reshape(-1)
        unique, inverse = np.unique(wanted, return_inverse=True)
        if unique.size and unique[-1] - unique[0] + 1 == unique.size:
            raw = dataset[int(unique[0]) : int(unique[-1]) + 1]
        else:
            raw = dataset[unique]
        return self._finish(raw)[inverse]

    def _finish(self, raw: np.ndarray) -> np.ndarray:
        frames = to_upright(raw, self.convention)
        if self.size is not None and tuple(frames.shape[1:3]) != self.size:
            chw = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
            frames = TF.resize(chw, list(self.size), antialias=True).permute(0, 2, 3, 1).numpy()
        return np.ascontiguousarray(frames)
