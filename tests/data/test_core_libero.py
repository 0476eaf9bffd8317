"""LIBERO HDF5: files written to the official schema read back exactly, upright, with instruction and task name."""

from __future__ import annotations

import json
import math
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from foresight.data.config import DataConfig
from foresight.data.libero_hdf5 import find_files, read_file
from foresight.data.libero_writer import LiberoHDF5Writer, quat2axisangle
from foresight.data.orientation import to_upright
from foresight.data.source import DataError, open_dataset

TASK = "KITCHEN_SCENE3_turn_on_the_stove"
INSTRUCTION = "turn on the stove"
H, W = 6, 5


def upright_frame(step: int, view: int) -> np.ndarray:
    """An asymmetric picture: every pixel distinct, so a flip of the rows, the columns or both changes it."""
    values = np.arange(H * W * 3, dtype=np.int64).reshape(H, W, 3) + 7 * step + 90 * view
    return (values % 256).astype(np.uint8)


def robosuite_obs(step: int, convention: str) -> dict[str, np.ndarray]:
    """What robosuite returns after a step; images as the simulator renders them under ``convention``."""

    def render(view: int) -> np.ndarray:
        frame = upright_frame(step, view)
        return frame[::-1] if convention == "opengl" else frame  # OpenGL: first row is the bottom

    half = math.sqrt(0.5)
    return {
        "agentview_image": render(0),
        "robot0_eye_in_hand_image": render(1),
        "robot0_joint_pos": np.arange(7) + 10.0 * step,
        "robot0_gripper_qpos": np.array([0.04, -0.04]) * step,
        "robot0_eef_pos": np.array([0.1, 0.2, 0.3]) + step,
        "robot0_eef_quat": np.array([0.0, 0.0, half, half]),  # 90 degrees about z, (x, y, z, w)
    }


def action(demo: int, step: int) -> np.ndarray:
    return np.array([0.1 * step, -0.2, 0.3, 0.0, 0.01 * demo, 0.5, 1.0 if step > 1 else -1.0])


def write(folder: Path, convention: str = "opengl", lengths: tuple[int, ...] = (4, 3)) -> Path:
    with LiberoHDF5Writer(
        folder,
        TASK,
        language_instruction=INSTRUCTION,
        problem_name="libero_kitchen_tabletop_manipulation",
        bddl_file_name=f"{TASK}.bddl",
        bddl_file_content="(define (problem x))",
        image_convention=convention,
    ) as writer:
        for demo, length in enumerate(lengths):
            writer.start_demo(model_file="<mujoco/>")
            for step in range(length):
                writer.add_step(robosuite_obs(step, convention), action(demo, step), state=np.full(4, step + demo))
            writer.end_demo()
    return writer.path


def test_file_follows_the_official_schema(tmp_path):
    path = write(tmp_path)
    assert path.name == f"{TASK}_demo.hdf5" and not list(tmp_path.glob("*.partial"))
    with h5py.File(path, "r") as f:
        data = f["data"]
        info = json.loads(data.attrs["problem_info"])
        assert info == {
            "problem_name": "libero_kitchen_tabletop_manipulation",
            "domain_name": "robosuite",
            "language_instruction": INSTRUCTION,
        }
        assert data.attrs["macros_image_convention"] == "opengl"
        assert (data.attrs["num_demos"], data.attrs["total"]) == (2, 7)
        assert json.loads(data.attrs["env_args"])["problem_name"] == "libero_kitchen_tabletop_manipulation"
        demo = data["demo_0"]
        assert demo.attrs["num_samples"] == 4
        assert demo["actions"].dtype == np.float64 and demo["actions"].shape == (4, 7)
        assert demo["obs/agentview_rgb"].dtype == np.uint8 and demo["obs/agentview_rgb"].shape == (4, H, W, 3)
        assert demo["rewards"][()].tolist() == [0, 0, 0, 1] and demo["dones"][()].tolist() == [0, 0, 0, 1]
        np.testing.assert_array_equal(
            demo["robot_states"][1], [0.04, -0.04, 1.1, 1.2, 1.3, 0, 0, *[math.sqrt(0.5)] * 2]
        )
        np.testing.assert_array_equal(demo.attrs["init_state"], np.zeros(4))
        # ee_states = eef position + axis-angle of the quaternion: 90 degrees about z is (0, 0, pi / 2)
        np.testing.assert_allclose(demo["obs/ee_states"][2], [2.1, 2.2, 2.3, 0.0, 0.0, math.pi / 2], atol=1e-12)
        np.testing.assert_array_equal(demo["obs/ee_pos"][()], demo["obs/ee_states"][:, :3])
        np.testing.assert_array_equal(demo["obs/ee_ori"][()], demo["obs/ee_states"][:, 3:])


