"""Both sides of every threshold of the CALVIN task oracle, on hand-made infos (no calvin_env, no fixtures).

Each case sits at 0.9x or 1.1x of a threshold of the shipped ``tasks.yaml`` or of a check's default, so moving any
threshold by 20 % (in ``tasks.yaml`` or in ``oracle.py``) flips at least one expected set. The one exception is
raising ``rotate_object``'s ``z_threshold`` above 180 degrees: Euler angles never exceed 180, so that change
cannot alter a decision. Every case asks the oracle about all 34 tasks, so a case also fails when an unrelated
task fires.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from scipy.spatial.transform import Rotation

from foresight.envs.calvin import TaskOracle
from foresight.envs.calvin.resources import TASKS, data_file

ROBOT, TABLE = 0, 5
LINKS = {"base_link": -1, "slide_link": 2, "drawer_link": 3, "plank_link": 6}
BLOCKS = {"block_red": 2, "block_blue": 3, "block_pink": 4}


def _contact(body: int, link: int = -1) -> list:
    """A pybullet contact point: index 2 is the other body, index 4 its link."""
    return [0, 0, body, -1, link, [0, 0, 0], [0, 0, 0], [0, 0, 1], 0.0, 1.0, 0.0, [1, 0, 0], 0.0, [0, 1, 0]]


def _scene() -> dict[str, Any]:
    """Three blocks at rest on the table top, the robot touching nothing, doors half open, lights steady."""
    blocks = {
        name: {
            "uid": uid,
            "current_pos": [0.1 * uid, 0.0, 0.46],
            "current_orn": list(Rotation.from_euler("z", 10 * uid, degrees=True).as_quat()),
            "current_lin_vel": [0.0, 0.0, 0.0],
            "current_ang_vel": [0.0, 0.0, 0.0],
            "contacts": [_contact(TABLE, LINKS["base_link"])],
        }
        for name, uid in BLOCKS.items()
    }
    return {
        "robot_info": {"uid": ROBOT, "contacts": []},
        "scene_info": {
            "movable_objects": blocks,
            "fixed_objects": {"table": {"uid": TABLE, "links": dict(LINKS)}},
            "doors": {"base__slide": {"current_state": 0.3}, "base__drawer": {"current_state": 0.12}},
            "lights": {"lightbulb": {"logical_state": 1}, "led": {"logical_state": 0}},
        },
    }


def _block(info: dict, block: str = "block_red") -> dict:
    return info["scene_info"]["movable_objects"][block]


def _named(expected: set[str], block: str) -> set[str]:
    """The red block's task names for ``block`` (``rotate_red_block_left`` -> ``rotate_blue_block_left``)."""
    color = block.removeprefix("block_")
    return {name.replace("_red_", f"_{color}_") for name in expected}


every_block = pytest.mark.parametrize("block", list(BLOCKS))


@pytest.fixture(scope="module")
def oracle() -> TaskOracle:
    return TaskOracle(data_file(TASKS))


def test_a_scene_that_does_not_change_completes_nothing(oracle: TaskOracle) -> None:
    assert oracle.completed(_scene(), _scene()) == set()


def _rotated(degrees: tuple[float, float, float], moved_y: float = 0.0, block: str = "block_red") -> tuple[dict, dict]:
    """``block`` turned by extrinsic x, y, z Euler angles (degrees) and slid ``moved_y`` m sideways."""
    start, end = _scene(), _scene()
    turn = Rotation.from_euler("xyz", degrees, degrees=True)
    _block(end, block)["current_orn"] = list((turn * Rotation.from_quat(_block(start, block)["current_orn"])).as_quat())
    _block(end, block)["current_pos"][1] += moved_y
    return start, end


@pytest.mark.parametrize(
    ("degrees", "moved_y", "expected"),
    [
        # z_degrees = ±60 (tasks.yaml)
        ((0, 0, 66), 0.0, {"rotate_red_block_left"}),
        ((0, 0, 54), 0.0, set()),
        ((0, 0, -66), 0.0, {"rotate_red_block_right"}),
        ((0, 0, -54), 0.0, set()),
        # z_threshold = 180 (default): a turn of 170 degrees counts (it would not under 144)
        ((0, 0, 170), 0.0, {"rotate_red_block_left"}),
        ((0, 0, -170), 0.0, {"rotate_red_block_right"}),
        # x_y_threshold = 30 (default): tilted 27 degrees is still upright, 33 is tipped over, about x and y
        ((27, 0, 90), 0.0, {"rotate_red_block_left"}),
        ((33, 0, 90), 0.0, set()),
        ((0, -27, -90), 0.0, {"rotate_red_block_right"}),
        ((0, -33, -90), 0.0, set()),
        # movement_threshold = 0.1 m (default): turned in place (0.09 m) or carried away (0.11 m)
        ((0, 0, 90), 0.09, {"rotate_red_block_left"}),
        ((0, 0, 90), 0.11, set()),
    ],
)
@every_block
def test_rotation_thresholds(oracle: TaskOracle, degrees: tuple, moved_y: float, expected: set, block: str) -> None:
    assert oracle.completed(*_rotated(degrees, moved_y, block)) == _named(expected, block)


