"""MoLA's configuration: every default carries its source.

Paper: "From Imagined Futures to Executable Actions: Mixture of Latent Actions for Robot Manipulation",
arXiv 2605.12167 (no code released). Its Table 7 (model and training hyperparameters) lost its numbers in the
text we have and the arXiv HTML we could search; every value marked "ours (paper text lost)" is our choice, sized
where possible to Table 8's module sizes (MoIDM 90.58 M, action head 22.90 M). docs/methods/mola.md explains each.
These are the only defaults: configs/method/mola.yaml holds only the method's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from foresight import checks
from foresight.budget import Budget

EXPERTS = ("flow", "depth", "semantic")
Backend = Literal["oracle", "svd", "cached"]


@dataclass
class ImaginationConfig:
    """Where the future frame ``ô_{t+k}`` the experts read comes from (§3.2).

    ``oracle``: the dataset's real frame at ``t + k`` (training only: an upper bound on imagination, never
    available in a simulator); ``svd``: the video model, live, on every call; ``cached``: the same frozen video
    model, its predictions computed once per dataset frame by the feature cache and read back in training
    (evaluation computes them live through the same call). ``eval_backend`` is what evaluation uses; ``same`` means
    ``backend``, and for an ``oracle`` policy it must be set (svd / cached): docs/methods/mola.md, "Oracle".
    """

    backend: Backend = "svd"  # §3.2: frozen SVD imagines in the policy stage (Stage III)
    eval_backend: Literal["same", "svd", "cached"] = "same"  # same: the training backend
    imaginer: str = "mola_svd"  # encoder registry name (methods/mola/svd.py); mola_svd_tiny: random weights
    kwargs: dict[str, Any] = field(  # the imaginer's arguments: its local save_pretrained folder, sizes
        default_factory=lambda: {
            "path": "~/.cache/foresight/mola-svd",  # your fine-tuned SVD (Stage I, out of scope here)
            "size": 128,  # the (o_t, ô_{t+k}) pair handed to the experts (= experts.image_size); ours
            "model_size": 256,  # ours (paper text lost): SVD runs at 256x256
            "num_frames": 16,  # Table 7b: 16 frames (video pretraining)
            "num_inference_steps": 1,  # §3.2 / Table 10: one denoising step
        }
    )

    def __post_init__(self) -> None:
        checks.literal_fields(self, "imagination")

    @property
    def at_evaluation(self) -> str:
        """The backend evaluation runs (``oracle`` only when nothing else was configured: an error there)."""
        return self.backend if self.eval_backend == "same" else self.eval_backend


@dataclass
class ExpertConfig:
    """One latent inverse-dynamics expert (§3.3, eq. 1-6), the same shape for each modality."""

    image_size: int = 128  # ours (paper text lost): LIBERO's native 128x128 (CALVIN's 200x200 resized)
    patch_size: int = 16  # ours: ViT-B/16 patches
    hidden_dim: int = 492  # ours (paper text lost): with 4 + 6 layers, three experts hold 90.94 M (Table 8: 90.58 M)
    encoder_layers: int = 4  # eq. 1's ViT image encoder; ours
    layers: int = 6  # eq. 2's spatio-temporal transformer; ours
    num_heads: int = 12  # ours (paper text lost)
    num_queries: int = 4  # latent-action queries per expert; ours (paper text lost)
    codebook_size: int = 32  # VQ codes per expert; ours (paper text lost; LAPA / Moto use 8-128)
    latent_dim: int = 128  # VQ code width; ours (paper text lost)
    commitment_weight: float = 0.25  # VQ-VAE's beta (van den Oord 2017); paper silent
    codebook_decay: float = 0.8  # EMA codebook update (vector_quantize_pytorch default); paper silent
    dead_code_threshold: int = 2  # codes used fewer times per batch are re-seeded (keeps usage up); ours
    decoder_layers: int = 2  # each ViT decoder (eq. 4 RGB, eq. 6 modality), dropped after stage idm; ours
    modality_weight: float = 1.0  # the modality term next to the RGB one (eq. 4 + eq. 6, equal weights); ours
    dropout: float = 0.0  # ours

    def __post_init__(self) -> None:
        if self.image_size % self.patch_size:
            raise ValueError(f"expert.image_size={self.image_size} is not a multiple of patch_size={self.patch_size}")
        if self.hidden_dim % self.num_heads:
            raise ValueError(f"expert.hidden_dim={self.hidden_dim} is not divisible by num_heads={self.num_heads}")
        if self.num_queries < 1 or self.codebook_size < 2:
            raise ValueError("expert needs num_queries >= 1 and codebook_size >= 2")


@dataclass
class TeacherConfig:
    """The frozen models whose outputs supervise each expert's modality decoder (§3.3, eq. 5)."""

    flow: str = "raft"  # §3.3 uses CoTracker3 (CC-BY-NC, git install): `cotracker` gives the same target
    flow_kwargs: dict[str, Any] = field(default_factory=lambda: {"path": "~/.cache/foresight/raft_small.pth"})
    depth: str = "depth_anything"  # §3.3: Depth Anything v2
    depth_kwargs: dict[str, Any] = field(
        default_factory=lambda: {"path": "depth-anything/Depth-Anything-V2-Small-hf", "resolution": [56, 56]}
    )
    semantic: str = "sam"  # §3.3: SAM2 (the `sam` teacher loads SAM 2 folders with Sam2Model)
    semantic_kwargs: dict[str, Any] = field(default_factory=lambda: {"path": "facebook/sam2.1-hiera-small", "pool": 16})
    semantic_channels: int = 256  # channels of the semantic target (SAM / SAM 2 image embeddings: 256)

    def of(self, expert: str) -> tuple[str, dict[str, Any]]:
        return getattr(self, expert), dict(getattr(self, f"{expert}_kwargs"))


