"""``leaderboard/reported.yaml``: the numbers papers report, kept apart from what foresight reproduced.

The file is organised like the papers: one entry per paper table, with its source (paper, table, section), its
rows, and the protocol *as the paper states it* (anything it does not state stays null and renders as
"unstated"). Loading validates against ``reported.schema.json`` and then cross-checks each row: lengths match
the table's columns, and a row's average equals the mean of its entries (CALVIN: Avg. Len. equals the sum of
the in-a-row rates) unless the row records the paper's own ``discrepancy``. That check is what catches a
mistyped number during transcription.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from foresight.leaderboard.benchmarks import all_suites
from foresight.leaderboard.validation import Issue, ReportedValidationError, schema_issues

SCHEMA_FILE = "reported.schema.json"
MEAN_TOL = 0.051  # entries and averages printed to 0.1: rounding alone moves a mean by up to 0.05
AVG_LEN_TOL = 0.008  # five rates printed to 0.1 % (±0.0025 in length) plus Avg. Len. printed to 0.01 (±0.005)
PROTOCOL_KEYS = ("trials_per_task", "checkpoints_averaged", "checkpoint_selection", "num_chains", "seeds", "max_steps")


@dataclass(frozen=True)
class Paper:
    key: str
    title: str
    reference: str
    short: str


@dataclass(frozen=True)
class ReportedRow:
    method: str
    protocol: Mapping[str, Any]  # table protocol with the row's overrides applied
    params_b: float | None = None
    per_task: tuple[float, ...] | None = None
    per_suite: tuple[float, ...] | None = None
    average: float | None = None
    in_a_row: tuple[float, ...] | None = None
    avg_len: float | None = None
    values: Mapping[str, float | str] = field(default_factory=dict)
    note: str = ""
    discrepancy: str = ""


@dataclass(frozen=True)
class ReportedTable:
    id: str
    paper: Paper
    table: str
    section: str
    caption: str
    layout: str  # "suite" | "suites" | "calvin" | "efficiency"
    rows: tuple[ReportedRow, ...]
    ablation: bool = False
    benchmark: str | None = None
    suite: str | None = None
    tasks: tuple[str, ...] = ()
    suites: tuple[str, ...] = ()
    columns: tuple[tuple[str, str], ...] = ()  # (key, label) of extra or efficiency columns
    average_is_mean: bool = True
    hardware: str = ""
    note: str = ""

    @property
    def source(self) -> str:
        """Human citation of the table, e.g. ``CLaD Table 1 (§5.2)``."""
        return f"{self.paper.short} {self.table} ({self.section})"


@dataclass(frozen=True)
class Reported:
    papers: Mapping[str, Paper]
    tables: tuple[ReportedTable, ...]


def _layout_issues(i: int, t: Mapping[str, Any], papers: Mapping[str, Any]) -> list[Issue]:
    issues: list[Issue] = []
    at = f"tables[{i}]"
    layout = t["layout"]
    if t["paper"] not in papers:
        issues.append((f"{at}.paper", f"{t['paper']!r} is not in papers (valid: {', '.join(sorted(papers))})"))
    suites = all_suites()
    bench = t.get("benchmark")
    if bench is not None:
        for key in ([t["suite"]] if "suite" in t else []) + list(t.get("suites", [])):
            if key not in suites[bench]:
                valid = ", ".join(sorted(suites[bench]))
                issues.append((f"{at}.suite", f"{key!r} is not a {bench} suite (valid: {valid})"))
    if layout == "calvin" and bench != "calvin":
        issues.append((f"{at}.benchmark", "the calvin layout needs benchmark 'calvin'"))
    columns = {c["key"] for c in t.get("columns", [])}
    allowed = {
        "suite": {"per_task", "average"},
        "suites": {"per_suite", "average"},
        "calvin": {"in_a_row", "avg_len"},
        "efficiency": set(),
    }[layout]
    for j, row in enumerate(t["rows"]):
        rat = f"{at}.rows[{j}]"
        for key in ("per_task", "per_suite", "average", "in_a_row", "avg_len"):
            if key in row and key not in allowed:
                issues.append((f"{rat}.{key}", f"not used by the {layout!r} layout (its fields: {sorted(allowed)})"))
        unknown = sorted(set(row.get("values", {})) - columns)
        if unknown:
            issues.append((f"{rat}.values", f"keys {unknown} are not table columns (columns: {sorted(columns)})"))
        issues += _row_number_issues(rat, t, row)
    return issues


def _row_number_issues(rat: str, t: Mapping[str, Any], row: Mapping[str, Any]) -> list[Issue]:
    issues: list[Issue] = []
    layout = t["layout"]
    excused = bool(row.get("discrepancy"))
    if layout == "suite":
        if "per_task" not in row and "average" not in row:
            issues.append((rat, "a 'suite' row needs per_task, average or both"))
        if "per_task" in row and len(row["per_task"]) != len(t.get("tasks", [])):
            issues.append((f"{rat}.per_task", f"{len(row['per_task'])} values for {len(t.get('tasks', []))} tasks"))
        entries = row.get("per_task")
    elif layout == "suites":
        if "per_suite" not in row:
            issues.append((f"{rat}.per_suite", "required field is missing"))
        elif len(row["per_suite"]) != len(t["suites"]):
            issues.append((f"{rat}.per_suite", f"{len(row['per_suite'])} values for {len(t['suites'])} suites"))
        entries = row.get("per_suite")
    elif layout == "calvin":
        if "avg_len" not in row:
            issues.append((f"{rat}.avg_len", "required field is missing"))
        elif "in_a_row" in row and not excused:
            implied = sum(row["in_a_row"]) / 100
            if abs(implied - row["avg_len"]) > AVG_LEN_TOL:
                issues.append(
                    (
                        f"{rat}.avg_len",
                        f"{row['avg_len']} but the in-a-row rates sum to {implied:.3f}; fix the transcription or "
                        "record the paper's discrepancy",
                    )
                )
        return issues
    else:
        if not row.get("values"):
            issues.append((f"{rat}.values", "an efficiency row needs at least one value"))
        return issues
    if entries and "average" in row and t.get("average_is_mean", True) and not excused:
        mean = sum(entries) / len(entries)
        if abs(mean - row["average"]) > MEAN_TOL:
            issues.append(
                (
                    f"{rat}.average",
                    f"{row['average']} but the row's mean is {mean:.2f}; fix the transcription or record the "
                    "paper's discrepancy",
                )
            )
    return issues


def _protocol(table: Mapping[str, Any], row: Mapping[str, Any]) -> dict[str, Any]:
    merged = {k: None for k in PROTOCOL_KEYS} | {"quote": ""}
    merged.update(table.get("protocol", {}))
    merged.update(row.get("protocol", {}))
    return merged


def _tuple(v: Any) -> tuple | None:
    return tuple(v) if v is not None else None


def parse_reported(doc: Any, source: str | None = None) -> Reported:
    """Validate a parsed reported-numbers document and load it."""
    issues = schema_issues(doc, SCHEMA_FILE)
    if not issues:
        ids = [t["id"] for t in doc["tables"]]
        issues += [("tables", f"duplicate table id {d!r}") for d in sorted({i for i in ids if ids.count(i) > 1})]
        for i, t in enumerate(doc["tables"]):
            issues += _layout_issues(i, t, doc["papers"])
    if issues:
        raise ReportedValidationError(issues, source)
    papers = {
        key: Paper(key, p["title"], p["reference"], p.get("short", key)) for key, p in sorted(doc["papers"].items())
    }
    tables = []
    for t in doc["tables"]:
        rows = tuple(
            ReportedRow(
                method=r["method"],
                protocol=_protocol(t, r),
                params_b=r.get("params_b"),
                per_task=_tuple(r.get("per_task")),
                per_suite=_tuple(r.get("per_suite")),
                average=r.get("average"),
                in_a_row=_tuple(r.get("in_a_row")),
                avg_len=r.get("avg_len"),
                values=dict(r.get("values", {})),
                note=r.get("note", ""),
                discrepancy=r.get("discrepancy", ""),
            )
            for r in t["rows"]
        )
        tables.append(
            ReportedTable(
                id=t["id"],
                paper=papers[t["paper"]],
                table=t["table"],
                section=t["section"],
                caption=t["caption"],
                layout=t["layout"],
                rows=rows,
                ablation=t.get("ablation", False),
                benchmark=t.get("benchmark"),
                suite=t.get("suite"),
                tasks=tuple(t.get("tasks", ())),
                suites=tuple(t.get("suites", ())),
                columns=tuple((c["key"], c["label"]) for c in t.get("columns", ())),
                average_is_mean=t.get("average_is_mean", True),
                hardware=t.get("hardware", ""),
                note=t.get("note", ""),
            )
        )
    return Reported(papers, tuple(tables))


def load_reported(path: str | Path) -> Reported:
    """Read and validate ``reported.yaml``; a missing file is an empty set of reported numbers."""
    path = Path(path)
    if not path.exists():
        return Reported({}, ())
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ReportedValidationError([("", f"not valid YAML: {exc}")], str(path)) from None
    return parse_reported(doc, source=str(path))
