"""The training-only knowledge decoders (App. A.1, Table 9): a light ViT decoder reads one knowledge type's query
outputs plus learnable mask tokens carrying fixed 2-D sine-cosine positions, and projects each mask token to the
patch it reconstructs (RGB / flow, depth, SAM or DINO features). Inference never runs them (§3.1)."""

from __future__ import annotations

import torch
from torch import nn


def sincos_1d(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """``(n,)`` -> ``(n, dim)`` fixed sine-cosine encoding (Vaswani et al.; MAE's ``get_1d_sincos_pos_embed``)."""
    omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float32, device=positions.device) / (dim // 2))
    angles = positions.float()[:, None] * omega[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def sincos_2d(h: int, w: int, dim: int, device: torch.device | None = None) -> torch.Tensor:
    """``(h * w, dim)`` in raster order: half the channels encode the row, half the column (MAE)."""
    rows, cols = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
    return torch.cat([sincos_1d(rows.flatten(), dim // 2), sincos_1d(cols.flatten(), dim // 2)], dim=1)


class KnowledgeDecoder(nn.Module):
    """``(N, Q, in_dim)`` query outputs -> ``(N, h * w, out_dim)`` patch predictions on an ``h x w`` grid."""

    def __init__(self, in_dim: int, out_dim: int, dim: int, layers: int, heads: int) -> None:
        super().__init__()
        if dim % 4:
            raise ValueError(f"knowledge.decoder_dim={dim} must be divisible by 4 (2-D sine-cosine positions)")
        self.dim = dim
        self.inp = nn.Linear(in_dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(dim))
        layer = nn.TransformerEncoderLayer(dim, heads, 4 * dim, dropout=0.0, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, out_dim)

    def forward(self, queries: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        n, q = queries.shape[:2]
        device = queries.device
        x = self.inp(queries) + sincos_1d(torch.arange(q, device=device), self.dim).to(queries.dtype)
        masks = self.mask_token + sincos_2d(*grid, self.dim, device).to(queries.dtype)
        h = self.blocks(torch.cat([x, masks.expand(n, -1, -1)], dim=1))
        return self.out(self.norm(h[:, q:]))
