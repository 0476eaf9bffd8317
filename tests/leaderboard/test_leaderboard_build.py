"""`build` is deterministic (same inputs, same bytes) and the CLI reports problems by file and field."""

import json
import shutil
import subprocess
import sys

import pytest
from lb_factories import REPORTED_YAML, calvin_result, libero_protocol, libero_result

from foresight.leaderboard import add_result
from foresight.leaderboard.__main__ import main
from foresight.leaderboard.build import build, load_board
from foresight.leaderboard.chartdata import chart_for
from foresight.leaderboard.report import render_report
from foresight.leaderboard.site import render_site

SMALL_REPORTED = """
schema_version: 1
papers:
  clad: {short: CLaD, title: "CLaD", reference: "arXiv:2603.29409v1"}
tables:
  - id: clad-table4
    paper: clad
    table: Table 4
    section: "§5.3"
    caption: Ablation of the auxiliary reconstruction loss.
    layout: suite
    benchmark: libero
    suite: libero_10
    rows:
      - {method: L_latent only, average: 86.1}
      - {method: CLaD, average: 94.7, protocol: {trials_per_task: 50}}
"""


def make_leaderboard(root, small=False):
    """A leaderboard directory with synthetic results; the small variant keeps slow plot rendering out of the
    tests that do not need the real reported numbers."""
    root.mkdir(parents=True)
    if small:
        (root / "reported.yaml").write_text(SMALL_REPORTED)
    else:
        shutil.copy(REPORTED_YAML, root / "reported.yaml")
    for res in (
        libero_result("clad"),
        libero_result("dp", successes=(40,) * 10),
        libero_result("scripted_expert", successes=(50,) * 10, kind="oracle"),
        libero_result(
            "clad", successes=(57,) * 10, protocol=libero_protocol(trials=20, checkpoints=3), steps=(1, 2, 3)
        ),
        calvin_result(),
    ):
        add_result(res.to_dict(), root / "results")
    return root


def outputs(root):
    files = sorted([root / "README.md", root / "site" / "index.html", *(root / "plots").glob("*.png")])
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


def test_build_is_byte_identical_across_runs_and_directories(tmp_path):
    a = make_leaderboard(tmp_path / "a", small=True)
    written = build(a)
    first = outputs(a)
    assert {str(p.relative_to(a)) for p in written} == set(first)
    assert "plots/libero-libero_10--" + libero_protocol().protocol_id + ".png" in first
    build(a)
    assert outputs(a) == first
    b = make_leaderboard(tmp_path / "b", small=True)  # same inputs elsewhere: no path or time leaks into the output
    build(b)
    assert outputs(b) == first
    text = first["README.md"] + first["site/index.html"]
    assert str(tmp_path).encode() not in text
    assert b"2026-01-02" not in text


@pytest.mark.slow
def test_build_of_all_reported_numbers_is_deterministic(tmp_path):
    root = make_leaderboard(tmp_path / "lb")
    build(root)
    first = outputs(root)
    assert len([n for n in first if n.endswith(".png")]) >= 10
    build(root)
    assert outputs(root) == first


def test_png_metadata_is_fixed(tmp_path):
    root = make_leaderboard(tmp_path / "lb", small=True)
    build(root)
    for name, png in outputs(root).items():
        if name.endswith(".png"):
            assert png.startswith(b"\x89PNG\r\n\x1a\n")
            assert b"Software" not in png and b"matplotlib" not in png, name


def test_stale_plots_are_removed(tmp_path):
    root = make_leaderboard(tmp_path / "lb", small=True)
    (root / "plots").mkdir()
    (root / "plots" / "gone--p-000000000000.png").write_bytes(b"old")
    (root / "plots" / "keep.txt").write_text("not ours")
    build(root)
    assert not (root / "plots" / "gone--p-000000000000.png").exists()
    assert (root / "plots" / "keep.txt").exists()


def test_cli_add_validate_build(tmp_path, capsys):
    root = tmp_path / "lb"
    root.mkdir()
    (root / "reported.yaml").write_text(SMALL_REPORTED)
    good = tmp_path / "good.json"
    good.write_text(libero_result().to_json())
    assert main(["add", str(good), f"dir={root}"]) == 0
    assert "added" in capsys.readouterr().out
    assert main(["validate", f"dir={root}"]) == 0
    out = capsys.readouterr().out
    assert "store valid: 1 result(s)" in out and "1 table(s) valid" in out

    bad = tmp_path / "bad.json"
    doc = libero_result().to_dict()
    doc["protocol"]["image_convention"] = "upside_down"
    bad.write_text(json.dumps(doc))
    before = sorted(p.name for p in (root / "results").iterdir())
    assert main(["add", str(bad), f"dir={root}"]) == 1
    err = capsys.readouterr().err
    assert (
        f"{bad}: protocol.image_convention: 'upside_down' is not a valid value (valid: 'rot180', 'flipud', 'raw')"
        in err
    )
    assert sorted(p.name for p in (root / "results").iterdir()) == before
    assert main(["validate", str(bad), f"dir={root}"]) == 1

    assert main(["build", f"dir={root}"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {root / 'README.md'}" in out and (root / "site" / "index.html").is_file()


def test_cli_usage_error_exits_2(capsys):
    assert main(["frobnicate"]) == 2
    err = capsys.readouterr().err
    assert err == "foresight leaderboard: error: choose one of add, build, validate (got 'frobnicate')\n"
    assert main(["add"]) == 2
    assert "add needs at least one results file" in capsys.readouterr().err


def test_committed_report_and_site_are_current():
    """leaderboard/README.md and site/index.html must be rebuilt whenever results or reported.yaml change."""
    root = REPORTED_YAML.parent
    board = load_board(root)
    plots = {t.id: f"{t.id}.png" for s in board.sections for t in s.tables if chart_for(t) is not None}
    hint = "stale: run `python -m foresight.leaderboard build`"
    assert (root / "README.md").read_text(encoding="utf-8") == render_report(board, plots), hint
    assert (root / "site" / "index.html").read_text(encoding="utf-8") == render_site(board), hint
    assert sorted(p.name for p in (root / "plots").glob("*.png")) == sorted(plots.values()), hint


def test_module_entry_point_validates_the_repository_leaderboard():
    proc = subprocess.run(
        [sys.executable, "-m", "foresight.leaderboard", "validate", f"dir={REPORTED_YAML.parent}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "leaderboard/reported.yaml: 28 table(s) valid" in proc.stdout
