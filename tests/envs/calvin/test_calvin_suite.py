"""CalvinEnv as a suite: episodes, the protocol record, the config from ``env=calvin_abc_d``, and the score.

The score is checked on hand-made chain results against numbers computed by hand with the official definitions
(calvin_agent/evaluation/utils.py: ``count_success`` = share of chains with at least k subtasks done,
``avg_seq_len`` = mean completed), and a full 1000-chain evaluation must make a valid leaderboard result.
"""

from __future__ import annotations

import json

import pytest
from calvin_fakes import fake_sim

from foresight.config import ConfigError
from foresight.envs.calvin import CalvinConfig, CalvinEnv
from foresight.envs.calvin.leaderboard import leaderboard_outcomes, leaderboard_protocol
from foresight.envs.calvin.resources import SCENE_D, SEQUENCES, data_file, sha256_file
from foresight.eval.cli import parse_args
from foresight.factory import build_env
from foresight.leaderboard import Checkpoint, make_result, wilson_interval
from foresight.registry import get_env


def chain_record(subtasks: list[str], completed: int, index: int = 0) -> dict:
    """A chain as the runner records it (only the fields summarize reads, plus a key)."""
    return {
        "key": f"{index:03d}/000",
        "task_index": index,
        "success": completed == 5,
        "info": {"subtasks": subtasks, "completed": completed},
    }


def test_registered_and_configured_from_the_shipped_yaml() -> None:
    assert get_env("calvin") is CalvinEnv
    run = parse_args(["checkpoint=/tmp/ckpt", "env=calvin_abc_d", "env.num_sequences=3", "eval.tasks=0,2"])
    suite = build_env(run.env)
    assert isinstance(suite, CalvinEnv) and run.env_label == "calvin_abc_d"
    assert suite.config == CalvinConfig(num_sequences=3)
    assert run.eval.tasks == [0, 2]
    defaults = build_env(parse_args(["checkpoint=/x", "env=calvin_abc_d"]).env).config
    assert defaults == CalvinConfig()  # the YAML states the official protocol, and so do the defaults
    assert (defaults.num_sequences, defaults.ep_len, defaults.trials_per_sequence) == (1000, 360, 1)
    # env=calvin (the registered name, no YAML) starts from the Config defaults.
    assert build_env(parse_args(["checkpoint=/x", "env=calvin"]).env).config == CalvinConfig()
    with pytest.raises(ConfigError, match="Did you mean 'num_sequences'"):
        build_env(parse_args(["checkpoint=/x", "env=calvin_abc_d", "env.num_sequence=3"]).env)


def test_episodes_are_the_chains_in_order() -> None:
    suite = CalvinEnv(CalvinConfig(num_sequences=4, trials_per_sequence=2))
    episodes = suite.episodes()
    chains = json.loads(data_file(SEQUENCES).read_text())
    assert [(e.task_index, e.trial, e.init_index) for e in episodes[:3]] == [(0, 0, 0), (0, 1, 0), (1, 0, 1)]
    assert len(episodes) == 8 and len({e.key for e in episodes}) == 8
    assert episodes[2].task == " -> ".join(chains[1][1])
    assert episodes[2].key == "001/000"


def test_protocol_record_names_data_digests_and_simulator() -> None:
    protocol = CalvinEnv(CalvinConfig(num_sequences=5), sim_factory=fake_sim).protocol()
    assert protocol["benchmark"] == "calvin" and protocol["suite"] == "abc_d"
    assert (protocol["num_sequences"], protocol["ep_len"], protocol["oracle"]) == (5, 360, "calvin_env")
    assert protocol["sequences_sha256"] == sha256_file(data_file(SEQUENCES))
    assert protocol["env_config_sha256"] == sha256_file(data_file(SCENE_D))
    assert protocol["simulator"] == {"factory": "calvin_fakes:fake_sim"}
    assert protocol["views"] == {"static": "rgb_static", "gripper": "rgb_gripper"}
    assert protocol["proprio"] == {"robot_obs": 15, "scene_obs": 24}
    json.dumps(protocol)  # recorded in run.json


def test_views_and_proprio_match_the_calvin_data_reader() -> None:
    from foresight.data.calvin import DEFAULT_VIEWS, PROPRIO_KEYS
    from foresight.envs.calvin.sim import PROPRIO_DIMS, VIEWS

    assert VIEWS == DEFAULT_VIEWS and tuple(PROPRIO_DIMS) == PROPRIO_KEYS


