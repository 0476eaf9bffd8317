"""The unified model: per-step context tokens (instruction, state, per-view [CLS] + perceiver-resampled patches),
learned ``<dream>`` and ``<action>`` queries, and GPT-2 over the whole history under the structured mask (§3.1-3.3,
App. A.1)."""

from __future__ import annotations

import torch
from torch import nn

from foresight.methods.dreamvla.attention import TokenLayout, additive_mask, attention_mask, mask_padded_steps
from foresight.methods.dreamvla.config import BackboneConfig
from foresight.nn import PerceiverPool
from foresight.nn.gpt import gpt2_on_embeddings


class StateEncoder(nn.Module):
    """App. A.1: each proprio part through its own linear layer, concatenated, then a final linear layer."""

    def __init__(self, dims: list[int], hidden_dim: int) -> None:
        super().__init__()
        self.dims = dims
        self.parts = nn.ModuleList(nn.Linear(d, hidden_dim) for d in dims)
        self.out = nn.Linear(hidden_dim * len(dims), hidden_dim)

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        pieces = torch.split(state, self.dims, dim=-1)
        return self.out(torch.cat([layer(p) for layer, p in zip(self.parts, pieces, strict=True)], dim=-1))


class ViewTokens(nn.Module):
    """One view's frame tokens: the MAE [CLS] token, and a perceiver resampler over its patch tokens (App. A.1)."""

    def __init__(self, cfg: BackboneConfig, image_dim: int) -> None:
        super().__init__()
        self.cls = nn.Linear(image_dim, cfg.hidden_dim)
        self.resampler = PerceiverPool(
            cfg.resampler_dim, cfg.resampler_heads, cfg.resampler_latents, cfg.resampler_depth, kv_dim=image_dim
        )
        self.latents = nn.Linear(cfg.resampler_dim, cfg.hidden_dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(N, 1 + patches, image_dim)`` -> ``(N, 1 + latents, hidden)``."""
        return torch.cat([self.cls(tokens[:, :1]), self.latents(self.resampler(tokens[:, 1:]))], dim=1)


class DreamBackbone(nn.Module):
    """Everything between the frozen encoders and the decoders / action head; what both stages train.

    ``dream_groups`` names the query groups (``"<type>.<view>"``, or ``"shared.<view>"`` with shared queries),
    each ``queries_per_type`` tokens per step, in sequence order.
    """

    def __init__(
        self,
        cfg: BackboneConfig,
        *,
        text_dim: int,
        image_dim: int,
        state_dims: list[int],
        views: int,
        dream_groups: list[str],
        queries_per_group: int,
        action_queries: int,
        history: int,
    ) -> None:
        super().__init__()
        from transformers import GPT2Model

        self.cfg = cfg
        self.dream_groups = dream_groups
        self.queries_per_group = queries_per_group
        h = cfg.hidden_dim
        self.text = nn.Linear(text_dim, h)
        self.state = StateEncoder(state_dims, h)
        self.views = nn.ModuleList(ViewTokens(cfg, image_dim) for _ in range(views))
        context = 2 + views * (1 + cfg.resampler_latents)
        self.layout = TokenLayout(context, len(dream_groups) * queries_per_group, action_queries, history)
        self.dream_queries = nn.Parameter(torch.randn(len(dream_groups) * queries_per_group, h) * 0.02)
        self.action_queries = nn.Parameter(torch.randn(action_queries, h) * 0.02)
        positions = max(1024, self.layout.length)
        if cfg.pretrained:
            self.gpt = GPT2Model.from_pretrained(cfg.pretrained)
            if self.gpt.config.n_embd != h or self.gpt.config.n_positions < self.layout.length:
                raise ValueError(f"backbone.pretrained={cfg.pretrained!r} does not match hidden_dim={h}")
        else:
            self.gpt = gpt2_on_embeddings(h, cfg.num_layers, cfg.num_heads, positions, cfg.dropout)
        if cfg.gradient_checkpointing:  # transformers >= 5 renamed it; the floor (4.40) has the old name only
            enable = (
                getattr(self.gpt, "activation_checkpointing_enable", None) or self.gpt.gradient_checkpointing_enable
            )
            enable()
        self.register_buffer("allowed", attention_mask(self.layout, cfg.attention), persistent=False)

    def forward(
        self, text: torch.Tensor, state: torch.Tensor, images: list[torch.Tensor], step_is_pad: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """``text (B, text_dim)``, ``state (B, S, P)``, per view ``(B, S, 1 + patches, image_dim)`` MAE tokens.

        Returns ``dream`` ``(B, S, groups, Q, H)`` and ``action`` ``(B, S, A, H)``: the query outputs per step.
        """
        b, s = state.shape[:2]
        lay = self.layout
        parts = [self.text(text)[:, None, None].expand(b, s, 1, -1), self.state(state)[:, :, None]]
        for module, tokens in zip(self.views, images, strict=True):
            parts.append(module(tokens.flatten(0, 1)).unflatten(0, (b, s)))
        parts.append(self.dream_queries.expand(b, s, -1, -1))
        parts.append(self.action_queries.expand(b, s, -1, -1))
        sequence = torch.cat(parts, dim=2).flatten(1, 2)  # (B, S * per_step, H)
        allowed = mask_padded_steps(self.allowed, lay, step_is_pad)
        hidden = self.gpt(inputs_embeds=sequence, attention_mask=additive_mask(allowed, sequence.dtype))
        out = hidden.last_hidden_state.unflatten(1, (s, lay.per_step))
        dream = out[:, :, lay.context : lay.context + lay.dream]
        return {
            "dream": dream.unflatten(2, (len(self.dream_groups), self.queries_per_group)),
            "action": out[:, :, lay.context + lay.dream :],
        }
