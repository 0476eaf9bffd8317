"""Pick an object and release it above a region or onto another object: the ``in`` and ``on`` goals.

Heights come from the collision geometry's bounding box, because body origins are not object centres (a standing
can's origin is mid-height, a lying box's at its base). Solid objects are grasped across the middle of their
footprint; hollow ones (bowls, mugs) have nothing there, so the fingers straddle the rim wall instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from foresight.envs.libero.expert_params import CLOSE, OPEN

if TYPE_CHECKING:
    from foresight.envs.libero.expert import ScriptedExpert

UP = np.array([0.0, 0.0, 1.0])
SIDES = 16  # candidate rim directions, evenly spaced around the object
PATH_SAMPLES = 20  # points checked for obstacles along a carry path
HAND_HALF = (0.1, 0.03)  # half size of the hand's footprint: along the finger axis, across it
HAND_INSET = 0.02  # the fingers stay this far inside the ends of a long object
HAND_ROOM = 0.02  # room around the hand's footprint beyond which a grasp is not better
SPOT_GRID = 5  # candidate drop points along each side of a target region


def grasp_point(expert: ScriptedExpert, name: str) -> np.ndarray:
    """Centre of the object's footprint, ``grasp_depth`` below its top but ``grasp_floor`` above its bottom."""
    p = expert.params
    lo, hi = expert.extent(name)
    z = max(hi[2] - p.grasp_depth, lo[2] + p.grasp_floor)
    return np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, z])


def rim_grasp_point(
    centre: np.ndarray, radius: float, top: float, direction: np.ndarray, inset: float, depth: float
) -> np.ndarray:
    """Where the fingertips close across a round rim: ``inset`` inside its outer edge, ``depth`` below its top.

    The closing fingers centre the wall between them, so aiming at the wall's middle keeps the object still.
    """
    unit = np.asarray(direction[:2], dtype=np.float64) / np.linalg.norm(direction[:2])
    return np.array([*(np.asarray(centre[:2]) + (radius - inset) * unit), top - depth])


def is_hollow(expert: ScriptedExpert, name: str) -> bool:
    """Tall enough to have a rim and open deep into its middle (a bowl or mug, not a plate or a box)."""
    p = expert.params
    lo, hi = expert.extent(name)
    height = hi[2] - lo[2]
    return height > p.hollow_min_height and hi[2] - expert.floor_height(name) > p.hollow_fraction * height


def box_distance(point: np.ndarray, centres: np.ndarray, rotations: np.ndarray, halves: np.ndarray) -> np.ndarray:
    """Distance from ``point`` to each oriented box (0 inside it): the boxes of fixtures are often turned."""
    local = np.einsum("gji,gj->gi", rotations, point - centres)  # the point in each box's own frame
    return np.linalg.norm(np.maximum(np.abs(local) - halves, 0.0), axis=1)


def rim_direction(expert: ScriptedExpert, name: str, grasp_z: float) -> np.ndarray:
    """The side of the rim to grasp: the most room for the outer finger, then the side facing the robot.

    Room is measured from where the outer finger goes down (``finger_reach`` beyond the rim, from the grasp
    height up) to every other collision box, fixtures included. Room beyond ``rim_room`` counts the same, so
    among free sides the nearest one wins (shorter reach).
    """
    p = expert.params
    lo, hi = expert.extent(name)
    centre, radius = (lo + hi) / 2, float(np.min(hi[:2] - lo[:2]) / 2)
    boxes = expert.obstacles(name)
    robot = expert.robot_base()[:2] - centre[:2]
    robot /= np.linalg.norm(robot)
    best, best_score = np.array([1.0, 0.0]), -np.inf
    for angle in np.linspace(0.0, 2 * np.pi, SIDES, endpoint=False):
        direction = np.array([np.cos(angle), np.sin(angle)])
        outer = centre[:2] + (radius + p.finger_reach) * direction
        room = min(
            float(np.min(box_distance(np.array([*outer, z]), *boxes), initial=p.rim_room))
            for z in (grasp_z, grasp_z + p.finger_reach)
        )
        score = min(room, p.rim_room) + 0.01 * float(direction @ robot)
        if score > best_score:
            best, best_score = direction, score
    return best


