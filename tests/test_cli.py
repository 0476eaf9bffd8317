"""The shared command line: --help everywhere, one error style, --cfg, and every documented command resolves."""

from __future__ import annotations

import dataclasses
import importlib
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from foresight import cli, registry
from foresight.__main__ import main as foresight_main

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), *sorted((ROOT / "examples").rglob("README.md"))]


@pytest.mark.parametrize("name", list(cli.COMMANDS))
def test_every_command_answers_help(name, capsys):
    assert cli.main(name, ["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: foresight {name}")
    assert "Traceback" not in out
    command = cli.COMMANDS[name]
    assert f"python -m {command.module}" in out
    for example in command.examples:
        assert example in out


@pytest.mark.parametrize("name", list(cli.COMMANDS))
@pytest.mark.parametrize("bad", ["--no-such-option", "not-a-key-value"])
def test_every_command_refuses_a_bad_argument_in_one_line(name, bad, capsys):
    if bad == "not-a-key-value" and cli.COMMANDS[name].words:
        bad = "frobnicate"  # a word is a sub-command here: an unknown one
    assert cli.main(name, [bad]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"foresight {name}: error: ")
    assert captured.out == ""


MODULES = sorted({c.module for c in cli.COMMANDS.values()} | {"foresight.methods.clad.params"})


@pytest.mark.slow
@pytest.mark.parametrize("module", MODULES)
def test_python_m_entry_points(module):
    """``python -m <module>`` reaches the same layer: help exits 0, a bad argument exits 2 with one line."""
    head = ["list"] if module == "foresight" else []
    ok = subprocess.run([sys.executable, "-m", module, *head, "--help"], capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert ok.stdout.startswith("usage: foresight ") and "Traceback" not in ok.stderr
    bad = subprocess.run([sys.executable, "-m", module, *head, "--bogus"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1 and "error: unknown option '--bogus'" in bad.stderr


def test_top_level_command_dispatches_and_lists(capsys):
    assert foresight_main(["data", "inspect", "--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: foresight data inspect")
    assert foresight_main(["--help"]) == 0
    listing = capsys.readouterr().out
    assert all(f"  {name}" in listing for name in cli.COMMANDS)
    assert foresight_main([]) == 2
    assert foresight_main(["tarin"]) == 2
    assert "unknown command 'tarin'" in capsys.readouterr().err
    assert foresight_main(["data"]) == 2
    assert "data inspect, data generate, data cache" in capsys.readouterr().err


def test_method_help_shows_the_method_options_with_provenance(capsys):
    assert cli.main("train", ["method=clad", "--help"]) == 0
    out = capsys.readouterr().out
    assert "options of method=clad" in out
    line = next(line for line in out.splitlines() if line.strip().startswith("method.dynamics.hidden_dim ="))
    from foresight.methods.clad.config import DynamicsConfig

    default = DynamicsConfig().hidden_dim
    assert f"= {default}" in line
    assert cli.field_comments(DynamicsConfig)["hidden_dim"] in line


@dataclasses.dataclass
class _PluginConfig:
    width: int = 12  # from the plugin's paper, table 3
    mode: str = "fast"


def test_a_plugin_method_gets_help_from_its_config(capsys, monkeypatch):
    class PluginMethod:
        Config = _PluginConfig

    monkeypatch.setattr(registry.METHODS, "_classes", dict(registry.METHODS._classes))
    registry.METHODS.register("helpdemo")(PluginMethod)
    assert cli.main("train", ["method=helpdemo", "--help"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"method\.width = 12\s+# from the plugin's paper, table 3", out)
    assert "method.mode = fast" in out


def test_help_marks_only_values_a_preset_changes():
    """A preset value equal to the default (a YAML list against a dataclass tuple) is not called a change."""

    @dataclasses.dataclass
    class Views:
        views: tuple[str, ...] = ("primary", "wrist")  # roles
        width: int = 8

    rows = {key: note for key, _, note in cli.describe_fields(Views, {"views": ["primary", "wrist"], "width": 16})}
    assert rows["views"] == "roles"
    assert rows["width"] == "(preset; default 8)"


def test_cfg_prints_the_resolved_config_and_runs_nothing(capsys, tmp_path):
    run_dir = tmp_path / "never"
    assert cli.main("train", ["method=dp", "train.steps=7", f"run_dir={run_dir}", "--cfg"]) == 0
    resolved = yaml.safe_load(capsys.readouterr().out)
    from foresight.methods.dp.config import DiffusionPolicyConfig

    assert resolved["train"]["steps"] == 7
    assert resolved["method"]["name"] == "dp"
    assert resolved["method"]["hidden_dim"] == DiffusionPolicyConfig().hidden_dim
    assert resolved["run_dir"] == str(run_dir)
    assert not run_dir.exists()


def test_a_config_error_is_one_line_with_the_valid_keys(capsys):
    assert cli.main("params", ["method=clad", "method.dynamics.hiden_dim=3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("foresight params: error: unknown key 'hiden_dim'") and "Did you mean 'hidden_dim'" in err
    assert len(err.splitlines()) == 1


def test_a_bug_keeps_its_traceback(monkeypatch):
    """Only the library's input errors become one line: anything else is a bug and must look like one."""
    command = dataclasses.replace(cli.COMMANDS["list"], target=f"{__name__}:_broken")
    monkeypatch.setitem(cli.COMMANDS, "list", command)
    with pytest.raises(ZeroDivisionError):
        cli.main("list", [])


def _broken(args: list[str]) -> int:
    return 1 // 0


def documented_commands() -> list[tuple[str, str]]:
    """Every ``foresight ...``, ``python -m foresight...`` and ``accelerate launch -m foresight...`` line in the
    docs' code blocks, continuation lines joined and trailing comments dropped: ``(where, command)``."""
    found = []
    for path in DOCS:
        in_block = False
        pending = ""
        for number, raw in enumerate(path.read_text().splitlines(), 1):
            if raw.lstrip().startswith("```"):
                in_block = not in_block
                continue
            if not in_block:
                continue
            line = pending + re.sub(r"\s+#.*$", "", raw).strip()
            if line.endswith("\\"):
                pending = line[:-1] + " "
                continue
            pending = ""
            if re.match(r"(foresight |python -m foresight|accelerate launch .*-m foresight)", line):
                found.append((f"{path.relative_to(ROOT)}:{number}", line))
    return found


def to_argv(command: str) -> tuple[str, list[str]]:
    """The module run and its arguments: ``accelerate launch [options] -m m args`` runs ``m args``."""
    words = shlex.split(command)
    if words[0] == "foresight":
        return "foresight", words[1:]
    start = words.index("-m")
    return words[start + 1], words[start + 2 :]


DOCUMENTED = documented_commands()


def test_the_docs_document_commands():
    assert len(DOCUMENTED) > 30
    assert any(cmd.startswith("foresight train") for _, cmd in DOCUMENTED)


@pytest.mark.parametrize(("where", "command"), DOCUMENTED, ids=[w for w, _ in DOCUMENTED])
def test_every_documented_command_resolves(where, command, capsys):
    """Each documented command parses and validates (``--cfg``: the resolved config, nothing run)."""
    module, args = to_argv(command)
    if "method=bc" in args and "bc" not in registry.METHODS.available():
        pytest.skip("the example plugin is not installed here (tests/test_plugin.py installs and runs it)")
    if module == "foresight":
        names = [n for n in cli.COMMANDS if args[: len(n.split())] == n.split()]
        if not names:  # `foresight --help`
            assert foresight_main(args) == 0
            return
        name = max(names, key=len)
        args = args[len(name.split()) :]
    else:
        name = next((n for n, c in cli.COMMANDS.items() if c.module == module), None)
        if name is None:  # a module with its own entry (foresight.methods.clad.params): its main is the test
            assert importlib.import_module(module).main([*args, "--help"]) == 0
            return
    has_config = hasattr(importlib.import_module(cli.COMMANDS[name].target.partition(":")[0]), "resolved")
    status = cli.main(name, [*args, "--cfg" if has_config else "--help"])
    assert status == 0, f"{where}: {command}\n{capsys.readouterr().err}"
