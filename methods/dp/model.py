"""``dp``: a diffusion policy without foresight, the "Policy only" row of CLaD's ablation (Fig. 3, 84.8 % on
LIBERO-LONG): per-view image encoders, a proprio MLP and a task embedding are concatenated into one condition
vector for a DDPM head over the action chunk."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

import torch
from torch import nn

from foresight.heads import DDPMHead
from foresight.interfaces import Method, Stage
from foresight.nn import MLP, ResNetImageEncoder, imagenet_normalize
from foresight.registry import register_method
from foresight.types import (
    ACTION,
    ACTION_IS_PAD,
    INSTRUCTION,
    STATE,
    TASK_INDEX,
    Batch,
    DatasetInfo,
    DataSpec,
    image_key,
)

from .config import DiffusionPolicyConfig


@register_method("dp")
class DiffusionPolicy(Method):
    """Observation encoders -> condition vector -> :class:`~foresight.heads.DDPMHead` over ``horizon`` actions.

    The condition is ``[image features of every view and frame, e_p(proprio) of every frame, task embedding]``,
    the input a Diffusion Policy (Chi et al. 2023) sees; CLaD's policy adds its FiLM-modulated foresights to it.
    """

    Config: ClassVar[type] = DiffusionPolicyConfig

    def __init__(self, config: DiffusionPolicyConfig, info: DatasetInfo) -> None:
        # Roles (primary, wrist, arm, gripper) become this dataset's keys; a missing one is a one-line error.
        config = replace(
            config, views=info.resolve_views(config.views), proprio_keys=info.resolve_proprio(config.proprio_keys)
        )
        super().__init__(config, info)
        if not info.tasks:
            raise ValueError("the dataset lists no tasks; dp embeds the task index and needs at least one")
        num_frames = len(config.obs_offsets)
        self.image_encoders = nn.ModuleDict(
            {
                view: ResNetImageEncoder(
                    config.image_feature_dim, config.vision_width, config.vision_pool, config.num_keypoints
                )
                for view in config.views
            }
        )
        cond_dim = num_frames * len(config.views) * config.image_feature_dim + config.task_embedding_dim
        self.proprio_encoder: MLP | None = None
        if config.proprio_keys:
            self.proprio_encoder = MLP(
                info.proprio_dim(config.proprio_keys), config.proprio_hidden_dim, config.proprio_feature_dim
            )
            cond_dim += num_frames * config.proprio_feature_dim
        self.task_embedding = nn.Embedding(len(info.tasks), config.task_embedding_dim)
        self.head = DDPMHead(
            info.action_dim,
            config.horizon,
            cond_dim,
            num_train_timesteps=config.num_train_timesteps,
            beta_schedule=config.beta_schedule,
            clip_sample=config.clip_sample,
            prediction_type=config.prediction_type,
            sampler=config.sampler,
            num_inference_steps=config.num_inference_steps,
            noise_samples=config.noise_samples,
            hidden_dim=config.hidden_dim,
            num_blocks=config.num_blocks,
            dropout=config.dropout,
            time_embed_dim=config.time_embed_dim,
            time_hidden_dim=config.time_hidden_dim,
        )
        self._instruction_index = {text: i for i, text in enumerate(info.instructions)}

    def stages(self) -> list[Stage]:
        c = self.config
        trainable = ("image_encoders", "proprio_encoder", "task_embedding", "head")
        return [
            Stage(
                "policy",
                trainable=tuple(name for name in trainable if getattr(self, name) is not None),
                budget=c.budget,
            )
        ]

    def data_spec(self, stage: str | None = None) -> DataSpec:
        if stage is not None:
            self.stage(stage)  # an unknown stage name is an error listing the real ones
        return DataSpec(
            obs_offsets=self.config.obs_offsets,
            action_offsets=tuple(range(self.config.horizon)),
            views=self.config.views,
            proprio_keys=self.config.proprio_keys,
        )

    def condition(self, batch: Batch) -> torch.Tensor:
        """The ``(B, cond_dim)`` vector the action head is conditioned on, from inference-time inputs only."""
        features = []
        num_frames = len(self.config.obs_offsets)
        for view, encoder in self.image_encoders.items():
            images = _require(batch, image_key(view))
            if images.dim() != 5 or images.shape[1] != num_frames or images.shape[2] != 3:
                raise ValueError(
                    f"batch[{image_key(view)!r}] must be (B, {num_frames}, 3, H, W) uint8, got {tuple(images.shape)}"
                )
            feats = encoder(imagenet_normalize(images.flatten(0, 1)))
            features.append(feats.view(images.shape[0], num_frames, -1))
        if self.proprio_encoder is not None:
            state = _require(batch, STATE)
            if state.dim() != 3 or state.shape[1] != num_frames:
                raise ValueError(f"batch[{STATE!r}] must be (B, {num_frames}, proprio_dim), got {tuple(state.shape)}")
            features.append(self.proprio_encoder(state.float()))
        obs = torch.cat(features, dim=-1).flatten(1)
        return torch.cat([obs, self.task_embedding(self._task_indices(batch, obs.shape[0], obs.device))], dim=-1)

    def _task_indices(self, batch: Batch, size: int, device: torch.device) -> torch.Tensor:
        """``task_index``; rows outside the training tasks (the evaluation runner sends -1) fall back to an exact
        match of their instruction, and anything else is an error rather than a silently wrong embedding."""
        index = batch.get(TASK_INDEX)
        index = torch.full((size,), -1, dtype=torch.long) if index is None else index.to(torch.long).cpu()
        unknown = ((index < 0) | (index >= len(self.info.tasks))).nonzero().flatten().tolist()
        if unknown:
            instructions = batch.get(INSTRUCTION)
            index = index.clone()
            for row in unknown:
                text = instructions[row] if instructions is not None else None
                if text not in self._instruction_index:
                    raise ValueError(
                        f"row {row}: task_index {int(index[row])} and instruction {text!r} match no training task; "
                        f"dp knows {len(self.info.tasks)} tasks: {list(self.info.tasks)[:5]}..."
                    )
                index[row] = self._instruction_index[text]
        return index.to(device)

    def compute_loss(self, batch: Batch, stage: str) -> tuple[torch.Tensor, dict[str, float]]:
        self.stage(stage)
        actions = _require(batch, ACTION)
        is_pad = batch.get(ACTION_IS_PAD)
        mask = None if is_pad is None else ~is_pad
        loss = self.head.loss(self.condition(batch), actions.float(), mask)
        return loss, {"loss": loss.item()}

    @torch.no_grad()
    def predict_action_chunk(self, batch: Batch, *, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.head.sample(self.condition(batch), generator=generator)


def _require(batch: Batch, key: str) -> torch.Tensor:
    if key not in batch:
        raise KeyError(f"dp needs batch key {key!r}; the batch has {sorted(batch)}")
    return batch[key]
