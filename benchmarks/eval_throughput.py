"""Evaluation throughput: the official way (render every step, hard reset) against the fast path.

In one invocation, through the real runner (:func:`foresight.eval.evaluate`) and the real LIBERO simulator, every
chunk length (1, 6 = CLaD, 8 = dp) runs the baseline, ``eval.render=every_step`` with ``env.reset=hard`` (what the
official LIBERO evaluation does), and the fast path, ``eval.render=on_query`` with ``env.reset=reuse_model``; chunk
6 also runs ``on_query`` with the hard reset (the share of each change), and again with more workers. It prints
env steps/s (also after the simulator start-up, which is reported on its own), episodes/min, start-up and
per-trial reset times, and the projected time of the full LIBERO-LONG protocol (500 episodes of up to 520 steps)
here and on 16 cores::

    python benchmarks/eval_throughput.py                          # libero_object task 0, 4 trials, 150 steps
    python benchmarks/eval_throughput.py --trials 8 --max-steps 200 --workers 1 2 4
    python benchmarks/eval_throughput.py --env synthetic          # no LIBERO: a stand-in with a render cost

The LIBERO policy replays the scripted expert (foresight.envs.libero.expert): its actions are recorded once,
rendering every step, in a separate process, keyed by a hash of everything a query shows the policy (both
images and the proprio of the current frame). So the episodes succeed, and a run whose query observations
differed in a single pixel from the baseline's would miss the table (``misses``, the episode then
holds still and fails). Besides success, each episode's final MuJoCo state is hashed, and the table marks whether
every setting of a chunk length reproduced the baseline's outcomes exactly. Module-level code stays light:
simulator workers re-import this file.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import multiprocessing
import multiprocessing.forkserver
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from foresight.envs.libero import LiberoConfig, LiberoEnv
from foresight.envs.libero.rollout import LiberoRolloutEnv
from foresight.rollout import EnvSuite, EpisodeSpec, Observation, RolloutEnv, StepResult

VIEWS = ("agentview", "wrist")
PROPRIO_DIMS = {"joint_states": 7, "gripper_states": 2}
ACTION_DIM = 7
HOLD = np.array([0, 0, 0, 0, 0, 0, -1], dtype=np.float32)  # what the replay does off its table: stand still
LONG_EPISODES, LONG_STEPS, LONG_TASKS = 500, 520, 10  # LIBERO-LONG: 10 tasks x 50 trials, 520-step limit


def frame_key(images: dict[str, np.ndarray], proprio: np.ndarray) -> str:
    """What a query shows the policy of its current frame: images ``(3, H, W)`` uint8 and float32 proprio."""
    digest = hashlib.sha1()
    for view in VIEWS:
        digest.update(np.ascontiguousarray(images[view], dtype=np.uint8).tobytes())
    digest.update(np.ascontiguousarray(proprio, dtype=np.float32).tobytes())
    return digest.hexdigest()


def observation_key(observation: Observation) -> str:
    """:func:`frame_key` of an env observation, laid out as the runner hands it to a policy."""
    images = {view: observation.images[view].transpose(2, 0, 1) for view in VIEWS}
    proprio = np.concatenate([np.asarray(observation.proprio[k], dtype=np.float32).reshape(-1) for k in PROPRIO_DIMS])
    return frame_key(images, proprio)


# ---- LIBERO: an env that reports its final state, and the expert's recorded actions -------------------------------


class StateHashingRollout(LiberoRolloutEnv):
    """Adds the hash of MuJoCo's state after the last step to the episode's info."""

    def step(self, action: Any, render: bool = True) -> StepResult:
        result = super().step(action, render)
        if result.done:
            data = self._sim.env.sim.data._data
            state = [np.asarray(getattr(data, k)).tobytes() for k in ("time", "qpos", "qvel", "act")]
            result.info["state_sha1"] = hashlib.sha1(b"".join(state)).hexdigest()
        return result


class StateHashingLibero(LiberoEnv):
    def make_env(self) -> LiberoRolloutEnv:
        return StateHashingRollout(self.config)


def libero_suite(args: argparse.Namespace, chunk: int, reset: str = "hard") -> EnvSuite:
    config = LiberoConfig(
        suite=args.suite,
        tasks=tuple(args.tasks),
        trials_per_task=args.trials,
        max_steps=args.max_steps,
        camera_size=args.camera_size,
        replan_every=chunk,
        reset=reset,
    )
    return StateHashingLibero(config)


def record_expert(config: LiberoConfig, episodes: list[EpisodeSpec]) -> dict[str, Any]:
    """Run the scripted expert on ``episodes`` (rendering every step) -> frame key -> (episode, step) and actions.

    Runs in its own process: a simulator that renders must not share a process with the policy's torch (#21).
    """
    from foresight.envs.libero.expert import ScriptedExpert

    env = LiberoRolloutEnv(config)
    index: dict[str, tuple[int, int]] = {}
    actions: list[np.ndarray] = []
    successes = []
    try:
        for number, episode in enumerate(episodes):
            observation = env.reset(episode)
            expert = ScriptedExpert(env._sim)
            executed = []
            success = False
            for step in range(config.step_limit):
                index.setdefault(observation_key(observation), (number, step))
                action = expert.act({"robot0_eef_pos": observation.proprio["ee_pos"]})
                if expert.finished:
                    break
                action = action.astype(np.float32)  # what the policy hands the runner
                executed.append(action)
                result = env.step(action)
                observation, success = result.observation, result.success
                if result.done:
                    break
            actions.append(np.stack(executed) if executed else np.zeros((0, ACTION_DIM), np.float32))
            successes.append(success)
    finally:
        env.close()
    return {"index": index, "actions": actions, "successes": successes}


def replay_policy(recording: dict[str, Any], chunk: int, tasks: tuple[str, ...]) -> Any:
    """A LoadedPolicy that looks the current frame up in the expert's recording and returns its next actions."""
    import torch

    from foresight.checkpoint import LoadedPolicy
    from foresight.data import Normalizer
    from foresight.interfaces import Budget, Method, Stage
    from foresight.types import ACTION, STATE, DatasetInfo, DataSpec, image_key

    class ExpertReplay(Method):
        name = "expert_replay"

        def __init__(self, info: DatasetInfo) -> None:
            super().__init__(None, info)
            self.misses = 0

        def stages(self) -> list[Stage]:
            return [Stage("policy", (), Budget(steps=1, batch_size=1, lr=0.0))]

        def data_spec(self, stage: str | None = None) -> DataSpec:
            # CLaD's inference layout: the previous query's frame and the current one, then a chunk to execute.
            return DataSpec(
                obs_offsets=(-chunk, 0),
                action_offsets=tuple(range(chunk)),
                views=VIEWS,
                proprio_keys=tuple(PROPRIO_DIMS),
                normalization={ACTION: "identity", STATE: "identity"},
            )

        def compute_loss(self, batch: dict[str, Any], stage: str) -> tuple[torch.Tensor, dict[str, float]]:
            raise RuntimeError("the replay policy is never trained")

        def predict_action_chunk(self, batch: dict[str, Any], *, generator: Any = None) -> torch.Tensor:
            rows = []
            for row in range(batch[STATE].shape[0]):
                images = {view: batch[image_key(view)][row, -1].cpu().numpy() for view in VIEWS}
                found = recording["index"].get(frame_key(images, batch[STATE][row, -1].cpu().numpy()))
                out = np.tile(HOLD, (chunk, 1))
                if found is None:
                    self.misses += 1
                else:
                    episode, step = found
                    ahead = recording["actions"][episode][step : step + chunk]
                    out[: len(ahead)] = ahead
                rows.append(out)
            return torch.from_numpy(np.stack(rows))

    info = DatasetInfo(
        action_dim=ACTION_DIM,
        proprio_dims=PROPRIO_DIMS,
        image_shapes={v: (128, 128, 3) for v in VIEWS},
        tasks=tasks,
        instructions=tasks,
    )
    method = ExpertReplay(info)
    return LoadedPolicy(
        method=method,
        normalizer=Normalizer({ACTION: "identity", STATE: "identity"}, {}),
        config={"method": {"name": "expert_replay", "chunk": chunk}},
        spec=method.data_spec(None),
        provenance={"checkpoint": "scripted expert replay", "step": 0},
        path=Path("expert-replay"),
    )


