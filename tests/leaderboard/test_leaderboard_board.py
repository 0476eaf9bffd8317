"""Grouping rows by protocol, naming protocol differences, and the Markdown report."""

from pathlib import Path

import pytest
from lb_factories import REPORTED_YAML, calvin_result, libero_protocol, libero_result

from foresight.leaderboard.board import Board, build_board
from foresight.leaderboard.protocols import describe, difference
from foresight.leaderboard.report import render_report
from foresight.leaderboard.reported import load_reported
from foresight.leaderboard.store import StoredResult, result_filename


def stored(*results):
    return [StoredResult(Path(result_filename(r.to_dict())), r) for r in results]


PROTO_B = libero_protocol(trials=20, checkpoints=3)


@pytest.fixture(scope="module")
def board() -> Board:
    results = stored(
        libero_result("clad"),
        libero_result("dp", successes=(40,) * 10),
        libero_result("scripted_expert", successes=(50,) * 10, kind="oracle"),
        libero_result("clad", successes=(57,) * 10, protocol=PROTO_B, steps=(1, 2, 3)),
        *(
            libero_result("clad", successes=(45,) * 10, suite=s)
            for s in ("libero_spatial", "libero_object", "libero_goal")
        ),
        calvin_result(),
    )
    return build_board(results, load_reported(REPORTED_YAML))


def section(board, sid):
    return next(s for s in board.sections if s.id == sid)


def test_protocol_difference_is_named_in_words():
    a = {"trials_per_task": 50, "checkpoints_averaged": 1}
    b = {"trials_per_task": 20, "checkpoints_averaged": 3, "checkpoint_selection": "top-3"}
    assert difference(a, b, "libero") == "50 trials/task × 1 checkpoint vs 20 trials/task × top-3 checkpoints"
    assert difference(a, dict(a), "libero") == ""
    assert difference({"trials_per_task": 50}, {}, "libero") == "50 trials/task vs trials/task unstated"
    assert describe({}, "calvin") == "unstated"


def test_full_protocol_description():
    p = libero_protocol().to_dict()
    assert describe(p, "libero") == (
        "50 trials/task × 1 checkpoint, seed 7, ≤520 steps, 10 warm-up steps, images rot180, replan every 5, "
        "official init states"
    )
    ens = {**p, "action_execution": "temporal_ensemble", "ensemble_decay": 0.25, "replan_every": 1}
    assert "temporal ensemble k=0.25, replan every 1" in describe(ens, "libero")


def test_each_table_holds_one_protocol_and_one_side(board):
    libero_long = section(board, "libero-libero_10")
    kinds = [{r.kind for r in t.rows} for t in libero_long.tables]
    for t, k in zip(libero_long.tables, kinds, strict=True):
        assert k <= ({"reproduced", "oracle"} if t.kind == "reproduced" else {"reported"}), (t.id, k)
    reproduced = [t for t in libero_long.tables if t.kind == "reproduced"]
    assert len(reproduced) == 2
    a, b = sorted(reproduced, key=lambda t: len(t.rows), reverse=True)
    assert a.group == libero_protocol().protocol_id and b.group == PROTO_B.protocol_id
    assert [(r.method, r.kind) for r in a.rows] == [
        ("scripted_expert", "oracle"),
        ("clad", "reproduced"),
        ("dp", "reproduced"),
    ]
    assert [r.method for r in b.rows] == ["clad"]
    # Reported rows of LIBERO-Long sit in their own tables, after the reproduced ones.
    assert [t.kind for t in libero_long.tables] == ["reproduced", "reproduced", "reported", "reported", "reported"]


def test_later_tables_name_their_difference_from_the_first(board):
    libero_long = section(board, "libero-libero_10")
    first, *rest = libero_long.tables
    assert first.difference == ""
    texts = {t.group: t.difference for t in rest}
    assert texts[PROTO_B.protocol_id] == (
        "Protocol differs from the first table of this section: "
        "50 trials/task × 1 checkpoint vs 20 trials/task × 3 checkpoints averaged"
    )
    reported_50 = next(t for t in rest if t.kind == "reported" and t.protocol == "50 trials/task × 1 checkpoint")
    assert "seed 7, ≤520 steps" in reported_50.difference and "seeds unstated" in reported_50.difference


