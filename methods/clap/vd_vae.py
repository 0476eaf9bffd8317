"""VD-VAE (§III-C2, Algorithm 2): inverse dynamics from frozen visual features onto the frozen Act-VAE codebook.

From the features of ``o_t`` and ``o_{t+H}`` an inverse-dynamics encoder infers action latents ``z_{v,a}`` (quantised
onto the *frozen* action codebook, so a visual transition is labelled in the robot's own action vocabulary) and
environment latents ``z_{v,i}`` (their own learnable codebook, L1-regularised so they hold only nuisance). A forward
decoder predicts ``f_{t+H}`` from ``f_t`` and both quantised streams. The SigLIP loss pulls ``z_{v,a}`` towards the
Act-VAE latents of the true chunk; rows without actions (human video) take an EMA teacher's latents of the clean
transition as their positive while the online branch sees augmented features.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn
from vector_quantize_pytorch import VectorQuantize

from foresight.methods.clap.act_vae import nearest_code
from foresight.methods.clap.blocks import transformer
from foresight.methods.clap.config import ActVAEConfig, VDVAEConfig
from foresight.methods.clap.contrastive import SigLIPLoss


def feature_tokens(grid: torch.Tensor, cfg: VDVAEConfig, where: str) -> torch.Tensor:
    """``(B, K, C, h, w)`` teacher output -> ``(B, K, h*w, C)`` float tokens, checked against the config."""
    if grid.dim() != 5:
        raise ValueError(f"{where} must be (B, frames, C, h, w) teacher features, got {tuple(grid.shape)}")
    c, h, w = grid.shape[2:]
    if c != cfg.feature_dim or h * w != cfg.feature_tokens:
        raise ValueError(
            f"{where} has {c} channels on a {h}x{w} grid, but vd_vae.feature_dim={cfg.feature_dim} and "
            f"vd_vae.feature_tokens={cfg.feature_tokens}: set them to {c} and {h * w}"
        )
    return grid.float().flatten(3).transpose(2, 3)


class InverseDynamics(nn.Module):
    """``(f_t, f_{t+H})`` tokens -> ``z_{v,a}`` ``(B, N_q, code_dim)`` and ``z_{v,i}`` ``(B, N_env, code_dim)``."""

    def __init__(self, cfg: VDVAEConfig, act: ActVAEConfig) -> None:
        super().__init__()
        d = cfg.hidden_dim
        self.num_action, self.num_env = act.num_codes, cfg.num_env_codes
        self.feature_in = nn.Linear(cfg.feature_dim, d)
        self.pos = nn.Parameter(torch.randn(1, 2 * cfg.feature_tokens, d) * 0.02)
        self.registers = nn.Parameter(torch.randn(1, self.num_action + self.num_env, d) * 0.02)
        self.encoder = transformer(d, cfg.depth, cfg.num_heads, 0.0)
        self.to_action = nn.Linear(d, act.code_dim)
        self.to_env = nn.Linear(d, act.code_dim)

    def forward(self, now: torch.Tensor, future: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.feature_in(torch.cat([now, future], dim=1)) + self.pos
        x = torch.cat([x, self.registers.expand(x.shape[0], -1, -1)], dim=1)
        regs = self.encoder(x)[:, -(self.num_action + self.num_env) :]
        return self.to_action(regs[:, : self.num_action]), self.to_env(regs[:, self.num_action :])


class ForwardDecoder(nn.Module):
    """``f_hat_{t+H} = D_fwd(f_t, z_{q,a}, z_{q,i})``: one output token per input token of ``f_t``."""

    def __init__(self, cfg: VDVAEConfig, act: ActVAEConfig) -> None:
        super().__init__()
        d = cfg.hidden_dim
        self.feature_in = nn.Linear(cfg.feature_dim, d)
        self.code_in = nn.Linear(act.code_dim, d)
        self.pos = nn.Parameter(torch.randn(1, cfg.feature_tokens + act.num_codes + cfg.num_env_codes, d) * 0.02)
        self.decoder = transformer(d, cfg.depth, cfg.num_heads, 0.0)
        self.out = nn.Linear(d, cfg.feature_dim)

    def forward(self, now: torch.Tensor, z_action: torch.Tensor, z_env: torch.Tensor) -> torch.Tensor:
        x = torch.cat([self.feature_in(now), self.code_in(torch.cat([z_action, z_env], dim=1))], dim=1) + self.pos
        return self.out(self.decoder(x)[:, : now.shape[1]])


def quantize_onto(z: torch.Tensor, codebook: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Nearest entries of a frozen ``codebook``: (straight-through ``z_q``, indices, commitment ``|z - sg(q)|^2``).

    The codebook receives no gradient and no update: it is the Act-VAE's, read only.
    """
    codes = nearest_code(z, codebook)
    q = codebook.detach()[codes].to(z.dtype)
    return z + (q - z).detach(), codes, F.mse_loss(z, q)


