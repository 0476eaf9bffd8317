"""The teacher targets each expert's modality decoder learns (§3.3, eq. 5), declared as data for the trainer.

Per expert, one :class:`~foresight.types.TeacherSpec` on each view the experts read:

* ``flow``: the motion teacher (``raft``, or ``cotracker`` as the paper) with ``gap = k``, read at offset 0: the
  displacement from ``o_t`` to ``o_{t+k}``, the transition the expert sees;
* ``depth``: ``depth_anything`` at offset ``k``: the depth of ``o_{t+k}``;
* ``semantic``: ``sam`` (SAM 2 folders load as SAM 2) at offset ``k``: the segmentation embedding of ``o_{t+k}``.

The trainer builds these caches before stage ``idm`` (docs/teachers.md), and a training batch without them is
refused (:mod:`foresight.batch_check`). A batch built elsewhere (a notebook, ``benchmarks/mola_speed.py``) gets them
from ``method.targets.fill(batch)``: :class:`OnTheFlyTargets` computes them from the batch's own frames with the
same frozen teacher, which lives outside the module tree (never saved, never trained).
"""

from __future__ import annotations

from typing import Any

import torch

from foresight.methods.mola.config import MoLAConfig
from foresight.teachers import build_teacher
from foresight.teachers.base import Teacher
from foresight.types import Batch, TeacherSpec, image_key, target_key


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def teacher_specs(cfg: MoLAConfig, views: tuple[str, ...]) -> tuple[TeacherSpec, ...]:
    """One spec per enabled expert, named after the expert (``targets.<expert>.<view>``)."""
    specs = []
    for expert in cfg.experts:
        teacher, kwargs = cfg.teachers.of(expert)
        if expert == "flow":
            kwargs["gap"] = cfg.k  # the displacement over the expert's own transition, t -> t + k
        offsets = (0,) if expert == "flow" else (cfg.k,)
        items = tuple(sorted((key, _hashable(value)) for key, value in kwargs.items()))
        specs.append(TeacherSpec(name=expert, teacher=teacher, sources=views, offsets=offsets, kwargs=items))
    return tuple(specs)


class OnTheFlyTargets:
    """Fills missing ``targets.<expert>.<view>`` from the batch's frames at offsets 0 and ``k``."""

    def __init__(self, specs: tuple[TeacherSpec, ...], obs_offsets: tuple[int, ...]) -> None:
        self.specs, self.obs_offsets = specs, obs_offsets
        self._teachers: dict[str, Teacher] = {}

    def teacher(self, spec: TeacherSpec, device: torch.device) -> Teacher:
        if spec.name not in self._teachers:
            kwargs = {k: list(v) if isinstance(v, tuple) else v for k, v in spec.kwargs}
            self._teachers[spec.name] = build_teacher(spec.teacher, **kwargs)
        return self._teachers[spec.name].to(device)

    @torch.no_grad()
    def fill(self, batch: Batch) -> Batch:
        missing = [(s, v) for s in self.specs for v in s.sources if target_key(s.name, v) not in batch]
        if not missing:
            return batch
        batch = dict(batch)
        for spec, view in missing:
            frames = batch[image_key(view)]  # (B, O, 3, H, W) uint8
            teacher = self.teacher(spec, frames.device)
            if teacher.per_episode:  # motion: a two-frame clip (o_t, o_{t+k}); row 0 is the displacement t -> t+k
                first, last = self.obs_offsets.index(0), len(self.obs_offsets) - 1
                rows = [teacher.compute(torch.stack([clip[first], clip[last]]))[:1] for clip in frames]
                out = torch.cat(rows)
            else:
                out = teacher.compute(frames[:, self.obs_offsets.index(spec.offsets[0])])
            batch[target_key(spec.name, view)] = out[:, None]  # (B, K=1, ...) as the cache delivers it
        return batch
