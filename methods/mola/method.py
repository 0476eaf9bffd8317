"""The registered ``mola`` method: stage ``idm`` (the experts on real frame pairs, §3.5 Stage II), then stage
``policy`` (MoIDM and the action head jointly on imagined futures, the video model frozen, §3.5 Stage III).

Stage I (fine-tuning SVD on robot videos) is out of scope at this library's scale: the imaginer is loaded from a
local folder you fine-tuned elsewhere (docs/methods/mola.md). The policy stage starts from the idm stage's final
weights (the trainer hands every stage the previous one's), so MoIDM enters it pretrained (Fig. 5a).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

import torch

from foresight.interfaces import Method, Stage
from foresight.methods.mola.config import MoLAConfig
from foresight.methods.mola.imagination import ORACLE_AT_EVALUATION, Imagination, ImaginationError
from foresight.methods.mola.moidm import Decoders, MoIDM, usage_logs
from foresight.methods.mola.policy import MoLAPolicy
from foresight.methods.mola.targets import OnTheFlyTargets, teacher_specs
from foresight.registry import register_method
from foresight.types import ACTION, ACTION_IS_PAD, STATE, TASK_INDEX, Batch, DatasetInfo, DataSpec, target_key

IDM, POLICY = "idm", "policy"
ORACLE_LABEL = "imagination: oracle (policy trained on real future frames, an upper bound on imagination)"


@register_method("mola")
class MoLA(Method):
    """Imagined future -> mixture of latent actions (MoIDM) -> flow-matching DiT (arXiv 2605.12167)."""

    Config: ClassVar[type] = MoLAConfig

    def __init__(self, config: MoLAConfig, info: DatasetInfo) -> None:
        config = replace(
            config, views=info.resolve_views(config.views), proprio_keys=info.resolve_proprio(config.proprio_keys)
        )
        super().__init__(config, info)
        cfg = config
        self.moidm = MoIDM(cfg.expert, cfg.experts) if cfg.experts else None
        self.decoders = Decoders(cfg.expert, cfg.teachers, cfg.experts) if cfg.experts else None
        self.policy = MoLAPolicy(
            cfg.policy,
            cfg.experts,
            len(cfg.views),
            cfg.expert.latent_dim,
            info.proprio_dim(cfg.proprio_keys),
            len(info.tasks),
            info.action_dim,
        )
        self.imagination = Imagination(cfg.imagination, cfg.k)
        self.targets = OnTheFlyTargets(teacher_specs(cfg, cfg.views), (0, cfg.k))

    # ------------------------------------------------------------------------------------------- structure
    def stages(self) -> list[Stage]:
        cfg = self.config
        joint = self.moidm is not None and cfg.policy.train_moidm
        policy = Stage(POLICY, ("moidm", "policy") if joint else ("policy",), cfg.policy_budget)
        if self.moidm is None:
            return [policy]
        return [Stage(IDM, ("moidm", "decoders"), cfg.idm_budget), policy]

    def data_spec(self, stage: str | None = None) -> DataSpec:
        """idm: frames ``t, t+k`` and the teacher targets; policy: frame ``t`` (and ``t+k`` for the oracle), the
        chunk ``a_{t:t+H}``, and the cached imagination when that is the backend. Evaluation: frame ``t`` only."""
        if stage is not None:
            self.stage(stage)
        cfg = self.config
        horizon = tuple(range(cfg.policy.horizon))
        common: dict[str, Any] = {"views": cfg.views, "proprio_keys": cfg.proprio_keys}
        if stage == IDM:
            return DataSpec(
                obs_offsets=(0, cfg.k), action_offsets=(0,), targets=teacher_specs(cfg, cfg.views), **common
            )
        backend = cfg.imagination.backend if stage == POLICY else cfg.imagination.at_evaluation
        obs = (0, cfg.k) if backend == "oracle" and stage == POLICY else (0,)
        features = (self.imagination.feature_spec(cfg.views),) if backend == "cached" else ()
        return DataSpec(obs_offsets=obs, action_offsets=horizon, features=features, **common)

    def describe_foresight(self) -> str:
        """A study's arms differ by imagination backend and expert subset (Table 5, Fig. 5b): both are named."""
        experts = "+".join(self.config.experts) or "frame features only"
        return f"imagined frame ({self.config.imagination.at_evaluation}) -> latent actions ({experts})"

    def result_labels(self) -> tuple[str, ...]:
        """Every result of a policy trained on oracle imagination says so, next to its numbers on the board: its
        policy learned from real future frames, an upper bound on what imagination gives, not a comparable MoLA."""
        return (ORACLE_LABEL,) if self.config.imagination.backend == "oracle" else ()

    def check_evaluable(self) -> None:
        """Raise before any episode when this policy cannot act in a simulator (oracle imagination there)."""
        if self.config.imagination.at_evaluation == "oracle":
            raise ImaginationError(ORACLE_AT_EVALUATION)

    # ---------------------------------------------------------------------------------------------- shared
    def latent_actions(
        self, batch: Batch, backend: str, obs_offsets: tuple[int, ...]
    ) -> tuple[list[dict[str, torch.Tensor]], list[torch.Tensor]]:
        """Per view: every expert's quantised latent actions for ``(o_t, ô_{t+k})``, and ``ô_{t+k}`` itself."""
        actions, futures = [], []
        for view in self.config.views:
            current, future = self.imagination.pairs(batch, backend, view, obs_offsets)
            outputs = self.moidm(current, future) if self.moidm is not None else {}
            actions.append({name: out.tokens for name, out in outputs.items()})
            futures.append(future)
        return actions, futures

    def condition(self, batch: Batch, backend: str, obs_offsets: tuple[int, ...]) -> torch.Tensor:
        """``(B, N, cond_dim)``: the head's condition tokens (what the oracle test watches)."""
        actions, futures = self.latent_actions(batch, backend, obs_offsets)
        state = batch[STATE][:, obs_offsets.index(0)] if STATE in batch else None
        return self.policy.condition(actions, futures, state, batch.get(TASK_INDEX))

    # -------------------------------------------------------------------------------------------- training
    def compute_loss(self, batch: Batch, stage: str) -> tuple[torch.Tensor, dict[str, float]]:
        spec = self.data_spec(stage)
        if stage == IDM:
            return self._idm_loss(batch, spec)
        cond = self.condition(batch, self.config.imagination.backend, spec.obs_offsets)
        pad = batch.get(ACTION_IS_PAD)
        loss = self.policy.head.loss(cond, batch[ACTION], None if pad is None else ~pad)
        return loss, {"loss": loss.item()}

    def _idm_loss(self, batch: Batch, spec: DataSpec) -> tuple[torch.Tensor, dict[str, float]]:
        weight = self.config.expert.modality_weight
        terms: dict[str, torch.Tensor] = {}
        logs: dict[str, float] = {}
        for view in self.config.views:
            current, future = self.imagination.pairs(batch, "oracle", view, spec.obs_offsets)
            outputs = self.moidm(current, future)
            targets = {name: batch[target_key(name, view)][:, 0] for name in outputs}
            for key, value in self.decoders.losses(outputs, future, targets).items():
                terms[key] = terms.get(key, 0.0) + value / len(self.config.views)
            logs.update(usage_logs(outputs, self.config.expert.codebook_size))
        total = sum(v * (weight if k.split(".")[1] in self.config.experts else 1.0) for k, v in terms.items())
        names = ["loss", *terms]
        values = torch.stack([total.detach().float(), *(terms[k].detach().float() for k in terms)]).tolist()
        return total, {**dict(zip(names, values, strict=True)), **logs}

    # ------------------------------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def predict_action_chunk(self, batch: Batch, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """``(B, horizon, action_dim)`` from frame ``t``: imagine ``ô_{t+k}``, infer latent actions, sample."""
        self.check_evaluable()
        cond = self.condition(batch, self.config.imagination.at_evaluation, (0,))
        return self.policy.head.sample(cond, generator=generator)
