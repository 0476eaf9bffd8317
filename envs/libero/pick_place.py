"""Pick an object and release it above a region or onto another object: the ``in`` and ``on`` goals.

Heights come from the collision geometry's bounding box, because body origins are not object centres (a standing
can's origin is mid-height, a lying box's at its base). Solid objects are grasped across the middle of their
footprint; hollow ones (bowls, mugs) have nothing there, so the fingers straddle the rim wall instead; solid
ones too wide for the open gripper (moka pots) are taken by their handle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from foresight.envs.libero.expert_params import CLOSE, OPEN
from foresight.envs.libero.scene import Boxes, narrowest, widths

if TYPE_CHECKING:
    from foresight.envs.libero.expert import ScriptedExpert

UP = np.array([0.0, 0.0, 1.0])


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


def rim_direction(expert: ScriptedExpert, name: str, grasp_z: float) -> np.ndarray:
    """The side of the rim to grasp: the most room for the outer finger, then the side facing the robot.

    Room is measured from where the outer finger goes down (``finger_reach`` beyond the rim, from the grasp
    height up) to every other collision box, fixtures included. Room beyond ``rim_room`` counts the same, so
    among free sides the nearest one wins (shorter reach).
    """
    p = expert.params
    lo, hi = expert.extent(name)
    centre, radius = (lo + hi) / 2, float(np.min(hi[:2] - lo[:2]) / 2)
    obstacles = expert.obstacles(name)
    robot = expert.robot_base()[:2] - centre[:2]
    robot /= np.linalg.norm(robot)
    best, best_score = np.array([1.0, 0.0]), -np.inf
    for angle in np.linspace(0.0, 2 * np.pi, p.rim_sides, endpoint=False):
        direction = np.array([np.cos(angle), np.sin(angle)])
        outer = centre[:2] + (radius + p.finger_reach) * direction
        room = min(
            float(np.min(obstacles.distance(np.array([*outer, z])), initial=p.rim_room))
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
    p = expert.params
    angles, spans = widths(expert.corners(name))
    fingers = angles[int(np.argmin(spans))]
    finger = np.array([np.cos(fingers), np.sin(fingers), 0.0])
    along = np.array([-finger[1], finger[0], 0.0])
    reach = max(float(spans.max()) / 2 - p.hand_inset, 0.0)
    centre = grasp_point(expert, name)
    boxes = [expert.extent(other) for other in expert.sim.env.obj_body_id if other != name]
    boxes = [(lo, hi) for lo, hi in boxes if not np.allclose(lo, hi) and hi[2] > centre[2]]
    hand = [
        u * finger + v * along
        for u in np.linspace(-p.hand_half[0], p.hand_half[0], 11)
        for v in (-p.hand_half[1], 0.0, p.hand_half[1])
    ]
    best, best_score = np.zeros(3), -np.inf
    for shift in np.linspace(-reach, reach, 7):
        room = min((footprint_gap(centre + shift * along + h, lo, hi) for h in hand for lo, hi in boxes), default=1.0)
        score = min(room, p.hand_room) - 0.01 * abs(shift)
        if score > best_score:
            best, best_score = shift * along, score
    return best


@dataclass(frozen=True)
class Grasp:
    """Where and how the hand takes an object: live grasp point and remaining yaw, and the kind of grasp.

    ``handle`` marks an object held off to one side by its handle (a moka pot): it is positioned by its own
    origin, which LIBERO's ``On`` checks against a region, rather than by its footprint's centre, which the
    handle pulls sideways, and it is set down low, since a tall pot dropped from a region's usual height tips.
    """

    point: Callable[[], np.ndarray]
    yaw: Callable[[], float]
    handle: np.ndarray | None = None  # horizontal unit vector from the object's origin towards its handle


def handle_of(expert: ScriptedExpert, name: str) -> tuple[Boxes, np.ndarray] | None:
    """The handle of an object too wide to grip across its body, and the unit vector from the body towards it.

    A moka pot's body is as wide as the open gripper in every direction, and its footprint is longest along its
    handle. The handle is the geoms whose centres lie more than ``handle_offset`` from the object's origin along
    that length, on the side that reaches further. None for an object narrow enough, or without such geoms.
    """
    p = expert.params
    boxes = expert.boxes(name)
    if not len(boxes):
        return None
    angle, width = narrowest(boxes.corners())
    if width < p.handle_min_width:
        return None
    along = np.array([-np.sin(angle), np.cos(angle)])  # the object's length, perpendicular to its narrowest width
    origin = expert.body_pos(name)[:2]
    reach = (boxes.corners()[:, :2] - origin) @ along
    if reach.max() < -reach.min():
        along = -along
    handle = (boxes.centres[:, :2] - origin) @ along > p.handle_offset
    if not handle.any():
        return None
    return Boxes(boxes.centres[handle], boxes.rotations[handle], boxes.halves[handle]), along


def handle_grasp(expert: ScriptedExpert, name: str, handle: Boxes, along: np.ndarray) -> Grasp:
    """Fingers across the handle's outer bar, ``handle_inset`` inside its far end, ``handle_depth`` below its top.

    The point is fixed in the object's frame and re-posed every step, so a pot nudged by the fingers is
    followed; the fingers close across the object's length, the handle's thin side.
    """
    p = expert.params
    corners = handle.corners()
    origin = expert.body_pos(name)
    across = np.array([along[1], -along[0]])
    outer = float(np.max((corners[:, :2] - origin[:2]) @ along)) - p.handle_inset
    middle = float(np.mean((corners[:, :2] - origin[:2]) @ across))
    world = np.array([*(origin[:2] + outer * along + middle * across), corners[:, 2].max() - p.handle_depth])
    body = expert.sim.env.obj_body_id[name]

    def rotation() -> np.ndarray:
        return np.asarray(expert.sim.sim.data.body_xmat[body]).reshape(3, 3)

    local = rotation().T @ (world - origin)
    angle = float(np.arctan2(across[1], across[0]))
    return Grasp(lambda: expert.body_pos(name) + rotation() @ local, lambda: expert.yaw_towards(angle), along)


def grasp_of(expert: ScriptedExpert, name: str) -> Grasp:
    """How to take ``name``: across its rim if hollow, by its handle if too wide, else across its middle."""
    p = expert.params
    if is_hollow(expert, name):
        direction = rim_direction(expert, name, expert.extent(name)[1][2] - p.rim_depth)
        angle = float(np.arctan2(direction[1], direction[0]))

        def point() -> np.ndarray:
            lo, hi = expert.extent(name)
            radius = float(np.min(hi[:2] - lo[:2]) / 2)
            return rim_grasp_point((lo + hi) / 2, radius, hi[2], direction, p.rim_inset, p.rim_depth)

        return Grasp(point, lambda: expert.yaw_towards(angle))
    handle = handle_of(expert, name)
    if handle is not None:
        return handle_grasp(expert, name, *handle)
    slide = slide_offset(expert, name)
    return Grasp(lambda: grasp_point(expert, name) + slide, lambda: expert.yaw_error(name))


def release_height(expert: ScriptedExpert, target: str, low: bool = False) -> float:
    """Height for the held object's bottom when released: just above a body's top, higher above a region.

    A region site marks a volume (a basket's inside) whose centre is below its rim; a body (a plate, a bowl)
    is placed on, and a low drop keeps a bowl from bouncing off. ``low`` sets an object down just above a
    region too (a pot held by its handle onto a stove's cook region).
    """
    p = expert.params
    if target in expert.sim.env.obj_body_id:
        return float(expert.extent(target)[1][2] + p.place_clearance)
    return float(expert.target_pos(target)[2] + (p.place_clearance if low else p.release_clearance))


def footprint_gap(point: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """Horizontal distance from ``point`` to the axis-aligned box ``lo``-``hi`` (0 inside its footprint)."""
    return float(np.linalg.norm(np.maximum(np.maximum(lo[:2] - point[:2], point[:2] - hi[:2]), 0.0)))


def obstacle_top(
    boxes: list[tuple[np.ndarray, np.ndarray]], start: np.ndarray, end: np.ndarray, reach: float, samples: int = 20
) -> float:
    """Highest top among the boxes whose footprint comes within ``reach`` of the straight path ``start``-``end``.

    A held object swept along that path any lower would hit them (a book carried into a caddy catches the
    caddy's wall); -inf when nothing is in the way.
    """
    path = [start[:2] + t * (end[:2] - start[:2]) for t in np.linspace(0.0, 1.0, samples)]
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
    path = (centre_xy(expert, obj), expert.target_pos(target))
    return obstacle_top(boxes, *path, reach, p.path_samples) + p.pass_clearance


def free_spot(half: np.ndarray, others: list[np.ndarray], room: float, grid: int = 5) -> np.ndarray:
    """Offset from a region's centre, at most ``half`` away per axis, with the most room next to ``others``.

    Room beyond ``room`` counts the same, then the spot nearest the centre wins: an empty region gets its
    centre, a second can goes beside the first instead of onto it (from where it rolls off the basket's rim).
    """
    best, best_score = np.zeros(2), -np.inf
    for x in np.linspace(-half[0], half[0], grid):
        for y in np.linspace(-half[1], half[1], grid):
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
    return free_spot(np.maximum(region - size / 2, 0.0), others, float(np.max(size)), expert.params.spot_grid)


def handle_slot(expert: ScriptedExpert, obj: str, target: str, handle: np.ndarray) -> np.ndarray:
    """Where a handle-held object's origin goes in a region shared by several of them, from the region's centre.

    LIBERO's ``On`` needs each origin inside the region (15 cm square for the stove's cook region) while two
    moka pots' bodies are 8 cm across: the ``k``-th of ``n`` objects bound for ``target`` takes the ``k``-th of
    ``n`` evenly spaced slots across the handles' direction (so no handle reaches the other pot), the outer ones
    ``slot_margin`` inside the region's edge. The first pot leaves room for the second. A lone object or a
    body target gets the centre.
    """
    bound = [goal[1] for goal in expert.subgoals if goal[0] in ("in", "on") and goal[2] == target]
    if len(bound) < 2 or target in expert.sim.env.obj_body_id or obj not in bound:
        return np.zeros(2)
    model = expert.sim.sim.model
    site = model.site_name2id(target)
    rotation = np.asarray(expert.sim.sim.data.site_xmat[site]).reshape(3, 3)
    region = (np.abs(rotation) @ model.site_size[site])[:2]
    across = np.array([handle[1], -handle[0]])
    reach = max(float(np.abs(across) @ region) - expert.params.slot_margin, 0.0)
    return float(np.linspace(-reach, reach, len(bound))[bound.index(obj)]) * across


def centre_xy(expert: ScriptedExpert, name: str) -> np.ndarray:
    lo, hi = expert.extent(name)
    return (lo[:2] + hi[:2]) / 2


def pick_and_place(expert: ScriptedExpert, subgoal: list[str]) -> Iterator[np.ndarray]:
    """``[in|on, object, target]``: approach, descend, close, lift, carry above the target, open, rise."""
    _, obj, target = subgoal
    p = expert.params
    top = expert.extent(obj)[1][2]
    grasp = grasp_of(expert, obj)
    point, yaw = grasp.point, grasp.yaw

    def above() -> np.ndarray:
        return point() * [1, 1, 0] + (top + p.approach_height) * UP

    yield from expert.move("approach", above, OPEN, yaw_of=yaw)
    yield from expert.move("descend", point, OPEN, tolerance=0.005, yaw_of=yaw)
    hold_at = expert.eef.copy()
    hang = hold_at[2] - expert.extent(obj)[0][2]  # end effector height above the object's bottom
    yield from expert.grip("grasp", hold_at)
    by_handle = grasp.handle is not None
    carry_z = release_height(expert, target, low=by_handle) + hang
    # What the hand may pass over is judged from a region's usual release height even for a low release:
    # a pot set down low must still be carried over the other pot, not into it.
    over_others = travel_height(expert, obj, target, release_height(expert, target)) + hang
    travel_z = max(carry_z, hold_at[2] + p.lift_height, over_others)
    yield from expert.move("lift", lambda: np.array([*hold_at[:2], travel_z]), CLOSE, tolerance=0.02)
    # The hand holds the object off-centre (by its rim), and a region may already hold another object.
    if by_handle:
        shift = expert.eef[:2] - expert.body_pos(obj)[:2] + handle_slot(expert, obj, target, grasp.handle)
    else:
        shift = expert.eef[:2] - centre_xy(expert, obj) + place_offset(expert, obj, target)

    def over(z: float) -> Callable[[], np.ndarray]:
        return lambda: np.array([*(expert.target_pos(target)[:2] + shift), z])

    yield from expert.move("carry", over(travel_z), CLOSE, tolerance=0.015)
    # A pot held by its handle hangs tilted about the fingers; pressing the handle down past the standing
    # height pivots it on its lower rim until it stands on its bottom again.
    set_z = carry_z - p.handle_press if by_handle else carry_z
    yield from expert.move("lower", over(set_z), CLOSE, tolerance=0.01)
    yield from expert.hold("release", p.release_steps, OPEN, over(set_z))
    rise_to = expert.eef + 0.1 * UP
    yield from expert.hold("rise", p.rise_steps, OPEN, lambda: rise_to)
