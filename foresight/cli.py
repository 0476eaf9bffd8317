"""One command line for every entry point: ``key=value`` arguments, ``--help``, one error style.

Every job of the library is a :class:`Command` in :data:`COMMANDS`. ``foresight <command> ...`` and
``python -m <module> ...`` (and ``accelerate launch -m foresight.train ...``) both end in :func:`run`, which

* answers ``-h`` / ``--help`` from the command's declaration: usage, the module's description, the config
  groups with their presets, the fields of the selected method / env / data section (defaults and the comment
  that says where each default comes from), and examples. ``method=<name> --help`` shows that method's options;
  a plugin gets this from its ``Config`` dataclass without writing anything;
* refuses anything that is not ``key=value`` (or, for commands that take them, a word such as a file name) with
  one line and exit code 2;
* turns the library's own input errors (a bad config value, a malformed dataset, an unknown plugin, a refused
  checkpoint) into one line ``foresight <command>: error: ...`` and exit code 2, and leaves every other
  exception its traceback: a bug should look like a bug.

A command's own code only parses the values it was given (with :mod:`foresight.config`) and does the work.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import inspect
import re
import sys
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

HELP_FLAGS = ("-h", "--help")
CFG_FLAG = "--cfg"  # print the resolved config of the command line and stop (Hydra's ``--cfg job``)

USER_ERRORS = (
    "foresight.config:ConfigError",
    "foresight.data.source:DataError",
    "foresight.registry:RegistryError",
    "foresight.checkpoint:CheckpointError",
    "foresight.eval.results:EvalError",
    "foresight.envs.libero.planner:UnsupportedGoal",
    "foresight.teachers.base:TeacherError",
)
"""Exceptions that mean "the input was wrong", not "the library is broken". Only classes whose module has been
imported can have been raised, so they are looked up in ``sys.modules`` and never imported for the check."""


class UsageError(ValueError):
    """A command line that does not fit the command (exit code 2)."""


@dataclass(frozen=True)
class Command:
    """A job of the library as the command line sees it; the work itself is ``target``, imported on use."""

    name: str  # as typed after `foresight`: "train", "data inspect"
    module: str  # the `python -m` module
    target: str  # "module:function" taking the argument list and returning an exit code
    summary: str  # one line for the command list
    usage: str  # the arguments, after the command's name
    examples: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()  # config groups the command composes (their presets and fields are in --help)
    sections: tuple[str, ...] = ()  # other option sections, as "prefix=module:Dataclass" ("" prefix: bare keys)
    words: bool = False  # takes plain words (file names, a sub-command) besides key=value

    def invocations(self) -> list[str]:
        forms = [f"foresight {self.name}", f"python -m {self.module}"]
        if self.name == "train":
            forms.append(f"accelerate launch -m {self.module}")
        return forms


def _c(*args: Any, **kwargs: Any) -> Command:
    return Command(*args, **kwargs)


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        _c(
            "train", "foresight.train", "foresight.train:run", "train a method (every stage, or one)",
            "[method=NAME] [data=NAME] [stage=NAME] [run_dir=DIR] [method.KEY=V] [data.KEY=V] [train.KEY=V]",
            ("foresight train method=dp_tiny data=demo train.steps=200",
             "accelerate launch -m foresight.train method=clad data=libero_10 data.path=/data/libero/libero_10",
             "foresight train method=clad --help        # CLaD's options with their defaults"),
            groups=("method", "data"), sections=("train=foresight.train:TrainConfig",),
        ),
        _c(
            "eval", "foresight.eval", "foresight.eval.cli:run", "evaluate a checkpoint under a benchmark protocol",
            "checkpoint=DIR env=NAME [env.KEY=V] [eval.KEY=V]",
            ("foresight eval checkpoint=runs/clad-libero_10 env=libero_10 eval.workers=8",
             "foresight eval checkpoint=runs/dp-demo env=libero_object env.tasks=[0] env.trials_per_task=2"),
            groups=("env",), sections=("eval=foresight.eval.config:EvalConfig",),
        ),
        _c(
            "data inspect", "foresight.data.inspect", "foresight.data.inspect:run",
            "summarise a dataset: episodes, keys, shapes, roles, statistics", "data=NAME [data.KEY=V]",
            ("foresight data inspect data=libero_object data.path=data/scripted/libero_object",),
            groups=("data",),
        ),
        _c(
            "data generate", "foresight.data.generate", "foresight.data.generate:run",
            "record scripted-expert LIBERO demonstrations (official HDF5 schema)",
            "env=LIBERO_SUITE [env.KEY=V] [KEY=V]",
            ("foresight data generate env=libero_object demos_per_task=50 out=data/scripted/libero_object",),
            groups=("env",), sections=("=foresight.data.generate:GenerateConfig",),
        ),
        _c(
            "data cache", "foresight.data.cache", "foresight.data.cache:run",
            "precompute a frozen encoder's features or a teacher's targets for a dataset",
            "encoder=NAME|teacher=NAME data=NAME [encoder.ARG=V|teacher.ARG=V] [data.KEY=V] [KEY=V]",
            ("foresight data cache encoder=minilm data=demo", "foresight data cache teacher=raft_tiny data=demo"),
            groups=("data",),
            sections=("=foresight.data.cache:CacheCommandConfig", "=foresight.teachers.cache:TeacherCacheConfig"),
        ),
        _c(
            "leaderboard", "foresight.leaderboard", "foresight.leaderboard.__main__:run",
            "file, validate and render evaluation results", "add FILE... [replace=true] | build | validate [FILE...]",
            ("foresight leaderboard add runs/clad/eval/libero_10/result.json",
             "foresight leaderboard validate", "foresight leaderboard build dir=leaderboard"),
            sections=("=foresight.leaderboard.__main__:LeaderboardOptions",), words=True,
        ),
        _c(
            "study", "foresight.study", "foresight.study.__main__:run",
            "train and evaluate every arm x seed of a study, then its report and leaderboard rows (resumable)",
            "STUDY_NAME_OR_FILE [out=DIR] [seeds=[0,1,2]] [leaderboard=DIR] [report=DIR] [report_only=true]",
            ("foresight study libero_object_cpu", "foresight study libero_10_fig3 seeds=[0]",
             "foresight study configs/study/libero_object_cpu.yaml report_only=true"),
            sections=("=foresight.study.__main__:StudyOptions",), words=True,
        ),
        _c(
            "oracle", "foresight.envs.libero.oracle", "foresight.envs.libero.oracle:run",
            "the scripted expert under the LIBERO protocol (the leaderboard's oracle row)",
            "env=LIBERO_SUITE [env.KEY=V] [out=DIR]",
            ("foresight oracle env=libero_object env.trials_per_task=10",),
            groups=("env",), sections=("=foresight.envs.libero.oracle:OracleConfig",),
        ),
        _c(
            "params", "foresight.params", "foresight.params:run",
            "parameter counts of a method at its defaults (built on the meta device)", "method=NAME [method.KEY=V]",
            ("foresight params method=clad", "foresight params method=clad method.dynamics.hidden_dim=512"),
            groups=("method",),
        ),
        _c(
            "diagnose", "foresight.methods.clad.diagnose", "foresight.methods.clad.diagnose:run",
            "CLaD: UMAP of the dynamics latent and collapse statistics", "checkpoint=DIR [data=NAME] [KEY=V]",
            ("foresight diagnose checkpoint=runs/clad-libero_10 out=zdyn.png",),
            groups=("data",), sections=("=foresight.methods.clad.diagnose:DiagnoseConfig",),
        ),
        _c(
            "demo", "foresight.demo", "foresight.demo:run",
            "the embedded end-to-end job: scripted LIBERO demos -> training -> evaluation",
            "[demo.KEY=V] [trainer overrides ...]",
            ("foresight demo", "foresight demo demo.method=dp demo.trials=5"),
            sections=("demo=foresight.demo:DemoConfig",),
        ),
        _c(
            "config", "foresight.config", "foresight.explain:run",
            "the resolved training config: every value and where it comes from (default, preset, command line)",
            "[method=NAME] [data=NAME] [method.KEY=V] [data.KEY=V] [train.KEY=V]",
            ("foresight config method=clad data=libero_10 train.steps=1000",),
            groups=("method", "data"),
        ),
        _c("list", "foresight", "foresight.__main__:list_plugins", "installed methods and envs with their package",
           ""),
        _c("configs", "foresight", "foresight.__main__:list_configs", "shipped config presets per group", ""),
    )
}  # fmt: skip


def main(name: str, argv: Sequence[str] | None = None) -> int:
    """The whole life of one command: help, argument shape, the work, and the error style."""
    command = COMMANDS[name]
    args = list(sys.argv[1:] if argv is None else argv)
    if any(a in HELP_FLAGS for a in args):
        print(help_text(command, [a for a in args if a not in HELP_FLAGS]))
        return 0
    show_cfg = CFG_FLAG in args
    args = [a for a in args if a not in (CFG_FLAG, "job")] if show_cfg else args
    try:
        check_shape(command, args)
        if show_cfg:
            return print_resolved(command, args)
        return int(_load(command.target)(args) or 0)
    except Exception as exc:
        if not is_user_error(exc):
            raise
        print(error_line(command, exc), file=sys.stderr)
        return 2


def print_resolved(command: Command, args: list[str]) -> int:
    """``--cfg``: every value the command would run with, validated, as YAML; nothing is run.

    A command shows one by defining ``resolved(args)`` beside its ``run(args)``."""
    import yaml

    resolve = getattr(importlib.import_module(command.target.partition(":")[0]), "resolved", None)
    if resolve is None:
        raise UsageError(f"{command.name} has no config to show")
    print(yaml.safe_dump(plain(resolve(args)), sort_keys=False), end="")
    return 0


def plain(obj: Any) -> Any:
    """Dataclasses, OmegaConf nodes, tuples and paths as the plain dicts, lists and strings YAML can hold."""
    from omegaconf import DictConfig, ListConfig, OmegaConf

    if isinstance(obj, DictConfig | ListConfig):
        obj = OmegaConf.to_container(obj, resolve=True)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [plain(v) for v in obj]
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    return str(obj)


def check_shape(command: Command, args: Iterable[str]) -> None:
    """Every argument is ``key=value`` (or a word, where the command takes words); flags do not exist."""
    for arg in args:
        if arg.startswith("-"):
            raise UsageError(f"unknown option {arg!r}: options are key=value (see --help)")
        if "=" not in arg and not command.words:
            raise UsageError(f"cannot parse {arg!r}: expected key=value, e.g. {_example_key(command)}")


def is_user_error(exc: BaseException) -> bool:
    if isinstance(exc, UsageError):
        return True
    if isinstance(exc, ImportError):
        # The convention: an env adapter reports a missing simulator with its own ImportError subclass whose
        # message says how to install it (CALVIN's CalvinNotInstalled). A bare ImportError is more likely a broken
        # installation of foresight itself and keeps its traceback.
        return type(exc) not in (ImportError, ModuleNotFoundError)
    return isinstance(exc, _user_error_classes())


def error_line(command: Command, exc: BaseException) -> str:
    message = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    one_line = " ".join(part.strip() for part in message.splitlines() if part.strip())
    return f"foresight {command.name}: error: {one_line}"


def _user_error_classes() -> tuple[type[BaseException], ...]:
    found = []
    for spec in USER_ERRORS:
        module, _, cls = spec.partition(":")
        if module in sys.modules:
            found.append(getattr(sys.modules[module], cls))
    return tuple(found)


def _load(target: str) -> Callable[..., Any]:
    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _example_key(command: Command) -> str:
    if not command.usage:
        return f"nothing: {command.name} takes no arguments"
    return command.usage.split()[0].strip("[]").split("|")[0]


def split_args(args: Iterable[str], *sections: str) -> tuple[dict[str, list[str]], list[str]]:
    """The arguments of each section (``data=...`` and ``data.*=...`` for section ``data``), and the rest in order."""
    found: dict[str, list[str]] = {section: [] for section in sections}
    rest = []
    for arg in args:
        head = arg.lstrip("+").split("=", 1)[0].split(".", 1)[0]
        found.get(head, rest).append(arg)
    return found, rest


def plugin_args(args: Iterable[str], key: str) -> tuple[str | None, dict[str, Any], list[str]]:
    """``key=NAME`` and ``key.<arg>=value`` (a registered plugin and its arguments), and the other arguments."""
    from foresight.config import parse_value

    sections, rest = split_args(args, key)
    name, kwargs = None, {}
    for arg in sections[key]:
        dotted, _, raw = arg.lstrip("+").partition("=")
        if dotted == key:
            name = raw
        else:
            kwargs[dotted.split(".", 1)[1]] = parse_value(dotted, raw)
    return name, kwargs, rest


def parse_options(args: Iterable[str], schema: type[T], where: str) -> T:
    """``key=value`` arguments validated into the dataclass ``schema`` (a typo names the valid keys)."""
    from foresight.config import parse_value, validate

    values = {}
    for arg in args:
        key, _, raw = arg.partition("=")
        values[key.lstrip("+")] = parse_value(key, raw)
    return validate(values, schema, where)


# ---------------------------------------------------------------------------------------------------- help


def help_text(command: Command, args: Sequence[str] = ()) -> str:
    """What ``--help`` prints; ``args`` (the rest of the command line) select which presets' fields are shown."""
    forms = command.invocations()
    lines = [f"usage: {forms[0]} {command.usage}".rstrip()]
    lines += [f"   or: {form} ..." for form in forms[1:]]
    lines += ["", command.summary[0].upper() + command.summary[1:] + "."]
    description = _module_description(command.module)
    if description:
        lines += ["", description]
    choices = _group_choices(args)
    for group in command.groups:
        lines += ["", *_group_help(group, choices.get(group), command)]
    for section in command.sections:
        prefix, _, target = section.partition("=")
        schema = _load(target)
        summary = (schema.__doc__ or schema.__name__).strip().splitlines()[0].rstrip(".:")
        title = f"{prefix}.KEY=VALUE options" if prefix else f"options (KEY=VALUE): {summary}"
        lines += ["", f"{title}:", *format_fields(schema, prefix)]
    if command.examples:
        lines += ["", "examples:", *(f"  {e}" for e in command.examples)]
    return "\n".join(lines)


