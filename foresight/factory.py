"""Build registered methods and environment suites from their config sections (``name`` + validated fields)."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from foresight.config import ConfigError, validate
from foresight.interfaces import EnvSuite, Method
from foresight.registry import get_env, get_method
from foresight.types import DatasetInfo


def _split_name(node: Any, group: str) -> tuple[str, dict[str, Any]]:
    values = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node or {})
    name = values.pop("name", None)
    if not name:
        raise ConfigError(f"the {group} config has no 'name': choose one with {group}=<name>")
    return str(name), values


def method_config(node: Any) -> tuple[type[Method], Any]:
    """The registered class and its validated Config instance for a ``method`` config section."""
    name, values = _split_name(node, "method")
    cls = get_method(name)
    return cls, validate(values, cls.Config, "method")


def build_method(node: Any, info: DatasetInfo) -> Method:
    cls, cfg = method_config(node)
    return cls(cfg, info)


def build_env(node: Any) -> EnvSuite:
    name, values = _split_name(node, "env")
    cls = get_env(name)
    return cls(validate(values, cls.Config, "env"))
