"""The four roles every method is built from, and the unit of training (a :class:`Stage`).

Keeping the roles apart is what makes comparisons honest: a leaderboard row can hold the :class:`Encoder` and
the :class:`ActionHead` fixed and swap only the :class:`Foresight` module. The seed methods map onto them as

========  ===========================  ===================================  ===============================
method    Encoder (frozen, cacheable)  Foresight                            ActionHead
========  ===========================  ===================================  ===============================
CLaD      DecisionNCE image + text     cross-modal latent dynamics          FiLM-conditioned DDPM
DreamVLA  MAE ViT, CLIP text           world-knowledge queries              DiT diffusion
MoLA      video / text encoders        imagined video -> latent actions     DiT flow matching
CLAP      DINO features                VQ action tokens + inverse dynamics  token policy + rectified flow
dp        (observation encoders only)  none                                 DDPM
========  ===========================  ===================================  ===============================
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from foresight.batch_check import check_batch
from foresight.budget import Budget
from foresight.rollout import EnvSuite, EpisodeSpec, RolloutEnv, StepResult
from foresight.types import Batch, DatasetInfo, DataSpec, ForesightOutput

__all__ = [
    "ActionHead",
    "Budget",
    "Encoder",
    "EnvSuite",
    "EpisodeSpec",
    "Foresight",
    "Method",
    "RolloutEnv",
    "Stage",
    "StepResult",
]


class Encoder(nn.Module, ABC):
    """Maps one kind of input (images of a view, instructions) to embeddings.

    A frozen encoder sets :attr:`feature_id`: a string that changes whenever its outputs would (model id,
    weights hash, preprocessing), so the feature cache can key its files on it and rebuild stale ones.
    """

    feature_id: str | None = None
    output_dim: int

    @abstractmethod
    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` uint8 upright images -> ``(N, ...)`` float features."""

    @abstractmethod
    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        """``N`` instructions -> ``(N, ...)`` float features."""


