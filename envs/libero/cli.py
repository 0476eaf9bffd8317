"""The command line shared by the LIBERO tools (expert demonstrations, oracle): ``env=<suite>`` plus options."""

from __future__ import annotations

from typing import Any, TypeVar

from omegaconf import DictConfig

from foresight.config import ConfigError, load_group, parse_overrides, validate

T = TypeVar("T")


def parse_suite_args(args: list[str], options: type[T], section: str) -> tuple[DictConfig, T]:
    """``env=<name>`` and ``env.*`` -> the env config node; every other ``key=value`` -> ``options`` (validated)."""
    choices, dotted = parse_overrides(args)
    if set(choices) != {"env"}:
        raise ConfigError("choose the suite with env=<libero_spatial|libero_object|libero_goal|libero_10|libero_90>")
    env_node = load_group("env", choices["env"])
    values: dict[str, Any] = {}
    for key, value in dotted:
        if key.startswith("env."):
            env_node[key.removeprefix("env.")] = value
        else:
            values[key] = value
    return env_node, validate(values, options, section)


def build_libero(env_node: DictConfig) -> Any:
    """The suite the node describes, refused with its name if it is not a LIBERO one (the tools need LIBERO)."""
    from foresight.envs.libero.suite import LiberoEnv
    from foresight.factory import build_env

    suite = build_env(env_node)
    if not isinstance(suite, LiberoEnv):
        raise ConfigError(f"env={env_node.get('name')} is a {type(suite).__name__}; the scripted expert is for LIBERO")
    return suite
