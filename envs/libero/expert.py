"""A scripted pick-and-place expert for LIBERO, driven by the BDDL goal and privileged simulator poses.

It makes real-simulator demonstrations without a hub download (the official ones live on a hub). The plan is
read from ``env.env.parsed_problem["goal_state"]``: each ``["in", object, region]`` or ``["on", object, target]``
predicate becomes one pick-and-place, executed in goal order. Every phase is a straight move of the end effector
to a point computed from live body / site positions, with the rotation action kept at zero, as in the plain
expert that succeeded 10/10 on libero_object here (shared/notes/libero-sim.md). Goals of other kinds (open a
drawer, turn on the stove) are refused with an error naming the predicate, so a generator never records
demonstrations of a task the expert does not understand.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

SUPPORTED = ("in", "on")
"""BDDL goal predicates the expert can achieve (both by picking the object and releasing it above the target)."""

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
    grasp_steps: int = 8
    release_clearance: float = 0.08  # the held object's bottom this far above the target when released
    release_steps: int = 6
    rise_steps: int = 8
    yaw_gain: float = 2.0  # rotation action per radian of finger-axis error (an action of 1 turns 0.5 rad)
    tolerance: float = 0.01  # a move ends within this distance ...
    move_steps: int = 80  # ... or after this many steps


class UnsupportedGoal(ValueError):
    """The task's goal holds a predicate the scripted expert cannot achieve."""


def goal_predicates(sim: Any) -> list[list[str]]:
    """The task's BDDL goal as a list of ``[predicate, arg, ...]`` (lower case), from the built simulator."""
    return [[str(p).lower() for p in pred] for pred in sim.env.parsed_problem["goal_state"]]


def check_supported(goal: list[list[str]]) -> None:
    bad = [pred for pred in goal if pred[0] not in SUPPORTED or len(pred) != 3]
    if bad:
        raise UnsupportedGoal(f"the scripted expert handles goal predicates {list(SUPPORTED)}; this task needs {bad}")


