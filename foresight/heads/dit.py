"""A diffusion transformer (DiT, Peebles & Xie 2023) over action chunks, built from diffusers' blocks.

Each of the ``horizon`` actions is one token. Every block is diffusers' :class:`BasicTransformerBlock` with
``norm_type="ada_norm_single"`` (PixArt-alpha's adaLN-single: the diffusion time, embedded once by
:class:`AdaLayerNormSingle` = diffusers' ``Timesteps`` + ``TimestepEmbedding``, shifts, scales and gates the
self-attention and the MLP of every block) and cross-attention from the action tokens to the condition tokens,
with padded condition tokens masked out. The last layer is DiT's: an adaptive layer norm on the time
(:class:`AdaLayerNormContinuous`) and a zero-initialised projection, so an untrained network predicts 0.

DreamVLA (paper Table 10) and CogACT use DiT-B: 12 layers, width 768, 12 heads; those are the defaults.
CogACT feeds the condition and the time as extra *tokens* of the sequence (in-context conditioning); here the
time modulates the norms and the condition is attended to, the DiT / PixArt design that accepts any number
of condition tokens (CLAP's layer-wise features, MoLA's latent actions) without growing the action sequence.
"""

from __future__ import annotations

import torch
from diffusers.models.attention import BasicTransformerBlock
from diffusers.models.normalization import AdaLayerNormContinuous, AdaLayerNormSingle
from torch import nn

from foresight.heads.conditions import as_tokens, attention_bias


class DiTDenoiser(nn.Module):
    """``(noisy (B, H, A), timesteps (B,), cond (B, C) | (B, N, C), cond_mask (B, N) | None) -> (B, H, A)``.

    ``timesteps`` may be integers (DDPM) or floats (flow matching's ``sigma * num_train_timesteps``); both are
    embedded by the same sinusoids. ``num_layers``, ``hidden_dim``, ``num_heads`` size the transformer
    (defaults DiT-B); ``dropout`` applies inside attention and MLP (CogACT: 0).
    """

    def __init__(
        self,
        action_dim: int,
        horizon: int,
        cond_dim: int,
        *,
        num_layers: int = 12,
        hidden_dim: int = 768,
        num_heads: int = 12,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if hidden_dim % num_heads:
            raise ValueError(f"DiTDenoiser hidden_dim={hidden_dim} must be divisible by num_heads={num_heads}")
        self.action_dim, self.horizon, self.cond_dim = action_dim, horizon, cond_dim
        self.action_in = nn.Linear(action_dim, hidden_dim)
        self.pos_embed = nn.Parameter(torch.randn(1, horizon, hidden_dim) * 0.02)
        self.time_embed = AdaLayerNormSingle(hidden_dim)
        self.blocks = nn.ModuleList(
            BasicTransformerBlock(
                hidden_dim,
                num_heads,
                hidden_dim // num_heads,
                dropout=dropout,
                cross_attention_dim=cond_dim,
                activation_fn="gelu-approximate",
                attention_bias=True,
                norm_type="ada_norm_single",
                norm_elementwise_affine=False,
                norm_eps=1e-6,
            )
            for _ in range(num_layers)
        )
        self.norm_out = AdaLayerNormContinuous(hidden_dim, hidden_dim, elementwise_affine=False, eps=1e-6)
        self.proj_out = nn.Linear(hidden_dim, action_dim)
        nn.init.zeros_(self.proj_out.weight)
        nn.init.zeros_(self.proj_out.bias)

    def forward(
        self,
        noisy: torch.Tensor,
        timesteps: torch.Tensor,
        cond: torch.Tensor,
        cond_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        tokens, cond_mask = as_tokens(cond, cond_mask, cond_dim=self.cond_dim)
        batch = noisy.shape[0]
        h = self.action_in(noisy) + self.pos_embed.to(noisy.dtype)
        modulation, time_features = self.time_embed(
            timesteps.reshape(-1).expand(batch), batch_size=batch, hidden_dtype=h.dtype
        )
        bias = attention_bias(cond_mask, h.dtype)
        tokens = tokens.to(h.dtype)
        for block in self.blocks:
            h = block(h, encoder_hidden_states=tokens, encoder_attention_mask=bias, timestep=modulation)
        return self.proj_out(self.norm_out(h, time_features))