def slide_offset(expert: ScriptedExpert, name: str) -> np.ndarray:
    """Shift of the grasp along a long object's length that keeps the hand off its neighbours.

    The hand is much wider along the finger axis than the object; centred on a box lying next to a tall one it
    lands on the neighbour's top before the fingers reach the box.
    """
    xy = expert.corners(name)[:, :2]
    angles = np.linspace(0.0, np.pi, 36, endpoint=False)
    widths = np.ptp(xy @ np.stack([np.cos(angles), np.sin(angles)], axis=1).T, axis=0)
    fingers = angles[int(np.argmin(widths))]
    finger = np.array([np.cos(fingers), np.sin(fingers), 0.0])
    along = np.array([-finger[1], finger[0], 0.0])
    reach = max(float(widths.max()) / 2 - HAND_INSET, 0.0)
    centre = grasp_point(expert, name)
    boxes = [expert.extent(other) for other in expert.sim.env.obj_body_id if other != name]
    boxes = [(lo, hi) for lo, hi in boxes if not np.allclose(lo, hi) and hi[2] > centre[2]]
    hand = [
        u * finger + v * along
        for u in np.linspace(-HAND_HALF[0], HAND_HALF[0], 11)
        for v in (-HAND_HALF[1], 0.0, HAND_HALF[1])
    ]
    best, best_score = np.zeros(3), -np.inf
    for shift in np.linspace(-reach, reach, 7):
        room = min((footprint_gap(centre + shift * along + h, lo, hi) for h in hand for lo, hi in boxes), default=1.0)
        score = min(room, HAND_ROOM) - 0.01 * abs(shift)
        if score > best_score:
            best, best_score = shift * along, score
    return best


def grasp_of(expert: ScriptedExpert, name: str) -> tuple[Callable[[], np.ndarray], Callable[[], float]]:
    """Live grasp point and remaining yaw for ``name``: across its middle, or across its rim if hollow."""
    if not is_hollow(expert, name):
        slide = slide_offset(expert, name)
        return (lambda: grasp_point(expert, name) + slide), (lambda: expert.yaw_error(name))
    p = expert.params
    direction = rim_direction(expert, name, expert.extent(name)[1][2] - p.rim_depth)
    angle = float(np.arctan2(direction[1], direction[0]))

    def point() -> np.ndarray:
        lo, hi = expert.extent(name)
        radius = float(np.min(hi[:2] - lo[:2]) / 2)
        return rim_grasp_point((lo + hi) / 2, radius, hi[2], direction, p.rim_inset, p.rim_depth)

    return point, (lambda: expert.yaw_towards(angle))


def release_height(expert: ScriptedExpert, target: str) -> float:
    """Height for the held object's bottom when released: just above a body's top, higher above a region.

    A region site marks a volume (a basket's inside) whose centre is below its rim; a body (a plate, a bowl)
    is placed on, and a low drop keeps a bowl from bouncing off.
    """
    p = expert.params
    if target in expert.sim.env.obj_body_id:
        return float(expert.extent(target)[1][2] + p.place_clearance)
    return float(expert.target_pos(target)[2] + p.release_clearance)


