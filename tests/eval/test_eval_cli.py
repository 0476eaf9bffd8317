"""``python -m foresight.eval``: parsing, errors, a run from a real checkpoint directory, the leaderboard file."""

from __future__ import annotations

import json
from pathlib import Path

import eval_fakes  # noqa: F401 (registers the reach env)
import pytest
import yaml
from eval_policy import ReachPolicy, info, normalizer

from foresight import checkpoint
from foresight.budget import Budget
from foresight.config import ConfigError
from foresight.envs.libero.config import LiberoConfig
from foresight.eval.cli import main, parse_args
from foresight.eval.summary import (
    PROTOCOL_MAPPERS,
    LeaderboardInputs,
    LeaderboardUnavailable,
    episode_task_outcomes,
    leaderboard_result,
)
from foresight.leaderboard.schema import TaskOutcome, validate_result
from foresight.leaderboard.stats import wilson_interval
from foresight.registry import register_method

register_method("reach_policy")(ReachPolicy)


@pytest.fixture
def env_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "reach.yaml"
    path.write_text(yaml.safe_dump({"name": "reach", "tasks": 2, "trials_per_task": 2, "max_steps": 12}))
    return path


SCHEDULE = {"warmup_steps": 1, "total_steps": 7, "peak_lr": 1e-3, "decay": "cosine", "final_lr": 0.0}


@pytest.fixture
def ckpt(tmp_path: Path) -> Path:
    """A checkpoint directory as the trainer writes it, for the reach policy."""
    method = ReachPolicy(ReachPolicy.Config(gain=0.6), info())
    target = tmp_path / "run" / "policy" / "checkpoints" / checkpoint.step_dir_name(7)
    return checkpoint.write_checkpoint(
        target,
        {
            checkpoint.MODEL_FILE: method.state_dict(),
            checkpoint.TRAINER_STATE_FILE: {"step": 7},
            checkpoint.STATS_FILE: normalizer().save,
            checkpoint.CONFIG_FILE: yaml.safe_dump({"method": {"name": "reach_policy", "gain": 0.6}, "seed": 1}),
            checkpoint.INFO_FILE: checkpoint.info_to_json(info()),
            checkpoint.META_FILE: {
                "stage": "policy",
                "step": 7,
                "method": "reach_policy",
                "version": "0.1.0",
                "git_sha": "0123abc",
                "data_fingerprint": "fp-test",
                "schedule": SCHEDULE,
            },
        },
    )


