"""LIBERO as an :class:`~foresight.interfaces.EnvSuite`: episodes, protocol record, simulators, summaries."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from foresight.envs.libero.config import DUMMY_ACTION, NUM_INIT_STATES, LiberoConfig
from foresight.envs.libero.observation import PROPRIO_DIMS, VIEWS
from foresight.envs.libero.rollout import LiberoRolloutEnv
from foresight.envs.libero.tasks import LiberoTask, suite_tasks
from foresight.leaderboard.stats import wilson_interval
from foresight.registry import register_env
from foresight.rollout import EnvSuite, EpisodeSpec

TRIAL_SEED_STRIDE = 10_000
"""Episode seed = ``seed + TRIAL_SEED_STRIDE * task_index + trial``: fixed per episode, whatever the worker."""


@register_env("libero")
class LiberoEnv(EnvSuite):
    """The LIBERO suites (spatial, object, goal, 10, 90) under the community protocol.

    Episode ``(task, trial)`` starts from official initial state ``trial % 50``, so 50 trials per task visit each
    official state once (openpi, OpenVLA); 10 or 20 trials use the first 10 or 20 states.
    """

    Config = LiberoConfig

    def __init__(self, config: LiberoConfig | None = None) -> None:
        super().__init__(config if config is not None else LiberoConfig())

    def tasks(self) -> list[LiberoTask]:
        """The tasks this protocol runs (the suite, or the ``tasks`` subset), in suite order."""
        all_tasks = suite_tasks(self.config.suite)
        if self.config.tasks is None:
            return list(all_tasks)
        bad = [t for t in self.config.tasks if t >= len(all_tasks)]
        if bad:
            raise ValueError(f"{self.config.suite} has tasks 0..{len(all_tasks) - 1}; env.tasks asks for {bad}")
        return [all_tasks[t] for t in sorted(self.config.tasks)]

    def episodes(self) -> list[EpisodeSpec]:
        return [
            EpisodeSpec(
                task_index=task.index,
                task=task.name,
                trial=trial,
                init_index=trial % NUM_INIT_STATES,
                seed=self.config.seed + TRIAL_SEED_STRIDE * task.index + trial,
            )
            for task in self.tasks()
            for trial in range(self.config.trials_per_task)
        ]

    def protocol(self) -> dict[str, Any]:
        return {
            "benchmark": "libero",
            **self.config.to_dict(),
            "init_states": f"official init_files/{self.config.suite}/<task>.pruned_init, index = trial % "
            f"{NUM_INIT_STATES}",
            "warmup_action": list(DUMMY_ACTION),
            "episode_seed": f"seed + {TRIAL_SEED_STRIDE} * task_index + trial",
            "success": "env.check_success() (the BDDL goal predicates), checked after every step",
            "observation_images": "upright (foresight.data.orientation.to_upright)",
            "views": {view: key for view, key in VIEWS.items()},
            "proprio": dict(PROPRIO_DIMS),
            "action": "7-dim OSC_POSE delta (position 3, axis-angle 3, gripper -1 open / +1 close), 20 Hz",
            "task_names": [task.name for task in self.tasks()],
        }

    def make_env(self) -> LiberoRolloutEnv:
        return LiberoRolloutEnv(self.config)

    def summarize(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        """Success per task and for the suite, each with a Wilson 95 % interval.

        Each result needs ``task_index`` and ``success``; ``steps`` is averaged when present. Episodes of the
        protocol missing from ``results`` are counted, so a partial evaluation cannot pass for a full one.
        """
        names = {task.index: task for task in self.tasks()}
        by_task: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for i, result in enumerate(results):
            missing = [key for key in ("task_index", "success") if key not in result]
            if missing:
                raise KeyError(f"result {i} has no {missing}; it has {sorted(result)}")
            if result["task_index"] not in names:
                raise ValueError(
                    f"result {i} is for task {result['task_index']}, which is not in this protocol's tasks "
                    f"{sorted(names)}"
                )
            by_task[result["task_index"]].append(result)
        per_task = []
        for index, task in names.items():
            rows = by_task.get(index, [])
            per_task.append({"task_index": index, "task": task.name, "instruction": task.instruction, **_rate(rows)})
        expected = len(names) * self.config.trials_per_task
        return {
            "suite": self.config.suite,
            **_rate(results),
            "episodes_expected": expected,
            "episodes_missing": max(0, expected - len(results)),
            "per_task": per_task,
        }


def _rate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    successes = sum(bool(r["success"]) for r in rows)
    out: dict[str, Any] = {
        "episodes": n,
        "successes": successes,
        "success_rate": successes / n if n else None,
        "ci95": list(wilson_interval(successes, n)) if n else None,
    }
    steps = [r["steps"] for r in rows if r.get("steps") is not None]
    if steps:
        out["mean_steps"] = sum(steps) / len(steps)
    return out
