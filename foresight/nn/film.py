"""Feature-wise linear modulation (Perez et al. 2018), the conditioning CLaD uses throughout (§4.1, §4.3)."""

from __future__ import annotations

import torch
from torch import nn


class FiLM(nn.Module):
    """``x * (1 + gamma(cond)) + beta(cond)`` with gamma, beta from a two-layer MLP on ``cond``.

    The MLP's last layer is zero-initialised so the layer starts as the identity (LBP's ``FiLM_layer``): a
    freshly added conditioning path cannot disturb a network before it has learned anything.

    Shapes: ``x`` is ``(B, D)`` or ``(B, *tokens, D)``. ``cond`` is ``(B, C)``, broadcast over the token dims,
    or has the same leading dims as ``x`` (one condition per token).
    """

    def __init__(self, feature_dim: int, cond_dim: int, hidden_dim: int | None = None) -> None:
        super().__init__()
        hidden_dim = hidden_dim if hidden_dim is not None else 2 * feature_dim
        self.feature_dim, self.cond_dim = feature_dim, cond_dim
        self.fc1 = nn.Linear(cond_dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, 2 * feature_dim)
        nn.init.zeros_(self.fc2.weight)
        nn.init.zeros_(self.fc2.bias)

    def gamma_beta(self, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The scale offset and shift, each ``(*cond.shape[:-1], feature_dim)``."""
        gamma, beta = self.fc2(self.act(self.fc1(cond))).chunk(2, dim=-1)
        return gamma, beta

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.feature_dim or cond.shape[-1] != self.cond_dim:
            raise ValueError(
                f"FiLM({self.feature_dim}, cond_dim={self.cond_dim}) got x {tuple(x.shape)}, cond {tuple(cond.shape)}"
            )
        gamma, beta = self.gamma_beta(cond)
        if cond.dim() == 2 and x.dim() > 2:
            view = (cond.shape[0],) + (1,) * (x.dim() - 2) + (self.feature_dim,)
            gamma, beta = gamma.view(view), beta.view(view)
        elif cond.shape[:-1] != x.shape[:-1]:
            raise ValueError(
                f"FiLM cond {tuple(cond.shape)} must be (B, C) or share x's leading dims {tuple(x.shape[:-1])}"
            )
        return x * (1 + gamma) + beta
