"""Gripper commands and the geometry and timing every scripted-expert primitive shares."""

from __future__ import annotations

from dataclasses import dataclass

OPEN, CLOSE = -1.0, 1.0


@dataclass(frozen=True)
class ExpertParams:
    """Geometry and timing of one pick-and-place, in metres and control steps (20 Hz).

    The OSC controller maps an action of 1 to a 5 cm goal offset and the arm covers ~1.5 cm per step, so the
    position gain saturates beyond 10 cm of error and moves stay smooth near a waypoint.
    """

    gain: float = 10.0  # action per metre of position error, clipped to [-1, 1]
    settle_steps: int = 5  # hold still first: the OSC goal from reset() is not part of the saved state
    approach_height: float = 0.08  # above the object's top before descending
    grasp_depth: float = 0.03  # end effector this far below the object's top when closing ...
    grasp_floor: float = 0.01  # ... but at least this far above its bottom (flat objects: cream cheese, butter)
    grasp_steps: int = 8  # close the fingers at least this long ...
    grasp_max_steps: int = 20  # ... and at most this long, until the gap shrinks by less than grip_still a step
    grip_still: float = 0.001
    pass_clearance: float = 0.02  # the held object's bottom this far above what it is carried over ...
    max_raise: float = 0.1  # ... unless that stands higher than this above the release height
    lift_height: float = 0.1  # carry at least this far above the grasp: the object may hang lower than held
    release_clearance: float = 0.08  # the held object's bottom this far above a target region when released ...
    place_clearance: float = 0.02  # ... and this far above the top of a target object (a plate)
    hollow_min_height: float = 0.03  # objects taller than this ...
    hollow_fraction: float = 0.5  # ... open deeper than this fraction of their height are grasped by the rim:
    rim_inset: float = 0.003  # the fingers centred this far inside the rim's outer edge ...
    rim_depth: float = 0.02  # ... and this far below its top
    finger_reach: float = 0.04  # the outer finger goes down this far outside the rim ...
    rim_room: float = 0.03  # ... and wants this much room around it
    release_steps: int = 6
    rise_steps: int = 8
    yaw_gain: float = 2.0  # rotation action per radian of finger-axis error (an action of 1 turns 0.5 rad)
    tolerance: float = 0.01  # a move ends within this distance ...
    move_steps: int = 80  # ... or after this many steps ...
    stall_steps: int = 6  # ... or once the hand moved less than stall_distance over this many steps
    stall_distance: float = 0.002
