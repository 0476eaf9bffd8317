"""Raw robosuite observations -> the dataset's names and conventions, in one place.

The proprio arrays are computed the way LIBERO's ``scripts/create_dataset.py`` computes ``obs/*`` in the
official files (joint positions, finger joint positions, end-effector position + axis-angle), so a policy sees
the same numbers at evaluation as in training. The camera names map to the view names the data layer's LIBERO
reader uses (``agentview_rgb`` -> ``agentview``, ``eye_in_hand_rgb`` -> ``wrist``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from foresight.data.orientation import to_upright
from foresight.rollout import Observation

VIEWS = {"agentview": "agentview_image", "wrist": "robot0_eye_in_hand_image"}
"""Dataset view name -> robosuite observation key."""

DATASET_IMAGE_KEYS = {"agentview": "agentview_rgb", "wrist": "eye_in_hand_rgb"}
"""Dataset view name -> key under ``data/demo_i/obs`` in the official HDF5 files."""

PROPRIO_DIMS = {"joint_states": 7, "gripper_states": 2, "ee_states": 6, "ee_pos": 3, "ee_ori": 3}


def quat_to_axis_angle(quat: np.ndarray) -> np.ndarray:
    """robosuite ``(x, y, z, w)`` quaternion -> axis * angle: robosuite's ``quat2axisangle``, as the dataset uses.

    The angle is ``2 acos(w)``, so ``q`` and ``-q`` give different vectors; the dataset inherits that, and so
    must we. The input is copied because robosuite clips ``w`` in place.
    """
    from robosuite.utils.transform_utils import quat2axisangle

    return np.asarray(quat2axisangle(np.array(quat, dtype=np.float64)), dtype=np.float64)


def proprio_from_raw(raw: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The official dataset's ``obs/{joint_states, gripper_states, ee_states, ee_pos, ee_ori}`` (float64)."""
    ee_pos = np.asarray(raw["robot0_eef_pos"], dtype=np.float64)
    ee_ori = quat_to_axis_angle(raw["robot0_eef_quat"])
    return {
        "joint_states": np.asarray(raw["robot0_joint_pos"], dtype=np.float64),
        "gripper_states": np.asarray(raw["robot0_gripper_qpos"], dtype=np.float64),
        "ee_states": np.concatenate([ee_pos, ee_ori]),
        "ee_pos": ee_pos.copy(),
        "ee_ori": ee_ori.copy(),
    }


def robot_state_vector(raw: Mapping[str, np.ndarray]) -> np.ndarray:
    """The official ``robot_states`` row: gripper qpos (2), eef position (3), eef quaternion xyzw (4)."""
    return np.concatenate(
        [np.asarray(raw[k], dtype=np.float64) for k in ("robot0_gripper_qpos", "robot0_eef_pos", "robot0_eef_quat")]
    )


def raw_images(raw: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Camera frames as rendered (no orientation change), keyed by dataset view name: what files store."""
    missing = [key for key in VIEWS.values() if key not in raw]
    if missing:
        raise KeyError(f"the simulator returned no {missing}: was it built with render=True?")
    return {view: np.asarray(raw[key]) for view, key in VIEWS.items()}


def to_observation(
    raw: Mapping[str, np.ndarray], instruction: str, convention: str, *, images: bool = True
) -> Observation:
    """One evaluation observation: upright images (the only orientation change), dataset proprio, language.

    ``images=False`` leaves the images out, for a step whose cameras were not rendered (envs/libero/cameras.py).
    """
    if not images:
        return Observation(images={}, proprio=proprio_from_raw(raw), instruction=instruction)
    frames = {view: np.ascontiguousarray(to_upright(img, convention)) for view, img in raw_images(raw).items()}
    return Observation(images=frames, proprio=proprio_from_raw(raw), instruction=instruction)
