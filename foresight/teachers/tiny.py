"""Tiny random-weight presets (``teacher=<name>_tiny``): real architectures, a few thousand parameters.

For tests, ``*_tiny`` method presets and CPU demos. The weights are drawn with a fixed seed and written with
``save_pretrained`` (RAFT: a safetensors state dict) under ``$FORESIGHT_CACHE/teachers/tiny/<name>`` on first use,
then loaded from there exactly as a user's own weights are, so the loading path is the one under test.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import torch

from foresight.data.config import cache_root
from foresight.teachers.depth import DepthAnythingTeacher
from foresight.teachers.motion import RaftTeacher
from foresight.teachers.registry import register_teacher
from foresight.teachers.semantic import Dinov2Teacher, SamTeacher

SEED = 0
RANDOM_WEIGHTS = "random weights drawn by foresight (no third-party weights)"


def tiny_root() -> Path:
    return cache_root() / "teachers" / "tiny"


def _widen(*modules: torch.nn.Module) -> None:
    """Redraw weights at a unit-gain scale (biases 0.1): some default inits leave a random tiny model constant."""
    with torch.no_grad():
        for module in modules:
            for name, parameter in module.named_parameters():
                if parameter.ndim > 1:
                    parameter.normal_(0.0, 2.0 / parameter[0].numel() ** 0.5)
                elif "norm" not in name:  # layer norms keep their identity init
                    parameter.fill_(0.1)


def _dinov2_config(layers: int, **extra):
    from transformers import Dinov2Config

    return Dinov2Config(
        hidden_size=32,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=64,
        image_size=56,
        patch_size=14,
        **extra,
    )


def _depth_anything(folder: Path) -> None:
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation

    backbone = _dinov2_config(4, out_features=["stage1", "stage2", "stage3", "stage4"], reshape_hidden_states=False)
    config = DepthAnythingConfig(
        backbone_config=backbone,
        reassemble_hidden_size=32,
        neck_hidden_sizes=[8, 16, 16, 32],
        fusion_hidden_size=16,
        head_hidden_size=8,
        patch_size=14,
    )
    model = DepthAnythingForDepthEstimation(config)
    _widen(model.neck, model.head)  # at the default init the head's final ReLU zeroes every output
    model.save_pretrained(folder)


def _sam(folder: Path) -> None:
    from transformers import SamConfig, SamMaskDecoderConfig, SamModel, SamPromptEncoderConfig, SamVisionConfig

    vision = SamVisionConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        mlp_dim=64,
        image_size=64,
        patch_size=8,
        output_channels=16,
        window_size=4,
        global_attn_indexes=[1],
    )
    prompt = SamPromptEncoderConfig(hidden_size=16, image_size=64, patch_size=8)
    decoder = SamMaskDecoderConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, mlp_dim=32)
    config = SamConfig(
        vision_config=vision.to_dict(), prompt_encoder_config=prompt.to_dict(), mask_decoder_config=decoder.to_dict()
    )
    model = SamModel(config)
    _widen(model.vision_encoder.neck)  # its convolutions start at ~1e-10: embeddings would all be ~0
    model.save_pretrained(folder)


def _sam2(folder: Path) -> None:
    from transformers import (
        Sam2Config,
        Sam2HieraDetConfig,
        Sam2MaskDecoderConfig,
        Sam2Model,
        Sam2PromptEncoderConfig,
        Sam2VisionConfig,
    )

    hiera = Sam2HieraDetConfig(
        hidden_size=8,
        num_attention_heads=1,
        image_size=[64, 64],
        patch_kernel_size=[7, 7],
        patch_stride=[4, 4],
        patch_padding=[3, 3],
        query_stride=[2, 2],
        window_positional_embedding_background_size=[2, 2],
        num_query_pool_stages=3,
        blocks_per_stage=[1, 1, 2, 1],
        embed_dim_per_stage=[8, 16, 32, 64],
        num_attention_heads_per_stage=[1, 1, 1, 1],
        window_size_per_stage=[2, 2, 2, 2],
        global_attention_blocks=[3],  # not the first block of a pooling stage (its window would be 0)
    )
    vision = Sam2VisionConfig(
        backbone_config=hiera,
        backbone_channel_list=[64, 32, 16, 8],
        backbone_feature_sizes=[[16, 16], [8, 8], [4, 4]],
        fpn_hidden_size=16,
    )
    prompt = Sam2PromptEncoderConfig(hidden_size=16, image_size=64, patch_size=16)
    decoder = Sam2MaskDecoderConfig(
        hidden_size=16, num_hidden_layers=1, num_attention_heads=2, mlp_dim=32, iou_head_hidden_dim=16
    )
    Sam2Model(
        Sam2Config(vision_config=vision, prompt_encoder_config=prompt, mask_decoder_config=decoder)
    ).save_pretrained(folder)


def _dinov2(folder: Path) -> None:
    from transformers import Dinov2Model

    Dinov2Model(_dinov2_config(2)).save_pretrained(folder)


def _raft(folder: Path) -> None:
    from safetensors.torch import save_file
    from torchvision.models.optical_flow import raft_small

    folder.mkdir(parents=True)
    state = {k: v.contiguous() for k, v in raft_small(weights=None).state_dict().items()}
    save_file(state, str(folder / "model.safetensors"))


def tiny_model(kind: str, build: Callable[[Path], None]) -> str:
    """The folder of tiny model ``kind``, written once (atomically: a half-written folder is never used).

    Methods write their own tiny frozen models through it too (DreamVLA's CLIP/MAE, MoLA's video model)."""
    folder = tiny_root() / kind
    if folder.is_dir():
        return str(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{kind}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        build(tmp)
    try:
        os.replace(tmp, folder)
    except OSError:  # another process finished first: its folder holds the same seeded weights
        shutil.rmtree(tmp, ignore_errors=True)
    return str(folder)


@register_teacher("depth_anything_tiny")
class DepthAnythingTiny(DepthAnythingTeacher):
    """Depth-Anything architecture at 56x56 input, random weights (no meaning, only shapes and plumbing)."""

    licence = RANDOM_WEIGHTS

    def __init__(self, input_size: list[int] | None = None, resolution: list[int] | int | None = (28, 28)) -> None:
        super().__init__(tiny_model("depth_anything", _depth_anything), input_size, resolution)


@register_teacher("sam_tiny")
class SamTiny(SamTeacher):
    """SAM architecture at 64x64 input (16-channel 8x8 embedding), random weights."""

    licence = RANDOM_WEIGHTS

    def __init__(self, pool: int | None = 4) -> None:
        super().__init__(tiny_model("sam", _sam), pool)


@register_teacher("sam2_tiny")
class Sam2Tiny(SamTeacher):
    """SAM 2 architecture (Hiera) at 64x64 input (16-channel 4x4 embedding), random weights."""

    licence = RANDOM_WEIGHTS

    def __init__(self, pool: int | None = None) -> None:
        super().__init__(tiny_model("sam2", _sam2), pool)


@register_teacher("dinov2_tiny")
class Dinov2Tiny(Dinov2Teacher):
    """DINOv2 architecture at 56x56 input (32-channel 4x4 patch grid), random weights."""

    licence = RANDOM_WEIGHTS

    def __init__(self, input_size: list[int] | None = None, pool: int | None = None) -> None:
        super().__init__(tiny_model("dinov2", _dinov2), input_size, pool)


@register_teacher("raft_tiny")
class RaftTiny(RaftTeacher):
    """torchvision ``raft_small`` with random weights and 2 refinement steps (the real architecture, cheaply)."""

    licence = RANDOM_WEIGHTS

    def __init__(self, gap: int = 3, grid: int = 8, input_size: list[int] | None = None, batch_size: int = 16) -> None:
        super().__init__(tiny_model("raft", _raft), "small", gap, grid, 2, input_size, batch_size)
