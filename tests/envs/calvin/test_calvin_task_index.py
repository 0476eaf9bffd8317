"""A policy conditioned on ``task_index`` (``dp``) on CALVIN: the batch names the current subtask, not the chain.

Driven in one process through the worker's episode (:class:`foresight.eval.worker._Episode`, as a simulator worker
runs it) and the main process's batch builder, with the stand-in simulator, so each switch of subtask is at a known
step: open_drawer takes 4 steps on the fake, move_slider_left 5.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from calvin_fakes import (
    CLOSED_DARK,
    STEPS_NEEDED,
    ScriptedPolicy,
    calvin_info,
    fake_sim,
    loaded_policy,
    scripted_action,
)

from foresight.envs.calvin import CalvinConfig, CalvinEnv
from foresight.eval.policy import BatchedPolicy, Query
from foresight.eval.worker import WorkerSetup, _Episode
from foresight.types import INSTRUCTION, TASK_INDEX

CHAIN = ["open_drawer", "move_slider_left", "turn_on_lightbulb", "turn_on_led", "close_drawer"]
TRAINING_TASKS = ("turn_on_led", "close_drawer", "move_slider_left", "unrelated", "open_drawer", "turn_on_lightbulb")


def test_task_index_is_the_current_subtasks_and_changes_when_it_succeeds(tmp_path: Path) -> None:
    path = tmp_path / "chains.json"
    path.write_text(json.dumps([[CLOSED_DARK, CHAIN]]))
    suite = CalvinEnv(CalvinConfig(sequences_file=str(path), num_sequences=1, oracle="foresight"), fake_sim)
    episode_spec = suite.episodes()[0]
    loaded = loaded_policy(tmp_path, ScriptedPolicy(calvin_info(TRAINING_TASKS)))
    policy = BatchedPolicy(loaded.method, loaded.normalizer, loaded.spec)
    setup = WorkerSetup(
        offsets=loaded.spec.observation_offsets_at_inference,
        views=policy.views,
        proprio_keys=loaded.spec.proprio_keys,
        video_dir=str(tmp_path),
        video_fps=10,
    )
    episode = _Episode(suite.make_env(), episode_spec, setup, record_video=False)
    packed = episode.packed()
    assert packed["task"] == "open_drawer"
    batch = policy.batch([Query(task=episode_spec.task, observation=packed)])
    assert batch[TASK_INDEX].tolist() == [4]  # TRAINING_TASKS.index("open_drawer"), not -1 for the chain

    indices = []
    for subtask in CHAIN[:3]:
        instruction = suite.data.instructions[subtask]
        # Short of success the subtask stays; its last step switches to the next one (a policy reset).
        for step in range(1, STEPS_NEEDED[subtask] + 1):
            reply = episode.run(scripted_action(instruction)[None])
            assert reply[3] is (step == STEPS_NEEDED[subtask])
            batch = policy.batch([Query(task=episode_spec.task, observation=reply[1])])
            indices.append(batch[TASK_INDEX].item())
            assert TRAINING_TASKS[indices[-1]] == reply[1]["task"]
            assert batch[INSTRUCTION] == [suite.data.instructions[reply[1]["task"]]]
    assert indices == [4, 4, 4, 2, 2, 2, 2, 2, 5, 0]  # open_drawer x3, then move_slider_left, turn_on_lightbulb, ...


def test_the_episode_task_is_used_when_the_observation_names_none(tmp_path: Path) -> None:
    loaded = loaded_policy(tmp_path, ScriptedPolicy(calvin_info(TRAINING_TASKS)))
    policy = BatchedPolicy(loaded.method, loaded.normalizer, loaded.spec)
    frame = {
        "images": {v: np.zeros((2, 8, 8, 3), np.uint8) for v in policy.views},
        "proprio": np.zeros((2, 39), np.float32),
        "is_pad": np.array([True, False]),
        "instruction": "x",
    }
    queries = [
        Query(task="close_drawer", observation={**frame, "task": None}),  # LIBERO: the episode's task is asked
        Query(task="close_drawer", observation={**frame, "task": "turn_on_led"}),
        Query(task="open_drawer -> close_drawer", observation={**frame, "task": None}),  # no training task
        Query(task="close_drawer", observation={**frame, "task": "juggle"}),
    ]
    assert policy.batch(queries)[TASK_INDEX].tolist() == [1, 0, -1, -1]


def test_a_checkpoint_missing_subtasks_of_the_selected_chains_is_refused_before_simulators_start(
    tmp_path: Path,
) -> None:
    from foresight.eval.config import EvalConfig
    from foresight.eval.results import EvalError
    from foresight.eval.runner import check_task_set

    path = tmp_path / "chains.json"
    other = ["open_drawer", "push_pink_block_right", "turn_on_led", "lift_blue_block_table", "close_drawer"]
    path.write_text(json.dumps([[CLOSED_DARK, CHAIN], [CLOSED_DARK, other]]))
    suite = CalvinEnv(CalvinConfig(sequences_file=str(path), num_sequences=2, oracle="foresight"), fake_sim)
    first, second = suite.episodes()
    assert suite.episode_tasks(first) == tuple(CHAIN)
    check_task_set(suite, [first], TRAINING_TASKS, EvalConfig())  # every subtask of chain 0 was trained on
    with pytest.raises(EvalError) as info:
        check_task_set(suite, [first, second], TRAINING_TASKS, EvalConfig())
    assert "2 task(s) this evaluation asks for: lift_blue_block_table, push_pink_block_right;" in str(info.value)
