"""Drawers, doors, stove knobs and pushes: goals that move a joint or slide an object instead of carrying it.

Every primitive reads LIBERO's own object states (``object_states_dict[name].is_open()``, ``is_close()``,
``turn_on()``) to skip work that already holds and to stop as soon as the predicate is met, so a demonstration
never pulls or turns further than needed. What each one does, and why (measured on the official init states):

* open a drawer: a drawer handle sits 7 cm below the next one's, so a hand pointing down would hit the handle
  above. The hand turns horizontal, pointing into the cabinet with the fingers closing round the bar (tilted 45
  degrees, or the hand's lower edge sweeps the table), pulls, and turns back down for the primitives after it;
* close a drawer or a door: push with closed fingers, the hand pointing down but leaning away from the cabinet,
  so its back edge clears the handle above and the door frame; a door's push point follows it round the hinge;
* turn a knob: grip its bar from above on the knob's axis and twist the wrist about that axis;
* push a flat object (a plate) too wide to grasp along an L-shaped route that avoids the other objects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from foresight.envs.libero.expert_params import CLOSE, OPEN, ExpertParams
from foresight.envs.libero.scene import body_boxes, narrowest

if TYPE_CHECKING:
    from foresight.envs.libero.expert import ScriptedExpert

GRIP_SITE = "gripper0_grip_site"
SLIDE = 2  # MuJoCo's joint type of a drawer
UP = np.array([0.0, 0.0, 1.0])


# ---- scene queries


def state(sim: Any, name: str) -> Any:
    """LIBERO's own object state, whose ``is_open`` / ``is_close`` / ``turn_on`` decide the goal."""
    return sim.env.object_states_dict[name]


def joint_of(sim: Any, name: str) -> str:
    """The joint a goal argument moves: a drawer region's own joint, or an object's first (a stove's knob)."""
    env = sim.env
    site = env.object_sites_dict.get(name)
    joints = site.joints if site is not None else env.get_object(name).joints
    if not joints:
        raise ValueError(f"{name} has no joint to move")
    return joints[0]


def joint_qpos(sim: Any, joint: str) -> float:
    model = sim.sim.model
    return float(sim.sim.data.qpos[model.get_joint_qpos_addr(joint)])


def joint_axis(sim: Any, joint: str) -> np.ndarray:
    """World direction of the joint's axis (a slide's motion for growing qpos, a hinge's rotation axis)."""
    return np.array(sim.sim.data.xaxis[sim.sim.model.joint_name2id(joint)])


def owner(sim: Any, name: str) -> Any:
    """The articulated object a goal argument belongs to: a region's parent or the object itself."""
    env = sim.env
    site = env.object_sites_dict.get(name)
    return env.get_object(site.parent_name if site is not None else name)


def opening_sign(sim: Any, name: str) -> float:
    """+1 when opening grows the joint position, -1 when it shrinks it (LIBERO's cabinets open negative)."""
    ranges = owner(sim, name).object_properties["articulation"]
    return float(np.sign(np.mean(ranges["default_open_ranges"]) - np.mean(ranges["default_close_ranges"])))


