"""One live LIBERO simulator that runs episodes of a suite under the protocol.

A LIBERO scene is built from the task's BDDL file, so the simulator is rebuilt when an episode of another task
arrives (about 9 s) and kept while episodes of the same task follow; the runner should hand a worker the
episodes of one task in a row. One simulator with two 128x128 cameras takes about 1.8 GB.

Cameras render only at the steps whose images are read (``step(action, render=False)`` steps physics alone, see
:mod:`foresight.envs.libero.cameras`): the warm-up renders its last frame only, and an evaluation loop renders
the frames its policy reads. Proprio and the success check are computed every step. Later trials of the task
keep the compiled MuJoCo model (``env.reset=reuse_model``, :mod:`foresight.envs.libero.reset`) rather than
recompiling it in robosuite's hard reset, with bitwise the same outcome.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from foresight.envs.libero.cameras import CameraGate
from foresight.envs.libero.config import DUMMY_ACTION, LiberoConfig
from foresight.envs.libero.observation import to_observation
from foresight.envs.libero.reset import ModelReuse
from foresight.envs.libero.sim import CAMERAS, image_convention, make_sim
from foresight.envs.libero.tasks import LiberoTask, get_task, load_init_states
from foresight.rollout import EpisodeSpec, Observation, RolloutEnv, StepResult

ACTION_DIM = 7


class LiberoRolloutEnv(RolloutEnv):
    """Resets to the official initial states, warms up with the dummy action, and counts policy steps."""

    def __init__(self, config: LiberoConfig) -> None:
        self.config = config
        self._sim: Any = None
        self._task: LiberoTask | None = None
        self._init_states: np.ndarray | None = None
        self._steps = 0
        self._done = True
        self._cameras = CameraGate(CAMERAS, config.camera_size)
        self._model_reuse: ModelReuse | None = None

    def _ensure_task(self, task_index: int) -> LiberoTask:
        if self._task is None or self._task.index != task_index:
            self.close()
            task = get_task(self.config.suite, task_index)
            self._sim = make_sim(task, camera_size=self.config.camera_size, render=True)
            actual = image_convention()
            if actual != self.config.image_convention:
                raise RuntimeError(
                    f"robosuite renders with image convention {actual!r} but the protocol says "
                    f"{self.config.image_convention!r}; set env.image_convention={actual} (and check the training "
                    "data's convention) or restore robosuite.macros.IMAGE_CONVENTION"
                )
            self._task = task
            self._init_states = load_init_states(task)
            self._model_reuse = ModelReuse() if self.config.reset == "reuse_model" else None
        return self._task

    def reset(self, episode: EpisodeSpec) -> Observation:
        task = self._ensure_task(episode.task_index)
        if episode.task != task.name:
            raise ValueError(
                f"episode {episode.key} names task {episode.task!r} but task {task.index} is {task.name!r}"
            )
        assert self._init_states is not None
        if not 0 <= episode.init_index < len(self._init_states):
            raise IndexError(
                f"{task.name} has {len(self._init_states)} initial states; episode {episode.key} asks for "
                f"init_index {episode.init_index}"
            )
        self._sim.seed(episode.seed)  # LIBERO seeds NumPy's global RNG; the fixed init states make it moot
        if self._model_reuse is None:
            self._sim.reset()
        else:
            with self._model_reuse.applied(self._sim.env):
                self._sim.reset()
        self._cameras.install(self._sim.env)  # robosuite's reset built new sensors
        wait = self.config.num_steps_wait
        self._cameras.open = wait == 0  # only the frame after the warm-up is read
        raw = self._sim.set_init_state(self._init_states[episode.init_index])
        for i in range(wait):
            self._cameras.open = i == wait - 1
            raw, _, _, _ = self._sim.step(np.asarray(DUMMY_ACTION))
        self._steps = 0
        self._done = False
        return to_observation(raw, task.instruction, self.config.image_convention)

    def step(self, action: Any, render: bool = True) -> StepResult:
        if self._done:
            raise RuntimeError("step() after the episode ended: call reset() with the next episode first")
        action = np.asarray(action, dtype=np.float64).reshape(-1)
        if action.shape != (ACTION_DIM,):
            raise ValueError(
                f"LIBERO takes 7-dim actions (delta position, delta axis-angle, gripper); got {action.shape}"
            )
        if not np.all(np.isfinite(action)):
            raise ValueError(f"action has non-finite values: {action.tolist()}")
        self._cameras.open = render
        raw, _, _, _ = self._sim.step(action)
        self._steps += 1
        success = bool(self._sim.check_success())
        self._done = success or self._steps >= self.config.step_limit
        assert self._task is not None
        observation = to_observation(raw, self._task.instruction, self.config.image_convention, images=render)
        return StepResult(observation=observation, success=success, done=self._done, info={"steps": self._steps})

    def close(self) -> None:
        if self._sim is not None:
            self._sim.close()
        self._sim = None
        self._task = None
        self._init_states = None
        self._model_reuse = None
        self._done = True
