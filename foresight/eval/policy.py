"""One policy call for every live episode: stacked observations in, unnormalised action chunks out.

Batching across simulator workers is where evaluation speed comes from on a GPU (one forward pass for all
episodes instead of one per episode), and the batch is built exactly like a training batch
(:mod:`foresight.types`): uint8 upright images ``(B, O, 3, H, W)``, proprio normalised with the checkpoint's own
statistics, ``observation.is_pad`` from the clamped history, the instruction and the dataset's task index of what
is asked now (:func:`current_task`). A policy whose inference DataSpec has negative action offsets also gets the
actions its episode executed at those offsets, as ``action`` ``(B, n_past, action_dim)`` normalised with the
checkpoint's statistics and ``action_is_pad`` (see :class:`foresight.types.DataSpec`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from foresight.types import (
    ACTION,
    ACTION_IS_PAD,
    INSTRUCTION,
    OBS_IS_PAD,
    STATE,
    TASK_INDEX,
    DataSpec,
    image_key,
)


@dataclass
class Query:
    """One episode waiting for actions: its episode's task and what its worker sent
    (:func:`foresight.eval.history.pack`)."""

    task: str
    observation: dict[str, Any]


def current_task(query: Query) -> str:
    """The task name to look up in :attr:`DatasetInfo.tasks`: the observation's own
    (:attr:`foresight.rollout.Observation.task`, CALVIN's current subtask) when the env sets it, else the episode's.

    A CALVIN episode is a chain of five subtasks, so its task (the chain) is never a training task; the data
    reader's tasks are the subtasks, and a method that embeds the task index (``dp``) needs the current one.
    """
    return query.observation.get("task") or query.task


def policy_views(spec: DataSpec) -> tuple[str, ...]:
    """Camera views the policy needs at evaluation: its own, plus those its frozen encoders read (features are
    computed from pixels at evaluation, never read from a cache)."""
    views = list(spec.views)
    for feature in spec.features:
        views += [s for s in feature.sources if s != INSTRUCTION and s not in views]
    return tuple(views)


def past_action_offsets(spec: DataSpec) -> tuple[int, ...]:
    """The inference spec's negative action offsets: past executed actions the runner supplies in the batch."""
    return tuple(o for o in spec.action_offsets if o < 0)


def execution_start(spec: DataSpec) -> int:
    """Index of the current step's action (offset 0) in a chunk over all the spec's action offsets."""
    if 0 not in spec.action_offsets:
        raise ValueError(
            f"the policy's inference action offsets {spec.action_offsets} do not include 0 (the current step), so "
            "there is no action to execute now"
        )
    return spec.action_offsets.index(0)


class BatchedPolicy:
    """A loaded method, its normaliser and its inference DataSpec, called on a list of :class:`Query`."""

    def __init__(
        self, method: Any, normalizer: Any, spec: DataSpec, device: str | torch.device = "cpu", seed: int = 0
    ) -> None:
        self.method = method
        self.normalizer = normalizer
        self.spec = spec
        self.device = torch.device(device)
        self.views = policy_views(spec)
        self.start = execution_start(spec)
        self.past_offsets = past_action_offsets(spec)
        self.tasks = {name: i for i, name in enumerate(method.info.tasks)}
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.calls = 0
        self.rows = 0
        self.seconds = 0.0

    def batch(self, queries: Sequence[Query]) -> dict[str, Any]:
        """The training-layout batch for ``queries`` on the policy's device."""
        obs = [q.observation for q in queries]
        batch: dict[str, Any] = {}
        for view in self.views:
            pixels = torch.from_numpy(np.stack([o["images"][view] for o in obs]))  # (B, O, H, W, 3)
            batch[image_key(view)] = pixels.permute(0, 1, 4, 2, 3).contiguous().to(self.device)
        if self.spec.proprio_keys:
            state = torch.from_numpy(np.stack([o["proprio"] for o in obs])).to(self.device)
            batch[STATE] = self.normalizer.normalize(STATE, state)
        batch[OBS_IS_PAD] = torch.from_numpy(np.stack([o["is_pad"] for o in obs])).to(self.device)
        if self.past_offsets:
            actions = torch.from_numpy(np.stack([o["past_actions"] for o in obs])).to(self.device)
            batch[ACTION] = self.normalizer.normalize(ACTION, actions)
            batch[ACTION_IS_PAD] = torch.from_numpy(np.stack([o["past_actions_is_pad"] for o in obs])).to(self.device)
        batch[INSTRUCTION] = [o["instruction"] for o in obs]
        # A task the training data did not contain maps to -1: an embedding lookup fails loudly on it, and
        # language-conditioned methods never read the index.
        batch[TASK_INDEX] = torch.tensor([self.tasks.get(current_task(q), -1) for q in queries], device=self.device)
        return batch

    @torch.no_grad()
    def __call__(self, queries: Sequence[Query]) -> np.ndarray:
        """``(B, L, action_dim)`` unnormalised actions from the current step on (``L`` = non-negative offsets).

        The method returns either the chunk for its non-negative action offsets, or one over all its offsets (as
        Diffusion Policy predicts from the past); rows for negative offsets are then dropped, never executed.
        """
        began = time.perf_counter()
        chunk = self.method.predict_action_chunk(self.batch(queries), generator=self.generator)
        total = len(self.spec.action_offsets)
        lengths = sorted({total - self.start, total})
        if chunk.ndim != 3 or chunk.shape[0] != len(queries) or chunk.shape[1] not in lengths:
            raise ValueError(
                f"{type(self.method).__name__}.predict_action_chunk returned shape {tuple(chunk.shape)}; expected "
                f"(batch={len(queries)}, horizon, action_dim) with horizon {' or '.join(map(str, lengths))}: the "
                f"action offsets from 0 on, or all action offsets {self.spec.action_offsets}"
            )
        actions = self.normalizer.unnormalize(ACTION, chunk)[:, chunk.shape[1] - (total - self.start) :]
        out = actions.detach().to("cpu", torch.float32).numpy()
        self.calls += 1
        self.rows += len(queries)
        self.seconds += time.perf_counter() - began
        return out
