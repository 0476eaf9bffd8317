"""Training-time image augmentation: one random resized crop per sample, replayed across its frames and views.

LBP and CLaD's development code (``andrewwwj/LBP:datasets/LiberoEngine.py``) draw a ``RandomResizedCrop`` with
``scale=(0.75, 1.0)``, ``ratio=(0.75, 1.33)`` and replay it (albumentations ``ReplayCompose``) on every history
frame and every view of a sample. We do the same: the crop box is drawn once per sample by torchvision's own
``RandomResizedCrop.get_params`` on the first view, expressed as fractions of the frame, and applied to every
frame of every view (scaled to each view's size), then resized back to that view's size. Replaying keeps the
geometry consistent between the past, present and future frames a foresight model compares.

The draw is seeded by :func:`sample_seed` ``(seed, epoch, index)`` only, never by global or worker state, so a
resumed run reproduces the same crops.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torchvision import transforms
from torchvision.transforms.v2 import functional as TF

from foresight.data.config import AugmentConfig


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A 64-bit seed that depends only on (run seed, epoch, sample index)."""
    words = np.random.SeedSequence([int(seed), int(epoch), int(index)]).generate_state(2)
    return (int(words[0]) << 32) | int(words[1])


class Augment:
    """Random resized crop replayed across all frames and views of one sample; output sizes equal input sizes."""

    def __init__(
        self, crop_scale: tuple[float, float] = (0.75, 1.0), crop_ratio: tuple[float, float] = (0.75, 1.33)
    ) -> None:
        if not 0 < crop_scale[0] <= crop_scale[1] <= 1:
            raise ValueError(f"crop_scale must satisfy 0 < low <= high <= 1, got {crop_scale}")
        if not 0 < crop_ratio[0] <= crop_ratio[1]:
            raise ValueError(f"crop_ratio must satisfy 0 < low <= high, got {crop_ratio}")
        self.crop_scale = (float(crop_scale[0]), float(crop_scale[1]))
        self.crop_ratio = (float(crop_ratio[0]), float(crop_ratio[1]))

    @classmethod
    def from_config(cls, cfg: AugmentConfig) -> Augment | None:
        """The augmentation ``cfg`` describes, or None when it is disabled."""
        return cls(tuple(cfg.crop_scale), tuple(cfg.crop_ratio)) if cfg.enabled else None

    def crop_box(self, height: int, width: int, seed: int) -> tuple[float, float, float, float]:
        """(top, left, height, width) of the crop as fractions of the frame, drawn from ``seed``."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            top, left, h, w = transforms.RandomResizedCrop.get_params(
                torch.empty(3, height, width), list(self.crop_scale), list(self.crop_ratio)
            )
        return top / height, left / width, h / height, w / width

    def __call__(self, images: Mapping[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
        """``{view: (O, 3, H, W) uint8}`` -> the same shapes, all cropped with one box drawn from ``seed``."""
        if not images:
            return {}
        first = next(iter(images.values()))
        top, left, h, w = self.crop_box(first.shape[-2], first.shape[-1], seed)
        out = {}
        for view, frames in images.items():
            height, width = frames.shape[-2:]
            box_h, box_w = max(1, round(h * height)), max(1, round(w * width))
            box_t = min(round(top * height), height - box_h)
            box_l = min(round(left * width), width - box_w)
            out[view] = TF.resized_crop(frames, box_t, box_l, box_h, box_w, [height, width], antialias=True)
        return out
