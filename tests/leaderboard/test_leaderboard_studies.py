"""Study rows on the board, results bound to their episodes, and one oracle row per expert across suites."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from lb_factories import REPORTED_YAML, libero_protocol, libero_result, study_result

from foresight.leaderboard import add_result
from foresight.leaderboard.build import load_board
from foresight.leaderboard.evidence import check_evidence, episodes_path, sha256_file
from foresight.leaderboard.report import render_report
from foresight.leaderboard.schema import validate_result
from foresight.leaderboard.validation import ResultValidationError


def episodes_for(result: dict) -> str:
    lines = []
    for t in result["tasks"]:
        for k in range(t["trials"]):
            rec = {"key": f"{t['index']}-{k}", "task_index": t["index"], "task": t["name"], "status": "ok",
                   "success": k < t["successes"]}  # fmt: skip
            lines.append(json.dumps(rec))
    # An errored first attempt, superseded by the later ok record of the same episode, counts once.
    lines.insert(0, json.dumps({"key": "0-0", "task_index": 0, "task": "t", "status": "error"}))
    return "\n".join(lines) + "\n"


def test_study_fields_are_validated():
    res = study_result("both", 0, (50,) * 10)
    validate_result(res)
    bad = {**res, "components": {**res["components"], "protocol": "p-000000000000"}}
    with pytest.raises(ResultValidationError, match=r"components\.protocol"):
        validate_result(bad)
    with pytest.raises(ResultValidationError, match="study"):
        validate_result({**res, "study": {"name": "s", "arm": "both"}})  # no seed


def test_study_table_pools_seeds_and_flags_other_differences(tmp_path):
    root = tmp_path / "lb"
    (root).mkdir()
    (root / "reported.yaml").write_bytes(REPORTED_YAML.read_bytes())
    add_result(study_result("both", 0, (50,) * 10), root / "results")
    add_result(study_result("both", 1, (40,) * 10), root / "results")
    add_result(study_result("none", 0, (10,) * 10, head="h-2"), root / "results")
    board = load_board(root)
    (table,) = board.studies
    assert table.id == "study--s"
    both, none = table.rows
    assert both.method == "Both (m_both)" and none.method == "None (m_none)"
    assert both.cells["avg"].text.startswith("90.0 ") and both.cells["avg"].value == 90.0  # 900/1000 pooled
    assert both.cells["seeds"].text == "0: 100.0; 1: 80.0"
    assert both.cells["differs"].text == "only the foresight"
    assert none.cells["differs"].text == "⚠ head"
    assert both.cells["t0"].text.startswith("90.0 ")
    readme = render_report(board, {})
    assert "## Studies" in readme and "Study s: LIBERO-Long" in readme


def test_validate_recomputes_success_from_the_stored_episodes(tmp_path):
    res = study_result("both", 0, (50, 49, 48, 47, 46, 45, 44, 43, 42, 41))
    episodes = tmp_path / "episodes.jsonl"
    episodes.write_text(episodes_for(res))
    res["evidence"] = {"episodes_sha256": sha256_file(episodes)}
    stored = add_result(res, tmp_path / "results")
    target = episodes_path(stored)
    assert target == tmp_path / "episodes" / f"{stored.stem}.jsonl"
    assert check_evidence(res, stored) == f"episodes not in the store ({target.name})"
    target.parent.mkdir()
    target.write_bytes(episodes.read_bytes())
    assert check_evidence(res, stored) == f"recomputed from {target.name}"
    cli = [sys.executable, "-m", "foresight.leaderboard", "validate", str(stored)]
    assert subprocess.run(cli, capture_output=True, text=True, timeout=120).returncode == 0

    # A result whose counts disagree with its episodes: the digest still matches, the recount does not.
    lying = json.loads(stored.read_text())
    lying["tasks"][1].update(successes=50, rate=1.0, ci95=[0.9286524, 1.0])
    with pytest.raises(ResultValidationError, match=r"tasks\[1\]: 50/50 != 49/50"):
        check_evidence(lying, stored)
    # An edited episodes file: the digest no longer matches.
    target.write_text(target.read_text().replace('"success": false', '"success": true', 1))
    with pytest.raises(ResultValidationError, match=r"evidence\.episodes_sha256"):
        check_evidence(res, stored)
    done = subprocess.run(cli, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "evidence.episodes_sha256" in done.stderr


def test_an_expert_is_one_overview_row_across_suites(tmp_path):
    root = tmp_path / "lb"
    root.mkdir()
    (root / "reported.yaml").write_bytes(REPORTED_YAML.read_bytes())
    suites = {"libero_spatial": 49, "libero_object": 50, "libero_goal": 45, "libero_10": 30}
    for suite, wins in suites.items():
        proto = libero_protocol(suite=suite)
        res = libero_result(
            "scripted_expert",
            successes=(wins,) * 10,
            suite=suite,
            protocol=proto,
            kind="oracle",
            config={"env": {"suite": suite, "max_steps": proto.max_steps, "seed": 7}, "expert": "X"},
        )
        d = res.to_dict()
        d["checkpoint"]["run_dir"] = f"runs/oracle/{suite}"
        add_result(d, root / "results")  # fmt: skip
    board = load_board(root)
    overview = next(s for s in board.sections if s.id == "libero-overview")
    (row,) = [r for t in overview.tables if t.kind == "reproduced" for r in t.rows]
    assert row.kind == "oracle" and row.method == "scripted_expert"
    total = sum(suites.values()) * 10
    assert row.cells["avg"].value == pytest.approx(100 * total / 2000)
    assert "not evaluated" not in row.notes
    # A different expert configuration stays its own row.
    other = libero_result("scripted_expert", successes=(1,) * 10, suite="libero_10", kind="oracle",
                          config={"env": {"suite": "libero_10", "seed": 8}, "expert": "X"})  # fmt: skip
    add_result(other.to_dict(), root / "results")
    overview = next(s for s in load_board(root).sections if s.id == "libero-overview")
    assert sum(len(t.rows) for t in overview.tables if t.kind == "reproduced") == 2


def test_published_study_report_matches_its_leaderboard_results(tmp_path):
    """A study's report, recomputed from the leaderboard results files `foresight study` filed for it."""
    from scipy.stats import fisher_exact as scipy_fisher

    from foresight.study.__main__ import publish
    from foresight.study.report import write_report
    from foresight.study.spec import ArmSpec, StudySpec

    root, out = tmp_path / "lb", tmp_path / "study"
    root.mkdir()
    (root / "reported.yaml").write_bytes(REPORTED_YAML.read_bytes())
    spec = StudySpec(name="s", out=str(out), leaderboard=str(root), arms=[ArmSpec(name="both", method="m")])
    records = []
    for arm, seed, wins in (("both", 0, (50,) * 10), ("both", 1, (40, 45) * 5), ("none", 0, (10,) * 10)):
        res = study_result(arm, seed, wins)
        files = out / "eval" / arm / f"seed{seed}"
        files.mkdir(parents=True)
        (files / "episodes.jsonl").write_text(episodes_for(res))
        res["evidence"] = {"episodes_sha256": sha256_file(files / "episodes.jsonl")}
        (files / "study_result.json").write_text(json.dumps(res))
        records.append(
            {"arm": arm, "label": arm.title(), "method": res["method"]["name"], "seed": seed,
             "components": res["components"], "tasks": [{k: t[k] for k in ("index", "name", "successes", "trials")}
                                                        for t in res["tasks"]],
             "train": {"steps": 1, "wall_s": 1.0}, "latency_ms": {"plan": None, "chunk": 1.0},
             "params": {"total": 1, "foresight": 0},
             "episodes": {"file": f"eval/{arm}/seed{seed}/episodes.jsonl"},
             "leaderboard_result": f"eval/{arm}/seed{seed}/study_result.json"}
        )  # fmt: skip
    written = publish(spec, records)
    assert (root / "README.md") in written and (root / "site" / "index.html") in written
    assert "Study s: LIBERO-Long" in (root / "README.md").read_text()
    write_report({"name": "s"}, records, "both", out / "report")
    report = json.loads((out / "report" / "report.json").read_text())

    results = [json.loads(p.read_text()) for p in sorted((root / "results").glob("*.json"))]
    assert len(results) == 3
    for arm in report["arms"]:
        rs = [r for r in results if r["study"]["arm"] == arm["arm"]]
        assert sorted(r["study"]["seed"] for r in rs) == arm["seeds"]
        wins = sum(r["aggregate"]["successes"] for r in rs)
        trials = sum(r["aggregate"]["trials"] for r in rs)
        assert (arm["pooled"]["successes"], arm["pooled"]["trials"]) == (wins, trials)
        assert arm["seed_rates"] == [r["aggregate"]["rate"] for r in sorted(rs, key=lambda r: r["study"]["seed"])]
        for t, rate in arm["tasks"].items():
            per = [x for r in rs for x in r["tasks"] if x["index"] == int(t)]
            assert (rate["successes"], rate["trials"]) == (sum(x["successes"] for x in per),
                                                           sum(x["trials"] for x in per))  # fmt: skip
    (pair,) = report["pairs"]
    a, b = (next(x["pooled"] for x in report["arms"] if x["arm"] == k) for k in (pair["a"], pair["b"]))
    table = [[a["successes"], a["trials"] - a["successes"]], [b["successes"], b["trials"] - b["successes"]]]
    assert pair["p_value"] == pytest.approx(scipy_fisher(table).pvalue, rel=1e-9)
    for path in sorted((root / "results").glob("*.json")):  # each filed with its episodes: validate recounts
        assert check_evidence(json.loads(path.read_text()), path).startswith("recomputed")


