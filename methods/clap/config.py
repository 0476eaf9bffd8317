"""CLAP's configuration: every default carries its source, as the CLaD config does.

Paper: "CLAP: Contrastive Latent Action Pretraining" (../shared/papers/clap-paper.txt; §III-C..E, Tables V and IX).
"code" means the authors' release (github LinShan-Bin/OpenCLAP: ``clap/configs/*.yaml``,
``starVLA/model/framework/VLM4A/QwenPIKM.py``), read for intent only. "ours" marks a choice made here where both
are silent; docs/methods/clap.md explains each. These are the only defaults: configs/method/clap.yaml holds only
the method's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from foresight import checks
from foresight.budget import Budget
from foresight.methods.clad.config import VLMConfig

Finetune = Literal["km", "finetune", "insulation"]
KLDirection = Literal["ref_policy", "policy_ref"]
SIGLIP = "google/siglip-base-patch16-224"
DINO = {"path": "facebook/dinov2-base", "pool": 8}  # code: DINOv3 ViT-B/16 patch tokens


@dataclass
class PolicyEncoderConfig(VLMConfig):
    """The frozen image-text encoder whose embeddings are the token policy's observation and instruction tokens."""

    encoder: str = "siglip"  # ours: stands in for the VLM's own towers (docs, choice 1); clip / decisionnce work too
    kwargs: dict[str, Any] = field(default_factory=lambda: {"model_path": SIGLIP})  # ours: a local folder / cached id
    image_dim: int = 768  # SigLIP-B/16's embedding width; checked against the features
    text_dim: int = 768  # SigLIP-B/16's embedding width
    views: tuple[str, ...] = ("primary", "wrist")  # code (LIBERO: both cameras); roles
    feature_norm: Literal["rms", "none"] = "rms"  # ours (as CLaD): unit-RMS embeddings


@dataclass
class ActVAEConfig:
    """Stage ``act_vae``: a transformer VQ-VAE over action chunks (§III-C1, Algorithm 1)."""

    chunk: int = 32  # H, Table IX "Action Chunk Size 32" (code: clap_chunk_size 32)
    num_codes: int = 16  # N_q, Table V's elbow (Table IX / code: 8 codes per arm)
    codebook_size: int = 256  # K, Table V's elbow (code: num_latents 512)
    code_dim: int = 128  # code: latent_dim 128; paper silent
    hidden_dim: int = 768  # code: model_dim 768; paper silent
    num_heads: int = 12  # code: num_heads 12
    depth: int = 15  # Table IX "Architecture (Enc / Dec) 15 / 15 layers"
    dropout: float = 0.0  # code: dropout 0.0
    commitment: float = 1.0  # beta, Table IX
    codebook_update: Literal["ema", "learned"] = "ema"  # ours: EMA k-means updates (VQ-VAE-2); see docs
    codebook_decay: float = 0.99  # EMA decay of the codebook (vector-quantize-pytorch default)
    budget: Budget = field(
        default_factory=lambda: Budget(
            steps=100_000,  # Table IX
            batch_size=4096,  # Table IX
            lr=2e-5,  # Table IX "VAE Learning Rate" (codebook 1e-3: EMA here, see codebook_update)
            warmup_fraction=1000 / 100_000,  # Table IX: 1000 warm-up steps (a fraction: scales with train.steps)
        )
    )

    def __post_init__(self) -> None:
        checks.literal_fields(self, "act_vae")
        for name in ("chunk", "num_codes", "codebook_size", "code_dim", "depth"):
            checks.at_least(f"act_vae.{name}", getattr(self, name), 1)
        if self.hidden_dim % self.num_heads:
            raise ValueError(f"act_vae.hidden_dim={self.hidden_dim} is not divisible by num_heads={self.num_heads}")
        checks.in_range("act_vae.codebook_decay", self.codebook_decay, 0.0, 1.0)


@dataclass
class VDVAEConfig:
    """Stage ``vd_vae``: contrastive inverse dynamics on frozen visual features (§III-C2, Algorithm 2)."""

    teacher: str = "dinov2"  # §III-C2 "a frozen backbone (e.g., DINO)": the teacher registry's DINOv2
    teacher_kwargs: dict[str, Any] = field(default_factory=lambda: dict(DINO))  # ours: DINOv2-B pooled to 8x8 tokens
    feature_dim: int = 768  # channels of the teacher's output (DINOv2-B); checked against the features
    feature_tokens: int = 64  # grid cells of the teacher's output (pool 8 -> 64); checked against the features
    view: str = "primary"  # ours: the third-person camera (a role)
    hidden_dim: int = 768  # ours (code: model_dim 768)
    num_heads: int = 12  # code
    depth: int = 12  # Table IX "Architecture (Enc / Dec) 12 / 12 layers"
    num_env_codes: int = 2  # Table IX "Task-irrelevant Codes 2"
    env_codebook_size: int = 128  # Table IX "Codebook Size [256, 128]": the environment codebook
    lambda_vq: float = 1.0  # eq. 4 (Table IX commitment weight 1.0)
    lambda_con: float = 0.1  # eq. 4, Table IX "Consistency Weight"
    lambda_reg: float = 0.5  # eq. 4, Table IX "Regularization Weight"
    logit_scale_init: float = 10.0  # 1 / tau_c at the start: SigLIP's t' = log 10 (Zhai et al. 2023)
    logit_bias_init: float = -10.0  # SigLIP's b = -10
    ema_momentum: float = 0.995  # mu of the EMA teacher, Algorithm 2 line 29; ours (value unstated)
    action_free_fraction: float = 0.0  # rows treated as human video (no actions); 0: none offline, see docs
    feature_dropout: float = 0.1  # ours: token dropout of the online branch's augmented features
    budget: Budget = field(
        default_factory=lambda: Budget(
            steps=100_000,  # Table IX
            batch_size=256,  # Table IX
            lr=2e-4,  # Table IX
            warmup_fraction=1000 / 100_000,  # Table IX: 1000 warm-up steps
        )
    )

    def __post_init__(self) -> None:
        for name in ("feature_dim", "feature_tokens", "depth", "num_env_codes", "env_codebook_size"):
            checks.at_least(f"vd_vae.{name}", getattr(self, name), 1)
        if self.hidden_dim % self.num_heads:
            raise ValueError(f"vd_vae.hidden_dim={self.hidden_dim} is not divisible by num_heads={self.num_heads}")
        checks.in_range("vd_vae.ema_momentum", self.ema_momentum, 0.0, 1.0, high_open=False)
        checks.in_range("vd_vae.action_free_fraction", self.action_free_fraction, 0.0, 1.0)
        checks.in_range("vd_vae.feature_dropout", self.feature_dropout, 0.0, 1.0)
        checks.positive("vd_vae.logit_scale_init", self.logit_scale_init)