@dataclass
class PolicyConfig:
    """The flow-matching DiT action head (§3.4) and what it is conditioned on."""

    horizon: int = 10  # action chunk; ours (paper text lost; VPP, its closest relative, predicts 10)
    cond_dim: int = 512  # width of every condition token; ours
    frame_tokens: int = 16  # imagined-frame features: a 4x4 grid of patch features per view; ours
    frame_encoder_width: int = 64  # conv stem of the imagined-frame encoder; ours
    task_token: bool = True  # ours: a learned task token (our SVD reads no instruction; the paper's does)
    proprio_token: bool = True  # ours: the robot state as one token
    num_layers: int = 5  # DiT depth; ours (paper text lost): with width 504, 22.84 M (Table 8: 22.90 M)
    hidden_dim: int = 504  # DiT width; ours (paper text lost), sized to Table 8
    num_heads: int = 8  # ours (paper text lost)
    dropout: float = 0.0  # ours
    num_inference_steps: int = 10  # flow-matching Euler steps; ours (paper text lost; pi0: 10)
    time_sampling: Literal["beta", "logit_normal", "uniform"] = "beta"  # pi0's; paper silent
    train_moidm: bool = True  # §3.3 / Fig. 5b: MoIDM fine-tuned jointly (false: frozen MoIDM)

    def __post_init__(self) -> None:
        checks.literal_fields(self, "policy")
        if self.horizon < 1:
            raise ValueError(f"policy.horizon must be >= 1, got {self.horizon}")


@dataclass
class MoLAConfig:
    """The whole method: the imagined offset ``k``, imagination, experts, teachers, action head, two stages."""

    k: int = 10  # frames between o_t and the imagined o_{t+k}; ours (paper text lost), = the action chunk
    experts: tuple[str, ...] = EXPERTS  # Table 5: flow, depth, semantic (any subset; () = the frame-feature baseline)
    views: tuple[str, ...] = ("primary",)  # cameras the experts read (roles); ours
    proprio_keys: tuple[str, ...] = ("arm", "gripper")  # ours (roles)
    imagination: ImaginationConfig = field(default_factory=ImaginationConfig)
    expert: ExpertConfig = field(default_factory=ExpertConfig)
    teachers: TeacherConfig = field(default_factory=TeacherConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    idm_budget: Budget = field(
        default_factory=lambda: Budget(
            steps=20_000,  # Table 7b: 20 epochs; ours: ~20 epochs of LIBERO-90 (~69k windows) at batch 256
            batch_size=256,  # Table 7b
            lr=1e-4,  # Table 7b "Lr max": number lost; ours
            weight_decay=0.01,  # number lost; ours (AdamW default)
            warmup_steps=1000,  # Table 7b: 1000 warm-up steps, then cosine decay
        )
    )
    policy_budget: Budget = field(
        default_factory=lambda: Budget(
            steps=40_000,  # Table 7b: 20 epochs; ours: ~20 epochs of one LIBERO suite (~60k windows) at batch 32
            batch_size=32,  # Table 7b
            lr=1e-4,  # number lost; ours
            weight_decay=0.0,  # number lost; ours
            warmup_fraction=0.01,  # paper silent; ours (as dp / CLaD)
        )
    )

    def __post_init__(self) -> None:
        unknown = sorted(set(self.experts) - set(EXPERTS))
        if unknown or len(set(self.experts)) != len(self.experts):
            raise ValueError(f"experts={list(self.experts)}: each at most once, from {list(EXPERTS)}")
        self.experts = tuple(e for e in EXPERTS if e in self.experts)  # a fixed order: flow, depth, semantic
        if self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")
        if not self.views:
            raise ValueError("views must name at least one camera view")
