"""Deterministic policies for the reach benchmark, in their own module so tests can check that simulator workers
never import them, plus the normaliser they were "trained" with and reference rollouts that do per-episode
inference (batch size 1) with their own history stacking, independent of the runner's.

:class:`ReachPolicy` reads two frames and returns a chunk over all its action offsets -1..3, whose past row must
never be executed (the runner also supplies it a_{t-1}, which it ignores); :class:`PastActionPolicy` reads the
actions its episode executed at offsets -3..-1 and returns the chunk for offsets 0..2 only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from foresight.checkpoint import LoadedPolicy
from foresight.data import Normalizer
from foresight.eval.chunking import ActionQueue
from foresight.interfaces import Budget, EnvSuite, EpisodeSpec, Method, Stage
from foresight.types import (
    ACTION,
    ACTION_IS_PAD,
    INSTRUCTION,
    OBS_IS_PAD,
    STATE,
    TASK_INDEX,
    DatasetInfo,
    DataSpec,
    image_key,
)

HORIZON = 5  # offsets -1..3: the first action lies in the past and must never be executed
ACTION_OFFSETS = tuple(range(-1, HORIZON - 1))
OBS_OFFSETS = (-2, 0)


@dataclass
class ReachPolicyConfig:
    gain: float = 0.6


class ReachPolicy(Method):
    """Moves toward the target, damped by the velocity seen over the stacked history (zero when padded)."""

    Config = ReachPolicyConfig
    name = "reach_policy"

    def __init__(self, config: ReachPolicyConfig, info: DatasetInfo) -> None:
        super().__init__(config, info)
        self.scale = nn.Parameter(torch.ones(()))

    def stages(self) -> list[Stage]:
        return [Stage("policy", ("scale",), Budget(steps=1, batch_size=1, lr=0.0))]

    def data_spec(self, stage: str | None = None) -> DataSpec:
        return DataSpec(
            obs_offsets=OBS_OFFSETS, action_offsets=ACTION_OFFSETS, views=("front",), proprio_keys=("pos", "target")
        )

    def compute_loss(self, batch: dict[str, Any], stage: str) -> tuple[torch.Tensor, dict[str, float]]:
        return self.scale * 0, {}

    def predict_action_chunk(self, batch: dict[str, Any], *, generator: torch.Generator | None = None) -> torch.Tensor:
        state = batch[STATE]  # normalised: pos / 2, target as is (see normalizer())
        pos_now, pos_then, target = 2 * state[:, -1, :2], 2 * state[:, 0, :2], state[:, -1, 2:]
        velocity = torch.where(batch[OBS_IS_PAD][:, :1], torch.zeros_like(pos_now), (pos_now - pos_then) / 2)
        brightness = batch[image_key("front")][:, -1].float().mean(dim=(1, 2, 3)) / 255  # (B,)
        steps = []
        for j in range(HORIZON):
            raw = self.config.gain * (target - pos_now) - 0.3 * velocity * j + 0.001 * brightness[:, None]
            steps.append(raw / 0.2)  # to normalised actions: min_max over [-0.2, 0.2]
        chunk = torch.stack(steps, dim=1) * self.scale
        chunk[:, 0] = 50.0  # the past action (offset -1): a runner executing it would fling the arm away
        assert len(batch[INSTRUCTION]) == len(batch[TASK_INDEX]) == state.shape[0]
        return chunk


def normalizer() -> Normalizer:
    stat = {"mean": np.zeros(4), "std": np.ones(4)}
    state = {"min": np.array([-2.0, -2.0, -1.0, -1.0]), "max": np.array([2.0, 2.0, 1.0, 1.0]), **stat}
    action = {"min": np.array([-0.2, -0.2]), "max": np.array([0.2, 0.2]), "mean": np.zeros(2), "std": np.ones(2)}
    return Normalizer({ACTION: "min_max", STATE: "min_max"}, {STATE: state, ACTION: action})


def info(tasks: int = 4) -> DatasetInfo:
    return DatasetInfo(
        action_dim=2,
        proprio_dims={"pos": 2, "target": 2},
        image_shapes={"front": (6, 6, 3), "wrist": (6, 6, 3)},
        tasks=tuple(f"reach-{t}" for t in range(tasks)),
        instructions=tuple(f"reach target {t}" for t in range(tasks)),
    )


def loaded_policy(tmp: Path, gain: float = 0.6) -> LoadedPolicy:
    method = ReachPolicy(ReachPolicyConfig(gain=gain), info()).eval()
    provenance = {"checkpoint": str(tmp / "ckpt"), "step": 7, "stage": "policy", "method": "reach_policy"}
    return LoadedPolicy(
        method=method,
        normalizer=normalizer(),
        config={"method": {"name": "reach_policy", "gain": gain}},
        spec=method.data_spec(None),
        provenance=provenance,
        path=tmp / "ckpt",
    )


def reference_rollout(suite: EnvSuite, loaded: LoadedPolicy, episode: EpisodeSpec) -> tuple[bool, list[list[float]]]:
    """Per-episode inference with a plain list of every frame: offset ``o`` reads ``frames[max(t + o, 0)]``."""
    env = suite.make_env()
    frames = [env.reset(episode)]
    replan = suite.config.replan_every or (HORIZON - 1)
    executed: list[list[float]] = []
    while True:
        t = len(frames) - 1
        picked = [frames[max(t + o, 0)] for o in OBS_OFFSETS]
        state = np.stack([np.concatenate([f.proprio["pos"], f.proprio["target"]]) for f in picked]).astype(np.float32)
        pixels = torch.from_numpy(np.stack([f.images["front"] for f in picked]))
        batch = {
            image_key("front"): pixels.permute(0, 3, 1, 2)[None],
            STATE: loaded.normalizer.normalize(STATE, torch.from_numpy(state))[None],
            OBS_IS_PAD: torch.tensor([[t + o < 0 for o in OBS_OFFSETS]]),
            INSTRUCTION: [picked[-1].instruction],
            TASK_INDEX: torch.tensor([episode.task_index]),
        }
        with torch.no_grad():
            chunk = loaded.normalizer.unnormalize(ACTION, loaded.method.predict_action_chunk(batch))[0].numpy()
        for action in chunk[1 : 1 + replan]:  # index 0 is offset -1
            result = env.step(action)
            executed.append(np.asarray(action, dtype=np.float64).tolist())
            if result.done:
                return result.success, executed
            if result.info.get("policy_reset"):
                frames = [result.observation]
                break
            frames.append(result.observation)


PAST_OFFSETS = (-3, -2, -1)
PAST_HORIZON = 3
PAST_WEIGHTS = (0.05, -0.1, 0.2)  # distinct per offset: a shifted or reordered history changes the output
PAD_WEIGHTS = (0.01, 0.02, 0.04)  # distinct per offset: every pad pattern changes the output


class PastActionPolicy(Method):
    """Moves toward the target, plus terms of the supplied past actions (values and pad flags).

    Records every batch row it is given (instruction, normalised state, past actions, pad flags) in ``seen``.
    """

    Config = ReachPolicyConfig
    name = "past_action_policy"

    def __init__(self, config: ReachPolicyConfig, info: DatasetInfo) -> None:
        super().__init__(config, info)
        self.scale = nn.Parameter(torch.ones(()))
        self.seen: list[dict[str, Any]] = []

    def stages(self) -> list[Stage]:
        return [Stage("policy", ("scale",), Budget(steps=1, batch_size=1, lr=0.0))]

    def data_spec(self, stage: str | None = None) -> DataSpec:
        return DataSpec(
            obs_offsets=(0,),
            action_offsets=(*PAST_OFFSETS, *range(PAST_HORIZON)),
            views=("front",),
            proprio_keys=("pos", "target"),
        )

    def compute_loss(self, batch: dict[str, Any], stage: str) -> tuple[torch.Tensor, dict[str, float]]:
        return self.scale * 0, {}

    def predict_action_chunk(self, batch: dict[str, Any], *, generator: torch.Generator | None = None) -> torch.Tensor:
        past, pad = batch[ACTION], batch[ACTION_IS_PAD]
        assert past.shape == (len(batch[INSTRUCTION]), len(PAST_OFFSETS), 2), past.shape  # never the chunk's rows
        self.seen.append(
            {
                "instruction": list(batch[INSTRUCTION]),
                "state": batch[STATE][:, -1].numpy().copy(),
                "past": past.numpy().copy(),
                "pad": pad.numpy().copy(),
            }
        )
        state = batch[STATE][:, -1]
        pos, target = 2 * state[:, :2], state[:, 2:]
        memory = (torch.tensor(PAST_WEIGHTS)[None, :, None] * past).sum(dim=1)
        flags = (torch.tensor(PAD_WEIGHTS)[None, :] * pad.float()).sum(dim=1, keepdim=True)
        steps = [self.config.gain * (target - pos) / 0.2 + memory + flags + 0.1 * j for j in range(PAST_HORIZON)]
        return torch.stack(steps, dim=1) * self.scale


def loaded_past_policy(tmp: Path) -> LoadedPolicy:
    method = PastActionPolicy(ReachPolicyConfig(), info()).eval()
    provenance = {"checkpoint": str(tmp / "ckpt"), "step": 3, "stage": "policy", "method": "past_action_policy"}
    return LoadedPolicy(
        method=method,
        normalizer=normalizer(),
        config={"method": {"name": "past_action_policy"}},
        spec=method.data_spec(None),
        provenance=provenance,
        path=tmp / "ckpt",
    )


def clamped_past(executed: list[np.ndarray], offsets: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Past actions at ``t = len(executed)`` as a training window reads them: ``t+o < 0`` clamps to the first
    action and is flagged; with no action executed yet the padded rows are zeros."""
    t = len(executed)
    rows, pad = [], []
    for o in offsets:
        pad.append(t + o < 0)
        rows.append(executed[max(t + o, 0)] if executed else np.zeros(2, dtype=np.float32))
    return np.stack(rows).astype(np.float32), np.array(pad)


