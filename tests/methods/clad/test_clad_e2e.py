"""Both stages through the real trainer on the demo dataset (LIBERO schema), pixels through the real DecisionNCE
loading path (a tiny random checkpoint), then the diagnostics command on the result."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from foresight import checkpoint
from foresight.methods.clad.diagnose import diagnose
from foresight.train import main as train


@pytest.mark.slow
def test_two_stages_train_and_stage2_starts_from_stage1_leaving_it_unchanged(tmp_path):
    run_dir = tmp_path / "run"
    args = [
        "data=demo",
        f"data.path={tmp_path / 'demo'}",
        f"run_dir={run_dir}",
        "train.logger=none",
        "train.num_workers=0",
        "train.log_every=5",
        "train.checkpoint_every=100",
        "method=clad_tiny",
    ]
    assert train(args) == 0

    rows = [json.loads(line) for line in (run_dir / "dynamics" / "metrics.jsonl").read_text().splitlines()]
    latents = [r["latent"] for r in rows if "latent" in r]
    assert latents[-1] < latents[0] / 2  # 20 steps on the demo data: about 15 -> 3 when written

    stage1 = load_file(str(checkpoint.final_checkpoint(run_dir / "dynamics") / checkpoint.MODEL_FILE))
    stage2 = load_file(str(checkpoint.final_checkpoint(run_dir / "policy") / checkpoint.MODEL_FILE))
    for name, value in stage1.items():
        if name.startswith("dynamics."):
            assert torch.equal(value, stage2[name]), name
    assert not any("visual." in name for name in stage2)  # the VLM is rebuilt from config, never saved
    assert any(not torch.equal(stage1[n], stage2[n]) for n in stage2 if n.startswith("policy.head."))

    payload = diagnose([f"checkpoint={run_dir / 'dynamics'}", f"out={tmp_path / 'umap.png'}", "max_samples=64"])
    assert (tmp_path / "umap.png").read_bytes()[:4] == b"\x89PNG"
    assert set(payload["collapse"]) == {"z_dyn", "proprio", "semantic"}
    assert payload["collapse"]["z_dyn"]["dead_fraction"] < 0.5
