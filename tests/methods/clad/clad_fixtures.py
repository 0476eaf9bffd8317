"""Tiny CLaD builders and batches for the tests in this folder (features given directly, so no VLM runs)."""

from __future__ import annotations

import dataclasses

import torch

from foresight.methods.clad import CLaD, CLaDConfig
from foresight.methods.clad.tiny import TINY_EMBED_DIM, tiny_config
from foresight.types import ACTION, ACTION_IS_PAD, INSTRUCTION, STATE, TASK_INDEX, DatasetInfo, feature_key

ACTION_DIM = 7
PROPRIO_DIM = 9
VLM = "decisionnce"
INFO = DatasetInfo(
    action_dim=ACTION_DIM,
    proprio_dims={"joint_states": 7, "gripper_states": 2},
    image_shapes={"agentview": (64, 64, 3), "wrist": (64, 64, 3)},
    tasks=("task_a", "task_b"),
    instructions=("put the bowl in the drawer", "open the microwave"),
    view_roles={"primary": "agentview", "wrist": "wrist"},
    proprio_roles={"arm": "joint_states", "gripper": "gripper_states"},
)


def config(**changes: dict) -> CLaDConfig:
    """The tiny config, with ``dynamics={...}``, ``policy={...}`` or ``vlm={...}`` field changes applied."""
    cfg = tiny_config("unused-checkpoint.pth")
    for section, fields in changes.items():
        setattr(cfg, section, dataclasses.replace(getattr(cfg, section), **fields))
    return cfg


def build(seed: int = 0, **changes: dict) -> CLaD:
    torch.manual_seed(seed)
    return CLaD(config(**changes), INFO)


def batch(size: int, frames: int, actions: int, seed: int = 0, dim: int = TINY_EMBED_DIM) -> dict:
    """A batch in the data layer's layout with cached-feature keys (``frames`` observation offsets)."""
    g = torch.Generator().manual_seed(seed)
    return {
        STATE: torch.randn(size, frames, PROPRIO_DIM, generator=g),
        feature_key(VLM, "agentview"): torch.randn(size, frames, dim, generator=g),
        feature_key(VLM, "instruction"): torch.randn(size, dim, generator=g),
        ACTION: torch.rand(size, actions, ACTION_DIM, generator=g) * 2 - 1,
        ACTION_IS_PAD: torch.zeros(size, actions, dtype=torch.bool),
        INSTRUCTION: [INFO.instructions[i % 2] for i in range(size)],
        TASK_INDEX: torch.arange(size) % 2,
    }


def stage1_batch(size: int = 8, seed: int = 0) -> dict:
    return batch(size, frames=3, actions=6, seed=seed)


def stage2_batch(size: int = 8, seed: int = 0) -> dict:
    return batch(size, frames=2, actions=12, seed=seed)


def inference_batch(training: dict) -> dict:
    """What the evaluation runner gives CLaD for the same window: the past actions a_(t-τ:t), not the chunk."""
    batch = dict(training)
    batch[ACTION], batch[ACTION_IS_PAD] = training[ACTION][:, :6], training[ACTION_IS_PAD][:, :6]
    return batch
