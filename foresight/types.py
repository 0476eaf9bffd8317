"""The data that flows through foresight: episodes on disk, windowed samples, batches, observations.

Everything between the data layer and a method is a plain ``dict[str, Tensor | list]`` whose keys follow the
naming scheme below, so that readers, the feature cache, the trainer and the evaluation runner agree without
importing each other. The key builders (:func:`image_key`, :func:`feature_key`, ...) are the single place that
spells a key; never write the strings by hand.

Batch keys (``B`` = batch, ``O`` = number of observation offsets, ``A`` = number of action offsets):

=====================================  =====================================================================
``action``                             ``(B, A, action_dim)`` float32, normalised
``action_is_pad``                      ``(B, A)`` bool: the offset fell outside the episode (value clamped)
``observation.state``                  ``(B, O, proprio_dim)`` float32, normalised concatenation of the
                                       DataSpec's proprio keys, in the spec's order
``observation.images.<view>``          ``(B, O, 3, H, W)`` uint8, upright (orientation fixed at read time)
``observation.is_pad``                 ``(B, O)`` bool
``features.<encoder>.<input>``         ``(B, O, ...)`` float: a frozen encoder's output for a view, read
                                       from the feature cache or computed on the fly
``features.<encoder>.instruction``     ``(B, ...)`` float: the same encoder's instruction embedding
``targets.<teacher>.<view>``           ``(B, K, ...)`` float16 / uint8: a frozen teacher's output (depth, motion,
                                       SAM, DINO) at the K offsets its :class:`TeacherSpec` names, from the
                                       teacher cache (training only)
``instruction``                        ``list[str]`` of length ``B``
``task_index``                         ``(B,)`` int64 index into :attr:`DatasetInfo.tasks`; ``-1`` at
                                       evaluation when the env's task is not one of the training tasks
=====================================  =====================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

Batch = dict[str, Any]
"""A collated batch (training) or a batched observation (evaluation); see the module docstring for keys."""

ACTION = "action"
ACTION_IS_PAD = "action_is_pad"
STATE = "observation.state"
OBS_IS_PAD = "observation.is_pad"
INSTRUCTION = "instruction"
TASK_INDEX = "task_index"


def image_key(view: str) -> str:
    """Batch key of a camera view's pixels."""
    return f"observation.images.{view}"


def feature_key(encoder: str, source: str) -> str:
    """Batch key of a frozen encoder's output for ``source`` (a view name, or ``"instruction"``)."""
    return f"features.{encoder}.{source}"


@dataclass
class Episode:
    """One demonstration, as every reader yields it.

    Arrays may be NumPy arrays or lazily-read array-likes (h5py datasets, memory maps) that support
    ``arr[indices]``; all share the leading time axis of length :attr:`length`. Images are upright
    (the reader fixed the recorded orientation), ``(T, H, W, 3)`` uint8.
    """

    episode_id: str
    task: str
    instruction: str
    actions: Any
    proprio: Mapping[str, Any]
    images: Mapping[str, Any]
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def length(self) -> int:
        return len(self.actions)


@dataclass(frozen=True)
class FeatureSpec:
    """A frozen encoder whose outputs a method reads instead of (or beside) raw inputs.

    ``encoder`` names an entry of the encoder registry (:mod:`foresight.encoders`), ``kwargs`` its
    arguments (checkpoint path, variant); ``sources`` lists the views it encodes, plus ``"instruction"``
    for the language embedding. The data layer fills ``features.<name>.<source>`` from the feature cache
    when one is built; otherwise they are computed on the fly from the pixels (and at evaluation always),
    so both paths give the same batch.
    """

    name: str
    encoder: str
    sources: tuple[str, ...]
    kwargs: tuple[tuple[str, Any], ...] = ()


def target_key(teacher: str, source: str) -> str:
    """Batch key of a teacher's output for view ``source`` (see :class:`TeacherSpec`)."""
    return f"targets.{teacher}.{source}"


