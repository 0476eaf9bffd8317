"""The runner end to end on the fake reach benchmark: real worker processes, real kills, real resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import av
import numpy as np
import pytest
from eval_fakes import ReachConfig, ReachSuite
from eval_policy import loaded_policy, reference_rollout

from foresight.eval import EvalConfig, EvalError, evaluate

HERE = Path(__file__).resolve().parent


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]


def _resets(log_dir: Path) -> Counter:
    return Counter((log_dir / "resets.txt").read_text().split())


@pytest.mark.parametrize("reset_every", [None, 4], ids=["plain", "policy-reset"])
def test_batched_rollouts_match_per_episode_inference(tmp_path: Path, reset_every: int | None) -> None:
    suite = ReachSuite(ReachConfig(tasks=3, trials_per_task=2, policy_reset_every=reset_every, report_modules=True))
    loaded = loaded_policy(tmp_path)
    summary = evaluate(suite, loaded, EvalConfig(workers=3, videos=1, progress=False), tmp_path / "out")
    records = {r["key"]: r for r in _records(tmp_path / "out")}
    assert sorted(records) == sorted(e.key for e in suite.episodes())
    expected_wins = 0
    for episode in suite.episodes():
        success, actions = reference_rollout(suite, loaded, episode)
        record = records[episode.key]
        assert record["success"] == success, episode.key
        np.testing.assert_allclose(np.array(record["info"]["actions"]), np.array(actions), rtol=0, atol=1e-6)
        assert record["steps"] == len(actions)
        expected_wins += success
    assert 0 < expected_wins < len(records)  # the benchmark separates success from failure
    results = summary["results"]
    assert results["successes"] == expected_wins and results["episodes"] == len(records)
    assert summary["complete"]
    assert summary["episodes"] == {"protocol": 6, "selected": 6, "ok": 6, "error": 0, "missing": 0}
    assert summary["timing"]["env_steps"] == sum(r["steps"] for r in records.values())
    assert summary["execution"]["replan_every"] == 2
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["results"] == results

    # Simulator workers import the env side only: never the policy, the runner or accelerate.
    modules = set(records["000/000"]["info"]["modules"])
    assert "eval_fakes" in modules and "foresight.eval.worker" in modules
    assert not modules & {"eval_policy", "foresight.eval.runner", "foresight.eval.policy", "accelerate"}

    # Videos of the first trial of every task, one frame per observation (reset + every step).
    for episode in suite.episodes():
        video = records[episode.key]["video"]
        if episode.trial >= 1:
            assert video is None
            continue
        with av.open(str(tmp_path / "out" / video)) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        assert len(frames) == records[episode.key]["steps"] + 1
        assert frames[0].shape == (6, 12, 3)  # two 6x6 views side by side


def test_killed_worker_is_reported_and_its_episode_retried(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    suite = ReachSuite(ReachConfig(tasks=2, trials_per_task=1, log_dir=str(logs), crash_key="001/000"))
    summary = evaluate(suite, loaded_policy(tmp_path), EvalConfig(workers=2, progress=False), tmp_path / "out")
    crashes = summary["worker_crashes"]
    assert len(crashes) == 1 and crashes[0]["key"] == "001/000" and crashes[0]["attempt"] == 1
    assert "killed by SIGKILL" in crashes[0]["reason"]
    assert "episode 001/000" in capfd.readouterr().err
    record = {r["key"]: r for r in _records(tmp_path / "out")}["001/000"]
    assert record["status"] == "ok" and record["attempts"] == 2
    assert _resets(logs)["001/000"] == 2
    assert summary["complete"]


def test_episode_crashing_on_every_attempt_is_marked_error(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    config = ReachConfig(tasks=2, trials_per_task=1, log_dir=str(logs), crash_key="000/000", crash_times=2)
    run = EvalConfig(workers=1, progress=False)
    summary = evaluate(ReachSuite(config), loaded_policy(tmp_path), run, tmp_path / "o")
    records = {r["key"]: r for r in _records(tmp_path / "o")}
    assert records["000/000"]["status"] == "error" and records["000/000"]["success"] is False
    assert "SIGKILL" in records["000/000"]["error"]
    assert records["001/000"]["status"] == "ok"
    assert summary["errors"] == ["000/000"] and not summary["complete"]
    assert summary["results"]["episodes"] == 1  # errors are not counted as failures of the policy
    assert [c["attempt"] for c in summary["worker_crashes"]] == [1, 2]


def test_resume_runs_only_the_episodes_not_yet_finished(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    suite = ReachSuite(ReachConfig(tasks=2, trials_per_task=3, log_dir=str(logs)))
    loaded, out = loaded_policy(tmp_path), tmp_path / "out"
    first = evaluate(suite, loaded, EvalConfig(workers=2, trials=1, progress=False), out)
    assert first["episodes"] == {"protocol": 6, "selected": 2, "ok": 2, "error": 0, "missing": 0}
    assert not first["complete"]
    second = evaluate(suite, loaded, EvalConfig(workers=2, progress=False), out)
    assert _resets(logs) == Counter({e.key: 1 for e in suite.episodes()})
    assert second["timing"]["episodes_run"] == 4 and second["episodes"]["ok"] == 6 and second["complete"]
    assert sorted(r["key"] for r in _records(out)) == sorted(e.key for e in suite.episodes())
    # A subset evaluated into the folder of the whole run summarises that subset only (nothing is re-run).
    records = {r["key"]: r for r in _records(out)}
    subset = evaluate(suite, loaded, EvalConfig(workers=2, trials=1, progress=False), out)
    assert subset["episodes"] == {"protocol": 6, "selected": 2, "ok": 2, "error": 0, "missing": 0}
    assert subset["timing"]["episodes_run"] == 0 and not subset["complete"]
    assert subset["results"]["episodes"] == 2
    assert subset["results"]["successes"] == sum(records[f"{t:03d}/000"]["success"] for t in range(2))
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["episodes"]["selected"] == 2 and on_disk["results"]["episodes"] == 2
    with pytest.raises(EvalError, match=r"protocol\.max_steps was 12, now 30"):
        evaluate(
            ReachSuite(ReachConfig(tasks=2, trials_per_task=3, log_dir=str(logs), max_steps=30)),
            loaded,
            EvalConfig(progress=False),
            out,
        )


@pytest.mark.slow
def test_killed_evaluation_resumes_without_rerunning_finished_episodes(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    out = tmp_path / "out"
    env = {"tasks": 2, "trials_per_task": 3, "log_dir": str(logs), "step_delay_s": 0.05}
    job = [sys.executable, str(HERE / "eval_job.py"), str(out), str(tmp_path), json.dumps(env)]
    process = subprocess.Popen([*job, json.dumps({"workers": 1, "progress": False})], start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            path = out / "episodes.jsonl"
            if path.exists() and len(path.read_text().splitlines()) >= 2:
                break
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the evaluation and its worker, without warning
        process.wait()
    first = [r["key"] for r in _records(out)]
    assert 2 <= len(first) < 6, first
    with open(out / "episodes.jsonl", "a") as fh:
        fh.write('{"key": "001/002", "stat')  # as if killed while writing a line

    summary = evaluate(
        ReachSuite(ReachConfig(**env)), loaded_policy(tmp_path), EvalConfig(workers=1, progress=False), out
    )
    keys = [r["key"] for r in _records(out)]
    assert sorted(keys) == sorted(e.key for e in ReachSuite(ReachConfig(**env)).episodes())  # each exactly once
    resets = _resets(logs)
    assert all(resets[key] == 1 for key in first), resets
    assert summary["timing"]["episodes_run"] == 6 - len(first)
    assert summary["episodes"]["ok"] == 6 and summary["complete"]


def test_rendering_on_query_changes_no_outcome_and_renders_only_what_is_read(tmp_path: Path) -> None:
    """replan_every=3 with offsets (-2, 0) and a policy reset every 5 steps: the same episodes as rendering every
    step, with frames rendered only where a query reads them (and at each reset, which starts a new segment)."""
    suite = ReachSuite(ReachConfig(tasks=2, trials_per_task=2, replan_every=3, policy_reset_every=5, max_steps=14))
    loaded = loaded_policy(tmp_path)
    runs = {}
    for mode in ("every_step", "on_query"):
        summary = evaluate(suite, loaded, EvalConfig(workers=2, render=mode, progress=False), tmp_path / mode)
        runs[mode] = ({r["key"]: r for r in _records(tmp_path / mode)}, summary["timing"])
    (eager, eager_timing), (lazy, lazy_timing) = runs["every_step"], runs["on_query"]
    assert sorted(lazy) == sorted(eager) == sorted(e.key for e in suite.episodes())
    for key, record in eager.items():
        assert lazy[key]["success"] == record["success"] and lazy[key]["steps"] == record["steps"], key
        assert lazy[key]["info"]["actions"] == record["info"]["actions"], key
        steps = record["steps"]
        assert record["info"]["rendered"] == list(range(steps + 1))
        # Segments start at 0, 5, 10; within one, queries at 0, 3, 6 read frames u - 2 and u: u % 3 in {0, 1}.
        expected = [0] + [t for t in range(1, steps + 1) if t % 5 == 0 or (t % 5) % 3 in (0, 1)]
        assert lazy[key]["info"]["rendered"] == expected, key
        assert lazy[key]["rendered_frames"] == len(expected) and record["rendered_frames"] == steps + 1
        assert lazy[key]["reset_s"] > 0
    assert lazy_timing["render"] == "on_query" and eager_timing["render"] == "every_step"
    assert lazy_timing["rendered_frames"] == sum(r["rendered_frames"] for r in lazy.values())
    assert (
        lazy_timing["rendered_frames"] < eager_timing["rendered_frames"] == sum(s["steps"] + 1 for s in eager.values())
    )
