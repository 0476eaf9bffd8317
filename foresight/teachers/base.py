"""The :class:`Teacher` interface: a frozen model whose outputs become training targets (depth, motion, SAM, DINO).

A teacher is to a training target what an :class:`~foresight.interfaces.Encoder` is to an input: frozen, keyed
by an id, computed once per dataset into the feature cache (:mod:`foresight.teachers.cache`) and read at the
offsets a method's :class:`~foresight.types.TeacherSpec` asks for. Thresholds and masks derived from a teacher's
output (the dynamic-region mask of :func:`foresight.teachers.motion.dynamic_region_mask`) are applied at training
time, never stored, so changing a threshold never rebuilds a cache.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from foresight.types import Episode


class TeacherError(ValueError):
    """A teacher that cannot be built or cannot take its input; the message names what to change."""


class Teacher(nn.Module, ABC):
    """A frozen model mapping one episode's frames of one view to per-frame targets.

    ``per_episode = False``: row ``i`` of :meth:`compute` depends on input ``i`` only, so frames may be batched
    freely (depth, SAM, DINO). ``per_episode = True``: :meth:`compute` receives all frames of an episode in order
    and row ``t`` may depend on other frames (motion from ``t`` to ``t + gap``).

    :meth:`compute` returns ``storage_dtype`` directly, so a value read from the cache is bit-identical to one
    computed on the fly. ``teacher_id`` must change whenever the outputs would: model, weights digest, input and
    output resolution, frame gap, grid, normalisation.
    """

    name: ClassVar[str] = ""  # set by the registry
    per_episode: ClassVar[bool] = False
    storage_dtype: ClassVar[torch.dtype] = torch.float16
    licence: ClassVar[str] = ""  # of the weights a user is expected to load; printed by the cache command
    teacher_id: str

    def read(self, episode: Episode, source: str) -> np.ndarray:
        """The inputs of :meth:`compute` for one view of one episode: ``(T, H, W, 3)`` uint8 frames by default.

        A teacher that reads recorded data instead of pixels (CALVIN's depth cameras) overrides this.
        """
        if source not in episode.images:
            raise TeacherError(
                f"teacher {self.name!r}: episode {episode.episode_id} has no view {source!r}; "
                f"it has {sorted(episode.images)}"
            )
        return np.asarray(episode.images[source][np.arange(episode.length)])

    def to_tensor(self, inputs: np.ndarray, device: torch.device) -> torch.Tensor:
        """``(N, H, W, 3)`` uint8 frames -> ``(N, 3, H, W)`` uint8 on ``device``."""
        return torch.from_numpy(np.ascontiguousarray(inputs)).permute(0, 3, 1, 2).to(device)

    @abstractmethod
    def compute(self, inputs: torch.Tensor) -> torch.Tensor:
        """``(N, ...)`` targets in ``storage_dtype`` for the inputs :meth:`to_tensor` made."""

    @property
    def device(self) -> torch.device:
        for tensor in (*self.parameters(), *self.buffers()):
            return tensor.device
        return torch.device("cpu")


def make_teacher_id(name: str, weights: str, **settings: Any) -> str:
    """``name:weights-digest:settings-hash``; ``settings`` are everything besides weights that shapes the output."""
    blob = json.dumps(settings, sort_keys=True, default=str)
    return f"{name}:{weights}:{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


def teacher_outputs(teacher: Teacher, inputs: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """One episode's targets, exactly as the cache computes them (same batches, so bit-identical)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    chunks: Sequence[slice] = (
        [slice(0, len(inputs))]
        if teacher.per_episode
        else [slice(s, min(s + batch_size, len(inputs))) for s in range(0, len(inputs), batch_size)]
    )
    with torch.inference_mode():
        rows = [_checked(teacher, teacher.compute(teacher.to_tensor(inputs[c], teacher.device)), c) for c in chunks]
    return np.concatenate(rows) if rows else np.zeros((0,), dtype=np.float16)


def _checked(teacher: Teacher, out: torch.Tensor, chunk: slice) -> np.ndarray:
    if out.dtype != teacher.storage_dtype:
        raise TeacherError(f"teacher {teacher.name!r} returned {out.dtype}; it declares {teacher.storage_dtype}")
    if out.shape[0] != chunk.stop - chunk.start:
        raise TeacherError(f"teacher {teacher.name!r} returned {out.shape[0]} rows for {chunk.stop - chunk.start}")
    return out.cpu().numpy()
