"""A CLaD small enough to train on a laptop CPU in seconds, with a random-weight DecisionNCE-format VLM.

For smoke runs and end-to-end tests, never for results::

    overrides = tiny_overrides(tmp_path)          # writes tmp_path/tiny-decisionnce.pth
    # accelerate launch -m foresight.train method=clad data=demo <overrides> train.steps=20

The checkpoint has the exact layout of a released DecisionNCE file (OpenAI CLIP-RN state dict under ``model.``
inside ``{"model": ...}``), so the real loading path (:mod:`foresight.encoders.decisionnce`) is what runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from foresight.budget import Budget
from foresight.fileio import atomic_write
from foresight.methods.clad.config import CLaDConfig, DynamicsConfig, PolicyConfig, VLMConfig

TINY_EMBED_DIM = 32
TINY_IMAGE_SIZE = 64


def write_tiny_decisionnce(path: str | os.PathLike[str], seed: int = 0) -> Path:
    """Save a random CLIP-RN (ModifiedResNet of width 8, one text layer) as a DecisionNCE checkpoint.

    The text tower keeps CLIP's 49,408-token vocabulary so open_clip's bundled tokenizer applies unchanged.
    """
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg

    torch.manual_seed(seed)
    model = CLIP(
        TINY_EMBED_DIM,
        vision_cfg=CLIPVisionCfg(layers=(1, 1, 1, 1), width=8, image_size=TINY_IMAGE_SIZE),
        text_cfg=CLIPTextCfg(context_length=16, vocab_size=49408, width=64, heads=1, layers=1),
        quick_gelu=True,
    )
    state = {f"model.{k}": v for k, v in model.state_dict().items() if k != "logit_scale"}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda tmp: torch.save({"model": state}, tmp))


def tiny_config(checkpoint: str | os.PathLike[str]) -> CLaDConfig:
    """H = 64, one layer per attention stack, a 2-block width-64 noise network, 10 diffusion steps."""
    return CLaDConfig(
        vlm=VLMConfig(kwargs={"checkpoint": str(checkpoint)}, image_dim=TINY_EMBED_DIM, text_dim=TINY_EMBED_DIM),
        dynamics=DynamicsConfig(
            hidden_dim=64, num_heads=4, transition_depth=1, cross_modal_depth=1, pool_depth=1, dropout=0.0,
            budget=Budget(steps=20, batch_size=16, lr=3e-4),
        ),
        policy=PolicyConfig(
            obs_dim=64, head_hidden_dim=64, head_blocks=2, head_dropout=0.0, diffusion_steps=10,
            budget=Budget(steps=20, batch_size=16, lr=3e-4),
        ),
    )  # fmt: skip


def tiny_overrides(folder: str | os.PathLike[str]) -> list[str]:
    """``foresight.train`` arguments for :func:`tiny_config`, writing the tiny VLM checkpoint into ``folder``."""
    checkpoint = write_tiny_decisionnce(Path(folder) / "tiny-decisionnce.pth")
    return [
        "method=clad",
        f"method.vlm.kwargs.checkpoint={checkpoint}",
        f"method.vlm.image_dim={TINY_EMBED_DIM}",
        f"method.vlm.text_dim={TINY_EMBED_DIM}",
        "method.dynamics.hidden_dim=64",
        "method.dynamics.num_heads=4",
        "method.dynamics.transition_depth=1",
        "method.dynamics.cross_modal_depth=1",
        "method.dynamics.pool_depth=1",
        "method.dynamics.dropout=0.0",
        "method.dynamics.budget.steps=20",
        "method.dynamics.budget.batch_size=16",
        "method.dynamics.budget.warmup_fraction=0.0",
        "method.policy.obs_dim=64",
        "method.policy.head_hidden_dim=64",
        "method.policy.head_blocks=2",
        "method.policy.head_dropout=0.0",
        "method.policy.diffusion_steps=10",
        "method.policy.budget.steps=20",
        "method.policy.budget.batch_size=16",
        "method.policy.budget.warmup_fraction=0.0",
    ]
