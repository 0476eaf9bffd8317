"""``<out>/episodes.jsonl`` and ``<out>/run.json``: the durable record that makes an evaluation resumable.

Every finished episode is one JSON line, appended under an exclusive lock (several accelerate processes share
the file) and fsynced before the next episode is counted, so a killed evaluation loses at most the episodes that
were running. ``run.json`` pins what the lines measure (environment, protocol, action execution, checkpoint): a
resumed run that would mix in other measurements is refused instead of averaged.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from foresight.fileio import atomic_write_text

EPISODES_FILE = "episodes.jsonl"
RUN_FILE = "run.json"
SUMMARY_FILE = "summary.json"
RESULT_FILE = "result.json"

OK = "ok"
ERROR = "error"

POLICY_SEED = "policy_seed"
"""Episode-record key: the ``eval.seed`` the policy sampled under. ``eval.*`` is not part of ``run.json``, so a
resumed run may change it; the leaderboard protocol lists every seed its episodes used."""


class EvalError(RuntimeError):
    """An evaluation that cannot start or continue as asked; the message says what to change."""


class EpisodeLog:
    """Append-only JSONL of episode records, safe to share between processes on one filesystem."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def repair(self) -> int:
        """Drop a partial last line (a process killed mid-write); returns the bytes removed.

        Only one process may call this, before any process appends.
        """
        if not self.path.exists():
            return 0
        data = self.path.read_bytes()
        if not data or data.endswith(b"\n"):
            return 0
        keep = data.rfind(b"\n") + 1
        with open(self.path, "r+b") as fh:
            fh.truncate(keep)
            os.fsync(fh.fileno())
        return len(data) - keep

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        records = []
        with open(self.path, encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise EvalError(
                        f"{self.path} line {number} is not valid JSON ({exc.msg}); the file was edited or written by "
                        "something else: fix or delete that line, or evaluate into a new eval.out"
                    ) from None
        return records

    def append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, sort_keys=True) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)  # closing releases the lock


def latest_by_key(records: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The last record of each episode key: a retried error is superseded by the run that finished it."""
    out: dict[str, dict[str, Any]] = {}
    for record in records:
        out[record["key"]] = record
    return out


def finished_keys(records: Iterable[dict[str, Any]]) -> set[str]:
    """Episodes that need no re-run. Errors are re-run on resume: they measured the machine, not the policy."""
    return {key for key, record in latest_by_key(records).items() if record["status"] == OK}


def jsonable(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists), so identities compare equal after a round trip."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def check_run_identity(out_dir: Path, identity: dict[str, Any]) -> None:
    """Write ``run.json`` on the first run; on a resume, refuse if what the episodes measure has changed."""
    path = out_dir / RUN_FILE
    identity = jsonable(identity)
    if not path.exists():
        atomic_write_text(path, json.dumps(identity, indent=2, sort_keys=True) + "\n")
        return
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise EvalError(f"{path} is corrupted ({exc.msg}); delete it only if {out_dir} holds no results") from None
    changed = sorted(k for k in identity.keys() | stored.keys() if identity.get(k) != stored.get(k))
    if changed:
        detail = "; ".join(_first_difference(k, stored.get(k), identity.get(k)) for k in changed)
        raise EvalError(
            f"{out_dir} holds episodes of a different evaluation ({detail}). Results of different checkpoints or "
            "protocols must not be mixed: choose another eval.out, or delete that folder to start over"
        )


def _first_difference(path: str, old: Any, new: Any) -> str:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys()):
            if old.get(key) != new.get(key):
                return _first_difference(f"{path}.{key}", old.get(key), new.get(key))
    return f"{path} was {old!r}, now {new!r}"
