"""CALVIN chains through the shared evaluation runner: real worker processes, batched policy, resume.

The stand-in simulator and scripted policy (calvin_fakes) make every step count exactly, so the test can tell
whether the runner honoured the subtask switch: the policy's chunk is 6 actions long and open_drawer takes 4; a
runner that kept executing the old chunk after the switch would spend 2 extra steps on the next subtask.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from calvin_fakes import CLOSED_DARK, STEPS_NEEDED, fake_sim, loaded_policy

from foresight.envs.calvin import CalvinConfig, CalvinEnv
from foresight.eval import EvalConfig, evaluate
from foresight.eval.cli import print_summary

CHAINS = [
    ["open_drawer", "move_slider_left", "turn_on_lightbulb", "turn_on_led", "close_drawer"],
    ["turn_on_led", "lift_red_block_table", "open_drawer", "move_slider_left", "turn_on_lightbulb"],
    ["rotate_red_block_left", "open_drawer", "turn_on_led", "move_slider_left", "turn_on_lightbulb"],
]
EP_LEN = 12


def _suite(tmp_path: Path) -> CalvinEnv:
    path = tmp_path / "chains.json"
    path.write_text(json.dumps([[CLOSED_DARK, chain] for chain in CHAINS]))
    config = CalvinConfig(sequences_file=str(path), num_sequences=3, ep_len=EP_LEN, oracle="foresight")
    return CalvinEnv(config, sim_factory=fake_sim)


def _records(out: Path) -> dict[str, dict]:
    lines = (out / "episodes.jsonl").read_text().splitlines()
    return {r["key"]: r for r in map(json.loads, lines)}


@pytest.mark.slow  # about 20 s: three evaluations with spawned workers
def test_chains_run_resume_and_score_through_the_shared_runner(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    suite, loaded = _suite(tmp_path), loaded_policy(tmp_path)
    out = tmp_path / "out"
    summary = evaluate(suite, loaded, EvalConfig(workers=2, progress=False), out, label="calvin_abc_d")
    records = _records(out)
    assert sorted(records) == ["000/000", "001/000", "002/000"]

    full = records["000/000"]
    assert full["success"] and full["info"]["completed"] == 5
    assert full["info"]["subtask_steps"] == [STEPS_NEEDED[t] for t in CHAINS[0]]  # no stale actions after a switch
    assert full["steps"] == sum(STEPS_NEEDED[t] for t in CHAINS[0])
    one = records["001/000"]["info"]
    assert (one["completed"], one["failed_subtask"], one["subtask_steps"]) == (1, "lift_red_block_table", [1, EP_LEN])
    assert records["002/000"]["info"]["completed"] == 0 and records["002/000"]["steps"] == EP_LEN
    assert records["001/000"]["task"] == " -> ".join(CHAINS[1])

    # The policy was asked with each subtask's official instruction, starting afresh at every new subtask.
    seen = loaded.method.seen_instructions
    assert "pull the handle to open the drawer" in seen and "grasp and lift the red block" in seen
    assert "take the red block and rotate it to the left" in seen

    results = summary["results"]
    assert results["completed_histogram"] == [1, 1, 0, 0, 0, 1]
    assert results["avg_len"] == 2.0
    assert [r["successes"] for r in results["success_in_a_row"]] == [2, 1, 1, 1, 1]
    assert summary["complete"] and summary["episodes"]["ok"] == 3
    assert summary["protocol"]["simulator"] == {"factory": "calvin_fakes:fake_sim"}
    assert summary["timing"]["env_steps"] == sum(r["steps"] for r in records.values())
    # Hand-made chains are not the official protocol: no leaderboard result, and the summary says why.
    assert not summary["leaderboard"]["written"]
    assert "CalvinEnv does not rank this evaluation: only the official 1000 chains" in summary["leaderboard"]["reason"]

    # The CLI's report lists the subtasks (not the chains), avg_len and the rates for 1..5 in a row.
    print_summary(summary, out)
    printed = capsys.readouterr().out
    assert "open_drawer" in printed and "lift_red_block_table" in printed and "avg_len 2.000 over 3 chains" in printed
    assert "1 in a row:  66.7%" in printed and "5 in a row:  33.3%" in printed

    # Resuming finds nothing to do and reports the same score.
    again = evaluate(suite, loaded, EvalConfig(workers=2, progress=False), out, label="calvin_abc_d")
    assert again["timing"]["episodes_run"] == 0 and again["results"] == results

    # eval.tasks picks chains of the protocol; the partial run says it is incomplete.
    part = evaluate(suite, loaded, EvalConfig(tasks=[1], workers=1, progress=False), tmp_path / "part")
    assert list(_records(tmp_path / "part")) == ["001/000"]
    assert not part["complete"] and part["results"]["chains_missing"] == 2
