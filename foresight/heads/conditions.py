"""Condition tokens for action heads: one shape convention, one validation, one null condition.

A head is conditioned on ``cond`` of shape ``(B, C)`` (one flat vector: dp, CLaD) or ``(B, N, C)`` (a sequence of
tokens: DreamVLA's action queries, MoLA's latent actions, CLAP's backbone states), with an optional ``(B, N)``
bool ``cond_mask`` that is True where a token is real. A flat condition *is* one token: :func:`as_tokens` turns
``(B, C)`` into ``(B, 1, C)``, so every network sees the same thing whichever way the caller spelled it, and
``N = 1`` tokens give bit-identical results to the flat vector.
"""

from __future__ import annotations

import torch
from torch import nn


def as_tokens(
    cond: torch.Tensor, cond_mask: torch.Tensor | None = None, *, cond_dim: int | None = None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(B, C)`` or ``(B, N, C)`` -> ``(B, N, C)`` and the mask, checked.

    A mask is only meaningful with tokens and must leave at least one real token per row: attention over no
    tokens has no value, and silently returning one would hide a data bug.
    """
    if cond.dim() == 2:
        if cond_mask is not None:
            raise ValueError(f"cond_mask needs token conditions (B, N, C); cond is flat {tuple(cond.shape)}")
        cond = cond.unsqueeze(1)
    elif cond.dim() != 3:
        raise ValueError(f"cond must be (B, C) or (B, N, C), got {tuple(cond.shape)}")
    if cond_dim is not None and cond.shape[-1] != cond_dim:
        raise ValueError(f"cond has {cond.shape[-1]} features per token, the head was built for cond_dim={cond_dim}")
    if cond_mask is not None:
        if cond_mask.dtype != torch.bool or tuple(cond_mask.shape) != tuple(cond.shape[:2]):
            got = f"{cond_mask.dtype} {tuple(cond_mask.shape)}"
            raise ValueError(f"cond_mask must be bool (B, N) = {tuple(cond.shape[:2])}, got {got}")
        if not bool(cond_mask.any(dim=1).all()):
            empty = (~cond_mask.any(dim=1)).nonzero().flatten().tolist()
            raise ValueError(f"cond_mask leaves rows {empty} without a single real token")
    return cond, cond_mask


def attention_bias(cond_mask: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """``(B, N)`` bool mask -> ``(B, 1, N)`` additive bias (0 where real, the dtype's lowest where padding).

    The layout diffusers' ``Attention`` expects for ``encoder_attention_mask``; the lowest finite value rather
    than ``-inf`` keeps a fully padded row finite instead of NaN (:func:`as_tokens` rejects those anyway).
    """
    if cond_mask is None:
        return None
    bias = torch.zeros(cond_mask.shape, dtype=dtype, device=cond_mask.device)
    return bias.masked_fill(~cond_mask, torch.finfo(dtype).min).unsqueeze(1)


class NullCondition(nn.Module):
    """The learned "no condition" of classifier-free guidance (Ho & Salimans 2022), as in DiT / CogACT.

    One learned vector of ``cond_dim`` features stands in for every token of a dropped row, and the row's mask
    becomes all-real, so the unconditional model is the same function whatever ``N`` or padding the caller
    used. Initialised like CogACT's ``uncondition`` embedding: ``N(0, 1 / cond_dim)``.
    """

    def __init__(self, cond_dim: int) -> None:
        super().__init__()
        self.embedding = nn.Parameter(torch.randn(cond_dim) * cond_dim**-0.5)

    def like(self, cond: torch.Tensor) -> torch.Tensor:
        """The null condition with ``cond``'s shape (flat or tokens), dtype and device."""
        return self.embedding.to(cond.dtype).expand_as(cond)

    def replace(
        self, cond: torch.Tensor, cond_mask: torch.Tensor | None, drop: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Rows where ``drop`` ``(B,)`` is True get the null condition (and an all-real mask)."""
        view = drop.view(-1, *([1] * (cond.dim() - 1)))
        cond = torch.where(view, self.like(cond), cond)
        if cond_mask is not None:
            cond_mask = cond_mask | drop.view(-1, 1)
        return cond, cond_mask
