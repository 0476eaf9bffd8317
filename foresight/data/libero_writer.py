"""Write demonstrations in the official LIBERO HDF5 schema, step by step as a simulator produces them.

The schema is that of ``LIBERO/scripts/create_dataset.py`` (the script that made the released
``<TASK_NAME>_demo.hdf5`` files), so files written here are read by LIBERO's own loaders and by ours alike::

    data                      attrs: env_name, problem_info (JSON), macros_image_convention, bddl_file_name,
                                     bddl_file_content, env_args (JSON), num_demos, total
    data/demo_<i>             attrs: num_samples, model_file, init_state
        actions (T, 7) f64    states (T, n) f64     robot_states (T, 9) f64     rewards (T,) u8     dones (T,) u8
        obs/agentview_rgb (T, H, W, 3) u8       obs/eye_in_hand_rgb (T, H, W, 3) u8
        obs/joint_states (T, 7)   obs/gripper_states (T, 2)   obs/ee_states (T, 6) = ee_pos + axis-angle
        obs/ee_pos (T, 3)         obs/ee_ori (T, 3)           (all f64)

Usage with a LIBERO / robosuite environment (``obs`` is the dict robosuite returns)::

    with LiberoHDF5Writer(folder, task_name, language_instruction=task.language, problem_name=...,
                          bddl_file_name=bddl, bddl_file_content=Path(bddl).read_text()) as writer:
        for each demonstration:
            writer.start_demo(model_file=env.sim.model.get_xml())
            for each step:
                state = env.sim.get_state().flatten()      # the state *before* the action
                obs, reward, done, info = env.step(action)
                writer.add_step(obs, action, state)         # the observation *after* the action
            writer.end_demo()

This pairing (``obs[k]`` observed after ``actions[k]``, ``states[k]`` before it) is the official script's. The
official script also drops the first 5 steps of each replay (``cap_index = 5``, "the force sensor is not
stable in the beginning"): to match released files, do not pass those steps. Images are stored exactly as
given, with ``image_convention`` recorded (robosuite renders ``"opengl"``: upside down); readers turn them upright
with :func:`foresight.data.orientation.to_upright`. The file appears only when :meth:`close` succeeds (written
to a temporary name, then renamed), so an interrupted recording never leaves a half-written dataset.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import h5py
import numpy as np

from foresight.data.orientation import check_convention
from foresight.fileio import publish, temp_path

# robosuite observation keys -> what the official script derives from them
_OBS_KEYS = (
    "agentview_image",
    "robot0_eye_in_hand_image",
    "robot0_joint_pos",
    "robot0_gripper_qpos",
    "robot0_eef_pos",
    "robot0_eef_quat",
)


def demo_file_name(task_name: str) -> str:
    """The official file name of a task's demonstrations (``<TASK_NAME>_demo.hdf5``)."""
    return f"{task_name}_demo.hdf5"


def quat2axisangle(quat: np.ndarray) -> np.ndarray:
    """``(x, y, z, w)`` quaternion -> axis-angle vector, with robosuite's conventions (``transform_utils``).

    Kept identical to robosuite's (angle ``2 acos(w)`` in ``[0, 2 pi]``, zero vector for a near-zero rotation)
    rather than scipy's shortest rotation, so ``ee_states`` match the released files.
    """
    x, y, z, w = (float(v) for v in quat)
    w = min(max(w, -1.0), 1.0)
    den = math.sqrt(1.0 - w * w)
    if math.isclose(den, 0.0):
        return np.zeros(3)
    return np.array([x, y, z]) * 2.0 * math.acos(w) / den


