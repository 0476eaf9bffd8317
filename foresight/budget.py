"""A stage's optimisation budget and the learning-rate schedule it implies.

One dataclass, :class:`Budget`, says how a stage is optimised: steps, global batch, AdamW's learning rate and
weight decay, the warm-up, the weight EMA. A method config holds one per stage (``method.budget`` for dp,
``method.dynamics.budget`` and ``method.policy.budget`` for CLaD) with the paper's values; :class:`Stage`
carries it to the trainer; ``train.<field>`` overrides a field for every stage of a run (the override section
is generated from this class, so a new field is overridable without a second copy).

Warm-up is either a number of steps or a fraction of the stage's steps. A fraction scales with the run: halving
``train.steps`` halves the warm-up, so a reduced-budget study shortens every arm's schedule the same way, and
the paper's warm-up is kept exactly at the paper's budget (dp / CLaD: 2000 of 200k steps = 0.01). A warm-up in
steps that is not shorter than the run is an error: the learning rate would still be rising when training ends.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

DECAY = "cosine"
"""Linear warm-up to the peak, then half a cosine to zero (diffusers' ``get_cosine_schedule_with_warmup``)."""


@dataclass
class Budget:
    """How one stage is optimised (AdamW, linear warm-up, cosine decay to zero)."""

    steps: int  # optimizer steps
    batch_size: int  # global batch: all processes, per optimizer step
    lr: float  # peak learning rate, reached at the end of warm-up
    weight_decay: float = 0.0  # AdamW decoupled weight decay
    warmup_steps: int | None = None  # warm-up in steps; exclusive with warmup_fraction
    warmup_fraction: float | None = None  # warm-up as a fraction of steps (scales with train.steps)
    ema_decay: float | None = None  # EMA of the trained weights, used for evaluation; None or 0: none

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be at least 1, got {self.steps}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.lr < 0 or self.weight_decay < 0:
            raise ValueError(f"lr and weight_decay must be non-negative, got {self.lr} and {self.weight_decay}")
        if self.warmup_steps is not None and self.warmup_fraction is not None:
            raise ValueError(
                f"warmup_steps={self.warmup_steps} and warmup_fraction={self.warmup_fraction} are both set: "
                f"set one of them and the other to null"
            )
        if self.warmup_fraction is not None and not 0.0 <= self.warmup_fraction < 1.0:
            raise ValueError(f"warmup_fraction must be in [0, 1), got {self.warmup_fraction}")
        if self.warmup_steps is not None:
            if self.warmup_steps < 0:
                raise ValueError(f"warmup_steps must be non-negative, got {self.warmup_steps}")
            if self.warmup_steps > 0 and self.warmup_steps >= self.steps:
                raise ValueError(
                    f"a warm-up of {self.warmup_steps} steps is not shorter than the run's {self.steps} steps: the "
                    f"learning rate would still be rising when training ends. Give the warm-up as a fraction of the "
                    f"run (train.warmup_fraction=0.01 scales with train.steps) or set train.warmup_steps below "
                    f"{self.steps}"
                )
        if self.ema_decay is not None and not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1) (0: no EMA) or null, got {self.ema_decay}")

    @property
    def warmup(self) -> int:
        """Warm-up in steps, as the scheduler runs it."""
        if self.warmup_steps is not None:
            return self.warmup_steps
        return round((self.warmup_fraction or 0.0) * self.steps)

    def override(self, changes: dict[str, Any]) -> Budget:
        """This budget with ``changes`` applied; a warm-up given one way replaces the other way."""
        changes = dict(changes)
        if "warmup_steps" in changes and "warmup_fraction" not in changes:
            changes["warmup_fraction"] = None
        if "warmup_fraction" in changes and "warmup_steps" not in changes:
            changes["warmup_steps"] = None
        return dataclasses.replace(self, **changes)

    def schedule(self) -> Schedule:
        return Schedule(warmup_steps=self.warmup, total_steps=self.steps, peak_lr=self.lr)


@dataclass(frozen=True)
class Schedule:
    """The learning-rate schedule a stage actually runs: printed at its start, saved in every checkpoint."""

    warmup_steps: int
    total_steps: int
    peak_lr: float
    decay: str = DECAY
    final_lr: float = 0.0  # half a cosine ends at zero

    def lr_at(self, step: int) -> float:
        """The learning rate of optimizer step ``step`` (0-based), as diffusers' cosine schedule computes it."""
        if step < self.warmup_steps:
            return self.peak_lr * step / max(1, self.warmup_steps)
        progress = (step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps)
        return self.peak_lr * max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))

    def describe(self) -> str:
        return (
            f"linear warm-up {self.warmup_steps} of {self.total_steps} steps to lr {self.peak_lr:g}, "
            f"then {self.decay} decay to {self.final_lr:g}"
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def scheduler(self, optimizer: Any) -> Any:
        """The torch LR scheduler running this schedule on ``optimizer`` (whose lr must be :attr:`peak_lr`)."""
        from diffusers.optimization import get_cosine_schedule_with_warmup

        return get_cosine_schedule_with_warmup(optimizer, self.warmup_steps, self.total_steps)


def _overrides_class() -> type:
    """``train.*`` budget overrides: every :class:`Budget` field, optional, ``None`` meaning the stage's own."""
    import typing

    hints = typing.get_type_hints(Budget)
    fields = [
        (f.name, hints[f.name] | None, dataclasses.field(default=None))  # type: ignore[operator]
        for f in dataclasses.fields(Budget)
    ]
    return dataclasses.make_dataclass("BudgetOverrides", fields)


BudgetOverrides = _overrides_class()
BUDGET_FIELDS = tuple(f.name for f in dataclasses.fields(Budget))


def overrides_of(section: Any) -> dict[str, Any]:
    """The budget fields a ``train`` section sets (those not ``None``)."""
    return {name: getattr(section, name) for name in BUDGET_FIELDS if getattr(section, name) is not None}
