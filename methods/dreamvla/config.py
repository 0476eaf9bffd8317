"""DreamVLA's configuration: every default carries its source.

Paper: Zhang et al., "DreamVLA: A Vision-Language-Action Model Dreamed with Comprehensive World Knowledge"
(arXiv 2507.04447). "code" means the authors' release (github Zhangwenyao1/DreamVLA, built on Seer), read for
intent only; "ours" marks a choice neither makes. Where paper and code disagree the default follows the code (the
numbers the reported results were produced with) and a switch selects the paper's reading; docs/methods/dreamvla.md
lists each one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from foresight import checks
from foresight.budget import Budget

KNOWLEDGE_TYPES = ("dynamic", "depth", "sam", "dino")
"""The world knowledge DreamVLA forecasts (§3.2): dynamic regions, depth, and SAM / DINOv2 semantics."""

LOSS_WEIGHTS = {"dynamic": 0.1, "depth": 0.001, "sam": 0.01, "dino": 0.01}
"""Per knowledge type, beside the action loss's 1.0: the code's (utils/train_utils.py); the paper's §4 elides them."""


@dataclass
class EncoderConfig:
    """The frozen input encoders (App. A.1): CLIP ViT-B/32 text, MAE ViT-B/16 images. Folder or cached hub id;
    ``foresight-tiny`` writes a random-weight model of the same architecture on first use (tests, smoke runs)."""

    text: str = "openai/clip-vit-base-patch32"  # App. A.1 "CLIP ViT-B/32 text encoder"
    image: str = "facebook/vit-mae-base"  # App. A.1 "MAE-pretrained ViT-B"
    text_dim: int = 512  # CLIP ViT-B/32 text width; checked against the loaded model
    image_dim: int = 768  # MAE ViT-B width (Table 9 "image encoder 768"); checked against the loaded model


@dataclass
class BackboneConfig:
    """GPT-2 medium over per-step context tokens and queries (App. A.1, Table 9)."""

    hidden_dim: int = 1024  # Table 9 "LLM 1024"
    num_layers: int = 24  # Table 9
    num_heads: int = 16  # Table 9
    dropout: float = 0.1  # GPT-2's own dropout (code keeps GPT2Config defaults)
    resampler_latents: int = 9  # ours after Seer's resampler (unverified in the release); App. A.1: "<< 196"
    resampler_depth: int = 3  # Table 9 "perceiver resampler 3 layers"
    resampler_heads: int = 8  # Table 9 "perceiver resampler 8 heads"
    resampler_dim: int = 768  # Table 9 "perceiver resampler 768" (= MAE width)
    gradient_checkpointing: bool = False  # ours: trades compute for memory on one 24 GB GPU
    attention: Literal["structured", "causal"] = "structured"  # Fig. 4 / Table 7 (causal: 3.75, structured: 4.44)
    queries: Literal["separate", "shared"] = "separate"  # Table 7 (shared: 4.17, separate: 4.44)
    pretrained: str | None = None  # code builds GPT2Model(config) from scratch; a folder / hub id loads weights

    def __post_init__(self) -> None:
        checks.literal_fields(self, "backbone")
        if self.hidden_dim % self.num_heads:
            raise ValueError(f"backbone.hidden_dim={self.hidden_dim} is not divisible by num_heads={self.num_heads}")


