"""Pre-norm transformer blocks: multi-head attention, cross-attention, self-attention, Perceiver pooling.

Masks follow one convention everywhere in foresight: a boolean ``(B, N)`` tensor that is True where a token is
real (the opposite of ``nn.MultiheadAttention``'s ``key_padding_mask``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from foresight.nn.mlp import MLP


def _check_mask(mask: torch.Tensor, batch: int, num_keys: int) -> None:
    if mask.dtype != torch.bool or mask.shape != (batch, num_keys):
        raise ValueError(f"key mask must be bool of shape ({batch}, {num_keys}), got {mask.dtype} {tuple(mask.shape)}")
    if not bool(mask.any(dim=-1).all()):
        raise ValueError("key mask has a row with no valid key; attention over nothing is undefined")


class MultiHeadAttention(nn.Module):
    """Scaled dot-product attention ``softmax(Q K^T / sqrt(d_head)) V`` over ``num_heads`` heads.

    Keys and values may have their own width ``kv_dim`` (asymmetric cross-attention between modalities).
    Uses :func:`torch.nn.functional.scaled_dot_product_attention`, so fused kernels apply on GPU.
    """

    def __init__(self, dim: int, num_heads: int, kv_dim: int | None = None, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"attention width {dim} is not divisible by num_heads={num_heads}")
        kv_dim = kv_dim if kv_dim is not None else dim
        self.num_heads, self.dropout = num_heads, dropout
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(kv_dim, dim)
        self.v_proj = nn.Linear(kv_dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, q: torch.Tensor, kv: torch.Tensor, kv_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``q (B, Nq, D)``, ``kv (B, Nk, Dk)``, ``kv_mask (B, Nk)`` True = attend -> ``(B, Nq, D)``."""
        batch, num_q, dim = q.shape
        attn_mask = None
        if kv_mask is not None:
            _check_mask(kv_mask, batch, kv.shape[1])
            attn_mask = kv_mask[:, None, None, :]

        def heads(x: torch.Tensor) -> torch.Tensor:
            return x.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)

        out = F.scaled_dot_product_attention(
            heads(self.q_proj(q)),
            heads(self.k_proj(kv)),
            heads(self.v_proj(kv)),
            attn_mask=attn_mask,
            dropout_p=self.dropout if self.training else 0.0,
        )
        return self.out_proj(out.transpose(1, 2).reshape(batch, num_q, dim))


class CrossAttention(nn.Module):
    """One transformer decoder layer without self-attention: queries attend over keys/values, then an MLP.

    ``x = q + Attn(LN(q), LN(kv)); out = x + MLP(LN(x))`` (pre-norm, as in ViT / Perceiver).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        dropout: float = 0.0,
        kv_dim: int | None = None,
        mlp_ratio: float = 4.0,
    ) -> None:
        super().__init__()
        self.norm_q = nn.LayerNorm(dim)
        self.norm_kv = nn.LayerNorm(kv_dim if kv_dim is not None else dim)
        self.attn = MultiHeadAttention(dim, num_heads, kv_dim=kv_dim, dropout=dropout)
        self.norm_mlp = nn.LayerNorm(dim)
        self.mlp = MLP(dim, int(dim * mlp_ratio), dim, num_layers=2, layer_norm=False, dropout=dropout)

    def forward(self, q: torch.Tensor, kv: torch.Tensor, kv_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = q + self.attn(self.norm_q(q), self.norm_kv(kv), kv_mask)
        return x + self.mlp(self.norm_mlp(x))


class CrossAttentionStack(nn.Module):
    """``depth`` :class:`CrossAttention` layers; every layer attends over the same keys/values."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        depth: int,
        dropout: float = 0.0,
        kv_dim: int | None = None,
        mlp_ratio: float = 4.0,
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            CrossAttention(dim, num_heads, dropout=dropout, kv_dim=kv_dim, mlp_ratio=mlp_ratio) for _ in range(depth)
        )

    def forward(self, q: torch.Tensor, kv: torch.Tensor, kv_mask: torch.Tensor | None = None) -> torch.Tensor:
        for layer in self.layers:
            q = layer(q, kv, kv_mask)
        return q


class SelfAttention(nn.Module):
    """One pre-norm transformer encoder layer: ``x + Attn(LN(x))`` then ``x + MLP(LN(x))``."""

    def __init__(self, dim: int, num_heads: int, dropout: float = 0.0, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self.norm_attn = nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(dim, num_heads, dropout=dropout)
        self.norm_mlp = nn.LayerNorm(dim)
        self.mlp = MLP(dim, int(dim * mlp_ratio), dim, num_layers=2, layer_norm=False, dropout=dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        h = self.norm_attn(x)
        x = x + self.attn(h, h, mask)
        return x + self.mlp(self.norm_mlp(x))


class PerceiverPool(nn.Module):
    """Learned latent queries cross-attending over a token set (Perceiver, Jaegle et al. 2021).

    Pools a variable number of tokens into ``num_queries`` tokens; the result does not depend on token order
    (no positional information enters), which is what a set of modality tokens needs.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        num_queries: int = 1,
        depth: int = 1,
        dropout: float = 0.0,
        kv_dim: int | None = None,
        mlp_ratio: float = 4.0,
    ) -> None:
        super().__init__()
        self.queries = nn.Parameter(torch.empty(num_queries, dim))
        nn.init.trunc_normal_(self.queries, std=0.02)
        self.stack = CrossAttentionStack(dim, num_heads, depth, dropout=dropout, kv_dim=kv_dim, mlp_ratio=mlp_ratio)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, N, Dk)`` tokens -> ``(B, num_queries, D)``."""
        queries = self.queries.unsqueeze(0).expand(tokens.shape[0], -1, -1)
        return self.stack(queries, tokens, mask)

    def pooled(self, tokens: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, N, Dk)`` -> ``(B, D)``; only for a single query."""
        if self.queries.shape[0] != 1:
            raise ValueError(f"pooled() needs num_queries=1; this pool has {self.queries.shape[0]}, use forward()")
        return self.forward(tokens, mask).squeeze(1)
