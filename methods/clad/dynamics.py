"""Stage 1 of CLaD: cross-modal latent dynamics (§4.1) and grounded latent foresight (§4.2).

Batch contract (the layout CLaD's :class:`~foresight.types.DataSpec` asks for, see ``CLaD.data_spec``):

* ``observation.state`` ``(B, F, D_p)`` and ``features.<vlm>.<view>`` ``(B, F, D_v)`` over frames
  ``t-τ, t`` (inference) or ``t-τ, t, t+τ`` (stage-1 training: the third frame is the target);
* ``features.<vlm>.instruction`` ``(B, D_l)``;
* ``action`` ``(B, A, action_dim)`` whose first τ rows are ``a_{t-τ:t}``, with ``action_is_pad`` (at evaluation
  exactly those τ rows: the executed actions the runner supplies). Without ``action`` every action token is the
  learnable mask token, as where every past action is padding (and always in the action-free variant).

Reading of the equations (docs/methods/clad.md has the full list of choices):

* ``f_p: R^{D_p} -> R^H`` and ``f_s: R^{D_s} -> R^H`` are MLPs (§4.1 "MLP encoders with hidden dimension H"); their
  outputs are then tokenised to ``N x H``. The EMA targets of eq. 15-16 are the H-vectors before tokenising,
  which is what makes them comparable with the H-dimensional foresights of eq. 11-12.
* ``s = FiLM(v, l)``: the image embedding is modulated by the instruction embedding (eq. 6's input).
* Action tokens: one per step of ``a_{t-τ:t}`` (``f_a`` applied per step, plus a learned step embedding); a
  token is replaced by the learnable mask token with probability ``r`` in training, and always where the action
  is padding (offsets before the episode start).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from foresight.interfaces import Foresight
from foresight.methods.clad.config import DynamicsConfig, VLMConfig
from foresight.methods.clad.features import language_features, visual_features
from foresight.nn import MLP, CrossAttentionStack, FiLM, PerceiverPool, SelfAttention, VectorToTokens, ema_update_
from foresight.types import ACTION, ACTION_IS_PAD, STATE, Batch, ForesightOutput


def freeze_as_buffers(module: nn.Module) -> nn.Module:
    """Turn every parameter of ``module`` into a buffer of the same name, in place.

    EMA targets (eq. 14) must never be optimised. As buffers they are invisible to ``parameters()``, so no
    optimizer, no ``requires_grad_(True)`` by a trainer and no gradient-clipping pass can touch them, while they
    still travel in ``state_dict`` and move with ``.to()``.
    """
    for sub in module.modules():
        for name, param in list(sub._parameters.items()):
            if param is None:
                continue
            del sub._parameters[name]
            sub.register_buffer(name, param.detach().clone())
    return module


def mask_action_tokens(
    tokens: torch.Tensor,
    valid: torch.Tensor,
    mask_token: torch.Tensor,
    ratio: float,
    unit: str,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Replace action tokens by ``mask_token`` where they are padding or, at rate ``ratio``, at random (§4.1).

    ``unit="token"`` draws one Bernoulli(ratio) per token (MAE-style); ``"sample"`` one per sample, masking all of
    its action tokens together. Returns the tokens and the ``(B, τ)`` boolean mask of replaced positions.
    """
    batch, steps = tokens.shape[:2]
    if unit == "token":
        draw = torch.rand(batch, steps, device=tokens.device, generator=generator) < ratio
    elif unit == "sample":
        draw = (torch.rand(batch, 1, device=tokens.device, generator=generator) < ratio).expand(batch, steps)
    else:
        raise ValueError(f"unknown dynamics.mask_unit {unit!r}; expected 'token' or 'sample'")
    masked = draw | ~valid
    return torch.where(masked[..., None], mask_token.to(tokens.dtype), tokens), masked


def latent_loss(
    prediction: torch.Tensor, target: torch.Tensor, normalize_prediction: bool, reduction: str
) -> torch.Tensor:
    """One term of eq. 17: ``|ẑ - z̄/|z̄||²`` (the paper normalises the target only; the digest both)."""
    target = F.normalize(target, dim=-1)
    if normalize_prediction:
        prediction = F.normalize(prediction, dim=-1)
    squared = (prediction - target).pow(2)
    return _reduce(squared, reduction)