def footprint_gap(point: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """Horizontal distance from ``point`` to the axis-aligned box ``lo``-``hi`` (0 inside its footprint)."""
    return float(np.linalg.norm(np.maximum(np.maximum(lo[:2] - point[:2], point[:2] - hi[:2]), 0.0)))


def obstacle_top(boxes: list[tuple[np.ndarray, np.ndarray]], start: np.ndarray, end: np.ndarray, reach: float) -> float:
    """Highest top among the boxes whose footprint comes within ``reach`` of the straight path ``start``-``end``.

    A held object swept along that path any lower would hit them (a book carried into a caddy catches the
    caddy's wall); -inf when nothing is in the way.
    """
    path = [start[:2] + t * (end[:2] - start[:2]) for t in np.linspace(0.0, 1.0, PATH_SAMPLES)]
    tops = [hi[2] for lo, hi in boxes if min(footprint_gap(q, lo, hi) for q in path) < reach]
    return float(max(tops, default=-np.inf))


def travel_height(expert: ScriptedExpert, obj: str, target: str, release_z: float) -> float:
    """Lowest height for the held object's bottom that passes over the other objects between it and the target.

    Objects standing more than ``max_raise`` above the release height are left out: the hand cannot pass over
    them, and a closed container (a microwave) is entered from the side, not over its roof.
    """
    p = expert.params
    lo, hi = expert.extent(obj)
    boxes = [expert.extent(other) for other in expert.sim.env.obj_body_id if other != obj]
    boxes = [(a, b) for a, b in boxes if not np.allclose(a, b) and b[2] < release_z + p.max_raise]
    reach = float(np.linalg.norm(hi[:2] - lo[:2]) / 2)
    return obstacle_top(boxes, centre_xy(expert, obj), expert.target_pos(target), reach) + p.pass_clearance


def free_spot(half: np.ndarray, others: list[np.ndarray], room: float) -> np.ndarray:
    """Offset from a region's centre, at most ``half`` away per axis, with the most room next to ``others``.

    Room beyond ``room`` counts the same, then the spot nearest the centre wins: an empty region gets its
    centre, a second can goes beside the first instead of onto it (from where it rolls off the basket's rim).
    """
    best, best_score = np.zeros(2), -np.inf
    for x in np.linspace(-half[0], half[0], SPOT_GRID):
        for y in np.linspace(-half[1], half[1], SPOT_GRID):
            spot = np.array([x, y])
            gap = min((float(np.linalg.norm(spot - other)) for other in others), default=room)
            score = min(gap, room) - 0.01 * float(np.linalg.norm(spot))
            if score > best_score:
                best, best_score = spot, score
    return best


def place_offset(expert: ScriptedExpert, obj: str, target: str) -> np.ndarray:
    """Where to drop ``obj`` in a target region (a basket's inside), as an offset from the region's centre.

    An object target (a plate, a bowl) is placed on its centre.
    """
    if target in expert.sim.env.obj_body_id:
        return np.zeros(2)
    model = expert.sim.sim.model
    site = model.site_name2id(target)
    rotation = np.asarray(expert.sim.sim.data.site_xmat[site]).reshape(3, 3)
    region = (np.abs(rotation) @ model.site_size[site])[:2]  # world-frame half sizes of the region's box
    lo, hi = expert.extent(obj)
    size = hi[:2] - lo[:2]
    centre = expert.target_pos(target)[:2]
    others = [centre_xy(expert, other) - centre for other in expert.sim.env.obj_body_id if other != obj]
    others = [offset for offset in others if np.all(np.abs(offset) < region)]
    return free_spot(np.maximum(region - size / 2, 0.0), others, float(np.max(size)))


def centre_xy(expert: ScriptedExpert, name: str) -> np.ndarray:
    lo, hi = expert.extent(name)
    return (lo[:2] + hi[:2]) / 2


def pick_and_place(expert: ScriptedExpert, subgoal: list[str]) -> Iterator[np.ndarray]:
    """``[in|on, object, target]``: approach, descend, close, lift, carry above the target, open, rise."""
    _, obj, target = subgoal
    p = expert.params
    top = expert.extent(obj)[1][2]
    point, yaw = grasp_of(expert, obj)

    def above() -> np.ndarray:
        return point() * [1, 1, 0] + (top + p.approach_height) * UP

    yield from expert.move("approach", above, OPEN, yaw_of=yaw)
    yield from expert.move("descend", point, OPEN, tolerance=0.005, yaw_of=yaw)
    hold_at = expert.eef.copy()
    hang = hold_at[2] - expert.extent(obj)[0][2]  # end effector height above the object's bottom
    yield from expert.grip("grasp", hold_at)
    carry_z = release_height(expert, target) + hang
    over_others = travel_height(expert, obj, target, carry_z - hang) + hang
    travel_z = max(carry_z, hold_at[2] + p.lift_height, over_others)
    yield from expert.move("lift", lambda: np.array([*hold_at[:2], travel_z]), CLOSE, tolerance=0.02)
    # The hand holds the object off-centre (by its rim), and a region may already hold another object.
    shift = expert.eef[:2] - centre_xy(expert, obj) + place_offset(expert, obj, target)

    def over(z: float) -> Callable[[], np.ndarray]:
        return lambda: np.array([*(expert.target_pos(target)[:2] + shift), z])

    yield from expert.move("carry", over(travel_z), CLOSE, tolerance=0.015)
    yield from expert.move("lower", over(carry_z), CLOSE, tolerance=0.01)
    yield from expert.hold("release", p.release_steps, OPEN, over(carry_z))
    rise_to = expert.eef + 0.1 * UP
    yield from expert.hold("rise", p.rise_steps, OPEN, lambda: rise_to)