def test_parse_args_composes_env_and_eval(env_yaml: Path) -> None:
    run = parse_args(["checkpoint=/some/run", f"env={env_yaml}", "env.max_steps=30", "eval.tasks=0,3", "eval.trials=5"])
    assert run.checkpoint == "/some/run" and run.env_label == "reach"
    assert run.env.name == "reach" and run.env.max_steps == 30 and run.env.tasks == 2
    assert run.eval.tasks == [0, 3] and run.eval.trials == 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["checkpoint=/r"], "choose an environment with env=<name>"),
        (["checkpoint=/r", "env=ENV", "method=clad"], "method cannot be chosen for an evaluation"),
        (["env=ENV"], "give the policy to evaluate with checkpoint="),
        (["checkpoint=/r", "env=ENV", "evl.trials=3"], "unknown key 'evl.trials'"),
        (["checkpoint=/r", "env=ENV", "eval.trails=3"], "Did you mean 'trials'"),
        (["checkpoint=/r", "env=ENV", "eval.trials=0"], "eval.trials must be at least 1"),
        (["checkpoint=/r", "env=no_such_env"], "unknown env 'no_such_env'"),
    ],
)
def test_parse_args_errors_name_the_fix(env_yaml: Path, args: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        parse_args([a.replace("ENV", str(env_yaml)) for a in args])


def test_cli_evaluates_a_checkpoint_dir(ckpt: Path, env_yaml: Path, capsys: pytest.CaptureFixture) -> None:
    run_dir = ckpt.parents[2]
    code = main([f"checkpoint={run_dir}", f"env={env_yaml}", "eval.workers=2", "eval.progress=false"])
    assert code == 0, capsys.readouterr().err
    out_dir = run_dir / "eval" / "policy-step_0000007" / "reach"
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["episodes"]["ok"] == 4 and summary["complete"]
    assert summary["checkpoint"]["step"] == 7 and summary["checkpoint"]["checkpoint"] == str(ckpt)
    assert summary["checkpoint"]["schedule"] == SCHEDULE  # the learning-rate schedule it was trained with
    assert summary["leaderboard"] == {
        "written": False,
        "reason": "no leaderboard protocol mapping for benchmark 'reach'",
    }
    printed = capsys.readouterr().out
    assert f"reach: {100 * summary['results']['success_rate']:5.1f}%" in printed


def test_cli_reports_errors_without_a_traceback(env_yaml: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main([f"checkpoint={tmp_path / 'missing'}", f"env={env_yaml}"]) == 2
    err = capsys.readouterr().err
    assert err == f"foresight eval: error: {tmp_path / 'missing'} does not exist\n"


def _libero_summary(trials: int, complete: bool = True) -> tuple[dict, list[dict]]:
    protocol = {"benchmark": "libero", **LiberoConfig(suite="libero_object", trials_per_task=trials).to_dict()}
    records = [
        {"key": f"{t:03d}/{i:03d}", "task_index": t, "task": f"task_{t}", "success": (t + i) % 3 != 0, "status": "ok"}
        for t in range(10)
        for i in range(trials)
    ]
    summary = {
        "complete": complete,
        "episodes": {
            "protocol": 10 * trials,
            "selected": len(records),
            "ok": len(records) - (not complete),
            "error": int(not complete),
            "missing": 0,
        },
        "protocol": protocol,
        "execution": {"action_execution": "receding_horizon", "replan_every": 5, "temporal_ensemble": None},
        "checkpoint": {
            "git_sha": "0123abc-dirty",
            "version": "0.1.0",
            "data_fingerprint": "fp",
            "step": 1000,
            "checkpoint": "/runs/clad/policy/checkpoints/step_0001000",
            "schedule": Budget(steps=1000, batch_size=8, lr=3e-4, warmup_fraction=0.01).schedule().to_dict(),
        },
    }
    return summary, records


def test_complete_libero_evaluation_becomes_a_valid_leaderboard_result() -> None:
    summary, records = _libero_summary(trials=3)
    result = leaderboard_result(summary, records, {"method": {"name": "clad"}}, "clad", 12.5)
    validate_result(result)
    protocol = result["protocol"]
    assert protocol["trials_per_task"] == 3 and protocol["seeds"] == [7] and protocol["max_steps"] == 280
    assert protocol["warmup_steps"] == 10 and protocol["image_convention"] == "flipud"
    assert protocol["replan_every"] == 5 and protocol["init_states"] == "libero_official"
    assert result["checkpoint"]["run_dir"] == "/runs/clad" and result["checkpoint"]["training_steps"] == 1000
    # The schedule the checkpoint ran (#24): a study's arms can be compared on their effective budgets.
    assert result["checkpoint"]["schedule"] == summary["checkpoint"]["schedule"]
    assert result["checkpoint"]["schedule"]["warmup_steps"] == 10 and result["checkpoint"]["schedule"]["final_lr"] == 0
    wins = sum(r["success"] for r in records)
    assert result["aggregate"]["successes"] == wins and result["aggregate"]["trials"] == 30
    assert result["aggregate"]["ci95"] == list(wilson_interval(wins, 30))
    assert result["tasks"][0] == {
        "index": 0,
        "name": "task_0",
        "successes": 2,
        "trials": 3,
        "rate": 2 / 3,
        "ci95": list(wilson_interval(2, 3)),
    }


def test_partial_or_unprovenanced_evaluations_are_not_ranked() -> None:
    summary, records = _libero_summary(trials=2, complete=False)
    with pytest.raises(LeaderboardUnavailable, match=r"19 of the protocol's 20 episodes .*1 errors.*the whole"):
        leaderboard_result(summary, records, {}, "clad", 1.0)
    summary, records = _libero_summary(trials=2)
    summary["checkpoint"]["git_sha"] = None
    with pytest.raises(LeaderboardUnavailable, match=r"provenance lacks \['git_sha'\]"):
        leaderboard_result(summary, records, {}, "clad", 1.0)
    summary, records = _libero_summary(trials=2)
    with pytest.raises(LeaderboardUnavailable, match=r"schema rejects.*tasks\[9\]\.trials"):  # 1 of 2 trials
        leaderboard_result(summary, records[:-1], {}, "clad", 1.0)


class HookedSuite:
    """A suite with the leaderboard hook: it renames the tasks, so the result shows whose mapping was used."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.seeds: list[tuple[int, ...]] = []

    def leaderboard_inputs(self, protocol, execution, records, *, seeds) -> LeaderboardInputs:
        self.seeds.append(seeds)
        if self.error is not None:
            raise self.error
        tasks = [
            TaskOutcome(t.index, f"hooked {t.index}", t.successes, t.trials) for t in episode_task_outcomes(records)
        ]
        return LeaderboardInputs(PROTOCOL_MAPPERS["libero"](protocol, execution), tasks)


def test_a_suites_leaderboard_hook_is_used_before_the_protocol_table() -> None:
    summary, records = _libero_summary(trials=2)
    records = [{**r, "policy_seed": 5} for r in records]
    suite = HookedSuite()
    result = leaderboard_result(summary, records, {}, "clad", 1.0, suite=suite)
    validate_result(result)
    assert suite.seeds == [(5,)] and [t["name"] for t in result["tasks"]] == [f"hooked {i}" for i in range(10)]
    assert result["calvin"] is None and result["aggregate"]["trials"] == 20

    refusing = HookedSuite(ValueError("only the official chains are ranked"))
    with pytest.raises(LeaderboardUnavailable, match=r"^HookedSuite does not rank this evaluation: only the official"):
        leaderboard_result(summary, records, {}, "clad", 1.0, suite=refusing)
    missing = HookedSuite(KeyError("record 3 has no info.completed"))
    with pytest.raises(
        LeaderboardUnavailable, match=r"does not rank this evaluation: record 3 has no info\.completed$"
    ):
        leaderboard_result(summary, records, {}, "clad", 1.0, suite=missing)
