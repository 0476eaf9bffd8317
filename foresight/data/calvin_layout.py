"""CALVIN's observation layout, shared by the dataset reader and the simulator adapter (torch-free).

``robot_obs`` (15) is the tcp position (3), tcp orientation as Euler angles (3), gripper opening width (1), the
seven arm joint angles (7) and the last gripper action (1) (calvin_env ``robot.get_observation``; CALVIN's
dataset README). Its parts are exposed as proprio keys of their own, so that methods can ask for the ``arm`` or
``gripper`` role instead of a slice of a CALVIN-only vector.
"""

from __future__ import annotations

import numpy as np

ROBOT_OBS_PARTS = {"ee_pose": (0, 6), "gripper_width": (6, 7), "joint_states": (7, 14), "gripper_action": (14, 15)}
"""Proprio key -> ``robot_obs[start:stop]``."""

ROLES = {"primary": "static", "wrist": "gripper", "arm": "joint_states", "gripper": "gripper_width", "eef": "ee_pose"}
"""Which view and proprio key plays each role (:mod:`foresight.roles`)."""


def robot_obs_parts(robot_obs: np.ndarray) -> dict[str, np.ndarray]:
    """The named parts of ``robot_obs`` (``(..., 15)``), each ``(..., width)``."""
    return {key: robot_obs[..., start:stop] for key, (start, stop) in ROBOT_OBS_PARTS.items()}
