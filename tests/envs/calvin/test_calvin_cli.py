"""``python -m foresight.eval ... env=calvin_abc_d``: CALVIN's score in the report, and a missing calvin_env."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from calvin_fakes import fake_sim

from foresight.envs.calvin import CalvinConfig, CalvinEnv
from foresight.eval import cli
from foresight.leaderboard import wilson_interval


def _summary(completed: list[int]) -> dict:
    suite = CalvinEnv(CalvinConfig(num_sequences=len(completed), oracle="foresight"), fake_sim)
    records = [
        {"key": e.key, "task_index": e.task_index, "info": {"subtasks": e.task.split(" -> "), "completed": n}}
        for e, n in zip(suite.episodes(), completed, strict=True)
    ]
    return {
        "env": "calvin",
        "results": suite.summarize(records),
        "episodes": {"protocol": len(completed), "selected": len(completed), "ok": 4, "error": 0, "missing": 0},
        "timing": {"episodes_run": 4, "wall_s": 3.0, "env_steps_per_s": 100.0, "policy_share": 0.25},
        "leaderboard": {"written": False, "reason": "only the official 1000 chains make a leaderboard CALVIN result"},
    }


def test_the_report_shows_avg_len_and_success_for_1_to_5_in_a_row(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    summary = _summary([5, 2, 0, 3])
    cli.print_summary(summary, tmp_path)
    lines = capsys.readouterr().out.splitlines()
    # by hand: at least k of 5 done in 3, 3, 2, 1, 1 of the 4 chains; mean (5 + 2 + 0 + 3) / 4
    assert "  abc_d: avg_len 2.500 over 4 chains; success for k tasks in a row (Wilson 95% intervals):" in lines
    for k, wins in enumerate([3, 3, 2, 1, 1], start=1):
        lo, hi = wilson_interval(wins, 4)
        line = f"    {k} in a row: {100 * wins / 4:5.1f}%  [{100 * lo:5.1f}, {100 * hi:5.1f}]  ({wins}/4)"
        assert line in lines
    assert sum("in a row:" in line for line in lines) == 5
    subtasks = [row["task"] for row in summary["results"]["per_task"]]  # the subtasks attempted, not the chains
    assert [line.split()[2] for line in lines if line.startswith("  task ")] == subtasks and len(subtasks) >= 4
    assert lines[-1].endswith("(no leaderboard result: only the official 1000 chains make a leaderboard CALVIN result)")


def test_missing_calvin_env_is_one_message_and_exit_code_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "calvin_env" else find_spec(name, *a)
    )
    # The checkpoint does not exist either: the simulator is checked first, before any weights are loaded.
    assert cli.main([f"checkpoint={tmp_path / 'no_run'}", "env=calvin_abc_d", "eval.progress=false"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("foresight eval: error: CALVIN evaluation needs the official simulator calvin_env")
    assert "docs/envs/calvin.md" in captured.err and "Traceback" not in captured.err
    assert captured.err.count("\n") == 1


def test_an_import_error_that_is_not_an_adapters_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(node: object) -> None:
        raise ModuleNotFoundError("No module named 'foresight.nn.broken'")

    monkeypatch.setattr("foresight.factory.build_env", broken)
    with pytest.raises(ModuleNotFoundError, match=r"foresight\.nn\.broken"):
        cli.main(["checkpoint=/r", "env=calvin_abc_d"])
