"""Act-VAE (§III-C1): a transformer VQ-VAE that turns an action chunk into ``N_q`` discrete codes and back.

The codes are the "physical language" every later stage speaks: the VD-VAE quantises visual transitions onto this
codebook, the token policy predicts them, and NTP inference decodes them into actions. The quantiser is
vector-quantize-pytorch's :class:`VectorQuantize` (nearest neighbour, straight-through gradients, commitment loss).
"""

from __future__ import annotations

import torch
from torch import nn
from vector_quantize_pytorch import VectorQuantize

from foresight.methods.clap.blocks import transformer
from foresight.methods.clap.config import ActVAEConfig


class ActVAE(nn.Module):
    """``(B, H, A)`` chunk -> ``N_q`` registers -> codebook indices ``(B, N_q)`` -> ``(B, H, A)`` chunk.

    The encoder embeds each action, appends ``N_q`` learnable register tokens and runs self-attention over the
    joint sequence; the registers, projected to ``code_dim``, are the continuous latents ``z_e``. The decoder
    attends from ``H`` learned query tokens jointly with the quantised latents and reads one action per query.
    """

    def __init__(self, cfg: ActVAEConfig, action_dim: int) -> None:
        super().__init__()
        self.cfg, self.action_dim = cfg, action_dim
        d = cfg.hidden_dim
        self.action_in = nn.Linear(action_dim, d)
        self.action_pos = nn.Parameter(torch.randn(1, cfg.chunk, d) * 0.02)
        self.registers = nn.Parameter(torch.randn(1, cfg.num_codes, d) * 0.02)
        self.encoder = transformer(d, cfg.depth, cfg.num_heads, cfg.dropout)
        self.to_code = nn.Linear(d, cfg.code_dim)
        learned = cfg.codebook_update == "learned"
        self.vq = VectorQuantize(
            dim=cfg.code_dim,
            codebook_size=cfg.codebook_size,
            decay=cfg.codebook_decay,
            commitment_weight=cfg.commitment,
            learnable_codebook=learned,
            ema_update=not learned,
        )
        self.from_code = nn.Linear(cfg.code_dim, d)
        self.code_pos = nn.Parameter(torch.randn(1, cfg.num_codes, d) * 0.02)
        self.queries = nn.Parameter(torch.randn(1, cfg.chunk, d) * 0.02)
        self.decoder = transformer(d, cfg.depth, cfg.num_heads, cfg.dropout)
        self.action_out = nn.Linear(d, action_dim)

    @property
    def codebook(self) -> torch.Tensor:
        """``(K, code_dim)``: the action codebook ``C_act`` (read by the VD-VAE, never written there)."""
        return self.vq.codebook

    def _check(self, actions: torch.Tensor) -> None:
        expected = (self.cfg.chunk, self.action_dim)
        if actions.dim() != 3 or tuple(actions.shape[1:]) != expected:
            raise ValueError(f"Act-VAE takes (B, chunk, action_dim) = (B, *{expected}), got {tuple(actions.shape)}")

    def latents(self, actions: torch.Tensor) -> torch.Tensor:
        """``z_e``: ``(B, N_q, code_dim)`` continuous latents before quantisation (the contrastive positives)."""
        self._check(actions)
        x = self.action_in(actions) + self.action_pos
        x = torch.cat([x, self.registers.expand(x.shape[0], -1, -1)], dim=1)
        return self.to_code(self.encoder(x)[:, -self.cfg.num_codes :])

    def quantize(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(z_q straight-through, indices, commitment loss)``; the codebook's EMA moves only in train mode."""
        return self.vq(z)

    def decode_latents(self, z_q: torch.Tensor) -> torch.Tensor:
        x = torch.cat([self.from_code(z_q) + self.code_pos, self.queries.expand(z_q.shape[0], -1, -1)], dim=1)
        return self.action_out(self.decoder(x)[:, -self.cfg.chunk :])

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """``(B, N_q)`` indices -> ``(B, H, A)`` actions (NTP inference)."""
        return self.decode_latents(self.codebook[codes])

    @torch.no_grad()
    def encode(self, actions: torch.Tensor) -> torch.Tensor:
        """``(B, N_q)`` code indices of a chunk: the targets of the token policy (nearest codebook entries)."""
        return nearest_code(self.latents(actions), self.codebook)

    def loss(self, actions: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Algorithm 1: reconstruction MSE over real (unpadded) actions + the VQ codebook / commitment loss."""
        z_q, codes, commit = self.quantize(self.latents(actions))
        recon = self.decode_latents(z_q)
        err = (recon - actions).pow(2).mean(-1)
        rec = err.mean() if mask is None else (err * mask).sum() / mask.sum().clamp_min(1)
        usage = torch.bincount(codes.flatten(), minlength=self.cfg.codebook_size).gt(0).float().mean()
        return {"loss": rec + commit.sum(), "recon": rec, "commit": commit.sum(), "code_usage": usage}


def nearest_code(z: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Index of the nearest codebook row (squared L2) for each vector of ``z`` ``(..., D)``."""
    flat = z.reshape(-1, z.shape[-1]).float()
    dist = flat.pow(2).sum(-1, keepdim=True) - 2 * flat @ codebook.float().t() + codebook.float().pow(2).sum(-1)
    return dist.argmin(-1).reshape(z.shape[:-1])
