"""The registered ``clad`` method: stage ``dynamics`` (§4.1-4.2), then stage ``policy`` (§4.3) on the frozen
dynamics model, and evaluation that plans (foresight) and acts (DDPM sampling) as two measurable calls."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

import torch

from foresight.interfaces import Encoder, Method, Stage
from foresight.methods.clad.config import CLaDConfig
from foresight.methods.clad.dynamics import CrossModalDynamics
from foresight.methods.clad.features import OnTheFlyFeatures, feature_spec
from foresight.methods.clad.policy import ForesightPolicy
from foresight.registry import register_method
from foresight.types import ACTION, ACTION_IS_PAD, Batch, DatasetInfo, DataSpec, ForesightOutput

DYNAMICS, POLICY = "dynamics", "policy"


@register_method("clad")
class CLaD(Method):
    """Cross-modal latent dynamics + foresight-conditioned diffusion policy (Jeong et al. 2026).

    The frozen VLM is not a submodule: features come from the data layer's cache, or are computed on the fly by
    :class:`OnTheFlyFeatures`, which rebuilds the encoder from ``config.vlm`` and is never saved or trained.

    At evaluation the past actions ``a_{t-τ:t}`` the dynamics model reads are the ones the robot executed: the
    inference spec declares them as action offsets ``-τ..-1`` and the evaluation runner supplies them in the batch,
    normalised and flagged in ``action_is_pad`` before the episode (or subtask) start, as a stage-2 training window
    does. A padded action becomes the learned mask token, as in training.
    """

    Config: ClassVar[type] = CLaDConfig

    def __init__(self, config: CLaDConfig, info: DatasetInfo) -> None:
        # Roles (primary, arm, gripper) become this dataset's keys; a missing one is a one-line error.
        config = replace(
            config,
            vlm=replace(config.vlm, views=info.resolve_views(config.vlm.views)),
            proprio_keys=info.resolve_proprio(config.proprio_keys),
        )
        super().__init__(config, info)
        proprio_dim = info.proprio_dim(config.proprio_keys)
        self.tau = config.dynamics.tau
        self.dynamics: CrossModalDynamics | None = None
        if config.policy.foresight != "none":
            self.dynamics = CrossModalDynamics(config.dynamics, config.vlm, proprio_dim, info.action_dim)
        self.policy = ForesightPolicy(
            config.policy, config.vlm, proprio_dim, info.action_dim, self.tau, config.dynamics.hidden_dim
        )
        self.features = OnTheFlyFeatures(config.vlm)

    # ------------------------------------------------------------------------------------------- structure
    def stages(self) -> list[Stage]:
        d, p = self.config.dynamics, self.config.policy
        policy = Stage(POLICY, (POLICY,), p.budget)
        if self.dynamics is None:
            return [policy]
        return [Stage(DYNAMICS, (DYNAMICS,), d.budget), policy]

    def data_spec(self, stage: str | None = None) -> DataSpec:
        """Stage 1 reads frames ``t-τ, t, t+τ`` and ``a_{t-τ:t}``; stage 2 frames ``t-τ, t`` and
        ``a_{t-τ:t+τ}`` (past actions for planning, then the chunk to learn). Evaluation reads what stage 2 does:
        the runner supplies the executed ``a_{t-τ:t}`` and the method predicts ``a_{t:t+τ}``."""
        if stage is not None:
            self.stage(stage)
        tau = self.tau
        planning = self.dynamics is not None
        if stage == DYNAMICS:
            obs, actions = (-tau, 0, tau), tuple(range(-tau, 0))
        elif planning:
            obs, actions = (-tau, 0), tuple(range(-tau, tau))
        else:
            obs, actions = (0,), tuple(range(tau))
        return DataSpec(
            obs_offsets=obs,
            action_offsets=actions,
            views=self.config.vlm.views,
            proprio_keys=self.config.proprio_keys,
            features=(feature_spec(self.config.vlm),),
        )

    def describe_foresight(self) -> str:
        """Figure 3's variants share the dynamics model; what differs is which foresight the policy reads."""
        return f"{super().describe_foresight()} (policy reads: {self.config.policy.foresight})"

    def use_vlm(self, encoder: Encoder) -> None:
        """Compute missing features with this encoder instead of building ``config.vlm`` (tests, notebooks)."""
        self.features.use_encoder(encoder)

    # -------------------------------------------------------------------------------------------- training
    def compute_loss(self, batch: Batch, stage: str) -> tuple[torch.Tensor, dict[str, float]]:
        self.stage(stage)
        batch = self.features.fill(batch)
        if stage == DYNAMICS:
            losses = self.dynamics.loss(batch)
            names = list(losses)
            values = torch.stack([losses[k].detach().float() for k in names]).tolist()  # one device sync
            return losses["loss"], dict(zip(names, values, strict=True))
        foresight = self.plan(batch)
        chunk = batch[ACTION][:, -self.tau :]
        pad = batch.get(ACTION_IS_PAD)
        loss = self.policy.loss(batch, foresight, chunk, None if pad is None else ~pad[:, -self.tau :])
        return loss, {"loss": loss.item()}

    def on_stage_start(self, stage: str) -> None:
        """Eq. 14 starts from ``θ_target = θ``: stage 1 copies the online encoders into their EMA targets (a no-op on
        a fresh model; it matters when ``train.init_from`` supplies the starting weights)."""
        if stage == DYNAMICS:
            self.dynamics.reset_targets()

    def on_optimizer_step(self, stage: str, step: int) -> None:
        """Eq. 14 after every stage-1 step; stage 2 must leave every stage-1 tensor as it is."""
        if stage == DYNAMICS:
            self.dynamics.update_targets()

    # ------------------------------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def plan(self, batch: Batch) -> ForesightOutput | None:
        """The latent foresight ``ẑ^{t+τ}`` from the frozen dynamics model (Table 3's "planning time").

        The dynamics model is put in eval mode here, whatever the caller did: in stage 2 and at evaluation it is
        frozen, and its training-time behaviour (action masking at rate r, dropout) must not leak into either.
        """
        if self.dynamics is None:
            return None
        self.dynamics.eval()
        return self.dynamics(batch)

    def prepare_inference_batch(self, batch: Batch) -> Batch:
        """The VLM features filled in from pixels where the batch has none (evaluation always computes them).

        The past actions ``a_{t-τ:t}`` are the batch's ``action`` rows as the runner supplies them; a batch without
        ``action`` (a caller outside the runner) plans with every action token masked, as a window whose past
        actions are all padding."""
        return self.features.fill(batch)

    @torch.no_grad()
    def act(
        self, batch: Batch, foresight: ForesightOutput | None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """The action chunk ``a_{t:t+τ}`` given the plan (the reverse diffusion; Table 2's inference rate)."""
        return self.policy.sample(batch, foresight, generator=generator)

    @torch.no_grad()
    def predict_action_chunk(self, batch: Batch, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """``(B, τ, action_dim)``: the chunk for the inference spec's offsets ``0..τ-1``."""
        batch = self.prepare_inference_batch(batch)
        return self.act(batch, self.plan(batch), generator=generator)
