"""Hyperparameters of the ``dp`` baseline, each with its source.

Sources: CLaD = the CLaD paper (Jeong et al., CVPR 2026); LBP fork = ``andrewwwj/LBP``, CLaD's development
code (``scripts/run_all.sh``, ``train_policy_sim.py``, ``models/components/ActionHead.py``; anchors.md §1.2);
Chi et al. = Diffusion Policy (RSS 2023).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from foresight.budget import Budget
from foresight.heads.ddpm import PREDICTION_TYPES, SAMPLERS
from foresight.nn.vision import POOLS


@dataclass
class DiffusionPolicyConfig:
    # --- observations ---
    views: tuple[str, ...] = ("primary", "wrist")  # LBP fork: agentview + wrist cameras (roles, foresight.roles)
    proprio_keys: tuple[str, ...] = ("arm", "gripper")  # CLaD §4.1: p^t holds joint angles (roles)
    horizon: int = 6  # action chunk a_{t:t+tau}, tau = 6 (CLaD §5.1, Fig. 2; LBP fork CHUNK_LENGTH=6)
    obs_offsets: tuple[int, ...] = (0,)  # current frame only; the LBP fork's policy uses (-6, 0)
    # --- vision encoder: GroupNorm ResNet-18 per view, trained from scratch (Chi et al. §3.3) ---
    vision_width: int = 64  # ResNet-18 stem width; stages are width x (1, 2, 4, 8); shrink for tests
    vision_pool: str = "spatial_softmax"  # Chi et al. (robomimic VisualCore); "avg" = global average pool
    num_keypoints: int = 32  # spatial-softmax keypoints (Chi et al.)
    image_feature_dim: int = 64  # per view and frame (Chi et al.: VisualCore feature_dimension 64)
    # --- proprio encoder e_p (CLaD §4.3): MLP per frame ---
    proprio_hidden_dim: int = 256  # not given by CLaD; matches the noise network width
    proprio_feature_dim: int = 64  # not given by CLaD; same size as one view's feature
    # --- language: a learned embedding of the task index (DatasetInfo.tasks). CLaD conditions on frozen
    # DecisionNCE text features instead (§4.1); a frozen-feature path belongs with the CLaD encoders. ---
    task_embedding_dim: int = 64
    # --- noise network: MLPResNet over the flattened chunk (LBP fork DDPMHead, IDQL-style) ---
    hidden_dim: int = 256  # LBP fork
    num_blocks: int = 3  # LBP fork
    dropout: float = 0.1  # LBP fork
    time_embed_dim: int = 32  # LBP fork time_dim
    time_hidden_dim: int = 256  # LBP fork time_hidden_dim
    # --- DDPM (CLaD §4.3 Eq. 22: epsilon prediction) ---
    num_train_timesteps: int = 25  # LBP fork num_timesteps
    beta_schedule: str = "squaredcos_cap_v2"  # LBP fork cosine schedule (Nichol & Dhariwal 2021)
    clip_sample: bool = True  # actions are min-max normalised to [-1, 1]
    prediction_type: str = "epsilon"  # CLaD Eq. 22
    sampler: str = "ddpm"  # LBP fork: full ancestral sampling; "ddim" for speed
    num_inference_steps: int | None = None  # None: num_train_timesteps (LBP fork samples all 25 steps)
    noise_samples: int = 1  # (timestep, noise) draws per sample and step: LBP fork 1; DreamVLA repeats 8x
    # --- training (stage "policy") ---
    budget: Budget = field(
        default_factory=lambda: Budget(
            steps=200_000,  # CLaD §5.1: stage 2 trained 200K steps (also LBP fork num_iters)
            batch_size=128,  # CLaD §5.1
            lr=3e-4,  # LBP fork (AdamW, cosine); CLaD does not state it
            weight_decay=0.0,  # LBP fork
            warmup_fraction=0.01,  # LBP fork: 2000 warm-up steps (WARM_STEPS) of 200k, then cosine; scales with steps
            ema_decay=None,  # LBP fork keeps no weight EMA; Chi et al. use 0.9999
        )
    )

    def __post_init__(self) -> None:
        if self.horizon < 1:
            raise ValueError(f"method.horizon must be >= 1, got {self.horizon}")
        if not self.obs_offsets or any(o > 0 for o in self.obs_offsets):
            raise ValueError(f"method.obs_offsets must be non-empty and <= 0 (no future frames): {self.obs_offsets}")
        if not self.views and not self.proprio_keys:
            raise ValueError("method.views and method.proprio_keys are both empty: the policy would see nothing")
        for key, value, options in (
            ("vision_pool", self.vision_pool, POOLS),
            ("sampler", self.sampler, SAMPLERS),
            ("prediction_type", self.prediction_type, PREDICTION_TYPES),
        ):
            if value not in options:
                raise ValueError(f"method.{key}={value!r}: expected one of {options}")
