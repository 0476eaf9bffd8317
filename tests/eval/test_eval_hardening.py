"""Issue #14 item 6: the task set is checked before simulators start; clear texts for unsafe pickles, env field
ranges, SIGTERM and unfinished runs."""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import yaml
from eval_fakes import ReachConfig, ReachSuite
from eval_policy import loaded_policy
from test_eval_cli import ckpt  # noqa: F401 (fixture: a checkpoint directory of the reach policy)

import foresight.eval.runner as runner
from foresight.checkpoint import CheckpointError, load_torch_state
from foresight.eval.cli import main, training_frame_size
from foresight.eval.config import EvalConfig
from foresight.eval.results import EvalError
from foresight.eval.runner import check_task_set, evaluate
from foresight.registry import register_env
from foresight.types import DatasetInfo


class _NoSimulators:
    def __init__(self, *args, **kwargs) -> None:
        raise AssertionError("a simulator worker was started")


def test_tasks_the_checkpoint_never_saw_are_refused_before_any_simulator_starts(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "Worker", _NoSimulators)
    suite = ReachSuite(ReachConfig(tasks=6, trials_per_task=1))  # the policy was trained on reach-0 .. reach-3
    with pytest.raises(EvalError) as info:
        evaluate(suite, loaded_policy(tmp_path), EvalConfig(progress=False), tmp_path / "out")
    message = str(info.value)
    assert message.startswith("the checkpoint was not trained on 2 task(s) this evaluation asks for: reach-4, reach-5")
    assert "eval.tasks" in message and "eval.allow_unseen_tasks=true" in message
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_a_selection_of_known_tasks_or_the_explicit_switch_passes(tmp_path):
    suite = ReachSuite(ReachConfig(tasks=6, trials_per_task=1))
    known = tuple(loaded_policy(tmp_path).method.info.tasks)
    episodes = suite.episodes()
    check_task_set(suite, [e for e in episodes if e.task_index < 4], known, EvalConfig())
    check_task_set(suite, episodes, known, EvalConfig(allow_unseen_tasks=True))
    with pytest.raises(EvalError, match=r"1 task\(s\) this evaluation asks for: reach-5;"):
        check_task_set(suite, [episodes[5]], known, EvalConfig())


