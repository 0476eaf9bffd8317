"""The LIBERO evaluation protocol as a dataclass: everything that changes a success rate is a field here.

Published LIBERO numbers disagree mostly because these values differ between codebases (10 vs 20 vs 50 trials,
step limits, flipped images), so the whole dataclass is returned by :meth:`LiberoEnv.protocol` and recorded
with every result.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from foresight.data.orientation import IMAGE_CONVENTIONS
from foresight.envs.libero.reset import RESETS

SUITES = ("libero_spatial", "libero_object", "libero_goal", "libero_10", "libero_90")

MAX_STEPS: dict[str, int] = {
    # Policy steps after the warm-up, as in openpi examples/libero/main.py and OpenVLA
    # experiments/robot/libero/run_libero_eval.py (both: 220 / 280 / 300 / 520 / 400). Each is a little longer
    # than the longest training demonstration of the suite. LeRobot (src/lerobot/envs/libero.py,
    # TASK_SUITE_MAX_STEPS) uses 280 for libero_spatial; pass max_steps=280 to match it.
    "libero_spatial": 220,
    "libero_object": 280,
    "libero_goal": 300,
    "libero_10": 520,
    "libero_90": 400,
}

NUM_INIT_STATES = 50
"""Official initial states per task (``init_files/<suite>/<task>.pruned_init``); trial ``i`` uses ``i % 50``."""

DUMMY_ACTION = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0)
"""The community warm-up action (openpi, OpenVLA): no motion, gripper open, while objects settle."""


@dataclass(frozen=True)
class LiberoConfig:
    """A LIBERO suite under the community protocol (openpi / OpenVLA / OpenCLAP defaults).

    ``replan_every`` is the number of actions of each predicted chunk executed before the policy is queried
    again (``None``: the whole chunk; openpi uses 5 of a 10-step chunk). ``temporal_ensemble`` turns on
    ACT-style averaging of overlapping chunks with weights ``exp(-k * age)`` (LBP evaluates with k = 0.25);
    ``None`` keeps it off, as the community protocol does. ``tasks`` restricts the suite to some task indices.
    ``image_convention`` is how the simulator renders; observations are converted to upright once
    (:func:`foresight.data.orientation.to_upright`), exactly as the training data are.

    ``reset`` is how a simulator starts each trial of its task: ``reuse_model`` keeps the compiled MuJoCo model
    (:mod:`foresight.envs.libero.reset`, ~4 s less per trial), ``hard`` is robosuite's hard reset, as the official
    evaluation does. Both give bitwise the same states, observations and successes, so it is not part of the
    protocol (:meth:`to_dict` leaves it out).
    """

    suite: str = "libero_10"  # LIBERO-LONG, where CLaD's headline number is
    trials_per_task: int = 50  # openpi / OpenVLA num_trials_per_task: one per official init state (50 per task)
    seed: int = 7  # openpi / OpenVLA seed; episode seed = seed + 10000 * task + trial
    num_steps_wait: int = 10  # openpi / OpenVLA num_steps_wait: no-op steps (gripper open) while objects settle
    max_steps: int | None = None  # None: the suite's openpi / OpenVLA limit (MAX_STEPS)
    camera_size: int = 128  # the official dataset's 128x128 (create_dataset.py); 224 / 256 for OpenVLA-style
    replan_every: int | None = None  # None: the whole chunk (openpi: 5)
    temporal_ensemble: float | None = None  # None: off, as the community protocol
    adaptive_ensemble: float | None = None  # CogACT / DreamVLA adaptive ensembling alpha (CogACT: 0.1); None: off
    tasks: tuple[int, ...] | None = None  # None: every task of the suite
    image_convention: str = "opengl"  # robosuite renders upside down (macros.IMAGE_CONVENTION); turned upright
    reset: str = "reuse_model"  # not protocol: the same outcomes as "hard" (robosuite's), faster

    def __post_init__(self) -> None:
        if self.suite not in SUITES:
            raise ValueError(f"LIBERO suite {self.suite!r} is unknown; choose one of {list(SUITES)}")
        if self.max_steps is not None and (not isinstance(self.max_steps, int) or self.max_steps <= 0):
            raise ValueError(
                f"env.max_steps must be a positive integer or null (the suite's limit), got {self.max_steps!r}"
            )
        for name in ("trials_per_task", "camera_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"env.{name} must be a positive integer, got {value!r}")
        if not isinstance(self.num_steps_wait, int) or self.num_steps_wait < 0:
            raise ValueError(f"env.num_steps_wait must be a non-negative integer, got {self.num_steps_wait!r}")
        if self.replan_every is not None and (not isinstance(self.replan_every, int) or self.replan_every <= 0):
            raise ValueError(f"env.replan_every must be a positive integer or None, got {self.replan_every!r}")
        if self.temporal_ensemble is not None and not self.temporal_ensemble >= 0:
            raise ValueError(f"env.temporal_ensemble must be a non-negative k or None, got {self.temporal_ensemble!r}")
        if self.adaptive_ensemble is not None and not self.adaptive_ensemble >= 0:
            raise ValueError(
                f"env.adaptive_ensemble must be a non-negative alpha or None, got {self.adaptive_ensemble!r}"
            )
        if self.adaptive_ensemble is not None and self.temporal_ensemble is not None:
            raise ValueError("env.temporal_ensemble and env.adaptive_ensemble are both set: choose one")
        if self.image_convention not in IMAGE_CONVENTIONS:
            raise ValueError(
                f"env.image_convention {self.image_convention!r} is unknown; choose one of {list(IMAGE_CONVENTIONS)}"
            )
        if self.reset not in RESETS:
            raise ValueError(f"env.reset {self.reset!r} is unknown; choose one of {list(RESETS)}")
        if self.tasks is not None:
            tasks = tuple(sorted(self.tasks))
            if not tasks or any(not isinstance(t, int) or t < 0 for t in tasks) or len(set(tasks)) != len(tasks):
                raise ValueError(f"env.tasks must be distinct non-negative task indices, got {self.tasks!r}")
            object.__setattr__(self, "tasks", tasks)

    @property
    def step_limit(self) -> int:
        """Policy steps allowed per episode: ``max_steps``, or the suite's community limit when it is None."""
        return MAX_STEPS[self.suite] if self.max_steps is None else self.max_steps

    def to_dict(self) -> dict[str, Any]:
        """The protocol as JSON-ready values, with the step limit resolved (``reset`` changes no outcome)."""
        values = asdict(self)
        del values["reset"]
        values["max_steps"] = self.step_limit
        values["tasks"] = list(self.tasks) if self.tasks is not None else None
        return values
