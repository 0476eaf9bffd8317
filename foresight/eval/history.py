"""Observation and executed-action histories of one live episode, stacked at the policy's past offsets exactly as
in training.

The data layer (:mod:`foresight.data.windows`) clamps an offset that falls before the first frame of an episode
to that first frame and flags it in ``observation.is_pad`` / ``action_is_pad``; a policy evaluated any other way
(zeros, or refusing to act until enough frames exist) sees inputs it was never trained on. This module lives in
the simulator worker and imports NumPy only, so the histories cost no inter-process traffic until the policy asks.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np

from foresight.rollout import Observation


class ObservationHistory:
    """The last ``-min(offsets) + 1`` frames of an episode; :meth:`stack` reads them at ``offsets``."""

    def __init__(self, offsets: Sequence[int]) -> None:
        offsets = tuple(int(o) for o in offsets)
        if not offsets or any(o > 0 for o in offsets) or list(offsets) != sorted(set(offsets)):
            raise ValueError(
                f"observation offsets at evaluation must be increasing and <= 0 (the future is unknown), got {offsets}"
            )
        self.offsets = offsets
        self._frames: deque[Any] = deque(maxlen=1 - offsets[0])
        self._count = 0

    def clear(self) -> None:
        """Start a new episode (or a new CALVIN subtask): the next frame becomes the first."""
        self._frames.clear()
        self._count = 0

    def push(self, frame: Any) -> None:
        self._frames.append(frame)
        self._count += 1

    def stack(self) -> tuple[list[Any], np.ndarray]:
        """Frames at each offset from the newest one (clamped to the first frame) and the ``is_pad`` flags."""
        if self._count == 0:
            raise RuntimeError("ObservationHistory.stack() before any frame was pushed")
        now = self._count - 1
        oldest_kept = self._count - len(self._frames)
        frames, pad = [], []
        for offset in self.offsets:
            index = now + offset
            pad.append(index < 0)
            frames.append(self._frames[max(index, 0) - oldest_kept])
        return frames, np.asarray(pad, dtype=bool)


class ActionHistory:
    """The actions an episode executed, read at the policy's past action offsets (all ``< 0``).

    At step ``t`` (``t`` actions executed so far) offset ``o`` reads ``a_{t+o}``. Where ``t+o < 0`` training clamps
    to the episode's first action ``a_0`` and flags padding, so this does the same once ``a_0`` is known; at
    ``t = 0`` nothing was executed yet (training would read ``a_0``, the very action about to be chosen), so the
    padded rows hold the zero action. Either way a padded row carries no information a method may rely on.
    """

    def __init__(self, offsets: Sequence[int], action_dim: int) -> None:
        offsets = tuple(int(o) for o in offsets)
        if not offsets or any(o >= 0 for o in offsets) or list(offsets) != sorted(set(offsets)):
            raise ValueError(
                f"past action offsets must be increasing and < 0 (offset 0 on is the chunk to predict), got {offsets}"
            )
        if action_dim < 1:
            raise ValueError(f"action_dim must be at least 1, got {action_dim}")
        self.offsets = offsets
        self.action_dim = action_dim
        self._recent: deque[np.ndarray] = deque(maxlen=-offsets[0])
        self._first: np.ndarray | None = None
        self._count = 0

    def __len__(self) -> int:
        """Actions executed since the episode (or CALVIN subtask) started: the current step ``t``."""
        return self._count

    def clear(self) -> None:
        """Start a new episode (or a new CALVIN subtask), together with the :class:`ObservationHistory`."""
        self._recent.clear()
        self._first = None
        self._count = 0

    def push(self, action: Any) -> None:
        """Record an action the environment was stepped with."""
        action = np.array(action, dtype=np.float32).reshape(-1)
        if action.shape != (self.action_dim,):
            raise ValueError(f"executed action has {action.size} values; the policy's actions have {self.action_dim}")
        if self._first is None:
            self._first = action
        self._recent.append(action)
        self._count += 1

    def stack(self) -> tuple[np.ndarray, np.ndarray]:
        """``(len(offsets), action_dim)`` float32 unnormalised actions and the ``(len(offsets),)`` ``is_pad`` flags."""
        now = self._count
        oldest_kept = self._count - len(self._recent)
        actions = np.zeros((len(self.offsets), self.action_dim), dtype=np.float32)
        pad = np.zeros(len(self.offsets), dtype=bool)
        for row, offset in enumerate(self.offsets):
            index = now + offset
            pad[row] = index < 0
            if index >= 0:
                actions[row] = self._recent[index - oldest_kept]
            elif self._first is not None:
                actions[row] = self._first
        return actions, pad


def pack(
    frames: list[Observation], is_pad: np.ndarray, views: Sequence[str], proprio_keys: Sequence[str]
) -> dict[str, Any]:
    """Stacked frames as the arrays the main process batches: images ``(O, H, W, 3)``, proprio ``(O, P)``, and the
    newest frame's instruction and :attr:`~foresight.rollout.Observation.task` (what is asked now)."""
    latest = frames[-1]
    missing_views = [v for v in views if v not in latest.images]
    if missing_views:
        raise KeyError(
            f"the policy reads views {missing_views}, which the environment does not render; it renders "
            f"{sorted(latest.images)}"
        )
    missing_keys = [k for k in proprio_keys if k not in latest.proprio]
    if missing_keys:
        raise KeyError(
            f"the policy reads proprio keys {missing_keys}, which the environment does not report; it reports "
            f"{sorted(latest.proprio)}"
        )
    unrendered = [i for i, f in enumerate(frames) if views and not f.images]
    if unrendered:
        raise RuntimeError(
            f"stacked frames {unrendered} (of {len(frames)}) came without images: the environment was told nobody "
            "reads them (foresight.eval.chunking.RenderPlan), so a query read a frame off its cadence"
        )
    images = {view: np.stack([np.asarray(f.images[view], dtype=np.uint8) for f in frames]) for view in views}
    proprio = None
    if proprio_keys:
        proprio = np.stack(
            [
                np.concatenate([np.asarray(f.proprio[k], dtype=np.float32).reshape(-1) for k in proprio_keys])
                for f in frames
            ]
        )
    return {
        "images": images,
        "proprio": proprio,
        "is_pad": is_pad,
        "instruction": latest.instruction,
        "task": latest.task,
    }
