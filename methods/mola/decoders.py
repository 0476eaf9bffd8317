"""The decoders that make each expert's latent actions mean something (§3.3, eq. 4 and 6), dropped after stage idm.

Both decoders read the expert's quantised latent actions together with the patch features of the current frame
``o_t`` (eq. 4: "the predicted latent action is combined with the current RGB feature") and reconstruct the future:

* :class:`RGBDecoder` (eq. 4): the future RGB frame ``o_{t+k}``; one decoder shared by every expert (§3.3 "a
  shared ViT-based RGB decoder"), so the experts' latent actions live in one action space for RGB.
* :class:`ModalityDecoder` (eq. 6): the expert's teacher target at ``t + k`` (flow: the displacement from ``t`` to
  ``t + k``; depth: the depth map of ``o_{t+k}``; semantic: the SAM embedding of ``o_{t+k}``), at the target's own
  resolution.

They live outside ``moidm`` (the ``decoders`` module of the method), so the policy stage and evaluation neither
carry nor count them (Table 8's 90.58 M excludes them: "the decoders are removed").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from foresight.methods.mola.config import ExpertConfig
from foresight.methods.mola.experts import transformer

TARGET_CHANNELS = {"flow": 2, "depth": 1}  # the raft / cotracker displacement (x, y); relative inverse depth


class _TokenDecoder(nn.Module):
    """Latent actions + current patch features -> patch tokens, through pre-norm transformer layers."""

    def __init__(self, cfg: ExpertConfig) -> None:
        super().__init__()
        self.grid = cfg.image_size // cfg.patch_size
        self.action_in = nn.Linear(cfg.latent_dim, cfg.hidden_dim)
        self.blocks = transformer(cfg.hidden_dim, cfg.num_heads, cfg.decoder_layers, cfg.dropout)
        self.norm = nn.LayerNorm(cfg.hidden_dim)

    def patches(self, actions: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
        """``(N, Q, latent)``, ``(N, P, D)`` -> ``(N, P, D)`` decoded patch tokens.

        Eq. 4 "combines" the latent action with the current features: here every patch token gets the mean action
        embedding added (a direct path, ours) and the action tokens join the sequence for attention."""
        embedded = self.action_in(actions)
        sequence = torch.cat([embedded, current + embedded.mean(dim=1, keepdim=True)], dim=1)
        return self.norm(self.blocks(sequence))[:, actions.shape[1] :]


class RGBDecoder(_TokenDecoder):
    """Eq. 4: ``o_{t+k}`` in [0, 1] at the experts' input size, one ``patch x patch`` RGB block per token."""

    def __init__(self, cfg: ExpertConfig) -> None:
        super().__init__(cfg)
        self.patch = cfg.patch_size
        self.to_pixels = nn.Linear(cfg.hidden_dim, 3 * cfg.patch_size**2)

    def forward(self, actions: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
        x = self.to_pixels(self.patches(actions, current))  # (N, P, 3 p p)
        n, g, p = x.shape[0], self.grid, self.patch
        x = x.view(n, g, g, 3, p, p).permute(0, 3, 1, 4, 2, 5).reshape(n, 3, g * p, g * p)
        return torch.sigmoid(x)


class ModalityDecoder(_TokenDecoder):
    """Eq. 6: a ``(channels, 2 g, 2 g)`` map (two-fold pixel shuffle of the patch grid), resized to the target's."""

    UPSAMPLE = 2

    def __init__(self, cfg: ExpertConfig, channels: int) -> None:
        super().__init__(cfg)
        self.channels = channels
        self.to_map = nn.Linear(cfg.hidden_dim, channels * self.UPSAMPLE**2)

    def forward(self, actions: torch.Tensor, current: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        x = self.to_map(self.patches(actions, current))  # (N, P, C r r)
        n, g = x.shape[0], self.grid
        x = F.pixel_shuffle(x.transpose(1, 2).reshape(n, -1, g, g), self.UPSAMPLE)
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False) if x.shape[-2:] != size else x
