"""Tiny DreamVLA models and training batches for the component tests: the ``dreamvla_tiny`` preset with overrides,
and synthetic teacher targets of the tiny teachers' shapes (tests of the real teachers live in tests/teachers)."""

from __future__ import annotations

import copy
import dataclasses
import sys
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/methods: the contract's INFO and batches

import contract

from foresight.config import load_group
from foresight.methods.dreamvla import DreamVLA
from foresight.types import target_key

INFO = contract.INFO
TARGET_SHAPES = {"motion": (2, 16, 16), "depth": (1, 16, 16), "sam": (16, 4, 4), "dino": (32, 4, 4)}
"""Per frame, as the tiny teachers write them for 128x128 frames (depth resized to 16x16 here)."""


def node(**overrides: Any) -> dict[str, Any]:
    """The tiny preset's config section; ``overrides`` as ``section={key: value}`` or ``key=value``."""
    values = copy.deepcopy(load_group("method", "dreamvla_tiny"))
    for key, value in overrides.items():
        if isinstance(value, dict):
            values.setdefault(key, {}).update(value)
        else:
            values[key] = value
    return values


def four_types(**overrides: Any) -> dict[str, Any]:
    """All four knowledge types, the depth and DINO teachers' tiny shapes."""
    knowledge = {"types": ["dynamic", "depth", "sam", "dino"], "dino_dim": 32, "depth_patch": 8}
    knowledge.update(overrides.pop("knowledge", {}))
    return node(knowledge=knowledge, **overrides)


def build(values: dict[str, Any], seed: int = 0) -> DreamVLA:
    return contract.build(values, INFO, seed)


def batch(method: DreamVLA, stage: str = "finetune", seed: int = 0, size: int = 2) -> dict[str, Any]:
    """A training batch for ``stage`` whose teacher targets are random tensors of the tiny teachers' shapes."""
    spec = method.data_spec(stage)
    out = contract.make_batch(dataclasses.replace(spec, targets=()), INFO, training=True, size=size, seed=seed)
    g = torch.Generator().manual_seed(seed + 1)
    for target in spec.targets:
        shape = (size, len(target.offsets), *TARGET_SHAPES[target.name])
        for source in target.sources:
            value = torch.rand(shape, generator=g) * 3 if target.name == "motion" else torch.rand(shape, generator=g)
            out[target_key(target.name, source)] = (value + (0.1 if target.name == "depth" else 0.0)).half()
    return out
