"""From predicted action chunks to the actions an episode executes (receding horizon or temporal ensembling), and
from that to the steps whose camera images anyone reads.

All are protocol options (``env.replan_every``, ``env.temporal_ensemble``, ``env.adaptive_ensemble``) because
they change success rates: openpi executes 5 actions of each chunk before replanning; ACT and LBP query the policy
every step and average the predictions that overlap the current step; CogACT and DreamVLA weigh those predictions
by how much they agree with the newest one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class ActionQueue:
    """Per-episode bookkeeping of predicted chunks.

    A chunk predicted at time ``t`` holds actions for ``t, t+1, ...``. With ``ensemble_decay=None`` the first
    ``replan_every`` actions of the newest chunk are executed. With ``ensemble_decay=k`` the action for step ``s``
    averages every stored chunk's prediction for ``s`` with weights ``exp(-k * i)``, where ``i = 0`` is the
    oldest prediction: ACT's temporal ensembling (Zhao et al. 2023, §3.3; ``exp_weights = np.exp(-k *
    np.arange(n))`` over the predictions ordered oldest first in its ``imitate_episodes.py``), so older
    predictions weigh more and ``k`` sets how fast new ones are let in.

    With ``adaptive_alpha=a`` (CogACT's adaptive ensembling, Li et al. 2024, §3.4; its ``AdaptiveEnsembler``,
    which DreamVLA's ``action_ensemble.py`` reuses) the weights are ``exp(a * cos(p_i, p_new))``: each stored
    prediction for step ``s`` counts by its cosine similarity to the newest chunk's prediction for ``s``, so
    predictions that disagree with the current plan (another mode) fade out. CogACT uses ``a = 0.1``.
    """

    def __init__(
        self, replan_every: int, ensemble_decay: float | None = None, adaptive_alpha: float | None = None
    ) -> None:
        if replan_every < 1:
            raise ValueError(f"replan_every must be at least 1, got {replan_every}")
        if ensemble_decay is not None and not ensemble_decay >= 0:
            raise ValueError(f"the temporal-ensembling decay k must be non-negative, got {ensemble_decay}")
        if adaptive_alpha is not None and ensemble_decay is not None:
            raise ValueError("temporal and adaptive ensembling are two ways to weigh chunks: choose one")
        self.replan_every = replan_every
        self.ensemble_decay = ensemble_decay
        self.adaptive_alpha = adaptive_alpha
        self._chunks: list[tuple[int, np.ndarray]] = []

    def reset(self) -> None:
        self._chunks.clear()

    def plan(self, t: int, chunk: np.ndarray) -> np.ndarray:
        """Record ``chunk`` (``(L, action_dim)``, starting at step ``t``) and return the next actions to execute."""
        if chunk.ndim != 2:
            raise ValueError(f"an action chunk must be (length, action_dim), got shape {chunk.shape}")
        length = chunk.shape[0]
        if self.replan_every > length:
            raise ValueError(
                f"replan_every={self.replan_every} exceeds the {length} actions the policy predicts from the current "
                f"step: set env.replan_every to at most {length}"
            )
        if self.ensemble_decay is None and self.adaptive_alpha is None:
            return chunk[: self.replan_every].copy()
        self._chunks = [(start, c) for start, c in self._chunks if start + len(c) > t]
        self._chunks.append((t, chunk))
        actions = []
        for step in range(t, t + self.replan_every):
            predictions = np.stack([c[step - start] for start, c in self._chunks if start <= step < start + len(c)])
            weights = self._weights(predictions)
            actions.append(np.tensordot(weights / weights.sum(), predictions, axes=1))
        return np.stack(actions).astype(chunk.dtype, copy=False)

    def _weights(self, predictions: np.ndarray) -> np.ndarray:
        """Unnormalised weights of the ``(n, action_dim)`` predictions for one step, oldest first."""
        if self.adaptive_alpha is None:
            return np.exp(-self.ensemble_decay * np.arange(len(predictions)))
        newest = predictions[-1]
        norms = np.linalg.norm(predictions, axis=1) * np.linalg.norm(newest)
        cosine = predictions @ newest / (norms + 1e-7)  # CogACT's epsilon
        return np.exp(self.adaptive_alpha * cosine)


RENDER_MODES = ("on_query", "every_step")
"""``eval.render``: render only the frames a policy or a video reads (the default), or every step (the
baseline that benchmarks/eval_throughput.py compares against; both give the same outcomes)."""


class RenderPlan:
    """Which steps of an episode need camera images, from how chunks are executed and what the policy reads.

    The policy is queried every ``replan_every`` steps after the episode (or CALVIN subtask) starts, and each
    query reads the frames at its observation ``offsets`` (``<= 0``). So the frame ``u`` steps into the segment is
    read iff ``u - o`` is a multiple of ``replan_every`` for some offset ``o``: CLaD (chunk 6, offsets ``(-6,
    0)``) and dp (chunk 8, offset 0) read every 6th and every 8th frame; temporal or adaptive ensembling (a query every
    step) and videos read all of them. A query cut short (the episode ends, or a subtask does, which restarts the
    segment) only means an image was rendered that nobody reads. Frame 0, the reset's, is always rendered.
    """

    def __init__(
        self, replan_every: int, offsets: Sequence[int], *, reads_images: bool = True, every_step: bool = False
    ) -> None:
        if replan_every < 1:
            raise ValueError(f"replan_every must be at least 1, got {replan_every}")
        if any(o > 0 for o in offsets):
            raise ValueError(f"observation offsets at evaluation must be <= 0, got {tuple(offsets)}")
        self.replan_every = replan_every
        self.offsets = tuple(offsets)
        self.reads_images = reads_images
        self.every_step = every_step

    def needs_images(self, step: int) -> bool:
        """Whether the frame after the ``step``-th action of the segment (``step >= 1``) must be rendered."""
        if self.every_step:
            return True
        if not self.reads_images:
            return False
        return any((step - offset) % self.replan_every == 0 for offset in self.offsets)
