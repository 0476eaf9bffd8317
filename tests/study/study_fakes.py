"""A tiny closed-loop benchmark for studies: the world of the synthetic ``data=demo`` dataset, simulated.

``dots``: a 2-D table with one coloured dot per task; the effector moves by ``0.1 * action[:2]`` per step and
succeeds within 0.1 of its task's dot. Observations are rendered and named exactly as
:mod:`foresight.data.demo` writes its files, so a policy trained with ``data=demo`` runs here unchanged.
Importable by spawned evaluation workers (this folder is put on ``sys.path``).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from foresight.data.demo import _REACHED, _STEP, COLOURS, render, task_names
from foresight.registry import register_env
from foresight.rollout import EnvSuite, EpisodeSpec, Observation, RolloutEnv, StepResult


@dataclass(frozen=True)
class DotsConfig:
    tasks: int = 2
    trials_per_task: int = 3
    max_steps: int = 25
    image_size: int = 64
    step_delay_s: float = 0.0  # slows episodes down so a test can stop an evaluation half way
    replan_every: int | None = None
    temporal_ensemble: float | None = None


def _proprio(p: np.ndarray, closed: bool) -> dict[str, np.ndarray]:
    ee_pos = np.array([p[0], p[1], 0.0])
    return {
        "joint_states": np.array([p[0], p[1], p[0] * p[1], np.sin(p[0]), np.cos(p[1]), 0.0, 0.0]),
        "gripper_states": np.array([0.0, 0.0]) if closed else np.array([0.04, -0.04]),
        "ee_states": np.concatenate([ee_pos, np.zeros(3)]),
        "ee_pos": ee_pos,
        "ee_ori": np.zeros(3),
    }


class DotsEnv(RolloutEnv):
    def __init__(self, config: DotsConfig) -> None:
        self.config = config

    def _observation(self, images: bool = True) -> Observation:
        closed = bool(np.linalg.norm(self.goal - self.p) < _REACHED)
        size = self.config.image_size
        frames = (
            {
                "agentview": render(self.p, self.dots, size, closed, zoom=1.0, centre=np.zeros(2)),
                "wrist": render(self.p, self.dots, size, closed, zoom=2.0, centre=self.p),
            }
            if images
            else {}
        )
        return Observation(images=frames, proprio=_proprio(self.p, closed), instruction=f"reach the {self.colour} dot")

    def reset(self, episode: EpisodeSpec) -> Observation:
        rng = np.random.default_rng(episode.seed)
        self.episode = episode
        self.dots = rng.uniform(-0.8, 0.8, size=(self.config.tasks, 2))
        self.colour = episode.task.split("_")[-2]  # DEMO_reach_the_<colour>_dot: dots are drawn in COLOURS order
        self.goal = self.dots[list(COLOURS).index(self.colour)]
        self.p = rng.uniform(-0.8, 0.8, size=2)
        self.steps = 0
        return self._observation()

    def step(self, action: Any, render: bool = True) -> StepResult:
        if self.config.step_delay_s:
            time.sleep(self.config.step_delay_s)
        action = np.asarray(action, dtype=np.float64)
        self.p = self.p + _STEP * np.clip(action[:2], -1.0, 1.0)
        self.steps += 1
        success = bool(np.linalg.norm(self.goal - self.p) < _REACHED)
        done = success or self.steps >= self.config.max_steps
        return StepResult(observation=self._observation(render), success=success, done=done, info={})


@register_env("dots")
class DotsSuite(EnvSuite):
    Config = DotsConfig

    def __init__(self, config: DotsConfig | None = None) -> None:
        super().__init__(config if config is not None else DotsConfig())

    def episodes(self) -> list[EpisodeSpec]:
        names = sorted(task_names(self.config.tasks))  # the dataset's task order
        return [
            EpisodeSpec(task_index=t, task=names[t], trial=i, init_index=i, seed=1000 * t + i)
            for t in range(self.config.tasks)
            for i in range(self.config.trials_per_task)
        ]

    def protocol(self) -> dict[str, Any]:
        return {"benchmark": "dots", **asdict(self.config)}

    def make_env(self) -> DotsEnv:
        return DotsEnv(self.config)

    def summarize(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        wins = sum(bool(r["success"]) for r in results)
        return {"successes": wins, "episodes": len(results), "success_rate": wins / len(results)}
