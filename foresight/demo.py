"""``make demo`` / ``python -m foresight.demo``: the embedded end-to-end job, offline, on a CPU.

1. **data**: the scripted expert records demonstrations of one LIBERO task in the real simulator (official HDF5
   schema, fresh seeded placements), cached in ``$FORESIGHT_CACHE/libero_expert`` for the next run;
2. **train**: CLaD (both stages) through the same trainer as any real run, from its CPU smoke preset
   ``method=clad_tiny`` with a budget a CPU trains in minutes;
3. **evaluate**: a few episodes of that task from its official initial states, through the evaluation runner;
4. **record**: ``<run_dir>/demo_result.json`` (data, training, success, time per phase).

Options: ``demo.<key>=value`` (:class:`DemoConfig`: task, demos, trials, method); every other ``key=value`` goes
to the trainer (``train.steps=2000``, ``method.policy.obs_dim=128``). Re-running the command resumes each phase:
cached demonstrations are reused, training continues from its last checkpoint, finished episodes are skipped.

Offline there is no pretrained vision-language model, so CLaD's frozen DecisionNCE encoder is a random-weight
model of the released checkpoint's format (:mod:`foresight.encoders.decisionnce_tiny`): the job proves the
pipeline, not the paper's numbers. For those, train ``method=clad`` on real data with the commands in README.md.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from foresight.config import ConfigError
from foresight.fileio import write_json

SUITE = "libero_object"


@dataclass
class DemoConfig:
    """``demo.*``: what the embedded job records, trains and evaluates."""

    task: int = 0  # libero_object task; 0 (alphabet soup -> basket) is the scripted expert's steadiest task
    demos: int = 10  # scripted demonstrations (about 20 s each with cameras on 2 CPU cores)
    trials: int = 3  # evaluation episodes, from official initial states 0..trials-1 (about 60 s each at most)
    max_steps: int | None = None  # evaluation step limit; null: the protocol's (280 for libero_object)
    method: str = "clad"  # clad or dp (the diffusion-policy baseline), trained from its preset method=<name>_tiny
    run_dir: str = "runs/demo"

    def __post_init__(self) -> None:
        if self.method not in METHOD_OVERRIDES:
            raise ValueError(f"demo.method={self.method!r}: choose one of {sorted(METHOD_OVERRIDES)}")
        for name in ("demos", "trials"):
            if getattr(self, name) < 1:
                raise ValueError(f"demo.{name} must be at least 1, got {getattr(self, name)}")


COMMON = ["data.val_fraction=0", "train.num_workers=0", "train.checkpoint_every=200", "train.log_every=20"]

METHOD_OVERRIDES: dict[str, list[str]] = {
    "clad": ["method.dynamics.budget.steps=1000", "method.policy.budget.steps=3000",
             "method.dynamics.budget.batch_size=32", "method.policy.budget.batch_size=32"],
    "dp": ["train.steps=1000", "train.batch_size=32"],
}  # fmt: skip
"""The demo's budget on top of each method's tiny preset (``method=<name>_tiny``): a few minutes on 2 CPU cores."""

EXPERT_KEYS = ("attempts", "successes", "mean_steps", "init")
"""What the demo's record keeps of the generator's per-task row."""

SECONDS_PER = {"demo": 20.0, "train_step": 0.04, "episode": 60.0}
"""Measured on the 2-core CPU machines this was written on: what the time estimate is made of."""


def split_args(args: list[str]) -> tuple[DemoConfig, list[str]]:
    """``demo.*`` -> :class:`DemoConfig`; the rest are trainer overrides, kept in order."""
    from foresight import cli

    sections, rest = cli.split_args(args, "demo")
    return cli.parse_options([a.removeprefix("demo.") for a in sections["demo"]], DemoConfig, "demo"), rest


def merge(defaults: list[str], overrides: list[str]) -> list[str]:
    """Command-line ``key=value`` pairs replace the defaults of the same key."""
    given = {item.split("=", 1)[0] for item in overrides}
    return [item for item in defaults if item.split("=", 1)[0] not in given] + overrides


def train_args(cfg: DemoConfig, data_path: Path, task_name: str, overrides: list[str]) -> list[str]:
    """The trainer's command line: the demo's data, the method's tiny preset and budget, then the user's overrides."""
    defaults = [f"method={cfg.method}_tiny", f"run_dir={cfg.run_dir}", f"data={SUITE}", f"data.path={data_path}",
                f"data.tasks=[{task_name}]", *COMMON, *METHOD_OVERRIDES[cfg.method]]  # fmt: skip
    return merge(defaults, overrides)


def estimate(cfg: DemoConfig, cached: int, steps: int) -> str:
    parts = {
        "data": max(0, cfg.demos - cached) * SECONDS_PER["demo"],
        "train": steps * SECONDS_PER["train_step"],
        "evaluate": cfg.trials * SECONDS_PER["episode"],
    }
    detail = ", ".join(f"{name} ~{seconds / 60:.0f} min" for name, seconds in parts.items())
    return f"about {sum(parts.values()) / 60:.0f} minutes on 2 CPU cores ({detail})"


def total_steps(args: list[str]) -> int:
    """Optimizer steps the trainer will run, read from its ``*steps=`` arguments (all stages)."""
    train = [int(a.split("=", 1)[1]) for a in args if a.startswith("train.steps=")]
    stages = [int(a.split("=", 1)[1]) for a in args if a.startswith("method.") and a.split("=")[0].endswith(".steps")]
    return train[0] * max(1, len(stages)) if train else sum(stages)


def demo_task(cfg: DemoConfig) -> Any:
    """The LIBERO task the demo records; a missing libero extra or a task index out of range is a usage error."""
    try:
        from foresight.envs.libero.tasks import get_task

        return get_task(SUITE, cfg.task)
    except (IndexError, ImportError) as exc:
        raise ConfigError(f"demo.task={cfg.task}: {exc}") from exc


def data_dir(cfg: DemoConfig) -> Path:
    """The cached demonstrations: shared by every run of the demo on this machine (``$FORESIGHT_CACHE``)."""
    from foresight.data.config import cache_root

    return cache_root() / "libero_expert" / f"{SUITE}-task{cfg.task}"


def generate_data(cfg: DemoConfig) -> dict[str, Any]:
    """Record (or find cached) the demonstrations in :func:`data_dir`; the generator's row for the task."""
    from foresight.data.generate import generate, parse_args

    out = data_dir(cfg)
    suite, options = parse_args([f"env={SUITE}", f"tasks={cfg.task}", f"demos_per_task={cfg.demos}", f"out={out}"])
    row = generate(suite, options)["per_task"][0]
    if not row.get("file") and not row.get("skipped"):
        raise RuntimeError(f"the scripted expert recorded no demonstration of {row['task']}: see {out}")
    return row


