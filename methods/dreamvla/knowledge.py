"""The four knowledge types: which teacher supplies each target, how a target becomes patch tokens on a grid, the
width of a decoded patch, and the loss (§3.2, App. A.2). One :class:`Knowledge` object per configured type."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from foresight.methods.dreamvla import losses
from foresight.methods.dreamvla.config import KnowledgeConfig
from foresight.teachers.motion import dynamic_region_mask
from foresight.types import TeacherSpec

TEACHER_NAMES = {"dynamic": "motion", "depth": "depth", "sam": "sam", "dino": "dino"}
"""Batch key stem of each type's teacher target (``targets.<name>.<view>``)."""


def patchify(x: torch.Tensor, patch: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """``(N, C, H, W)`` -> ``(N, (H/p)(W/p), C p^2)`` raster-ordered patches, and the grid."""
    h, w = x.shape[-2:]
    if h % patch or w % patch:
        raise ValueError(f"a {h}x{w} target does not split into {patch}x{patch} patches")
    tokens = F.unfold(x, kernel_size=patch, stride=patch).transpose(1, 2)
    return tokens, (h // patch, w // patch)


def grid_tokens(x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
    """``(N, C, h, w)`` feature map -> ``(N, h w, C)`` and the grid."""
    return x.flatten(2).transpose(1, 2), tuple(x.shape[-2:])


@dataclass
class Targets:
    """One type's targets for ``N`` (sample, step) rows: patch tokens, their grid, a per-row or per-patch weight."""

    tokens: torch.Tensor
    grid: tuple[int, int]
    weight: torch.Tensor


class Knowledge:
    """What DreamVLA needs to forecast one knowledge type."""

    def __init__(self, kind: str, cfg: KnowledgeConfig) -> None:
        self.kind, self.cfg = kind, cfg
        self.rgb_patch = cfg.motion_grid

    @property
    def out_dim(self) -> int:
        """Values per decoded patch."""
        c = self.cfg
        if self.kind == "dynamic":
            return 2 if c.dynamic == "flow" else 3 * self.rgb_patch**2
        if self.kind == "depth":
            return c.depth_patch**2
        return c.sam_dim if self.kind == "sam" else c.dino_dim

    def teacher(self, views: tuple[str, ...], offsets: tuple[int, ...], anchors: tuple[int, ...]) -> TeacherSpec:
        """The teacher target: motion at the anchors (displacement ``t -> t+gap`` gives the region that moves),
        depth / SAM / DINO at the target offsets."""
        c = self.cfg
        teacher, path, kwargs = {
            "dynamic": (c.motion_teacher, c.motion_path, {**c.motion_kwargs, "grid": c.motion_grid, "gap": c.future}),
            "depth": (c.depth_teacher, c.depth_path, c.depth_kwargs),
            "sam": (c.sam_teacher, c.sam_path, c.sam_kwargs),
            "dino": (c.dino_teacher, c.dino_path, c.dino_kwargs),
        }[self.kind]
        kwargs = {**kwargs, **({"path": path} if path is not None else {})}
        return TeacherSpec(
            name=TEACHER_NAMES[self.kind],
            teacher=teacher,
            sources=views,
            offsets=anchors if self.kind == "dynamic" else offsets,
            kwargs=tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in kwargs.items())),
        )

    def targets(self, teacher: torch.Tensor | None, frames: torch.Tensor | None, valid: torch.Tensor) -> Targets:
        """Targets for rows ``(B * S)``: ``teacher`` ``(B*S, ...)`` the teacher's output, ``frames`` ``(B*S, 3, H, W)``
        uint8 the target frames (dynamic region only), ``valid`` ``(B*S,)`` rows that carry a loss."""
        c = self.cfg
        if self.kind == "dynamic":
            if c.dynamic == "flow":
                tokens, grid = grid_tokens(teacher.float())
                return Targets(tokens, grid, valid.float()[:, None].expand(-1, tokens.shape[1]))
            pixels = frames.float() / 255.0
            if teacher is None:  # language-free pretraining: the entire future frame (§4)
                tokens, grid = patchify(pixels, self.rgb_patch)
                region = torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device)
            else:
                # RGB patches on the motion teacher's grid: frames the teacher saw resized are resized alike
                gh, gw = teacher.shape[-2:]
                size = (gh * self.rgb_patch, gw * self.rgb_patch)
                if tuple(pixels.shape[-2:]) != size:
                    pixels = F.interpolate(pixels, size=size, mode="bilinear", antialias=True, align_corners=False)
                tokens, grid = patchify(pixels, self.rgb_patch)
                region = dynamic_region_mask(teacher, c.motion_threshold, c.motion_dilate).flatten(1)
            return Targets(losses.normalize_patches(tokens), grid, region.float() * valid.float()[:, None])
        if self.kind == "depth":
            tokens, grid = patchify(teacher.float(), c.depth_patch)
            return Targets(tokens, grid, valid.float())
        tokens, grid = grid_tokens(teacher.float())
        return Targets(tokens, grid, valid.float())

    def loss(self, pred: torch.Tensor, target: Targets) -> torch.Tensor:
        c = self.cfg
        if self.kind == "dynamic":
            return losses.masked_patch_mse(pred, target.tokens, target.weight)
        if self.kind == "depth":
            if c.depth_loss == "silog":
                return losses.silog(pred, target.tokens, target.weight)
            return losses.scale_normalized_mse(pred, target.tokens, target.weight)
        if c.semantic_loss == "cosine":
            return losses.cosine(pred, target.tokens, target.weight)
        return losses.infonce(pred, target.tokens, target.weight, c.infonce_temperature)
