"""What CLAP reads besides actions: the policy's frozen encoder features and the VD-VAE's DINO targets.

Both come from the data layer's caches when the trainer built them, else they are computed here from pixels by a
frozen model held outside the module tree (never saved, never trained), so a batch built from the data spec alone
(tests, evaluation) works too.
"""

from __future__ import annotations

from typing import Any

import torch

from foresight.methods.clad.config import VLMConfig
from foresight.methods.clad.features import language_features, normalize_feature
from foresight.methods.clap.config import VDVAEConfig
from foresight.teachers import Teacher, build_teacher
from foresight.types import STATE, Batch, TeacherSpec, feature_key, image_key, target_key


def policy_inputs(batch: Batch, cfg: VLMConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``(B, views, image_dim)`` image embeddings at ``t``, the ``(B, text_dim)`` instruction embedding and the
    ``(B, proprio_dim)`` normalised state at ``t`` (None when the spec reads no proprio keys)."""
    views = []
    for view in cfg.views:
        key = feature_key(cfg.encoder, view)
        x = batch[key].float()
        if x.shape[-1] != cfg.image_dim:
            raise ValueError(f"{key} has width {x.shape[-1]}, but vlm.image_dim={cfg.image_dim}; set it to match")
        views.append(normalize_feature(x[:, -1], cfg.feature_norm))
    state = batch[STATE][:, -1].float() if STATE in batch else None
    return torch.stack(views, dim=1), language_features(batch, cfg), state


def dino_spec(cfg: VDVAEConfig, view: str, horizon: int) -> TeacherSpec:
    """The VD-VAE's targets: the teacher's features of ``view`` at ``t`` and ``t + H``."""
    return TeacherSpec(
        name=cfg.teacher, teacher=cfg.teacher, sources=(view,), offsets=(0, horizon),
        kwargs=tuple(sorted(cfg.teacher_kwargs.items())),
    )  # fmt: skip


class OnTheFlyTeacher:
    """Fills a missing teacher target from the batch's pixels (a plain attribute: outside ``state_dict``)."""

    def __init__(self, spec: TeacherSpec) -> None:
        self.spec = spec
        self._teacher: Teacher | None = None

    @property
    def teacher(self) -> Teacher:
        if self._teacher is None:
            kwargs: dict[str, Any] = dict(self.spec.kwargs)
            self._teacher = build_teacher(self.spec.teacher, **kwargs)
        return self._teacher

    @torch.no_grad()
    def get(self, batch: Batch) -> torch.Tensor:
        """``(B, len(offsets), ...)`` targets of the spec's one view."""
        view = self.spec.sources[0]
        key = target_key(self.spec.name, view)
        if key in batch:
            return batch[key]
        pixels = batch.get(image_key(view))
        if pixels is None:
            raise KeyError(f"CLAP's VD-VAE needs {key!r} from the teacher cache or {image_key(view)!r} to compute it")
        teacher = self.teacher.to(pixels.device)
        out = teacher.compute(pixels.reshape(-1, *pixels.shape[-3:]))
        return out.reshape(*pixels.shape[:2], *out.shape[1:])
