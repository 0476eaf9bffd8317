"""The registered ``clap`` method: ``act_vae`` -> ``vd_vae`` -> ``ntp`` -> ``rf_km``, acting as NTP or RF.

Each stage starts from the previous stage's final weights (the trainer loads them), so the VD-VAE finds the
trained, frozen Act-VAE codebook, the token policy its code targets, and ``rf_km`` the NTP policy it copies into
its frozen reference (:meth:`CLAP.on_stage_start`).
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import ClassVar

import torch
import torch.nn.functional as F

from foresight.interfaces import Method, Stage
from foresight.methods.clad.features import OnTheFlyFeatures, feature_spec
from foresight.methods.clap.act_vae import ActVAE
from foresight.methods.clap.config import CLAPConfig
from foresight.methods.clap.features import OnTheFlyTeacher, dino_spec, policy_inputs
from foresight.methods.clap.knowledge import knowledge_matching_kl
from foresight.methods.clap.policy import TokenPolicy
from foresight.methods.clap.rf import build_rf_head, layer_indices
from foresight.methods.clap.vd_vae import VDVAE, feature_tokens
from foresight.registry import register_method
from foresight.types import ACTION, ACTION_IS_PAD, Batch, DatasetInfo, DataSpec, target_key

ACT_VAE, VD_VAE, NTP, RF_KM = "act_vae", "vd_vae", "ntp", "rf_km"
INFERENCE_MODES = ("rf", "ntp")


@register_method("clap")
class CLAP(Method):
    """Contrastive latent action pretraining, a token policy, a rectified-flow head and Knowledge Matching.

    ``reference`` (the frozen NTP policy of Knowledge Matching) exists only with ``rf.finetune=km``; it is a
    registered submodule that never trains, so checkpoints carry it and a resumed ``rf_km`` keeps the copy it made.
    """

    Config: ClassVar[type] = CLAPConfig

    def __init__(self, config: CLAPConfig, info: DatasetInfo) -> None:
        config = replace(
            config,
            vlm=replace(config.vlm, views=info.resolve_views(config.vlm.views)),
            proprio_keys=info.resolve_proprio(config.proprio_keys),
            vd_vae=replace(config.vd_vae, view=info.resolve_views((config.vd_vae.view,))[0]),
        )
        super().__init__(config, info)
        act = config.act_vae
        self.act_vae = ActVAE(act, info.action_dim)
        self.vd_vae = VDVAE(config.vd_vae, act)
        proprio_dim = info.proprio_dim(config.proprio_keys) if config.proprio_keys else 0
        self.policy = TokenPolicy(config.policy.backbone, config.vlm, proprio_dim, act.num_codes, act.codebook_size)
        self.layers = layer_indices(self.policy.num_layers, config.rf.num_layers)
        self.rf_head = build_rf_head(config.rf, info.action_dim, self.policy.width, len(self.layers))
        self.reference = copy.deepcopy(self.policy).requires_grad_(False) if config.rf.finetune == "km" else None
        self.features = OnTheFlyFeatures(config.vlm)
        self.dino = OnTheFlyTeacher(dino_spec(config.vd_vae, config.vd_vae.view, act.chunk))
        self.inference = config.inference

    # ------------------------------------------------------------------------------------------- structure
    def stages(self) -> list[Stage]:
        c = self.config
        rf_trains = ("rf_head",) if c.rf.finetune == "insulation" else ("policy", "rf_head")
        return [
            Stage(ACT_VAE, ("act_vae",), c.act_vae.budget),
            Stage(VD_VAE, ("vd_vae",), c.vd_vae.budget),
            Stage(NTP, ("policy",), c.policy.budget),
            Stage(RF_KM, rf_trains, c.rf.budget),
        ]

    def data_spec(self, stage: str | None = None) -> DataSpec:
        """``act_vae``: one action chunk. ``vd_vae``: frames ``t, t+H`` (DINO targets) and the chunk between.
        ``ntp`` / ``rf_km``: the encoder's features and the state at ``t``, and the chunk. Evaluation: the same inputs
        at ``t``; the method returns ``rf.horizon`` actions in either inference mode."""
        if stage is not None:
            self.stage(stage)
        c = self.config
        chunk = tuple(range(c.act_vae.chunk))
        if stage == ACT_VAE:
            return DataSpec(obs_offsets=(0,), action_offsets=chunk, load_pixels=False)
        if stage == VD_VAE:
            view = c.vd_vae.view
            return DataSpec(
                obs_offsets=(0, c.act_vae.chunk),
                action_offsets=chunk,
                views=(view,),
                targets=(dino_spec(c.vd_vae, view, c.act_vae.chunk),),
            )
        return DataSpec(
            obs_offsets=(0,),
            action_offsets=chunk if stage is not None else tuple(range(c.rf.horizon)),
            views=c.vlm.views,
            proprio_keys=c.proprio_keys,
            features=(feature_spec(c.vlm),),
        )

    # -------------------------------------------------------------------------------------------- training
    def compute_loss(self, batch: Batch, stage: str) -> tuple[torch.Tensor, dict[str, float]]:
        self.stage(stage)
        actions, real = batch[ACTION], ~batch[ACTION_IS_PAD]
        if stage == ACT_VAE:
            losses = self.act_vae.loss(actions, real.float())
        elif stage == VD_VAE:
            losses = self._vd_vae_loss(batch, actions)
        elif stage == NTP:
            losses = self._ntp_loss(batch, actions)
        else:
            losses = self._rf_loss(batch, actions, real)
        names = list(losses)
        values = torch.stack([losses[k].detach().float() for k in names]).tolist()  # one device sync
        return losses["loss"], dict(zip(names, values, strict=True))

    def _vd_vae_loss(self, batch: Batch, actions: torch.Tensor) -> dict[str, torch.Tensor]:
        cfg = self.config.vd_vae
        key = target_key(cfg.teacher, cfg.view)
        tokens = feature_tokens(self.dino.get(batch), cfg, key)
        with torch.no_grad():
            positives = self.act_vae.latents(actions)
        action_free = torch.rand(len(actions), device=actions.device) < cfg.action_free_fraction
        return self.vd_vae.loss(tokens[:, 0], tokens[:, 1], positives, action_free, self.act_vae.codebook)

    def _prefix(self, batch: Batch) -> torch.Tensor:
        return self.policy.prefix(*policy_inputs(self.features.fill(batch), self.config.vlm))

    def _ntp_loss(self, batch: Batch, actions: torch.Tensor) -> dict[str, torch.Tensor]:
        codes = self.act_vae.encode(actions)
        logits, _ = self.policy(self._prefix(batch), codes)
        ce = F.cross_entropy(logits.flatten(0, 1).float(), codes.flatten())
        accuracy = (logits.argmax(-1) == codes).float().mean()
        return {"loss": ce, "ntp": ce, "token_accuracy": accuracy}

    def condition(self, hidden: tuple[torch.Tensor, ...], num_prefix: int) -> torch.Tensor:
        """The RF head's condition: the selected layers' prefix states, ``(B, layers * P, width)``."""
        return torch.cat([hidden[i][:, :num_prefix] for i in self.layers], dim=1)

    def _rf_loss(self, batch: Batch, actions: torch.Tensor, real: torch.Tensor) -> dict[str, torch.Tensor]:
        rf = self.config.rf
        codes = self.act_vae.encode(actions)
        prefix_grad = torch.no_grad() if rf.finetune == "insulation" else torch.enable_grad()
        with prefix_grad:  # knowledge insulation (code: enable_ki): the backbone only extracts features
            prefix = self._prefix(batch)
            logits, hidden = self.policy(prefix, codes)
        cond = self.condition(hidden, prefix.shape[1])
        flow = self.rf_head.loss(cond, actions[:, : rf.horizon], real[:, : rf.horizon])
        losses = {"loss": flow, "rf": flow}
        if self.reference is not None:
            with torch.no_grad():
                ref_prefix = self.reference.prefix(*policy_inputs(self.features.fill(batch), self.config.vlm))
                ref_logits, _ = self.reference(ref_prefix, codes)
            kl = knowledge_matching_kl(logits, ref_logits, rf.km_direction)
            losses = {"loss": flow + rf.km_weight * kl, "rf": flow, "km_kl": kl}
        return losses

    def on_stage_start(self, stage: str) -> None:
        """``vd_vae``: the EMA teacher starts as the online encoder. ``rf_km``: the frozen reference becomes the
        NTP policy as this stage starts (Algorithm 4 line 13, ``phi_ref <- phi_NTP``)."""
        if stage == VD_VAE:
            self.vd_vae.reset_teacher()
        elif stage == RF_KM and self.reference is not None:
            self.reference.load_state_dict(self.policy.state_dict())

    def on_optimizer_step(self, stage: str, step: int) -> None:
        if stage == VD_VAE:
            self.vd_vae.update_teacher()

    def describe_foresight(self) -> str:
        """CLAP's foresight is its latent-action codes; how the head was fine-tuned and which one acts are named."""
        return f"latent action codes ({self.config.rf.finetune}, acting as {self.inference})"

    # ------------------------------------------------------------------------------------------ evaluation
    def set_inference(self, mode: str) -> None:
        """Act as ``"rf"`` (the flow head, ``rf.inference_steps`` Euler steps) or ``"ntp"`` (greedy codes, decoded
        by the Act-VAE); both return ``rf.horizon`` actions, so one inference spec serves both."""
        if mode not in INFERENCE_MODES:
            raise ValueError(f"inference mode {mode!r}: expected one of {INFERENCE_MODES}")
        self.inference = mode

    @torch.no_grad()
    def predict_action_chunk(self, batch: Batch, *, generator: torch.Generator | None = None) -> torch.Tensor:
        prefix = self._prefix(batch)
        horizon = self.config.rf.horizon
        if self.inference == "ntp":
            return self.act_vae.decode(self.policy.generate(prefix))[:, :horizon]
        cond = self.condition(self.policy.prefix_states(prefix), prefix.shape[1])
        return self.rf_head.sample(cond, generator=generator)
