"""Parameter counts of DreamVLA at the paper's defaults, beside the sizes the paper states (App. A.1, Tables 9-10).

    foresight params method=dreamvla                              # paper defaults, LIBERO dimensions
    foresight params method=dreamvla method.knowledge.types=[dynamic,sam]

The model is built on PyTorch's meta device, and the frozen encoders from their transformers configs (CLIP
ViT-B/32 text, MAE ViT-B/16), so counting allocates no memory and needs no weights.
"""

from __future__ import annotations

import torch

from foresight.methods.dreamvla.config import DreamVLAConfig
from foresight.params import LIBERO_INFO, Row, count, paper_table
from foresight.types import DatasetInfo

PAPER_MILLIONS = {"  backbone.gpt (GPT-2 medium)": 345.0}
"""App. A.1: "GPT-2 Medium ... approximately 345 million parameters" (with its 50,257 x 1,024 token table, which
inputs_embeds never reads: ours drops it, 51.5 M fewer). The paper states no other size."""


def frozen_encoders() -> list[Row]:
    """The frozen encoders at the released architectures (transformers' default configs are exactly those)."""
    from transformers import CLIPTextConfig, CLIPTextModel, ViTMAEConfig, ViTMAEModel

    with torch.device("meta"):
        text = CLIPTextModel(CLIPTextConfig())
        image = ViTMAEModel(ViTMAEConfig())
    return [
        Row("  CLIP ViT-B/32 text (frozen)", count(text), "openai/clip-vit-base-patch32"),
        Row("  MAE ViT-B/16 (frozen)", count(image), "facebook/vit-mae-base"),
    ]


def breakdown(cfg: DreamVLAConfig, info: DatasetInfo = LIBERO_INFO) -> list[Row]:
    from foresight.methods.dreamvla.method import DreamVLA

    with torch.device("meta"):
        model = DreamVLA(cfg, info)
    bb = model.backbone
    rows = [
        Row("  backbone.gpt (GPT-2 medium)", count(bb.gpt), "no token table (inputs_embeds)"),
        Row("  backbone.views (per-view [CLS] + perceiver resampler)", count(bb.views)),
        Row("  backbone.text / state", count(bb.text) + count(bb.state)),
        Row("  backbone <dream> / <action> queries", bb.dream_queries.numel() + bb.action_queries.numel()),
    ]
    rows += [Row(f"  decoders.{name} (training only)", count(d)) for name, d in model.decoders.items()]
    rows.append(Row("  head (DiT-B diffusion)", count(model.head)))
    encoders = frozen_encoders()
    inference = count(bb) + count(model.head)
    rows += encoders
    rows += [
        Row("trained", count(model), "backbone + decoders + head"),
        Row("run at inference", inference + sum(r.params for r in encoders), "frozen encoders + backbone + head"),
    ]
    return rows


def report(cfg: DreamVLAConfig) -> str:
    """What ``foresight params method=dreamvla`` prints."""
    return paper_table(breakdown(cfg), PAPER_MILLIONS, "M", digits=1)
