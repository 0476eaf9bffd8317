"""A study file: the shared parts of a comparison once, the arms as overrides (``configs/study/<name>.yaml``).

A study is data, so that "only the foresight differs" is something a reader can check in one file and the
results can prove (:mod:`foresight.study.components`). Every key is validated like any other config: a typo
names the valid keys. ``data``, ``env`` and each arm's ``overrides`` are the very sections ``foresight train`` and
``foresight eval`` take, so an arm is reproducible by hand with the commands :func:`train_overrides` spells out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foresight import checks
from foresight.config import ConfigError, available, config_root, load_yaml, validate

GROUP = "study"
_ARM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass
class GenerateSpec:
    """Scripted-expert demonstrations the study records first (``foresight data generate``; resumable)."""

    env: str = "libero_object"  # a LIBERO env preset (the suite whose tasks are recorded)
    demos_per_task: int = 50
    init: str = "sampled"  # sampled: fresh seeded placements; official: the evaluation's init states
    seed: int = 0
    max_attempts: int | None = None


@dataclass
class DataSpecFile:
    """``data``: the training data of every arm (a ``data=`` preset plus ``data.*`` keys)."""

    preset: str = "libero_object"
    overrides: dict[str, Any] = field(default_factory=dict)  # data.* keys; "{out}" in a string is the study folder
    generate: GenerateSpec | None = None  # null: the data exists already (data.path or the hub)


@dataclass
class EnvSpecFile:
    """``env``: the evaluation protocol every arm is measured under (an ``env=`` preset plus ``env.*`` keys)."""

    preset: str = "libero_object"
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class SharedSpec:
    """What every arm has in common; an arm's own overrides come after these."""

    overrides: dict[str, Any] = field(default_factory=dict)  # dotted train keys (train.*, method.*) for every arm
    notes: str = ""  # what the shared part holds fixed, in words (the report quotes it)


@dataclass
class ArmSpec:
    """One arm: a method preset and the dotted keys that make it this arm (CLaD: ``method.policy.foresight``)."""

    name: str = ""
    method: str = ""  # a method preset (configs/method/<name>.yaml) or a registered method name
    overrides: dict[str, Any] = field(default_factory=dict)
    label: str = ""  # how the report names the arm ("no foresight", "both"); default: the name

    def __post_init__(self) -> None:
        if not _ARM_NAME.match(self.name):
            raise ValueError(f"arm name {self.name!r}: use letters, digits, '_', '-', '.' (it names folders)")
        if not self.method:
            raise ValueError(f"arm {self.name!r}: give its method preset, e.g. method: clad_tiny")


@dataclass
class StudySpec:
    """The whole study file (see configs/study/*.yaml for annotated examples)."""

    name: str = ""
    description: str = ""
    out: str | None = None  # null: runs/study/<name>; every phase resumes from what is in it
    leaderboard: str | None = None  # a leaderboard folder whose results/ receives each arm's result; null: none
    report: str | None = None  # a folder the report is copied to (docs/studies/<name>); null: only <out>/report
    seeds: list[int] = field(default_factory=lambda: [0])  # training seeds (the trainer's seed=)
    data: DataSpecFile = field(default_factory=DataSpecFile)
    env: EnvSpecFile = field(default_factory=EnvSpecFile)
    eval: dict[str, Any] = field(default_factory=dict)  # eval.* keys (how episodes run; never what they measure)
    shared: SharedSpec = field(default_factory=SharedSpec)
    arms: list[ArmSpec] = field(default_factory=list)
    threads: int | None = None  # torch / OpenMP threads of training and evaluation; null: torch's default
    baseline: str | None = None  # the arm the report compares every other arm with; null: the first arm
    caveats: str = ""  # what the numbers do and do not mean (scale, data, encoder), printed atop the report

    def __post_init__(self) -> None:
        if not _ARM_NAME.match(self.name):
            raise ValueError(f"study name {self.name!r}: use letters, digits, '_', '-', '.'")
        if not self.arms:
            raise ValueError("a study needs at least one arm under arms:")
        names = [a.name for a in self.arms]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"arm names must be unique, repeated: {dupes}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be a non-empty list of distinct integers, got {self.seeds}")
        if self.baseline is not None and self.baseline not in names:
            raise ValueError(f"baseline={self.baseline!r} is not an arm; arms: {names}")
        checks.at_least("seeds", min(self.seeds), 0)

    @property
    def out_dir(self) -> Path:
        return Path(self.out or f"runs/study/{self.name}").expanduser()

    @property
    def baseline_arm(self) -> str:
        return self.baseline or self.arms[0].name

    def arm(self, name: str) -> ArmSpec:
        return next(a for a in self.arms if a.name == name)

    def units(self) -> list[tuple[ArmSpec, int]]:
        """Every (arm, seed), seeds outermost: a study stopped early holds whole seeds of every arm."""
        return [(arm, seed) for seed in self.seeds for arm in self.arms]


def study_path(name_or_path: str) -> Path:
    """A shipped study's name (``libero_object_cpu``) or a path to a study file."""
    path = Path(name_or_path).expanduser()
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError(f"study file {path} does not exist")
        return path
    shipped = config_root() / GROUP / f"{name_or_path}.yaml"
    if not shipped.is_file():
        raise ConfigError(f"no study {name_or_path!r}; shipped studies: {', '.join(available(GROUP)) or 'none'}")
    return shipped


def load_study(name_or_path: str, overrides: dict[str, Any] | None = None) -> StudySpec:
    """Read and validate a study file; ``overrides`` replace top-level keys (``out``, ``seeds``, ``leaderboard``)."""
    raw = load_yaml(study_path(name_or_path))
    raw.update(overrides or {})
    return validate(raw, StudySpec, "study")


def _with_out(value: Any, out: Path) -> Any:
    return value.replace("{out}", str(out)) if isinstance(value, str) else value


def _dotted(prefix: str, values: dict[str, Any], out: Path) -> list[tuple[str, Any]]:
    return [(f"{prefix}{key}", _with_out(value, out)) for key, value in values.items()]


def train_overrides(spec: StudySpec, arm: ArmSpec, seed: int, run_dir: Path) -> tuple[list[str], list[tuple[str, Any]]]:
    """The trainer's group choices and dotted (key, value) pairs of one arm and seed, in the order they apply:
    data, shared, arm, then the study's own (seed, run_dir)."""
    out = spec.out_dir
    choices = [f"method={arm.method}", f"data={spec.data.preset}"]
    dotted = [
        *_dotted("data.", spec.data.overrides, out),
        *[(k, _with_out(v, out)) for k, v in spec.shared.overrides.items()],
        *[(k, _with_out(v, out)) for k, v in arm.overrides.items()],
        ("seed", seed),
        ("run_dir", str(run_dir)),
    ]
    return choices, dotted


def env_overrides(spec: StudySpec) -> list[tuple[str, Any]]:
    return _dotted("env.", spec.env.overrides, spec.out_dir)
