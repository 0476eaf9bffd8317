"""Stage 2 of CLaD: a diffusion policy conditioned on observation-modulated latent foresight (§4.3).

``o_p = e_p(p_t)``, ``o_s = e_s(s_v^t, s_l)`` (eq. 20); ``g_p = FiLM(ẑ, o_p)``, ``g_s = FiLM(ẑ, o_s)`` where the
observation supplies the scale and shift (eq. 21); a DDPM noise-prediction network ``ε̂(a_k, k, g_p, g_s)`` over
the chunk ``a_{t:t+τ}`` (eq. 22), here :class:`foresight.heads.DDPMHead` on diffusers' schedulers.

``film_input="joint"`` follows eq. 21 as printed: both FiLMs modulate the whole foresight ``ẑ^{t+τ}``, the
concatenation of the modalities in use. ``"per_modality"`` is the digest's reading, ``g_m = FiLM(ẑ_m, o_m)``; a
modality whose foresight is switched off then contributes its observation embedding ``o_m`` unmodulated, so the
policy never loses sight of the current observation. ``foresight="none"`` conditions on ``[o_p; o_s]`` alone:
Figure 3's "Policy only", the ``dp`` baseline with CLaD's observation encoders.
"""

from __future__ import annotations

import torch
from torch import nn

from foresight.heads import DDPMHead
from foresight.methods.clad.config import PolicyConfig, VLMConfig
from foresight.methods.clad.features import language_features, visual_features
from foresight.nn import MLP, FiLM
from foresight.types import STATE, Batch, ForesightOutput

MODALITIES = ("proprio", "semantic")
_SELECTED = {"both": MODALITIES, "proprio": ("proprio",), "semantic": ("semantic",), "none": ()}


class ForesightPolicy(nn.Module):
    """Observation encoders, foresight FiLMs and the DDPM head; everything stage 2 trains."""

    def __init__(
        self, cfg: PolicyConfig, vlm: VLMConfig, proprio_dim: int, action_dim: int, horizon: int, foresight_dim: int
    ) -> None:
        super().__init__()
        if cfg.foresight not in _SELECTED:
            raise ValueError(f"unknown policy.foresight {cfg.foresight!r}; expected one of {sorted(_SELECTED)}")
        if cfg.film_input not in ("joint", "per_modality"):
            raise ValueError(f"unknown policy.film_input {cfg.film_input!r}; expected 'joint' or 'per_modality'")
        self.cfg, self.vlm = cfg, vlm
        self.selected = _SELECTED[cfg.foresight]
        visual_dim = vlm.image_dim * len(vlm.views)
        self.proprio_obs_encoder = MLP(proprio_dim, cfg.obs_dim, cfg.obs_dim)  # e_p
        self.semantic_obs_encoder = MLP(visual_dim + vlm.text_dim, cfg.obs_dim, cfg.obs_dim)  # e_s

        self.films = nn.ModuleDict()
        if cfg.film_input == "joint" and self.selected:
            joint_dim = foresight_dim * len(self.selected)
            for name in MODALITIES:
                self.films[name] = FiLM(joint_dim, cfg.obs_dim)
            cond_dim = 2 * joint_dim
        else:
            for name in self.selected:
                self.films[name] = FiLM(foresight_dim, cfg.obs_dim)
            cond_dim = sum(foresight_dim if name in self.selected else cfg.obs_dim for name in MODALITIES)
        self.cond_dim = cond_dim
        self.head = DDPMHead(
            action_dim,
            horizon,
            cond_dim,
            num_train_timesteps=cfg.diffusion_steps,
            beta_schedule=cfg.beta_schedule,
            hidden_dim=cfg.head_hidden_dim,
            num_blocks=cfg.head_blocks,
            dropout=cfg.head_dropout,
        )

    def observations(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Eq. 20 at the current frame (the last observation offset, ``t``)."""
        proprio = batch[STATE][:, -1].float()
        visual = visual_features(batch, self.vlm)[:, -1]
        language = language_features(batch, self.vlm)
        return {
            "proprio": self.proprio_obs_encoder(proprio),
            "semantic": self.semantic_obs_encoder(torch.cat([visual, language], dim=-1)),
        }

    def condition(self, batch: Batch, foresight: ForesightOutput | None) -> torch.Tensor:
        """The flat conditioning vector ``[g_p; g_s]`` (eq. 21-22), or ``[o_p; o_s]`` without foresight."""
        obs = self.observations(batch)
        if not self.selected:
            return torch.cat([obs[name] for name in MODALITIES], dim=-1)
        if foresight is None:
            raise ValueError(f"policy.foresight={self.cfg.foresight!r} needs the stage-1 foresight, got None")
        z = {name: foresight.embeddings[name].detach() for name in self.selected}
        if self.cfg.film_input == "joint":
            joint = torch.cat([z[name] for name in self.selected], dim=-1)
            return torch.cat([self.films[name](joint, obs[name]) for name in MODALITIES], dim=-1)
        parts = [self.films[name](z[name], obs[name]) if name in self.selected else obs[name] for name in MODALITIES]
        return torch.cat(parts, dim=-1)

    def loss(
        self, batch: Batch, foresight: ForesightOutput | None, chunk: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        """Eq. 22 on the chunk ``a_{t:t+τ}``; padded actions past the episode end carry no loss."""
        return self.head.loss(self.condition(batch, foresight), chunk.float(), mask)

    @torch.no_grad()
    def sample(
        self, batch: Batch, foresight: ForesightOutput | None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        return self.head.sample(self.condition(batch, foresight), generator=generator)
