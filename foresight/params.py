"""Parameter counts of any registered method at its defaults (``foresight params method=NAME [method.KEY=V]``).

The method is built on PyTorch's meta device with LIBERO's dimensions, so counting a paper-size model allocates
no memory. A method whose package has a ``params`` module with ``report(cfg) -> str`` (CLaD: the paper's sizes
beside ours) prints that; any other method, a plugin included, gets one row per submodule and per stage.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from omegaconf import OmegaConf

from foresight.config import ConfigError, load_group, parse_overrides
from foresight.types import DatasetInfo

LIBERO_INFO = DatasetInfo(
    action_dim=7,  # OSC delta pose (6) + gripper (LIBERO actions)
    proprio_dims={"joint_states": 7, "gripper_states": 2, "ee_states": 6},
    image_shapes={"agentview": (128, 128, 3), "wrist": (128, 128, 3)},
    tasks=tuple(f"task_{i}" for i in range(10)),
    instructions=tuple(f"instruction {i}" for i in range(10)),
    view_roles={"primary": "agentview", "wrist": "wrist"},
    proprio_roles={"arm": "joint_states", "gripper": "gripper_states", "eef": "ee_states"},
)
"""The dimensions parameter counts are quoted at: two 128x128 views, LIBERO's proprio and 7-d actions."""


def count(module: torch.nn.Module | None, buffers: bool = False) -> int:
    """Floating-point parameters (or buffers) of ``module``; 0 for None."""
    if module is None:
        return 0
    tensors = list(module.buffers()) if buffers else list(module.parameters())
    return sum(t.numel() for t in tensors if t.is_floating_point())


@dataclass(frozen=True)
class Row:
    """One line of a method's parameter report; ``params=None`` where it cannot be counted here (a backbone the
    user has not downloaded)."""

    name: str
    params: int | None
    note: str = ""


def paper_table(rows: list[Row], paper: Mapping[str, float], unit: str, digits: int) -> str:
    """Our counts beside the paper's, in the unit the paper reports them in (``"M"`` or ``"B"``)."""
    scale = {"M": 1e6, "B": 1e9}[unit]
    width = max(len("component"), *(len(r.name) for r in rows)) + 2
    lines = [f"{'component':<{width}}{'params':>16}{f'ours ({unit})':>10}{f'paper ({unit})':>11}  note"]
    for row in rows:
        theirs = f"{paper[row.name]:.{digits}f}" if row.name in paper else ""
        ours = f"{row.params / scale:.{digits}f}" if row.params is not None else "?"
        count_text = f"{row.params:,}" if row.params is not None else "?"
        lines.append(f"{row.name:<{width}}{count_text:>16}{ours:>10}{theirs:>11}  {row.note}")
    return "\n".join(lines)


def method_from_args(args: list[str]) -> tuple[type, object]:
    """``method=NAME`` plus ``method.KEY=V`` -> the registered class and its validated Config."""
    from foresight.factory import method_config

    choices, dotted = parse_overrides(args)
    if set(choices) - {"method"}:
        raise ConfigError(f"params takes method=NAME and method.<key>=value only, got {sorted(choices)}")
    if "method" not in choices:
        raise ConfigError("choose the method with method=NAME (foresight list shows the installed ones)")
    node = OmegaConf.create(load_group("method", choices["method"]))
    for key, value in dotted:
        if not key.startswith("method."):
            raise ConfigError(f"unknown argument {key!r}: give method keys as method.<key>=value")
        OmegaConf.update(node, key.removeprefix("method."), value, merge=False)
    return method_config(node)


def generic_table(cls: type, cfg: object, info: DatasetInfo = LIBERO_INFO) -> str:
    """One row per top-level submodule, one per stage (its trainable parameters), and the total."""
    with torch.device("meta"):
        model = cls(cfg, info)
    rows = [(f"  {name}", count(child)) for name, child in model.named_children()]
    for stage in model.stages():
        trained = sum(count(getattr(model, attr, None)) for attr in stage.trainable)
        rows.append((f"stage {stage.name} (trainable)", trained))
    rows.append(("total", count(model)))
    lines = [f"{'component':<52}{'params':>14}{'(B)':>10}"]
    lines += [f"{name:<52}{params:>14,}{params / 1e9:>10.3f}" for name, params in rows]
    return "\n".join(lines)


def report(cls: type, cfg: object) -> str:
    """The method's own report where its package has one, else :func:`generic_table`."""
    package = cls.__module__.rsplit(".", 1)[0]
    try:
        own = importlib.import_module(f"{package}.params")
    except ModuleNotFoundError as exc:
        if exc.name != f"{package}.params":
            raise
        own = None
    if own is not None and hasattr(own, "report") and own is not sys.modules[__name__]:
        return own.report(cfg)
    return generic_table(cls, cfg)


def resolved(args: list[str]) -> dict[str, object]:
    cls, cfg = method_from_args(args)
    return {"name": cls.name, "config": cfg}


def run(args: list[str]) -> int:
    cls, cfg = method_from_args(args)
    print(report(cls, cfg))
    return 0


def main(argv: list[str] | None = None) -> int:
    from foresight import cli

    return cli.main("params", argv)


if __name__ == "__main__":
    sys.exit(main())