def eval_args(cfg: DemoConfig) -> list[str]:
    """The evaluation's command line. It leaves ``eval.render`` and ``env.reset`` at their defaults, the fast path:
    cameras render only the frames the policy reads, and later trials keep the compiled simulator model."""
    args = [f"checkpoint={cfg.run_dir}", f"env={SUITE}", f"env.tasks=[{cfg.task}]", f"eval.trials={cfg.trials}",
            "eval.workers=1", f"eval.out={eval_dir(cfg)}"]  # fmt: skip
    if cfg.max_steps is not None:
        args.append(f"env.max_steps={cfg.max_steps}")
    return args


def eval_dir(cfg: DemoConfig) -> Path:
    return Path(cfg.run_dir) / "eval" / SUITE


def evaluate(cfg: DemoConfig) -> dict[str, Any]:
    from foresight.eval.cli import main as eval_main

    out = eval_dir(cfg)
    if eval_main(eval_args(cfg)) != 0:
        raise RuntimeError(f"the evaluation failed: see {out}")
    summary = json.loads((out / "summary.json").read_text())
    row = summary["results"]["per_task"][0]
    return {"successes": row["successes"], "episodes": row["episodes"], "summary": str(out / "summary.json")}


def resolved(args: list[str]) -> dict[str, Any]:
    cfg, overrides = split_args(args)
    return {"demo": cfg, "trainer_overrides": overrides}


def run(args: list[str]) -> int:
    from foresight import checkpoint
    from foresight.data.generate import complete_demos
    from foresight.data.libero_writer import demo_file_name
    from foresight.train import EXIT_STOPPED
    from foresight.train import main as train

    cfg, overrides = split_args(args)
    task = demo_task(cfg)
    cached = complete_demos(data_dir(cfg) / demo_file_name(task.name))
    print(f"foresight demo: {SUITE} task {cfg.task} ({task.instruction!r})")
    print(
        f"scripted demos -> {cfg.method} training -> {cfg.trials} evaluated episodes -> {cfg.run_dir}/demo_result.json"
    )
    data_path = data_dir(cfg)
    trainer_args = train_args(cfg, data_path, task.name, overrides)
    print(f"estimated time: {estimate(cfg, cached, total_steps(trainer_args))}; re-running resumes every phase\n")

    wall: dict[str, float] = {}
    start = time.time()
    print(f"[1/3] data: {cfg.demos} scripted demonstrations (cached: {min(cached, cfg.demos)})")
    try:
        data_row = generate_data(cfg)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    wall["data"] = time.time() - start

    print(f"\n[2/3] train: {cfg.method} on {data_path}")
    status = train(trainer_args)
    wall["train"] = time.time() - start - wall["data"]
    if status not in (0, EXIT_STOPPED):
        return status
    if not checkpoint.run_complete(Path(cfg.run_dir)):
        print("training stopped before the end; run the same command again to resume", file=sys.stderr)
        return EXIT_STOPPED

    print(f"\n[3/3] evaluate: {cfg.trials} episodes from official initial states 0..{cfg.trials - 1}")
    try:
        result = evaluate(cfg)
    except RuntimeError as exc:  # the evaluation CLI printed the cause already
        print(f"error: {exc}", file=sys.stderr)
        return 1
    wall["evaluate"] = time.time() - start - wall["data"] - wall["train"]
    record = {
        "config": asdict(cfg),
        "trainer_overrides": overrides,
        "data": {
            "path": str(data_path),
            "demos": cfg.demos,
            "expert": {k: data_row.get(k) for k in EXPERT_KEYS},
        },
        "evaluation": result,
        "wall_time_s": {k: round(v, 1) for k, v in wall.items()} | {"total": round(time.time() - start, 1)},
    }
    write_json(Path(cfg.run_dir) / "demo_result.json", record)
    print(
        f"\nsuccess: {result['successes']}/{result['episodes']} episodes of {task.name}\n"
        f"result: {cfg.run_dir}/demo_result.json; next: tensorboard --logdir {cfg.run_dir}, and the real-data "
        "commands in README.md"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    from foresight import cli

    return cli.main("demo", argv)


if __name__ == "__main__":
    sys.exit(main())