@dataclass(frozen=True)
class TeacherSpec:
    """A frozen teacher whose outputs a method trains against (DreamVLA's depth / SAM / dynamic regions).

    ``teacher`` names an entry of the teacher registry (:mod:`foresight.teachers`), ``kwargs`` its arguments
    (model path, output resolution or pooling: the consumer's choice, part of the cache key). Outputs for
    ``sources`` (views) are read from the teacher cache at ``offsets``, which must be observation offsets of the
    same DataSpec (e.g. ``obs_offsets=(0, 3)``, ``offsets=(3,)`` for a target at ``t + 3``), into
    ``targets.<name>.<source>``. The trainer builds missing caches before training.
    """

    name: str
    teacher: str
    sources: tuple[str, ...]
    offsets: tuple[int, ...]
    kwargs: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class DataSpec:
    """What a method needs from a dataset, declared once as data (like LeRobot's delta indices).

    Offsets are in frames relative to the sample's anchor time ``t``: CLaD's stage 1 asks for
    ``obs_offsets=(-6, 0, 6)`` and ``action_offsets=(-6, ..., -1)``; a policy with an action chunk of 8 asks
    for ``action_offsets=(0, ..., 7)``. At episode ends offsets are clamped to the first or last frame and
    flagged in ``*_is_pad`` (documented in docs/concepts.md).

    The inference spec (``data_spec(None)``) is what evaluation supplies: observations at the offsets ``<= 0`` and,
    for each negative action offset ``o``, the action ``a_{t+o}`` the robot executed, as ``action``
    ``(B, n_past, action_dim)`` normalised like training actions with ``action_is_pad`` True where ``t+o < 0``
    (before the episode or CALVIN subtask start; the value is then the first executed action, as training clamps,
    or the zero action at ``t = 0``). Non-negative action offsets are the chunk to predict, never supplied
    (docs/evaluation.md).
    """

    obs_offsets: tuple[int, ...] = (0,)
    action_offsets: tuple[int, ...] = (0,)
    views: tuple[str, ...] = ()
    proprio_keys: tuple[str, ...] = ()
    features: tuple[FeatureSpec, ...] = ()
    load_pixels: bool = True
    normalization: Mapping[str, str] = field(default_factory=lambda: {ACTION: "min_max", STATE: "min_max"})
    targets: tuple[TeacherSpec, ...] = ()

    def __post_init__(self) -> None:
        if not self.obs_offsets or not self.action_offsets:
            raise ValueError("DataSpec needs at least one observation offset and one action offset")
        for name, offsets in (("obs_offsets", self.obs_offsets), ("action_offsets", self.action_offsets)):
            if list(offsets) != sorted(set(offsets)):
                raise ValueError(f"DataSpec.{name} must be strictly increasing, got {offsets}")
        for key, mode in self.normalization.items():
            if mode not in NORMALIZATION_MODES:
                raise ValueError(f"normalization mode {mode!r} for {key!r}: expected one of {NORMALIZATION_MODES}")
        for target in self.targets:
            if not set(target.offsets) <= set(self.obs_offsets) or not target.offsets:
                raise ValueError(
                    f"teacher target {target.name!r}: offsets {target.offsets} must be non-empty and among "
                    f"obs_offsets {self.obs_offsets}"
                )

    @property
    def observation_offsets_at_inference(self) -> tuple[int, ...]:
        """The observation offsets an evaluation can supply: the past and the present, never the future."""
        return tuple(o for o in self.obs_offsets if o <= 0)


NORMALIZATION_MODES = ("min_max", "mean_std", "identity")


@dataclass(frozen=True)
class DatasetInfo:
    """The facts about a dataset a method needs to build itself (dimensions, views, tasks).

    ``image_shapes`` are ``(3, H, W)`` per view, as images appear in batches. ``view_roles`` and
    ``proprio_roles`` say which view is the ``primary`` / ``wrist`` camera and which proprio key holds the
    ``arm`` / ``gripper`` / ``eef`` state (:mod:`foresight.roles`): methods ask for roles, not benchmark keys.
    """

    action_dim: int
    proprio_dims: Mapping[str, int]
    image_shapes: Mapping[str, tuple[int, int, int]]
    tasks: tuple[str, ...]
    instructions: tuple[str, ...]
    fps: float | None = None
    view_roles: Mapping[str, str] = field(default_factory=dict)
    proprio_roles: Mapping[str, str] = field(default_factory=dict)

    def resolve_views(self, names: tuple[str, ...]) -> tuple[str, ...]:
        """The dataset's view keys for ``names`` (view keys or roles such as ``primary``); a clear error if absent."""
        from foresight.roles import resolve

        return resolve(names, self.image_shapes, self.view_roles, "views")

    def resolve_proprio(self, names: tuple[str, ...]) -> tuple[str, ...]:
        """The dataset's proprio keys for ``names`` (keys or roles such as ``arm``)."""
        from foresight.roles import resolve

        return resolve(names, self.proprio_dims, self.proprio_roles, "proprio keys")

    def proprio_dim(self, keys: tuple[str, ...]) -> int:
        return sum(self.proprio_dims[k] for k in self.resolve_proprio(keys))


@dataclass
class ForesightOutput:
    """What a foresight module predicts: one conditioning vector per predicted modality, plus extras.

    ``embeddings`` maps a name (CLaD: ``"proprio"``, ``"semantic"``; DreamVLA: ``"dynamic_region"``,
    ``"depth"``, ``"semantic"``; MoLA: ``"latent_actions"``) to a ``(B, ..., D)`` tensor the action head is
    conditioned on; ``extras`` holds diagnostics (CLaD's ``z_dyn``) that are not conditioning.
    """

    embeddings: dict[str, torch.Tensor]
    extras: dict[str, torch.Tensor] = field(default_factory=dict)
