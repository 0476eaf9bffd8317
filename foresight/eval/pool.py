"""The main process's view of its simulator workers: start, send, collect replies, and notice deaths.

A worker that dies (segfault, OOM kill, ``os.kill``), raises, or stays silent past its timeout is reported as a
:class:`Crash` carrying the episode it was running, so the runner can retry that episode on a fresh worker or
record it as an error; an episode is never dropped silently.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import time
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any

from foresight.eval.worker import WorkerSetup, worker_main
from foresight.rollout import EnvSuite, EpisodeSpec

IDLE, RESETTING, STEPPING = "idle", "resetting", "stepping"


@dataclass
class Crash:
    worker: int
    pid: int | None
    episode: EpisodeSpec
    reason: str


def worker_context(suite: EnvSuite) -> multiprocessing.context.BaseContext:
    """Workers fork from a clean fork server: a fresh interpreter (no CUDA, no GL context, unlike forking the
    main process) that imports the worker side once, so each new worker starts in milliseconds instead of paying
    the seconds of importing torch again, which matters when crashed workers are replaced. ``spawn`` where
    there is no fork server (Windows)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["foresight.eval.worker", type(suite).__module__])
    return ctx


class Worker:
    """One simulator process and the episode it is running."""

    def __init__(self, index: int, suite: EnvSuite, setup: WorkerSetup) -> None:
        ctx = worker_context(suite)
        self.index = index
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=worker_main, args=(child, suite, setup), name=f"foresight-eval-{index}")
        self.process.start()
        child.close()
        self.state = IDLE
        self.episode: EpisodeSpec | None = None
        self.last_task: int | None = None
        self.sent_at = time.monotonic()

    def start(self, episode: EpisodeSpec, record_video: bool) -> None:
        self.episode = episode
        self.last_task = episode.task_index
        self._send(("reset", episode, record_video), RESETTING)

    def act(self, actions: Any) -> None:
        self._send(("step", actions), STEPPING)

    def _send(self, message: tuple[Any, ...], state: str) -> None:
        self.state = state
        self.sent_at = time.monotonic()
        with contextlib.suppress(OSError):  # already dead: the next collect() reports it, with its exit code
            self.conn.send(message)

    def finish(self) -> None:
        self.state = IDLE
        self.episode = None

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()

    def death(self) -> str:
        self.process.join(1.0)
        code = self.process.exitcode
        if code is None:
            return "stopped answering"
        if code < 0:
            return f"was killed by {signal.Signals(-code).name}"
        return f"exited with status {code}"


def shutdown(workers: list[Worker | None], timeout: float = 10.0) -> None:
    """Close idle workers gracefully (they close their simulators) and kill busy ones, all in parallel."""
    live = [w for w in workers if w is not None]
    for worker in live:
        if worker.episode is None and worker.process.is_alive():
            with contextlib.suppress(OSError):
                worker.conn.send(("close",))
        else:
            worker.process.kill()
    deadline = time.monotonic() + timeout
    for worker in live:
        worker.process.join(max(0.0, deadline - time.monotonic()))
        worker.kill()


def collect(workers: list[Worker | None], timeout_s: float) -> tuple[list[tuple[Worker, tuple[Any, ...]]], list[Crash]]:
    """Replies for one policy round, and the workers that crashed meanwhile (already killed and closed).

    Waits until every stepping worker has answered, so the policy sees the largest batch; a worker resetting
    (building its simulator takes seconds) joins the round if it is ready by then and is not waited for,
    unless no worker is stepping, in which case the first reply ends the wait.
    """
    active = {w.index: w for w in workers if w is not None and w.state != IDLE}
    waiting = {i for i, w in active.items() if w.state == STEPPING}
    replies: list[tuple[Worker, tuple[Any, ...]]] = []
    crashes: list[Crash] = []
    while active and (waiting or not (replies or crashes)):
        now = time.monotonic()
        deadline = min(w.sent_at + timeout_s for w in active.values())
        handles = [w.conn for w in active.values()] + [w.process.sentinel for w in active.values()]
        ready = set(wait(handles, timeout=max(0.0, deadline - now)))
        for index, worker in list(active.items()):
            crash_reason = None
            if worker.conn in ready or worker.conn.poll():
                try:
                    message = worker.conn.recv()
                except (EOFError, OSError):
                    crash_reason = f"worker {worker.death()}"
                else:
                    if message[0] == "error":
                        worker.process.join(5.0)
                        crash_reason = f"worker raised:\n{message[1]}"
                    else:
                        replies.append((worker, message))
            elif worker.process.sentinel in ready:
                crash_reason = f"worker {worker.death()}"
            elif time.monotonic() - worker.sent_at > timeout_s:
                crash_reason = f"worker sent nothing for {timeout_s:.0f} s (eval.worker_timeout_s) and was killed"
            else:
                continue
            del active[index]
            waiting.discard(index)
            if crash_reason is not None:
                assert worker.episode is not None
                crashes.append(Crash(index, worker.process.pid, worker.episode, crash_reason))
                worker.kill()
    return replies, crashes
