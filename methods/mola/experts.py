"""One latent inverse-dynamics expert (§3.3, eq. 1-3): ViT features of ``(o_t, o_{t+k})``, a spatio-temporal
transformer with learnable latent-action queries, and the expert's own VQ codebook.

The three experts (flow, depth, semantic) share this architecture and differ only in what their decoders are
trained to reconstruct (:mod:`.decoders`); each keeps its own weights and codebook (§3.3, Table 13: a shared
codebook does worse). The codebook is :class:`vector_quantize_pytorch.VectorQuantize` (EMA codebook, commitment
loss, dead-code re-seeding), the maintained implementation, not a hand-rolled one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from vector_quantize_pytorch import VectorQuantize

from foresight.methods.mola.config import ExpertConfig

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def to_unit(frames: torch.Tensor, size: int) -> torch.Tensor:
    """``(N, 3, H, W)`` uint8 (or float in [0, 1]) -> float in [0, 1] at ``size x size`` (the experts' input)."""
    x = frames.float() / 255.0 if frames.dtype == torch.uint8 else frames.float()
    if tuple(x.shape[-2:]) != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x.clamp(0.0, 1.0)


def transformer(width: int, heads: int, layers: int, dropout: float) -> nn.TransformerEncoder:
    """Pre-norm transformer layers (GELU, 4x MLP), as ViT."""
    layer = nn.TransformerEncoderLayer(
        width, heads, 4 * width, dropout, activation="gelu", batch_first=True, norm_first=True
    )
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)


class ViTEncoder(nn.Module):
    """Eq. 1: a ViT over one frame: patch embedding, learned positions, pre-norm transformer layers."""

    def __init__(self, cfg: ExpertConfig) -> None:
        super().__init__()
        self.size, self.patch = cfg.image_size, cfg.patch_size
        self.grid = cfg.image_size // cfg.patch_size
        self.patch_embed = nn.Conv2d(3, cfg.hidden_dim, cfg.patch_size, cfg.patch_size)
        self.pos = nn.Parameter(torch.randn(1, self.grid**2, cfg.hidden_dim))
        self.blocks = transformer(cfg.hidden_dim, cfg.num_heads, cfg.encoder_layers, cfg.dropout)
        self.norm = nn.LayerNorm(cfg.hidden_dim)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` uint8 or [0, 1] float -> ``(N, P, D)`` patch features."""
        x = (to_unit(frames, self.size) - self.mean) / self.std
        tokens = self.patch_embed(x).flatten(2).transpose(1, 2) + self.pos
        return self.norm(self.blocks(tokens))


@dataclass
class ExpertOutput:
    """What one expert infers from a transition."""

    tokens: torch.Tensor  # (N, Q, latent_dim) quantised latent actions (eq. 3), straight-through gradients
    indices: torch.Tensor  # (N, Q) codebook indices
    commit_loss: torch.Tensor  # scalar VQ commitment loss
    current: torch.Tensor  # (N, P, D) features of o_t (eq. 1), what the decoders start from (eq. 4, 6)


class LatentIDM(nn.Module):
    """Eq. 1-3: ``(o_t, o_{t+k}) -> `` ``num_queries`` discrete latent actions of width ``latent_dim``.

    Spatio-temporal transformer (eq. 2), ours where the paper is silent on its layout: time first, then space.
    Each patch position's two features (``o_t``, ``o_{t+k}``) and their difference are fused into one token (a
    linear map: the temporal step); then the latent-action queries, each starting from the pooled fused tokens,
    and the fused tokens attend to one another over space. Without these two direct paths the queries collapsed
    to one code on the toy pairs of tests/methods/mola/test_mola_experts.py. The query outputs are projected to
    ``latent_dim`` and quantised.
    """

    def __init__(self, cfg: ExpertConfig) -> None:
        super().__init__()
        self.encoder = ViTEncoder(cfg)
        self.queries = nn.Parameter(torch.randn(1, cfg.num_queries, cfg.hidden_dim) * 0.02)
        self.temporal = nn.Sequential(nn.Linear(3 * cfg.hidden_dim, cfg.hidden_dim), nn.GELU())
        self.st_transformer = transformer(cfg.hidden_dim, cfg.num_heads, cfg.layers, cfg.dropout)
        self.to_latent = nn.Linear(cfg.hidden_dim, cfg.latent_dim)
        self.vq = VectorQuantize(
            dim=cfg.latent_dim,
            codebook_size=cfg.codebook_size,
            decay=cfg.codebook_decay,
            commitment_weight=cfg.commitment_weight,
            threshold_ema_dead_code=cfg.dead_code_threshold,
            kmeans_init=False,
        )
        self.num_queries = cfg.num_queries

    def forward(self, current: torch.Tensor, future: torch.Tensor) -> ExpertOutput:
        """``current``, ``future``: ``(N, 3, H, W)`` uint8 or [0, 1] float frames."""
        both = self.encoder(torch.cat([current, future]))  # one pass over 2N frames
        now, later = both.chunk(2)
        fused = self.temporal(torch.cat([now, later, later - now], dim=-1))  # (N, P, D): the temporal step
        n = now.shape[0]
        queries = self.queries + fused.mean(dim=1, keepdim=True)  # each query starts from the pooled transition
        sequence = torch.cat([queries.expand(n, -1, -1), fused], dim=1)
        latent = self.to_latent(self.st_transformer(sequence)[:, : self.num_queries])
        quantized, indices, commit = self.vq(latent)
        return ExpertOutput(quantized, indices, commit.sum(), now)


def codebook_usage(indices: torch.Tensor, codebook_size: int) -> dict[str, float]:
    """Codes used and the perplexity ``exp(H(p))`` of the code histogram (1: collapse; codebook_size: uniform)."""
    counts = torch.bincount(indices.reshape(-1).long(), minlength=codebook_size).float()
    p = counts / counts.sum().clamp(min=1.0)
    entropy = -(p[p > 0] * p[p > 0].log()).sum()
    return {"codes_used": float((counts > 0).sum()), "perplexity": float(entropy.exp())}