class LiberoHDF5Writer:
    """One task's demonstrations -> ``<folder>/<task_name>_demo.hdf5`` in the official LIBERO schema.

    Args:
        folder: output folder (created if needed).
        task_name: the task's name, usually its BDDL file's stem; it names the file.
        language_instruction: stored in ``problem_info`` (readers take the instruction from there).
        problem_name: the BDDL problem class, e.g. ``"libero_kitchen_tabletop_manipulation"``.
        env_name: the ``env`` attribute of the raw demonstrations (often equal to ``problem_name``).
        domain_name: the BDDL domain (``"robosuite"`` for LIBERO).
        bddl_file_name, bddl_file_content: the task definition used to record.
        env_kwargs: environment arguments, stored inside the ``env_args`` JSON.
        image_convention: how the given frames are oriented (robosuite's ``macros.IMAGE_CONVENTION``).
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        task_name: str,
        *,
        language_instruction: str,
        problem_name: str,
        env_name: str | None = None,
        domain_name: str = "robosuite",
        bddl_file_name: str = "",
        bddl_file_content: str = "",
        env_kwargs: Mapping[str, Any] | None = None,
        image_convention: str = "opengl",
    ) -> None:
        check_convention(image_convention)
        self.path = Path(folder) / demo_file_name(task_name)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = temp_path(self.path)
        self._file = h5py.File(self._tmp, "w")
        self._data = self._file.create_group("data")
        env_name = env_name or problem_name
        attrs = self._data.attrs
        attrs["env_name"] = env_name
        attrs["problem_info"] = json.dumps(
            {"problem_name": problem_name, "domain_name": domain_name, "language_instruction": language_instruction}
        )
        attrs["macros_image_convention"] = image_convention
        attrs["bddl_file_name"] = bddl_file_name
        attrs["bddl_file_content"] = bddl_file_content
        attrs["env_args"] = json.dumps(
            {
                "type": 1,
                "env_name": env_name,
                "problem_name": problem_name,
                "bddl_file": bddl_file_name,
                "env_kwargs": dict(env_kwargs or {}),
            }
        )
        self.num_demos = 0
        self.total = 0
        self._steps: list[dict[str, np.ndarray]] | None = None
        self._model_file = ""

    def start_demo(self, model_file: str = "") -> None:
        """Begin a demonstration; ``model_file`` is the MuJoCo XML (``env.sim.model.get_xml()``)."""
        if self._steps is not None:
            raise RuntimeError(f"{self.path}: start_demo() called while demo_{self.num_demos} is still open")
        self._steps = []
        self._model_file = model_file

    def add_step(self, obs: Mapping[str, np.ndarray], action: np.ndarray, state: np.ndarray) -> None:
        """Record one step: robosuite's ``obs`` after ``action``, and the flattened sim ``state`` before it."""
        if self._steps is None:
            raise RuntimeError(f"{self.path}: add_step() called before start_demo()")
        missing = [k for k in _OBS_KEYS if k not in obs]
        if missing:
            raise KeyError(f"{self.path}: observation lacks {missing}; robosuite provides {sorted(obs)}")
        action = np.asarray(action, dtype=np.float64).reshape(-1)
        if action.shape != (7,):
            raise ValueError(f"{self.path}: action must have 7 values (OSC delta pose + gripper), got {action.shape}")
        quat = np.asarray(obs["robot0_eef_quat"], dtype=np.float64)
        eef_pos = np.asarray(obs["robot0_eef_pos"], dtype=np.float64)
        gripper = np.asarray(obs["robot0_gripper_qpos"], dtype=np.float64)
        self._steps.append(
            {
                "actions": action,
                "states": np.asarray(state, dtype=np.float64).reshape(-1),
                # LIBERO's env.get_robot_state_vector(obs): gripper qpos, eef pos, eef quat
                "robot_states": np.concatenate([gripper, eef_pos, quat]),
                "agentview_rgb": np.asarray(obs["agentview_image"], dtype=np.uint8),
                "eye_in_hand_rgb": np.asarray(obs["robot0_eye_in_hand_image"], dtype=np.uint8),
                "joint_states": np.asarray(obs["robot0_joint_pos"], dtype=np.float64),
                "gripper_states": gripper,
                "ee_states": np.concatenate([eef_pos, quat2axisangle(quat)]),
            }
        )

    def end_demo(self) -> int:
        """Write the open demonstration as ``data/demo_<i>``; returns its number of frames."""
        steps, self._steps = self._steps, None
        if not steps:
            raise RuntimeError(f"{self.path}: end_demo() without any add_step() since start_demo()")
        stacked = {k: np.stack([s[k] for s in steps]) for k in steps[0]}
        n = len(steps)
        flags = np.zeros(n, dtype=np.uint8)
        flags[-1] = 1
        demo = self._data.create_group(f"demo_{self.num_demos}")
        obs = demo.create_group("obs")
        obs.create_dataset("gripper_states", data=stacked["gripper_states"])
        obs.create_dataset("joint_states", data=stacked["joint_states"])
        obs.create_dataset("ee_states", data=stacked["ee_states"])
        obs.create_dataset("ee_pos", data=stacked["ee_states"][:, :3])
        obs.create_dataset("ee_ori", data=stacked["ee_states"][:, 3:])
        obs.create_dataset("agentview_rgb", data=stacked["agentview_rgb"])
        obs.create_dataset("eye_in_hand_rgb", data=stacked["eye_in_hand_rgb"])
        demo.create_dataset("actions", data=stacked["actions"])
        demo.create_dataset("states", data=stacked["states"])
        demo.create_dataset("robot_states", data=stacked["robot_states"])
        demo.create_dataset("rewards", data=flags)
        demo.create_dataset("dones", data=flags.copy())
        demo.attrs["num_samples"] = n
        demo.attrs["model_file"] = self._model_file
        demo.attrs["init_state"] = stacked["states"][0]
        self.num_demos += 1
        self.total += n
        return n

    def close(self) -> Path:
        """Finish the file and move it into place; returns its path."""
        if self._steps is not None:
            raise RuntimeError(f"{self.path}: close() while demo_{self.num_demos} is open; call end_demo() first")
        self._data.attrs["num_demos"] = self.num_demos
        self._data.attrs["total"] = self.total
        self._file.close()
        publish(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Discard everything written (the final file is never created)."""
        self._file.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> LiberoHDF5Writer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
