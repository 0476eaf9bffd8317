"""A scripted expert for LIBERO, driven by the BDDL goal and privileged simulator poses.

It makes real-simulator demonstrations without a hub download (the official ones live on a hub). The goal is
read from ``env.env.parsed_problem["goal_state"]``; :mod:`foresight.envs.libero.planner` turns it into an ordered
list of subgoals (one predicate each, prerequisites such as opening a drawer inserted), and each subgoal runs a
primitive (:mod:`~foresight.envs.libero.pick_place`, :mod:`~foresight.envs.libero.articulation`). This module
holds what every primitive shares: privileged scene queries and closed-loop moves of the end effector towards
points re-read from live body / site positions. Goals the planner has no primitive for are refused with an error
naming the predicate, so a generator never records demonstrations of a task the expert does not understand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import mujoco
import numpy as np

from foresight.envs.libero.expert_params import CLOSE, OPEN, ExpertParams
from foresight.envs.libero.planner import PRIMITIVES, plan
from foresight.envs.libero.scene import Boxes, body_boxes, boxes_except, widths

UP_AXIS = np.array([0.0, 0.0, 1.0])


def goal_predicates(sim: Any) -> list[list[str]]:
    """The task's BDDL goal as a list of ``[predicate, arg, ...]`` (lower case), from the built simulator."""
    return [[str(p).lower() for p in pred] for pred in sim.env.parsed_problem["goal_state"]]