def test_cells_carry_rates_with_wilson_intervals(board):
    a = section(board, "libero-libero_10").tables[0]
    clad = next(r for r in a.rows if r.method == "clad")
    assert clad.cells["t3"].text == "94.0 [83.8, 97.9]"  # 47/50, hand value in the stats test
    assert clad.cells["avg"].text == "94.6 [92.3, 96.3]"  # 473/500
    assert clad.cells["avg"].value == pytest.approx(94.6)
    assert clad.cells["episodes"].text == "500"
    assert clad.cells["eval"].text == "1.5 h · NVIDIA H100 80GB HBM3"
    assert [c.label for c in a.task_columns] == [f"T{i}" for i in range(1, 11)]
    assert a.task_columns[8].title == "KITCHEN_SCENE8_put_both_moka_pots_on_the_stove"


def test_overview_pools_the_four_suites_of_one_protocol_family(board):
    overview = section(board, "libero-overview")
    reproduced = [t for t in overview.tables if t.kind == "reproduced"]
    assert len(reproduced) == 2  # 50 × 1 family and the 20 × 3 family (LIBERO-Long only)
    full = next(t for t in reproduced if any(r.cells.get("avg") for r in t.rows))
    clad = next(r for r in full.rows if r.method == "clad")
    assert [clad.cells[s].text.split()[0] for s in ("libero_spatial", "libero_object", "libero_goal", "libero_10")] == [
        "90.0",
        "90.0",
        "90.0",
        "94.6",
    ]
    assert clad.cells["avg"].text == "91.1 [89.8, 92.3]"  # (450 * 3 + 473) / 2000 = 91.15 % pooled
    dp = next(r for r in full.rows if r.method == "dp")
    assert "avg" not in dp.cells and "not evaluated: LIBERO-Spatial, LIBERO-Object, LIBERO-Goal" in dp.notes


def test_calvin_rows(board):
    calvin = section(board, "calvin-abc_d")
    table = calvin.tables[0]
    (row,) = table.rows
    assert table.kind == "reproduced"
    assert row.cells["avg_len"].text == "3.40"
    assert row.cells["k1"].text == "90.0 [59.6, 98.2]" and row.cells["k5"].text == "40.0 [16.8, 68.7]"
    assert row.cells["chains"].text == "10"
    assert "1000 chains" not in table.protocol and "10 chains" in table.protocol


def test_markdown_report(board):
    md = render_report(board, {})
    assert "| 1 | scripted_expert | **oracle** | 100.0 [92.9, 100.0] |" in md
    assert "| 2 | clad | reproduced | 100.0 [92.9, 100.0] | 100.0 [92.9, 100.0] | 98.0 [89.5, 99.6] |" in md
    assert (
        "Protocol differs from the first table of this section: 50 trials/task × 1 checkpoint vs 20 trials/task × 3"
        in md
    )
    assert "| — | CLaD | *reported* | 97.3 | 95.7 | 94.3 | 94.7 | — | CLaD Table 6 (§8, supplementary) |" in md
    assert "| 1 | CLaD ‡ | *reported* | 100.0 | 100.0 | 98.0 | 94.0 | 91.0 |" in md
    assert "[runs/clad @ 200000 steps](results/libero__libero_10__clad__reproduced__" in md
    assert "- **CLaD**: CLaD: Planning with Grounded Foresight via Cross-Modal Latent Dynamics." in md
    assert "2026-01-02" not in md  # evaluation timestamps are not rendered


def test_wide_suites_are_transposed_in_markdown():
    res = libero_result("clad", successes=(25,) * 90, suite="libero_90", protocol=libero_protocol(suite="libero_90"))
    md = render_report(build_board(stored(res), load_reported(Path("/nonexistent.yaml"))), {})
    assert "| Task | clad (reproduced) |" in md
    assert "| libero_90_task_89 | 50.0 [36.6, 63.4] |" in md
    header = next(line for line in md.splitlines() if line.startswith("| # | Method"))
    assert "T90" not in header and "Avg. SR (%)" in header
