"""The ``data=`` config group: which dataset to open and how to read it.

Presets live in ``configs/data/<name>.yaml``; ``data.path=...`` and any other ``data.<key>=...`` override them on
the command line. :func:`load_data_config` composes and validates with :mod:`foresight.config`, so a misspelled
key is an error that names the close matches.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import OmegaConf

from foresight import checks
from foresight.config import ConfigError, data_choice, load_group, parse_overrides, validate
from foresight.data.options import CalvinConfig, LeRobotConfig, LiberoReadConfig


@dataclass
class AugmentConfig:
    """Image augmentation for training samples (never applied to validation or evaluation).

    Random resized crop as in LBP / CLaD's development code (``andrewwwj/LBP:datasets/LiberoEngine.py``:
    ``RandomResizedCrop(scale=(0.75, 1.0), ratio=(0.75, 1.33))``), resized back to the frame size and replayed
    identically across every frame and view of one sample.
    """

    enabled: bool = False  # off by default: turn on for training runs that follow LBP / CLaD
    crop_scale: tuple[float, float] = (0.75, 1.0)  # fraction of the frame area kept (LBP)
    crop_ratio: tuple[float, float] = (0.75, 1.33)  # aspect-ratio range of the crop before resizing (LBP)


@dataclass
class DemoConfig:
    """Shape of the synthetic demo dataset (``format: demo``); see :func:`foresight.data.demo.build_demo_dataset`."""

    num_tasks: int = 2  # tasks, each with its own instruction and target colour
    episodes_per_task: int = 4
    length: int = 40  # frames per episode
    image_size: int = 64  # square frames, both views
    seed: int = 0  # the dataset's content is a pure function of these five values


@dataclass
class DataConfig:
    """Where a dataset is and how to read it; validated from ``configs/data/<name>.yaml`` plus overrides."""

    name: str = "demo"  # preset name, for logs and run directories
    suite: str | None = None  # benchmark suite (LIBERO: libero_10 | libero_spatial | ...); data=libero names by it
    format: str = "auto"  # "libero_hdf5" | "lerobot" | "calvin" | "demo" | "auto" (detect from path)
    path: str | None = None  # folder or file; for "demo" where to build/cache it (null: $FORESIGHT_CACHE/demo)
    repo_id: str | None = None  # hub dataset id, used when path is null
    subfolder: str | None = None  # folder inside the hub repo (LIBERO: libero_10, libero_spatial, ...)
    tasks: list[str] | None = None  # restrict to these task names (LIBERO: file names without _demo.hdf5)
    max_episodes: int | None = None  # per task, for quick runs
    val_fraction: float = 0.1  # fraction of episodes held out for validation (split by episode)
    image_size: list[int] | None = None  # resize [H, W] at read time; null keeps the native size
    views: dict[str, str] | None = None  # our view name -> file key; replaces the reader's default mapping
    roles: dict[str, str] | None = None  # role -> view or proprio key, over the reader's (primary, wrist, arm, ...)
    image_convention: str | None = None  # override the recorded image convention ("opengl" | "opencv")
    cache_dir: str | None = None  # where statistics (and features) are cached; null: next to the dataset
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    demo: DemoConfig = field(default_factory=DemoConfig)  # used by format "demo" only
    lerobot: LeRobotConfig = field(default_factory=LeRobotConfig)  # used by format "lerobot" only
    libero: LiberoReadConfig = field(default_factory=LiberoReadConfig)  # formats "libero_hdf5" and "demo"
    calvin: CalvinConfig = field(default_factory=CalvinConfig)  # used by format "calvin" only

    def __post_init__(self) -> None:
        checks.at_least("data.max_episodes", self.max_episodes, 1, optional=True)
        checks.in_range("data.val_fraction", self.val_fraction, 0.0, 1.0)
        if self.image_size is not None:
            if len(self.image_size) != 2:
                raise ValueError(f"data.image_size={self.image_size!r}: expected [H, W] (or null)")
            for size in self.image_size:
                checks.at_least("data.image_size", size, 1)


def cache_root() -> Path:
    """foresight's cache folder: ``$FORESIGHT_CACHE`` or ``~/.cache/foresight``."""
    return Path(os.environ.get("FORESIGHT_CACHE", Path.home() / ".cache" / "foresight")).expanduser()


def load_data_config(overrides: list[str]) -> DataConfig:
    """``data=NAME`` and ``data.key=value`` arguments -> a validated DataConfig (other arguments are ignored).

    Without ``data=NAME`` the ``demo`` preset is used, or with ``data.path`` the ``auto`` preset (format detected
    from what the path holds). Reads only the data group, so a tool such as
    ``foresight.data.inspect`` does not import any method.
    """
    choices, dotted = parse_overrides([o for o in overrides if o.lstrip("+").split("=", 1)[0].split(".")[0] == "data"])
    node = OmegaConf.create(load_group("data", data_choice(choices, dotted, "demo") or "demo"))
    for key, value in dotted:
        sub = key.split(".", 1)[1] if "." in key else ""
        if not sub:
            raise ConfigError(f"cannot parse {key}={value!r}: use data=NAME or data.<key>=value")
        OmegaConf.update(node, sub, value, force_add=True)
    return validate(node, DataConfig, "data")
