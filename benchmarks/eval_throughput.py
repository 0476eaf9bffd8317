"""Evaluation throughput: environment steps/s with 1 and N simulator workers, and the policy's share of wall time.

Both settings run in one invocation, through the real runner (:func:`foresight.eval.evaluate`), with a tiny
random-weight policy (a small CNN over both views plus proprio, sampling noise from the runner's generator), so
the numbers measure the simulators and the runner, not a model. Uses the real LIBERO simulator when it is
importable, else a synthetic environment that burns a fixed CPU time per step::

    python benchmarks/eval_throughput.py                             # 1 vs 2 workers, libero_object task 0
    python benchmarks/eval_throughput.py --workers 1 4 8 --tasks 0 1 2 3 --trials 4 --max-steps 100
    python benchmarks/eval_throughput.py --env synthetic --step-ms 20 --workers 1 2

Wall time includes starting the workers and building each simulator (about 9 s per LIBERO task and worker),
which is what an evaluation pays; with tiny trial counts that start-up dominates, so raise ``--trials`` and
``--max-steps`` for steady-state numbers. Module-level code stays light: simulator workers re-import this file.
"""

from __future__ import annotations

import argparse
import multiprocessing.forkserver
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from foresight.rollout import EnvSuite, EpisodeSpec, Observation, RolloutEnv, StepResult

VIEWS = ("agentview", "wrist")
PROPRIO_DIMS = {"joint_states": 7, "gripper_states": 2}
ACTION_DIM = 7
HORIZON = 8


@dataclass(frozen=True)
class SyntheticConfig:
    """A stand-in simulator: two rendered views, LIBERO's proprio layout, ``step_ms`` of CPU work per step."""

    tasks: tuple[int, ...] = (0,)
    trials_per_task: int = 2
    max_steps: int = 40
    step_ms: float = 10.0
    camera_size: int = 128
    replan_every: int | None = None
    temporal_ensemble: float | None = None


class SyntheticRolloutEnv(RolloutEnv):
    def __init__(self, config: SyntheticConfig) -> None:
        self.config = config
        self.rng = np.random.default_rng(0)

    def _observation(self) -> Observation:
        size = self.config.camera_size
        images = {v: self.rng.integers(0, 255, (size, size, 3), dtype=np.uint8) for v in VIEWS}
        proprio = {k: self.rng.standard_normal(d) for k, d in PROPRIO_DIMS.items()}
        return Observation(images=images, proprio=proprio, instruction="synthetic task")

    def reset(self, episode: EpisodeSpec) -> Observation:
        self.steps = 0
        return self._observation()

    def step(self, action: Any) -> StepResult:
        end = time.perf_counter() + self.config.step_ms / 1000
        while time.perf_counter() < end:  # busy, like a physics step and a render: sleeping would scale for free
            pass
        self.steps += 1
        done = self.steps >= self.config.max_steps
        return StepResult(observation=self._observation(), success=False, done=done, info={})


