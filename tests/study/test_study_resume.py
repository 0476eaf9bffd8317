"""A tiny study killed during training and again during evaluation ends exactly like an uninterrupted one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent
JOB = HERE / "study_job.py"


def study_file(tmp_path: Path, out: Path, **extra) -> Path:
    spec = yaml.safe_load((HERE / "tiny_study.yaml").read_text())
    spec.update(out=str(out), **extra)
    path = tmp_path / f"{out.name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def start(path: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(JOB), str(path), "progress=false"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(HERE)},
    )


def wait_for(proc: subprocess.Popen, ready, what: str, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while not ready():
        if proc.poll() is not None:
            raise AssertionError(f"the study ended before {what}: {proc.stdout.read()}")
        if time.time() > deadline:
            proc.kill()
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def final_weights(out: Path, arm: str) -> dict[str, bytes]:
    from foresight.checkpoint import final_checkpoint

    run = out / "runs" / arm / "seed0"
    stages = json.loads((run / "stages.json").read_text())["stages"]
    return {s: (final_checkpoint(run / s) / "model.safetensors").read_bytes() for s in stages}


def episodes(out: Path, arm: str) -> dict[str, tuple]:
    lines = (out / "eval" / arm / "seed0" / "episodes.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    return {r["key"]: (r["status"], r["success"], r["steps"]) for r in records}


def record_numbers(out: Path, arm: str) -> dict:
    rec = json.loads((out / "records" / f"{arm}__seed0.json").read_text())
    return {k: rec[k] for k in ("tasks", "components", "params", "seed", "method")} | {"steps": rec["train"]["steps"]}


@pytest.mark.slow
def test_study_killed_in_training_and_in_evaluation_matches_an_uninterrupted_one(tmp_path: Path) -> None:
    whole = tmp_path / "whole"
    done = subprocess.run(
        [sys.executable, str(JOB), str(study_file(tmp_path, whole)), "progress=false"],
        capture_output=True, text=True, timeout=1800, env={**os.environ, "PYTHONPATH": str(HERE)},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr

    broken = tmp_path / "broken"
    path = study_file(tmp_path, broken)
    # 1. SIGKILL the study while the first arm trains: its trainer is told to stop (checkpoint) as its parent dies.
    proc = start(path)
    first_ckpt = broken / "runs" / "dp" / "seed0" / "policy" / "checkpoints"
    wait_for(proc, lambda: first_ckpt.is_dir() and any(first_ckpt.iterdir()), "a first checkpoint")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    time.sleep(3)  # the orphaned trainer saves its checkpoint and exits
    from foresight.checkpoint import run_complete

    assert not run_complete(broken / "runs" / "dp" / "seed0"), "the kill came too late to interrupt training"
    # 2. Resume; SIGTERM it once the second arm's evaluation has finished an episode.
    proc = start(path)
    clad_episodes = broken / "eval" / "clad" / "seed0" / "episodes.jsonl"
    wait_for(proc, lambda: clad_episodes.is_file() and clad_episodes.read_text().count("\n") >= 1, "an episode")
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, output
    assert "re-run" in output
    assert clad_episodes.read_text().count("\n") < 6, "the evaluation finished before it was stopped"
    assert not (broken / "records" / "clad__seed0.json").exists()
    # 3. Resume to the end.
    proc = start(path)
    output, _ = proc.communicate(timeout=1800)
    assert proc.returncode == 0, output

    for arm in ("dp", "clad"):
        assert final_weights(broken, arm) == final_weights(whole, arm)
        assert episodes(broken, arm) == episodes(whole, arm)
        assert record_numbers(broken, arm) == record_numbers(whole, arm)
    # The dp arm was interrupted in training only: its evaluation ran once, without repeats.
    assert len((broken / "eval" / "dp" / "seed0" / "episodes.jsonl").read_text().splitlines()) == 6
    # The clad arm's evaluation resumed: every episode is recorded exactly once.
    assert len(clad_episodes.read_text().splitlines()) == 6
    # dp trained in two sessions: the killed one (whose study died before it could log the session) and the resumed.
    log = (broken / "logs" / "dp__seed0.train.log").read_text()
    assert log.count("$ ") == 2 and "stage 'policy': resuming from" in log
    report = json.loads((broken / "report" / "report.json").read_text())
    assert [a["arm"] for a in report["arms"]] == ["dp", "clad"]
