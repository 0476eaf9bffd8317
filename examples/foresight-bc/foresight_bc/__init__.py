"""A complete foresight plugin in one file: behaviour cloning of an action chunk from proprio and task.

It shows the whole contract of :class:`foresight.interfaces.Method`: a typed Config (validated against
``method.*`` overrides), stages, a DataSpec, a loss, and inference. It has no foresight module, which keeps it
short; a real plugin would compose an Encoder, a Foresight and an ActionHead the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from foresight.interfaces import Budget, Method, Stage
from foresight.types import ACTION, ACTION_IS_PAD, STATE, TASK_INDEX, Batch, DatasetInfo, DataSpec


@dataclass
class BehaviorCloningConfig:
    proprio_keys: tuple[str, ...] = ("joint_states", "gripper_states")
    horizon: int = 4  # actions predicted per call
    hidden_dim: int = 128
    budget: Budget = field(default_factory=lambda: Budget(steps=2000, batch_size=64, lr=1e-3))


class BehaviorCloning(Method):
    Config = BehaviorCloningConfig

    def __init__(self, config: BehaviorCloningConfig, info: DatasetInfo) -> None:
        super().__init__(config, info)
        self.task_embedding = nn.Embedding(len(info.tasks), config.hidden_dim)
        self.policy = nn.Sequential(
            nn.Linear(info.proprio_dim(config.proprio_keys) + config.hidden_dim, config.hidden_dim),
            nn.GELU(),
            nn.Linear(config.hidden_dim, config.horizon * info.action_dim),
        )

    def stages(self) -> list[Stage]:
        c = self.config
        return [Stage("policy", ("task_embedding", "policy"), c.budget)]

    def data_spec(self, stage: str | None = None) -> DataSpec:
        if stage is not None:
            self.stage(stage)  # an unknown stage name is a KeyError listing the real ones
        return DataSpec(
            obs_offsets=(0,), action_offsets=tuple(range(self.config.horizon)), proprio_keys=self.config.proprio_keys
        )

    def _predict(self, batch: Batch) -> torch.Tensor:
        features = torch.cat([batch[STATE][:, -1], self.task_embedding(batch[TASK_INDEX])], dim=-1)
        return self.policy(features).view(-1, self.config.horizon, self.info.action_dim)

    def compute_loss(self, batch: Batch, stage: str) -> tuple[torch.Tensor, dict[str, float]]:
        real = (~batch[ACTION_IS_PAD]).unsqueeze(-1).float()
        error = (self._predict(batch) - batch[ACTION]) ** 2 * real
        loss = error.sum() / (real.sum() * self.info.action_dim).clamp(min=1)
        return loss, {}

    @torch.no_grad()
    def predict_action_chunk(self, batch: Batch, *, generator: torch.Generator | None = None) -> torch.Tensor:
        return self._predict(batch)
