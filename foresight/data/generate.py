"""Scripted-expert demonstrations in the real LIBERO simulator, written in the official HDF5 schema.

    python -m foresight.data.generate env=libero_object demos_per_task=50 [tasks=0,1] [out=DIR] [max_attempts=N]
        [init=sampled|official] [seed=0] [drop_noops=true]

The official demonstrations must be downloaded from a hub; these need only the simulator, so an offline user
and CI get real data. Only successful episodes are kept. Attempt ``k`` of a task starts from a fresh placement
that the task's own BDDL placement regions sample with seed ``(seed, task, k)`` (``init=sampled``, the default):
the official initial states are the *evaluation* states, and training on them would leak the test set.
``init=official`` starts attempt ``k`` from official state ``k % 50`` instead (to replay the protocol). Each task
becomes ``<out>/<task name>_demo.hdf5`` (read by ``data.format=libero_hdf5``), written atomically when the task is
done: re-running the same command skips tasks whose file already holds ``demos_per_task`` demonstrations. A
per-task success table is printed and written to ``<out>/expert_success.json``. The expert's success under the
evaluation protocol (the leaderboard's oracle row) is measured by ``python -m foresight.envs.libero.oracle``.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from tqdm.auto import tqdm

from foresight.config import ConfigError
from foresight.data.config import cache_root
from foresight.data.libero_hdf5 import noop_mask
from foresight.data.libero_writer import LiberoHDF5Writer, demo_file_name
from foresight.fileio import write_json

SUMMARY_FILE = "expert_success.json"
INIT_CHOICES = ("sampled", "official")


@dataclass
class GenerateConfig:
    """Command-line options besides ``env=`` (validated: a typo names the valid keys)."""

    demos_per_task: int = 50  # successful demonstrations kept per task (the official datasets have 50)
    tasks: list[int] | int | str | None = None  # task indices, 0,1 or [0,1]; null: the env config's tasks (all)
    out: str | None = None  # null: $FORESIGHT_CACHE/libero_expert/<suite>
    max_attempts: int | None = None  # per task; null: 2 x demos_per_task (init=official: at most 50)
    max_steps: int | None = None  # per attempt; null: the suite's evaluation step limit
    init: str = "sampled"  # sampled: fresh seeded placements; official: the evaluation's init states (test set)
    seed: int = 0  # placement seed of init=sampled (attempt k of task t samples with seed (seed, t, k))
    drop_noops: bool = False  # leave out no-op steps as the community re-renderings do (OpenVLA's is_noop)
    noop_threshold: float = 1e-4  # a step is a no-op when its 6 motion dims are below this in norm ...
    # ... and its gripper command equals that of the last kept step

    def __post_init__(self) -> None:
        if isinstance(self.tasks, int):
            self.tasks = [self.tasks]
        elif isinstance(self.tasks, str):
            try:
                self.tasks = [int(t) for t in self.tasks.split(",") if t.strip()]
            except ValueError:
                raise ValueError(f"tasks={self.tasks!r}: expected task indices such as 0,3 or [0,3]") from None
        if self.init not in INIT_CHOICES:
            raise ValueError(f"init={self.init!r}: choose one of {list(INIT_CHOICES)}")
        if self.demos_per_task <= 0:
            raise ValueError(f"demos_per_task must be a positive integer, got {self.demos_per_task}")
        if not self.noop_threshold >= 0:
            raise ValueError(f"noop_threshold={self.noop_threshold!r}: expected a number >= 0")


def parse_args(args: list[str]) -> tuple[Any, GenerateConfig]:
    """``env=<name>`` (plus ``env.*`` overrides) -> a LiberoEnv; other ``key=value`` -> GenerateConfig."""
    from foresight.envs.libero.cli import build_libero, parse_suite_args

    env_node, cfg = parse_suite_args(args, GenerateConfig, "generate")
    if cfg.tasks is not None:
        env_node["tasks"] = cfg.tasks
    return build_libero(env_node), cfg


def complete_demos(path: Path) -> int:
    """Demonstrations in an existing task file (0 if there is none); unreadable files count as absent."""
    if not path.is_file():
        return 0
    try:
        # locking=False as every reader here: HDF5 refuses to open a file that this process (a training run's
        # lazy reader) holds open with other locking flags.
        with h5py.File(path, "r", locking=False) as f:
            return int(f["data"].attrs.get("num_demos", 0))
    except (OSError, KeyError):
        return 0


def kept_frames(frames: list[Any], cfg: GenerateConfig) -> list[Any]:
    """The recorded ``(obs, action, state)`` steps to write: all, or without no-ops with ``drop_noops``.

    The rule is the reader's ``data.libero.filter_noops`` (OpenVLA's ``regenerate_libero_dataset.py``), so a
    file written without no-ops reads the same whether or not the reader filters again.
    """
    if not cfg.drop_noops or not frames:
        return frames
    noop = noop_mask(np.stack([action for _, action, _ in frames]), cfg.noop_threshold)
    return [frame for frame, drop in zip(frames, noop, strict=True) if not drop]


def generate_task(
    task: Any, cfg: GenerateConfig, out: Path, *, camera_size: int, max_steps: int, bar: tqdm
) -> dict[str, Any]:
    """Run the expert on one task until ``demos_per_task`` successes or ``max_attempts``; write the file."""
    from foresight.envs.libero.config import NUM_INIT_STATES
    from foresight.envs.libero.expert import run_expert
    from foresight.envs.libero.sim import image_convention, make_sim, sample_init_state
    from foresight.envs.libero.tasks import load_init_states

    sim = make_sim(task, camera_size=camera_size, render=True)
    official = load_init_states(task) if cfg.init == "official" else None
    attempts_allowed = cfg.max_attempts or 2 * cfg.demos_per_task
    if official is not None:
        attempts_allowed = min(attempts_allowed, NUM_INIT_STATES)
    writer = LiberoHDF5Writer(
        out,
        task.name,
        language_instruction=task.instruction,
        problem_name=sim.env.parsed_problem["problem_name"],
        bddl_file_name=task.bddl_file,
        bddl_file_content=Path(task.bddl_file).read_text(),
        env_kwargs={"camera_heights": camera_size, "camera_widths": camera_size, "control_freq": 20},
        image_convention=image_convention(),
    )
    attempts, steps, init_used = 0, [], []
    try:
        while writer.num_demos < cfg.demos_per_task and attempts < attempts_allowed:
            init_index = attempts
            if official is None:
                state = sample_init_state(sim, seed=(cfg.seed, task.index, attempts))
            else:
                state = official[attempts % len(official)]
            attempts += 1
            episode = run_expert(sim, state, max_steps=max_steps, record=True)
            if not episode.success:
                continue
            frames = kept_frames(episode.frames, cfg)
            writer.start_demo(model_file=sim.sim.model.get_xml())
            for obs, action, state in frames:
                writer.add_step(obs, action, state)
            writer.end_demo()
            steps.append(episode.steps)
            init_used.append(init_index)
            bar.update(1)
        # A file with fewer demonstrations than asked is kept (it is real data) and regenerated by the next run.
        path = writer.close() if writer.num_demos else None
        if path is None:
            writer.abort()
    except BaseException:
        writer.abort()
        raise
    finally:
        sim.close()
    return {
        "task_index": task.index,
        "task": task.name,
        "attempts": attempts,
        "successes": len(steps),
        "success_rate": len(steps) / attempts if attempts else None,
        "mean_steps": sum(steps) / len(steps) if steps else None,
        "init": cfg.init,
        "init_states": init_used,  # official state indices, or the attempt numbers k of the sampled placements
        "file": str(path) if path else None,
        "skipped": False,
    }


def generate(suite: Any, cfg: GenerateConfig, *, progress: bool = True) -> dict[str, Any]:
    """Generate every selected task of ``suite`` (a LiberoEnv) and return the summary written to ``out``."""
    env_cfg = suite.config
    try:
        tasks = suite.tasks()  # the env config's tasks, which parse_args set from tasks=
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    out = Path(cfg.out).expanduser() if cfg.out else cache_root() / "libero_expert" / env_cfg.suite
    out.mkdir(parents=True, exist_ok=True)
    summary_path = out / SUMMARY_FILE
    previous = json.loads(summary_path.read_text()).get("per_task", []) if summary_path.is_file() else []
    by_index = {row["task_index"]: row for row in previous}
    max_steps = cfg.max_steps or env_cfg.step_limit
    start = time.time()
    bar = tqdm(total=len(tasks) * cfg.demos_per_task, desc=f"{env_cfg.suite} demos", disable=not progress)
    rows = []
    for task in tasks:
        done = complete_demos(out / demo_file_name(task.name))
        if done >= cfg.demos_per_task:
            row = {**by_index.get(task.index, {"task_index": task.index, "task": task.name}), "skipped": True}
            bar.update(cfg.demos_per_task)
        else:
            bar.set_postfix_str(task.name[:40])
            row = generate_task(task, cfg, out, camera_size=env_cfg.camera_size, max_steps=max_steps, bar=bar)
        rows.append(row)
        by_index[task.index] = row
        summary = {
            "suite": env_cfg.suite,
            "expert": "foresight.envs.libero.expert.ScriptedExpert",
            "options": asdict(cfg) | {"max_steps": max_steps, "camera_size": env_cfg.camera_size},
            "per_task": [by_index[i] for i in sorted(by_index)],
            "wall_s": time.time() - start,
        }
        write_json(summary_path, summary)
    bar.close()
    return summary | {"this_run": rows}


def print_table(summary: dict[str, Any]) -> None:
    print(f"\nscripted expert on {summary['suite']}:")
    print(f"{'task':>4}  {'success':>9}  {'steps':>5}  name")
    for row in summary["this_run"]:
        if row.get("skipped") and "attempts" not in row:
            rate = "done"
        elif row.get("attempts"):
            rate = f"{row['successes']}/{row['attempts']}"
        else:
            rate = "-"
        steps = f"{row['mean_steps']:.0f}" if row.get("mean_steps") else "-"
        print(
            f"{row['task_index']:>4}  {rate:>9}  {steps:>5}  {row['task']}" + ("  (skipped)" if row["skipped"] else "")
        )


def resolved(args: list[str]) -> dict[str, Any]:
    from foresight.envs.libero.cli import parse_suite_args

    env_node, cfg = parse_suite_args(args, GenerateConfig, "generate")
    return {"env": env_node, **asdict(cfg)}


def run(args: list[str]) -> int:
    """Generate, print the per-task table; exit 1 when a task fell short of ``demos_per_task``."""
    suite, cfg = parse_args(args)
    summary = generate(suite, cfg)
    print_table(summary)
    short = [r["task"] for r in summary["this_run"] if not r["skipped"] and r["successes"] < cfg.demos_per_task]
    if short:
        print(f"fewer than demos_per_task={cfg.demos_per_task} successes for: {short}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    from foresight import cli

    return cli.main("data generate", argv)


if __name__ == "__main__":
    sys.exit(main())
