"""Study parts in seconds: the study file, the exact test, components and flags, the report's numbers, evidence."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from scipy.stats import fisher_exact as scipy_fisher

from foresight.config import ConfigError
from foresight.leaderboard.stats import fisher_exact, wilson_interval
from foresight.study.components import differences, flags
from foresight.study.report import summarize, write_report
from foresight.study.spec import load_study, train_overrides

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize(
    "a, b",
    [((3, 10), (7, 10)), ((0, 20), (5, 20)), ((10, 10), (10, 10)), ((1, 2), (0, 2)), ((12, 50), (30, 50)),
     ((0, 5), (0, 5)), ((9, 10), (1, 30)), ((4, 7), (2, 13))],
)  # fmt: skip
def test_fisher_exact_matches_scipy(a, b):
    table = [[a[0], a[1] - a[0]], [b[0], b[1] - b[0]]]
    assert fisher_exact(*a, *b) == pytest.approx(scipy_fisher(table).pvalue, rel=1e-9)


def test_fisher_exact_by_hand():
    # 3/3 vs 0/3: the observed table and its mirror image are the two least likely of the 4 tables, each 1/20.
    assert fisher_exact(3, 3, 0, 3) == pytest.approx(2 / math.comb(6, 3))
    assert fisher_exact(1, 1, 0, 1) == 1.0
    with pytest.raises(ValueError, match="0 <= successes <= trials"):
        fisher_exact(4, 3, 0, 3)
    with pytest.raises(TypeError, match="integer counts"):
        fisher_exact(1.0, 3, 0, 3)


def test_study_file_validates_and_composes_each_arm(tmp_path):
    spec = load_study(str(HERE / "tiny_study.yaml"), {"out": str(tmp_path)})
    assert [a.name for a in spec.arms] == ["dp", "clad"] and spec.baseline_arm == "clad"
    assert [(a.name, s) for a, s in spec.units()] == [("dp", 0), ("clad", 0)]
    choices, dotted = train_overrides(spec, spec.arm("clad"), 0, tmp_path / "run")
    assert choices == ["method=clad_tiny", "data=demo"]
    keys = [k for k, _ in dotted]
    # data, shared, arm, then the study's own keys: an arm's value wins over a shared one
    assert keys.index("data.val_fraction") < keys.index("train.batch_size") < keys.index("method.policy.budget.steps")
    assert dotted[-2:] == [("seed", 0), ("run_dir", str(tmp_path / "run"))]


def test_study_file_errors_name_the_problem(tmp_path):
    raw = yaml.safe_load((HERE / "tiny_study.yaml").read_text())
    for change, message in (
        ({"arms": raw["arms"] + [raw["arms"][0]]}, "arm names must be unique, repeated: \\['dp'\\]"),
        ({"baseline": "both"}, "baseline='both' is not an arm"),
        ({"seedz": [0]}, "unknown key 'seedz' in study. Did you mean 'seeds'"),
        ({"seeds": [1, 1]}, "distinct"),
    ):
        path = tmp_path / "s.yaml"
        path.write_text(yaml.safe_dump({**raw, **change}))
        with pytest.raises(ConfigError, match=message):
            load_study(str(path))
    with pytest.raises(ConfigError, match="no study 'nope'; shipped studies: libero_10_fig3, libero_object_cpu"):
        load_study("nope")


COMP = {"encoder": "e1", "head": "h-1", "data": "d", "protocol": "p-1", "foresight": "F (both)"}


def test_flags_name_every_component_besides_the_foresight():
    other = {**COMP, "foresight": "none", "head": "h-2"}
    assert differences(COMP, other) == ["head"]
    got = flags({"both": [COMP], "semantic": [{**COMP, "foresight": "F (semantic)"}], "dp": [other, COMP]}, "both")
    assert got == {"both": [], "semantic": [], "dp": ["head"]}


def record(arm: str, seed: int, counts: list[tuple[int, int]], **comp) -> dict:
    return {
        "arm": arm,
        "label": arm.upper(),
        "method": "m",
        "seed": seed,
        "components": {**COMP, **comp},
        "tasks": [{"index": i, "name": f"task{i}", "successes": s, "trials": n} for i, (s, n) in enumerate(counts)],
        "train": {"steps": 100, "wall_s": 60.0 * (seed + 1)},
        "latency_ms": {"plan": None, "chunk": 12.5},
        "params": {"total": 1000, "foresight": 0},
    }


def test_report_numbers_recomputed_from_records(tmp_path):
    records = [
        record("a", 0, [(2, 2), (1, 2)]),
        record("a", 1, [(1, 2), (0, 2)]),
        record("b", 0, [(0, 2), (0, 2)], encoder="other"),
    ]
    readme = write_report({"name": "t", "caveats": "tiny", "missing": ["b seed 1"]}, records, "a", tmp_path)
    report = json.loads((tmp_path / "report.json").read_text())
    a, b = report["arms"]
    assert a["pooled"] == {"successes": 4, "trials": 8, "rate": 0.5, "ci95": list(wilson_interval(4, 8))}
    assert a["seed_rates"] == [0.75, 0.25] and a["seed_mean"] == 0.5
    assert a["seed_sd"] == pytest.approx(math.sqrt(((0.75 - 0.5) ** 2 + (0.25 - 0.5) ** 2) / 1))
    assert a["tasks"]["0"]["successes"] == 3 and a["tasks"]["1"]["trials"] == 4
    assert a["train_wall_s"] == 90.0 and a["differs_in"] == [] and b["differs_in"] == ["encoder"]
    assert b["seed_sd"] is None
    (pair,) = report["pairs"]
    assert pair["difference"] == 0.5
    assert pair["p_value"] == pytest.approx(scipy_fisher([[4, 4], [0, 4]]).pvalue)
    text = readme.read_text()
    assert "50.0 [21.5, 78.5] (4/8)" in text  # Wilson 95% of 4/8
    assert "1 seed: spread not measured" in text and "⚠ encoder" in text
    assert "Not trained and evaluated yet: b seed 1." in text
    assert (tmp_path / "success.png").read_bytes()[:4] == b"\x89PNG"


def test_summarize_keeps_arm_order_and_pairs_every_arm():
    records = [record(x, 0, [(1, 2)]) for x in ("c", "a", "b")]
    out = summarize(records, "c")
    assert [x["arm"] for x in out["arms"]] == ["c", "a", "b"]
    assert [(p["a"], p["b"]) for p in out["pairs"]] == [("c", "a"), ("c", "b"), ("a", "b")]


def _built(*args: str):
    import torch

    from foresight.params import LIBERO_INFO, method_from_args

    cls, cfg = method_from_args(list(args))
    with torch.device("meta"):
        return cls(cfg, LIBERO_INFO)


def test_figure_3_arms_differ_only_in_the_foresight_and_dp_is_flagged():
    from foresight.study.components import components

    arms = {
        name: components(_built("method=clad_tiny", f"method.policy.foresight={name}"), "data", "p-1")
        for name in ("both", "semantic", "proprio", "none")
    }
    arms["dp"] = components(_built("method=dp_tiny"), "data", "p-1")
    assert arms["both"]["foresight"] == "CrossModalDynamics (policy reads: both)"
    assert arms["none"]["foresight"] == "none (policy reads: none)"  # no dynamics module at all
    assert arms["dp"]["foresight"] == "none"
    assert arms["both"]["encoder"].startswith("decisionnce_tiny:")
    assert arms["dp"]["encoder"].startswith("none (pixels of agentview,wrist")
    for name in ("semantic", "proprio", "none"):
        assert differences(arms["both"], arms[name]) == [], name
    assert differences(arms["both"], arms["dp"]) == ["encoder", "head"]
    # A head that really differs (another width) is caught even though the condition width is left out.
    wider = components(_built("method=clad_tiny", "method.policy.head_hidden_dim=32"), "data", "p-1")
    assert differences(arms["both"], wider) == ["head"]
