"""MP4s of evaluation episodes, written by the simulator worker that ran them (PyAV, H.264)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np

from foresight.fileio import atomic_write
from foresight.rollout import Observation


def video_frame(observation: Observation) -> np.ndarray:
    """All views of an observation side by side (sorted by name), as the policy sees them: upright."""
    images = [np.asarray(observation.images[v], dtype=np.uint8) for v in sorted(observation.images)]
    height = max(img.shape[0] for img in images)
    padded = [np.pad(img, ((0, height - img.shape[0]), (0, 0), (0, 0))) for img in images]
    return np.concatenate(padded, axis=1)


def write_mp4(path: str | os.PathLike[str], frames: Sequence[np.ndarray], fps: int) -> Path:
    """Encode ``(H, W, 3)`` uint8 frames; a crash mid-write leaves a hidden temporary file, never a broken MP4."""
    if not frames:
        raise ValueError(f"no frames to write to {path}")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(target, lambda tmp: _encode(tmp, frames, fps))


def _encode(tmp: Path, frames: Sequence[np.ndarray], fps: int) -> None:
    height, width = frames[0].shape[:2]
    with av.open(str(tmp), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        # yuv420p (what every player decodes) needs even dimensions.
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            even = np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)))
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(even), format="rgb24")))
        container.mux(stream.encode())