def collision_boxes(sim: Any, body: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """World axis-aligned boxes ``(centre, half size)`` of a body's colliding geoms (``scene.colliding``)."""
    return body_boxes(sim.sim.model, sim.sim.data, body).aligned()


def joint_body(sim: Any, joint: str) -> int:
    model = sim.sim.model
    return int(model.jnt_bodyid[model.joint_name2id(joint)])


def container(sim: Any, target: str) -> str | None:
    """What must be open before something goes into ``target``, or None for an open target (a table region).

    A drawer region is itself articulated (``is_open`` reads its joint); a microwave's heating region has no
    joint of its own and its parent object decides.
    """
    site = sim.env.object_sites_dict.get(target)
    if site is None:
        return None
    if site.joints:
        return target
    parent = sim.env.get_object(site.parent_name)
    articulation = getattr(parent, "object_properties", {}).get("articulation", {})
    return site.parent_name if articulation.get("default_open_ranges") else None


def is_hinged(sim: Any, name: str) -> bool:
    """A door (a hinge joint) rather than a drawer (a slide)."""
    model = sim.sim.model
    return bool(model.jnt_type[model.joint_name2id(joint_of(sim, name))] != SLIDE)


def is_flat(sim: Any, name: str, params: ExpertParams) -> bool:
    """A low object wider than the open gripper (a plate): pushed along the table instead of carried."""
    extent = np.ptp(body_boxes(sim.sim.model, sim.sim.data, sim.env.obj_body_id[name]).aligned_corners(), axis=0)
    return bool(extent[2] < params.flat_height and min(extent[0], extent[1]) > params.gripper_span)


def drawer_direction(expert: ScriptedExpert, region: str) -> np.ndarray:
    """Horizontal unit vector along which the drawer of ``region`` slides out."""
    direction = opening_sign(expert.sim, region) * joint_axis(expert.sim, joint_of(expert.sim, region))
    direction[2] = 0.0
    return direction / np.linalg.norm(direction)


def handle_point(expert: ScriptedExpert, region: str) -> np.ndarray:
    """Centre of the drawer's part that sticks out furthest towards the robot side: the handle bar."""
    outward = drawer_direction(expert, region)
    boxes = collision_boxes(expert.sim, joint_body(expert.sim, joint_of(expert.sim, region)))
    return np.array(max(boxes, key=lambda box: float(box[0] @ outward))[0])


# ---- orientation


def gripper_rotation(expert: ScriptedExpert) -> np.ndarray:
    """The hand's frame as columns: x from the left to the right finger, z the pointing direction."""
    return np.array(expert.sim.sim.data.get_site_xmat(GRIP_SITE)).reshape(3, 3)


def hand_frame(pointing: np.ndarray, fingers: np.ndarray) -> np.ndarray:
    """The rotation of a hand pointing along ``pointing``, closing along ``fingers`` (made perpendicular)."""
    z = pointing / np.linalg.norm(pointing)
    x = fingers - (fingers @ z) * z
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z], axis=1)


def rotation_vector(rotation: np.ndarray) -> np.ndarray:
    """Axis-angle of a rotation matrix (the OSC controller's rotation actions are world-frame axis-angles)."""
    angle = np.arccos(np.clip((np.trace(rotation) - 1.0) / 2.0, -1.0, 1.0))
    if angle < 1e-6:
        return np.zeros(3)
    axis = np.array([rotation[2, 1] - rotation[1, 2], rotation[0, 2] - rotation[2, 0], rotation[1, 0] - rotation[0, 1]])
    if np.linalg.norm(axis) < 1e-6:  # half a turn: the axis is the eigenvector of eigenvalue 1
        values, vectors = np.linalg.eigh(rotation + rotation.T)
        axis = vectors[:, int(np.argmax(values))]
    return angle * axis / np.linalg.norm(axis)


def nearest_frame(expert: ScriptedExpert, pointing: np.ndarray, fingers: np.ndarray) -> np.ndarray:
    """The hand frame pointing along ``pointing`` with fingers along ``±fingers``, whichever turns less.

    The two fingers are interchangeable, so the closing axis has two valid signs.
    """
    current = gripper_rotation(expert)
    frames = [hand_frame(pointing, sign * fingers) for sign in (1.0, -1.0)]
    return min(frames, key=lambda f: np.linalg.norm(rotation_vector(f @ current.T)))


def down_frame(expert: ScriptedExpert, fingers: np.ndarray | None = None) -> np.ndarray:
    """The hand pointing straight down, keeping the current closing axis unless one is given."""
    if fingers is None:
        fingers = gripper_rotation(expert)[:, 0].copy()
        fingers[2] = 0.0
        if np.linalg.norm(fingers) < 1e-3:  # the closing axis is vertical: any horizontal one will do
            fingers = np.cross(gripper_rotation(expert)[:, 2], UP)
    return nearest_frame(expert, -UP, fingers)


# ---- control


def pose_action(expert: ScriptedExpert, target: np.ndarray, frame: np.ndarray, gripper: float) -> np.ndarray:
    """Position and full orientation servoing (the shared ``expert.action`` turns about the vertical only)."""
    delta = np.clip(expert.params.gain * (target - expert.eef), -1.0, 1.0)
    turn = np.clip(expert.params.rotation_gain * rotation_vector(frame @ gripper_rotation(expert).T), -1.0, 1.0)
    return np.concatenate([delta, turn, [gripper]])


