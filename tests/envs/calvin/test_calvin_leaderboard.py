"""CALVIN through the shared runner to a leaderboard ``result.json``: subtask outcomes and chain lengths, not one task
per chain, and the policy told the current subtask's ``task_index``.

The stand-in simulator runs the official chains; the policy acts on ``task_index`` alone (as ``dp`` does) and can
do exactly the subtasks the fake can, in ``STEPS_NEEDED`` steps. So each chain's length is known without the
runner: the number of leading subtasks the fake can do within ``ep_len`` steps. The per-subtask counts follow
from the official definition (a chain attempts subtasks up to and including its first failure).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from calvin_fakes import HORIZON, STEPS_NEEDED, SubtaskIndexPolicy, calvin_info, fake_sim, loaded_policy

from foresight.envs.calvin import CalvinConfig, CalvinEnv
from foresight.eval import EvalConfig, evaluate
from foresight.eval.results import RESULT_FILE
from foresight.eval.summary import LeaderboardUnavailable, leaderboard_result
from foresight.leaderboard import validate_result, wilson_interval

EP_LEN = 5  # enough for every subtask the fake can do (at most 5 steps), so failures are the undoable subtasks


def expected_lengths(suite: CalvinEnv, ep_len: int) -> list[int]:
    lengths = []
    for chain in suite.data.chains:
        doable = [STEPS_NEEDED.get(task, ep_len + 1) <= ep_len for task in chain.subtasks]
        lengths.append(doable.index(False) if False in doable else len(doable))
    return lengths


def expected_tasks(suite: CalvinEnv, lengths: list[int]) -> list[dict]:
    attempts, wins = Counter(), Counter()
    for chain, completed in zip(suite.data.chains, lengths, strict=True):
        wins.update(chain.subtasks[:completed])
        attempts.update(chain.subtasks[: completed + 1])
    names = suite.data.task_names
    rows = [
        {
            "index": names.index(name),
            "name": name,
            "successes": wins[name],
            "trials": n,
            "rate": wins[name] / n,
            "ci95": list(wilson_interval(wins[name], n)),
        }
        for name, n in attempts.items()
    ]
    return sorted(rows, key=lambda row: row["index"])


def run_official(tmp_path: Path, num_sequences: int, workers: int) -> tuple[CalvinEnv, SubtaskIndexPolicy, dict]:
    """The first ``num_sequences`` official chains through ``evaluate()``; the training tasks are CALVIN's in
    another order than the official task ids, behind a task CALVIN does not have, so an index that is right
    cannot be an accident of ordering."""
    suite = CalvinEnv(CalvinConfig(num_sequences=num_sequences, ep_len=EP_LEN, oracle="foresight"), fake_sim)
    method = SubtaskIndexPolicy(calvin_info(("pick_up_the_mug", *reversed(suite.data.task_names))))
    out = tmp_path / "out"
    evaluate(suite, loaded_policy(tmp_path, method), EvalConfig(workers=workers, progress=False, seed=3), out)
    summary = json.loads((out / "summary.json").read_text())
    return suite, method, summary


def check_result(tmp_path: Path, suite: CalvinEnv, method: SubtaskIndexPolicy, summary: dict) -> dict:
    out = tmp_path / "out"
    assert summary["leaderboard"]["written"], summary["leaderboard"]
    result = json.loads((out / RESULT_FILE).read_text())
    validate_result(result)
    lengths = expected_lengths(suite, EP_LEN)
    records = [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]
    assert sorted((r["task_index"], r["info"]["completed"]) for r in records) == list(enumerate(lengths))
    assert result["benchmark"] == "calvin" and result["suite"] == "abc_d"
    assert result["calvin"]["completed_histogram"] == [lengths.count(k) for k in range(6)]
    assert result["calvin"]["avg_len"] == pytest.approx(sum(lengths) / len(lengths))
    assert result["tasks"] == expected_tasks(suite, lengths)
    assert result["aggregate"]["trials"] == sum(min(n + 1, 5) for n in lengths)
    protocol = result["protocol"]
    assert protocol["num_chains"] == len(lengths) and protocol["init_states"] == "calvin_official"
    assert protocol["seeds"] == [3] and protocol["max_steps"] == EP_LEN and protocol["trials_per_task"] == 1
    assert protocol["replan_every"] == HORIZON and protocol["warmup_steps"] == 0
    assert result["checkpoint"]["run_dir"] == str(tmp_path / "run")
    # Every policy row was told the subtask asked at that moment: its index names the subtask whose instruction
    # came with it, and each subtask attempted was asked for (the chain's own name maps to no training task).
    tasks, instructions = method.info.tasks, suite.data.instructions
    assert all(index > 0 and instructions[tasks[index]] == text for index, text in method.seen)
    attempted = {t for chain, n in zip(suite.data.chains, lengths, strict=True) for t in chain.subtasks[: n + 1]}
    assert {tasks[index] for index, _ in method.seen} == attempted
    return result


def test_official_chains_through_the_runner_make_a_valid_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The leaderboard ranks only all 1000 official chains (tested below and in the slow test); the first 40
    # stand in for them here so the wiring is checked in seconds.
    monkeypatch.setattr("foresight.envs.calvin.leaderboard.NUM_SEQUENCES", 40)
    suite, method, summary = run_official(tmp_path, num_sequences=40, workers=2)
    lengths = expected_lengths(suite, EP_LEN)
    assert 0 < lengths.count(0) < 40 and max(lengths) == 2  # failures, and chains that switch subtasks
    check_result(tmp_path, suite, method, summary)


@pytest.mark.slow  # 8-10 s: 1000 chains, ~7400 simulator steps through two workers
def test_the_whole_official_protocol_makes_a_valid_result(tmp_path: Path) -> None:
    suite, method, summary = run_official(tmp_path, num_sequences=1000, workers=2)
    result = check_result(tmp_path, suite, method, summary)
    assert result["protocol"]["num_chains"] == 1000 and sum(result["calvin"]["completed_histogram"]) == 1000


def _summary(suite: CalvinEnv, complete: bool = True) -> dict:
    return {
        "complete": complete,
        "episodes": {"protocol": 1000, "selected": 1000, "ok": 1000, "error": 0, "missing": 0},
        "protocol": suite.protocol(),
        "execution": {"action_execution": "receding_horizon", "replan_every": 6, "temporal_ensemble": None},
        "checkpoint": {
            "git_sha": "0123abc",
            "version": "0.1.0",
            "data_fingerprint": "fp",
            "step": 10,
            "checkpoint": "/runs/dp/policy/checkpoints/step_0000010",
        },
    }


def _records(suite: CalvinEnv, seeds: tuple[int, ...] = (0,)) -> list[dict]:
    return [
        {
            "key": e.key,
            "task_index": e.task_index,
            "task": e.task,
            "success": False,
            "policy_seed": seeds[i % len(seeds)],
            "info": {"subtasks": e.task.split(" -> "), "completed": e.task_index % 3},
        }
        for i, e in enumerate(suite.episodes())
    ]


def test_the_hook_maps_seeds_and_refuses_what_the_leaderboard_does_not_rank() -> None:
    suite = CalvinEnv(CalvinConfig(oracle="foresight"), fake_sim)
    result = leaderboard_result(_summary(suite), _records(suite, (4, 1)), {}, "dp", 1.0, suite=suite)
    validate_result(result)
    # a resumed run that changed eval.seed lists both seeds: a different protocol from either alone
    assert result["protocol"]["seeds"] == [1, 4] and result["calvin"]["completed_histogram"] == [334, 333, 333, 0, 0, 0]

    short = CalvinEnv(CalvinConfig(num_sequences=10, oracle="foresight"), fake_sim)
    with pytest.raises(LeaderboardUnavailable, match=r"CalvinEnv does not rank .*only the official 1000 chains"):
        leaderboard_result(_summary(short), _records(short), {}, "dp", 1.0, suite=short)
    records = _records(suite)
    del records[5]["policy_seed"]
    with pytest.raises(LeaderboardUnavailable, match=r"episodes \['005/000'\] do not record the policy's eval.seed"):
        leaderboard_result(_summary(suite), records, {}, "dp", 1.0, suite=suite)
    records = _records(suite)
    del records[7]["info"]["completed"]
    with pytest.raises(LeaderboardUnavailable, match=r"does not rank .*record 007/000 has no info.completed"):
        leaderboard_result(_summary(suite), records, {}, "dp", 1.0, suite=suite)
    with pytest.raises(LeaderboardUnavailable, match="run the whole protocol"):
        leaderboard_result(_summary(suite, complete=False), _records(suite), {}, "dp", 1.0, suite=suite)
