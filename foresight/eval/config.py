"""``eval.*``: how an evaluation is run, as opposed to what it measures.

Everything that changes a success rate (trials, step limits, seeds, warm-up, replanning, temporal ensembling)
belongs to the environment's protocol (``env.*``, recorded with every result). The fields here only choose which
of the protocol's episodes to run now and how to run them, so they never change an episode's outcome: an
evaluation run as ``eval.trials=5`` and resumed as ``eval.trials=50`` is one valid 50-trial measurement.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from foresight.eval.chunking import RENDER_MODES


@dataclass
class EvalConfig:
    """``eval.*`` on the command line of ``python -m foresight.eval``.

    ``tasks`` and ``trials`` select a subset of the protocol's episodes (task indices; the first ``trials``
    trials of each task). ``tasks`` also takes ``0,3`` as typed on a shell, not only the YAML list ``[0,3]``.
    ``workers`` is simulator processes per (accelerate) process; ``None`` picks one per CPU core, at most 8.
    ``videos`` records MP4s of the first N trials of every task. ``out`` defaults to
    ``<run>/eval/<stage>-<step>/<env>``.
    ``seed`` seeds the policy's sampling (a diffusion head's noise); with the official fixed initial states
    it is the only randomness left (openvla issue #172). ``retries`` is how often an episode whose worker
    crashed is run again on a fresh worker before it is recorded as an error. ``worker_timeout_s`` treats a
    worker silent for that long (a hung EGL context) as crashed. ``allow_unseen_tasks`` evaluates episodes whose
    tasks the checkpoint was not trained on (refused by default, before any simulator starts). ``render`` is
    ``on_query`` (cameras render only at the steps the policy or a video reads; the simulator steps physics alone
    otherwise) or ``every_step`` (the slower baseline); both give bitwise the same episodes.
    """

    tasks: list[int] | int | str | None = None
    trials: int | None = None
    workers: int | None = None
    videos: int = 0
    video_fps: int = 20
    out: str | None = None
    seed: int = 0
    device: str | None = None
    retries: int = 1
    worker_timeout_s: float = 600.0
    render: str = "on_query"
    progress: bool = True
    allow_unseen_tasks: bool = False

    def __post_init__(self) -> None:
        self.tasks = _parse_tasks(self.tasks)
        if self.trials is not None and self.trials < 1:
            raise ValueError(f"eval.trials must be at least 1 (or null for the protocol's count), got {self.trials}")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"eval.workers must be at least 1 (or null for one per core), got {self.workers}")
        for name in ("videos", "retries"):
            if getattr(self, name) < 0:
                raise ValueError(f"eval.{name} must be non-negative, got {getattr(self, name)}")
        if self.video_fps < 1:
            raise ValueError(f"eval.video_fps must be at least 1, got {self.video_fps}")
        if self.render not in RENDER_MODES:
            raise ValueError(f"eval.render={self.render!r}: expected one of {', '.join(RENDER_MODES)}")
        if not self.worker_timeout_s > 0:
            raise ValueError(f"eval.worker_timeout_s must be positive, got {self.worker_timeout_s}")

    def resolved_workers(self, episodes: int, world_size: int = 1) -> int:
        """Worker processes for this process: as asked, or one per core shared between the processes."""
        if self.workers is not None:
            return max(1, min(self.workers, episodes))
        cores = max(1, (os.cpu_count() or 1) // world_size)
        return max(1, min(cores, 8, episodes))


_TASK_LIST = re.compile(r"^\s*\d+\s*(,\s*\d+\s*)*$")


def _parse_tasks(value: list[int] | int | str | None) -> list[int] | None:
    if value is None:
        return None
    if isinstance(value, int):
        value = [value]
    elif isinstance(value, str):
        if not _TASK_LIST.match(value):
            raise ValueError(f"eval.tasks={value!r}: expected task indices such as 0,3 or [0,3]")
        value = [int(v) for v in value.split(",")]
    if not value or len(set(value)) != len(value) or any(v < 0 for v in value):
        raise ValueError(f"eval.tasks={value!r}: expected distinct non-negative task indices")
    return sorted(value)