def servo(
    expert: ScriptedExpert,
    phase: str,
    target_of: Callable[[], np.ndarray],
    frame: np.ndarray | Callable[[], np.ndarray],
    gripper: float,
    tolerance: float | None = None,
    done: Callable[[], bool] | None = None,
    steps: int | None = None,
    angle_tolerance: float | None = None,
) -> Iterator[np.ndarray]:
    """Move to a pose (position re-read every step) until reached, ``done()`` holds, or out of steps.

    Near the target a slowly growing offset cancels the controller's steady error (about 1 cm against gravity
    and contact forces), which otherwise leaves a fingertip short of a handle.
    """
    expert.phase = phase
    tolerance = expert.params.tolerance if tolerance is None else tolerance
    angle_tolerance = expert.params.angle_tolerance if angle_tolerance is None else angle_tolerance
    bias = np.zeros(3)
    for _ in range(steps or expert.params.move_steps):
        if done is not None and done():
            return
        target = target_of()
        goal_frame = frame() if callable(frame) else frame
        error = target - expert.eef
        turn = np.linalg.norm(rotation_vector(goal_frame @ gripper_rotation(expert).T))
        if done is None and np.linalg.norm(error) < tolerance and turn < angle_tolerance:
            return
        if done is None and np.linalg.norm(error) < 0.03:  # a moving target (a push) would wind it up
            bias = np.clip(bias + 0.1 * error, -0.02, 0.02)
        yield pose_action(expert, target + bias, goal_frame, gripper)


def hold(
    expert: ScriptedExpert, phase: str, steps: int, frame: np.ndarray, gripper: float, push: np.ndarray | None = None
) -> Iterator[np.ndarray]:
    """Stay put (or keep pressing ``push`` metres beyond where the hand is) while the gripper acts."""
    expert.phase = phase
    at = expert.eef.copy() + (0.0 if push is None else push)
    for _ in range(steps):
        yield pose_action(expert, at, frame, gripper)


def towards_robot(expert: ScriptedExpert) -> np.ndarray:
    """Horizontal unit vector from the end effector towards the robot's base."""
    base = np.array(expert.sim.sim.data.body_xpos[expert.sim.sim.model.body_name2id("robot0_base")])
    direction = (base - expert.eef) * [1, 1, 0]
    return direction / np.linalg.norm(direction)


def point_down(expert: ScriptedExpert) -> Iterator[np.ndarray]:
    """Turn the hand down again, as the pick-and-place primitive expects, drawing it in towards the robot.

    Turning in place far from the base stretches the arm to its elbow limit and the turn stalls. The turn ends
    within ``down_tolerance``: pick-and-place only turns about the vertical, and a hand left a few degrees
    off vertical grips a bowl's thin rim by its edge, which slips out on the lift (libero_goal 3).
    """
    up = expert.eef + 0.05 * UP + 0.1 * towards_robot(expert)
    frame = down_frame(expert)
    tolerance = expert.params.down_tolerance
    yield from servo(expert, "point down", lambda: up, frame, OPEN, tolerance=0.02, angle_tolerance=tolerance)


# ---- primitives


def open_drawer(expert: ScriptedExpert, region: str) -> Iterator[np.ndarray]:
    """Grip the handle bar with the hand horizontal and pull until LIBERO calls the drawer open.

    The hand turns while it moves high above the table to over the handle, and comes down in front of it;
    turning on the way down would sweep its edge through whatever stands in front of the cabinet.
    """
    drawer = state(expert.sim, region)
    outward = drawer_direction(expert, region)
    side = np.cross(UP, outward)
    tilt = expert.params.finger_tilt
    frame = nearest_frame(expert, -outward, np.cos(tilt) * UP + np.sin(tilt) * side)
    grip = handle_point(expert, region)
    high = max(expert.eef[2], grip[2] + 0.12)
    above = grip + 0.1 * outward
    yield from servo(expert, "over handle", lambda: np.array([*above[:2], high]), frame, OPEN, tolerance=0.02)
    yield from servo(expert, "pre-grasp", lambda: above, frame, OPEN, tolerance=0.015)
    reach = grip - expert.params.pad_centre * outward
    yield from servo(expert, "reach handle", lambda: reach, frame, OPEN, tolerance=0.004)
    yield from hold(expert, "grip handle", expert.params.grasp_steps, frame, CLOSE)
    pull_to = grip + 0.2 * outward
    yield from servo(expert, "pull", lambda: pull_to, frame, CLOSE, done=drawer.is_open)
    yield from hold(expert, "release handle", expert.params.release_steps, frame, OPEN)
    away = expert.eef + 0.08 * outward
    yield from servo(expert, "back off", lambda: away, frame, OPEN, tolerance=0.02)
    yield from point_down(expert)


