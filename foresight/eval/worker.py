"""Simulator worker processes: one lazily-built simulator each, driven over a pipe by the main process.

Simulators live in their own processes (``spawn``, never ``fork``) for three reasons users of other codebases
hit: EGL contexts created eagerly in the parent and inherited by forked children crash (``EGL_BAD_CONTEXT``,
LeRobot PR #3274, LIBERO #3 / #100); EGL and CUDA in one process compete for a small GPU's memory (LeRobot
#3098); and a crashing simulator must not take the evaluation with it. A worker imports the environment side
only (its suite, :mod:`foresight.eval.history`, :mod:`foresight.eval.video`): it never builds a policy or
touches CUDA. It keeps the episode's observation history, and the history of the actions it stepped the
environment with, itself, so only the stacked frames and past actions the policy reads cross the pipe, once per
policy call.

Protocol (tuples over a ``multiprocessing`` pipe)::

    main -> worker   ("reset", EpisodeSpec, record_video)   ("step", actions (k, action_dim))   ("close",)
    worker -> main   ("obs", packed observation, steps so far, policy_reset)
                     ("done", {"success", "steps", "info", "video", "wall_s"})
                     ("error", traceback)                    # then the worker exits
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from foresight.eval.chunking import RenderPlan
from foresight.eval.history import ActionHistory, ObservationHistory, pack
from foresight.eval.video import video_frame, write_mp4
from foresight.rollout import EnvSuite, EpisodeSpec, RolloutEnv, StepResult

POLICY_RESET = "policy_reset"
"""``StepResult.info`` flag: the policy must start afresh without an env reset (a new CALVIN subtask). The
worker clears the observation and past-action histories (the next frame is the subtask's first, with no action
executed before it) and the runner drops the episode's pending chunk and ensembling state, like the official
CALVIN loop's ``model.reset()`` per subtask."""


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker needs besides its suite: the policy's input layout, and where videos go.

    ``action_offsets`` are the policy's past action offsets (all ``< 0``; empty when it reads no past actions),
    ``action_dim`` the width of its actions. ``replan_every`` is how many actions each chunk executes, so the
    worker knows which frames the next queries read and asks the environment to render only those
    (``render_every_step`` renders all, the baseline ``eval.render=every_step``).
    """

    offsets: tuple[int, ...]
    views: tuple[str, ...]
    proprio_keys: tuple[str, ...]
    video_dir: str
    video_fps: int
    action_offsets: tuple[int, ...] = ()
    action_dim: int = 0
    replan_every: int = 1
    render_every_step: bool = False

    def render_plan(self, record_video: bool) -> RenderPlan:
        """When this worker's episodes render: at the frames the policy reads, or every step for a video."""
        return RenderPlan(
            self.replan_every,
            self.offsets,
            reads_images=bool(self.views),
            every_step=self.render_every_step or record_video,
        )


def video_name(episode: EpisodeSpec) -> str:
    return f"task{episode.task_index:03d}_trial{episode.trial:03d}.mp4"


class _Episode:
    """The worker's side of one running episode."""

    def __init__(self, env: RolloutEnv, episode: EpisodeSpec, setup: WorkerSetup, record_video: bool) -> None:
        self.env = env
        self.spec = episode
        self.setup = setup
        self.history = ObservationHistory(setup.offsets)
        self.actions = ActionHistory(setup.action_offsets, setup.action_dim) if setup.action_offsets else None
        self.frames: list[np.ndarray] | None = [] if record_video else None
        self.plan = setup.render_plan(record_video)
        self.steps = 0
        self.segment_start = 0  # the step the current policy segment began at: the reset, or a CALVIN subtask
        self.rendered = 1  # frames that came with images: the reset's always does
        self.began = time.perf_counter()
        self._observe(env.reset(episode))
        self.reset_s = time.perf_counter() - self.began

    def _observe(self, observation: Any) -> None:
        self.history.push(observation)
        if self.frames is not None:
            self.frames.append(video_frame(observation))

    def packed(self) -> dict[str, Any]:
        frames, is_pad = self.history.stack()
        packed = pack(frames, is_pad, self.setup.views, self.setup.proprio_keys)
        if self.actions is not None:
            packed["past_actions"], packed["past_actions_is_pad"] = self.actions.stack()
        return packed

    def run(self, actions: np.ndarray) -> tuple[Any, ...]:
        """Execute ``actions`` until they run out, the episode ends, or the policy must be reset."""
        for action in actions:
            if self.actions is not None:
                self.actions.push(action)  # a copy, before an environment could change the array in place
            render = self.plan.needs_images(self.steps + 1 - self.segment_start)
            result: StepResult = self.env.step(action, render=render)
            self.steps += 1
            self.rendered += bool(result.observation.images)
            if result.info.get(POLICY_RESET):
                self.history.clear()
                self.segment_start = self.steps
                if self.actions is not None:
                    self.actions.clear()
            self._observe(result.observation)
            if result.done:
                return ("done", self._finish(result))
            if result.info.get(POLICY_RESET):
                return ("obs", self.packed(), self.steps, True)
        return ("obs", self.packed(), self.steps, False)

    def _finish(self, result: StepResult) -> dict[str, Any]:
        video = None
        if self.frames is not None:
            name = video_name(self.spec)
            write_mp4(Path(self.setup.video_dir) / name, self.frames, self.setup.video_fps)
            video = f"{Path(self.setup.video_dir).name}/{name}"
        return {
            "success": bool(result.success),
            "steps": self.steps,
            "info": result.info,
            "video": video,
            "wall_s": time.perf_counter() - self.began,
            "reset_s": self.reset_s,
            "rendered_frames": self.rendered,
        }


def worker_main(conn: Connection, suite: EnvSuite, setup: WorkerSetup) -> None:
    """Serve episodes until told to close or the main process goes away (its end of the pipe closes)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle; it stops us
    env: RolloutEnv | None = None
    episode: _Episode | None = None
    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                return
            if message[0] == "close":
                return
            if message[0] == "reset":
                if env is None:
                    env = suite.make_env()
                episode = _Episode(env, message[1], setup, record_video=message[2])
                conn.send(("obs", episode.packed(), 0, False))
            elif message[0] == "step":
                if episode is None:
                    raise RuntimeError("step before reset")
                reply = episode.run(message[1])
                if reply[0] == "done":
                    episode = None
                conn.send(reply)
            else:
                raise RuntimeError(f"unknown message {message[0]!r}")
    except Exception:
        with contextlib.suppress(OSError):
            conn.send(("error", traceback.format_exc()))
        os._exit(1)  # skip interpreter teardown: a broken simulator can hang in its own atexit handlers
    finally:
        if env is not None:
            env.close()