class ScriptedExpert:
    """Closed-loop actions for one LIBERO simulator, one primitive per planned subgoal.

    Call :meth:`act` with each robosuite observation (it needs only ``robot0_eef_pos``; object and target
    positions are read from ``sim``), until :attr:`finished`. Built after ``set_init_state`` so the goal is the
    current task's.
    """

    def __init__(self, sim: Any, params: ExpertParams | None = None) -> None:
        self.sim = sim
        self.params = params or ExpertParams()
        self.goal = goal_predicates(sim)
        self.subgoals = plan(self.goal, sim, self.params)  # raises UnsupportedGoal before any step is taken
        self._plan = self._steps()
        self.eef = np.zeros(3)
        self.phase = "settle"
        self.finished = False

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """The next 7-dim action (delta position, zero rotation, gripper); a no-op once :attr:`finished`."""
        self.eef = np.asarray(obs["robot0_eef_pos"], dtype=np.float64)
        try:
            return next(self._plan)
        except StopIteration:
            self.finished = True
            return self.action(self.eef, OPEN)

    # ---- privileged state

    def body_pos(self, name: str) -> np.ndarray:
        return np.array(self.sim.sim.data.body_xpos[self.sim.env.obj_body_id[name]])

    def boxes(self, name: str) -> Boxes:
        """World boxes of the colliding geoms on an object's own body (see :mod:`~foresight.envs.libero.scene`)."""
        model, data = self.sim.sim.model, self.sim.sim.data
        return body_boxes(model, data, self.sim.env.obj_body_id[name])

    def extent(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """World-frame bounding box of a body's collision geoms: grasp heights differ by object shape.

        Body origins are not object centres (a standing can's origin is mid-height, a lying box's at its base),
        so heights are taken from the geometry itself.
        """
        box = self.boxes(name).extent()
        if box is None:
            pos = self.body_pos(name)
            return pos, pos
        return box

    def corners(self, name: str) -> np.ndarray:
        """World corners of the boxes bounding each collision geom of a body: its footprint for yaw choice."""
        corners = self.boxes(name).corners()
        return corners if len(corners) else self.body_pos(name)[None]

    def yaw_error(self, name: str) -> float:
        """Rotation about z that lines the fingers up with the object's narrowest horizontal width.

        A lying box (cream cheese, butter) is wider than the open gripper along its long side, so the fingers
        must close across the short side.
        """
        angles, spans = widths(self.corners(name))
        if spans.max() - spans.min() < self.params.round_tolerance:  # round enough: any angle grasps it
            return 0.0
        return self.yaw_towards(angles[int(np.argmin(spans))])

    def yaw_towards(self, angle: float) -> float:
        """Rotation about z that turns the finger axis to ``angle``, modulo pi: the two fingers are interchangeable."""
        fingers = self.finger_axis()
        current = np.arctan2(fingers[1], fingers[0])
        return float((angle - current + np.pi / 2) % np.pi - np.pi / 2)

    def floor_height(self, name: str) -> float:
        """Height of the first surface met straight down through the centre of the object's footprint.

        Near the top for a solid object, near the bottom for a hollow one (a bowl, a mug), whose middle the
        fingers would close on air.
        """
        lo, hi = self.extent(name)
        start = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, hi[2] + 0.05])
        geom = np.array([-1], dtype=np.int32)
        distance = mujoco.mj_ray(self.sim.sim.model._model, self.sim.sim.data._data, start, -UP_AXIS, None, 1, -1, geom)
        return float(start[2] - distance) if distance >= 0 else float(lo[2])

    def finger_axis(self) -> np.ndarray:
        """Unit vector from the left to the right finger: the direction the gripper closes along."""
        data, model = self.sim.sim.data, self.sim.sim.model
        axis = np.array(
            data.body_xpos[model.body_name2id("gripper0_rightfinger")]
            - data.body_xpos[model.body_name2id("gripper0_leftfinger")]
        )
        axis[2] = 0.0
        return axis / max(np.linalg.norm(axis), 1e-9)

    def obstacles(self, name: str) -> Boxes:
        """Oriented boxes around every colliding geom but the object's and the robot's.

        Fixtures are included (a drawer's walls), which :meth:`extent` cannot see: their geoms hang on child bodies.
        """
        model = self.sim.sim.model
        own = self.sim.env.obj_body_id[name]
        robot = [b for b in range(model.nbody) if model.body_id2name(b).startswith(("robot0", "gripper0"))]
        return boxes_except(model, self.sim.sim.data, [own, *robot])

    def finger_gap(self) -> float:
        """Opening of the gripper (sum of the two finger joints): it stops shrinking once something is held."""
        data, model = self.sim.sim.data, self.sim.sim.model
        joints = ("gripper0_finger_joint1", "gripper0_finger_joint2")
        return float(sum(abs(data.qpos[model.get_joint_qpos_addr(j)]) for j in joints))

    def robot_base(self) -> np.ndarray:
        model = self.sim.sim.model
        return np.array(self.sim.sim.data.body_xpos[model.body_name2id("robot0_base")])

    def target_pos(self, name: str) -> np.ndarray:
        """A region is a MuJoCo site; an object target (``on`` a plate) is a body."""
        if name in self.sim.env.obj_body_id:
            return self.body_pos(name)
        return np.array(self.sim.sim.data.get_site_xpos(name))

    # ---- primitives

    def action(self, target: np.ndarray, gripper: float, yaw: float = 0.0) -> np.ndarray:
        delta = np.clip(self.params.gain * (target - self.eef), -1.0, 1.0)
        turn = np.clip(self.params.yaw_gain * yaw, -1.0, 1.0)
        return np.concatenate([delta, [0.0, 0.0, turn], [gripper]])

    def move(
        self,
        phase: str,
        target_of: Callable[[], np.ndarray],
        gripper: float,
        tolerance: float | None = None,
        yaw_of: Callable[[], float] | None = None,
    ) -> Iterator[np.ndarray]:
        """Servo to ``target_of()`` (re-read every step: objects move) until close enough, blocked or out of steps.

        With ``yaw_of`` (the remaining rotation about z, e.g. :meth:`yaw_error`) the hand also turns, and the move
        lasts until both position and yaw (within 0.1 rad) are reached.
        """
        self.phase = phase
        tolerance = self.params.tolerance if tolerance is None else tolerance
        trail: list[np.ndarray] = []
        for _ in range(self.params.move_steps):
            target = target_of()
            yaw = yaw_of() if yaw_of else 0.0
            trail = [*trail[-self.params.stall_steps + 1 :], self.eef]
            if abs(yaw) < 0.1 and (np.linalg.norm(target - self.eef) < tolerance or self._stalled(trail)):
                return
            yield self.action(target, gripper, yaw)

    def _stalled(self, trail: list[np.ndarray]) -> bool:
        """The hand has not moved for ``stall_steps``: something blocks it, waiting longer will not help."""
        p = self.params
        return len(trail) == p.stall_steps and float(np.linalg.norm(trail[-1] - trail[0])) < p.stall_distance

    def hold(self, phase: str, steps: int, gripper: float, target_of: Any = None) -> Iterator[np.ndarray]:
        self.phase = phase
        for _ in range(steps):
            yield self.action(self.eef if target_of is None else target_of(), gripper)

    def grip(self, phase: str, at: np.ndarray) -> Iterator[np.ndarray]:
        """Close the fingers at ``at`` until they stop moving: a thin rim is held only once they nearly meet."""
        self.phase = phase
        gap = self.finger_gap()
        for step in range(self.params.grasp_max_steps):
            yield self.action(at, CLOSE)
            gap, before = self.finger_gap(), gap
            if step + 1 >= self.params.grasp_steps and before - gap < self.params.grip_still:
                return

    def _steps(self) -> Iterator[np.ndarray]:
        yield from self.hold("settle", self.params.settle_steps, OPEN)
        for subgoal in self.subgoals:
            yield from PRIMITIVES[subgoal[0]](self, subgoal)


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
    expert = ScriptedExpert(sim, params)
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
