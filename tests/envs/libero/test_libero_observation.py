"""Evaluation images are turned upright exactly as the training data are, checked without the simulator.

A policy trained on upright frames and shown upside-down ones scores about 0 % on LIBERO; the real-simulator
check (test_libero_sim.py) is slow and needs the libero extra, so the conversion of a raw robosuite observation is
pinned here on a synthetic one.
"""

from __future__ import annotations

import numpy as np
import pytest

from foresight.envs.libero import LiberoConfig
from foresight.envs.libero import observation as libero_observation
from foresight.envs.libero.observation import VIEWS, to_observation

H, W = 6, 5


def _upright_scene(offset: int) -> np.ndarray:
    """An image with no symmetry: every pixel differs from its mirror images up/down and left/right."""
    rows, cols = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    channels = [(rows * 31 + cols * 7 + offset + 50 * c) % 256 for c in range(3)]
    return np.stack(channels, axis=-1).astype(np.uint8)


def _raw(convention: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """A raw robosuite observation as rendered under ``convention``, and the upright frames it shows."""
    upright = {view: _upright_scene(offset) for offset, view in enumerate(VIEWS)}
    raw: dict[str, np.ndarray] = {
        "robot0_joint_pos": np.arange(7, dtype=np.float64),
        "robot0_gripper_qpos": np.array([0.02, -0.02]),
        "robot0_eef_pos": np.array([0.1, 0.2, 0.3]),
        "robot0_eef_quat": np.array([0.0, 0.0, 0.0, 1.0]),
    }
    for view, key in VIEWS.items():
        # MuJoCo's OpenGL frame buffer starts at the bottom row: the render is the upright picture, rows reversed.
        raw[key] = upright[view][::-1].copy() if convention == "opengl" else upright[view].copy()
    return raw, upright


@pytest.fixture(autouse=True)
def no_robosuite(monkeypatch: pytest.MonkeyPatch) -> None:
    """The proprio conversion calls robosuite's quat2axisangle; these tests are about images and run without it."""
    monkeypatch.setattr(libero_observation, "quat_to_axis_angle", lambda quat: np.zeros(3))


@pytest.mark.parametrize("convention", ["opengl", "opencv"])
def test_observation_images_are_the_upright_picture(convention: str) -> None:
    raw, upright = _raw(convention)
    obs = to_observation(raw, "put the bowl on the plate", convention)
    assert set(obs.images) == {"agentview", "wrist"}
    for view, image in obs.images.items():
        assert image.shape == (H, W, 3) and image.dtype == np.uint8 and image.flags.c_contiguous
        np.testing.assert_array_equal(image, upright[view], err_msg=f"{view} is not upright ({convention})")
        assert not np.array_equal(image, upright[view][::-1, ::-1])  # not rotated by 180 degrees (mirrored)
    assert obs.instruction == "put the bowl on the plate"
    np.testing.assert_array_equal(obs.proprio["joint_states"], np.arange(7))


def test_the_evaluation_default_is_robosuites_opengl_render_turned_upright() -> None:
    """robosuite renders with ``IMAGE_CONVENTION = "opengl"`` unless a user changes its macros: bottom row first."""
    assert LiberoConfig().image_convention == "opengl"
    raw, upright = _raw("opengl")
    obs = to_observation(raw, "x", LiberoConfig().image_convention)
    np.testing.assert_array_equal(obs.images["agentview"][0], upright["agentview"][0])  # the top row comes first


def test_a_raw_observation_without_cameras_is_a_clear_error() -> None:
    raw, _ = _raw("opengl")
    del raw["agentview_image"]
    with pytest.raises(KeyError, match="render=True"):
        to_observation(raw, "x", "opengl")
