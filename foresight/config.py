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
    merged: dict[str, Any] = {}
    for _, values in preset_layers(group, choice):
        merged = deep_merge(merged, values)
    return merged


def preset_layers(group: str, choice: str) -> list[tuple[str, dict[str, Any]]]:
    """``group=choice`` as (source, values) layers, base first: a preset's ``extends: <preset>`` chain.

    ``extends`` names a preset of the same group (or a YAML path, relative to the extending file) whose values
    this one starts from, so the per-suite presets (``data=libero_spatial``) are a line on top of one family
    preset (``data=libero``) rather than copies of it.
    """
    layers: list[tuple[str, dict[str, Any]]] = []
    seen: list[Path] = []
    path = _preset_path(group, choice, None)
    if path is None:
        return [(f"{group} plugin {choice!r} (its Config defaults)", _plugin_defaults(group, choice))]
    while path is not None:
        if path in seen:
            chain = " -> ".join(str(p) for p in [*seen, path])
            raise ConfigError(f"{group} presets extend each other in a loop: {chain}")
        seen.append(path)
        values = load_yaml(path)
        parent = values.pop(EXTENDS, None)
        layers.insert(0, (_source_name(path), values))
        path = _preset_path(group, str(parent), path.parent) if parent is not None else None
    return layers


EXTENDS = "extends"


def _preset_path(group: str, choice: str, relative_to: Path | None) -> Path | None:
    """The file of a preset; ``None`` for a plugin without one. Unknown names list the shipped presets."""
    if choice.endswith((".yaml", ".yml")) or "/" in choice:
        path = Path(choice).expanduser()
        return path if path.is_absolute() or relative_to is None else relative_to / path
    path = config_root() / group / f"{choice}.yaml"
    if path.exists():
        return path
    if group in ("method", "env") and relative_to is None:
        return None
    names = available(group)
    close = difflib.get_close_matches(choice, names, n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ConfigError(f"unknown {group} {choice!r}.{hint} Available: {', '.join(names)}; or give a path to a YAML file")


def _source_name(path: Path) -> str:
    """``configs/data/libero.yaml`` for shipped presets, the path as given otherwise."""
    root = config_root()
    return f"configs/{path.relative_to(root)}" if path.is_relative_to(root) else str(path)


def deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``: mappings merge key by key, anything else (lists included) is replaced."""
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


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
    presets, dotted = layers(overrides, root)
    merged: dict[str, Any] = {}
    for _, values in presets:
        merged = deep_merge(merged, values)
    cfg = OmegaConf.create(merged)
    for key, value in dotted:
        _set_dotted(cfg, key, value)
    return cfg


def layers(overrides: list[str], root: str = "train") -> tuple[list[tuple[str, dict[str, Any]]], list[tuple[str, Any]]]:
    """The files a run config is composed from, as (source, values) layers in order, and the dotted overrides.

    :func:`compose` merges them; ``foresight config`` uses them to say where each value comes from.
    """
    base = load_yaml(config_root() / f"{root}.yaml")
    choices, dotted = parse_overrides(overrides)
    defaults = base.pop("defaults", {}) or {}
    found: list[tuple[str, dict[str, Any]]] = [(f"configs/{root}.yaml", base)]
    for group in GROUPS:
        choice = choices.get(group, defaults.get(group))
        if group == "data":
            choice = data_choice(choices, dotted, choice)
        if choice is not None:
            found += [(source, {group: values}) for source, values in preset_layers(group, str(choice))]
        elif group in choices:
            found.append(("command line", {group: {}}))
    return found, dotted


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


def _build(values: dict[str, Any], schema: type[T], where: str, base: Any = None) -> T:
    """An instance of ``schema`` from ``values`` over ``base`` (an instance whose values fill the missing keys).

    A nested dataclass field starts from the parent's default for it, so ``budget: {steps: 10}`` keeps the other
    budget values the method's config gives, not the bare class's defaults.
    """
    fields = {f.name: f for f in dataclasses.fields(schema) if f.init}  # type: ignore[arg-type]
    hints = typing.get_type_hints(schema)
    for key in values:
        if key not in fields:
            raise ConfigError(_unknown_key_message(key, list(fields), where, schema))
    kwargs = {name: getattr(base, name) for name in fields} if base is not None else {}
    for key, value in values.items():
        nested_base = getattr(base, key) if base is not None else _field_default(fields[key])
        kwargs[key] = _coerce(value, hints[key], f"{where}.{key}", nested_base)
    try:
        return schema(**kwargs)
    except (TypeError, ValueError) as exc:
        named = str(exc).startswith(f"{where.rsplit('.', 1)[-1]}.")  # the check already names the field as typed
        raise ConfigError(str(exc) if named else f"invalid {where}: {exc}") from exc


def _field_default(f: dataclasses.Field) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None if f.default is dataclasses.MISSING else f.default


def _unknown_key_message(key: str, valid: list[str], where: str, schema: Any = None) -> str:
    moved = _moved_to(key, schema)
    if moved:
        return f"unknown key {key!r} in {where}: it is now {where}.{moved}.{key} (set it there)"
    close = difflib.get_close_matches(key, valid, n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown key {key!r} in {where}.{hint} Valid keys: {', '.join(sorted(valid))}"


def _moved_to(key: str, schema: Any) -> str | None:
    """The nested section of ``schema`` that holds ``key`` (``steps`` -> ``budget``), if exactly one does."""
    if schema is None or not dataclasses.is_dataclass(schema):
        return None
    hints = typing.get_type_hints(schema)
    holders = [
        f.name
        for f in dataclasses.fields(schema)
        if dataclasses.is_dataclass(hints.get(f.name)) and key in {g.name for g in dataclasses.fields(hints[f.name])}
    ]
    return holders[0] if len(holders) == 1 else None


def _coerce(value: Any, hint: Any, where: str, base: Any = None) -> Any:
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
        return _build(value, hint, where, base if isinstance(base, hint) else None)
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


if __name__ == "__main__":  # python -m foresight.config method=clad ...: the same as `foresight config ...`
    import sys

    from foresight.explain import main

    sys.exit(main())