def close_drawer(expert: ScriptedExpert, region: str) -> Iterator[np.ndarray]:
    """Push the handle in with closed fingers until LIBERO calls the drawer closed (fully in: qpos past 0).

    The hand points down but leans out, away from the cabinet: upright, its back edge would hit the handle of
    the drawer above just before this one closes; horizontal, the wrist meets the scenery beside the cabinet.
    """
    drawer = state(expert.sim, region)
    outward = drawer_direction(expert, region)
    pointing = -np.cos(expert.params.close_lean) * UP - np.sin(expert.params.close_lean) * outward
    frame = nearest_frame(expert, pointing, np.cross(UP, outward))
    start = handle_point(expert, region) + 0.03 * outward
    yield from servo(expert, "above handle", lambda: start + 0.1 * UP, frame, CLOSE, tolerance=0.02)
    yield from servo(expert, "lower to handle", lambda: start, frame, CLOSE, tolerance=0.015)
    yield from servo(
        expert,
        "push drawer",
        lambda: handle_point(expert, region) - 0.05 * outward,
        frame,
        CLOSE,
        done=drawer.is_close,
        steps=expert.params.push_steps,
    )
    yield from hold(expert, "press shut", expert.params.grasp_steps, frame, CLOSE, push=-0.02 * outward)
    up = expert.eef + 0.1 * UP
    yield from servo(expert, "leave drawer", lambda: up, frame, CLOSE, tolerance=0.02)


def move_drawer(expert: ScriptedExpert, subgoal: list[str]) -> Iterator[np.ndarray]:
    """``[open|close, region]``; nothing to do when LIBERO's predicate already holds."""
    predicate, region = subgoal
    drawer = state(expert.sim, region)
    if predicate == "open" and not drawer.is_open():
        yield from open_drawer(expert, region)
    elif predicate == "close" and not drawer.is_close():
        yield from close_drawer(expert, region)


def knob_grip(expert: ScriptedExpert, joint: str) -> tuple[np.ndarray, np.ndarray]:
    """Where to close the fingers on a knob's bar (on its axis, just below its top) and across which direction.

    The knob body also holds a flat ring around its base; only the geoms rising above the ring form the bar.
    """
    boxes = collision_boxes(expert.sim, joint_body(expert.sim, joint))
    top = max(float(c[2] + h[2]) for c, h in boxes)
    bar = [(c, h) for c, h in boxes if c[2] + h[2] > top - 0.02]
    corners = np.concatenate([[c - h, c + h] for c, h in bar])
    angle, _ = narrowest(corners)
    across = np.array([np.cos(angle), np.sin(angle), 0.0])
    anchor = np.array(expert.sim.sim.data.xanchor[expert.sim.sim.model.joint_name2id(joint)])
    centre = (corners.min(axis=0) + corners.max(axis=0)) / 2
    point = anchor + ((centre - anchor) @ across) * across  # on the axis, centred across the bar
    point[2] = top - expert.params.knob_depth
    return point, across


def twist(
    expert: ScriptedExpert, joint: str, goal: float, at: np.ndarray, done: Callable[[], bool]
) -> Iterator[np.ndarray]:
    """Turn the gripped knob about its own axis until its joint reaches ``goal`` (and ``done()`` holds)."""
    expert.phase = "twist"
    axis = joint_axis(expert.sim, joint)
    for _ in range(expert.params.move_steps):
        error = goal - joint_qpos(expert.sim, joint)
        if done() and abs(error) < expert.params.knob_tolerance:
            return
        delta = np.clip(expert.params.gain * (at - expert.eef), -1.0, 1.0)
        turn = np.clip(expert.params.rotation_gain * error * axis, -1.0, 1.0)
        yield np.concatenate([delta, turn, [CLOSE]])


def turn_knob(expert: ScriptedExpert, subgoal: list[str]) -> Iterator[np.ndarray]:
    """``[turnon|turnoff, stove]``: grip the knob's bar from above and twist it into LIBERO's on / off range."""
    predicate, name = subgoal
    knob = state(expert.sim, name)
    done = knob.turn_on if predicate == "turnon" else knob.turn_off
    if done():
        return
    joint = joint_of(expert.sim, name)
    ranges = owner(expert.sim, name).object_properties["articulation"]
    wanted = ranges["default_turnon_ranges"] if predicate == "turnon" else ranges["default_turnoff_ranges"]
    goal = float(np.mean(wanted)) if predicate == "turnoff" else float(min(wanted)) + expert.params.knob_margin
    point, across = knob_grip(expert, joint)
    frame = down_frame(expert, across)
    above = point + expert.params.approach_height * UP
    yield from servo(expert, "above knob", lambda: above, frame, OPEN, tolerance=0.015)
    yield from servo(expert, "reach knob", lambda: point, frame, OPEN, tolerance=0.005)
    yield from hold(expert, "grip knob", expert.params.grasp_steps, frame, CLOSE)
    yield from twist(expert, joint, goal, expert.eef.copy(), done)
    yield from hold(expert, "release knob", expert.params.release_steps, gripper_rotation(expert), OPEN)
    rise = expert.eef + 0.1 * UP
    yield from servo(expert, "rise from knob", lambda: rise, gripper_rotation(expert), OPEN, tolerance=0.02)


