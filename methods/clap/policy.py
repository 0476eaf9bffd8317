"""CLAP-NTP's token policy (§III-D): action codes as a continuation of an observation-and-instruction prefix.

The backbone is any transformers model that takes ``inputs_embeds`` and returns every layer's hidden states: a
causal LM loaded from a local folder (``AutoModelForCausalLM``; its language-model head is dropped, the policy has
its own categorical head over the action codebook) or a GPT-2-layout transformer built from scratch. The frozen
encoder's image and instruction embeddings and the proprioceptive state enter as projected prefix tokens; the
codes follow a begin token.
"""

from __future__ import annotations

import torch
from torch import nn

from foresight.methods.clad.config import VLMConfig
from foresight.methods.clap.config import BackboneConfig
from foresight.nn.gpt import gpt2_on_embeddings


def build_backbone(cfg: BackboneConfig, positions: int) -> nn.Module:
    """The backbone without any vocabulary head: ``module(inputs_embeds=..., output_hidden_states=True)``."""
    if cfg.kind == "scratch":
        return gpt2_on_embeddings(cfg.hidden_dim, cfg.num_layers, cfg.num_heads, positions, cfg.dropout)
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(cfg.path).base_model


def text_config(backbone: nn.Module):
    config = backbone.config
    return getattr(config, "text_config", config)


class TokenPolicy(nn.Module):
    """``p(z_a | o_t, I)``: logits ``(B, N_q, K)`` by teacher forcing; greedy decoding at inference."""

    def __init__(
        self, backbone: BackboneConfig, vlm: VLMConfig, proprio_dim: int, num_codes: int, codebook_size: int
    ) -> None:
        super().__init__()
        self.num_codes, self.codebook_size = num_codes, codebook_size
        self.num_prefix = len(vlm.views) + 1 + (proprio_dim > 0)
        self.backbone = build_backbone(backbone, self.num_prefix + num_codes)
        config = text_config(self.backbone)
        self.width, self.num_layers = int(config.hidden_size), int(config.num_hidden_layers)
        self.image_in = nn.Linear(vlm.image_dim, self.width)
        self.text_in = nn.Linear(vlm.text_dim, self.width)
        self.state_in = nn.Linear(proprio_dim, self.width) if proprio_dim else None
        self.source_embed = nn.Parameter(torch.randn(self.num_prefix, self.width) * 0.02)
        self.code_embed = nn.Embedding(codebook_size + 1, self.width)  # the last row is the begin token
        self.head = nn.Linear(self.width, codebook_size)

    def prefix(self, images: torch.Tensor, text: torch.Tensor, state: torch.Tensor | None) -> torch.Tensor:
        """``(B, views, image_dim)``, ``(B, text_dim)`` and ``(B, proprio_dim)`` (or None without proprio keys) ->
        ``(B, P, width)`` prefix tokens: one per view, the instruction, the proprioceptive state."""
        parts = [self.image_in(images), self.text_in(text).unsqueeze(1)]
        if self.state_in is not None:
            parts.append(self.state_in(state).unsqueeze(1))
        tokens = torch.cat(parts, dim=1)
        return tokens + self.source_embed.to(tokens.dtype)

    def _run(self, tokens: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        out = self.backbone(inputs_embeds=tokens, output_hidden_states=True)
        return out.last_hidden_state, tuple(out.hidden_states[1:])

    def _code_tokens(self, prefix: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        begin = torch.full((codes.shape[0], 1), self.codebook_size, dtype=torch.long, device=codes.device)
        return torch.cat([prefix, self.code_embed(torch.cat([begin, codes], dim=1)).to(prefix.dtype)], dim=1)

    def forward(self, prefix: torch.Tensor, codes: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """Teacher forcing on the ground-truth ``codes`` ``(B, N_q)``: logits at every code position ``(B, N_q, K)``
        and each layer's hidden states ``(B, P + N_q, width)``.

        The sequence is ``prefix, <begin>, z_1 .. z_{N_q - 1}``; position ``P + l`` predicts ``z_{l+1}``. Causal
        attention keeps the prefix positions' states independent of the codes, so the RF head reads the same
        states here as at inference, where no code is decoded.
        """
        last, hidden = self._run(self._code_tokens(prefix, codes[:, :-1]))
        return self.head(last[:, prefix.shape[1] :]), hidden

    def prefix_states(self, prefix: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Each layer's hidden states at the prefix positions only (RF inference: no code is decoded)."""
        return self._run(prefix)[1]

    @torch.no_grad()
    def generate(self, prefix: torch.Tensor) -> torch.Tensor:
        """Greedy decoding of ``N_q`` codes, one backbone pass per code (CLAP-NTP inference)."""
        codes = torch.empty(prefix.shape[0], 0, dtype=torch.long, device=prefix.device)
        for _ in range(self.num_codes):
            last, _ = self._run(self._code_tokens(prefix, codes))
            codes = torch.cat([codes, self.head(last[:, -1]).argmax(-1, keepdim=True)], dim=1)
        return codes