def holding_policy(chunk: int, tasks: tuple[str, ...]) -> Any:
    """The replay policy with nothing recorded: it reads both views and proprio, and holds still."""
    return replay_policy({"index": {}, "actions": []}, chunk, tasks)


# ---- without LIBERO: a stand-in whose steps and renders burn fixed CPU time ------------------------------------------


@dataclass(frozen=True)
class SyntheticConfig:
    tasks: tuple[int, ...] = (0,)
    trials_per_task: int = 2
    max_steps: int = 40
    step_ms: float = 10.0
    render_ms: float = 80.0
    camera_size: int = 128
    replan_every: int | None = None
    temporal_ensemble: float | None = None


def _busy(ms: float) -> None:
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:  # busy, like physics or a render: sleeping would scale for free
        pass


class SyntheticRolloutEnv(RolloutEnv):
    def __init__(self, config: SyntheticConfig) -> None:
        self.config = config

    def _observation(self, render: bool) -> Observation:
        size = self.config.camera_size
        images = {}
        if render:
            _busy(self.config.render_ms)
            images = {v: np.full((size, size, 3), self.steps % 256, dtype=np.uint8) for v in VIEWS}
        proprio = {k: np.full(d, float(self.steps)) for k, d in PROPRIO_DIMS.items()}
        return Observation(images=images, proprio=proprio, instruction="synthetic task")

    def reset(self, episode: EpisodeSpec) -> Observation:
        self.steps = 0
        return self._observation(render=True)

    def step(self, action: Any, render: bool = True) -> StepResult:
        _busy(self.config.step_ms)
        self.steps += 1
        done = self.steps >= self.config.max_steps
        return StepResult(observation=self._observation(render), success=False, done=done, info={})


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
        return {"benchmark": "synthetic", "max_steps": self.config.max_steps, "replan_every": self.config.replan_every}

    def make_env(self) -> SyntheticRolloutEnv:
        return SyntheticRolloutEnv(self.config)

    def summarize(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        wins = sum(bool(r["success"]) for r in results)
        return {"episodes": len(results), "successes": wins, "success_rate": wins / len(results)}


def synthetic_suite(args: argparse.Namespace, chunk: int, reset: str = "hard") -> EnvSuite:
    config = SyntheticConfig(
        tasks=tuple(args.tasks),
        trials_per_task=args.trials,
        max_steps=args.max_steps,
        step_ms=args.step_ms,
        render_ms=args.render_ms,
        camera_size=args.camera_size,
        replan_every=chunk,
    )
    return SyntheticSuite(config)


# ---- measuring ------------------------------------------------------------------------------------------------------


BASELINE = ("every_step", "hard")
FAST = ("on_query", "reuse_model")


def settings(args: argparse.Namespace) -> list[tuple[int, int, str, str]]:
    """(chunk, workers, render, reset): baseline and fast path for every chunk with the first worker count, lazy
    rendering alone at chunk 6, then baseline and fast path at chunk 6 with the other worker counts."""
    scale = 6 if 6 in args.chunks else args.chunks[-1]
    runs = []
    for chunk in args.chunks:
        runs += [(chunk, args.workers[0], *BASELINE), (chunk, args.workers[0], *FAST)]
        if chunk == scale:
            runs.append((chunk, args.workers[0], "on_query", "hard"))
    runs += [(scale, workers, *mode) for workers in args.workers[1:] for mode in (BASELINE, FAST)]
    return runs


def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    from foresight.eval import EvalConfig, evaluate
    from foresight.eval.pool import worker_context

    make_suite = libero_suite if args.env == "libero" else synthetic_suite
    recording = None
    if args.env == "libero":
        suite = make_suite(args, args.chunks[0])
        print("recording the scripted expert's actions (renders every step) ...", flush=True)
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            recording = pool.apply(record_expert, (suite.config, suite.episodes()))
        print(f"  expert successes: {recording['successes']}", flush=True)
    # Start the fork server the workers come from before timing anything, so the first setting is not charged.
    worker_context(make_suite(args, args.chunks[0]))
    multiprocessing.forkserver.ensure_running()
    rows: list[dict[str, Any]] = []
    print(header(args), flush=True)
    with tempfile.TemporaryDirectory(prefix="eval-throughput-") as tmp:
        for chunk, workers, mode, reset in settings(args):
            suite = make_suite(args, chunk, reset)
            tasks = tuple(sorted({e.task for e in suite.episodes()}))
            loaded = replay_policy(recording, chunk, tasks) if recording else holding_policy(chunk, tasks)
            out = Path(tmp) / f"chunk{chunk}-workers{workers}-{mode}-{reset}"
            config = EvalConfig(workers=workers, render=mode, progress=False)
            summary = evaluate(suite, loaded, config, out, label=suite.name)
            assert summary is not None
            records = [r for r in _read_jsonl(out / "episodes.jsonl") if r["status"] == "ok"]
            row = {"chunk": chunk, "workers": workers, "render": mode, "reset": reset, **summary["timing"]}
            row |= _startup(records)
            row["misses"] = loaded.method.misses if recording is not None else None
            row["outcomes"] = {r["key"]: (bool(r["success"]), r["steps"], r["info"].get("state_sha1")) for r in records}
            rows.append(row)
            print(table_row(row, rows), flush=True)
    return rows


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    import json

    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _startup(records: list[dict[str, Any]]) -> dict[str, float]:
    """A worker's first reset builds its simulator; the later ones reuse it and only reset."""
    first, later = [], []
    seen: set[int] = set()
    for record in sorted(records, key=lambda r: r["finished_at"]):
        (later if record["worker_pid"] in seen else first).append(record["reset_s"])
        seen.add(record["worker_pid"])
    return {
        "startup_s": float(np.mean(first)),
        "startup_max_s": float(np.max(first)),
        "reset_mean_s": float(np.mean(later)) if later else float("nan"),
        "stepping_s": sum(r["wall_s"] - r["reset_s"] for r in records),
    }


def projection(row: dict[str, Any], cores: int) -> float:
    """Hours for LIBERO-LONG (500 episodes, all run to 520 steps: the worst case) on ``cores`` workers.

    Per worker: 500 / cores episodes of 520 steps at this setting's seconds per step (per worker, including the
    wait for the policy), a reset each, and a simulator build for each of its share of the 10 tasks.
    """
    seconds_per_step = row["stepping_s"] / row["env_steps"]
    reset = row["reset_mean_s"] if not math.isnan(row["reset_mean_s"]) else 0.0
    build = max(0.0, row["startup_s"] - reset)
    per_worker = LONG_EPISODES / cores * (LONG_STEPS * seconds_per_step + reset) + math.ceil(LONG_TASKS / cores) * build
    return per_worker / 3600


COLUMNS = (
    "chunk", "workers", "render", "reset", "episodes", "success", "env steps", "frames rendered", "wall s",
    "start-up s", "reset s", "steps/s", "x", "steps/s after start-up", "x", "stepping steps/s", "x",
    "episodes/min after start-up", "policy %", "misses", "same outcomes", "LIBERO-LONG h, these workers",
    "h, 16 workers",
)  # fmt: skip


def header(args: argparse.Namespace) -> str:
    lines = [
        f"env={args.env} suite={args.suite} tasks={args.tasks} trials={args.trials} max_steps={args.max_steps} "
        f"camera={args.camera_size} cores here={os.cpu_count()}",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    return "\n".join(lines)


def table_row(row: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """One markdown row; speed-ups are against the baseline (render every step, hard reset) at the same chunk and
    workers, outcomes against the baseline at the same chunk with the first worker count (every earlier row is in
    ``rows``)."""
    base = next(
        r
        for r in rows
        if (r["chunk"], r["workers"], r["render"], r["reset"]) == (row["chunk"], row["workers"], *BASELINE)
    )
    reference = next(r for r in rows if r["chunk"] == row["chunk"] and (r["render"], r["reset"]) == BASELINE)
    wins = sum(success for success, _, _ in row["outcomes"].values())
    cells = [
        row["chunk"], row["workers"], row["render"], row["reset"], row["episodes_run"],
        f"{wins}/{len(row['outcomes'])}", row["env_steps"], row["rendered_frames"], f"{row['wall_s']:.1f}",
        f"{row['startup_s']:.1f}", f"{row['reset_mean_s']:.2f}", f"{row['env_steps_per_s']:.2f}",
        f"{row['env_steps_per_s'] / base['env_steps_per_s']:.2f}x", f"{warm_rate(row):.2f}",
        f"{warm_rate(row) / warm_rate(base):.2f}x", f"{stepping_rate(row):.2f}",
        f"{stepping_rate(row) / stepping_rate(base):.2f}x",
        f"{60 * row['episodes_run'] / (row['wall_s'] - row['startup_max_s']):.2f}", f"{100 * row['policy_share']:.1f}",
        "-" if row["misses"] is None else row["misses"], "yes" if row["outcomes"] == reference["outcomes"] else "NO",
        f"{projection(row, row['workers']):.2f}", f"{projection(row, 16):.2f}",
    ]  # fmt: skip
    return "| " + " | ".join(str(c) for c in cells) + " |"


def warm_rate(row: dict[str, Any]) -> float:
    """Env steps/s over wall time less the simulator start-up (workers build theirs at once: the longest counts),
    resets, stepping and the policy included: the rate of a long evaluation, where one build serves 50 trials."""
    return row["env_steps"] / (row["wall_s"] - row["startup_max_s"])


def stepping_rate(row: dict[str, Any]) -> float:
    """Env steps/s of the workers while they step episodes (simulator builds and resets left out)."""
    return row["env_steps"] / (row["stepping_s"] / row["workers"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", choices=["auto", "libero", "synthetic"], default="auto")
    parser.add_argument("--suite", default="libero_object", help="LIBERO suite (with --env libero)")
    parser.add_argument("--tasks", type=int, nargs="+", default=[0])
    parser.add_argument("--trials", type=int, default=4, help="trials per task")
    parser.add_argument("--max-steps", type=int, default=150)
    parser.add_argument("--chunks", type=int, nargs="+", default=[1, 6, 8], help="chunk lengths (= replan_every)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="the first runs every chunk length")
    parser.add_argument("--camera-size", type=int, default=128)
    parser.add_argument("--step-ms", type=float, default=10.0, help="CPU time per synthetic physics step")
    parser.add_argument("--render-ms", type=float, default=80.0, help="CPU time per synthetic render")
    args = parser.parse_args(argv)
    if args.env == "auto":
        args.env = "libero" if _libero_importable() else "synthetic"
    print(f"measuring {args.env}: chunks {args.chunks}, workers {args.workers} ...", flush=True)
    measure(args)


def _libero_importable() -> bool:
    try:
        import libero.libero  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