class SyntheticSuite(EnvSuite):
    Config = SyntheticConfig
    name = "synthetic"

    def episodes(self) -> list[EpisodeSpec]:
        return [
            EpisodeSpec(task_index=t, task=f"synthetic_{t}", trial=i, init_index=i, seed=i)
            for t in self.config.tasks
            for i in range(self.config.trials_per_task)
        ]

    def protocol(self) -> dict[str, Any]:
        return {"benchmark": "synthetic", "max_steps": self.config.max_steps, "step_ms": self.config.step_ms}

    def make_env(self) -> SyntheticRolloutEnv:
        return SyntheticRolloutEnv(self.config)

    def summarize(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        wins = sum(bool(r["success"]) for r in results)
        return {"episodes": len(results), "successes": wins, "success_rate": wins / len(results)}


def tiny_random_policy(tasks: tuple[str, ...], device: str, seed: int = 0) -> Any:
    """A LoadedPolicy whose method is a random-weight CNN + MLP over both views and proprio (two frames)."""
    import torch
    from torch import nn

    from foresight.checkpoint import LoadedPolicy
    from foresight.data import Normalizer
    from foresight.interfaces import Budget, Method, Stage
    from foresight.types import ACTION, OBS_IS_PAD, STATE, DatasetInfo, DataSpec, image_key

    class TinyRandomPolicy(Method):
        name = "tiny_random"

        def __init__(self, info: DatasetInfo) -> None:
            super().__init__(None, info)
            self.vision = nn.Sequential(
                nn.Conv2d(3, 16, 8, stride=4), nn.ReLU(), nn.Conv2d(16, 16, 4, stride=2), nn.AdaptiveAvgPool2d(1)
            )
            proprio = sum(PROPRIO_DIMS.values())
            self.head = nn.Sequential(nn.Linear(2 * len(VIEWS) * 16 + 2 * proprio + 2, 256), nn.ReLU())
            self.out = nn.Linear(256, HORIZON * ACTION_DIM)

        def stages(self) -> list[Stage]:
            return [Stage("policy", ("head",), Budget(steps=1, batch_size=1, lr=0.0))]

        def data_spec(self, stage: str | None = None) -> DataSpec:
            return DataSpec(
                obs_offsets=(-1, 0),
                action_offsets=tuple(range(HORIZON)),
                views=VIEWS,
                proprio_keys=tuple(PROPRIO_DIMS),
            )

        def compute_loss(self, batch: dict[str, Any], stage: str) -> tuple[torch.Tensor, dict[str, float]]:
            raise RuntimeError("the throughput policy is never trained")

        def predict_action_chunk(self, batch: dict[str, Any], *, generator: Any = None) -> torch.Tensor:
            features = []
            for view in VIEWS:
                pixels = batch[image_key(view)]  # (B, O, 3, H, W) uint8
                batch_size = pixels.shape[0]
                features.append(self.vision(pixels.flatten(0, 1).float() / 255).reshape(batch_size, -1))
            state = batch[STATE].flatten(1).float()
            x = torch.cat([*features, state, batch[OBS_IS_PAD].float()], dim=1)
            mean = self.out(self.head(x)).reshape(-1, HORIZON, ACTION_DIM)
            noise = torch.randn(mean.shape, generator=generator, device=mean.device)
            return torch.tanh(mean + 0.5 * noise)

    torch.manual_seed(seed)
    info = DatasetInfo(
        action_dim=ACTION_DIM,
        proprio_dims=PROPRIO_DIMS,
        image_shapes={v: (128, 128, 3) for v in VIEWS},
        tasks=tasks,
        instructions=tasks,
    )
    method = TinyRandomPolicy(info).to(device).eval()
    # Small motions (|delta| <= 0.3 of the controller's range), gripper fully open or closed.
    bound = np.array([0.3] * 6 + [1.0], dtype=np.float32)
    action_stats = {"min": -bound, "max": bound, "mean": np.zeros(7), "std": np.ones(7)}
    normalizer = Normalizer({ACTION: "min_max", STATE: "identity"}, {ACTION: action_stats})
    return LoadedPolicy(
        method=method,
        normalizer=normalizer,
        config={"method": {"name": "tiny_random"}},
        spec=method.data_spec(None),
        provenance={"checkpoint": "tiny random policy", "step": 0, "seed": seed},
        path=Path("tiny-random-policy"),
    )


def libero_importable() -> bool:
    try:
        import libero.libero  # noqa: F401
    except ImportError:
        return False
    return True


def make_suite(args: argparse.Namespace) -> EnvSuite:
    if args.env == "libero":
        from foresight.envs.libero import LiberoConfig, LiberoEnv

        config = LiberoConfig(
            suite=args.suite,
            trials_per_task=args.trials,
            max_steps=args.max_steps,
            camera_size=args.camera_size,
            tasks=tuple(args.tasks),
        )
        return LiberoEnv(config)
    return SyntheticSuite(
        SyntheticConfig(
            tasks=tuple(args.tasks),
            trials_per_task=args.trials,
            max_steps=args.max_steps,
            step_ms=args.step_ms,
            camera_size=args.camera_size,
        )
    )


def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    import torch

    from foresight.eval import EvalConfig, evaluate
    from foresight.eval.pool import worker_context

    suite = make_suite(args)
    tasks = tuple(sorted({e.task for e in suite.episodes()}))
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    # Start the fork server the workers come from (it imports torch once) before timing anything, so the first
    # setting is not charged for it.
    worker_context(suite)
    multiprocessing.forkserver.ensure_running()
    rows = []
    with tempfile.TemporaryDirectory(prefix="eval-throughput-") as tmp:
        for workers in args.workers:
            loaded = tiny_random_policy(tasks, device)
            config = EvalConfig(workers=workers, progress=False)
            summary = evaluate(suite, loaded, config, Path(tmp) / f"workers-{workers}", label=suite.name)
            assert summary is not None
            timing = summary["timing"]
            rows.append({"workers": workers, "episodes": timing["episodes_run"], **timing})
            print(f"  {workers} worker(s): {timing['env_steps']} steps in {timing['wall_s']:.1f} s", flush=True)
    return rows


def print_table(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    base = rows[0]["env_steps_per_s"]
    print()
    print(f"env={args.env} tasks={args.tasks} trials={args.trials} max_steps={args.max_steps} "
          f"camera={args.camera_size} device={rows[0]['device']}")  # fmt: skip
    header = f"{'workers':>7} {'episodes':>8} {'env steps':>9} {'wall s':>7} {'steps/s':>8} {'speed-up':>8} "
    header += f"{'policy %':>8} {'mean batch':>10}"
    print(header)
    for row in rows:
        print(
            f"{row['workers']:>7} {row['episodes']:>8} {row['env_steps']:>9} {row['wall_s']:>7.1f} "
            f"{row['env_steps_per_s']:>8.2f} {row['env_steps_per_s'] / base:>7.2f}x "
            f"{100 * row['policy_share']:>7.1f}% {row['mean_batch']:>10.2f}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", choices=["auto", "libero", "synthetic"], default="auto")
    parser.add_argument("--suite", default="libero_object", help="LIBERO suite (with --env libero)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts; the first is the base")
    parser.add_argument("--tasks", type=int, nargs="+", default=[0])
    parser.add_argument("--trials", type=int, default=2, help="trials per task")
    parser.add_argument("--max-steps", type=int, default=40)
    parser.add_argument("--camera-size", type=int, default=128)
    parser.add_argument("--step-ms", type=float, default=10.0, help="CPU time per synthetic step")
    parser.add_argument("--device", default=None, help="policy device (default: cuda if available)")
    args = parser.parse_args(argv)
    if args.env == "auto":
        args.env = "libero" if libero_importable() else "synthetic"
    print(f"measuring {args.env} with workers {args.workers} ...", flush=True)
    print_table(measure(args), args)


if __name__ == "__main__":
    main()
