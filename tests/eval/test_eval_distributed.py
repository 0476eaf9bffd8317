"""The same evaluation under ``accelerate launch`` with two CPU processes: sharded, gathered, nothing twice.

``--cpu`` would start a single process (accelerate 1.x needs mpirun for several CPU processes), so the processes
come from ``--multi_gpu`` (torchrun); on a machine without CUDA the runner puts them on CPU (gloo).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from eval_fakes import ReachConfig, ReachSuite
from eval_policy import loaded_policy, reference_rollout

HERE = Path(__file__).resolve().parent


@pytest.mark.slow
def test_two_processes_shard_every_episode_exactly_once(tmp_path: Path) -> None:
    logs, out = tmp_path / "logs", tmp_path / "out"
    logs.mkdir()
    env = {"tasks": 2, "trials_per_task": 3, "log_dir": str(logs)}
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"]
    launch += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    job = [str(HERE / "eval_job.py"), str(out), str(tmp_path), json.dumps(env), json.dumps({"workers": 1})]
    environ = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}  # CPU processes even on a GPU box
    done = subprocess.run(launch + job, env=environ, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]

    suite = ReachSuite(ReachConfig(**env))
    episodes = suite.episodes()
    records = [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]
    assert sorted(r["key"] for r in records) == sorted(e.key for e in episodes)  # each exactly once
    assert Counter((logs / "resets.txt").read_text().split()) == Counter({e.key: 1 for e in episodes})
    shard_of = {e.key: i % 2 for i, e in enumerate(episodes)}
    assert {r["key"]: r["rank"] for r in records} == shard_of  # episode index modulo world size

    summary = json.loads((out / "summary.json").read_text())  # written once, by the main process
    assert summary["timing"]["processes"] == 2 and summary["complete"]
    loaded = loaded_policy(tmp_path)
    expected = {e.key: reference_rollout(suite, loaded, e)[0] for e in episodes}
    assert {r["key"]: r["success"] for r in records} == expected
    assert summary["results"]["successes"] == sum(expected.values())