class Foresight(nn.Module, ABC):
    """Predicts the future in some space (latents, world knowledge, latent actions) from the present."""

    @abstractmethod
    def forward(self, batch: Batch) -> ForesightOutput:
        """Foresight for conditioning a policy; uses only what is known at inference time."""

    @abstractmethod
    def loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Training losses by name; the total is ``losses["loss"]``."""


class ActionHead(nn.Module, ABC):
    """A conditional generative model over action chunks ``(B, horizon, action_dim)``.

    The condition is either one flat vector per row, ``(B, C)``, or a sequence of tokens, ``(B, N, C)`` (DreamVLA's
    action queries, MoLA's latent actions, CLAP's backbone states), with an optional ``cond_mask`` ``(B, N)`` that
    is True where a token is real; padded tokens must not influence the result. A flat condition is one token, so
    ``(B, C)`` and ``(B, 1, C)`` give the same result. :mod:`foresight.heads` holds the implementations.
    """

    @abstractmethod
    def loss(
        self,
        cond: torch.Tensor,
        actions: torch.Tensor,
        mask: torch.Tensor | None = None,
        *,
        cond_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Scalar training loss; ``mask`` ``(B, horizon)`` is True where an action is real (not padding)."""

    @abstractmethod
    def sample(
        self, cond: torch.Tensor, *, cond_mask: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Draw one action chunk per row of ``cond``."""


@dataclass(frozen=True)
class Stage:
    """One training phase of a method: which submodules learn, and its default budget.

    ``trainable`` names attributes of the method (``"dynamics"``, ``"policy"``); every other parameter is
    frozen and its module kept in eval mode for the stage. ``budget`` is the paper's optimisation budget for the
    stage, taken from the method config; ``train.*`` on the command line overrides its fields for every stage.
    Its ``ema_decay`` turns on an exponential moving average of the trainable weights (Diffusion Policy style),
    saved beside them and used for evaluation.
    """

    name: str
    trainable: tuple[str, ...]
    budget: Budget


class Method(nn.Module, ABC):
    """The unit that is registered, trained and evaluated; composes encoders, foresight and an action head.

    Subclasses set :attr:`Config` to a dataclass (validated against configs and saved with checkpoints) and are
    registered with :func:`foresight.registry.register_method`. A method sees normalised data only: the data
    layer normalises, and the evaluation runner inverts the normalisation of predicted actions.
    """

    Config: ClassVar[type]
    name: ClassVar[str] = ""

    def __init__(self, config: Any, info: DatasetInfo) -> None:
        super().__init__()
        self.config = config
        self.info = info

    @abstractmethod
    def stages(self) -> list[Stage]:
        """The training stages, in order (CLaD: ``dynamics`` then ``policy``; dp: ``policy``)."""

    @abstractmethod
    def data_spec(self, stage: str | None = None) -> DataSpec:
        """What the given stage reads; ``None`` means evaluation (inference-time inputs)."""

    @abstractmethod
    def compute_loss(self, batch: Batch, stage: str) -> tuple[torch.Tensor, dict[str, float]]:
        """The stage's scalar loss and the numbers to log."""

    @abstractmethod
    def predict_action_chunk(self, batch: Batch, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Normalised actions ``(B, n, action_dim)`` from inference-time inputs.

        ``n`` is either the number of non-negative action offsets of ``data_spec(None)`` (the chunk to execute)
        or all of its action offsets (a chunk that starts in the past, Diffusion-Policy style; the runner drops
        the past rows). Past executed actions, when the spec declares negative offsets, arrive in ``action`` /
        ``action_is_pad``.
        """

    def forward(self, batch: Batch, stage: str) -> tuple[torch.Tensor, dict[str, float]]:
        """Training entry point: the trainer calls the (possibly DDP-wrapped) module, so sync and autocast apply.

        The batch is checked against the stage's data spec first: a missing key is one error naming it, whichever
        method reads it (:func:`foresight.batch_check.check_batch`).
        """
        check_batch(batch, self.data_spec(stage), training=True, where=f"method {self.name!r}, stage {stage!r}")
        return self.compute_loss(batch, stage)

    def reset(self) -> None:
        """Forget any per-episode state before a new evaluation episode."""

    def on_stage_start(self, stage: str) -> None:
        """Called once as a stage begins, on its starting weights, before its optimizer and weight EMA exist.

        The starting weights are the previous stage's final ones (or ``train.init_from``'s). Set up here what the
        stage derives from them: CLaD copies its online encoders into their EMA targets (eq. 14 starts from
        ``θ_target = θ``); a CLAP-style method freezes a reference copy of its own policy. Whatever this builds must
        live in tensors declared in ``__init__`` (buffers, or parameters outside the stage's trainable modules), so
        that checkpoints carry it and evaluation rebuilds the same structure. A resumed stage replays this call on
        the same starting weights, then loads its checkpoint over them: the state is the one the interrupted run
        built and saved, never rebuilt from weights trained since.
        """

    def on_optimizer_step(self, stage: str, step: int) -> None:
        """Called after every optimizer step (CLaD updates its EMA target encoders here)."""

    def check_evaluable(self) -> None:
        """Raise, with what to change, when this policy cannot act in an environment at all.

        The evaluation runner calls it before any episode. MoLA trained on ``oracle`` imagination (the dataset's
        real future frame) raises here unless it was given a video model to imagine with at evaluation.
        """

    def result_labels(self) -> tuple[str, ...]:
        """Short labels every evaluation result of this policy must carry (``method.labels``, shown on the board).

        For facts a reader must not miss when comparing rows, e.g. MoLA's "imagination: oracle" upper bound.
        """
        return ()

    def describe_foresight(self) -> str:
        """What this method predicts the future with, as a study's results record it (``components.foresight``).

        The default names the :class:`Foresight` submodules (``"none"`` without one); a method whose foresight
        has variants that keep the same modules (CLaD's ``policy.foresight``) names the variant too.
        """
        names = sorted({type(m).__name__ for m in self.modules() if isinstance(m, Foresight)})
        return "+".join(names) or "none"

    def stage(self, name: str) -> Stage:
        stages = self.stages()
        for stage in stages:
            if stage.name == name:
                return stage
        raise KeyError(f"method {self.name!r} has no stage {name!r}; its stages are {[s.name for s in stages]}")

    def trainable_parameters(self, stage: Stage) -> Iterator[nn.Parameter]:
        for attr in stage.trainable:
            module = getattr(self, attr, None)
            if not isinstance(module, nn.Module):
                raise AttributeError(f"stage {stage.name!r} trains {attr!r}, which is not a submodule of {self.name!r}")
            yield from module.parameters()
