"""Gripper commands and the geometry and timing every scripted-expert primitive shares."""

from __future__ import annotations

import math
from dataclasses import dataclass

OPEN, CLOSE = -1.0, 1.0


@dataclass(frozen=True)
class ExpertParams:
    """The scripted expert's tuning: geometry and timing, in metres, radians and control steps (20 Hz).

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
    handle_min_width: float = 0.07  # solid objects at least this wide every way (a moka pot) are held by ...
    handle_offset: float = 0.045  # ... the geoms centred this far out from their origin along their length ...
    handle_inset: float = 0.012  # ... the fingers this far inside the handle's far end ...
    handle_depth: float = 0.025  # ... and this far below its top
    handle_press: float = 0.04  # a handle-held object is set down with the hand aimed this far below standing
    slot_margin: float = 0.035  # handle-held objects sharing a region keep their origins this far inside its edge
    release_steps: int = 6
    rise_steps: int = 8
    yaw_gain: float = 2.0  # rotation action per radian of finger-axis error (an action of 1 turns 0.5 rad)
    tolerance: float = 0.01  # a move ends within this distance ...
    move_steps: int = 80  # ... or after this many steps ...
    stall_steps: int = 6  # ... or once the hand moved less than stall_distance over this many steps
    stall_distance: float = 0.002
    round_tolerance: float = 0.01  # footprints whose widths differ by less than this are round: any yaw grasps them

    # pick and place (pick_place.py)
    rim_sides: int = 16  # candidate rim directions, evenly spaced around a hollow object
    path_samples: int = 20  # points checked for obstacles along a carry path
    hand_half: tuple[float, float] = (0.1, 0.03)  # half size of the hand's footprint: along the finger axis, across
    hand_inset: float = 0.02  # the fingers stay this far inside the ends of a long object
    hand_room: float = 0.02  # room around the hand's footprint beyond which a grasp is not better
    spot_grid: int = 5  # candidate drop points along each side of a target region

    # drawers, doors, knobs and pushes (articulation.py)
    rotation_gain: float = 2.0  # rotation action per radian of error (an action of 1 turns 0.5 rad)
    angle_tolerance: float = 0.1  # radians: a full-pose move ends within this much turn ...
    down_tolerance: float = 0.02  # ... but turning the hand back down after a drawer within this much
    pad_centre: float = 0.0045  # the finger pads' centre lies this far behind the grip site, along the pointing
    finger_tilt: float = math.pi / 4  # a drawer grip's closing axis this far from vertical: a vertical one
    # sweeps the hand's edge over the table
    knob_depth: float = 0.02  # fingers close this far below the top of a knob's bar
    knob_margin: float = 0.4  # radians turned past the start of LIBERO's "on" range, so the knob stays on
    knob_tolerance: float = 0.1  # radians
    flat_height: float = 0.03  # objects lower than this ...
    gripper_span: float = 0.08  # ... and wider than the open gripper in every direction are pushed
    push_height: float = 0.006  # fingertips this far above a pushed object's bottom
    push_tolerance: float = 0.015  # a push leg ends with the object's origin this close to the leg's end
    push_gap: float = 0.022  # fingers come down this far behind a pushed object's rim
    push_margin: float = 0.015  # a pushed object aims this far inside the target region's edge
    push_length_cost: float = 0.05  # route cost per metre travelled, next to metres cut into other objects
    push_lookahead: float = 0.05  # metres along the line ahead of the object that each push step aims at
    push_ahead: float = 0.06  # each push step aims this far beyond where the fingers would touch: its speed
    push_steps: int = 160  # at most this many steps pushing a plate, a drawer or a door
    door_reach: float = 0.7  # a door is pushed this fraction of its width from the hinge (the handle is further)
    close_lean: float = 0.9  # radians the hand leans away from a cabinet while pushing a drawer in
    push_lean: float = 0.7  # radians the hand leans forward over a pushed object, away from what stands behind
