"""CLaD's configuration: every default carries the paper section (or, where the paper is silent, the source).

Paper: Jeong et al., "CLaD: Planning with Grounded Foresight via Cross-Modal Latent Dynamics", arXiv 2603.29409
(CVPR 2026). "fork" means the authors' pre-release development code (github andrewwwj/LBP), read for intent only.
"ours" marks a choice this library made where neither says; docs/methods/clad.md explains each.
These are the only defaults: the YAML preset configs/method/clad.yaml holds only the method's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from foresight import checks
from foresight.budget import Budget

AttentionMode = Literal["p_to_s", "s_to_p", "symmetric"]
ForesightModalities = Literal["both", "proprio", "semantic", "none"]


@dataclass
class VLMConfig:
    """The frozen vision-language model that supplies ``v_t`` and ``l`` (§4.1: DecisionNCE [23], frozen)."""

    encoder: str = "decisionnce"  # §5.1 "we utilize DecisionNCE as VLM"; "clip" / "siglip" are alternatives
    kwargs: dict[str, Any] = field(default_factory=lambda: {"checkpoint": "~/.cache/foresight/DecisionNCE-T.pth"})
    image_dim: int = 1024  # DecisionNCE RN50 joint space (fork: vl_dim 1024); checked against the features
    text_dim: int = 1024  # DecisionNCE RN50 joint space
    views: tuple[str, ...] = ("primary",)  # fork: third-person view (a role: LIBERO agentview, CALVIN static)
    feature_norm: Literal["rms", "none"] = "rms"  # ours: unit-RMS embeddings (fork z-scores per view); see docs

    def __post_init__(self) -> None:
        checks.literal_fields(self, "vlm")


@dataclass
class DynamicsConfig:
    """Stage 1: cross-modal latent dynamics and grounded latent foresight (§4.1-4.2)."""

    hidden_dim: int = 1024  # H, §5.1
    num_proprio_tokens: int = 4  # N_p, §5.1
    num_semantic_tokens: int = 4  # N_s, §5.1
    tau: int = 6  # action horizon τ, §4.1 / §5.1
    num_heads: int = 8  # fork (CrossAttnBlock num_heads=8); paper silent
    transition_depth: int = 7  # layers of each of eq. 7 / eq. 8's CrossAttn; ours, sized to §5.1's 0.33 B
    cross_modal_depth: int = 7  # layers of eq. 9's CrossAttn; ours, sized to §5.1's 0.33 B
    pool_depth: int = 2  # layers of eq. 10's Perceiver pool [19]; ours
    mlp_ratio: float = 4.0  # attention-block FFN width / H; fork (dim_feedforward = 4 H)
    dropout: float = 0.1  # attention blocks; fork (drop_out_rate=0.1)
    attention: AttentionMode = "p_to_s"  # eq. 9, Table 5: p_to_s (ours, 94.7), s_to_p (93.8), symmetric (86.7)
    semantic_query: Literal["current", "past"] = "current"  # eq. 8 queries with s^t (paper); digest writes s^{t-τ}
    mask_ratio: float = 0.3  # r, §4.1 / §10 (Table 7 heavy mask: 0.9)
    mask_unit: Literal["token", "sample"] = "token"  # ours: each action token masked independently (MAE-style)
    action_free: bool = False  # Table 7 "action-free": every action token is the learnable token, always
    mask_curriculum_steps: int = 0  # Table 7 "curriculum": action-free for this many steps, then r
    ema_momentum: float = 0.995  # m, eq. 14 / §5.1
    lambda_recon: float = 0.1  # λ_recon, eq. 19 / §5.1
    use_recon: bool = True  # Table 4 ablation: false trains with L_latent only
    normalize_prediction: bool = False  # eq. 17 normalises the target only (paper); the digest normalises both
    loss_reduction: Literal["sum", "mean"] = "sum"  # eq. 17/18 norms sum over features (paper); mean = per element
    # "sum": each modality's term as written (a 1024-d term outweighs the 9-d proprio one ~100-200:1);
    # "per_dim": each term x (mean width of its pair / its width), every feature dimension weighs alike. See docs.
    modality_weighting: Literal["sum", "per_dim"] = "sum"
    budget: Budget = field(
        default_factory=lambda: Budget(
            steps=25_000,  # §5.1
            batch_size=128,  # §5.1
            lr=3e-4,  # fork (run_all.sh LEARNING_RATE); paper silent
            weight_decay=0.0,  # fork; paper silent
            warmup_fraction=0.08,  # fork: 2000 warm-up steps (WARM_STEPS, then cosine) of 25k; paper silent
        )
    )

    def __post_init__(self) -> None:
        checks.literal_fields(self, "dynamics")
        if not 0.0 <= self.mask_ratio <= 1.0:
            raise ValueError(f"dynamics.mask_ratio must be in [0, 1], got {self.mask_ratio}")
        if not 0.0 <= self.ema_momentum <= 1.0:
            raise ValueError(f"dynamics.ema_momentum must be in [0, 1], got {self.ema_momentum}")
        if self.hidden_dim % self.num_heads:
            raise ValueError(f"dynamics.hidden_dim={self.hidden_dim} is not divisible by num_heads={self.num_heads}")
        if self.tau < 1:
            raise ValueError(f"dynamics.tau must be >= 1, got {self.tau}")
        if self.modality_weighting == "per_dim" and self.loss_reduction == "mean":
            raise ValueError(
                "dynamics.modality_weighting=per_dim rescales summed norms; with loss_reduction=mean every dimension "
                "already weighs alike: choose one"
            )


@dataclass
class PolicyConfig:
    """Stage 2: foresight-conditioned diffusion policy (§4.3), predicting ``a_{t:t+τ}`` (τ actions)."""

    foresight: ForesightModalities = "both"  # Figure 3: both (94.7), semantic (91.5), proprio (50.4), none (84.8)
    film_input: Literal["joint", "per_modality"] = "joint"  # eq. 21 modulates ẑ^{t+τ}=[ẑ_p; ẑ_s] (paper) or ẑ_m
    obs_dim: int = 1024  # width of e_p, e_s outputs (eq. 20); ours (= H)
    head_hidden_dim: int = 2048  # noise network width; ours, sized to §5.1's 0.23 B
    head_blocks: int = 5  # noise network residual blocks; ours, sized to §5.1's 0.23 B
    head_dropout: float = 0.1  # fork (IDQL MLPResNet dropout 0.1)
    diffusion_steps: int = 25  # fork (DDPMHead num_timesteps=25); paper silent
    beta_schedule: str = "squaredcos_cap_v2"  # fork (cosine β schedule); paper silent
    budget: Budget = field(
        default_factory=lambda: Budget(
            steps=200_000,  # §5.1
            batch_size=128,  # §5.1
            lr=3e-4,  # fork; paper silent
            weight_decay=0.0,  # fork; paper silent
            warmup_fraction=0.01,  # fork: 2000 warm-up steps of 200k, then cosine; paper silent
            ema_decay=None,  # paper silent, fork uses none
        )
    )

    def __post_init__(self) -> None:
        checks.literal_fields(self, "policy")


@dataclass
class CLaDConfig:
    """The whole method: data it reads, the frozen VLM, stage 1 and stage 2."""

    proprio_keys: tuple[str, ...] = ("arm", "gripper")  # §4.1 "joint angles": roles (LIBERO joint/gripper_states)
    vlm: VLMConfig = field(default_factory=VLMConfig)
    dynamics: DynamicsConfig = field(default_factory=DynamicsConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)

    def __post_init__(self) -> None:
        if not self.proprio_keys:
            raise ValueError("proprio_keys must name at least one proprioceptive key of the dataset")
        if not self.vlm.views:
            raise ValueError("vlm.views must name at least one camera view")
