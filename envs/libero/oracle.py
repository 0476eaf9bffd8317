"""The scripted expert under the evaluation protocol: the "oracle" row of the leaderboard.

    python -m foresight.envs.libero.oracle env=libero_object [env.trials_per_task=10] [env.tasks=[0,1]] [out=DIR]

The expert acts on privileged simulator state, so its success rate is an upper bound for the protocol (what a
scripted policy reaches from the same official initial states and step limits), not a method. Episodes are the
protocol's own (:meth:`LiberoEnv.episodes`: trial ``i`` starts from official state ``i % 50``); the simulator runs
without cameras, since the expert reads poses, not pixels. A task whose goal the expert cannot achieve counts each
of its trials as a failure and is named in the result's notes. Each finished episode is appended to
``<out>/episodes.jsonl``, so an interrupted run resumes where it stopped; when every task of the suite ran,
``<out>/result.json`` is written in the leaderboard schema (``python -m foresight.leaderboard add <out>/result.json``).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from foresight.checkpoint import git_sha
from foresight.envs.libero.cli import build_libero, parse_suite_args
from foresight.envs.libero.suite import LiberoEnv
from foresight.envs.libero.tasks import LiberoTask
from foresight.eval.results import (
    EPISODES_FILE,
    OK,
    RESULT_FILE,
    EpisodeLog,
    check_run_identity,
    finished_keys,
    latest_by_key,
)
from foresight.fileio import atomic_write_text, pretty_json
from foresight.rollout import EpisodeSpec

EXPERT = "foresight.envs.libero.expert.ScriptedExpert"
REFUSED = "refused"


@dataclass
class OracleConfig:
    """Options besides ``env=`` and ``env.*`` (validated: a typo names the valid keys)."""

    out: str | None = None  # null: runs/oracle/<suite>


def parse_args(args: list[str]) -> tuple[LiberoEnv, OracleConfig]:
    env_node, cfg = parse_suite_args(args, OracleConfig, "oracle")
    return build_libero(env_node), cfg


def run_task(task: LiberoTask, episodes: list[EpisodeSpec], max_steps: int, log: EpisodeLog, bar: tqdm) -> None:
    """Run the expert on ``episodes`` (all of ``task``) and append one record per episode as it finishes."""
    from foresight.envs.libero.expert import goal_predicates, run_expert
    from foresight.envs.libero.planner import UnsupportedGoal, plan
    from foresight.envs.libero.sim import make_sim
    from foresight.envs.libero.tasks import load_init_states

    sim = make_sim(task, render=False)
    try:
        states = load_init_states(task)
        try:
            plan(goal_predicates(sim), sim)
            refused = None
        except UnsupportedGoal as exc:
            refused = str(exc)
        for episode in episodes:
            record = {"key": episode.key, "task_index": task.index, "trial": episode.trial, "status": OK}
            if refused is None:
                start = time.perf_counter()
                result = run_expert(sim, states[episode.init_index], max_steps=max_steps)
                record |= {"success": result.success, "steps": result.steps, "wall_s": time.perf_counter() - start}
            else:
                record |= {"success": False, "steps": None, REFUSED: refused}
            log.append(record)
            bar.update(1)
    finally:
        sim.close()


def run_oracle(suite: LiberoEnv, cfg: OracleConfig, *, progress: bool = True) -> dict[str, Any]:
    """Every episode of the protocol not yet in ``<out>/episodes.jsonl``; returns the suite summary."""
    out = Path(cfg.out) if cfg.out else Path("runs") / "oracle" / suite.config.suite
    measured = {k: v for k, v in suite.config.to_dict().items() if k not in ("tasks", "trials_per_task")}
    out.mkdir(parents=True, exist_ok=True)
    check_run_identity(out, {"expert": EXPERT, "git_sha": git_sha(), "env": measured})
    log = EpisodeLog(out / EPISODES_FILE)
    log.repair()
    done = finished_keys(log.read())
    episodes = suite.episodes()
    todo = [e for e in episodes if e.key not in done]
    start = time.time()
    bar = tqdm(total=len(episodes), initial=len(episodes) - len(todo), desc=f"oracle {suite.config.suite}",
               disable=not progress)  # fmt: skip
    for task in suite.tasks():
        mine = [e for e in todo if e.task_index == task.index]
        if mine:
            bar.set_postfix_str(task.name[:40])
            run_task(task, mine, suite.config.step_limit, log, bar)
    bar.close()
    keys = {e.key for e in episodes}
    records = [r for r in latest_by_key(log.read()).values() if r["key"] in keys]
    summary = suite.summarize(records) | {"out": str(out), "wall_s_this_run": time.time() - start}
    summary["refused_tasks"] = sorted({r["task_index"] for r in records if r.get(REFUSED)})
    if suite.config.tasks is None:
        result = oracle_result(suite, summary, records)
        atomic_write_text(out / RESULT_FILE, pretty_json(result.to_dict()))
        summary["result"] = str(out / RESULT_FILE)
    return summary


def oracle_result(suite: LiberoEnv, summary: dict[str, Any], records: list[dict[str, Any]]) -> Any:
    """The leaderboard result of a whole-suite run: kind ``oracle``, the expert as the "method"."""
    from foresight import __version__
    from foresight.leaderboard import Checkpoint, Protocol, TaskOutcome, make_result

    config = suite.config
    refused = summary["refused_tasks"]
    notes = f"scripted expert ({EXPERT}) on privileged simulator state, no cameras"
    if refused:
        notes += f"; tasks {refused} are refused by the expert (goal predicates it has no primitive for): 0 successes"
    return make_result(
        kind="oracle",
        method="scripted_expert",
        config={"expert": EXPERT, "env": config.to_dict()},
        checkpoint=Checkpoint(
            git_sha=git_sha() or "0000000",
            package_version=__version__,
            data_fingerprint="none (no training data)",
            training_steps=0,
            run_dir=summary["out"],
        ),
        benchmark="libero",
        suite=config.suite,
        protocol=Protocol(
            trials_per_task=config.trials_per_task,
            seeds=(config.seed,),
            max_steps=config.step_limit,
            warmup_steps=0,  # the expert's own 5 still steps count against max_steps
            image_convention="raw",  # no images: the expert reads poses
            action_execution="receding_horizon",
            replan_every=1,
        ),
        tasks=[
            TaskOutcome(index=row["task_index"], name=row["task"], successes=row["successes"], trials=row["episodes"])
            for row in summary["per_task"]
        ],
        wall_time_s=sum(r.get("wall_s") or 0.0 for r in records),
        notes=notes,
    )


def print_table(summary: dict[str, Any]) -> None:
    print(f"\nscripted expert on {summary['suite']} (official init states):")
    print(f"{'task':>4}  {'success':>9}  {'steps':>5}  name")
    for row in summary["per_task"]:
        steps = f"{row['mean_steps']:.0f}" if row.get("mean_steps") else "-"
        refused = "  (refused)" if row["task_index"] in summary["refused_tasks"] else ""
        print(f"{row['task_index']:>4}  {row['successes']:>4}/{row['episodes']:<4}  {steps:>5}  {row['task']}{refused}")
    print(
        f"suite: {summary['successes']}/{summary['episodes']}"
        + (f"; {summary['result']}" if "result" in summary else "")
    )


def resolved(args: list[str]) -> dict[str, Any]:
    env_node, cfg = parse_suite_args(args, OracleConfig, "oracle")
    return {"env": env_node, "out": cfg.out}


def run(args: list[str]) -> int:
    suite, cfg = parse_args(args)
    print_table(run_oracle(suite, cfg))
    return 0


def main(argv: list[str] | None = None) -> int:
    from foresight import cli

    return cli.main("oracle", argv)


if __name__ == "__main__":
    sys.exit(main())
