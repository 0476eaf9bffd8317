"""The action head (§3.4): the core's :class:`~foresight.heads.FlowMatchingHead` with a :class:`DiTDenoiser`,
conditioned on condition tokens ``(B, N, cond_dim)``:

* every expert's latent actions (eq. 7), ``num_queries`` tokens per expert and view, each projected to
  ``cond_dim`` and marked with a learned expert embedding and view embedding. The "mixture" is this set of
  tokens: the paper conditions the head on all of them and names no gate or weighting (§3.3, eq. 7), so the
  DiT's cross-attention does the mixing (ours);
* features of the imagined frames (§3.4): a small convolutional encoder over ``ô_{t+k}``, average-pooled to a
  ``sqrt(frame_tokens)`` grid (ours; the paper does not say which features);
* a learned task token and the robot state (ours, switches ``task_token`` / ``proprio_token``: our SVD is
  image-conditioned only, the paper's also reads the instruction).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from foresight.heads import DiTDenoiser, FlowMatchingHead
from foresight.methods.mola.config import PolicyConfig
from foresight.methods.mola.experts import IMAGENET_MEAN, IMAGENET_STD, to_unit


class FrameEncoder(nn.Module):
    """``(B, 3, S, S)`` imagined frame -> ``(B, frame_tokens, cond_dim)`` pooled convolutional features."""

    def __init__(self, cfg: PolicyConfig) -> None:
        super().__init__()
        self.grid = math.isqrt(cfg.frame_tokens)
        if self.grid**2 != cfg.frame_tokens:
            raise ValueError(f"policy.frame_tokens={cfg.frame_tokens} must be a square (a grid of patches)")
        w = cfg.frame_encoder_width
        self.net = nn.Sequential(
            nn.Conv2d(3, w, 4, 4), nn.GroupNorm(8, w), nn.GELU(),
            nn.Conv2d(w, 2 * w, 2, 2), nn.GroupNorm(8, 2 * w), nn.GELU(),
            nn.AdaptiveAvgPool2d(self.grid),
        )  # fmt: skip
        self.proj = nn.Linear(2 * w, cfg.cond_dim)
        self.pos = nn.Parameter(torch.randn(1, cfg.frame_tokens, cfg.cond_dim) * 0.02)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, frame: torch.Tensor) -> torch.Tensor:
        x = (to_unit(frame, frame.shape[-1]) - self.mean) / self.std
        return self.proj(self.net(x).flatten(2).transpose(1, 2)) + self.pos


class MoLAPolicy(nn.Module):
    """Condition tokens from latent actions, imagined frames, task and state; the flow-matching DiT over chunks."""

    def __init__(
        self,
        cfg: PolicyConfig,
        experts: tuple[str, ...],
        num_views: int,
        latent_dim: int,
        proprio_dim: int,
        num_tasks: int,
        action_dim: int,
    ) -> None:
        super().__init__()
        self.cfg, self.experts = cfg, experts
        c = cfg.cond_dim
        self.action_in = nn.ModuleDict({name: nn.Linear(latent_dim, c) for name in experts})
        self.expert_embed = nn.ParameterDict({name: nn.Parameter(torch.randn(1, 1, c) * 0.02) for name in experts})
        self.view_embed = nn.Parameter(torch.randn(num_views, 1, c) * 0.02)
        self.frames = FrameEncoder(cfg)
        self.task = nn.Embedding(num_tasks + 1, c) if cfg.task_token else None  # last row: a task not trained on
        self.proprio = nn.Linear(proprio_dim, c) if cfg.proprio_token else None
        network = DiTDenoiser(
            action_dim,
            cfg.horizon,
            c,
            num_layers=cfg.num_layers,
            hidden_dim=cfg.hidden_dim,
            num_heads=cfg.num_heads,
            dropout=cfg.dropout,
        )
        self.head = FlowMatchingHead(
            action_dim,
            cfg.horizon,
            c,
            noise_net=network,
            num_inference_steps=cfg.num_inference_steps,
            time_sampling=cfg.time_sampling,
        )
        self.num_tasks = num_tasks

    def condition(
        self,
        latent_actions: list[dict[str, torch.Tensor]],
        futures: list[torch.Tensor],
        state: torch.Tensor | None,
        task_index: torch.Tensor | None,
    ) -> torch.Tensor:
        """``(B, N, cond_dim)``: per view, every expert's ``Q`` tokens then the imagined frame's tokens; then
        the task and state tokens."""
        tokens = []
        for v, (actions, future) in enumerate(zip(latent_actions, futures, strict=True)):
            for name in self.experts:
                tokens.append(self.action_in[name](actions[name]) + self.expert_embed[name] + self.view_embed[v])
            tokens.append(self.frames(future) + self.view_embed[v])
        if self.task is not None and task_index is not None:
            index = torch.where(task_index < 0, torch.full_like(task_index, self.num_tasks), task_index)
            tokens.append(self.task(index.clamp(max=self.num_tasks))[:, None])
        if self.proprio is not None and state is not None:
            tokens.append(self.proprio(state)[:, None])
        return torch.cat(tokens, dim=1)
