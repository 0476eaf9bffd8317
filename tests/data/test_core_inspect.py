"""``python -m foresight.data.inspect``: the summary of the demo dataset, and one line with exit 2 on bad input."""

from __future__ import annotations

import h5py
import numpy as np

from foresight.data.config import load_data_config
from foresight.data.inspect import main
from foresight.data.source import open_dataset

SMALL = ["data.demo.length=5", "data.demo.episodes_per_task=3", "data.demo.image_size=16"]


def test_summary_of_the_demo_dataset(tmp_path, capsys):
    args = ["data=demo", f"data.path={tmp_path}", *SMALL]
    assert main(args) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert f"source:   demo:{tmp_path}" in lines
    assert "episodes: 6" in lines
    assert "frames:   30 (per episode: min 5, mean 5.0, max 5) at 20 fps" in lines
    assert "tasks:    2" in lines
    assert "  [0] DEMO_reach_the_green_dot (3 episodes)" in lines
    assert "        'reach the green dot'" in lines and "        'reach the red dot'" in lines
    keys = {
        line.split()[0]: line.split(maxsplit=1)[1]
        for line in lines
        if line.startswith(("  action", "  proprio", "  images"))
    }
    assert keys["action"].split() == ["(7,)", "float32"]
    assert keys["proprio.joint_states"].split() == ["(7,)", "float32"]
    assert keys["proprio.gripper_states"].split() == ["(2,)", "float32"]
    assert keys["images.agentview"].split() == ["(16,", "16,", "3)", "uint8"]
    assert keys["images.wrist"].split() == ["(16,", "16,", "3)", "uint8"]

    # the statistics table equals the statistics of the actions in the files
    ds = open_dataset(load_data_config(args))
    actions = []
    for path in sorted({ep.meta["file"] for ep in ds.episodes}):
        with h5py.File(path, "r", locking=False) as f:
            actions += [f[f"data/{d}/actions"][()] for d in sorted(f["data"])]
    actions = np.concatenate(actions)
    assert "action statistics over 30 frames:" in lines
    start = lines.index("action statistics over 30 frames:") + 2
    table = np.array([[float(v) for v in line.split()] for line in lines[start : start + 7]])
    assert table[:, 0].tolist() == list(range(7))
    np.testing.assert_allclose(table[:, 1], actions.min(0), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(table[:, 2], actions.max(0), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(table[:, 3], actions.mean(0), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(table[:, 4], actions.std(0), rtol=1e-3, atol=1e-4)


def test_bad_dataset_or_config_is_one_line_and_exit_2(tmp_path, capsys):
    missing = tmp_path / "nothing_here"
    assert main(["data=libero_10", f"data.path={missing}"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == f"foresight data inspect: error: data.path {missing} does not exist\n"

    assert main(["data=libero_1O"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("foresight data inspect: error: unknown data 'libero_1O'. Did you mean 'libero_10'")
    assert err.count("\n") == 1

    assert main(["data=demo", "data.demo.lenght=3"]) == 2
    assert "Did you mean 'length'?" in capsys.readouterr().err
