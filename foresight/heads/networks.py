"""Denoising networks for diffusion heads: ``(noisy chunk, timestep, cond) -> chunk-shaped prediction``."""

from __future__ import annotations

import torch
from torch import nn

from foresight.nn import MLP, MLPResNet, SinusoidalPosEmb


class MLPResNetDenoiser(nn.Module):
    """IDQL / LBP-style noise network: an :class:`~foresight.nn.MLPResNet` over the flattened noisy chunk
    concatenated with a timestep embedding and the conditioning vector.

    Defaults are LBP's ``DDPMHead`` (the CLaD development fork, anchors.md §1.2): 3 blocks of width 256 with
    LayerNorm, GELU and dropout 0.1 over the flattened chunk, and 32 timestep features lifted to 256 by a
    LayerNorm MLP. LBP learns random Fourier features of ``t``; here they are the fixed sinusoids of Diffusion
    Policy, which needs no extra parameters and behaves the same at 25-100 steps.
    """

    def __init__(
        self,
        action_dim: int,
        horizon: int,
        cond_dim: int,
        hidden_dim: int = 256,
        num_blocks: int = 3,
        dropout: float = 0.1,
        time_embed_dim: int = 32,
        time_hidden_dim: int = 256,
    ) -> None:
        super().__init__()
        self.action_dim, self.horizon = action_dim, horizon
        self.time_embed = nn.Sequential(
            SinusoidalPosEmb(time_embed_dim), MLP(time_embed_dim, time_hidden_dim, time_hidden_dim, num_layers=2)
        )
        chunk = horizon * action_dim
        self.net = MLPResNet(chunk + time_hidden_dim + cond_dim, hidden_dim, chunk, num_blocks, dropout=dropout)

    def forward(self, noisy: torch.Tensor, timesteps: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """``noisy (B, H, A)``, ``timesteps (B,)``, ``cond (B, C)`` -> ``(B, H, A)``."""
        t = self.time_embed(timesteps).to(noisy.dtype)
        h = torch.cat([noisy.flatten(1), t, cond.to(noisy.dtype)], dim=-1)
        return self.net(h).view(-1, self.horizon, self.action_dim)
