"""Parameter counts of CLAP, set against Table IX's Act-VAE (150 M) and VD-VAE (200 M) and the 4 B backbone.

    foresight params method=clap                                   # paper defaults, LIBERO dimensions
    foresight params method=clap_4090                              # the one-RTX-4090 preset

The model is built on PyTorch's meta device, so counting allocates no memory. A pretrained backbone is counted
from its folder's ``config.json`` when ``policy.backbone.path`` is a local folder; otherwise its row says so.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from foresight.methods.clap.config import CLAPConfig
from foresight.params import LIBERO_INFO, Row, count, paper_table
from foresight.types import DatasetInfo

PAPER_BILLIONS = {"Act-VAE (stage act_vae)": 0.150, "VD-VAE (stage vd_vae)": 0.200, "  policy.backbone": 4.0}


def local_backbone(cfg: CLAPConfig) -> torch.nn.Module | None:
    """The pretrained backbone built from its local ``config.json`` on the meta device, or None without one."""
    folder = Path(cfg.policy.backbone.path or "").expanduser()
    if not (folder / "config.json").is_file():
        return None
    from transformers import AutoConfig, AutoModelForCausalLM

    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder)).base_model


def breakdown(cfg: CLAPConfig, info: DatasetInfo = LIBERO_INFO) -> list[Row]:
    from foresight.methods.clap.method import CLAP

    pretrained = cfg.policy.backbone.kind == "pretrained"
    external = local_backbone(cfg) if pretrained else None
    # A pretrained backbone is never loaded here: a scratch one of its width and depth stands in (so the RF head
    # and the projections are sized as with the real one) and the real one is counted from its config.
    stand_in = replace(cfg.policy.backbone, kind="scratch")
    if external is not None:
        text = getattr(external.config, "text_config", external.config)
        stand_in = replace(stand_in, hidden_dim=text.hidden_size, num_layers=text.num_hidden_layers, num_heads=1)
    with torch.device("meta"):
        model = CLAP(replace(cfg, policy=replace(cfg.policy, backbone=stand_in)), info)
    if not pretrained:
        backbone, note = count(model.policy.backbone), "GPT-2 layout, scratch"
    elif external is not None:
        backbone, note = count(external), f"{cfg.policy.backbone.path} (language-model head dropped)"
    else:
        backbone = None
        note = (
            f"external ({cfg.policy.backbone.path}): not a local folder, so not counted, and the rows below are "
            f"sized for a {stand_in.num_layers}-layer width-{stand_in.hidden_dim} stand-in"
        )
    policy_rest = count(model.policy) - count(model.policy.backbone)
    policy = None if backbone is None else backbone + policy_rest
    vd = model.vd_vae
    reference = policy if model.reference is not None else 0
    rows = [
        Row("Act-VAE (stage act_vae)", count(model.act_vae), "encoder, decoder (codebook: EMA buffer)"),
        Row("VD-VAE (stage vd_vae)", count(vd), f"{count(vd) - count(vd.teacher):,} trained + EMA teacher"),
        Row("  policy.backbone", backbone, note),
        Row("  policy (projections, code embedding, head)", policy_rest),
        Row("token policy (stage ntp)", policy),
        Row("RF head (stage rf_km)", count(model.rf_head), f"{len(model.layers)} layer-wise DiT blocks"),
        Row("KM reference (frozen copy)", reference, f"rf.finetune={cfg.rf.finetune}"),
    ]
    parts = [r.params for r in rows if not r.name.startswith("  ") and r.name != "token policy (stage ntp)"]
    parts.append(policy)
    rows.append(Row("total", None if None in parts else sum(parts)))
    return rows


def report(cfg: CLAPConfig) -> str:
    """What ``foresight params method=clap`` prints."""
    return paper_table(breakdown(cfg), PAPER_BILLIONS, "B", digits=3)