def test_summarize_hand_made_results() -> None:
    suite = CalvinEnv(CalvinConfig(num_sequences=8))
    chains = [list(e.task.split(" -> ")) for e in suite.episodes()]
    completed = [0, 1, 2, 3, 5, 5]
    results = [chain_record(chains[i], n, i) for i, n in enumerate(completed)]
    summary = suite.summarize(results)
    # By hand: 6 chains; at least k done for k = 1..5: 5, 4, 3, 2, 2; mean = (0+1+2+3+5+5)/6.
    assert summary["completed_histogram"] == [1, 1, 1, 1, 0, 2]
    assert [r["successes"] for r in summary["success_in_a_row"]] == [5, 4, 3, 2, 2]
    assert [r["rate"] for r in summary["success_in_a_row"]] == [5 / 6, 4 / 6, 3 / 6, 2 / 6, 2 / 6]
    assert summary["success_in_a_row"][0]["ci95"] == list(wilson_interval(5, 6))
    assert summary["avg_len"] == pytest.approx(16 / 6)
    assert (summary["chains"], summary["chains_expected"], summary["chains_missing"]) == (6, 8, 2)
    assert (summary["successes"], summary["episodes"], summary["success_rate"]) == (2, 6, 2 / 6)
    # Per subtask: attempted = completed ones plus the one that failed; e.g. chain 2 (2 done) attempts 3.
    attempts: dict[str, list[int]] = {}
    for subtasks, n in zip(chains, completed, strict=False):
        for j, name in enumerate(subtasks[: min(n + 1, 5)]):
            attempts.setdefault(name, [0, 0])
            attempts[name][0] += j < n
            attempts[name][1] += 1
    rows = {row["task"]: row for row in summary["per_task"]}
    assert {name: [row["successes"], row["episodes"]] for name, row in rows.items()} == attempts
    assert sum(row["episodes"] for row in rows.values()) == 1 + 2 + 3 + 4 + 5 + 5
    first = chains[0][0]  # chain 0 failed its first subtask
    assert rows[first]["instruction"] and rows[first]["task_index"] == suite.data.task_names.index(first)
    assert [row["task_index"] for row in summary["per_task"]] == sorted(row["task_index"] for row in rows.values())


def test_summarize_rejects_records_that_are_not_chains() -> None:
    suite = CalvinEnv(CalvinConfig(num_sequences=2))
    with pytest.raises(KeyError, match=r"result 0 has no info\.completed"):
        suite.summarize([{"task_index": 0, "success": True, "info": {}}])
    subtasks = suite.episodes()[0].task.split(" -> ")
    with pytest.raises(ValueError, match=r"info.completed=6 is not an integer in 0..5"):
        suite.summarize([chain_record(subtasks, 6)])
    with pytest.raises(ValueError, match="not CALVIN tasks"):
        suite.summarize([chain_record(["juggle", *subtasks[1:]], 0)])


def test_a_full_evaluation_makes_a_valid_leaderboard_result() -> None:
    suite = CalvinEnv(CalvinConfig(), sim_factory=fake_sim)
    records = [chain_record(e.task.split(" -> "), (e.task_index * 7) % 6, e.task_index) for e in suite.episodes()]
    tasks, lengths = leaderboard_outcomes(records, suite.data.task_names)
    execution = {"action_execution": "receding_horizon", "replan_every": 8, "temporal_ensemble": None}
    protocol = leaderboard_protocol(suite.protocol(), execution, seeds=(0,))
    result = make_result(
        method="clad",
        config={"method": {"name": "clad"}},
        checkpoint=Checkpoint("0" * 40, "0.1.0", "data-fp", 1000, "/runs/clad"),
        benchmark="calvin",
        suite="abc_d",
        protocol=protocol,
        tasks=tasks,
        wall_time_s=1.0,
        chain_lengths=lengths,
    )  # validates: chain count, histogram, subtask totals implied by it
    summary = suite.summarize(records)
    assert result.calvin is not None and result.calvin.avg_len == pytest.approx(summary["avg_len"])
    assert list(result.calvin.completed_histogram) == summary["completed_histogram"]
    assert protocol.num_chains == 1000 and protocol.max_steps == 360 and protocol.init_states == "calvin_official"
    with pytest.raises(ValueError, match="only the official 1000 chains"):
        short = CalvinEnv(CalvinConfig(num_sequences=10), sim_factory=fake_sim).protocol()
        leaderboard_protocol(short, execution, seeds=(0,))