def recon_loss(reconstruction: torch.Tensor, target: torch.Tensor, reduction: str) -> torch.Tensor:
    """One term of eq. 18: ``|h(ẑ) - x|_1``."""
    return _reduce((reconstruction - target).abs(), reduction)


def modality_weights(widths: dict[str, int], weighting: str) -> dict[str, float]:
    """Weights of a pair of per-modality terms of eq. 17 or 18 whose norms sum over ``widths`` features.

    ``sum``: 1 each, as written. ``per_dim``: mean width / width, so at equal per-dimension error both modalities
    contribute equally and the pair's total equals the ``sum`` total (λ_recon keeps its scale).
    """
    if weighting == "sum":
        return {name: 1.0 for name in widths}
    if weighting == "per_dim":
        mean = sum(widths.values()) / len(widths)
        return {name: mean / width for name, width in widths.items()}
    raise ValueError(f"unknown dynamics.modality_weighting {weighting!r}; expected 'sum' or 'per_dim'")


def _reduce(per_element: torch.Tensor, reduction: str) -> torch.Tensor:
    """``sum``: the norm as written (summed over features), averaged over the batch; ``mean``: per element."""
    if reduction == "sum":
        return per_element.sum(dim=-1).mean()
    if reduction == "mean":
        return per_element.mean()
    raise ValueError(f"unknown dynamics.loss_reduction {reduction!r}; expected 'sum' or 'mean'")


