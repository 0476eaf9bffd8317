"""Denoising networks for diffusion / flow heads: ``(noisy chunk, timestep, cond[, cond_mask]) -> chunk``.

Both take the condition as a flat ``(B, C)`` vector or ``(B, N, C)`` tokens with an optional ``(B, N)`` mask
(:func:`foresight.heads.conditions.as_tokens`), and timesteps on the schedulers' scale (DDPM's integer steps,
flow matching's ``sigma * num_train_timesteps``), so either network serves either head.
:class:`MLPResNetDenoiser` is the small MLP of LBP / CLaD / dp; :class:`~foresight.heads.dit.DiTDenoiser` the
transformer of DreamVLA / CogACT / MoLA.
"""

from __future__ import annotations

import torch
from torch import nn

from foresight.heads.conditions import as_tokens
from foresight.nn import MLP, MLPResNet, SinusoidalPosEmb


class MLPResNetDenoiser(nn.Module):
    """IDQL / LBP-style noise network: an :class:`~foresight.nn.MLPResNet` over the flattened noisy chunk
    concatenated with a timestep embedding and the condition.

    Defaults are LBP's ``DDPMHead`` (the CLaD development fork, anchors.md §1.2): 3 blocks of width 256 with
    LayerNorm, GELU and dropout 0.1 over the flattened chunk, and 32 timestep features lifted to 256 by a
    LayerNorm MLP. LBP learns random Fourier features of ``t``; here they are the fixed sinusoids of Diffusion
    Policy, which needs no extra parameters and behaves the same at 25-100 steps.

    An MLP has no attention to pool a variable number of tokens, so it reads a fixed ``cond_tokens`` of them,
    concatenated (a flat condition is one token: the network dp and CLaD always had). Padded tokens are zeroed
    before the concatenation, so their content cannot leak into the output.
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
        *,
        cond_tokens: int = 1,
    ) -> None:
        super().__init__()
        self.action_dim, self.horizon, self.cond_dim, self.cond_tokens = action_dim, horizon, cond_dim, cond_tokens
        self.time_embed = nn.Sequential(
            SinusoidalPosEmb(time_embed_dim), MLP(time_embed_dim, time_hidden_dim, time_hidden_dim, num_layers=2)
        )
        chunk = horizon * action_dim
        self.net = MLPResNet(
            chunk + time_hidden_dim + cond_tokens * cond_dim, hidden_dim, chunk, num_blocks, dropout=dropout
        )

    def forward(
        self,
        noisy: torch.Tensor,
        timesteps: torch.Tensor,
        cond: torch.Tensor,
        cond_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``noisy (B, H, A)``, ``timesteps (B,)``, ``cond (B, C)`` or ``(B, cond_tokens, C)`` -> ``(B, H, A)``."""
        tokens, cond_mask = as_tokens(cond, cond_mask, cond_dim=self.cond_dim)
        if tokens.shape[1] != self.cond_tokens:
            raise ValueError(f"MLPResNetDenoiser was built for cond_tokens={self.cond_tokens}, got {tokens.shape[1]}")
        if cond_mask is not None:
            tokens = tokens.masked_fill(~cond_mask.unsqueeze(-1), 0.0)
        t = self.time_embed(timesteps).to(noisy.dtype)
        h = torch.cat([noisy.flatten(1), t, tokens.flatten(1).to(noisy.dtype)], dim=-1)
        return self.net(h).view(-1, self.horizon, self.action_dim)