def top_level_help() -> str:
    width = max(len(name) for name in COMMANDS)
    rows = [f"  {name:<{width}}  {c.summary}" for name, c in COMMANDS.items()]
    return "\n".join(
        [
            "usage: foresight <command> [key=value ...]",
            "",
            "Train, evaluate and compare foresight policies for robot manipulation.",
            "",
            "commands:",
            *rows,
            "",
            "`foresight <command> --help` lists a command's options; `method=NAME --help` a method's.",
        ]
    )


def _module_description(module: str) -> str:
    """The module docstring without its first line (usage), trimmed to its first paragraph of prose."""
    if module == "foresight":
        return ""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return ""
    if spec is None or spec.origin is None:
        return ""
    source = open(spec.origin, encoding="utf-8").read()  # noqa: SIM115 - read without importing heavy modules
    match = re.match(r'\s*(?:#.*\n\s*)*[rRuU]?"""(.*?)"""', source, re.S)
    if not match:
        return ""
    paragraphs = [p.strip() for p in match.group(1).strip().split("\n\n")]
    prose = [p for p in paragraphs if p and not p.startswith(("python ", "``python", "foresight "))]
    return prose[0] if prose else ""


def _group_choices(args: Sequence[str]) -> dict[str, str]:
    choices = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if sep and "." not in key:
            choices[key.lstrip("+")] = value
    return choices


