"""Building one LIBERO simulator for a task, with or without cameras.

Only this module (and what it calls at run time) imports robosuite, so importing ``foresight.envs.libero``
never starts MuJoCo or a rendering context: the evaluation runner constructs simulators inside its workers.
"""

from __future__ import annotations

import contextlib
import io
import logging
from typing import Any

import numpy as np

from foresight.envs.libero.rendering import select_mujoco_gl
from foresight.envs.libero.tasks import INSTALL_HINT, LiberoTask

CAMERAS = ("agentview", "robot0_eye_in_hand")
"""The official dataset's two cameras (create_dataset.py), in its order of the ``camera_names`` list."""

HORIZON_MARGIN = 10_000
"""robosuite stops an episode at its ``horizon``; we count steps against the protocol ourselves instead."""


def make_sim(task: LiberoTask, *, camera_size: int = 128, render: bool = True) -> Any:
    """A LIBERO ``ControlEnv`` for ``task``; ``render=False`` skips cameras (10x faster, for experts)."""
    if render:
        select_mujoco_gl()
    logging.getLogger("robosuite_logs").setLevel(logging.ERROR)  # its "private macro file" advice at import
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            from libero.libero.envs.env_wrapper import ControlEnv, OffScreenRenderEnv
        except ImportError as exc:
            raise ImportError(f"{INSTALL_HINT} ({exc})") from exc
    kwargs: dict[str, Any] = dict(
        bddl_file_name=task.bddl_file,
        camera_names=list(CAMERAS),
        camera_heights=camera_size,
        camera_widths=camera_size,
        horizon=HORIZON_MARGIN,
        ignore_done=True,
    )
    if render:
        return OffScreenRenderEnv(**kwargs)
    return ControlEnv(has_renderer=False, has_offscreen_renderer=False, use_camera_obs=False, **kwargs)


def sample_init_state(sim: Any, seed: tuple[int, ...]) -> np.ndarray:
    """A fresh placement of the task's objects, reproducible from ``seed``, as a flattened MuJoCo state.

    LIBERO's region samplers draw from NumPy's global generator during ``reset()``; it is seeded here and put
    back afterwards so that sampling a placement leaves the caller's random stream untouched.
    """
    saved = np.random.get_state()
    np.random.seed(np.random.SeedSequence(list(seed)).generate_state(1))
    try:
        sim.reset()
    finally:
        np.random.set_state(saved)
    return sim.sim.get_state().flatten()


def image_convention() -> str:
    """How robosuite renders in this process (``macros.IMAGE_CONVENTION``)."""
    import robosuite.macros as macros

    return macros.IMAGE_CONVENTION