def test_quat2axisangle_matches_hand_values():
    np.testing.assert_allclose(quat2axisangle(np.array([1.0, 0, 0, 0])), [math.pi, 0, 0])  # 180 degrees about x
    np.testing.assert_allclose(quat2axisangle(np.array([0.0, 0, 0, 1])), [0, 0, 0])
    s = math.sin(math.pi / 6)  # 60 degrees about y
    np.testing.assert_allclose(quat2axisangle(np.array([0.0, s, 0, math.cos(math.pi / 6)])), [0, math.pi / 3, 0])


@pytest.mark.parametrize("convention", ["opengl", "opencv"])
def test_round_trip_reads_everything_back_upright(tmp_path, convention):
    write(tmp_path, convention)
    ds = open_dataset(DataConfig(name="t", format="auto", path=str(tmp_path)))
    assert len(ds) == 2 and ds.source == str(tmp_path)
    assert ds.info.tasks == (TASK,) and ds.info.instructions == (INSTRUCTION,)
    assert ds.info.action_dim == 7 and ds.info.image_shapes == {"agentview": (3, H, W), "wrist": (3, H, W)}
    assert ds.info.proprio_dims == {"joint_states": 7, "gripper_states": 2, "ee_states": 6, "ee_pos": 3, "ee_ori": 3}
    assert ds.info.fps == 20.0
    for demo, episode in enumerate(ds.episodes):
        assert episode.episode_id == f"{TASK}/demo_{demo}" and episode.task == TASK
        assert episode.instruction == INSTRUCTION
        length = episode.length
        assert episode.actions.dtype == np.float32
        np.testing.assert_array_equal(
            episode.actions, np.stack([action(demo, k) for k in range(length)]).astype(np.float32)
        )
        np.testing.assert_array_equal(episode.proprio["joint_states"][2], np.arange(7) + 20.0)
        np.testing.assert_allclose(episode.proprio["gripper_states"][:, 0], 0.04 * np.arange(length), rtol=1e-6)
        for view_index, view in enumerate(("agentview", "wrist")):
            frames = episode.images[view]
            for k in range(length):
                true = upright_frame(k, view_index)
                assert np.array_equal(frames[k], true), (view, k)
                assert not np.array_equal(frames[k], true[::-1])  # the simulator's (or a doubly flipped) frame
                assert not np.array_equal(frames[k], true[::-1, ::-1])  # OpenVLA / openpi's 180-degree rotation
            np.testing.assert_array_equal(
                frames[[2, 0, 0]], np.stack([upright_frame(k, view_index) for k in (2, 0, 0)])
            )
            np.testing.assert_array_equal(
                np.asarray(frames), np.stack([upright_frame(k, view_index) for k in range(length)])
            )


