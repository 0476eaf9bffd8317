"""From a task's BDDL goal to an ordered list of subgoals, each achieved by one primitive.

A goal lists what must hold at the end, not how to get there: ``(In bowl top_drawer_region)`` needs the drawer
opened first, and the order of the predicates in the file is not always an order that works (libero_10's
"put the bowl in the drawer and close it" lists the ``Close`` first). :func:`plan` makes the order explicit,
so the expert itself only runs one primitive per subgoal:

1. knobs first (``turnon``/``turnoff``): a pot put on the stove first could stand in the way of the hand;
2. goal ``open`` predicates;
3. each ``in``/``on`` placement, preceded by an inserted ``open`` of its container when that starts closed;
   flat wide objects (a plate) become a ``push`` along the table;
4. goal ``close`` predicates last, after everything that goes inside.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from foresight.envs.libero.articulation import container, is_flat, is_hinged, move_joint, push, state, turn_knob
from foresight.envs.libero.expert_params import ExpertParams
from foresight.envs.libero.pick_place import pick_and_place

if TYPE_CHECKING:
    from foresight.envs.libero.expert import ScriptedExpert

Subgoal = list[str]
Primitive = Callable[["ScriptedExpert", Subgoal], Iterator[np.ndarray]]


class UnsupportedGoal(ValueError):
    """The task's goal holds a predicate the scripted expert cannot achieve."""


PRIMITIVES: dict[str, Primitive] = {
    "in": pick_and_place,
    "on": pick_and_place,
    "push": push,
    "open": move_joint,
    "close": move_joint,
    "turnon": turn_knob,
    "turnoff": turn_knob,
}
"""The primitive of each subgoal kind; ``push`` is the planner's own, never a goal predicate."""

ARITY = {"in": 3, "on": 3, "open": 2, "close": 2, "turnon": 2, "turnoff": 2}
"""Arguments (predicate included) of each supported goal predicate."""

KNOBS = ("turnon", "turnoff")
PLACEMENTS = ("in", "on")


@dataclass(frozen=True)
class Scene:
    """What the planner needs to know about the simulator at the start of an episode.

    ``containers`` maps a placement target to what must be open to reach it (a drawer region, a microwave);
    ``closed`` holds those that start closed; ``flat`` the objects too flat and wide to grasp; ``doors`` the
    hinged things (a microwave), which the expert can close but not open.
    """

    containers: dict[str, str] = field(default_factory=dict)
    closed: frozenset[str] = frozenset()
    flat: frozenset[str] = frozenset()
    doors: frozenset[str] = frozenset()


def check_supported(goal: list[Subgoal]) -> None:
    bad = [pred for pred in goal if ARITY.get(pred[0]) != len(pred)]
    if bad:
        raise UnsupportedGoal(f"the scripted expert handles goal predicates {sorted(ARITY)}; this task needs {bad}")


def read_scene(goal: list[Subgoal], sim: Any, params: ExpertParams) -> Scene:
    """The :class:`Scene` facts for ``goal``'s placements, read from LIBERO's own object states."""
    placements = [pred for pred in goal if pred[0] in PLACEMENTS]
    # Only what goes *in* needs its container open: "on" the cabinet's top side is reached from above.
    inside = [target for pred, _, target in placements if pred == "in"]
    containers = {target: c for target in inside if (c := container(sim, target)) is not None}
    closed = frozenset(c for c in containers.values() if not state(sim, c).is_open())
    on_pairs = [(obj, target) for pred, obj, target in placements if pred == "on"]
    # a plate slides onto a table region, never onto another object
    flat = frozenset(
        obj for obj, target in on_pairs if target in sim.env.object_sites_dict and is_flat(sim, obj, params)
    )
    movable = {pred[1] for pred in goal if pred[0] in ("open", "close")} | set(containers.values())
    return Scene(containers, closed, flat, frozenset(name for name in movable if is_hinged(sim, name)))


def order(goal: list[Subgoal], scene: Scene) -> list[Subgoal]:
    """The subgoals to run for ``goal`` in ``scene``, prerequisites inserted (see the module docstring)."""
    check_supported(goal)
    steps = [list(pred) for pred in goal if pred[0] in KNOBS]
    steps += [list(pred) for pred in goal if pred[0] == "open"]
    for pred in goal:
        if pred[0] not in PLACEMENTS:
            continue
        holder = scene.containers.get(pred[2])
        if holder in scene.closed and ["open", holder] not in steps:
            steps.append(["open", holder])
        steps.append(["push", *pred[1:]] if pred[1] in scene.flat else list(pred))
    steps += [list(pred) for pred in goal if pred[0] == "close"]
    doors = [step for step in steps if step[0] == "open" and step[1] in scene.doors]
    if doors:
        raise UnsupportedGoal(f"the scripted expert cannot open hinged doors; this task needs {doors}")
    return steps


def plan(goal: list[Subgoal], sim: Any, params: ExpertParams | None = None) -> list[Subgoal]:
    """The subgoals to run, in order; ``sim`` (the built simulator) tells what already holds."""
    check_supported(goal)
    return order(goal, read_scene(goal, sim, params or ExpertParams()))
