"""CLAP-RF (§III-E1): the core's rectified-flow head whose DiT layers cross-attend layer-wise to the backbone.

Layer ``i`` of the head attends to the hidden states of backbone layer ``l_i`` (code: one head layer per backbone
layer, in order; a shallower head reads evenly spaced layers, low to high). The selected layers' prefix states
travel to :class:`~foresight.heads.FlowMatchingHead` as one ``(B, n * P, width)`` token condition, layer after layer;
:class:`LayerwiseDiTDenoiser` splits it back so each block sees its own layer.
"""

from __future__ import annotations

import torch
from torch import nn

from foresight.heads import DiTDenoiser, FlowMatchingHead
from foresight.heads.conditions import as_tokens, attention_bias
from foresight.methods.clap.config import RFConfig


def layer_indices(backbone_layers: int, head_layers: int | None) -> list[int]:
    """0-based backbone layers read by each head layer: all of them, or ``head_layers`` evenly spaced."""
    n = backbone_layers if head_layers is None else head_layers
    if n > backbone_layers:
        raise ValueError(f"rf.num_layers={n} exceeds the backbone's {backbone_layers} layers")
    if n == 1:
        return [backbone_layers - 1]
    return [round(i * (backbone_layers - 1) / (n - 1)) for i in range(n)]


class LayerwiseDiTDenoiser(DiTDenoiser):
    """A :class:`DiTDenoiser` whose block ``i`` cross-attends to the ``i``-th of ``num_layers`` equal token groups."""

    def __init__(self, action_dim: int, horizon: int, cond_dim: int, *, num_layers: int, **kwargs) -> None:
        super().__init__(action_dim, horizon, cond_dim, num_layers=num_layers, **kwargs)
        self.cond_norm = nn.LayerNorm(cond_dim)

    def forward(
        self, noisy: torch.Tensor, timesteps: torch.Tensor, cond: torch.Tensor, cond_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        tokens, cond_mask = as_tokens(cond, cond_mask, cond_dim=self.cond_dim)
        layers = len(self.blocks)
        if tokens.shape[1] % layers:
            raise ValueError(f"{tokens.shape[1]} condition tokens do not split into {layers} equal layer groups")
        batch = noisy.shape[0]
        h = self.action_in(noisy) + self.pos_embed.to(noisy.dtype)
        modulation, time_features = self.time_embed(
            timesteps.reshape(-1).expand(batch), batch_size=batch, hidden_dtype=h.dtype
        )
        groups = self.cond_norm(tokens).to(h.dtype).chunk(layers, dim=1)
        masks = cond_mask.chunk(layers, dim=1) if cond_mask is not None else [None] * layers
        for block, group, mask in zip(self.blocks, groups, masks, strict=True):
            bias = attention_bias(mask, h.dtype)
            h = block(h, encoder_hidden_states=group, encoder_attention_mask=bias, timestep=modulation)
        return self.proj_out(self.norm_out(h, time_features))


def build_rf_head(cfg: RFConfig, action_dim: int, width: int, head_layers: int) -> FlowMatchingHead:
    """pi0-style beta time sampling, ``inference_steps`` Euler steps, over ``rf.horizon`` actions."""
    net = LayerwiseDiTDenoiser(
        action_dim, cfg.horizon, width, num_layers=head_layers, hidden_dim=cfg.hidden_dim, num_heads=cfg.num_heads
    )
    return FlowMatchingHead(
        action_dim,
        cfg.horizon,
        width,
        num_inference_steps=cfg.inference_steps,
        time_sampling="beta",
        beta_alpha=cfg.beta_alpha,
        time_max=cfg.time_max,
        noise_net=net,
    )
