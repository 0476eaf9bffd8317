"""An out-of-tree plugin package, installed the way a user would, trains by its registered name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from foresight import checkpoint


def run_with_plugin(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_installed_plugin_is_listed_with_its_package(plugin_site, tmp_path):
    result = run_with_plugin(plugin_site, "-m", "foresight", "list", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.split()[:1] == ["bc"])
    assert "foresight-bc 0.1.0" in line and "foresight_bc:BehaviorCloning" in line


def test_installed_plugin_trains_by_name(plugin_site, tmp_path):
    run_dir = tmp_path / "run"
    result = run_with_plugin(
        plugin_site, "-m", "foresight.train", "method=bc", "method.hidden_dim=32", "data=demo",
        f"data.path={tmp_path / 'demo'}", f"run_dir={run_dir}", "train.steps=20", "train.batch_size=16",
        "train.logger=none", "train.num_workers=0", "train.log_every=5",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    ckpt = checkpoint.final_checkpoint(run_dir / "policy")
    assert ckpt is not None and ckpt.name == "step_0000020"
    assert "name: bc" in (ckpt / checkpoint.CONFIG_FILE).read_text()
    losses = [float(line.split('"loss": ')[1].split(",")[0]) for line in (run_dir / "policy" / "metrics.jsonl")
              .read_text().splitlines() if '"loss"' in line]  # fmt: skip
    assert losses[-1] < losses[0]  # it learns


def test_plugin_config_is_validated_like_in_tree_ones(plugin_site, tmp_path):
    result = run_with_plugin(
        plugin_site, "-m", "foresight.train", "method=bc", "method.hiden_dim=32", "data=demo",
        f"data.path={tmp_path / 'demo'}", f"run_dir={tmp_path / 'run'}",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert "unknown key 'hiden_dim' in method. Did you mean 'hidden_dim'?" in result.stderr
