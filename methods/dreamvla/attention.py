"""DreamVLA's token layout and its block-wise structured attention (paper Fig. 4, §3.3; code
``generate_attention_mask``), as a boolean matrix: ``allowed[i, j]`` says whether token ``i`` may read token ``j``.

Each of the ``S`` history steps contributes, in this order, its context tokens (instruction, state, image tokens
of every view), its ``<dream>`` queries and its ``<action>`` queries. The structured rules:

* every token reads the context tokens of its own and of earlier steps (causal across steps);
* a ``<dream>`` query reads no other query (each knowledge type stays disentangled), only itself;
* an ``<action>`` query also reads its own step's ``<dream>`` queries, but no other ``<action>`` query;
* no context token reads a query.

``causal`` (Table 7's ablation) is plain token-level causal attention over the same sequence. The boolean matrix
becomes GPT-2's 4-D additive mask with :func:`additive_mask`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

CONTEXT, DREAM, ACTION = 0, 1, 2


@dataclass(frozen=True)
class TokenLayout:
    """How many tokens of each kind one step holds; the sequence repeats it ``steps`` times."""

    context: int
    dream: int
    action: int
    steps: int

    @property
    def per_step(self) -> int:
        return self.context + self.dream + self.action

    @property
    def length(self) -> int:
        return self.per_step * self.steps

    def kinds(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(kind, step)`` of every position, each ``(length,)`` long."""
        one = torch.tensor([CONTEXT] * self.context + [DREAM] * self.dream + [ACTION] * self.action)
        kind = one.repeat(self.steps)
        step = torch.arange(self.steps).repeat_interleave(self.per_step)
        return kind, step

    def positions(self, kind: int) -> torch.Tensor:
        """``(steps, count)`` sequence positions of one kind, per step."""
        offset = {CONTEXT: 0, DREAM: self.context, ACTION: self.context + self.dream}[kind]
        count = {CONTEXT: self.context, DREAM: self.dream, ACTION: self.action}[kind]
        return torch.arange(self.steps)[:, None] * self.per_step + offset + torch.arange(count)[None]


def structured_mask(layout: TokenLayout) -> torch.Tensor:
    """``(L, L)`` bool: the paper's block-wise structured attention (see the module docstring)."""
    kind, step = layout.kinds()
    row_kind, col_kind = kind[:, None], kind[None, :]
    row_step, col_step = step[:, None], step[None, :]
    context = (col_kind == CONTEXT) & (col_step <= row_step)
    own_dream = (row_kind == ACTION) & (col_kind == DREAM) & (col_step == row_step)
    itself = torch.eye(layout.length, dtype=torch.bool)
    return context | own_dream | itself


def causal_mask(layout: TokenLayout) -> torch.Tensor:
    """``(L, L)`` bool: vanilla causal attention, every token reads every earlier one (Table 7 "Causal")."""
    return torch.ones(layout.length, layout.length, dtype=torch.bool).tril()


def attention_mask(layout: TokenLayout, mode: str) -> torch.Tensor:
    if mode == "structured":
        return structured_mask(layout)
    if mode == "causal":
        return causal_mask(layout)
    raise ValueError(f"unknown backbone.attention {mode!r}; expected 'structured' or 'causal'")


def mask_padded_steps(allowed: torch.Tensor, layout: TokenLayout, step_is_pad: torch.Tensor) -> torch.Tensor:
    """``(B, L, L)``: no token of a real step reads a token of a padded history step (before the episode start).

    A padded step's own tokens keep their pattern (they always read themselves), so no row is empty; nothing is
    trained on them.
    """
    _, step = layout.kinds()
    col_pad = step_is_pad[:, step.to(step_is_pad.device)]  # (B, L): the column belongs to a padded step
    row_real = ~col_pad
    blocked = row_real[:, :, None] & col_pad[:, None, :]
    return allowed.to(step_is_pad.device)[None] & ~blocked


def additive_mask(allowed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Boolean ``(..., L, L)`` -> GPT-2's 4-D additive mask ``(B, 1, L, L)``: 0 where allowed, the dtype's min else."""
    if allowed.ndim == 2:
        allowed = allowed[None]
    mask = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device)
    mask.masked_fill_(~allowed, torch.finfo(dtype).min)
    return mask[:, None]
