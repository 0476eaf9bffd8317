"""Command line: ``python -m foresight.leaderboard [--dir leaderboard] {add,build,validate}``.

Exit status 0 on success, 1 when a file is invalid (each problem printed as ``file: field: reason``) or the
store refuses a conflicting result, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from foresight.leaderboard.build import LeaderboardPaths, build
from foresight.leaderboard.reported import load_reported
from foresight.leaderboard.store import StoreConflictError, add_result, load_results, read_result_file
from foresight.leaderboard.validation import LeaderboardValidationError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m foresight.leaderboard", description=__doc__.splitlines()[0])
    p.add_argument("--dir", type=Path, default=Path("leaderboard"), help="leaderboard directory (default: %(default)s)")
    sub = p.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="validate results files and file them in <dir>/results/")
    add.add_argument("files", nargs="+", type=Path)
    add.add_argument("--replace", action="store_true", help="overwrite a different result with the same identity")
    sub.add_parser("build", help="render <dir>/README.md, <dir>/site/index.html and <dir>/plots/")
    val = sub.add_parser("validate", help="check results files (default: the whole store) and reported.yaml")
    val.add_argument("files", nargs="*", type=Path)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    paths = LeaderboardPaths(args.dir)
    try:
        if args.command == "add":
            for f in args.files:
                print(f"added {f} -> {add_result(f, paths.results, replace=args.replace)}")
        elif args.command == "build":
            for written in build(paths.root):
                print(f"wrote {written}")
        else:
            if args.files:
                for f in args.files:
                    read_result_file(f)
                print(f"{len(args.files)} results file(s) valid")
            else:
                n = len(load_results(paths.results))
                tables = len(load_reported(paths.reported).tables)
                print(f"store valid: {n} result(s); {paths.reported}: {tables} table(s) valid")
    except (LeaderboardValidationError, StoreConflictError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
