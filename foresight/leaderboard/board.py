"""The leaderboard as data, before any rendering: sections of tables, one table per protocol.

Rules that make the board honest live here, once, for the Markdown report, the site and the plots alike:

* a table holds rows of one protocol only (reproduced: equal ``protocol_id``; reported: equal stated fields),
  and every table after a section's first names what separates its protocol from the first one;
* reproduced (and oracle) rows and reported rows never share a table;
* reported ablation and efficiency tables are shown as the paper printed them, outside the ranking.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from foresight.leaderboard.benchmarks import (
    BENCHMARK_LABELS,
    BENCHMARKS,
    CALVIN_CHAIN_LENGTH,
    LIBERO_STANDARD_SUITES,
    all_suites,
    suite_label,
)
from foresight.leaderboard.canonical import canonical_json
from foresight.leaderboard.protocols import describe, difference, family_id, stated_group_id
from foresight.leaderboard.reported import Paper, Reported, ReportedRow, ReportedTable
from foresight.leaderboard.schema import Rate, Result
from foresight.leaderboard.stats import wilson_interval
from foresight.leaderboard.store import StoredResult

DASH = "—"
OVERVIEW = "overview"


@dataclass(frozen=True)
class Cell:
    text: str
    value: float | None = None  # in display units (percent, or subtasks for Avg. Len.); None sorts last
    ci: tuple[float, float] | None = None


EMPTY = Cell(DASH)


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    title: str = ""  # full name (task instruction, suite name)
    role: str = "metric"  # "task": per-task/suite/in-a-row values (charted); "score": ranking; "info": text


@dataclass(frozen=True)
class Row:
    kind: str  # "reproduced" | "oracle" | "reported"
    method: str
    cells: Mapping[str, Cell]
    source: str
    href: str = ""  # results file, relative to the leaderboard directory
    notes: str = ""


@dataclass(frozen=True)
class Table:
    id: str
    title: str
    kind: str  # "reproduced" (reproduced and oracle rows) | "reported"
    group: str  # protocol group for the site's filter; "" for tables outside the ranking
    protocol: str
    difference: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    unit: str = "%"
    note: str = ""
    quotes: tuple[str, ...] = ()
    protocol_fields: Mapping[str, Any] = field(default_factory=dict)

    @property
    def task_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.role == "task")


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    benchmark: str
    tables: tuple[Table, ...]


@dataclass(frozen=True)
class Board:
    sections: tuple[Section, ...]
    ablations: tuple[Table, ...]
    efficiency: tuple[Table, ...]
    papers: tuple[Paper, ...]
    groups: tuple[tuple[str, str], ...]  # (group id, label) for the protocol filter
    n_reproduced: int
    studies: tuple[Table, ...] = ()  # one per study (foresight.study): its arms side by side, seeds pooled


# ---------------------------------------------------------------------------------------------- formatting
def pct(x: float) -> str:
    return f"{100 * x:.1f}"


def rate_cell(successes: int, trials: int) -> Cell:
    rate = successes / trials
    lo, hi = wilson_interval(successes, trials)
    return Cell(f"{pct(rate)} [{pct(lo)}, {pct(hi)}]", 100 * rate, (100 * lo, 100 * hi))


def _rate(r: Rate) -> Cell:
    return rate_cell(r.successes, r.trials)


def reported_cell(v: float | str | None, digits: int = 1) -> Cell:
    if v is None:
        return EMPTY
    if isinstance(v, str):
        return Cell(v)
    return Cell(f"{v:.{digits}f}", float(v))


def raw_cell(v: float | str) -> Cell:
    """A number exactly as the paper printed it (efficiency tables mix 6, 0.195 and 7.0)."""
    return Cell(v) if isinstance(v, str) else Cell(repr(v) if isinstance(v, float) else str(v), float(v))


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _sort_rows(rows: Iterable[Row], score: str) -> tuple[Row, ...]:
    def key(r: Row) -> tuple:
        v = r.cells.get(score, EMPTY).value
        return (v is None, -(v or 0.0), r.method.lower(), r.source, r.kind)

    return tuple(sorted(rows, key=key))


# ------------------------------------------------------------------------------------------- reproduced
def _hardware(res: Result) -> str:
    gpus = res.hardware.gpus
    if gpus:
        return f"{len(gpus)}× {gpus[0]}" if len(gpus) > 1 else gpus[0]
    return res.hardware.cpu or res.hardware.platform


def _provenance(res: Result) -> str:
    steps = res.checkpoint.training_steps
    steps_text = "/".join(str(s) for s in steps) if isinstance(steps, tuple) else str(steps)
    return f"{res.checkpoint.run_dir} @ {steps_text} steps"


def _reproduced_notes(res: Result) -> str:
    parts = list(res.labels)
    if res.kind == "oracle":
        parts.append("oracle: scripted expert with privileged state")
    parts.append(f"config {res.config_hash.removeprefix('sha256:')[:8]}, git {res.checkpoint.git_sha[:10]}")
    if res.notes:
        parts.append(res.notes)
    return "; ".join(parts)


def _task_columns(results: Sequence[Result]) -> tuple[Column, ...]:
    names: dict[int, str] = {}
    for res in results:
        for t in res.tasks:
            names.setdefault(t.index, t.name)
    return tuple(Column(f"t{i}", f"T{i + 1}", names[i], "task") for i in sorted(names))


def _libero_row(stored: StoredResult) -> Row:
    res = stored.result
    cells = {f"t{t.index}": rate_cell(t.successes, t.trials) for t in res.tasks}
    cells["avg"] = _rate(res.aggregate)
    cells["episodes"] = Cell(str(res.aggregate.trials), float(res.aggregate.trials))
    cells["eval"] = Cell(f"{duration(res.wall_time_s)} · {_hardware(res)}", res.wall_time_s)
    return Row(res.kind, res.method, cells, _provenance(res), f"results/{stored.path.name}", _reproduced_notes(res))


def _calvin_row(stored: StoredResult) -> Row:
    res = stored.result
    assert res.calvin is not None  # validated: CALVIN results always carry chain statistics
    cells = {f"k{k}": _rate(r) for k, r in enumerate(res.calvin.success_in_a_row, start=1)}
    cells["avg_len"] = Cell(f"{res.calvin.avg_len:.2f}", res.calvin.avg_len)
    cells["chains"] = Cell(str(sum(res.calvin.completed_histogram)), float(sum(res.calvin.completed_histogram)))
    cells["eval"] = Cell(f"{duration(res.wall_time_s)} · {_hardware(res)}", res.wall_time_s)
    for t in res.tasks:
        cells[f"sub:{t.name}"] = rate_cell(t.successes, t.trials)
    return Row(res.kind, res.method, cells, _provenance(res), f"results/{stored.path.name}", _reproduced_notes(res))


def _in_a_row_columns() -> tuple[Column, ...]:
    return tuple(
        Column(f"k{k}", f"{k}/5", f"chains that completed at least {k} subtasks in a row (%)", "task")
        for k in range(1, CALVIN_CHAIN_LENGTH + 1)
    )


def _reproduced_suite_table(section_id: str, bench: str, group: str, stored: Sequence[StoredResult]) -> Table:
    results = [s.result for s in stored]
    proto = results[0].protocol.to_dict()
    if bench == "calvin":
        subtasks = sorted({t.name for r in results for t in r.tasks})
        columns = (
            *_in_a_row_columns(),
            Column("avg_len", "Avg. Len.", "mean completed subtasks per chain (0-5)", "score"),
            Column("chains", "Chains", role="info"),
            Column("eval", "Eval", "wall time and hardware", "info"),
            *(Column(f"sub:{n}", n, f"subtask success rate (%): {n}", "subtask") for n in subtasks),
        )
        rows = [_calvin_row(s) for s in stored]
    else:
        columns = (
            *_task_columns(results),
            Column("avg", "Avg. SR (%)", "all episodes pooled, Wilson 95% interval", "score"),
            Column("episodes", "Episodes", role="info"),
            Column("eval", "Eval", "wall time and hardware", "info"),
        )
        rows = [_libero_row(s) for s in stored]
    return Table(
        id=f"{section_id}--{group}",
        title="Reproduced",
        kind="reproduced",
        group=group,
        protocol=describe(proto, bench),
        difference="",
        columns=columns,
        rows=_sort_rows(rows, _score_key(columns)),
        protocol_fields={k: v for k, v in proto.items() if k != "protocol_id"},
    )


def _reproduced_overview_tables(section_id: str, bench: str, stored: Sequence[StoredResult]) -> list[Table]:
    """One row per (method, config, checkpoint) across the four standard suites of one protocol family."""
    families: dict[str, dict[tuple, dict[str, StoredResult]]] = defaultdict(lambda: defaultdict(dict))
    family_fields: dict[str, dict[str, Any]] = {}
    for s in stored:
        res = s.result
        if res.suite not in LIBERO_STANDARD_SUITES:
            continue
        fam = family_id(res.protocol.to_dict())
        family_fields.setdefault(
            fam, {k: v for k, v in res.protocol.to_dict().items() if k not in ("protocol_id", "max_steps")}
        )
        identity = _overview_identity(res)
        # Sorted input: the first file of a (row, suite) pair wins, deterministically.
        families[fam][identity].setdefault(res.suite, s)
    tables = []
    for fam in sorted(families, key=lambda f: (-len(families[f]), f)):
        rows = []
        for _identity, by_suite in sorted(families[fam].items(), key=lambda kv: str(kv[0])):
            first = next(iter(by_suite.values())).result
            cells = {
                suite: _rate(by_suite[suite].result.aggregate) for suite in LIBERO_STANDARD_SUITES if suite in by_suite
            }
            if len(by_suite) == len(LIBERO_STANDARD_SUITES):
                s_total = sum(by_suite[x].result.aggregate.successes for x in LIBERO_STANDARD_SUITES)
                n_total = sum(by_suite[x].result.aggregate.trials for x in LIBERO_STANDARD_SUITES)
                cells["avg"] = rate_cell(s_total, n_total)
            missing = [suite_label(bench, x) for x in LIBERO_STANDARD_SUITES if x not in by_suite]
            notes = _reproduced_notes(first) + (f"; not evaluated: {', '.join(missing)}" if missing else "")
            source = _provenance(first)
            if first.kind == "oracle" and len(by_suite) > 1:  # one expert, a run folder per suite
                dirs = sorted({by_suite[x].result.checkpoint.run_dir for x in by_suite})
                source = source.replace(first.checkpoint.run_dir, ", ".join(dirs))
            rows.append(Row(first.kind, first.method, cells, source, "", notes))
        fields = family_fields[fam]
        tables.append(
            Table(
                id=f"{section_id}--{fam}",
                title="Reproduced",
                kind="reproduced",
                group=fam,
                protocol=describe(fields, bench) + ", suite step limits",
                difference="",
                columns=_suite_columns(bench, LIBERO_STANDARD_SUITES, pooled=True),
                rows=_sort_rows(rows, "avg"),
                protocol_fields=fields,
            )
        )
    return tables


SUITE_KEYS = ("suite", "max_steps", "tasks")
"""Config keys that name the evaluated suite rather than the policy (an oracle's config records its env)."""


def _overview_identity(res: Result) -> tuple[str, ...]:
    """What makes rows of different suites one overview row.

    A learned policy is one row per (method, config, checkpoint). A scripted expert has no training: its config
    records the env it ran in (suite, step limit) and its run folder is per suite, so those are left out and one
    expert is one row across the suites (its protocol family already groups equal trials and seeds).
    """
    if res.kind != "oracle":
        return (res.kind, res.method, res.config_hash, canonical_json(res.checkpoint.to_dict()))
    config = dict(res.config)
    if isinstance(config.get("env"), Mapping):
        config["env"] = {k: v for k, v in config["env"].items() if k not in SUITE_KEYS}
    checkpoint = {k: v for k, v in res.checkpoint.to_dict().items() if k != "run_dir"}
    return (res.kind, res.method, canonical_json(config), canonical_json(checkpoint))


SUITE_SHORT = {"libero_spatial": "Spatial", "libero_object": "Object", "libero_goal": "Goal", "libero_10": "Long"}


def _suite_columns(bench: str, suites: Sequence[str], pooled: bool) -> tuple[Column, ...]:
    avg_title = "all episodes of the four suites pooled" if pooled else "as printed by the paper"
    return (
        *(Column(s, SUITE_SHORT.get(s, s), suite_label(bench, s), "task") for s in suites),
        Column("avg", "Avg. (%)", avg_title, "score"),
    )


# --------------------------------------------------------------------------------------------- reported
Placed = tuple[ReportedTable, ReportedRow]
"""A reported row with the paper table it came from."""


def _reported_notes(row: ReportedRow) -> str:
    parts = [p for p in (row.note, f"paper inconsistency: {row.discrepancy}" if row.discrepancy else "") if p]
    return "; ".join(parts)


def _reported_boards(reported: Reported) -> dict[tuple[str, str], list[Placed]]:
    """Leaderboard rows by (benchmark, suite); a paper's multi-suite rows go to the four-suite overview only."""
    boards: dict[tuple[str, str], list[Placed]] = defaultdict(list)
    for t in reported.tables:
        if t.ablation or t.layout == "efficiency":
            continue
        assert t.benchmark is not None  # schema: every non-efficiency layout names its benchmark
        suite = OVERVIEW if t.layout == "suites" else t.suite or ""
        boards[(t.benchmark, suite)] += [(t, row) for row in t.rows]
    return boards


def _reported_row(t: ReportedTable, row: ReportedRow) -> Row:
    cells: dict[str, Cell] = {}
    if t.layout == "calvin":
        cells |= {f"k{k}": reported_cell(v) for k, v in enumerate(row.in_a_row or (), start=1)}
        cells["avg_len"] = reported_cell(row.avg_len, 2)
    elif t.layout == "suites":
        cells |= {s: reported_cell(v) for s, v in zip(t.suites, row.per_suite or (), strict=True)}
        cells["avg"] = reported_cell(row.average)
    elif t.layout == "suite":
        cells |= {f"t{i}": reported_cell(v) for i, v in enumerate(row.per_task or ())}
        cells["avg"] = reported_cell(row.average)
    if row.params_b is not None:
        cells["params"] = Cell(f"{row.params_b:g}B", row.params_b)
    cells |= {key: raw_cell(v) for key, v in row.values.items()}
    return Row("reported", row.method, cells, t.source, "", _reported_notes(row))


def _task_columns_of(t: ReportedTable | None) -> tuple[Column, ...]:
    return tuple(Column(f"t{i}", f"T{i + 1}", name, "task") for i, name in enumerate(t.tasks)) if t else ()


def _reported_tables(section_id: str, bench: str, suite: str, placed: Sequence[Placed]) -> list[Table]:
    groups: dict[str, list[Placed]] = defaultdict(list)
    for t, row in placed:
        groups[stated_group_id(row.protocol)].append((t, row))
    tables = []
    for gid, members in groups.items():
        fields = {k: v for k, v in members[0][1].protocol.items() if k != "quote"}
        if bench == "calvin":
            columns: tuple[Column, ...] = (
                *_in_a_row_columns(),
                Column("avg_len", "Avg. Len.", "mean completed subtasks per chain (0-5)", "score"),
            )
        elif suite == OVERVIEW:
            columns = _suite_columns(bench, LIBERO_STANDARD_SUITES, pooled=False)
        else:
            with_tasks = next((t for t, row in members if row.per_task), None)
            columns = (*_task_columns_of(with_tasks), Column("avg", "Avg. SR (%)", "as printed by the paper", "score"))
        if any(row.params_b is not None for _, row in members):
            columns = (*columns, Column("params", "Params", "parameters as printed by the paper", "info"))
        quotes = tuple(
            dict.fromkeys(f"{t.source}: {row.protocol['quote']}" for t, row in members if row.protocol.get("quote"))
        )
        tables.append(
            Table(
                id=f"{section_id}--{gid}",
                title="Reported by papers",
                kind="reported",
                group=gid,
                protocol=describe(fields, bench),
                difference="",
                columns=columns,
                rows=_sort_rows((_reported_row(t, row) for t, row in members), _score_key(columns)),
                quotes=quotes,
                protocol_fields=fields,
            )
        )
    # Tables with a stated protocol first (the fully unstated one last), then the most populated.
    return sorted(
        tables, key=lambda t: (all(v is None for v in t.protocol_fields.values()), -len(t.rows), t.protocol, t.id)
    )


def _score_key(columns: Sequence[Column]) -> str:
    return next((c.key for c in columns if c.role == "score"), "")


def _source_table(t: ReportedTable, prefix: str) -> Table:
    """A reported ablation or efficiency table, rows in the paper's order."""
    extra = tuple(Column(k, label) for k, label in t.columns)
    if t.layout == "calvin":
        in_a_row = _in_a_row_columns() if any(r.in_a_row for r in t.rows) else ()
        columns = (*in_a_row, Column("avg_len", "Avg. Len.", role="score"), *extra)
    elif t.layout == "suites":
        columns = (*_suite_columns(t.benchmark or "libero", t.suites, pooled=False), *extra)
    elif t.layout == "suite":
        columns = (*_task_columns_of(t), Column("avg", "Avg. SR (%)", role="score"), *extra)
    else:
        columns = extra
    where = ""
    if t.benchmark:
        where = suite_label(t.benchmark, t.suite) if t.suite else BENCHMARK_LABELS[t.benchmark]
    note = ". ".join(p.rstrip(".") for p in (where, f"Hardware: {t.hardware}" if t.hardware else "", t.note) if p)
    return Table(
        id=f"{prefix}--{t.id}",
        title=f"{t.source}: {t.caption}",
        kind="reported",
        group="",
        protocol="",
        difference="",
        columns=columns,
        rows=tuple(_reported_row(t, r) for r in t.rows),
        unit="%" if t.layout != "efficiency" else "",
        note=note,
    )


# ------------------------------------------------------------------------------------------------ board
def _with_differences(tables: Sequence[Table], bench: str) -> tuple[Table, ...]:
    if not tables:
        return ()
    first = tables[0]
    out = [first]
    for t in tables[1:]:
        diff = difference(first.protocol_fields, t.protocol_fields, bench)
        text = (
            f"Protocol differs from the first table of this section: {diff}"
            if diff
            else "Same stated protocol as the first table of this section"
        )
        out.append(replace(t, difference=text))
    return tuple(out)


def build_board(stored: Sequence[StoredResult], reported: Reported) -> Board:
    by_suite: dict[tuple[str, str], list[StoredResult]] = defaultdict(list)
    for s in stored:
        by_suite[(s.result.benchmark, s.result.suite)].append(s)
    placed = _reported_boards(reported)

    sections = []
    for bench, suites in all_suites().items():
        keys = ([OVERVIEW] if bench in ("libero", "libero_plus") else []) + list(suites)
        for suite in keys:
            section_id = f"{bench}-{suite}"
            tables: list[Table] = []
            if bench in BENCHMARKS:
                if suite == OVERVIEW:
                    tables += _reproduced_overview_tables(section_id, bench, _results_of(by_suite, bench))
                else:
                    groups: dict[str, list[StoredResult]] = defaultdict(list)
                    for s in by_suite.get((bench, suite), []):
                        groups[s.result.protocol.protocol_id].append(s)
                    # Most populated protocol first: it is the one the other tables are compared with.
                    order = sorted(groups, key=lambda g: (-len(groups[g]), g))
                    tables += [_reproduced_suite_table(section_id, bench, g, groups[g]) for g in order]
            tables += _reported_tables(section_id, bench, suite, placed.get((bench, suite), []))
            if not tables:
                continue
            name = "four-suite overview" if suite == OVERVIEW else suite_label(bench, suite)
            title = f"{BENCHMARK_LABELS[bench]}: {name}" if suite == OVERVIEW else name
            sections.append(Section(section_id, title, bench, _with_differences(tables, bench)))

    ablations = tuple(_source_table(t, "ablation") for t in reported.tables if t.ablation)
    efficiency = tuple(_source_table(t, "efficiency") for t in reported.tables if t.layout == "efficiency")
    groups_seen: dict[str, str] = {}
    for sec in sections:
        for t in sec.tables:
            groups_seen.setdefault(t.group, f"{t.kind}: {t.protocol}")
    filter_groups = tuple(sorted(groups_seen.items(), key=lambda kv: (kv[1], kv[0])))
    return Board(
        tuple(sections),
        ablations,
        efficiency,
        tuple(reported.papers.values()),
        filter_groups,
        len(stored),
        studies=_study_tables(stored),
    )


STUDIES_INTRO = (
    "Arms of one study (python -m foresight.study) side by side: same data, protocol and budget, with the "
    "foresight swapped. An arm is flagged where anything else differs (encoder, head, data, protocol)."
)
COMPONENT_NAMES = ("encoder", "head", "data", "protocol", "foresight")


def _study_tables(stored: Sequence[StoredResult]) -> tuple[Table, ...]:
    """One table per study: an arm per row, its seeds pooled (Wilson 95%), the per-seed rates, and a flag where
    anything besides the foresight differs from the study's first arm (components recorded by foresight.study)."""
    studies: dict[str, list[StoredResult]] = defaultdict(list)
    for s in stored:
        if s.result.study is not None:
            studies[s.result.study["name"]].append(s)
    tables = []
    for name in sorted(studies):
        arms: dict[str, list[Result]] = {}
        for s in sorted(studies[name], key=lambda s: (s.result.study["arm"], s.result.study["seed"])):
            arms.setdefault(s.result.study["arm"], []).append(s.result)
        results = [r for rs in arms.values() for r in rs]
        first = results[0]
        reference = dict(first.components or {})
        rows = []
        for arm, rs in arms.items():
            cells: dict[str, Cell] = {}
            for t in _task_columns(rs):
                idx = int(t.key[1:])
                wins = sum(x.successes for r in rs for x in r.tasks if x.index == idx)
                trials = sum(x.trials for r in rs for x in r.tasks if x.index == idx)
                cells[t.key] = rate_cell(wins, trials)
            cells["avg"] = rate_cell(sum(r.aggregate.successes for r in rs), sum(r.aggregate.trials for r in rs))
            seeds = [f"{r.study['seed']}: {pct(r.aggregate.rate)}" for r in rs]
            cells["seeds"] = Cell("; ".join(seeds), float(len(rs)))
            differs = sorted(
                {
                    k
                    for r in rs
                    for k in COMPONENT_NAMES
                    if k != "foresight" and (r.components or {}).get(k) != reference.get(k)
                }
            )
            cells["differs"] = Cell(("⚠ " + ", ".join(differs)) if differs else "only the foresight")
            cells["foresight"] = Cell(str((rs[0].components or {}).get("foresight", DASH)))
            label = rs[0].study.get("label") or arm
            rows.append(Row(rs[0].kind, f"{label} ({rs[0].method})", cells, f"{len(rs)} seed(s)", "",
                            _reproduced_notes(rs[0])))  # fmt: skip
        proto = first.protocol.to_dict()
        columns = (
            *_task_columns(results),
            Column("avg", "Pooled SR (%)", "every episode of every seed, Wilson 95% interval", "score"),
            Column("seeds", "Per seed (%)", "success of each training seed", "info"),
            Column("foresight", "Foresight", "the foresight module (components.foresight)", "info"),
            Column("differs", "Differs besides the foresight", f"components compared with arm {first.study['arm']!r}",
                   "info"),
        )  # fmt: skip
        tables.append(
            Table(
                id=f"study--{name}",
                title=f"Study {name}: {suite_label(first.benchmark, first.suite)}",
                kind="reproduced",
                group="",
                protocol=describe(proto, first.benchmark),
                difference="",
                columns=columns,
                rows=tuple(rows),
                note="Arms in the study file's order; seeds pooled. Report: docs/studies/" + name,
                protocol_fields={k: v for k, v in proto.items() if k != "protocol_id"},
            )
        )
    return tuple(tables)


def _results_of(by_suite: Mapping[tuple[str, str], list[StoredResult]], bench: str) -> list[StoredResult]:
    return [s for (b, _suite), items in sorted(by_suite.items()) if b == bench for s in items]
