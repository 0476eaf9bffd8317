"""Both stages through ``accelerate launch -m foresight.train method=mola_tiny`` on LIBERO-format demo data: the
teacher targets built by the trainer, the imagined frames cached by the feature cache, the policy stage starting
from the idm stage's weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from foresight import checkpoint


@pytest.mark.slow
def test_both_stages_train_and_the_policy_stage_starts_from_the_idm_stage(tmp_path):
    run_dir = tmp_path / "run"
    args = [
        sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "foresight.train",
        "data=demo",
        f"data.path={tmp_path / 'demo'}",
        "data.demo.image_size=128",
        "data.demo.length=16",
        "data.demo.episodes_per_task=1",
        "data.val_fraction=0",
        f"run_dir={run_dir}",
        "train.logger=none",
        "train.num_workers=0",
        "train.log_every=1",
        "train.checkpoint_every=100",
        "method=mola_tiny",
        "method.idm_budget.steps=6",
        "method.policy_budget.steps=4",
        "train.batch_size=8",
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]

    rows = [json.loads(line) for line in (run_dir / "idm" / "metrics.jsonl").read_text().splitlines()]
    logged = [r for r in rows if "flow.flow" in r]
    assert logged and {"depth.depth", "semantic.semantic", "flow.rgb", "flow.perplexity"} <= set(logged[-1])
    assert all(r["flow.codes_used"] >= 1 for r in logged)

    idm = load_file(str(checkpoint.final_checkpoint(run_dir / "idm") / checkpoint.MODEL_FILE))
    policy = load_file(str(checkpoint.final_checkpoint(run_dir / "policy") / checkpoint.MODEL_FILE))
    moidm = [n for n in idm if n.startswith("moidm.") and idm[n].is_floating_point()]
    assert moidm and any(not torch.equal(idm[n], policy[n]) for n in moidm)  # jointly fine-tuned from idm weights
    for name in (n for n in idm if n.startswith("decoders.")):
        assert torch.equal(idm[name], policy[name]), name  # the decoders are not trained in the policy stage
    assert not any("unet" in n or "vae" in n for n in policy)  # the video model is rebuilt from config, never saved

    loaded = checkpoint.load_policy(run_dir)
    spec = loaded.method.data_spec(None)
    batch = {
        "observation.images.agentview": torch.randint(0, 256, (1, 1, 3, 128, 128), dtype=torch.uint8),
        "observation.state": torch.zeros(1, 1, loaded.method.info.proprio_dim(spec.proprio_keys)),
        "task_index": torch.tensor([0]),
        "instruction": [loaded.method.info.instructions[0]],
    }
    chunk = loaded.method.predict_action_chunk(batch, generator=torch.Generator().manual_seed(0))
    assert chunk.shape == (1, 4, 7) and torch.isfinite(chunk).all()