def _group_help(group: str, choice: str | None, command: Command) -> list[str]:
    from foresight.config import ConfigError, available, config_root, load_yaml

    presets = available(group)
    if group == "method":
        from foresight import registry

        plugins = [n for n in registry.METHODS.available() if n not in presets]
        presets += [f"{n} (plugin)" for n in plugins]
    lines = [f"{group}=NAME: {', '.join(presets) or '(none)'}  (or {group}=path/to/file.yaml)"]
    if choice is None and command.name == "train":
        choice = (load_yaml(config_root() / "train.yaml").get("defaults") or {}).get(group)
    if choice is None:
        lines.append(f"  ({group}=NAME --help lists that {group}'s options)")
        return lines
    try:
        schema, values = _selected_schema(group, choice)
    except (ConfigError, KeyError) as exc:
        return [*lines, f"  ({group}={choice}: {exc})"]
    lines.append(f"{group}.KEY=VALUE options of {group}={choice} (value  # where the default comes from):")
    return lines + format_fields(schema, group, values)


def _selected_schema(group: str, choice: str) -> tuple[type, dict[str, Any]]:
    """The dataclass that validates ``group=choice`` and the values its preset sets."""
    from foresight.config import load_group

    values = dict(load_group(group, choice))
    if group == "data":
        from foresight.data.config import DataConfig

        return DataConfig, values
    from foresight import registry

    name = values.pop("name", choice)
    cls = (registry.get_method if group == "method" else registry.get_env)(name)
    return cls.Config, values


