"""Parameter counts of CLaD at the paper's defaults, set against §5.1's 0.1 B VLM, 0.33 B CLaD and 0.23 B policy.

    foresight params method=clad                                 # paper defaults, LIBERO dimensions
    python -m foresight.methods.clad.params dynamics.transition_depth=4 policy.head_blocks=3

Arguments are dotted overrides of the method config (as ``method.<key>=...`` on the training command line). The
model is built on PyTorch's meta device, so counting the 0.55 B-parameter model allocates no memory.
"""

from __future__ import annotations

import sys

import torch
from omegaconf import OmegaConf

from foresight.config import ConfigError, dataclass_to_dict, parse_overrides, validate
from foresight.methods.clad.config import CLaDConfig
from foresight.params import LIBERO_INFO, Row, count, paper_table
from foresight.types import DatasetInfo

PAPER_BILLIONS = {"VLM (frozen)": 0.1, "CLaD dynamics (stage 1)": 0.33, "policy (stage 2)": 0.23, "total": 0.66}


def decisionnce_params() -> int | None:
    """Parameters of DecisionNCE's CLIP-RN50 (OpenAI RN50 layout), or None without open_clip installed."""
    try:
        from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg
    except ImportError:
        return None
    with torch.device("meta"):
        model = CLIP(
            1024,
            vision_cfg=CLIPVisionCfg(layers=(3, 4, 6, 3), width=64, image_size=224),
            text_cfg=CLIPTextCfg(context_length=77, vocab_size=49408, width=512, heads=8, layers=12),
        )
    return count(model) - 1  # less CLIP's logit temperature, which DecisionNCE deletes


def breakdown(cfg: CLaDConfig, info: DatasetInfo = LIBERO_INFO) -> list[Row]:
    """One row per component, then per-stage and total rows."""
    from foresight.methods.clad.method import CLaD

    with torch.device("meta"):
        model = CLaD(cfg, info)
    rows: list[Row] = []
    dyn = model.dynamics
    if dyn is not None:
        for name, child in dyn.named_children():
            if name != "targets":
                rows.append(Row(f"  dynamics.{name}", count(child)))
        own = sum(p.numel() for _, p in dyn.named_parameters(recurse=False))
        rows.append(Row("  dynamics (action-step embedding, mask token)", own))
        rows.append(Row("  dynamics.targets (EMA copies, buffers)", count(dyn.targets, buffers=True), "not trained"))
    for name, child in model.policy.named_children():
        rows.append(Row(f"  policy.{name}", count(child)))
    vlm = decisionnce_params()
    dyn_total = count(dyn) + (count(dyn.targets, buffers=True) if dyn is not None else 0)
    policy_total = count(model.policy)
    rows += [
        Row("VLM (frozen)", vlm or 0, "DecisionNCE CLIP-RN50" if vlm else "install open_clip_torch to count"),
        Row("CLaD dynamics (stage 1)", dyn_total, f"{count(dyn):,} trained + EMA targets"),
        Row("policy (stage 2)", policy_total),
        Row("total", (vlm or 0) + dyn_total + policy_total),
    ]
    return rows


def config_from_args(args: list[str]) -> CLaDConfig:
    choices, dotted = parse_overrides(args)
    if choices:
        raise ConfigError(f"params takes method keys only (e.g. dynamics.hidden_dim=512), got {sorted(choices)}")
    node = OmegaConf.create(dataclass_to_dict(CLaDConfig()))
    for key, value in dotted:
        OmegaConf.update(node, key.removeprefix("method."), value, merge=False)
    return validate(node, CLaDConfig, "method")


def report(cfg: CLaDConfig) -> str:
    """What ``foresight params method=clad`` prints."""
    return paper_table(breakdown(cfg), PAPER_BILLIONS, "B", digits=3)


def main(argv: list[str] | None = None) -> int:
    """This module's own command line takes method keys without the ``method.`` prefix, as documented."""
    from foresight import cli

    args = sys.argv[1:] if argv is None else argv
    keys = [a if a.startswith(("-", "method.")) else f"method.{a}" for a in args]
    return cli.main("params", ["method=clad", *keys])


if __name__ == "__main__":
    sys.exit(main())
