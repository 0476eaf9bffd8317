"""`foresight config ...`: every resolved value with the layer it comes from."""

from __future__ import annotations

import subprocess
import sys

from foresight.explain import explain, main


def by_key(overrides):
    rows, budgets = explain(overrides)
    return {r.key: (r.value, r.source) for r in rows}, budgets


def test_each_value_names_its_source(tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text("extends: clad\ndynamics:\n  mask_ratio: 0.9\n")
    rows, budgets = by_key([f"method={mine}", "data=libero_spatial", "train.steps=300", "method.policy.head_blocks=3"])
    assert rows["method.name"] == ("clad", "configs/method/clad.yaml")  # the base of the user's preset
    assert rows["method.dynamics.mask_ratio"] == (0.9, str(mine))
    assert rows["method.policy.head_blocks"] == (3, "command line")
    assert rows["method.dynamics.hidden_dim"] == (1024, "default (CLaDConfig)")
    assert rows["method.policy.budget.warmup_fraction"] == (0.01, "default (CLaDConfig)")
    assert rows["data.suite"] == ("libero_spatial", "configs/data/libero_spatial.yaml")
    assert rows["data.subfolder"] == ("libero_spatial", "configs/data/libero.yaml")  # ${.suite}, resolved
    assert rows["data.val_fraction"] == (0.1, "default (DataConfig)")
    assert rows["train.steps"] == (300, "command line")
    assert rows["train.grad_clip"] == (1.0, "default (TrainConfig)")
    assert rows["seed"] == (42, "default (RunConfig)")
    # what each stage will actually run: the method's budget with train.* applied
    assert {k: (b.steps, b.warmup) for k, b in budgets.items()} == {
        "method.dynamics.budget": (300, 24),
        "method.policy.budget": (300, 3),
    }


def test_env_presets_resolve_to_the_dataclass_defaults():
    rows, _ = by_key(["env=libero_goal"])
    assert rows["env.name"] == ("libero", "configs/env/libero.yaml")
    assert rows["env.suite"] == ("libero_goal", "configs/env/libero_goal.yaml")
    assert rows["env.trials_per_task"] == (50, "default (LiberoConfig)")


def test_command_prints_a_table_and_names_a_bad_key(capsys):
    assert main(["method=dp", "train.steps=1000"]) == 0
    out = capsys.readouterr().out
    assert "train.steps" in out and "command line" in out
    assert "method.budget: batch 128, linear warm-up 10 of 1000 steps to lr 0.0003, then cosine decay to 0" in out
    assert main(["method=dp", "method.steps=5"]) == 2
    assert "it is now method.budget.steps" in capsys.readouterr().err


def test_the_documented_spellings_run():
    for command in (["-m", "foresight", "config"], ["-m", "foresight.config"]):
        proc = subprocess.run(
            [sys.executable, *command, "method=clad", "data=libero_10"], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, proc.stderr
        assert "data.name" in proc.stdout and "configs/data/libero.yaml" in proc.stdout
        assert "Warning" not in proc.stderr
