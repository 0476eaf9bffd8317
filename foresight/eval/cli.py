"""``python -m foresight.eval checkpoint=<run or checkpoint dir> env=<name> [env.* eval.*]``.

``env=libero_10`` loads ``configs/env/libero_10.yaml`` (its ``name:`` picks the registered suite and the rest is
validated against that suite's Config); ``env.<key>=...`` changes the protocol, ``eval.<key>=...`` only how it
is run (:class:`foresight.eval.config.EvalConfig`). The method, its data layout and normalisation come from the
checkpoint. The same command under ``accelerate launch`` shards the episodes over the processes.
"""

from __future__ import annotations

import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from foresight import cli
from foresight.config import GROUPS, ConfigError, available, load_group, parse_overrides, validate
from foresight.eval.config import EvalConfig

TOP_LEVEL = ("checkpoint", "env", "eval")


@dataclass
class EvalRun:
    """A parsed command line: where the weights are, the env section (validated by its suite), ``eval.*``."""

    checkpoint: str
    env: DictConfig
    env_label: str
    eval: EvalConfig
    env_overrides: tuple[str, ...] = ()  # env.* keys set on the command line


def parse_args(args: list[str]) -> EvalRun:
    """Compose and validate the command line; a :class:`ConfigError` names the offending key or value."""
    choices, dotted = parse_overrides(args)
    other_groups = sorted(set(choices) - {"env"})
    if other_groups:
        raise ConfigError(
            f"{', '.join(other_groups)} cannot be chosen for an evaluation: the method and its data come from the "
            "checkpoint. Give checkpoint=<run or checkpoint dir>, env=<name>, and env.* / eval.* overrides"
        )
    if "env" not in choices:
        raise ConfigError(f"choose an environment with env=<name>; shipped: {', '.join(available('env')) or 'none'}")
    cfg = OmegaConf.create({"checkpoint": None, "env": load_group("env", choices["env"]), "eval": {}})
    for key, value in dotted:
        top = key.split(".")[0]
        if top not in TOP_LEVEL or (top == "checkpoint" and key != "checkpoint"):
            known = ", ".join(f"{k}=" if k == "checkpoint" else f"{k}.*" for k in TOP_LEVEL)
            hint = " (env is chosen with env=<name>)" if key in GROUPS else ""
            raise ConfigError(f"unknown key {key!r} for an evaluation{hint}; valid: {known}")
        OmegaConf.update(cfg, key, value, merge=True)
    if cfg.checkpoint is None:
        raise ConfigError("give the policy to evaluate with checkpoint=<run dir or checkpoint dir>")
    return EvalRun(
        checkpoint=str(cfg.checkpoint),
        env=cfg.env,
        env_label=Path(choices["env"]).stem,
        eval=validate(cfg.eval, EvalConfig, "eval"),
        env_overrides=tuple(key.split(".", 1)[1] for key, _ in dotted if key.startswith("env.")),
    )


def training_frame_size(info: Any, views: tuple[str, ...]) -> int | None:
    """The square frame size the policy's views were trained at (``DatasetInfo.image_shapes``, ``(3, H, W)``),
    or None when it reads no image or its views differ in size or are not square."""
    sizes = set()
    for view in views:
        shape = tuple(info.image_shapes.get(view, ()))
        if len(shape) == 3:
            height, width = shape[1:] if shape[0] == 3 else shape[:2]
            sizes.add((int(height), int(width)))
    if len(sizes) != 1:
        return None
    ((height, width),) = sizes
    return height if height == width else None


def match_training_resolution(suite: Any, run: EvalRun, loaded: Any) -> Any:
    """Render at the resolution the checkpoint was trained at (a suite with ``camera_size``: LIBERO).

    Rendering at 128² for a policy trained on 256² frames (OpenVLA's regenerated files, as CLaD's authors used)
    would measure it on inputs it never saw. ``env.camera_size`` on the command line still wins, with a warning.
    """
    current = getattr(suite.config, "camera_size", None)
    size = training_frame_size(loaded.method.info, tuple(loaded.spec.views))
    if current is None or size is None or size == current:
        return suite
    if "camera_size" in run.env_overrides:
        print(
            f"warning: rendering at {current}x{current} (env.camera_size), but the checkpoint was trained on "
            f"{size}x{size} frames",
            file=sys.stderr,
        )
        return suite
    from foresight.factory import build_env

    print(
        f"note: rendering at {size}x{size}, the frame size the checkpoint was trained on (env.camera_size=N to "
        "override)",
        file=sys.stderr,
    )
    return build_env(OmegaConf.merge(run.env, {"camera_size": size}))


