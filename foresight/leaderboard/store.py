"""``leaderboard/results/``: one validated JSON file per evaluation, under a name derived from its identity.

The name hashes what makes an evaluation *this* evaluation (kind, method, config hash, checkpoint provenance,
benchmark, suite, protocol id), so adding the same file twice is a no-op, and a second, different evaluation
of the same identity is refused unless replacing is asked for. Files are validated before they are written
and written atomically (:mod:`foresight.fileio`), so a malformed file or a crash never leaves the
store with a bad or partial entry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foresight.fileio import atomic_write_text
from foresight.leaderboard.canonical import pretty_json, sha256_hex
from foresight.leaderboard.schema import Result, validate_result
from foresight.leaderboard.validation import ResultValidationError


class StoreConflictError(FileExistsError):
    """The store already holds a different result with the same identity."""


@dataclass(frozen=True)
class StoredResult:
    path: Path
    result: Result


def result_filename(d: Mapping[str, Any]) -> str:
    """Deterministic file name of a (valid) result document."""
    identity = {
        "kind": d["kind"],
        "method": d["method"]["name"],
        "config_hash": d["method"]["config_hash"],
        "checkpoint": d["checkpoint"],
        "benchmark": d["benchmark"],
        "suite": d["suite"],
        "protocol_id": d["protocol"]["protocol_id"],
    }
    return f"{d['benchmark']}__{d['suite']}__{d['method']['name']}__{d['kind']}__{sha256_hex(identity)[:16]}.json"


def read_result_file(path: str | Path) -> dict[str, Any]:
    """Parse and validate a results file, raising :class:`ResultValidationError` that names the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ResultValidationError([("", f"cannot read: {exc.strerror or exc}")], str(path)) from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultValidationError(
            [("", f"not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}")], str(path)
        ) from None
    validate_result(obj, source=str(path))
    return obj


def add_result(source: str | Path | Mapping[str, Any], store_dir: str | Path, *, replace: bool = False) -> Path:
    """Validate ``source`` (a results file or document) and file it in ``store_dir``; returns the stored path."""
    if isinstance(source, Mapping):
        obj = dict(source)
        validate_result(obj)
    else:
        obj = read_result_file(source)
    target = Path(store_dir) / result_filename(obj)
    content = pretty_json(obj)
    if target.exists():
        if target.read_text(encoding="utf-8") == content:
            return target
        if not replace:
            raise StoreConflictError(
                f"{target} already holds a different evaluation of the same method, checkpoint and protocol; "
                "pass replace=true to overwrite it"
            )
    atomic_write_text(target, content)
    return target


def load_results(store_dir: str | Path) -> list[StoredResult]:
    """Every result in the store, sorted by file name; hidden files (temporaries) are skipped.

    A file that fails validation, or whose name does not match its content, raises: the store is written only
    through :func:`add_result`, so either means a hand edit that the leaderboard must not silently render.
    """
    store = Path(store_dir)
    if not store.is_dir():
        return []
    out = []
    for path in sorted(p for p in store.glob("*.json") if not p.name.startswith(".")):
        obj = read_result_file(path)
        expected = result_filename(obj)
        if path.name != expected:
            raise ResultValidationError(
                [("", f"file name does not match its content (expected {expected})")], str(path)
            )
        out.append(StoredResult(path, Result.from_dict(obj, source=str(path))))
    return out
