"""MoIDM (§3.3): one :class:`~foresight.methods.mola.experts.LatentIDM` per enabled modality, each with its own
weights and codebook, and the idm-stage objective that makes each one modality-aware.

Stage ``idm`` (§3.5 Stage II) trains every expert on real frame pairs ``(o_t, o_{t+k})``: the shared RGB decoder
reconstructs ``o_{t+k}`` (eq. 4) and the expert's modality decoder its teacher target (eq. 6), plus the VQ
commitment loss. The paper pretrains the experts independently; here they train in one stage whose loss is
the sum of the experts' losses, which is the same optimisation for the expert weights (each expert's loss
depends on its own weights only) except that the shared RGB decoder sees all of them at once (ours).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from foresight.methods.mola.config import ExpertConfig, TeacherConfig
from foresight.methods.mola.decoders import TARGET_CHANNELS, ModalityDecoder, RGBDecoder
from foresight.methods.mola.experts import ExpertOutput, LatentIDM, codebook_usage, to_unit


class MoIDM(nn.Module):
    """``experts[name](o_t, o_{t+k}) -> ExpertOutput``; what the policy stage fine-tunes (Fig. 5b)."""

    def __init__(self, cfg: ExpertConfig, experts: tuple[str, ...]) -> None:
        super().__init__()
        self.cfg = cfg
        self.experts = nn.ModuleDict({name: LatentIDM(cfg) for name in experts})

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.experts)

    def forward(self, current: torch.Tensor, future: torch.Tensor) -> dict[str, ExpertOutput]:
        return {name: expert(current, future) for name, expert in self.experts.items()}


class Decoders(nn.Module):
    """The shared RGB decoder (eq. 4) and one modality decoder per expert (eq. 6); trained in stage idm only."""

    def __init__(self, cfg: ExpertConfig, teachers: TeacherConfig, experts: tuple[str, ...]) -> None:
        super().__init__()
        self.rgb = RGBDecoder(cfg)
        channels = {**TARGET_CHANNELS, "semantic": teachers.semantic_channels}
        self.modality = nn.ModuleDict({name: ModalityDecoder(cfg, channels[name]) for name in experts})

    def losses(
        self, outputs: dict[str, ExpertOutput], future: torch.Tensor, targets: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """Per expert: ``rgb`` (eq. 4), ``<expert>`` (eq. 6, MSE against the teacher target), ``commit``."""
        image = to_unit(future, self.rgb.grid * self.rgb.patch)
        losses: dict[str, torch.Tensor] = {}
        for name, out in outputs.items():
            target = targets[name].float()
            if target.shape[1] != self.modality[name].channels:
                raise ValueError(
                    f"the {name} teacher target has {target.shape[1]} channels, the {name} decoder predicts "
                    f"{self.modality[name].channels}: set method.teachers.semantic_channels to match"
                )
            predicted = self.modality[name](out.tokens, out.current, tuple(target.shape[-2:]))
            losses[f"{name}.rgb"] = F.mse_loss(self.rgb(out.tokens, out.current), image)
            losses[f"{name}.{name}"] = F.mse_loss(predicted, target)
            losses[f"{name}.commit"] = out.commit_loss
        return losses

    @torch.no_grad()
    def predict(self, name: str, out: ExpertOutput, size: tuple[int, int]) -> torch.Tensor:
        """The expert's reconstruction of its modality target (diagnostics, tests)."""
        return self.modality[name](out.tokens, out.current, size)


def usage_logs(outputs: dict[str, ExpertOutput], codebook_size: int) -> dict[str, float]:
    """``<expert>.codes_used`` and ``<expert>.perplexity`` of this batch's latent actions (logged every step)."""
    logs: dict[str, float] = {}
    for name, out in outputs.items():
        for key, value in codebook_usage(out.indices, codebook_size).items():
            logs[f"{name}.{key}"] = value
    return logs
