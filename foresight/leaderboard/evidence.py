"""Results bound to their evidence: the episodes file a result's counts were computed from.

A result with ``evidence.episodes_sha256`` names the exact ``episodes.jsonl`` of its evaluation. The store keeps
that file as ``<leaderboard>/episodes/<result file stem>.jsonl``; ``foresight leaderboard validate`` then checks
its digest and recomputes every task's successes and trials from it (the last record of each episode, errors
excluded, as the evaluation runner counts them). A result whose file is absent validates on its own, and says so.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from foresight.leaderboard.validation import ResultValidationError

EPISODES_DIR = "episodes"


def episodes_path(result_path: Path) -> Path:
    """Where the store keeps the episodes of the result file ``result_path`` (``<root>/results/<name>.json``)."""
    return result_path.parent.parent / EPISODES_DIR / f"{result_path.stem}.jsonl"


def sha256_file(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def task_counts(episodes: Path) -> dict[int, tuple[str, int, int]]:
    """Per task index: (name, successes, trials) over the last record of each episode key with status ok."""
    latest: dict[str, dict[str, Any]] = {}
    for number, line in enumerate(episodes.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            issue = ("evidence", f"line {number} is not JSON: {exc.msg}")
            raise ResultValidationError([issue], str(episodes)) from None
        latest[record["key"]] = record
    counts: dict[int, tuple[str, int, int]] = {}
    for record in latest.values():
        if record.get("status") != "ok":
            continue
        name, wins, trials = counts.get(record["task_index"], (record["task"], 0, 0))
        counts[record["task_index"]] = (name, wins + int(bool(record["success"])), trials + 1)
    return counts


def check_evidence(result: Mapping[str, Any], result_path: Path) -> str:
    """Raise :class:`ResultValidationError` if the result disagrees with its episodes; returns what was checked."""
    evidence = result.get("evidence")
    if not evidence:
        return "no evidence recorded"
    episodes = episodes_path(result_path)
    if not episodes.is_file():
        return f"episodes not in the store ({episodes.name})"
    source = str(result_path)
    digest = sha256_file(episodes)
    if digest != evidence["episodes_sha256"]:
        raise ResultValidationError(
            [("evidence.episodes_sha256", f"{episodes} has digest {digest}, the result names another file")], source
        )
    counts = task_counts(episodes)
    issues = []
    for i, task in enumerate(result["tasks"]):
        found = counts.get(task["index"])
        if found is None:
            issues.append((f"tasks[{i}]", f"task {task['index']} has no episodes in {episodes.name}"))
        elif (found[1], found[2]) != (task["successes"], task["trials"]):
            issues.append(
                (f"tasks[{i}]", f"{task['successes']}/{task['trials']} != {found[1]}/{found[2]} in {episodes.name}")
            )
    extra = sorted(set(counts) - {t["index"] for t in result["tasks"]})
    if extra:
        issues.append(("tasks", f"{episodes.name} holds episodes of tasks {extra} the result does not list"))
    if issues:
        raise ResultValidationError(issues, source)
    return f"recomputed from {episodes.name}"
