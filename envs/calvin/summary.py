"""CALVIN's score from per-chain results: success for 1..5 subtasks in a row, average length, per-subtask rates.

Same arithmetic as ``calvin_agent/evaluation/utils.py`` (``count_success``: the share of chains that completed at
least k subtasks; ``print_and_save``: the mean number completed, and per subtask the successes over the chains
that attempted it, i.e. its completions plus the one failure that ended a chain there). The chain statistics come
from the leaderboard's :class:`~foresight.leaderboard.schema.CalvinStats`, so a summary and a leaderboard row
cannot disagree, and every rate carries a Wilson 95 % interval.

A chain's result is the runner's episode record: ``info.completed`` (0..5) and ``info.subtasks`` as written by
:class:`~foresight.envs.calvin.rollout.CalvinRolloutEnv`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from foresight.envs.calvin.config import CHAIN_LENGTH


def chain_outcome(result: Mapping[str, Any], where: str) -> tuple[int, list[str]]:
    """``(completed, subtasks)`` of one chain result; a malformed one is an error naming ``where``."""
    info = result.get("info")
    if not isinstance(info, Mapping) or "completed" not in info or "subtasks" not in info:
        raise KeyError(
            f"{where} has no info.completed / info.subtasks (a CALVIN chain record); it has {sorted(result)}"
            + (f" and info keys {sorted(info)}" if isinstance(info, Mapping) else "")
        )
    completed, subtasks = info["completed"], list(info["subtasks"])
    if isinstance(completed, bool) or not isinstance(completed, int) or not 0 <= completed <= len(subtasks):
        raise ValueError(f"{where}: info.completed={completed!r} is not an integer in 0..{len(subtasks)}")
    if len(subtasks) != CHAIN_LENGTH:
        raise ValueError(f"{where}: a chain has {CHAIN_LENGTH} subtasks, got {subtasks}")
    return completed, subtasks


def subtask_counts(outcomes: Sequence[tuple[int, list[str]]]) -> tuple[Counter[str], Counter[str]]:
    """Per subtask: chains that attempted it, and chains that completed it."""
    attempts: Counter[str] = Counter()
    successes: Counter[str] = Counter()
    for completed, subtasks in outcomes:
        successes.update(subtasks[:completed])
        attempts.update(subtasks[: min(completed + 1, len(subtasks))])
    return attempts, successes


def _rate(successes: int, trials: int) -> dict[str, Any]:
    from foresight.leaderboard.schema import Rate

    rate = Rate.from_counts(successes, trials)
    return {"successes": successes, "episodes": trials, "success_rate": rate.rate, "ci95": list(rate.ci95)}


def summarize_chains(
    results: Sequence[Mapping[str, Any]],
    *,
    suite: str,
    task_names: Sequence[str],
    instructions: Mapping[str, str],
    expected: int,
) -> dict[str, Any]:
    """The summary of ``results`` (one per chain run); ``expected`` chains make the whole protocol."""
    from foresight.leaderboard.schema import CalvinStats

    outcomes = [chain_outcome(r, f"result {i}") for i, r in enumerate(results)]
    if not outcomes:
        raise ValueError("CALVIN statistics need at least one chain result")
    stats = CalvinStats.from_chain_lengths([completed for completed, _ in outcomes])
    attempts, successes = subtask_counts(outcomes)
    order = {name: i for i, name in enumerate(task_names)}
    unknown = sorted(set(attempts) - set(order))
    if unknown:
        raise ValueError(f"results name subtasks {unknown} that are not CALVIN tasks {list(task_names)}")
    per_task = [
        {"task_index": order[name], "task": name, "instruction": instructions.get(name), **_rate(successes[name], n)}
        for name, n in sorted(attempts.items(), key=lambda item: order[item[0]])
    ]
    full = stats.success_in_a_row[-1]
    return {
        "suite": suite,
        "avg_len": stats.avg_len,
        "success_in_a_row": [
            {"k": k, "successes": r.successes, "chains": r.trials, "rate": r.rate, "ci95": list(r.ci95)}
            for k, r in enumerate(stats.success_in_a_row, start=1)
        ],
        "completed_histogram": list(stats.completed_histogram),
        "chains": len(outcomes),
        "chains_expected": expected,
        "chains_missing": max(0, expected - len(outcomes)),
        # The generic fields every suite reports (the CLI prints them): here a success is a whole chain, 5/5.
        "success_definition": f"all {CHAIN_LENGTH} subtasks of the chain in a row",
        "successes": full.successes,
        "episodes": full.trials,
        "success_rate": full.rate,
        "ci95": list(full.ci95),
        "per_task": per_task,
    }
