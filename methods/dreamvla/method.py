"""The registered ``dreamvla`` method: an optional language-free pretraining stage, then joint fine-tuning of world
knowledge forecasting and DiT diffusion actions (§3, §4); at inference only the backbone and the action head run."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

import torch
from torch import nn

from foresight.heads import DDPMHead, DiTDenoiser
from foresight.interfaces import Method, Stage
from foresight.methods.dreamvla.backbone import DreamBackbone
from foresight.methods.dreamvla.config import DreamVLAConfig
from foresight.methods.dreamvla.decoders import KnowledgeDecoder
from foresight.methods.dreamvla.encoders import FrozenEncoders
from foresight.methods.dreamvla.knowledge import TEACHER_NAMES, Knowledge, Targets
from foresight.registry import register_method
from foresight.types import (
    ACTION,
    ACTION_IS_PAD,
    INSTRUCTION,
    OBS_IS_PAD,
    STATE,
    Batch,
    DatasetInfo,
    DataSpec,
    image_key,
    target_key,
)

PRETRAIN, FINETUNE = "pretrain", "finetune"


@register_method("dreamvla")
class DreamVLA(Method):
    """World-knowledge ``<dream>`` queries + structured attention + DiT diffusion head (Zhang et al. 2025).

    Training windows hold ``S`` history steps; every step's ``<action>`` queries learn that step's chunk and every
    step's ``<dream>`` queries forecast that step's ``t + n`` knowledge (the code trains all steps, as Seer). At
    inference the last step's ``<action>`` queries condition the head; the decoders are never called.
    """

    Config: ClassVar[type] = DreamVLAConfig

    def __init__(self, config: DreamVLAConfig, info: DatasetInfo) -> None:
        k = config.knowledge
        config = replace(
            config,
            views=info.resolve_views(config.views),
            proprio_keys=info.resolve_proprio(config.proprio_keys),
            knowledge=replace(k, views=info.resolve_views(k.views)) if k.types else k,
        )
        k = config.knowledge
        outside = [v for v in (k.views if k.types else ()) if v not in config.views]
        if outside:
            raise ValueError(f"knowledge.views {outside} are not among the input views {list(config.views)}")
        if config.pretrain and ("dynamic" not in k.types or k.dynamic != "region"):
            raise ValueError("pretrain=true forecasts entire frames with the dynamic decoder: it needs "
                             "'dynamic' in knowledge.types and knowledge.dynamic=region")  # fmt: skip
        super().__init__(config, info)
        h = config.backbone.hidden_dim
        self.encoders = FrozenEncoders(config.encoders)  # not a submodule: never saved, never trained
        self.knowledge = {t: Knowledge(t, k) for t in k.types}
        kviews = k.views if k.types else ()
        shared = config.backbone.queries == "shared"
        if shared and k.types and h % len(k.types):
            raise ValueError(f"shared queries split hidden_dim={h} into {len(k.types)} equal parts: it must divide")
        groups = [f"shared.{v}" for v in kviews] if shared else [f"{t}.{v}" for t in k.types for v in kviews]
        self.backbone = DreamBackbone(
            config.backbone,
            text_dim=config.encoders.text_dim,
            image_dim=config.encoders.image_dim,
            state_dims=[info.proprio_dims[key] for key in config.proprio_keys],
            views=len(config.views),
            dream_groups=groups,
            queries_per_group=k.queries_per_type,
            action_queries=config.chunk,
            history=config.history,
        )
        in_dim = h // len(k.types) if shared and k.types else h
        self.decoders = nn.ModuleDict(
            {
                t: KnowledgeDecoder(in_dim, know.out_dim, k.decoder_dim, k.decoder_layers, k.decoder_heads)
                for t, know in self.knowledge.items()
            }
        )
        c = config.head
        net = DiTDenoiser(info.action_dim, config.chunk, h, num_layers=c.layers, hidden_dim=c.width, num_heads=c.heads)
        self.head = DDPMHead(
            info.action_dim,
            config.chunk,
            h,
            num_train_timesteps=c.train_steps,
            beta_schedule=c.beta_schedule,
            sampler="ddim",
            num_inference_steps=c.inference_steps,
            noise_samples=c.noise_samples,
            cond_dropout=c.cond_dropout,
            guidance_scale=c.guidance_scale,
            noise_net=net,
        )

    def describe_foresight(self) -> str:
        """Table 3, 5 and 7's arms keep the modules and change what the dream queries forecast and how they attend."""
        k, b = self.config.knowledge, self.config.backbone
        kinds = "+".join(k.types) or "none"
        return f"world knowledge ({kinds}; {k.target}, {k.dynamic}; {b.attention} attention, {b.queries} queries)"

    # ------------------------------------------------------------------------------------------- structure
    def stages(self) -> list[Stage]:
        trainable = ("backbone", "decoders", "head") if self.knowledge else ("backbone", "head")
        finetune = Stage(FINETUNE, trainable, self.config.budget)
        if not self.config.pretrain:
            return [finetune]
        return [Stage(PRETRAIN, ("backbone", "decoders", "head"), self.config.pretrain_budget), finetune]

    @property
    def history_offsets(self) -> tuple[int, ...]:
        return tuple(range(1 - self.config.history, 1))

    @property
    def target_offsets(self) -> tuple[int, ...]:
        """Per history step, the frame its knowledge is read at: ``t + n`` (forecast) or ``t`` (reconstruct)."""
        n = self.config.knowledge.future if self.config.knowledge.target == "forecast" else 0
        return tuple(o + n for o in self.history_offsets)

    def data_spec(self, stage: str | None = None) -> DataSpec:
        """Training: the history, the target frames, every step's chunk, the teachers' targets (fine-tuning only).
        Inference: the history frames and the chunk from ``t``."""
        c = self.config
        common = {"views": c.views, "proprio_keys": c.proprio_keys}
        if stage is None:
            return DataSpec(obs_offsets=self.history_offsets, action_offsets=tuple(range(c.chunk)), **common)
        self.stage(stage)
        hist = self.history_offsets
        obs = tuple(sorted(set(hist) | (set(self.target_offsets) if self.knowledge else set())))
        targets = ()
        if stage == FINETUNE:
            kviews = c.knowledge.views
            targets = tuple(k.teacher(kviews, self.target_offsets, hist) for k in self.knowledge.values())
        actions = tuple(range(hist[0], c.chunk))
        return DataSpec(obs_offsets=obs, action_offsets=actions, targets=targets, **common)

    # -------------------------------------------------------------------------------------------- forward
    def _encode(self, batch: Batch, positions: list[int], language: bool) -> dict[str, torch.Tensor]:
        """Backbone inputs for the observation positions ``positions`` (the history steps)."""
        state = batch[STATE][:, positions].float()
        enc, cfg = self.encoders, self.config.encoders
        images = []
        for view in self.config.views:
            tokens = enc.encode_images(batch[image_key(view)][:, positions])
            if tokens.shape[-1] != cfg.image_dim:
                raise ValueError(f"the image encoder's width is {tokens.shape[-1]}; set encoders.image_dim to it")
            images.append(tokens)
        if language:
            text = enc.encode_text(list(batch[INSTRUCTION]), state.device)
            if text.shape[-1] != cfg.text_dim:
                raise ValueError(f"the text encoder's width is {text.shape[-1]}; set encoders.text_dim to it")
        else:  # language-free pretraining: the instruction token carries no instruction
            text = torch.zeros(state.shape[0], cfg.text_dim, device=state.device)
        pad = batch.get(OBS_IS_PAD)
        step_pad = pad[:, positions] if pad is not None else torch.zeros(state.shape[:2], dtype=torch.bool)
        return {"text": text.float(), "state": state, "images": images, "step_is_pad": step_pad.to(state.device)}

    def _positions(self, spec: DataSpec, offsets: tuple[int, ...]) -> list[int]:
        return [spec.obs_offsets.index(o) for o in offsets]

    def losses(self, batch: Batch, stage: str) -> dict[str, torch.Tensor]:
        """Each loss term, unweighted: ``action`` and one per knowledge type (pretraining: ``dynamic`` only)."""
        spec = self.data_spec(stage)
        hist = self._positions(spec, self.history_offsets)
        inputs = self._encode(batch, hist, language=stage == FINETUNE)
        out = self.backbone(inputs["text"], inputs["state"], inputs["images"], inputs["step_is_pad"])
        losses = {"action": self.action_loss(batch, out["action"], inputs["step_is_pad"])}
        if self.knowledge:
            tgt = self._positions(spec, self.target_offsets)
            valid = ~inputs["step_is_pad"] & ~batch[OBS_IS_PAD][:, tgt].to(inputs["step_is_pad"].device)
            types = ("dynamic",) if stage == PRETRAIN else tuple(self.knowledge)
            for kind in types:
                losses[kind] = self.knowledge_loss(kind, batch, out["dream"], tgt, valid, pretrain=stage == PRETRAIN)
        return losses

    def compute_loss(self, batch: Batch, stage: str) -> tuple[torch.Tensor, dict[str, float]]:
        """Code's total: ``action + sum_k w_k * knowledge_k`` (utils/train_utils.py)."""
        losses = self.losses(batch, stage)
        weights = self.config.knowledge.weights
        total = sum((v if k == "action" else weights[k] * v) for k, v in losses.items())
        names = list(losses)
        values = torch.stack([losses[n].detach().float() for n in names]).tolist()  # one device sync
        logs = dict(zip([f"loss_{n}" for n in names], values, strict=True))
        logs["loss"] = float(total.detach())
        return total, logs

    def action_loss(self, batch: Batch, action_queries: torch.Tensor, step_is_pad: torch.Tensor) -> torch.Tensor:
        """Every step's chunk ``a_{t_s : t_s + chunk}`` from its ``<action>`` queries (padded rows carry no loss)."""
        s = action_queries.shape[1]
        chunk = self.config.chunk
        index = torch.arange(s)[:, None] + torch.arange(chunk)[None]  # (S, chunk) rows of the action window
        actions = batch[ACTION][:, index].float()
        real = ~batch[ACTION_IS_PAD][:, index] & ~step_is_pad[:, :, None].to(batch[ACTION_IS_PAD].device)
        return self.head.loss(action_queries.flatten(0, 1), actions.flatten(0, 1), real.flatten(0, 1))

    def knowledge_loss(
        self, kind: str, batch: Batch, dream: torch.Tensor, tgt: list[int], valid: torch.Tensor, *, pretrain: bool
    ) -> torch.Tensor:
        """One type's loss, averaged over the knowledge views; its decoder reads only its own queries."""
        know, k = self.knowledge[kind], self.config.knowledge
        shared = self.config.backbone.queries == "shared"
        per_view = []
        for vi, view in enumerate(k.views):
            if shared:
                width = dream.shape[-1] // len(self.knowledge)
                part = list(self.knowledge).index(kind)
                queries = dream[:, :, vi, :, part * width : (part + 1) * width]
            else:
                queries = dream[:, :, list(self.knowledge).index(kind) * len(k.views) + vi]
            teacher = None if pretrain else batch[target_key(TEACHER_NAMES[kind], view)].flatten(0, 1)
            frames = batch[image_key(view)][:, tgt].flatten(0, 1) if kind == "dynamic" else None
            targets: Targets = know.targets(teacher, frames, valid.flatten())
            pred = self.decoders[kind](queries.flatten(0, 1), targets.grid)
            per_view.append(know.loss(pred, targets))
        return torch.stack(per_view).mean()

    # ------------------------------------------------------------------------------------------ inference
    @torch.no_grad()
    def predict_action_chunk(self, batch: Batch, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """``(B, chunk, action_dim)`` from the current step's ``<action>`` queries; no decoder runs."""
        spec = self.data_spec(None)
        inputs = self._encode(batch, self._positions(spec, self.history_offsets), language=True)
        out = self.backbone(inputs["text"], inputs["state"], inputs["images"], inputs["step_is_pad"])
        return self.head.sample(out["action"][:, -1], generator=generator)
