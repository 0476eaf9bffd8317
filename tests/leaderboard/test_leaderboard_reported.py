"""leaderboard/reported.yaml: schema, cross-checks that catch mistyped numbers, and every row found in its paper."""

import copy
import os
import re
from pathlib import Path

import pytest
import yaml
from lb_factories import REPO

from foresight.leaderboard import ReportedValidationError
from foresight.leaderboard.reported import load_reported, parse_reported

REPORTED = REPO / "leaderboard" / "reported.yaml"
PAPERS = Path(os.environ.get("FORESIGHT_PAPERS_DIR", "/work/shared/papers"))
PAPER_FILES = {
    "clad": "clad-paper.txt",
    "dreamvla": "dreamvla-paper.txt",
    "mola": "mola-paper.txt",
    "clap": "clap-paper.txt",
}
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?")


@pytest.fixture(scope="module")
def doc():
    return yaml.safe_load(REPORTED.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def reported():
    return load_reported(REPORTED)


def _table(reported, table_id):
    return next(t for t in reported.tables if t.id == table_id)


def _row(table, method):
    return next(r for r in table.rows if r.method == method)


def test_covers_the_papers_tables(reported):
    ids = {t.id for t in reported.tables}
    clad = {f"clad-table{i}" for i in range(1, 8)}
    assert clad <= ids, clad - ids
    assert {"dreamvla-table1", "mola-table1", "mola-table2", "mola-table3", "clap-table4"} <= ids
    assert {t.id for t in reported.tables if t.layout == "efficiency"} >= {"clad-table2", "clad-table3", "clap-table8"}
    clad_t1 = _table(reported, "clad-table1")
    assert [r.method.split()[0] for r in clad_t1.rows] == [
        "SuSIE",
        "Seer",
        "LBP",
        "π0",
        "π0.5",
        "OpenVLA",
        "CLaD",
        "CLaD",
    ]
    assert {r.method for r in _table(reported, "clad-table6").rows} >= {"UniVLA", "π0 ◇", "π0.5 ◇", "OpenVLA ◇"}
    assert {r.method for r in _table(reported, "clad-table3").rows} == {"UVA", "LBP", "CLaD"}


def test_key_numbers_and_their_stated_protocols(reported):
    t1 = _table(reported, "clad-table1")
    dagger, ddagger = _row(t1, "CLaD †"), _row(t1, "CLaD ‡")
    assert (dagger.average, dagger.protocol["trials_per_task"], dagger.protocol["checkpoints_averaged"]) == (
        94.5,
        20,
        3,
    )
    assert (ddagger.average, ddagger.protocol["trials_per_task"], ddagger.protocol["checkpoints_averaged"]) == (
        94.7,
        50,
        1,
    )
    assert ddagger.per_task[8] == 82.0 and dagger.per_task[8] == 81.7
    assert _row(t1, "SuSIE").protocol["trials_per_task"] is None  # unstated stays unstated
    assert _row(_table(reported, "clad-table6"), "CLaD").per_suite == (97.3, 95.7, 94.3, 94.7)
    assert _row(_table(reported, "clad-table3"), "UVA").values == {
        "params_b": 0.5,
        "planning_time_s": 0.195,
        "avg_sr": 90.0,
    }
    assert _row(_table(reported, "dreamvla-table1"), "DreamVLA").in_a_row == (98.2, 94.6, 89.5, 83.4, 78.1)
    assert _row(_table(reported, "mola-table1"), "MoLA").avg_len == 4.55
    clap = _row(_table(reported, "clap-table4"), "CLAP-RF")
    assert (clap.per_suite, clap.average, clap.protocol["trials_per_task"]) == ((98.6, 99.2, 98.0, 93.0), 97.2, 50)


def _rows_with_sequences(reported):
    for t in reported.tables:
        for r in t.rows:
            if t.layout == "suite":
                seq = [*(r.per_task or ()), *([r.average] if r.average is not None else [])]
            elif t.layout == "suites":
                seq = [*r.per_suite, *([r.average] if r.average is not None else [])]
            elif t.layout == "calvin":
                seq = [*(r.in_a_row or ()), r.avg_len, *(r.values[k] for k, _ in t.columns if k in r.values)]
            else:
                seq = [r.values[k] for k, _ in t.columns if k in r.values]
            numbers = []
            for v in seq:
                numbers += [float(x) for x in NUMBER.findall(v)] if isinstance(v, str) else [float(v)]
            yield t, r, numbers


def _found(numbers, lines):
    """The numbers appear as one row of a table (contiguous on a line) or as one column (consecutive lines)."""

    def same(a, b):
        return all(abs(x - y) < 1e-9 for x, y in zip(a, b, strict=True))

    if len(numbers) == 1:
        return any(any(abs(x - numbers[0]) < 1e-9 for x in line) for line in lines)
    k = len(numbers)
    for line in lines:
        if any(same(line[i : i + k], numbers) for i in range(len(line) - k + 1)):
            return True
    for i in range(len(lines) - k + 1):
        block = lines[i : i + k]
        for col in range(-min(len(b) for b in block), 0) if all(block) else ():  # right-aligned columns
            if same([b[col] for b in block], numbers):
                return True
    return False


@pytest.mark.skipif(not PAPERS.is_dir(), reason=f"paper texts not found at {PAPERS} (set FORESIGHT_PAPERS_DIR)")
def test_every_row_is_found_in_its_paper(reported):
    lines = {
        key: [
            [float(x) for x in NUMBER.findall(line)]
            for line in (PAPERS / name).read_text(encoding="utf-8").splitlines()
        ]
        for key, name in PAPER_FILES.items()
    }
    missing = [
        f"{t.id}: {r.method} {numbers}"
        for t, r, numbers in _rows_with_sequences(reported)
        if not _found(numbers, lines[t.paper.key])
    ]
    assert not missing, missing


def test_the_row_finder_rejects_a_mistyped_row():
    lines = [[1, 83.3, 88.3], [2, 63.3, 90.0], [76.3, 87.7]]
    assert _found([88.3, 90.0, 87.7], lines)  # a column, right-aligned
    assert not _found([88.3, 90.1, 87.7], lines)
    assert _found([63.3, 90.0], lines) and not _found([90.0, 63.3], lines)


@pytest.mark.parametrize(
    ("edit", "path", "reason"),
    [
        (
            lambda d: d["tables"][0]["rows"][0]["per_task"].__setitem__(0, 88.3),
            "tables[0].rows[0].average",
            "but the row's mean is 76.79",
        ),
        (
            lambda d: d["tables"][0]["rows"][1].pop("discrepancy"),
            "tables[0].rows[1].average",
            "but the row's mean is 87.17",
        ),
        (lambda d: d["tables"][0]["rows"][2]["per_task"].pop(), "tables[0].rows[2].per_task", "9 values for 10 tasks"),
        (
            lambda d: _by_id(d, "dreamvla-table1")["rows"][12].__setitem__("avg_len", 4.54),
            "avg_len",
            "the in-a-row rates sum to 4.438",
        ),
        (
            lambda d: _by_id(d, "dreamvla-table1")["rows"][0].__setitem__("average", 3.0),
            "average",
            "not used by the 'calvin' layout",
        ),
        (
            lambda d: _by_id(d, "mola-table2")["rows"][0]["per_suite"].__setitem__(3, 15.1),
            "average",
            "but the row's mean is 66.08",
        ),
        (
            lambda d: _by_id(d, "clad-table2")["rows"][0]["values"].__setitem__("hz", 6),
            "values",
            "are not table columns",
        ),
        (lambda d: d["tables"][0].__setitem__("paper", "gpt"), "tables[0].paper", "'gpt' is not in papers"),
        (
            lambda d: d["tables"][0].__setitem__("suite", "libero_11"),
            "tables[0].suite",
            "'libero_11' is not a libero suite",
        ),
        (lambda d: d["tables"][0].__setitem__("layout", "grid"), "tables[0].layout", "'grid' is not a valid value"),
        (lambda d: d["tables"][1].__setitem__("id", "clad-table1"), "tables", "duplicate table id 'clad-table1'"),
        (lambda d: d["tables"][0].pop("section"), "tables[0].section", "required field is missing"),
    ],
)
def test_validation_catches_transcription_errors(doc, edit, path, reason):
    d = copy.deepcopy(doc)
    edit(d)
    with pytest.raises(ReportedValidationError) as err:
        parse_reported(d, source="reported.yaml")
    matching = [why for p, why in err.value.issues if p == path or p.endswith("." + path)]
    assert any(reason in why for why in matching), err.value.issues


def _by_id(d, table_id):
    return next(t for t in d["tables"] if t["id"] == table_id)


def test_load_names_the_file_on_bad_yaml(tmp_path):
    bad = tmp_path / "reported.yaml"
    bad.write_text("tables: [unclosed\n")
    with pytest.raises(ReportedValidationError, match=re.escape(str(bad)) + ": not valid YAML"):
        load_reported(bad)
    assert load_reported(tmp_path / "absent.yaml").tables == ()