@pytest.mark.parametrize(
    ("dx", "expected"),
    [(0.11, {"push_red_block_right"}), (0.09, set()), (-0.11, {"push_red_block_left"}), (-0.09, set())],
)
@every_block
def test_push_threshold_is_0_1_m_along_x(oracle: TaskOracle, dx: float, expected: set, block: str) -> None:
    start, end = _scene(), _scene()
    _block(end, block)["current_pos"][0] += dx
    assert oracle.completed(start, end) == _named(expected, block)


@pytest.mark.parametrize(
    ("joint", "moved", "expected"),
    [
        ("base__slide", 0.165, {"move_slider_left"}),
        ("base__slide", 0.135, set()),
        ("base__slide", -0.165, {"move_slider_right"}),
        ("base__slide", -0.135, set()),
        ("base__drawer", 0.132, {"open_drawer"}),
        ("base__drawer", 0.108, set()),
        ("base__drawer", -0.132, {"close_drawer"}),
        ("base__drawer", -0.108, set()),
    ],
)
def test_door_thresholds_slider_0_15_drawer_0_12(oracle: TaskOracle, joint: str, moved: float, expected: set) -> None:
    start, end = _scene(), _scene()
    end["scene_info"]["doors"][joint]["current_state"] += moved
    assert oracle.completed(start, end) == expected


@pytest.mark.parametrize(
    ("surface", "height", "expected"),
    [
        ("base_link", 0.055, {"lift_red_block_table"}),  # 0.05 from the table top
        ("base_link", 0.045, set()),
        ("plank_link", 0.033, {"lift_red_block_slider"}),  # 0.03 from the sliding cabinet's plank
        ("plank_link", 0.027, set()),
        ("drawer_link", 0.055, {"lift_red_block_drawer"}),  # 0.05 from the drawer
        ("drawer_link", 0.045, set()),
    ],
)
@every_block
def test_lift_thresholds_per_surface(
    oracle: TaskOracle, surface: str, height: float, expected: set, block: str
) -> None:
    start, end = _scene(), _scene()
    _block(start, block)["contacts"] = [_contact(TABLE, LINKS[surface])]
    _block(end, block)["current_pos"][2] += height
    _block(end, block)["contacts"] = [_contact(ROBOT, 10)]  # held by the robot only
    assert oracle.completed(start, end) == _named(expected, block)


def _stacked(velocity_key: str, speed: float) -> tuple[dict, dict]:
    """The scene, and the scene with the red block on the blue one moving at ``speed`` along x."""
    apart, stacked = _scene(), _scene()
    _block(stacked)["contacts"] = [_contact(BLOCKS["block_blue"])]
    _block(stacked)[velocity_key] = [speed, 0.0, 0.0]
    return apart, stacked


@pytest.mark.parametrize("velocity_key", ["current_lin_vel", "current_ang_vel"])
@pytest.mark.parametrize(("speed", "at_rest"), [(0.9, True), (1.1, False)])
def test_stacking_needs_the_block_slower_than_1(oracle: TaskOracle, velocity_key: str, speed: float, at_rest: bool):
    apart, stacked = _stacked(velocity_key, speed)
    # stack_objects reads the speed at the end, unstack_objects at the start (max_vel = 1, the default)
    assert oracle.completed(apart, stacked) == ({"stack_block"} if at_rest else set())
    assert oracle.completed(stacked, apart) == ({"unstack_block"} if at_rest else set())


def test_rotation_in_the_air_and_pushes_off_the_table_do_not_count(oracle: TaskOracle) -> None:
    """The contact conditions beside the thresholds: put down after turning, resting on a surface when pushed."""
    start, end = _rotated((0, 0, 90))
    _block(end)["contacts"] = [_contact(ROBOT, 10)]
    assert oracle.completed(start, end) == set()
    start, end = _scene(), _scene()
    _block(end)["current_pos"][0] += 0.2
    _block(end)["contacts"] = []
    assert oracle.completed(start, end) == set()
    assert copy.deepcopy(start) == _scene()  # the checks never modify the infos they read
