"""Reader options of the LeRobot and CALVIN formats (``data.lerobot.*`` and ``data.calvin.*``).

Kept apart from the readers and free of foresight imports, so :class:`foresight.data.config.DataConfig` can hold
them as fields without an import cycle. Until it does, the readers use these defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

CALVIN_ACTION_KEYS = ("rel_actions", "actions")
CALVIN_EPISODE_MODES = ("language", "play")


@dataclass
class LeRobotConfig:
    """How to read a LeRobot dataset (codebase v2.1 or v3.0).

    Image orientation: LeRobot stores camera frames as recorded; ``image_convention`` (``data.image_convention``
    overrides it) says how the camera recorded them, and ``rotated_180`` says that the converter rotated them by
    180 degrees on top. The LIBERO conversions (``lerobot/libero``, ``HuggingFaceVLA/libero``,
    ``physical-intelligence/libero``) store ``raw[::-1, ::-1]`` of MuJoCo's OpenGL frame
    (openpi ``examples/libero/convert_libero_data_to_lerobot.py``; lerobot ``docs/source/env_processor.mdx``), so
    their presets set ``image_convention: opengl`` and ``rotated_180: true``: read back, their frames equal the
    official HDF5 frames after :func:`foresight.data.orientation.to_upright`. Real-robot datasets are upright.
    """

    image_convention: str = "opencv"  # how the camera recorded the frames ("opengl" | "opencv")
    rotated_180: bool = False  # the converter stored frames rotated by 180 degrees (LIBERO conversions: true)
    revision: str | None = None  # hub revision (tag / branch / commit) when reading by repo_id
    video_tolerance_s: float = 1e-4  # max |decoded frame time - wanted time| (lerobot's default tolerance)


@dataclass
class LiberoReadConfig:
    """How to read LIBERO HDF5 files (``data.libero.*``), including the cleaning CLaD's authors trained on.

    Their fork trains on OpenVLA's regenerated LIBERO files (``regenerate_libero_dataset.py``): re-rendered at
    256², with no-op actions removed and demonstrations that failed on replay dropped. ``filter_noops`` applies
    OpenVLA's no-op rule to the official files at read time: a step is dropped when the L2 norm of its first six
    action dimensions is below ``noop_threshold`` and its gripper command equals that of the last kept step (the
    first step only needs the small norm). ``drop_failed`` drops demonstrations whose recorded ``dones`` never
    reach 1 (OpenVLA's replay check needs the simulator; on the official files every demonstration ends done).
    """

    filter_noops: bool = False  # off: the official files as recorded
    noop_threshold: float = 1e-4  # OpenVLA is_noop threshold
    drop_failed: bool = False  # off: keep every demonstration

    def __post_init__(self) -> None:
        if not self.noop_threshold >= 0:
            raise ValueError(f"data.libero.noop_threshold={self.noop_threshold!r}: expected a number >= 0")


@dataclass
class CalvinConfig:
    """How to read a CALVIN split (``calvin/dataset/README.md``; ``calvin_agent/datasets/disk_dataset.py``)."""

    split: str = "training"  # used when data.path is the dataset root holding training/ and validation/
    actions: str = "rel_actions"  # "rel_actions" (scaled deltas, what CALVIN policies predict) | "actions" (abs.)
    episodes: str = "language"  # "language": annotated windows with instructions | "play": ep_start_end_ids spans
