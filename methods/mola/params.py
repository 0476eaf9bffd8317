"""Parameter counts of MoLA at the paper's defaults, set against Table 8's MoIDM 90.58 M and action head 22.90 M.

    foresight params method=mola                                  # paper defaults, LIBERO dimensions
    foresight params method=mola method.experts=[flow]            # one expert

The model is built on PyTorch's meta device, so counting allocates no memory. The video model (Table 8: 1.53 B,
SVD) is not part of the method: it is loaded frozen from its folder and never saved with a checkpoint.
"""

from __future__ import annotations

import torch

from foresight.methods.mola.config import MoLAConfig
from foresight.params import LIBERO_INFO, Row, count, paper_table
from foresight.types import DatasetInfo

PAPER_MILLIONS = {"MoIDM (kept for the policy)": 90.58, "action head": 22.90}  # Table 8


def breakdown(cfg: MoLAConfig, info: DatasetInfo = LIBERO_INFO) -> list[Row]:
    """One row per expert and decoder, then the policy's parts, then the two rows Table 8 reports."""
    from foresight.methods.mola.method import MoLA

    with torch.device("meta"):
        model = MoLA(cfg, info)
    rows: list[Row] = []
    if model.moidm is not None:
        for name, expert in model.moidm.experts.items():
            rows.append(Row(f"  moidm.{name}", count(expert), f"VQ codebook {cfg.expert.codebook_size} codes (buffer)"))
        rows.append(Row("  decoders.rgb (shared)", count(model.decoders.rgb), "stage idm only"))
        for name, decoder in model.decoders.modality.items():
            rows.append(Row(f"  decoders.{name}", count(decoder), "stage idm only"))
    for name, child in model.policy.named_children():
        rows.append(Row(f"  policy.{name}", count(child)))
    conditioning = count(model.policy) - count(model.policy.head)
    rows += [
        Row("MoIDM (kept for the policy)", count(model.moidm), f"{len(cfg.experts)} experts, decoders dropped"),
        Row("action head", count(model.policy.head), "flow-matching DiT"),
        Row("condition encoders (ours)", conditioning, "latent-action / frame / task / state tokens"),
        Row("total trained in stage policy", count(model.moidm) * cfg.policy.train_moidm + count(model.policy)),
    ]
    return rows


def report(cfg: MoLAConfig) -> str:
    """What ``foresight params method=mola`` prints."""
    return paper_table(breakdown(cfg), PAPER_MILLIONS, "M", digits=2)
