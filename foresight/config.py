"""Config composition and strict validation.

A run's config is ``configs/<root>.yaml`` with config groups swapped in by name and dotted overrides applied::

    method=clad data=libero_10 train.steps=1000 method.hidden_dim=256

``method=clad`` loads ``configs/method/clad.yaml`` (shipped as package data, so this works from any directory);
``method=/path/to/mine.yaml`` loads a file; a plugin method without a YAML of its own starts from its Config
dataclass defaults. Values are parsed as YAML (``train.lr=3e-4`` is a float, ``eval.tasks=[0,3]`` a list).

Validation is strict in the robomimic sense: every key must exist in the target dataclass. A misspelled key
names the close matches and the valid keys; a wrong type names the expected type. We do this ourselves rather
than through OmegaConf's structured-config errors because those name neither.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from omegaconf import DictConfig, ListConfig, OmegaConf

T = TypeVar("T")

GROUPS = ("method", "data", "env")

PATH_ONLY_DATA = "auto"
"""The data preset used when ``data.path`` is given without ``data=NAME``: detect the format from the path."""


class ConfigError(ValueError):
    """A config that cannot be used as given; the message says what to change."""


def config_root() -> Path:
    """The shipped configs/ folder (installed as the foresight.configs package)."""
    return Path(str(resources.files("foresight.configs")))


def available(group: str) -> list[str]:
    return sorted(p.stem for p in (config_root() / group).glob("*.yaml"))


def load_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level, got {type(loaded).__name__}")
    return loaded


def load_group(group: str, choice: str) -> dict[str, Any]:
    """The YAML for ``group=choice``: a shipped preset, a file path, or a registered plugin's defaults."""
    if choice.endswith((".yaml", ".yml")) or "/" in choice:
        return load_yaml(Path(choice).expanduser())
    path = config_root() / group / f"{choice}.yaml"
    if path.exists():
        return load_yaml(path)
    if group in ("method", "env"):
        return _plugin_defaults(group, choice)
    names = available(group)
    close = difflib.get_close_matches(choice, names, n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ConfigError(f"unknown {group} {choice!r}.{hint} Available: {', '.join(names)}; or give a path to a YAML file")


def _plugin_defaults(group: str, name: str) -> dict[str, Any]:
    """Defaults of a registered plugin that ships no YAML: its Config dataclass. Unknown names list the options."""
    from foresight import registry

    lookup = registry.get_method if group == "method" else registry.get_env
    try:
        cls = lookup(name)
    except registry.RegistryError as exc:
        shipped = available(group)
        raise ConfigError(f"{exc} Shipped {group} configs: {', '.join(shipped)}") from None
    return {"name": name, **dataclass_to_dict(cls.Config())}


def dataclass_to_dict(obj: Any) -> dict[str, Any]:
    return OmegaConf.to_container(OmegaConf.structured(obj), resolve=True)  # type: ignore[return-value]


def parse_overrides(overrides: list[str]) -> tuple[dict[str, str], list[tuple[str, Any]]]:
    """Split ``key=value`` arguments into group choices and dotted overrides (values parsed as YAML)."""
    choices: dict[str, str] = {}
    dotted: list[tuple[str, Any]] = []
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip().lstrip("+")
        if not sep or not key:
            raise ConfigError(f"cannot parse {item!r}: expected key=value, e.g. method=clad or train.steps=100")
        if key in GROUPS:
            choices[key] = raw
            continue
        dotted.append((key, parse_value(key, raw)))
    return choices, dotted


def parse_value(key: str, raw: str) -> Any:
    """YAML, except that ``3e-4`` is a float (YAML 1.1 wants ``3.0e-4``, which nobody types)."""
    try:
        value = yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"cannot parse the value of {key!r} ({raw!r}) as YAML: {exc}") from exc
    if isinstance(value, str):
        try:
            return float(value) if value.strip().lower() not in ("nan", "inf", "-inf", "infinity") else value
        except ValueError:
            return value
    return value


def compose(overrides: list[str], root: str = "train") -> DictConfig:
    """Build a run config from ``configs/<root>.yaml``, group choices and dotted overrides.

    Unknown dotted keys are not rejected here but by :func:`validate`, which knows the schema and can name the
    close matches.
    """
    base = load_yaml(config_root() / f"{root}.yaml")
    choices, dotted = parse_overrides(overrides)
    defaults = base.pop("defaults", {}) or {}
    for group in GROUPS:
        choice = choices.get(group, defaults.get(group))
        if group == "data":
            choice = data_choice(choices, dotted, choice)
        if choice is not None:
            base[group] = load_group(group, str(choice))
        elif group in choices:
            base[group] = {}
    cfg = OmegaConf.create(base)
    for key, value in dotted:
        _set_dotted(cfg, key, value)
    return cfg


