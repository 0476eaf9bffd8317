"""``make demo``'s job: build the demo set, train dp through the real trainer, score it open-loop, record it."""

import json
import math

from foresight.demo import DEFAULTS, main, merge


def test_overrides_replace_defaults_of_the_same_key():
    merged = merge(["a=1", "b=2"], ["b=3", "c=4"])
    assert merged == ["a=1", "b=3", "c=4"]
    assert any(item.startswith("method=dp") for item in DEFAULTS)


def test_demo_trains_scores_and_records_a_result(tmp_path, capsys):
    run_dir = tmp_path / "run"
    status = main(
        [f"run_dir={run_dir}", f"data.path={tmp_path / 'data'}", "train.steps=6", "train.batch_size=8",
         "train.num_workers=0", "train.logger=none", "data.val_fraction=0.25"]
    )  # fmt: skip
    assert status == 0
    result = json.loads((run_dir / "demo_result.json").read_text())
    assert result["held_out_episodes"] == 2  # a quarter of the 8 demo episodes
    assert math.isfinite(result["policy_mse"]) and result["policy_mse"] > 0
    assert math.isfinite(result["mean_action_mse"]) and result["mean_action_mse"] > 0
    assert "open-loop action error on held-out episodes" in capsys.readouterr().out
