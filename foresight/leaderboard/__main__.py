"""Command line: ``foresight leaderboard {add FILE...,build,validate [FILE...]} [dir=leaderboard] [replace=true]``.

Exit status 0 on success, 1 when a file is invalid (each problem printed as ``file: field: reason``) or the
store refuses a conflicting result, 2 on usage errors.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from foresight import cli
from foresight.leaderboard.build import LeaderboardPaths, build
from foresight.leaderboard.evidence import check_evidence
from foresight.leaderboard.reported import load_reported
from foresight.leaderboard.store import StoreConflictError, add_result, load_results, read_result_file
from foresight.leaderboard.validation import LeaderboardValidationError


@dataclass
class LeaderboardOptions:
    """``key=value`` options besides the sub-command and its files."""

    dir: str = "leaderboard"  # the leaderboard directory: results/, reported.yaml, README.md, site/, plots/
    replace: bool = False  # add: overwrite a different result with the same identity


SUBCOMMANDS = {
    "add": "validate results files and file them in <dir>/results/",
    "build": "render <dir>/README.md, <dir>/site/index.html and <dir>/plots/",
    "validate": "check results files (default: the whole store; success recomputed from stored episodes) and "
    "reported.yaml",
}


def resolved(args: list[str]) -> dict[str, object]:
    command, files, options = _parse(args)
    return {"command": command, "files": files, **asdict(options)}


def _parse(args: list[str]) -> tuple[str, list[Path], LeaderboardOptions]:
    words = [a for a in args if "=" not in a]
    options = cli.parse_options([a for a in args if "=" in a], LeaderboardOptions, "leaderboard")
    if not words or words[0] not in SUBCOMMANDS:
        given = f" (got {words[0]!r})" if words else ""
        raise cli.UsageError(f"choose one of {', '.join(SUBCOMMANDS)}{given}")
    command, files = words[0], [Path(f) for f in words[1:]]
    if command == "add" and not files:
        raise cli.UsageError("add needs at least one results file")
    if command == "build" and files:
        raise cli.UsageError(f"build takes no files, got {[str(f) for f in files]}")
    return command, files, options


def run(args: list[str]) -> int:
    command, files, options = _parse(args)
    paths = LeaderboardPaths(Path(options.dir))
    try:
        if command == "add":
            for f in files:
                print(f"added {f} -> {add_result(f, paths.results, replace=options.replace)}")
        elif command == "build":
            for written in build(paths.root):
                print(f"wrote {written}")
        elif files:
            for f in files:
                check_evidence(read_result_file(f), f)
            print(f"{len(files)} results file(s) valid")
        else:
            stored = load_results(paths.results)
            checked = sum(check_evidence(s.result.to_dict(), s.path).startswith("recomputed") for s in stored)
            tables = len(load_reported(paths.reported).tables)
            print(
                f"store valid: {len(stored)} result(s), {checked} recomputed from their episodes; "
                f"{paths.reported}: {tables} table(s) valid"
            )
    except (LeaderboardValidationError, StoreConflictError) as exc:
        print(f"foresight leaderboard: error: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main("leaderboard", argv)


if __name__ == "__main__":
    sys.exit(main())