def test_cli_refusal_is_one_line(tmp_path, ckpt, capsys):  # noqa: F811
    env = tmp_path / "reach6.yaml"
    env.write_text(yaml.safe_dump({"name": "reach", "tasks": 6, "trials_per_task": 1, "max_steps": 5}))
    assert main([f"checkpoint={ckpt}", f"env={env}", "eval.progress=false"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("foresight eval: error: the checkpoint was not trained on 2 task(s)") and "Traceback" not in err
    )


class Payload:
    """Not a tensor nor a plain container: torch.load(weights_only=True) refuses to rebuild it."""


def test_a_refused_pickle_is_called_unsafe_not_corrupted_and_no_bypass_is_suggested(tmp_path):
    path = tmp_path / "trainer_state.pt"
    torch.save({"step": 3, "payload": Payload()}, path)
    with pytest.raises(CheckpointError) as info:
        load_torch_state(path)
    message = str(info.value)
    assert message.startswith(f"refused to load {path} as unsafe")
    assert "corrupted" not in message and "weights_only=False" not in message and "weights_only" not in message


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_truly_damaged_state_is_still_called_corrupted_without_the_unsafe_hint(tmp_path, damage):
    path = tmp_path / "trainer_state.pt"
    torch.save({"step": 3}, path)
    path.write_bytes(path.read_bytes()[:20] if damage == "truncated" else b"not a torch file")
    with pytest.raises(CheckpointError, match="is corrupted or truncated") as info:
        load_torch_state(path)
    assert "weights_only" not in str(info.value) and "unsafe" not in str(info.value)


@pytest.mark.parametrize(
    ("env", "arg", "message"),
    [
        ("libero_10", "env.max_steps=-5", "env.max_steps must be a positive integer or null"),
        ("libero_10", "env.camera_size=0", "env.camera_size must be a positive integer, got 0"),
        ("calvin_abc_d", "env.ep_len=-1", "env.ep_len must be a positive integer, got -1"),
    ],
)
def test_env_field_errors_use_the_name_the_user_typed(capsys, env, arg, message):
    assert main(["checkpoint=/nonexistent", f"env={env}", arg]) == 2
    err = capsys.readouterr().err
    assert message in err and "Config." not in err and "step_limit" not in err


def test_sigterm_says_how_to_resume_like_ctrl_c(tmp_path, ckpt, monkeypatch, capsys):  # noqa: F811
    env = tmp_path / "reach.yaml"
    env.write_text(yaml.safe_dump({"name": "reach", "tasks": 2, "trials_per_task": 1, "max_steps": 5}))

    def terminated(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("SIGTERM did not stop the evaluation")

    monkeypatch.setattr(runner, "evaluate", terminated)
    before = signal.getsignal(signal.SIGTERM)
    assert main([f"checkpoint={ckpt}", f"env={env}", f"eval.out={tmp_path / 'out'}"]) == 143
    err = capsys.readouterr().err
    assert f"terminated (SIGTERM): re-run the same command to resume (finished episodes are in {tmp_path}" in err
    assert signal.getsignal(signal.SIGTERM) == before  # the handler is the CLI's only while it runs


def test_evaluating_an_unfinished_run_warns(tmp_path, ckpt, monkeypatch, capsys):  # noqa: F811
    meta_path = Path(ckpt) / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "total_steps": 10}))
    env = tmp_path / "reach.yaml"
    env.write_text(yaml.safe_dump({"name": "reach", "tasks": 2, "trials_per_task": 1, "max_steps": 5}))
    monkeypatch.setattr(runner, "evaluate", lambda *a, **k: None)
    assert main([f"checkpoint={ckpt}", f"env={env}"]) == 0
    err = capsys.readouterr().err
    assert f"warning: {ckpt} is step 7 of 10 of stage 'policy': training did not finish" in err


@dataclass(frozen=True)
class CameraReachConfig(ReachConfig):
    camera_size: int = 128


@register_env("reach_camera")
class CameraReachSuite(ReachSuite):
    """The reach suite with a LIBERO-style ``camera_size`` protocol field."""

    Config = CameraReachConfig


def test_training_frame_size_reads_the_checkpoint_info():
    from eval_policy import info

    assert training_frame_size(info(), ("front",)) == 6  # the reach policy was trained on 6x6 frames
    assert training_frame_size(info(), ()) is None
    shapes = DatasetInfo(1, {}, {"a": (3, 256, 256), "b": (3, 128, 128)}, ("t",), ("i",))
    assert training_frame_size(shapes, ("a",)) == 256 and training_frame_size(shapes, ("a", "b")) is None


@pytest.mark.parametrize(
    ("extra", "expected", "message"),
    [
        ([], 6, "note: rendering at 6x6, the frame size the checkpoint was trained on"),
        (
            ["env.camera_size=64"],
            64,
            "warning: rendering at 64x64 (env.camera_size), but the checkpoint was trained on 6x6",
        ),
    ],
)
def test_evaluation_renders_at_the_training_resolution_unless_told_otherwise(
    tmp_path,
    ckpt,  # noqa: F811
    monkeypatch,
    capsys,
    extra,
    expected,
    message,
):
    env = tmp_path / "cam.yaml"
    env.write_text(yaml.safe_dump({"name": "reach_camera", "tasks": 2, "trials_per_task": 1, "camera_size": 128}))
    seen = {}

    def record(suite, *args, **kwargs):
        seen["size"] = suite.config.camera_size  # and no summary, as on a non-main process

    monkeypatch.setattr(runner, "evaluate", record)
    assert main([f"checkpoint={ckpt}", f"env={env}", *extra]) == 0
    assert seen["size"] == expected
    assert message in capsys.readouterr().err
