"""``python -m foresight.study <name or study file> [out=DIR] [seeds=[0,1]] [leaderboard=DIR] [report_only=true]``.

Trains and evaluates every arm and seed of a study (``configs/study/<name>.yaml`` or a path), one progress bar
over the whole study with its ETA, then writes each arm's record and leaderboard result and the study report.
Killed at any point (Ctrl-C, SIGTERM, a lost session), the same command resumes: finished training steps (up to
the last checkpoint), finished episodes and finished arms are never redone. Adding an arm to the study file and
re-running trains and evaluates only that arm.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foresight import cli
from foresight.config import ConfigError


@dataclass
class StudyOptions:
    """``key=value`` options after the study's name; each replaces the study file's value of the same key."""

    out: str | None = None  # the study's folder (default: the file's out, else runs/study/<name>)
    seeds: list[int] | None = None  # training seeds, e.g. [0] for a quick first pass; more later resume
    leaderboard: str | None = None  # leaderboard folder whose results/ receives each arm's result
    report: str | None = None  # folder the report is copied to (docs/studies/<name>)
    report_only: bool = False  # rebuild the report (and leaderboard files) from the records; run nothing
    progress: bool = True


def _parse(args: list[str]) -> tuple[str, StudyOptions]:
    words = [a for a in args if "=" not in a]
    if len(words) != 1:
        raise cli.UsageError(f"give exactly one study (a name under configs/study/ or a file), got {words}")
    return words[0], cli.parse_options([a for a in args if "=" in a], StudyOptions, "study")


def load(args: list[str]) -> tuple[Any, StudyOptions]:
    from foresight.study.spec import load_study

    name, opts = _parse(args)
    overrides = {k: getattr(opts, k) for k in ("out", "seeds", "leaderboard", "report") if getattr(opts, k) is not None}
    return load_study(name, overrides), opts


def resolved(args: list[str]) -> dict[str, Any]:
    from foresight.study.runner import Unit, train_args

    spec, opts = load(args)
    units = [Unit(arm, seed, spec.out_dir) for arm, seed in spec.units()]
    for unit in units[: len(spec.arms)]:  # every arm's config validates, as the trainer will check it
        check_arm(spec, unit)
    return {
        "study": spec,
        "options": opts,
        "train_commands": {u.tag: "foresight train " + " ".join(train_args(spec, u)) for u in units},
    }


def check_arm(spec: Any, unit: Any) -> None:
    """The arm's training config validates against the trainer's and its method's schemas (a typo is an error)."""
    from foresight.config import validate
    from foresight.factory import method_config
    from foresight.study.runner import train_config
    from foresight.train import RunConfig

    cfg = train_config(spec, unit)
    try:
        validate(cfg, RunConfig, "config")
        method_config(cfg.method)
    except (ConfigError, ValueError) as exc:
        raise ConfigError(f"study arm {unit.arm.name!r}: {exc}") from exc


def publish(spec: Any, records: list[dict[str, Any]]) -> list[Path]:
    """File each record's leaderboard result (and its episodes, the evidence) in ``spec.leaderboard``, then rebuild
    that leaderboard."""
    from foresight.leaderboard.evidence import episodes_path
    from foresight.leaderboard.store import add_result

    if not spec.leaderboard:
        return []
    root = Path(spec.leaderboard)
    written = []
    for rec in records:
        if not rec.get("leaderboard_result"):
            continue
        stored = add_result(spec.out_dir / rec["leaderboard_result"], root / "results", replace=True)
        target = episodes_path(stored)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(spec.out_dir / rec["episodes"]["file"], target)
        written += [stored, target]
    if written:  # the board's README, site and plots show the new rows at once
        from foresight.leaderboard.build import build

        written += build(root)
    return written


def run(args: list[str]) -> int:
    from foresight.study.report import load_records, write_report
    from foresight.study.runner import Study, StudyInterrupted, _spec_dict

    spec, opts = load(args)
    order = [a.name for a in spec.arms]
    if not opts.report_only:
        study = Study(spec, progress=opts.progress)
        try:
            study.run()
        except StudyInterrupted:
            print(f"\nstudy stopped: re-run `python -m foresight.study {' '.join(args)}` to resume", file=sys.stderr)
            return 130
    wanted = {f"{a.name}__seed{s}" for a, s in spec.units()}
    records = [r for r in load_records(spec.out_dir / "records", order) if f"{r['arm']}__seed{r['seed']}" in wanted]
    if not records:
        raise ConfigError(f"no finished arm in {spec.out_dir / 'records'}: run the study first")
    done = {f"{r['arm']}__seed{r['seed']}" for r in records}
    missing = [f"{a.name} seed {s}" for a, s in spec.units() if f"{a.name}__seed{s}" not in done]
    command = f"python -m foresight.study {' '.join(a for a in args if not a.startswith('report_only='))}"
    info = {**_spec_dict(spec), "command": command, "missing": missing}
    readme = write_report(info, records, spec.baseline_arm, spec.out_dir / "report")
    print(f"report: {readme}")
    if spec.report:
        target = Path(spec.report)
        shutil.copytree(readme.parent, target, dirs_exist_ok=True)
        print(f"report copied to {target}")
    for path in publish(spec, records):
        print(f"leaderboard: {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli.main("study", argv)


if __name__ == "__main__":
    sys.exit(main())
