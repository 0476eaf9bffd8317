"""What an environment adapter implements and what it hands the evaluation runner.

Simulator worker processes import this module and nothing of the training side: it needs NumPy only, so a
worker does not pay for importing torch (seconds and ~300 MB per process). :mod:`foresight.interfaces` and
:mod:`foresight.types` re-export these names.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np


@dataclass
class Observation:
    """One environment's observation at evaluation time, in the same conventions as the training data.

    Images upright ``(H, W, 3)`` uint8 keyed by the dataset's view names; proprio keyed by the dataset's
    proprio names. The evaluation runner stacks these over the DataSpec's past offsets into a :data:`Batch`.
    """

    images: dict[str, np.ndarray]
    proprio: dict[str, np.ndarray]
    instruction: str
    task: str | None = None  # the env's name for what is asked now (CALVIN: the current subtask), which maps to
    # DatasetInfo.tasks when instructions differ from the training ones (CALVIN's validation sentences do)


@dataclass(frozen=True)
class EpisodeSpec:
    """One evaluation episode as the protocol defines it: a task, a trial, and the initial state to use.

    ``key`` is unique within a suite and stable across runs; the evaluation runner uses it to skip episodes
    already in the results file when it resumes.
    """

    task_index: int
    task: str
    trial: int
    init_index: int
    seed: int

    @property
    def key(self) -> str:
        return f"{self.task_index:03d}/{self.trial:03d}"


@dataclass
class StepResult:
    """What one environment step reports back to the runner."""

    observation: Observation
    success: bool  # the simulator's own success check (CALVIN: the whole chain so far)
    done: bool  # the episode is over (success, failure, or step limit)
    info: dict[str, Any]


class RolloutEnv(ABC):
    """One live simulator. Created lazily inside a worker process, never in the trainer or the main process."""

    @abstractmethod
    def reset(self, episode: EpisodeSpec) -> Observation:
        """Put the simulator in the episode's initial state (after the protocol's warm-up) -> Observation."""

    @abstractmethod
    def step(self, action: Any, render: bool = True) -> StepResult:
        """Apply one unnormalised action ``(action_dim,)``; the env counts steps against the protocol's limit.

        ``render=False`` says nobody reads this step's images (the runner asks for them only at the steps the
        policy or a video reads): the env may step physics alone and return ``observation.images == {}``. Rendering
        cameras costs several times a physics step, so skipping it is most of an evaluation's speed. Proprio,
        success and ``done`` are computed every step regardless, and skipping must not change the simulator's
        state. A step whose ``info`` asks for a policy reset must render anyway: the policy reads that frame next.
        An env that ignores the flag and always renders is correct, only slower.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the simulator and its rendering context."""


class EnvSuite(ABC):
    """A benchmark suite under a protocol: its tasks, the episodes to run, and how to make simulators.

    Everything that defines the protocol (trials, seeds, step limits, warm-up, image convention, replanning)
    lives in the suite's ``Config`` dataclass and is returned by :meth:`protocol`, which the runner records
    with every result. A suite whose leaderboard rows are not one row per task (CALVIN's chains) may also define
    ``leaderboard_inputs(protocol, execution, records, *, seeds)``; see :mod:`foresight.eval.summary`.
    """

    Config: ClassVar[type]
    name: ClassVar[str] = ""

    def __init__(self, config: Any) -> None:
        self.config = config

    @abstractmethod
    def episodes(self) -> list[EpisodeSpec]:
        """Every episode of the protocol, in a fixed order."""

    @abstractmethod
    def protocol(self) -> dict[str, Any]:
        """JSON-serialisable description of everything that defines the measurement."""

    @abstractmethod
    def make_env(self) -> RolloutEnv:
        """Build one simulator; called once per worker process."""

    @abstractmethod
    def summarize(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        """Aggregate per-episode results (success per task with intervals; CALVIN: 1..5 in a row, avg length)."""

    def episode_tasks(self, episode: EpisodeSpec) -> tuple[str, ...]:
        """The task names the policy is asked for during ``episode`` (checked against its training tasks before
        any simulator starts): the episode's task; CALVIN overrides it with the chain's subtasks."""
        return (episode.task,)
