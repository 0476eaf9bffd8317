"""A cheap pure-Python benchmark for the evaluation runner: reach a 2-D target whose position is in the proprio.

Importable by spawned workers (pytest puts this folder on ``sys.path`` and ``spawn`` passes ``sys.path`` on).
Hooks for the runner's failure paths: every reset is logged to ``<log_dir>/resets.txt``; ``crash_key`` makes the
worker running that episode kill itself with SIGKILL at ``crash_step`` on its first ``crash_times`` attempts
(markers in ``log_dir`` count the attempts across processes).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from foresight.registry import register_env
from foresight.rollout import EnvSuite, EpisodeSpec, Observation, RolloutEnv, StepResult

TARGETS = ((0.5, 0.0), (0.0, -0.6), (0.9, 0.9), (-0.4, 0.3))
MAX_DELTA = 0.1
SUCCESS_RADIUS = 0.03


@dataclass(frozen=True)
class ReachConfig:
    tasks: int = 3
    trials_per_task: int = 2
    max_steps: int = 12
    replan_every: int | None = 2
    temporal_ensemble: float | None = None
    adaptive_ensemble: float | None = None
    image_size: int = 6
    log_dir: str | None = None
    crash_key: str | None = None
    crash_step: int = 3
    crash_times: int = 1
    policy_reset_every: int | None = None
    step_delay_s: float = 0.0
    report_modules: bool = False


def start_position(init_index: int) -> np.ndarray:
    return np.array([0.1 * init_index - 0.2, 0.05 * init_index])


def render(pos: np.ndarray, size: int, channel: int) -> np.ndarray:
    """An image that depends on the position, so stacking the wrong frame changes the policy's input."""
    img = np.zeros((size, size, 3), dtype=np.uint8)
    img[..., channel] = np.uint8(np.clip(128 + 100 * pos[channel % 2], 0, 255))
    img[0, :, 2] = 255  # top row marked: an upside-down frame would differ
    return img


class ReachRolloutEnv(RolloutEnv):
    def __init__(self, config: ReachConfig) -> None:
        self.config = config
        self.pid = os.getpid()

    def _observation(self, images: bool = True) -> Observation:
        size = self.config.image_size
        return Observation(
            images={"front": render(self.pos, size, 0), "wrist": render(self.pos, size, 1)} if images else {},
            proprio={"pos": self.pos.copy(), "target": self.target.copy()},
            instruction=f"reach target {self.episode.task_index} (part {self.part})",
        )

    def reset(self, episode: EpisodeSpec) -> Observation:
        self.episode = episode
        self.target = np.array(TARGETS[episode.task_index])
        self.pos = start_position(episode.init_index)
        self.steps = 0
        self.part = 0
        self.actions: list[list[float]] = []
        self.rendered: list[int] = [0]  # the steps whose frame came with images (0: the reset's)
        if self.config.log_dir:
            with open(Path(self.config.log_dir) / "resets.txt", "a") as fh:
                fh.write(f"{episode.key}\n")
        return self._observation()

    def _maybe_crash(self) -> None:
        cfg = self.config
        if cfg.crash_key != self.episode.key or self.steps != cfg.crash_step or not cfg.log_dir:
            return
        markers = sorted(Path(cfg.log_dir).glob("crash-*"))
        if len(markers) < cfg.crash_times:
            (Path(cfg.log_dir) / f"crash-{len(markers)}").touch()
            os.kill(os.getpid(), signal.SIGKILL)

    def step(self, action: Any, render: bool = True) -> StepResult:
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (2,):
            raise ValueError(f"reach takes 2-dim actions, got {action.shape}")
        if self.config.step_delay_s:
            time.sleep(self.config.step_delay_s)
        self.actions.append(action.tolist())
        self.pos = self.pos + np.clip(action, -MAX_DELTA, MAX_DELTA)
        self.steps += 1
        self._maybe_crash()
        success = bool(np.linalg.norm(self.pos - self.target) < SUCCESS_RADIUS)
        done = success or self.steps >= self.config.max_steps
        info: dict[str, Any] = {"steps": self.steps}
        every = self.config.policy_reset_every
        if every and self.steps % every == 0:
            self.part += 1
            info["policy_reset"] = True
            render = True  # the contract: the policy reads a reset's frame next
        if render:
            self.rendered.append(self.steps)
        if done:
            info["actions"] = self.actions
            info["rendered"] = self.rendered
            if self.config.report_modules:
                info["modules"] = sorted(sys.modules)
        return StepResult(observation=self._observation(render), success=success, done=done, info=info)


@register_env("reach")
class ReachSuite(EnvSuite):
    Config = ReachConfig

    def __init__(self, config: ReachConfig | None = None) -> None:
        super().__init__(config if config is not None else ReachConfig())

    def episodes(self) -> list[EpisodeSpec]:
        return [
            EpisodeSpec(task_index=t, task=f"reach-{t}", trial=i, init_index=i, seed=100 * t + i)
            for t in range(self.config.tasks)
            for i in range(self.config.trials_per_task)
        ]

    def protocol(self) -> dict[str, Any]:
        return {"benchmark": "reach", **asdict(self.config)}

    def make_env(self) -> ReachRolloutEnv:
        return ReachRolloutEnv(self.config)

    def summarize(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        from foresight.leaderboard.stats import wilson_interval  # here: importing it costs a worker ~1 s

        by_task: dict[int, list[bool]] = defaultdict(list)
        for r in results:
            by_task[r["task_index"]].append(bool(r["success"]))
        wins = sum(sum(v) for v in by_task.values())
        return {
            "successes": wins,
            "episodes": len(results),
            "success_rate": wins / len(results),
            "ci95": list(wilson_interval(wins, len(results))),
            "per_task": [
                {
                    "task_index": t,
                    "task": f"reach-{t}",
                    "successes": sum(v),
                    "episodes": len(v),
                    "success_rate": sum(v) / len(v),
                    "ci95": list(wilson_interval(sum(v), len(v))),
                }
                for t, v in sorted(by_task.items())
            ],
        }


class KillOnce(EnvSuite):
    """Any suite, except that the worker running episode ``key`` SIGKILLs itself at ``step`` on the first attempt
    (a marker file in ``marker_dir`` remembers the attempt across processes); every reset is logged there."""

    def __init__(self, inner: EnvSuite, key: str, step: int, marker_dir: str) -> None:
        super().__init__(inner.config)
        self.inner, self.key, self.step, self.marker_dir = inner, key, step, marker_dir
        self.name = inner.name

    def episodes(self) -> list[EpisodeSpec]:
        return self.inner.episodes()

    def protocol(self) -> dict[str, Any]:
        return self.inner.protocol()

    def summarize(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        return self.inner.summarize(results)

    def make_env(self) -> RolloutEnv:
        return _KillOnceEnv(self.inner.make_env(), self)


class _KillOnceEnv(RolloutEnv):
    def __init__(self, inner: RolloutEnv, suite: KillOnce) -> None:
        self.inner, self.suite, self.steps, self.key = inner, suite, 0, ""

    def reset(self, episode: EpisodeSpec) -> Any:
        self.key, self.steps = episode.key, 0
        with open(Path(self.suite.marker_dir) / "resets.txt", "a") as fh:
            fh.write(f"{episode.key}\n")
        return self.inner.reset(episode)

    def step(self, action: Any, render: bool = True) -> StepResult:
        result = self.inner.step(action, render=render)
        self.steps += 1
        marker = Path(self.suite.marker_dir) / "killed"
        if self.key == self.suite.key and self.steps == self.suite.step and not marker.exists():
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    def close(self) -> None:
        self.inner.close()
