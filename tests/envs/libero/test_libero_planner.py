"""The scripted expert's planner on hand-written goals: ordering and inserted prerequisites, no simulator."""

from __future__ import annotations

import pytest

from foresight.envs.libero.planner import PRIMITIVES, Scene, UnsupportedGoal, check_supported, order

DRAWER = "wooden_cabinet_1_top_region"


def test_a_closed_drawer_is_opened_before_something_goes_in() -> None:
    goal = [["in", "akita_black_bowl_1", DRAWER]]
    scene = Scene(containers={DRAWER: DRAWER}, closed=frozenset({DRAWER}))
    assert order(goal, scene) == [["open", DRAWER], ["in", "akita_black_bowl_1", DRAWER]]


def test_an_open_drawer_is_not_opened_again() -> None:
    goal = [["in", "akita_black_bowl_1", DRAWER]]
    assert order(goal, Scene(containers={DRAWER: DRAWER})) == goal


def test_close_comes_after_the_placement_even_when_the_goal_lists_it_first() -> None:
    """libero_10 "put the black bowl in the bottom drawer and close it" lists (Close ...) before (In ...)."""
    region = "white_cabinet_1_bottom_region"
    goal = [["close", region], ["in", "akita_black_bowl_1", region]]
    closed = order(goal, Scene(containers={region: region}, closed=frozenset({region})))
    assert closed == [["open", region], ["in", "akita_black_bowl_1", region], ["close", region]]
    already_open = order(goal, Scene(containers={region: region}))
    assert already_open == [["in", "akita_black_bowl_1", region], ["close", region]]


def test_a_region_without_its_own_joint_is_opened_through_its_parent() -> None:
    goal = [["in", "white_yellow_mug_1", "microwave_1_heating_region"], ["close", "microwave_1"]]
    scene = Scene(containers={"microwave_1_heating_region": "microwave_1"}, closed=frozenset({"microwave_1"}))
    assert [step[:2] for step in order(goal, scene)] == [
        ["open", "microwave_1"],
        ["in", "white_yellow_mug_1"],
        ["close", "microwave_1"],
    ]


def test_a_closed_door_is_refused_because_the_expert_only_closes_doors() -> None:
    goal = [["in", "white_yellow_mug_1", "microwave_1_heating_region"], ["close", "microwave_1"]]
    containers = {"microwave_1_heating_region": "microwave_1"}
    doors = frozenset({"microwave_1"})
    assert order(goal, Scene(containers=containers, doors=doors))[-1] == ["close", "microwave_1"]
    with pytest.raises(UnsupportedGoal, match=r"cannot open hinged doors.*\['open', 'microwave_1'\]"):
        order(goal, Scene(containers=containers, closed=doors, doors=doors))


def test_two_objects_into_one_closed_drawer_open_it_once() -> None:
    goal = [["in", "bowl_1", DRAWER], ["in", "bowl_2", DRAWER]]
    steps = order(goal, Scene(containers={DRAWER: DRAWER}, closed=frozenset({DRAWER})))
    assert steps == [["open", DRAWER], ["in", "bowl_1", DRAWER], ["in", "bowl_2", DRAWER]]


def test_the_stove_is_turned_on_before_pots_go_on_it() -> None:
    """libero_10 task 8 lists both pots first and (Turnon flat_stove_1) last."""
    cook = "flat_stove_1_cook_region"
    goal = [["on", "moka_pot_1", cook], ["on", "moka_pot_2", cook], ["turnon", "flat_stove_1"]]
    assert order(goal, Scene()) == [["turnon", "flat_stove_1"], ["on", "moka_pot_1", cook], ["on", "moka_pot_2", cook]]


def test_a_flat_object_is_pushed_and_every_step_has_a_primitive() -> None:
    goal = [["on", "plate_1", "main_table_stove_front_region"], ["open", "wooden_cabinet_1_middle_region"]]
    steps = order(goal, Scene(flat=frozenset({"plate_1"})))
    assert steps == [["open", "wooden_cabinet_1_middle_region"], ["push", "plate_1", "main_table_stove_front_region"]]
    assert all(step[0] in PRIMITIVES for step in steps)


def test_unsupported_predicates_are_refused_by_name() -> None:
    check_supported([["in", "a_1", "b_region"], ["open", "drawer_1"], ["turnon", "flat_stove_1"]])
    with pytest.raises(UnsupportedGoal, match=r"this task needs \[\['stack', 'a_1', 'b_1'\]\]"):
        order([["in", "a_1", "b_region"], ["stack", "a_1", "b_1"]], Scene())
    with pytest.raises(UnsupportedGoal, match=r"\['open', 'drawer_1', 'extra'\]"):
        check_supported([["open", "drawer_1", "extra"]])  # a known predicate with the wrong number of arguments
    with pytest.raises(UnsupportedGoal, match=r"\['push', 'plate_1', 'region'\]"):
        check_supported([["push", "plate_1", "region"]])  # the planner's own step, never a goal predicate
