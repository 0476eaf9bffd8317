"""``foresight config method=clad data=libero_10 train.steps=1000``: the resolved run config, value by value,
with where each value comes from.

Presets hold only what differs from the dataclass defaults, so a short preset hides nothing only if one command
shows everything: every key of the validated config (the defaults filled in), its value, and its source, which
is one of ``default (<Config class>)``, a preset file (``configs/data/libero.yaml``; a thin preset's base
first) or ``command line``. The same arguments as ``foresight.train``; nothing is built or downloaded.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from typing import Any

from omegaconf import OmegaConf

from foresight.budget import Budget, overrides_of
from foresight.cli import show_value
from foresight.config import ConfigError, compose, dataclass_to_dict, layers, validate
from foresight.registry import get_env

COMMAND_LINE = "command line"


@dataclass(frozen=True)
class Resolved:
    key: str  # dotted path, e.g. method.dynamics.budget.steps
    value: Any
    source: str


def explain(overrides: list[str]) -> tuple[list[Resolved], dict[str, Budget]]:
    """Every key of the config ``overrides`` resolve to, with its value and source, in config order; and the
    budget each stage will run with (the method's, with ``train.*`` applied)."""
    from foresight.factory import method_config
    from foresight.train import RunConfig

    cfg = compose(overrides, root="train")
    env = cfg.pop("env", None)
    run = validate(cfg, RunConfig, "config")
    _, method_cfg = method_config(cfg.method)
    values = dataclass_to_dict(run)
    values["method"] = {"name": cfg.method.name, **dataclass_to_dict(method_cfg)}
    defaults = {
        "method": f"default ({type(method_cfg).__name__})",
        "data": f"default ({type(run.data).__name__})",
        "train": f"default ({type(run.train).__name__})",
    }
    if env is not None:
        env_cls = get_env(str(env.get("name")))
        env_values = {k: v for k, v in OmegaConf.to_container(env, resolve=True).items() if k != "name"}
        env_cfg = validate(env_values, env_cls.Config, "env")
        values["env"] = {"name": env.name, **dataclass_to_dict(env_cfg)}
        defaults["env"] = f"default ({type(env_cfg).__name__})"
    presets, dotted = layers(overrides, root="train")
    setters: dict[str, str] = {}
    for source, layer in presets:
        for key, value in _flatten(layer).items():
            if value != {}:  # an empty section (``train: {}``) sets nothing
                setters[key] = source
    for key, _ in dotted:
        setters[key] = COMMAND_LINE
    rows = [
        Resolved(key, value, _source(key, setters, defaults.get(key.split(".")[0], f"default ({RunConfig.__name__})")))
        for key, value in _flatten(values).items()
    ]
    return rows, effective_budgets(method_cfg, run.train)


def effective_budgets(method_cfg: Any, train: Any, prefix: str = "method") -> dict[str, Budget]:
    """Each :class:`Budget` in the method config with ``train.*`` applied: what every stage will run."""
    found: dict[str, Budget] = {}
    for f in dataclasses.fields(method_cfg):
        value = getattr(method_cfg, f.name)
        if isinstance(value, Budget):
            try:
                found[f"{prefix}.{f.name}"] = value.override(overrides_of(train))
            except ValueError as exc:
                raise ConfigError(f"{prefix}.{f.name} with the train.* overrides: {exc}") from exc
        elif dataclasses.is_dataclass(value):
            found.update(effective_budgets(value, train, f"{prefix}.{f.name}"))
    return found


def _source(key: str, setters: dict[str, str], default: str) -> str:
    """The last layer that set ``key`` or a section holding it (``method.vlm.kwargs`` sets its entries)."""
    parts = key.split(".")
    for depth in range(len(parts), 0, -1):
        prefix = ".".join(parts[:depth])
        if prefix in setters:
            return setters[prefix]
    return default


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict) and node:
        flat: dict[str, Any] = {}
        for key, value in node.items():
            flat.update(_flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix[:-1]: node}


def render(rows: list[Resolved], budgets: dict[str, Budget]) -> str:
    width = max(len(r.key) for r in rows)
    shown = [(r, show_value(r.value)) for r in rows]
    value_width = min(40, max(len(v) for _, v in shown))
    lines = [f"{r.key:<{width}}  {v:<{value_width}}  {r.source}" for r, v in shown]
    lines.append("\nstage budgets (the method's, with train.* applied):")
    for key, budget in budgets.items():
        lines.append(f"  {key}: batch {budget.batch_size}, {budget.schedule().describe()}")
    return "\n".join(lines)


def run(args: list[str]) -> int:
    print(render(*explain(args)))
    return 0


def main(argv: list[str] | None = None) -> int:
    from foresight import cli

    return cli.main("config", argv)


if __name__ == "__main__":
    sys.exit(main())