def push(expert: ScriptedExpert, subgoal: list[str]) -> Iterator[np.ndarray]:
    """``[on, object, region]`` for an object too wide to grasp (a plate): slide it along the table.

    The plate travels along an L (one axis, then the other) to a point of the region; of the points and the two
    L orders, the one whose swept plate overlaps the other objects least wins. On libero_goal that route passes
    beside the bowl and clears the cream cheese, where the straight line runs through the bowl.
    """
    _, name, region = subgoal
    start = expert.body_pos(name) * [1, 1, 0]
    lo, hi = expert.extent(name)
    radius = float(np.max(hi[:2] - lo[:2])) / 2
    obstacles = [expert.extent(other) for other in expert.sim.env.objects_dict if other != name]
    routes = [
        [corner, goal]
        for goal in region_points(expert, region)
        for corner in (np.array([start[0], goal[1], 0.0]), np.array([goal[0], start[1], 0.0]))
    ]
    route = min(routes, key=lambda legs: route_cost(start, legs, radius, obstacles, expert.params.push_length_cost))
    for leg_start, leg_end in zip([start, *route[:-1]], route, strict=True):
        yield from push_leg(expert, name, leg_start, leg_end)


def region_points(expert: ScriptedExpert, region: str) -> list[np.ndarray]:
    """Candidate end points for a pushed object: a grid over the region's footprint, ``push_margin`` inside."""
    centre = expert.target_pos(region) * [1, 1, 0]
    size = getattr(expert.sim.env.object_sites_dict.get(region), "size", None)
    if size is None:
        return [centre]
    half = np.maximum(np.abs(np.asarray(size[:2], dtype=np.float64)) - expert.params.push_margin, 0.0)
    steps = np.linspace(-1.0, 1.0, 5)
    return [centre + np.array([dx * half[0], dy * half[1], 0.0]) for dx in steps for dy in steps]


def route_cost(
    start: np.ndarray,
    legs: list[np.ndarray],
    radius: float,
    obstacles: list[tuple[np.ndarray, np.ndarray]],
    length_cost: float,
) -> float:
    """How deep a disc of ``radius`` sliding along ``legs`` cuts into the obstacles' footprints, plus
    ``length_cost`` per metre travelled."""
    points = [start]
    for a, b in zip([start, *legs[:-1]], legs, strict=True):
        count = max(int(np.linalg.norm(b - a) / 0.01), 1)
        points += [a + (b - a) * t for t in np.linspace(0.0, 1.0, count + 1)[1:]]
    path = np.array(points)[:, :2]
    cost = float(np.sum(np.linalg.norm(np.diff(path, axis=0), axis=1))) * length_cost
    for lo, hi in obstacles:
        gap = np.linalg.norm(np.maximum(np.maximum(lo[:2] - path, path - hi[:2]), 0.0), axis=1)
        cost += float(np.max(np.maximum(radius - gap, 0.0)))
    return cost