class CrossModalDynamics(Foresight):
    """``z_dyn`` from proprioceptive and semantic transitions, and the latent foresights ``ẑ_p``, ``ẑ_s``."""

    def __init__(self, cfg: DynamicsConfig, vlm: VLMConfig, proprio_dim: int, action_dim: int) -> None:
        super().__init__()
        self.cfg, self.vlm = cfg, vlm
        hidden = cfg.hidden_dim
        visual_dim = vlm.image_dim * len(vlm.views)
        self.proprio_dim, self.visual_dim, self.action_dim = proprio_dim, visual_dim, action_dim

        # State encoders (eq. 5-6) and the semantic fusion s = FiLM(v, l) (§4.1).
        self.semantic_film = FiLM(visual_dim, vlm.text_dim)
        self.proprio_encoder = MLP(proprio_dim, hidden, hidden)  # f_p
        self.semantic_encoder = MLP(visual_dim, hidden, hidden)  # f_s
        self.proprio_tokenizer = VectorToTokens(hidden, cfg.num_proprio_tokens, hidden)
        self.semantic_tokenizer = VectorToTokens(hidden, cfg.num_semantic_tokens, hidden)
        # f_a, per step, plus a learned step embedding. The action-free variant never reads actions, so it has
        # neither (a parameter that never gets a gradient is an error under distributed training).
        self.action_encoder = None if cfg.action_free else MLP(action_dim, hidden, hidden)
        self.action_step_embedding = None if cfg.action_free else nn.Parameter(torch.empty(cfg.tau, hidden))
        self.mask_token = nn.Parameter(torch.empty(hidden))  # the learnable token of §4.1's action masking
        if self.action_step_embedding is not None:
            nn.init.trunc_normal_(self.action_step_embedding, std=0.02)
        nn.init.trunc_normal_(self.mask_token, std=0.02)

        # Transition embeddings (eq. 7-8), cross-modal attention (eq. 9), learnable pooling (eq. 10).
        def stack(depth: int) -> CrossAttentionStack:
            return CrossAttentionStack(hidden, cfg.num_heads, depth, dropout=cfg.dropout, mlp_ratio=cfg.mlp_ratio)

        self.proprio_transition = stack(cfg.transition_depth)
        self.semantic_transition = stack(cfg.transition_depth)
        if cfg.attention == "symmetric":
            self.cross_modal: nn.Module = nn.ModuleList(
                SelfAttention(hidden, cfg.num_heads, dropout=cfg.dropout, mlp_ratio=cfg.mlp_ratio)
                for _ in range(cfg.cross_modal_depth)
            )
        else:
            self.cross_modal = stack(cfg.cross_modal_depth)
        self.pool = PerceiverPool(
            hidden, cfg.num_heads, num_queries=1, depth=cfg.pool_depth, dropout=cfg.dropout, mlp_ratio=cfg.mlp_ratio
        )

        # Foresight predictors (eq. 11-12) and reconstruction decoders (eq. 18; absent in the Table 4 ablation).
        self.proprio_predictor = MLP(hidden, hidden, hidden)  # g_p
        self.semantic_predictor = MLP(hidden, hidden, hidden)  # g_s
        self.proprio_decoder = MLP(hidden, hidden, proprio_dim) if cfg.use_recon else None  # h_p
        self.semantic_decoder = MLP(hidden, hidden, visual_dim) if cfg.use_recon else None  # h_s

        # EMA targets f_p^target, f_s^target, FiLM^target (eq. 14-16), equal to the online weights at the start.
        self.targets = freeze_as_buffers(
            nn.ModuleDict(
                {
                    "semantic_film": copy.deepcopy(self.semantic_film),
                    "proprio_encoder": copy.deepcopy(self.proprio_encoder),
                    "semantic_encoder": copy.deepcopy(self.semantic_encoder),
                }
            )
        )
        self.register_buffer("optimizer_steps", torch.zeros((), dtype=torch.int64))

    # ----------------------------------------------------------------------------------------------- helpers
    def target_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        """(target, online) pairs updated by eq. 14."""
        return [(self.targets[name], getattr(self, name)) for name in self.targets]

    @torch.no_grad()
    def reset_targets(self) -> None:
        """``θ_target = θ``: the EMA targets restart from the online weights (at the start of stage 1)."""
        for target, online in self.target_pairs():
            ema_update_(target, online, 0.0)

    @torch.no_grad()
    def update_targets(self) -> None:
        """Eq. 14, ``θ_target <- m θ_target + (1 - m) θ``; called after every stage-1 optimizer step."""
        for target, online in self.target_pairs():
            ema_update_(target, online, self.cfg.ema_momentum)
        self.optimizer_steps += 1

    def actions_free_now(self) -> bool:
        """True while no action may be seen: the action-free variant, or the curriculum's first steps (Table 7)."""
        if self.cfg.action_free:
            return True
        return self.training and int(self.optimizer_steps) < self.cfg.mask_curriculum_steps

    def semantic_state(self, visual: torch.Tensor, language: torch.Tensor) -> torch.Tensor:
        """``s = FiLM(v, l)`` (§4.1) for ``visual (B, F, D_v)`` and ``language (B, D_l)``."""
        return self.semantic_film(visual, language)

    def action_tokens(self, batch: Batch, size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """``a^{t-τ:t} = f_a(a_{t-τ:t})`` with masking; returns tokens ``(B, τ, H)`` and the mask ``(B, τ)``."""
        tau, hidden = self.cfg.tau, self.cfg.hidden_dim
        if ACTION in batch and not self.actions_free_now():
            actions = batch[ACTION]
            if actions.shape[1] < tau:
                raise ValueError(f"CLaD needs the {tau} past actions a_(t-τ:t) first in 'action'; got {actions.shape}")
            past = actions[:, :tau].float()
            pad = batch.get(ACTION_IS_PAD)
            valid = ~pad[:, :tau] if pad is not None else torch.ones(past.shape[:2], dtype=torch.bool, device=device)
            tokens = self.action_encoder(past) + self.action_step_embedding
            ratio = self.cfg.mask_ratio if self.training else 0.0
            return mask_action_tokens(tokens, valid, self.mask_token, ratio, self.cfg.mask_unit)
        tokens = self.mask_token.expand(size, tau, hidden)
        return tokens, torch.ones(size, tau, dtype=torch.bool, device=device)

    # ------------------------------------------------------------------------------------------------ model
    def inputs(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``p (B, F, D_p)``, normalised ``v (B, F, D_v)`` and ``l (B, D_l)`` from a batch."""
        proprio = batch[STATE].float()
        if proprio.ndim != 3 or proprio.shape[1] < 2:
            raise ValueError(
                f"CLaD needs observation.state of shape (B, F>=2, D_p) over t-τ, t[, t+τ]; got {tuple(proprio.shape)}"
            )
        if proprio.shape[-1] != self.proprio_dim:
            raise ValueError(f"observation.state has width {proprio.shape[-1]}, CLaD was built for {self.proprio_dim}")
        return proprio, visual_features(batch, self.vlm), language_features(batch, self.vlm)

    def encode(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Everything up to the foresights: ``z_dyn``, ``ẑ_p``, ``ẑ_s`` and the action mask used."""
        return self._encode(batch, *self.inputs(batch))

    def _encode(
        self, batch: Batch, proprio: torch.Tensor, visual: torch.Tensor, language: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        # Encode frames t-τ and t together: (B, 2, ·) -> tokens (B, 2, N, H).
        p_tokens = self.proprio_tokenizer(self.proprio_encoder(proprio[:, :2]))
        s_tokens = self.semantic_tokenizer(self.semantic_encoder(self.semantic_state(visual[:, :2], language)))
        actions, masked = self.action_tokens(batch, proprio.shape[0], proprio.device)

        z_p = self.proprio_transition(p_tokens[:, 1], torch.cat([p_tokens[:, 0], actions], dim=1))  # eq. 7
        s_query = s_tokens[:, 1] if self.cfg.semantic_query == "current" else s_tokens[:, 0]
        z_s = self.semantic_transition(s_query, torch.cat([s_tokens[:, 0], actions], dim=1))  # eq. 8
        z_cross = self.cross_modal_attention(z_p, z_s)  # eq. 9
        z_dyn = self.pool.pooled(z_cross)  # eq. 10
        return {
            "z_dyn": z_dyn,
            "proprio": self.proprio_predictor(z_dyn),  # eq. 11
            "semantic": self.semantic_predictor(z_dyn),  # eq. 12
            "action_mask": masked,
        }

    def cross_modal_attention(self, z_p: torch.Tensor, z_s: torch.Tensor) -> torch.Tensor:
        """Eq. 9 and its Table 5 alternatives: p queries s (N_p tokens out), s queries p (N_s), or self-attention."""
        mode = self.cfg.attention
        if mode == "p_to_s":
            return self.cross_modal(z_p, z_s)
        if mode == "s_to_p":
            return self.cross_modal(z_s, z_p)
        tokens = torch.cat([z_p, z_s], dim=1)
        for layer in self.cross_modal:
            tokens = layer(tokens)
        return tokens

    def forward(self, batch: Batch) -> ForesightOutput:
        out = self.encode(batch)
        return ForesightOutput(
            embeddings={"proprio": out["proprio"], "semantic": out["semantic"]}, extras={"z_dyn": out["z_dyn"]}
        )

    @torch.no_grad()
    def target_embeddings(
        self, proprio: torch.Tensor, visual: torch.Tensor, language: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Eq. 15-16: ``z̄_p = f_p^target(p)``, ``z̄_s = f_s^target(FiLM^target(v, l))``, under stop-gradient."""
        z_p = self.targets["proprio_encoder"](proprio)
        z_s = self.targets["semantic_encoder"](self.targets["semantic_film"](visual, language))
        return z_p.detach(), z_s.detach()

    def loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Eq. 19, ``L = L_latent + λ_recon L_recon``, with every term and a collapse statistic for logging."""
        proprio, visual, language = self.inputs(batch)
        if proprio.shape[1] < 3:
            raise ValueError(
                f"stage-1 training needs frames t-τ, t, t+τ in observation.state; got {tuple(proprio.shape)}"
            )
        out = self._encode(batch, proprio, visual, language)
        p_next, v_next = proprio[:, 2], visual[:, 2]
        target_p, target_s = self.target_embeddings(p_next, v_next, language)

        cfg = self.cfg
        w = modality_weights({"p": target_p.shape[-1], "s": target_s.shape[-1]}, cfg.modality_weighting)
        latent_p = w["p"] * latent_loss(out["proprio"], target_p, cfg.normalize_prediction, cfg.loss_reduction)
        latent_s = w["s"] * latent_loss(out["semantic"], target_s, cfg.normalize_prediction, cfg.loss_reduction)
        losses = {"latent_proprio": latent_p, "latent_semantic": latent_s, "latent": latent_p + latent_s}
        total = losses["latent"]
        if cfg.use_recon:
            w = modality_weights({"p": p_next.shape[-1], "s": v_next.shape[-1]}, cfg.modality_weighting)
            recon_p = w["p"] * recon_loss(self.proprio_decoder(out["proprio"]), p_next, cfg.loss_reduction)
            recon_s = w["s"] * recon_loss(self.semantic_decoder(out["semantic"]), v_next, cfg.loss_reduction)
            losses.update(recon_proprio=recon_p, recon_semantic=recon_s, recon=recon_p + recon_s)
            total = total + cfg.lambda_recon * losses["recon"]
        losses["loss"] = total
        with torch.no_grad():
            losses["action_mask_rate"] = out["action_mask"].float().mean()
            losses["foresight_std"] = F.normalize(out["semantic"], dim=-1).std(dim=0).mean()
        return losses
