"""One live CALVIN simulator running evaluation chains exactly as ``evaluate_policy.evaluate_sequence`` does.

Per chain: reset to the chain's initial state; then for each of its 5 subtasks take ``start_info =
env.get_info()``, give the policy the subtask's validation instruction, and step up to ``ep_len`` times, asking
the oracle after every step whether the subtask was done since ``start_info``. Success moves on to the next
subtask at once (the observation that completed it is the next subtask's first); a subtask not done within
``ep_len`` steps ends the chain. The number of completed subtasks (0..5) is the chain's result.

A new subtask restarts the policy, as the official loop calls ``model.reset()`` before each: the step result
carries :data:`foresight.eval.worker.POLICY_RESET`, so the runner drops the remaining action chunk and the
observation history starts again from the new subtask's first frame. Every observation names the subtask asked at
that moment as its ``task`` (and gives its instruction), so a method conditioned on ``task_index`` gets the
subtask's index in its training tasks.

``step(action, render=False)`` steps physics without rendering the cameras: calvin_env's ``step`` builds its
observation with ``get_obs()``, whose ``get_camera_obs()`` renders every camera in ``sim.cameras``, so the camera
list is emptied for that step (:func:`cameras_off`). A step that completes a subtask renders anyway, after the
fact (``get_camera_obs()`` at the same state gives the frame ``step`` would have), because the policy's next
query reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from foresight.envs.calvin.config import CalvinConfig
from foresight.envs.calvin.oracle import SubtaskOracle, make_oracle
from foresight.envs.calvin.protocol import ProtocolData, load_protocol
from foresight.envs.calvin.sequences import EvalSequence, reset_state
from foresight.envs.calvin.sim import make_sim, to_observation
from foresight.eval.worker import POLICY_RESET
from foresight.rollout import EpisodeSpec, Observation, RolloutEnv, StepResult

ACTION_DIM = 7

SimFactory = Callable[[CalvinConfig], Any]
"""Builds the simulator from the config: :func:`foresight.envs.calvin.sim.make_sim`, or a stand-in in tests."""


def gripper_command(value: float) -> float:
    """The policy's continuous gripper output -> calvin_env's +1 (open) / -1 (close), as calvin_agent's
    ``CalvinEnvWrapper.step`` does (``1 if a > 0 else -1``); calvin_env asserts the value is exactly +-1."""
    return 1.0 if value > 0 else -1.0


@contextmanager
def cameras_off(sim: Any) -> Iterator[None]:
    """calvin_env renders ``sim.cameras`` in ``get_obs()``; with none, its observation is the state alone."""
    cameras, sim.cameras = sim.cameras, []
    try:
        yield
    finally:
        sim.cameras = cameras


class CalvinRolloutEnv(RolloutEnv):
    """Runs the chains of :class:`~foresight.envs.calvin.suite.CalvinEnv`; the simulator is built at first reset."""

    def __init__(
        self, config: CalvinConfig, sim_factory: SimFactory | None = None, protocol: ProtocolData | None = None
    ) -> None:
        self.config = config
        self.protocol: ProtocolData = protocol if protocol is not None else load_protocol(config)
        self.oracle: SubtaskOracle = make_oracle(config.oracle, self.protocol.tasks_file)
        self._sim_factory = sim_factory or make_sim
        self._sim: Any = None
        self._chain: EvalSequence | None = None
        self._done = True

    @property
    def sim(self) -> Any:
        if self._sim is None:
            self._sim = self._sim_factory(self.config)
        return self._sim

    def reset(self, episode: EpisodeSpec) -> Observation:
        chains = self.protocol.chains
        if not 0 <= episode.init_index < len(chains):
            raise IndexError(
                f"episode {episode.key} asks for chain {episode.init_index}; this protocol has {len(chains)} chains"
            )
        chain = chains[episode.init_index]
        robot_obs, scene_obs = reset_state(chain.initial_condition)
        sim = self.sim
        # Robot.reset restores joints and fingers but not the last gripper command, which robot_obs[14] reports;
        # without this the first observation of a chain would show whatever the previous chain on this worker
        # ended with, and results would depend on how chains were spread over workers.
        sim.robot.gripper_action = int(robot_obs[14])
        obs = sim.reset(robot_obs=robot_obs, scene_obs=scene_obs)
        self._chain = chain
        self._subtask = 0
        self._subtask_steps = 0
        self._steps_per_subtask: list[int] = []
        self._start_info = sim.get_info()
        self._done = False
        return self._observation(obs, chain.subtasks[0])

    def step(self, action: Any, render: bool = True) -> StepResult:
        if self._done or self._chain is None:
            raise RuntimeError("step() after the chain ended: call reset() with the next episode first")
        command = np.array(action, dtype=np.float64).reshape(-1)
        if command.shape != (ACTION_DIM,):
            raise ValueError(
                "CALVIN takes 7-dim relative actions (rel_actions: xyz / 0.02 m, euler / 0.05 rad, gripper); "
                f"got shape {command.shape}"
            )
        if not np.all(np.isfinite(command)):
            raise ValueError(f"action has non-finite values: {command.tolist()}")
        command[-1] = gripper_command(command[-1])
        if render:
            obs, _, _, info = self.sim.step(command)
        else:
            with cameras_off(self.sim):
                obs, _, _, info = self.sim.step(command)
        self._subtask_steps += 1
        chain = self._chain
        subtask = chain.subtasks[self._subtask]
        flags: dict[str, Any] = {}
        if subtask in self.oracle.completed(self._start_info, info, {subtask}):
            self._steps_per_subtask.append(self._subtask_steps)
            self._subtask += 1
            self._subtask_steps = 0
            if self._subtask < len(chain.subtasks):
                self._start_info = self.sim.get_info()  # evaluate_policy.rollout: start_info = env.get_info()
                flags[POLICY_RESET] = True
                if not render:  # the next subtask's first frame: the policy reads it
                    obs["rgb_obs"], obs["depth_obs"] = self.sim.get_camera_obs()
                    render = True
            else:
                self._done = True
        elif self._subtask_steps >= self.config.ep_len:
            self._steps_per_subtask.append(self._subtask_steps)
            self._done = True
        success = self._subtask == len(chain.subtasks)
        current = chain.subtasks[min(self._subtask, len(chain.subtasks) - 1)]
        info_out = self._chain_result() if self._done else {"completed": self._subtask, "subtask": current, **flags}
        observation = self._observation(obs, current, images=render)
        return StepResult(observation, success=success, done=self._done, info=info_out)

    def _observation(self, obs: dict[str, Any], subtask: str, images: bool = True) -> Observation:
        """What the policy sees while ``subtask`` is asked: its validation instruction, and its name as the task."""
        return to_observation(obs, self.protocol.instructions[subtask], task=subtask, images=images)

    def _chain_result(self) -> dict[str, Any]:
        """What the runner records for the chain (its ``info``), read by :meth:`CalvinEnv.summarize`."""
        assert self._chain is not None
        subtasks, completed = list(self._chain.subtasks), self._subtask
        return {
            "sequence_index": self._chain.index,
            "subtasks": subtasks,
            "completed": completed,
            "failed_subtask": subtasks[completed] if completed < len(subtasks) else None,
            "subtask_steps": list(self._steps_per_subtask),
        }

    def close(self) -> None:
        if self._sim is not None:
            self._sim.close()
            # PlayTableSimEnv.__del__ closes again, and a second pybullet disconnect raises; without a client
            # handle its close() skips the disconnect.
            self._sim.p = None
        self._sim = None
        self._chain = None
        self._done = True