class VDVAE(nn.Module):
    """The stage-2 model: online and EMA-teacher inverse dynamics, environment codebook, forward decoder, SigLIP."""

    def __init__(self, cfg: VDVAEConfig, act: ActVAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.online = InverseDynamics(cfg, act)
        self.teacher = copy.deepcopy(self.online).requires_grad_(False)
        self.env_vq = VectorQuantize(dim=act.code_dim, codebook_size=cfg.env_codebook_size, commitment_weight=1.0)
        self.decoder = ForwardDecoder(cfg, act)
        self.contrastive = SigLIPLoss(cfg.logit_scale_init, cfg.logit_bias_init)

    @torch.no_grad()
    def reset_teacher(self) -> None:
        """The teacher starts as a copy of the online encoder (the stage's starting weights)."""
        for t, o in zip(self.teacher.parameters(), self.online.parameters(), strict=True):
            t.copy_(o)

    @torch.no_grad()
    def update_teacher(self) -> None:
        """Algorithm 2 line 29: ``E_tea <- mu E_tea + (1 - mu) E_inv``."""
        mu = self.cfg.ema_momentum
        for t, o in zip(self.teacher.parameters(), self.online.parameters(), strict=True):
            t.mul_(mu).add_(o.detach(), alpha=1.0 - mu)

    def action_codes(self, now: torch.Tensor, future: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
        """``(B, N_q)`` pseudo action tokens ``z_hat_a`` of a transition (what human video would be labelled with)."""
        z_action, _ = self.online(now, future)
        return nearest_code(z_action, codebook)

    def loss(
        self,
        now: torch.Tensor,
        future: torch.Tensor,
        positives: torch.Tensor,
        action_free: torch.Tensor,
        codebook: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> dict[str, torch.Tensor]:
        """Eq. 4 on tokens ``now``/``future`` ``(B, N, C)``.

        ``positives`` ``(B, N_q, code_dim)`` are ``sg(E_act(a_gt))``; rows where ``action_free`` is True take the
        EMA teacher's action latents of the clean transition instead, and their online input is augmented.
        """
        cfg = self.cfg
        online_now, online_future = now, future
        if bool(action_free.any()):
            with torch.no_grad():
                teacher_action, _ = self.teacher(now, future)
            positives = torch.where(action_free.view(-1, 1, 1), teacher_action, positives)
            online_now, online_future = (
                self._augment(now, action_free, generator),
                self._augment(future, action_free, generator),
            )
        z_action, z_env = self.online(online_now, online_future)
        zq_action, _, commit = quantize_onto(z_action, codebook)
        zq_env, _, env_vq = self.env_vq(z_env)
        recon = F.mse_loss(self.decoder(now, zq_action, zq_env), future)
        con = self.contrastive(z_action, positives.detach())
        reg = z_env.abs().mean()
        vq = commit + env_vq.sum()
        total = recon + cfg.lambda_vq * vq + cfg.lambda_con * con + cfg.lambda_reg * reg
        return {"loss": total, "recon": recon, "vq": vq, "contrastive": con, "env_l1": reg}

    def _augment(self, tokens: torch.Tensor, rows: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Token dropout (rate ``feature_dropout``) on the rows ``rows``: the online branch's augmented view."""
        p = self.cfg.feature_dropout
        if p == 0:
            return tokens
        keep = torch.rand(tokens.shape[:2], generator=generator, device=tokens.device) >= p
        keep = keep | ~rows.view(-1, 1)
        return tokens * keep.unsqueeze(-1) / torch.where(rows.view(-1, 1, 1), 1 - p, 1.0)
