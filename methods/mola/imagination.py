"""Imagination behind one interface (§3.2): the pair ``(o_t, ô_{t+k})`` the experts read, from one of three backends.

========  ==============================================================  ============================
backend   ``ô_{t+k}`` is                                                  available at
========  ==============================================================  ============================
oracle    the dataset's real frame at ``t + k`` (an upper bound)          training only
svd       the frozen video model's one-step prediction, computed live     training and evaluation
cached    the same prediction, computed once per frame by the feature     training (cache), evaluation
          cache (the imaginer is an Encoder) and read back                (computed live, same call)
========  ==============================================================  ============================

``svd`` and ``cached`` run the same :class:`~foresight.methods.mola.svd.SVDImaginer` with noise fixed per frame,
so they give the same frames (up to float rounding across batch sizes): ``cached`` is ``svd`` made cheap. The
imaginer lives outside the module tree, like a frozen encoder: built from config, never saved, never trained.
"""

from __future__ import annotations

import torch

from foresight.encoders import build_encoder
from foresight.interfaces import Encoder
from foresight.methods.mola.config import ImaginationConfig
from foresight.types import Batch, FeatureSpec, feature_key, image_key

FEATURE_NAME = "mola_imagined"


class ImaginationError(ValueError):
    """Imagination asked of a backend that cannot give it here (oracle at evaluation)."""


ORACLE_AT_EVALUATION = (
    "MoLA imagination.backend=oracle reads the real frame at t+k, which no simulator (and no robot) has at "
    "evaluation time. An oracle policy is a training-time upper bound: evaluate it with "
    "method.imagination.eval_backend=svd (or cached) set at training time, and its results carry the label "
    "'imagination: oracle' (docs/methods/mola.md, Oracle)"
)


class Imagination:
    """``pairs(batch, backend, view) -> (current, future)``: ``(B, 3, S, S)`` frames, uint8 or float in [0, 1]."""

    def __init__(self, cfg: ImaginationConfig, obs_offsets_of_k: int) -> None:
        self.cfg = cfg
        self.k = obs_offsets_of_k
        self._imaginer: Encoder | None = None

    def feature_spec(self, views: tuple[str, ...]) -> FeatureSpec:
        """What the ``cached`` backend asks the data layer to cache: the imaginer's pair for each view."""
        return FeatureSpec(
            name=FEATURE_NAME,
            encoder=self.cfg.imaginer,
            sources=views,
            kwargs=tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in self.cfg.kwargs.items())),
        )

    def imaginer(self, device: torch.device) -> Encoder:
        if self._imaginer is None:
            self._imaginer = build_encoder(self.cfg.imaginer, **self.cfg.kwargs)
        return self._imaginer.to(device)

    def use_imaginer(self, imaginer: Encoder) -> None:
        """Imagine with this model instead of building ``imagination.imaginer`` (tests, notebooks)."""
        self._imaginer = imaginer

    def pairs(
        self, batch: Batch, backend: str, view: str, obs_offsets: tuple[int, ...]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        now = obs_offsets.index(0)
        if backend == "oracle":
            if self.k not in obs_offsets:
                raise ImaginationError(ORACLE_AT_EVALUATION)
            frames = batch[image_key(view)]
            return frames[:, now], frames[:, obs_offsets.index(self.k)]
        cached = batch.get(feature_key(FEATURE_NAME, view)) if backend == "cached" else None
        if cached is None:
            frames = batch[image_key(view)][:, now]
            cached = self.imaginer(frames.device).encode_images(frames)  # (B, 2, 3, S, S)
        else:
            cached = cached[:, now].float()
        return cached[:, 0], cached[:, 1]