def format_fields(schema: type, prefix: str, values: dict[str, Any] | None = None) -> list[str]:
    """One line per leaf field: ``prefix.key = value  # comment`` (``(preset)`` where a preset changed it)."""
    rows = [(f"{prefix}.{k}" if prefix else k, value, note) for k, value, note in describe_fields(schema, values)]
    width = min(max((len(k) + len(show_value(v)) for k, v, _ in rows), default=0) + 3, 64)
    return [
        f"  {f'{k} = {show_value(v)}':<{width}}  # {note}" if note else f"  {k} = {show_value(v)}"
        for k, v, note in rows
    ]


def describe_fields(schema: type, values: dict[str, Any] | None = None) -> list[tuple[str, Any, str]]:
    """``(dotted key, value, note)`` for every leaf of a dataclass: its default and the comment beside it in the
    source (the provenance of the default), or the preset's value from ``values`` marked ``(preset)``."""
    values = values or {}
    comments = field_comments(schema)
    hints = typing.get_type_hints(schema)
    rows: list[tuple[str, Any, str]] = []
    for f in dataclasses.fields(schema):
        if not f.init:
            continue
        default = _default(f)
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            sub = values.get(f.name) if isinstance(values.get(f.name), dict) else {}
            rows += [(f"{f.name}.{k}", v, n) for k, v, n in describe_fields(hint, sub)]
            continue
        note = comments.get(f.name, "")
        if f.name in values and plain(values[f.name]) != plain(default):  # YAML lists vs dataclass tuples
            rows.append((f.name, values[f.name], f"(preset; default {show_value(default)}) {note}".rstrip()))
        else:
            rows.append((f.name, default, note))
    return rows


def field_comments(schema: type) -> dict[str, str]:
    """The comment on the line of each field in the dataclass's source (``x: int = 3  # §5.1``)."""
    try:
        source = inspect.getsource(schema)
    except (OSError, TypeError):
        return {}
    comments = {}
    for line in source.splitlines():
        match = re.match(r"\s+(\w+)\s*:[^#]*#\s*(.+)$", line)
        if match and match.group(1) not in comments:
            comments[match.group(1)] = match.group(2).strip()
    return comments


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
        return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value
    return "(required)"


def show_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        value = list(value)
    return str(value)
