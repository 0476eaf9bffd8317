"""Camera frames of LeRobot datasets, decoded on demand: MP4 video (PyAV) and PNG-in-parquet images.

A window needs three frames of a 300-frame episode, so decoding whole episodes would waste almost all the work:
:class:`VideoFrames` seeks to the keyframe before the first wanted timestamp and decodes forward only to the last
one (as lerobot's ``decode_video_frames_pyav`` does). Open containers and parquet image columns are cached per
process (the cache is reset in a forked DataLoader worker: libav and file handles must not cross a ``fork``).
"""

from __future__ import annotations

import io
import os
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from foresight.data.lazy_frames import LazyFrames
from foresight.data.source import DataError

MAX_OPEN = 32  # open containers / parquet image columns kept per process


_inherited: list[OrderedDict[str, Any]] = []  # the parent's resources after a fork: kept referenced, never freed


class _ProcessCache:
    """A small LRU of open resources, emptied when used from a new process (after a DataLoader fork).

    The parent's resources stay referenced in the child: freeing an inherited AV1 container (which happens whenever
    the child's garbage collector runs) joins libdav1d's decoder threads, which do not exist after a fork, and the
    worker hangs forever.
    """

    def __init__(self, opener: Callable[[str], Any], close: Callable[[Any], None] | None = None) -> None:
        self.opener = opener
        self.close = close
        self.items: OrderedDict[str, Any] = OrderedDict()
        self.pid = os.getpid()

    def get(self, key: str) -> Any:
        if self.pid != os.getpid():
            _inherited.append(self.items)  # the parent's handles: never used, closed or freed here
            self.items, self.pid = OrderedDict(), os.getpid()
        if key in self.items:
            self.items.move_to_end(key)
            return self.items[key]
        value = self.opener(key)
        self.items[key] = value
        if len(self.items) > MAX_OPEN:
            _, old = self.items.popitem(last=False)
            if self.close is not None:
                self.close(old)
        return value


_containers = _ProcessCache(lambda path: av.open(path), lambda c: c.close())


def _read_image_column(spec: str) -> pa.ChunkedArray:
    path, key = spec.split("\0")
    return pq.read_table(path, columns=[key], memory_map=True).column(key)


_image_columns = _ProcessCache(_read_image_column)


class VideoFrames(LazyFrames):
    """One episode's frames of one camera in an MP4 file (v3.0 files hold many episodes, from ``from_timestamp``)."""

    def __init__(
        self,
        path: Path,
        timestamps: np.ndarray,
        from_timestamp: float,
        shape: tuple[int, ...],
        finish: Callable[[np.ndarray], np.ndarray],
        tolerance_s: float,
    ) -> None:
        self.path = str(path)
        self.times = from_timestamp + np.asarray(timestamps, dtype=np.float64)
        self.shape = shape
        self.dtype = np.dtype(np.uint8)
        self.finish = finish
        self.tolerance_s = tolerance_s
        self.source = self.path

    def _read(self, frames: np.ndarray) -> np.ndarray:
        wanted = self.times[frames]
        got: list[np.ndarray | None] = [None] * len(wanted)
        container = _containers.get(self.path)
        stream = container.streams.video[0]
        # One tick before the first wanted time, so a keyframe exactly at it is not skipped (lerobot does the same).
        container.seek(max(0, round(wanted[0] / stream.time_base) - 1), stream=stream, backward=True, any_frame=False)
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            t = float(frame.pts * stream.time_base)
            close = np.flatnonzero(np.abs(wanted - t) <= self.tolerance_s)
            if close.size:
                rgb = frame.to_ndarray(format="rgb24")
                for i in close:
                    got[i] = rgb
            if t > wanted[-1] + self.tolerance_s:
                break
        missing = [float(w) for w, g in zip(wanted, got, strict=True) if g is None]
        if missing:
            raise DataError(
                f"{self.path}: no frame within {self.tolerance_s}s of timestamps {missing} "
                "(the parquet 'timestamp' column and the video disagree; check data.lerobot.video_tolerance_s)"
            )
        return self.finish(np.stack(got))


class ParquetImages(LazyFrames):
    """One episode's frames of one camera stored as encoded images in a parquet column (``dtype: image``)."""

    def __init__(
        self,
        path: Path,
        key: str,
        first_row: int,
        shape: tuple[int, ...],
        finish: Callable[[np.ndarray], np.ndarray],
        root: Path,
    ) -> None:
        self.path = str(path)
        self.key = key
        self.first_row = first_row
        self.shape = shape
        self.dtype = np.dtype(np.uint8)
        self.finish = finish
        self.root = root
        self.source = f"{self.path}:{key}"

    def _read(self, frames: np.ndarray) -> np.ndarray:
        column = _image_columns.get(f"{self.path}\0{self.key}")
        rows = column.take(pa.array(self.first_row + frames)).to_pylist()
        return self.finish(
            np.stack([self._decode(row, self.first_row + int(i)) for row, i in zip(rows, frames, strict=True)])
        )

    def _decode(self, cell: Any, row: int) -> np.ndarray:
        if isinstance(cell, dict) and cell.get("bytes"):
            data = io.BytesIO(cell["bytes"])
        elif isinstance(cell, dict) and cell.get("path"):
            data = self.root / cell["path"]
        else:
            raise DataError(f"{self.source}: row {row} holds neither image bytes nor a path")
        with Image.open(data) as image:
            return np.asarray(image.convert("RGB"))