def default_out_dir(ckpt: Path, env_label: str) -> Path:
    """``<run>/eval/<stage>-<step>/<env>``: beside the checkpoints, not inside one, which training may prune."""
    if ckpt.parent.name == "checkpoints":
        return ckpt.parents[2] / "eval" / f"{ckpt.parents[1].name}-{ckpt.name}" / env_label
    return ckpt / "eval" / env_label


def _rate(row: dict[str, Any]) -> str:
    rate, ci = row.get("success_rate"), row.get("ci95")
    if rate is None:
        return "no episodes"
    interval = f"  [{100 * ci[0]:5.1f}, {100 * ci[1]:5.1f}]" if ci else ""
    return f"{100 * rate:5.1f}%{interval}  ({row.get('successes')}/{row.get('episodes')})"


def _chain_rates(results: dict[str, Any]) -> list[str]:
    """A chained benchmark's score (CALVIN: ``avg_len`` and ``success_in_a_row`` for k = 1..5)."""
    head = (
        f"  {results.get('suite')}: avg_len {results['avg_len']:.3f} over {results.get('chains')} chains; "
        "success for k tasks in a row (Wilson 95% intervals):"
    )
    rows = [
        f"    {row['k']} in a row: {_rate({**row, 'success_rate': row['rate'], 'episodes': row['chains']})}"
        for row in results["success_in_a_row"]
    ]
    return [head, *rows]


def print_summary(summary: dict[str, Any], out_dir: Path) -> None:
    """The report after an evaluation: per-task rates, then the suite's score (for a chained benchmark its
    success for 1..N tasks in a row and average length, Wilson 95% intervals throughout)."""
    results = summary["results"] or {}
    for row in results.get("per_task", []):
        if row.get("episodes"):
            print(f"  task {row['task_index']:>3}  {row['task'][:56]:<56}  {_rate(row)}")
    if "success_in_a_row" in results:
        print("\n".join(_chain_rates(results)))
    elif "success_rate" in results:
        print(f"  {results.get('suite', summary['env'])}: {_rate(results)}  (Wilson 95% interval)")
    counts, timing = summary["episodes"], summary["timing"]
    if counts["error"] or counts["missing"]:
        print(f"  {counts['error']} episodes failed with errors, {counts['missing']} missing: see {out_dir}")
    rate = timing["env_steps_per_s"]
    share = timing["policy_share"]
    print(
        f"  {timing['episodes_run']} episodes this session in {timing['wall_s']:.1f} s"
        + (f", {rate:.1f} env steps/s" if rate else "")
        + (f", policy {100 * share:.0f}% of the time" if share is not None else "")
    )
    lb = summary["leaderboard"]
    where = f"{out_dir}/summary.json" + (f" and {out_dir}/{lb['file']}" if lb["written"] else "")
    print(f"  written: {where}" + ("" if lb["written"] else f"  (no leaderboard result: {lb['reason']})"))


def resolved(args: list[str]) -> dict[str, Any]:
    job = parse_args(args)
    return {"checkpoint": job.checkpoint, "env": job.env, "eval": job.eval}


class Terminated(Exception):
    """SIGTERM (a job scheduler's stop, ``kill``) raised in the main process, handled like Ctrl-C."""


def _raise_terminated(_signum: int, _frame: Any) -> None:
    raise Terminated


def run(args: list[str]) -> int:
    """Parse, check the simulator is there, load the policy, run (or resume) the protocol, print the summary."""
    from foresight.checkpoint import load_policy
    from foresight.eval.results import EPISODES_FILE
    from foresight.eval.runner import evaluate, process_state
    from foresight.factory import build_env
    from foresight.resume import unfinished_note

    job = parse_args(args)
    suite = build_env(job.env)
    suite.protocol()  # where an env checks that its simulator is installed: before a checkpoint is loaded
    state = process_state()
    loaded = load_policy(job.checkpoint, device=job.eval.device or state.device)
    suite = match_training_resolution(suite, job, loaded)
    unfinished = unfinished_note(loaded.path, loaded.provenance)
    if unfinished and state.is_main_process:
        print(f"warning: {unfinished}; this evaluates an unfinished run", file=sys.stderr)
    out_dir = Path(job.eval.out) if job.eval.out else default_out_dir(loaded.path, job.env_label)
    previous_handler = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        summary = evaluate(suite, loaded, job.eval, out_dir, label=job.env_label, state=state)
    except (KeyboardInterrupt, Terminated) as exc:
        how = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
        print(f"\n{how}: re-run the same command to resume (finished episodes are in {out_dir / EPISODES_FILE})",
              file=sys.stderr)  # fmt: skip
        return 143 if isinstance(exc, Terminated) else 130
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
    if summary is not None:
        print_summary(summary, out_dir)
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli.main("eval", argv)