def data_choice(choices: dict[str, str], dotted: list[tuple[str, Any]], default: str | None) -> str | None:
    """``data=NAME`` if given; else, when ``data.path`` is, the format-detecting preset (never the synthetic demo,
    whose builder would write into the user's folder); else ``default``."""
    if "data" in choices:
        return choices["data"]
    if any(key == "data.path" for key, _ in dotted):
        return PATH_ONLY_DATA
    return default


def _set_dotted(cfg: DictConfig, key: str, value: Any) -> None:
    parts = key.split(".")
    node: Any = cfg
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part) if isinstance(node, DictConfig) else None
        if child is None:
            if parts[0] not in cfg:
                raise ConfigError(_unknown_key_message(parts[0], list(cfg.keys()), "the run config"))
            node[part] = {}
            child = node[part]
        elif not isinstance(child, DictConfig):
            prefix = ".".join(parts[: depth + 1])
            raise ConfigError(f"cannot set {key!r}: {prefix!r} is a value ({child!r}), not a section")
        node = child
    node[parts[-1]] = value


def validate(node: Any, schema: type[T], where: str) -> T:
    """Check ``node`` against the dataclass ``schema`` (recursively) and build an instance of it.

    ``where`` is the config path shown in messages (``"method"``, ``"train"``); keys such as ``name`` that
    select a plugin are the caller's to strip before validating.
    """
    if isinstance(node, DictConfig | ListConfig):
        node = OmegaConf.to_container(node, resolve=True)
    if node is None:
        node = {}
    if not isinstance(node, dict):
        raise ConfigError(f"{where} must be a mapping of keys to values, got {node!r}")
    return _build(node, schema, where)


def _build(values: dict[str, Any], schema: type[T], where: str) -> T:
    fields = {f.name: f for f in dataclasses.fields(schema) if f.init}  # type: ignore[arg-type]
    hints = typing.get_type_hints(schema)
    for key in values:
        if key not in fields:
            raise ConfigError(_unknown_key_message(key, list(fields), where))
    kwargs = {}
    for key, value in values.items():
        kwargs[key] = _coerce(value, hints[key], f"{where}.{key}")
    try:
        return schema(**kwargs)
    except (TypeError, ValueError) as exc:
        named = str(exc).startswith(f"{where.rsplit('.', 1)[-1]}.")  # the check already names the field as typed
        raise ConfigError(str(exc) if named else f"invalid {where}: {exc}") from exc


def _unknown_key_message(key: str, valid: list[str], where: str) -> str:
    close = difflib.get_close_matches(key, valid, n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown key {key!r} in {where}.{hint} Valid keys: {', '.join(sorted(valid))}"


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Check ``value`` against a type hint, converting only where YAML is lossy (int -> float, list -> tuple)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for option in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, option, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where} = {value!r}: expected {_type_name(hint)}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where} = {value!r}: expected one of {', '.join(repr(a) for a in args)}")
        return value
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"{where} = {value!r}: expected a mapping for {hint.__name__}")
        return _build(value, hint, where)
    if origin in (list, tuple) or hint in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where} = {value!r}: expected {_type_name(hint)}")
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if origin is tuple and args:
            if len(args) != len(value):
                raise ConfigError(f"{where} = {value!r}: expected {len(args)} items ({_type_name(hint)})")
            return tuple(_coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True)))
        item = args[0] if args else Any
        items = [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if (origin or hint) is tuple else items
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} = {value!r}: expected a mapping")
        if args:
            return {k: _coerce(v, args[1], f"{where}.{k}") for k, v in value.items()}
        return dict(value)
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{where} = {value!r}: expected a number (float)")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where} = {value!r}: expected an integer")
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where} = {value!r}: expected true or false")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where} = {value!r}: expected a string")
    if isinstance(hint, type) and not isinstance(value, hint):
        raise ConfigError(f"{where} = {value!r}: expected {hint.__name__}")
    return value


def _type_name(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(hint))
    if hint is type(None):
        return "null"
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(hint) if a is not Ellipsis)
        return f"{origin.__name__}[{args}]"
    return getattr(hint, "__name__", str(hint))


def to_yaml(cfg: Any) -> str:
    """Resolved YAML for printing and for saving beside checkpoints (dataclasses and DictConfigs alike)."""
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        cfg = dataclass_to_dict(cfg)
    if isinstance(cfg, DictConfig | ListConfig):
        cfg = OmegaConf.to_container(cfg, resolve=True)
    return yaml.safe_dump(cfg, sort_keys=False)
