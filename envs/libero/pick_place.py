"""Pick an object and release it above a region or onto another object: the ``in`` and ``on`` goals.

Heights come from the collision geometry's bounding box, because body origins are not object centres (a standing
can's origin is mid-height, a lying box's at its base).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from foresight.envs.libero.expert_params import CLOSE, OPEN

if TYPE_CHECKING:
    from foresight.envs.libero.expert import ScriptedExpert

UP = np.array([0.0, 0.0, 1.0])


def grasp_point(expert: ScriptedExpert, name: str) -> np.ndarray:
    """Centre of the object's footprint, ``grasp_depth`` below its top but ``grasp_floor`` above its bottom."""
    p = expert.params
    lo, hi = expert.extent(name)
    z = max(hi[2] - p.grasp_depth, lo[2] + p.grasp_floor)
    return np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, z])


def pick_and_place(expert: ScriptedExpert, subgoal: list[str]) -> Iterator[np.ndarray]:
    """``[in|on, object, target]``: approach, descend, close, lift, carry above the target, open, rise."""
    _, obj, target = subgoal
    p = expert.params
    top = expert.extent(obj)[1][2]

    def above() -> np.ndarray:
        return grasp_point(expert, obj) * [1, 1, 0] + (top + p.approach_height) * UP

    yield from expert.move("approach", above, OPEN, align=obj)
    yield from expert.move("descend", lambda: grasp_point(expert, obj), OPEN, tolerance=0.005, align=obj)
    hold_at = expert.eef.copy()
    hang = hold_at[2] - expert.extent(obj)[0][2]  # end effector height above the object's bottom
    yield from expert.hold("grasp", p.grasp_steps, CLOSE, lambda: hold_at)
    carry_z = expert.target_pos(target)[2] + p.release_clearance + hang
    yield from expert.move("lift", lambda: np.array([*expert.eef[:2], carry_z]), CLOSE, tolerance=0.02)

    def carry() -> np.ndarray:
        return np.array([*expert.target_pos(target)[:2], carry_z])

    yield from expert.move("carry", carry, CLOSE, tolerance=0.015)
    yield from expert.hold("release", p.release_steps, OPEN, carry)
    rise_to = expert.eef + 0.1 * UP
    yield from expert.hold("rise", p.rise_steps, OPEN, lambda: rise_to)