def reference_past_rollout(
    suite: EnvSuite, loaded: LoadedPolicy, episode: EpisodeSpec
) -> tuple[bool, list[list[float]], list[dict[str, Any]]]:
    """Per-episode rollout of :class:`PastActionPolicy` keeping its own list of executed actions.

    Returns the success, every executed action, and per query the instruction, normalised state and the
    normalised past actions and pad flags it must have been given.
    """
    cfg = suite.config
    replan = cfg.replan_every or (1 if cfg.temporal_ensemble is not None else PAST_HORIZON)
    queue = ActionQueue(replan, cfg.temporal_ensemble)
    env = suite.make_env()
    frame = env.reset(episode)
    since_reset: list[np.ndarray] = []  # executed since the episode or the last policy reset
    executed: list[list[float]] = []
    queries: list[dict[str, Any]] = []
    while True:
        state = np.concatenate([frame.proprio["pos"], frame.proprio["target"]]).astype(np.float32)
        past, pad = clamped_past(since_reset, PAST_OFFSETS)
        batch = {
            image_key("front"): torch.from_numpy(frame.images["front"]).permute(2, 0, 1)[None, None],
            STATE: loaded.normalizer.normalize(STATE, torch.from_numpy(state))[None, None],
            OBS_IS_PAD: torch.tensor([[False]]),
            ACTION: loaded.normalizer.normalize(ACTION, torch.from_numpy(past))[None],
            ACTION_IS_PAD: torch.from_numpy(pad)[None],
            INSTRUCTION: [frame.instruction],
            TASK_INDEX: torch.tensor([episode.task_index]),
        }
        queries.append(
            {
                "instruction": frame.instruction,
                "state": batch[STATE][0, 0].numpy(),
                "past": batch[ACTION][0].numpy(),
                "pad": pad,
            }
        )
        with torch.no_grad():
            chunk = loaded.method.predict_action_chunk(batch)
        loaded.method.seen.pop()  # only the runner's calls are recorded
        actions = queue.plan(len(since_reset), loaded.normalizer.unnormalize(ACTION, chunk)[0].numpy())
        for action in actions:
            result = env.step(action)
            executed.append(np.asarray(action, dtype=np.float64).tolist())
            since_reset.append(np.asarray(action, dtype=np.float32))
            frame = result.observation
            if result.done:
                return result.success, executed, queries
            if result.info.get("policy_reset"):
                since_reset = []
                queue.reset()
                break
