"""Timestep embeddings for diffusion models, from diffusers so they match the schedulers' conventions."""

from __future__ import annotations

import torch
from diffusers.models.embeddings import get_timestep_embedding
from torch import nn


class SinusoidalPosEmb(nn.Module):
    """``[sin(t w_i), cos(t w_i)]`` with ``w_i = 10000^(-i / (dim/2 - 1))`` (Diffusion Policy's embedding).

    A thin module around :func:`diffusers.models.embeddings.get_timestep_embedding` (``downscale_freq_shift=1``
    gives exactly Chi et al.'s frequencies), so it can sit inside an ``nn.Sequential``.
    """

    def __init__(self, dim: int, max_period: int = 10000) -> None:
        super().__init__()
        if dim % 2:
            raise ValueError(f"SinusoidalPosEmb needs an even dim, got {dim}")
        self.dim, self.max_period = dim, max_period

    def forward(self, timesteps: torch.Tensor) -> torch.Tensor:
        """``(B,)`` integer or float timesteps -> ``(B, dim)`` float32."""
        return get_timestep_embedding(
            timesteps.reshape(-1), self.dim, flip_sin_to_cos=False, downscale_freq_shift=1, max_period=self.max_period
        )
