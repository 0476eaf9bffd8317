"""Synthetic, clearly fake evaluation results for tests; built in tmp_path, never written to the real store."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from foresight.leaderboard.schema import Checkpoint, Hardware, Protocol, Result, TaskOutcome, make_result

REPO = Path(__file__).resolve().parents[2]
REPORTED_YAML = REPO / "leaderboard" / "reported.yaml"
LIBERO_10_TASKS = (
    "LIVING_ROOM_SCENE2_put_both_the_alphabet_soup_and_the_tomato_sauce_in_the_basket",
    "LIVING_ROOM_SCENE2_put_both_the_cream_cheese_box_and_the_butter_in_the_basket",
    "KITCHEN_SCENE3_turn_on_the_stove_and_put_the_moka_pot_on_it",
    "KITCHEN_SCENE4_put_the_black_bowl_in_the_bottom_drawer_of_the_cabinet_and_close_it",
    "LIVING_ROOM_SCENE5_put_the_white_mug_on_the_left_plate_and_put_the_yellow_and_white_mug_on_the_right_plate",
    "STUDY_SCENE1_pick_up_the_book_and_place_it_in_the_back_compartment_of_the_caddy",
    "LIVING_ROOM_SCENE6_put_the_white_mug_on_the_plate_and_put_the_chocolate_pudding_to_the_right_of_the_plate",
    "LIVING_ROOM_SCENE1_put_both_the_alphabet_soup_and_the_cream_cheese_box_in_the_basket",
    "KITCHEN_SCENE8_put_both_moka_pots_on_the_stove",
    "KITCHEN_SCENE6_put_the_yellow_and_white_mug_in_the_microwave_and_close_it",
)
CALVIN_SUBTASKS = (
    "open_drawer",
    "move_slider_left",
    "turn_on_lightbulb",
    "push_red_block_left",
    "rotate_blue_block_right",
)
HARDWARE = Hardware("Test CPU", ("NVIDIA H100 80GB HBM3",), "Linux-test")
TIMESTAMP = "2026-01-02T03:04:05Z"
STEP_LIMITS = {"libero_spatial": 220, "libero_object": 280, "libero_goal": 300, "libero_10": 520}  # openpi


def libero_protocol(trials: int = 50, suite: str = "libero_10", checkpoints: int = 1, **overrides) -> Protocol:
    fields = {
        "trials_per_task": trials,
        "seeds": (7,),
        "max_steps": STEP_LIMITS.get(suite, 400),
        "warmup_steps": 10,
        "image_convention": "rot180",
        "action_execution": "receding_horizon",
        "replan_every": 5,
        "init_states": "libero_official",
        "checkpoints_averaged": checkpoints,
    }
    fields.update(overrides)
    return Protocol(**fields)


def checkpoint(method: str = "clad", steps: int | tuple[int, ...] = 200_000) -> Checkpoint:
    return Checkpoint("0123456789abcdef0123456789abcdef01234567", "0.1.0", "sha256:data", steps, f"runs/{method}")


def libero_result(
    method: str = "clad",
    successes: Sequence[int] = (50, 50, 49, 47, 45, 50, 47, 50, 41, 44),
    *,
    suite: str = "libero_10",
    protocol: Protocol | None = None,
    kind: str = "reproduced",
    config: dict | None = None,
    steps: int | tuple[int, ...] = 200_000,
) -> Result:
    protocol = protocol or libero_protocol(suite=suite)
    trials = protocol.trials_per_task * protocol.checkpoints_averaged
    names = LIBERO_10_TASKS if suite == "libero_10" else tuple(f"{suite}_task_{i}" for i in range(len(successes)))
    tasks = [TaskOutcome(i, names[i], s, trials) for i, s in enumerate(successes)]
    return make_result(
        method=method,
        config=config if config is not None else {"method": method, "lr": 3e-4, "horizon": 6},
        checkpoint=checkpoint(method, steps),
        benchmark="libero",
        suite=suite,
        protocol=protocol,
        tasks=tasks,
        wall_time_s=5400.0,
        kind=kind,
        hardware=HARDWARE,
        timestamp=TIMESTAMP,
    )


def calvin_protocol(num_chains: int) -> Protocol:
    return Protocol(
        trials_per_task=1,
        seeds=(0,),
        max_steps=360,
        warmup_steps=0,
        image_convention="raw",
        action_execution="receding_horizon",
        replan_every=1,
        init_states="calvin_official",
        num_chains=num_chains,
    )


def calvin_tasks(chain_lengths: Sequence[int]) -> list[TaskOutcome]:
    """Per-subtask counts consistent with the chains: chain i attempts subtasks i, i+1, ... until it fails."""
    attempts: Counter[str] = Counter()
    wins: Counter[str] = Counter()
    for i, completed in enumerate(chain_lengths):
        for j in range(min(completed + 1, 5)):
            name = CALVIN_SUBTASKS[(i + j) % len(CALVIN_SUBTASKS)]
            attempts[name] += 1
            wins[name] += j < completed
    return [TaskOutcome(k, n, wins[n], attempts[n]) for k, n in enumerate(sorted(attempts))]


def calvin_result(method: str = "clad", chain_lengths: Sequence[int] = (5, 5, 4, 3, 2, 5, 1, 0, 5, 4)) -> Result:
    return make_result(
        method=method,
        config={"method": method},
        checkpoint=checkpoint(method),
        benchmark="calvin",
        suite="abc_d",
        protocol=calvin_protocol(len(chain_lengths)),
        tasks=calvin_tasks(chain_lengths),
        chain_lengths=chain_lengths,
        wall_time_s=600.0,
        hardware=HARDWARE,
        timestamp=TIMESTAMP,
    )


STUDY_COMPONENTS = {"encoder": "enc", "head": "h-1", "data": "sha256:data", "protocol": "", "foresight": "F"}


def study_result(arm: str, seed: int, successes: Sequence[int], *, head: str = "h-1", study: str = "s") -> dict:
    """A result as `foresight study` files it: an arm and seed of study ``study``, with its components."""
    res = libero_result(f"m_{arm}", successes=successes).to_dict()
    res["checkpoint"]["run_dir"] = f"runs/study/{study}/runs/{arm}/seed{seed}"
    res["study"] = {"name": study, "arm": arm, "label": arm.title(), "seed": seed}
    res["components"] = {**STUDY_COMPONENTS, "protocol": res["protocol"]["protocol_id"], "foresight": arm, "head": head}
    return res


def study_results() -> list[dict]:
    """Two arms x two seeds; the second arm's head differs (flagged)."""
    return [
        study_result("both", 0, (50,) * 10),
        study_result("both", 1, (40,) * 10),
        study_result("none", 0, (10,) * 10, head="h-2"),
        study_result("none", 1, (20, 30) * 5, head="h-2"),
    ]