@dataclass
class BackboneConfig:
    """The token policy's backbone: a transformers model, pretrained from a local path or built from scratch."""

    kind: Literal["pretrained", "scratch"] = "pretrained"  # §IV: Qwen3-VL-4B; "scratch" for one 4090
    path: str | None = "Qwen/Qwen3-VL-4B-Instruct"  # kind=pretrained: a local folder (or cached hub id)
    # kind=scratch: a GPT-2-layout causal transformer of this size (ours)
    hidden_dim: int = 512
    num_layers: int = 8
    num_heads: int = 8
    dropout: float = 0.0

    def __post_init__(self) -> None:
        checks.literal_fields(self, "policy.backbone")
        if self.kind == "pretrained" and not self.path:
            raise ValueError("policy.backbone.kind=pretrained needs policy.backbone.path (a local model folder)")
        if self.hidden_dim % self.num_heads:
            raise ValueError(
                f"policy.backbone.hidden_dim={self.hidden_dim} is not divisible by num_heads={self.num_heads}"
            )


@dataclass
class PolicyConfig:
    """Stage ``ntp``: the token policy predicting action codes from observation and instruction (§III-D)."""

    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    budget: Budget = field(
        default_factory=lambda: Budget(
            steps=150_000,  # Table IX
            batch_size=512,  # Table IX
            lr=5e-5,  # Table IX peak (min 5e-6 after 100k: the core's cosine decays to 0, see docs)
            warmup_fraction=1000 / 150_000,  # Table IX: 1000 warm-up steps
        )
    )


@dataclass
class RFConfig:
    """Stage ``rf_km``: the rectified-flow head on the backbone's layers, with Knowledge Matching (§III-E)."""

    horizon: int = 8  # code: action_horizon 8 (the chunk the head predicts and the robot executes)
    num_layers: int | None = None  # head depth = backbone layers it reads; None: every layer (code's default)
    hidden_dim: int = 512  # ours (code: the backbone's width)
    num_heads: int = 8  # ours
    inference_steps: int = 4  # code: 4 Euler steps
    beta_alpha: float = 1.5  # §III-E / pi0: rho = 0.999 (1 - B), B ~ Beta(1.5, 1)
    time_max: float = 0.999  # pi0 / code
    finetune: Finetune = "km"  # Table VI: km (97.2), finetune (96.2), insulation (88.3)
    km_weight: float = 0.005  # alpha, eq. 7 (code: kl_loss_weight 0.005; paper silent)
    km_direction: KLDirection = "ref_policy"  # code: KL(ref || policy) ("reverse_kl"); eq. 7: KL(policy || ref)
    budget: Budget = field(
        default_factory=lambda: Budget(
            steps=30_000,  # siblings notes: LIBERO 30k steps (Table IX: 5 epochs)
            batch_size=128,  # Table IX
            lr=1e-4,  # Table IX stage 2
            warmup_fraction=1000 / 30_000,  # Table IX: 1000 warm-up steps
        )
    )

    def __post_init__(self) -> None:
        checks.literal_fields(self, "rf")
        checks.at_least("rf.horizon", self.horizon, 1)
        checks.at_least("rf.num_layers", self.num_layers, 1, optional=True)
        checks.at_least("rf.inference_steps", self.inference_steps, 1)
        checks.at_least("rf.km_weight", self.km_weight, 0.0)
        if self.hidden_dim % self.num_heads:
            raise ValueError(f"rf.hidden_dim={self.hidden_dim} is not divisible by num_heads={self.num_heads}")


@dataclass
class CLAPConfig:
    """The whole method: the policy's frozen encoder, the four stages and how it acts at evaluation."""

    vlm: PolicyEncoderConfig = field(default_factory=PolicyEncoderConfig)
    proprio_keys: tuple[str, ...] = ("arm", "gripper")  # code (QwenPI's state input); roles; () reads no state
    act_vae: ActVAEConfig = field(default_factory=ActVAEConfig)
    vd_vae: VDVAEConfig = field(default_factory=VDVAEConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    rf: RFConfig = field(default_factory=RFConfig)
    inference: Literal["rf", "ntp"] = "rf"  # §IV-C: CLAP-RF for LIBERO; "ntp" decodes the tokens with Act-VAE

    def __post_init__(self) -> None:
        checks.literal_fields(self, "method")
        if self.rf.horizon > self.act_vae.chunk:
            raise ValueError(
                f"rf.horizon={self.rf.horizon} exceeds act_vae.chunk={self.act_vae.chunk}: NTP inference decodes "
                f"one Act-VAE chunk, of which the robot executes the first rf.horizon actions"
            )
        if not self.vlm.views:
            raise ValueError("vlm.views must name at least one camera view")