def push_leg(expert: ScriptedExpert, name: str, start: np.ndarray, end: np.ndarray) -> Iterator[np.ndarray]:
    """Slide an object from ``start`` to ``end`` along the line between them.

    The open fingers, spread across the line, touch the rim at two points; the hand leans forward over the
    object, so its back edge clears whatever stands behind (the cabinet's handles on libero_goal). Each step the
    push aims at a point a little further along the line, which steers a plate that slid sideways back onto it.
    """
    length = float(np.linalg.norm(end - start))
    if length < expert.params.push_tolerance:
        return
    line = (end - start) / length
    lo, hi = expert.extent(name)
    radius = float(np.max(hi[:2] - lo[:2])) / 2
    height = lo[2] + expert.params.push_height

    def position() -> np.ndarray:
        return expert.body_pos(name) * [1, 1, 0]

    def heading() -> np.ndarray:
        along = min(float((position() - start) @ line) + expert.params.push_lookahead, length)
        offset = start + along * line - position()
        return offset / max(np.linalg.norm(offset), 1e-9)

    def behind(ahead: float) -> np.ndarray:
        return position() + (ahead - radius - expert.params.push_gap) * heading() + height * UP

    pointing = -np.cos(expert.params.push_lean) * UP - np.sin(expert.params.push_lean) * line
    frame = nearest_frame(expert, pointing, np.cross(UP, line))
    approach = behind(0.0)
    yield from servo(expert, "above push", lambda: approach + 0.08 * UP, frame, OPEN, tolerance=0.02)
    yield from servo(expert, "lower for push", lambda: approach, frame, OPEN, tolerance=0.015)

    def arrived() -> bool:
        return bool((end - position()) @ line < expert.params.push_tolerance)

    p = expert.params
    yield from servo(expert, "push", lambda: behind(p.push_ahead), frame, OPEN, done=arrived, steps=p.push_steps)
    up = expert.eef + 0.08 * UP
    yield from servo(expert, "leave push", lambda: up, frame, OPEN, tolerance=0.02)


def move_joint(expert: ScriptedExpert, subgoal: list[str]) -> Iterator[np.ndarray]:
    """``[open|close, name]``: a drawer (sliding joint) or a door (hinge, a microwave's)."""
    if is_hinged(expert.sim, subgoal[1]):
        yield from swing_door(expert, subgoal)
    else:
        yield from move_drawer(expert, subgoal)


def swing_door(expert: ScriptedExpert, subgoal: list[str]) -> Iterator[np.ndarray]:
    """``[close, door]``: push the door's outer face round its hinge until LIBERO calls it closed.

    The push point follows the door along its arc (re-read from the live hinge angle), at ``door_reach`` of its
    width from the hinge, short of the handle. The hand leans back, away from the door, so that near the end
    it does not run into the frame the door closes against.
    """
    predicate, name = subgoal
    p = expert.params
    door = state(expert.sim, name)
    if predicate != "close":
        raise ValueError(f"the scripted expert closes doors but cannot open one ({name})")
    if door.is_close():
        return
    joint = joint_of(expert.sim, name)
    anchor = np.array(expert.sim.sim.data.xanchor[expert.sim.sim.model.joint_name2id(joint)]) * [1, 1, 0]
    axis = joint_axis(expert.sim, joint)
    sign = -opening_sign(expert.sim, name)  # closing moves the joint this way
    start = joint_qpos(expert.sim, joint)
    corners = body_boxes(expert.sim.sim.model, expert.sim.sim.data, joint_body(expert.sim, joint)).aligned_corners()
    spans = (corners - anchor) * [1, 1, 0]
    radial0 = spans[int(np.argmax(np.linalg.norm(spans, axis=1)))]
    width = float(np.linalg.norm(radial0))
    radial0 /= width
    push0 = sign * np.cross(axis, radial0)
    near = np.linalg.norm(spans, axis=1) < p.door_reach * width + 0.05  # the door leaf, not its handle
    face = float(np.min(spans[near] @ push0))  # the pushed face, behind the hinge line
    height = float(np.mean(corners[:, 2]))

    def rotated(vector: np.ndarray) -> np.ndarray:
        angle = joint_qpos(expert.sim, joint) - start
        return vector * np.cos(angle) + np.cross(axis, vector) * np.sin(angle)

    def contact(ahead: float) -> np.ndarray:
        return anchor + p.door_reach * width * rotated(radial0) + (face + ahead) * rotated(push0) + height * UP

    def frame() -> np.ndarray:
        """Closing axis along the door, from the hinge outwards: with the other sign, following the door
        round drives the wrist's last joint into its limit (measured on libero_10's microwave)."""
        return hand_frame(-np.cos(p.close_lean) * UP + np.sin(p.close_lean) * rotated(push0), rotated(radial0))

    ready = contact(-0.04)
    yield from servo(expert, "above door", lambda: ready + 0.12 * UP, frame, CLOSE, tolerance=0.02)
    yield from servo(expert, "beside door", lambda: ready, frame, CLOSE, tolerance=0.015)
    yield from servo(expert, "push door", lambda: contact(0.03), frame, CLOSE, done=door.is_close, steps=p.push_steps)
    yield from hold(expert, "press door", expert.params.grasp_steps, frame(), CLOSE, push=0.02 * rotated(push0))
    up = expert.eef + 0.1 * UP
    yield from servo(expert, "leave door", lambda: up, frame(), CLOSE, tolerance=0.02)