@dataclass
class KnowledgeConfig:
    """The <dream> queries, their training-only decoders and losses (§3.2, App. A.1-A.3)."""

    types: tuple[str, ...] = ("dynamic", "depth", "sam", "dino")  # Table 3 "All"; LIBERO scripts: dynamic + sam
    views: tuple[str, ...] = ("primary", "wrist")  # roles; App. A.1: both views are encoded and forecast
    queries_per_type: int = 9  # App. A.1 "9 queries for each modality" (§4 text says 10; Table 8 picks 9)
    future: int = 3  # n: forecast t+n (App. C "next 3 future visual representations"; code)
    target: Literal["forecast", "reconstruct"] = "forecast"  # Table 5: prediction (4.44) vs auxiliary (4.14)
    dynamic: Literal["region", "flow"] = "region"  # Table 5: dynamic-region mask (4.44) vs optical flow (4.23)
    decoder_dim: int = 1024  # Table 9 decoders 1024
    decoder_layers: int = 2  # Table 9
    decoder_heads: int = 16  # Table 9
    weights: dict[str, float] = field(default_factory=lambda: dict(LOSS_WEIGHTS))  # code utils/train_utils.py
    depth_loss: Literal["silog", "scale_mse"] = "silog"  # code: scale-invariant log; paper eq. 4: scale-MSE
    semantic_loss: Literal["cosine", "infonce"] = "cosine"  # code: cosine; paper eq. 5: InfoNCE over shifted patches
    infonce_temperature: float = 0.1  # ours (paper gives none)
    # Teachers (docs/teachers.md). *_path: a local folder / file or a hub id in the local cache (null: the teacher
    # needs none, as the *_tiny ones); *_kwargs: the consumer's resolution / pooling, part of the cache key.
    motion_threshold: float = 1.0  # App. A.2 "speed threshold 1 pixel"
    motion_dilate: int = 1  # App. A.2 "single-pixel morphological dilation, eight-connected"
    motion_grid: int = 8  # App. A.2 "one keypoint every 8 pixels"; also the RGB patch of the dynamic region
    motion_teacher: str = "raft"  # ours: RAFT (BSD); code uses CoTracker (teacher=cotracker, non-commercial)
    motion_path: str | None = "~/.cache/torch/hub/checkpoints/raft_small_C_T_V2-01064c6d.pth"  # torchvision's
    motion_kwargs: dict[str, Any] = field(default_factory=lambda: {"input_size": None})  # None: the frame size
    depth_teacher: str = "depth_anything"  # App. A.2: Depth-Anything v2 (CALVIN: recorded depth, calvin_depth)
    depth_path: str | None = "depth-anything/Depth-Anything-V2-Small-hf"
    depth_kwargs: dict[str, Any] = field(default_factory=lambda: {"resolution": [56, 56]})  # ours
    depth_patch: int = 8  # ours: the 56x56 map decoded as 7x7 patches of 8x8
    sam_teacher: str = "sam"  # App. A.2: SAM image-encoder output
    sam_path: str | None = "facebook/sam-vit-base"
    sam_kwargs: dict[str, Any] = field(default_factory=lambda: {"pool": 16})  # ours: 64x64 pooled to 16x16
    sam_dim: int = 256  # SAM image-embedding channels
    dino_teacher: str = "dinov2"  # App. A.2: DINOv2 last layer
    dino_path: str | None = "facebook/dinov2-base"
    dino_kwargs: dict[str, Any] = field(default_factory=lambda: {"pool": 8})  # ours
    dino_dim: int = 768  # DINOv2-B/14 width

    def __post_init__(self) -> None:
        checks.literal_fields(self, "knowledge")
        unknown = [t for t in self.types if t not in KNOWLEDGE_TYPES]
        if unknown:
            raise ValueError(f"knowledge.types: unknown {unknown}; expected a subset of {list(KNOWLEDGE_TYPES)}")
        if len(set(self.types)) != len(self.types):
            raise ValueError(f"knowledge.types lists a type twice: {list(self.types)}")
        missing = [t for t in self.types if t not in self.weights]
        if missing:
            raise ValueError(f"knowledge.weights has no weight for {missing}; it has {sorted(self.weights)}")
        if self.future < 1:
            raise ValueError(f"knowledge.future must be >= 1, got {self.future}")
        if self.types and not self.views:
            raise ValueError("knowledge.views must name at least one view when knowledge.types is not empty")


@dataclass
class HeadConfig:
    """The DiT diffusion action head on the <action> query tokens (App. A.1, Table 10; code action_model)."""

    layers: int = 12  # Table 10 "DiT-B, 12 layers"
    width: int = 768  # DiT-B width (CogACT DiT-B); Table 10 "token size 1024" is the condition width
    heads: int = 12  # Table 10
    train_steps: int = 100  # code (100 diffusion steps); Table 10: 8
    beta_schedule: str = "squaredcos_cap_v2"  # code (cosine); Table 10: "Linear" (set "linear")
    inference_steps: int = 10  # code DDIM 10; Table 10 inference 10
    noise_samples: int = 8  # code: each sample repeated 8x (CogACT repeated diffusion steps)
    cond_dropout: float = 0.1  # code (CogACT class dropout 0.1)
    guidance_scale: float = 1.5  # code (CFG scale 1.5)


@dataclass
class DreamVLAConfig:
    """The whole method: inputs, backbone, knowledge, head, and the two stages (§4 "Implementation details")."""

    views: tuple[str, ...] = ("primary", "wrist")  # App. C: third-person and eye-on-hand
    proprio_keys: tuple[str, ...] = ("eef", "gripper")  # App. A.1: end-effector pose (6) + gripper
    history: int = 10  # S: code CALVIN scripts (LIBERO scripts: 7, App. C real world: 7)
    chunk: int = 3  # Table 10 "3-frame chunk"
    encoders: EncoderConfig = field(default_factory=EncoderConfig)
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    knowledge: KnowledgeConfig = field(default_factory=KnowledgeConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    pretrain: bool = False  # §4: optional language-free pretraining stage (entire future frames, no instruction)
    pretrain_budget: Budget = field(
        default_factory=lambda: Budget(steps=100_000, batch_size=64, lr=1e-3, weight_decay=0.01, warmup_fraction=0.05)
    )  # §4 / Table 11: 8 x 8 batch, lr 1e-3, wd 0.01, 5% warm-up; steps: ours (paper gives epochs on CALVIN ABC)
    budget: Budget = field(
        default_factory=lambda: Budget(steps=100_000, batch_size=64, lr=1e-3, weight_decay=0.01, warmup_fraction=0.05)
    )  # §4 / Table 11 (20 epochs of CALVIN ABC at batch 64 is ~ 100k steps: ours); LIBERO scripts: lr 2e-4, wd 1e-4

    def __post_init__(self) -> None:
        if self.history < 1 or self.chunk < 1:
            raise ValueError(f"history and chunk must be >= 1, got {self.history} and {self.chunk}")
        if not self.views:
            raise ValueError("views must name at least one camera view")
        if not self.proprio_keys:
            raise ValueError("proprio_keys must name at least one proprioceptive key")