def test_committed_study_report_matches_its_leaderboard_results():
    """docs/studies/<name>/report.json of every committed study, recomputed from its leaderboard/results files."""
    from scipy.stats import fisher_exact as scipy_fisher

    repo = REPORTED_YAML.parents[1]
    paths = sorted((repo / "leaderboard" / "results").glob("*.json"))
    results = {p: json.loads(p.read_text()) for p in paths}
    studies = {r["study"]["name"] for r in results.values() if "study" in r}
    assert "libero_object_cpu" in studies
    for name in studies:
        report = json.loads((repo / "docs" / "studies" / name / "report.json").read_text())
        mine = {p: r for p, r in results.items() if r.get("study", {}).get("name") == name}
        assert sorted((r["study"]["arm"], r["study"]["seed"]) for r in mine.values()) == sorted(
            (a["arm"], s) for a in report["arms"] for s in a["seeds"]
        )
        for arm in report["arms"]:
            rs = [r for r in mine.values() if r["study"]["arm"] == arm["arm"]]
            wins = sum(r["aggregate"]["successes"] for r in rs)
            trials = sum(r["aggregate"]["trials"] for r in rs)
            assert (arm["pooled"]["successes"], arm["pooled"]["trials"]) == (wins, trials)
            for t, rate in arm["tasks"].items():
                per = [x for r in rs for x in r["tasks"] if x["index"] == int(t)]
                assert (rate["successes"], rate["trials"]) == (sum(x["successes"] for x in per),
                                                               sum(x["trials"] for x in per))  # fmt: skip
            assert arm["components"] == rs[0]["components"]
        pooled = {a["arm"]: a["pooled"] for a in report["arms"]}
        for pair in report["pairs"]:
            a, b = pooled[pair["a"]], pooled[pair["b"]]
            table = [[a["successes"], a["trials"] - a["successes"]], [b["successes"], b["trials"] - b["successes"]]]
            assert pair["p_value"] == pytest.approx(scipy_fisher(table).pvalue, rel=1e-9)
        for path, r in mine.items():  # each committed with its episodes, which validate recounts
            assert check_evidence(r, path).startswith("recomputed")


def test_committed_study_is_in_the_leaderboard_readme():
    board = load_board(REPORTED_YAML.parent)
    (table,) = [t for t in board.studies if t.id == "study--libero_object_cpu"]
    readme = (REPORTED_YAML.parent / "README.md").read_text()
    assert '<a id="studies"></a>' in readme and "### Study libero_object_cpu: LIBERO-Object" in readme
    for row in table.rows:
        assert f"| {row.method} |" in readme and row.cells["avg"].text in readme