def test_image_size_views_tasks_and_max_episodes(tmp_path):
    write(tmp_path, lengths=(4, 3, 2))
    cfg = DataConfig(
        name="t",
        format="libero_hdf5",
        path=str(tmp_path),
        image_size=[12, 10],
        views={"front": "agentview_rgb"},
        tasks=[TASK],
        max_episodes=2,
    )
    ds = open_dataset(cfg)
    assert len(ds) == 2 and ds.info.image_shapes == {"front": (3, 12, 10)}
    frame = ds.episodes[0].images["front"][1]
    assert frame.shape == (12, 10, 3) and frame.dtype == np.uint8

    def resized(image: np.ndarray) -> np.ndarray:  # torchvision's resize, the reference op
        chw = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
        return TF.resize(chw, [12, 10], antialias=True).permute(1, 2, 0).numpy()

    assert np.array_equal(frame, resized(upright_frame(1, 0)))  # turned upright first, then resized
    assert not np.array_equal(frame, resized(upright_frame(1, 0)[::-1]))
    assert ds.fingerprint != open_dataset(DataConfig(name="t", format="libero_hdf5", path=str(tmp_path))).fingerprint


def test_convention_override_reads_frames_as_told(tmp_path):
    path = write(tmp_path, "opengl")
    episodes = read_file(path, convention="opencv")  # a wrong override: frames come back as stored
    assert np.array_equal(episodes[0].images["agentview"][0], upright_frame(0, 0)[::-1])


def test_to_upright_on_both_conventions():
    frame = upright_frame(0, 0)
    stored = frame[::-1].copy()
    assert np.array_equal(to_upright(stored, "opengl"), frame)  # rows reversed, columns kept
    assert not np.array_equal(to_upright(stored, "opengl"), frame[:, ::-1])
    assert to_upright(frame, "opencv") is frame
    stack = np.stack([stored, stored + 1])
    np.testing.assert_array_equal(to_upright(stack, "opengl"), np.stack([frame, frame + 1]))
    with pytest.raises(ValueError, match=r"unknown image convention 'directx'.*\('opengl', 'opencv'\)"):
        to_upright(frame, "directx")
    with pytest.raises(ValueError, match=r"\(\.\.\., H, W, C\)"):
        to_upright(np.zeros((4, 4)), "opencv")


def test_an_aborted_recording_leaves_no_file(tmp_path):
    writer = LiberoHDF5Writer(tmp_path, TASK, language_instruction="x", problem_name="p")
    with pytest.raises(RuntimeError, match="boom"), writer:
        writer.start_demo()
        writer.add_step(robosuite_obs(0, "opengl"), action(0, 0), state=np.zeros(2))
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_writer_rejects_bad_steps(tmp_path):
    writer = LiberoHDF5Writer(tmp_path, TASK, language_instruction="x", problem_name="p")
    with pytest.raises(RuntimeError, match="before start_demo"):
        writer.add_step(robosuite_obs(0, "opengl"), action(0, 0), np.zeros(1))
    writer.start_demo()
    obs = robosuite_obs(0, "opengl")
    del obs["robot0_eef_quat"]
    with pytest.raises(KeyError, match=r"lacks \['robot0_eef_quat'\]"):
        writer.add_step(obs, action(0, 0), np.zeros(1))
    with pytest.raises(ValueError, match=r"7 values.*\(6,\)"):
        writer.add_step(robosuite_obs(0, "opengl"), np.zeros(6), np.zeros(1))
    writer.abort()
    with pytest.raises(ValueError, match="unknown image convention"):
        LiberoHDF5Writer(tmp_path, TASK, language_instruction="x", problem_name="p", image_convention="upside")


def test_a_killed_recorders_hidden_temporary_file_is_skipped(tmp_path):
    (tmp_path / ".tmp-KITCHEN_SCENE1_demo.hdf5").write_bytes(b"half an HDF5 file")  # not an HDF5 file at all
    (tmp_path / "a_demo.hdf5").write_bytes(b"")
    assert find_files(tmp_path) == [tmp_path / "a_demo.hdf5"]
    (tmp_path / "a_demo.hdf5").unlink()
    with pytest.raises(DataError, match=r"no \.hdf5 files"):
        find_files(tmp_path)