class PickPlaceExpert:
    """Closed-loop actions for one LIBERO simulator, one pick-and-place per goal predicate.

    Call :meth:`act` with each robosuite observation (it needs only ``robot0_eef_pos``; object and target
    positions are read from ``sim``), until :attr:`finished`. Built after ``set_init_state`` so the goal is the
    current task's.
    """

    def __init__(self, sim: Any, params: ExpertParams | None = None) -> None:
        self.sim = sim
        self.params = params or ExpertParams()
        self.goal = goal_predicates(sim)
        check_supported(self.goal)
        self._plan = self._steps()
        self._eef = np.zeros(3)
        self.phase = "settle"
        self.finished = False

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """The next 7-dim action (delta position, zero rotation, gripper); a no-op once :attr:`finished`."""
        self._eef = np.asarray(obs["robot0_eef_pos"], dtype=np.float64)
        try:
            return next(self._plan)
        except StopIteration:
            self.finished = True
            return self._action(self._eef, OPEN)

    # ---- privileged state

    def _body_pos(self, name: str) -> np.ndarray:
        return np.array(self.sim.sim.data.body_xpos[self.sim.env.obj_body_id[name]])

    def _extent(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """World-frame bounding box of a body's collision geoms: grasp heights differ by object shape.

        Body origins are not object centres (a standing can's origin is mid-height, a lying box's at its base),
        so heights are taken from the geometry itself.
        """
        model, data = self.sim.sim.model, self.sim.sim.data
        body = self.sim.env.obj_body_id[name]
        lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
        for g in np.flatnonzero((np.asarray(model.geom_bodyid) == body) & (np.asarray(model.geom_contype) != 0)):
            rot = np.asarray(data.geom_xmat[g]).reshape(3, 3)
            centre = data.geom_xpos[g] + rot @ model.geom_aabb[g][:3]
            half = np.abs(rot) @ model.geom_aabb[g][3:]
            lo, hi = np.minimum(lo, centre - half), np.maximum(hi, centre + half)
        if not np.all(np.isfinite(lo)):
            pos = self._body_pos(name)
            return pos, pos
        return lo, hi

    def _corners(self, name: str) -> np.ndarray:
        """World corners of the boxes bounding each collision geom of a body: its footprint for yaw choice."""
        model, data = self.sim.sim.model, self.sim.sim.data
        body = self.sim.env.obj_body_id[name]
        signs = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64)
        points = []
        for g in np.flatnonzero((np.asarray(model.geom_bodyid) == body) & (np.asarray(model.geom_contype) != 0)):
            rot = np.asarray(data.geom_xmat[g]).reshape(3, 3)
            local = model.geom_aabb[g][:3] + signs * model.geom_aabb[g][3:]
            points.append(data.geom_xpos[g] + local @ rot.T)
        return np.concatenate(points) if points else self._body_pos(name)[None]

    def _yaw_error(self, name: str) -> float:
        """Rotation about z that lines the fingers up with the object's narrowest horizontal width.

        A lying box (cream cheese, butter) is wider than the open gripper along its long side, so the fingers
        must close across the short side. Angles are modulo pi: the two fingers are interchangeable.
        """
        xy = self._corners(name)[:, :2]
        angles = np.linspace(0.0, np.pi, 36, endpoint=False)
        directions = np.stack([np.cos(angles), np.sin(angles)], axis=1)
        widths = np.ptp(xy @ directions.T, axis=0)
        if widths.max() - widths.min() < 0.01:  # round enough: any angle grasps it
            return 0.0
        wanted = angles[int(np.argmin(widths))]
        fingers = self._finger_axis()
        current = np.arctan2(fingers[1], fingers[0])
        return float((wanted - current + np.pi / 2) % np.pi - np.pi / 2)

    def _finger_axis(self) -> np.ndarray:
        """Unit vector from the left to the right finger: the direction the gripper closes along."""
        data, model = self.sim.sim.data, self.sim.sim.model
        axis = np.array(
            data.body_xpos[model.body_name2id("gripper0_rightfinger")]
            - data.body_xpos[model.body_name2id("gripper0_leftfinger")]
        )
        axis[2] = 0.0
        return axis / max(np.linalg.norm(axis), 1e-9)

    def _grasp_point(self, name: str) -> np.ndarray:
        lo, hi = self._extent(name)
        z = max(hi[2] - self.params.grasp_depth, lo[2] + self.params.grasp_floor)
        return np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, z])

    def _target_pos(self, name: str) -> np.ndarray:
        """A region is a MuJoCo site; an object target (``on`` a plate) is a body."""
        if name in self.sim.env.obj_body_id:
            return self._body_pos(name)
        return np.array(self.sim.sim.data.get_site_xpos(name))

    # ---- primitives

    def _action(self, target: np.ndarray, gripper: float, yaw: float = 0.0) -> np.ndarray:
        delta = np.clip(self.params.gain * (target - self._eef), -1.0, 1.0)
        turn = np.clip(self.params.yaw_gain * yaw, -1.0, 1.0)
        return np.concatenate([delta, [0.0, 0.0, turn], [gripper]])

    def _move(
        self, phase: str, target_of: Any, gripper: float, tolerance: float | None = None, align: str | None = None
    ) -> Iterator[np.ndarray]:
        """Servo to ``target_of()`` (re-read every step: objects move) until close enough or out of steps.

        With ``align`` the fingers also turn towards that object's narrow side, and the move lasts until both
        position and yaw (within 0.1 rad) are reached.
        """
        self.phase = phase
        tolerance = self.params.tolerance if tolerance is None else tolerance
        for _ in range(self.params.move_steps):
            target = target_of()
            yaw = self._yaw_error(align) if align else 0.0
            if np.linalg.norm(target - self._eef) < tolerance and abs(yaw) < 0.1:
                return
            yield self._action(target, gripper, yaw)

    def _hold(self, phase: str, steps: int, gripper: float, target_of: Any = None) -> Iterator[np.ndarray]:
        self.phase = phase
        for _ in range(steps):
            yield self._action(self._eef if target_of is None else target_of(), gripper)

    def _steps(self) -> Iterator[np.ndarray]:
        p = self.params
        yield from self._hold("settle", p.settle_steps, OPEN)
        up = np.array([0.0, 0.0, 1.0])
        for _, obj, target in self.goal:
            top = self._extent(obj)[1][2]
            above = lambda o=obj, z=top + p.approach_height: self._grasp_point(o) * [1, 1, 0] + z * up  # noqa: E731
            yield from self._move("approach", above, OPEN, align=obj)
            yield from self._move("descend", lambda o=obj: self._grasp_point(o), OPEN, tolerance=0.005, align=obj)
            hold_at = self._eef.copy()
            hang = hold_at[2] - self._extent(obj)[0][2]  # end effector height above the object's bottom
            yield from self._hold("grasp", p.grasp_steps, CLOSE, lambda h=hold_at: h)
            carry_z = self._target_pos(target)[2] + p.release_clearance + hang
            yield from self._move("lift", lambda z=carry_z: np.array([*self._eef[:2], z]), CLOSE, tolerance=0.02)
            carry = lambda t=target, z=carry_z: np.array([*self._target_pos(t)[:2], z])  # noqa: E731
            yield from self._move("carry", carry, CLOSE, tolerance=0.015)
            yield from self._hold("release", p.release_steps, OPEN, carry)
            rise_to = self._eef + 0.1 * up
            yield from self._hold("rise", p.rise_steps, OPEN, lambda r=rise_to: r)


@dataclass
class ExpertEpisode:
    """One expert attempt: whether the goal held, policy steps taken, and the recorded steps if asked for.

    ``frames`` holds ``(obs, action, state)`` with the observation *after* the action and the flattened sim
    state *before* it, the pairing of the official files (``LiberoHDF5Writer.add_step``); the settle steps are
    left out, as the official conversion drops the first 5 steps of each replay.
    """

    success: bool
    steps: int
    frames: list[tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]]


def run_expert(
    sim: Any, init_state: np.ndarray, *, max_steps: int, record: bool = False, params: ExpertParams | None = None
) -> ExpertEpisode:
    """Reset ``sim`` to ``init_state`` and run the expert until the goal holds, it gives up, or ``max_steps``.

    The episode ends on the first step where ``sim.check_success()`` is true, like an evaluation episode.
    """
    sim.reset()
    obs = sim.set_init_state(init_state)
    expert = PickPlaceExpert(sim, params)
    frames: list[tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]] = []
    for step in range(1, max_steps + 1):
        action = expert.act(obs)
        if expert.finished:
            return ExpertEpisode(False, step - 1, frames)
        state = sim.sim.get_state().flatten() if record else None
        obs, _, _, _ = sim.step(action)
        if record and step > expert.params.settle_steps:
            frames.append(({k: np.array(v) for k, v in obs.items()}, action, state))
        if sim.check_success():
            return ExpertEpisode(True, step, frames)
    return ExpertEpisode(False, max_steps, frames)
