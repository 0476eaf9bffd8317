"""The CALVIN install commands of docs/envs/calvin.md, resolved by pip as a user would run them (``--dry-run``).

They must not change what foresight itself needs: every hydra-core release declares ``omegaconf<2.4``, and a
plain install would downgrade omegaconf to 2.3, which rejects the ``Literal`` annotations of CLaD's config. Needs
the package index (skipped without it) and takes about a minute, hence slow.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.version import Version

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "envs" / "calvin.md"


def _install_lines() -> list[str]:
    """The ``pip install`` lines of the doc's "Installing calvin_env" block, except the clone's own install."""
    section = DOC.read_text().split("## Installing calvin_env", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    lines = [line.split("#", 1)[0].strip() for line in block.splitlines()]
    return [line for line in lines if line.startswith("pip install") and "/opt/calvin_env" not in line]


def _dry_run(args: list[str], tmp_path: Path) -> dict[str, str]:
    """Name -> version of what ``pip install <args>`` would install into this environment."""
    report = tmp_path / "report.json"
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report", str(report), *args]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        if re.search(r"(?i)connection|network|no matching distribution|could not find a version", done.stderr):
            pytest.skip(f"the package index is not reachable: {done.stderr.strip().splitlines()[-1]}")
        raise AssertionError(f"{shlex.join(args)} does not resolve:\n{done.stderr}")
    return {i["metadata"]["name"].lower(): i["metadata"]["version"] for i in json.loads(report.read_text())["install"]}


def _downgrades(planned: dict[str, str]) -> dict[str, tuple[str, str]]:
    out = {}
    for name, version in planned.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        if Version(version) < Version(installed):
            out[name] = (installed, version)
    return out


def test_the_documented_calvin_install_downgrades_nothing(tmp_path: Path) -> None:
    lines = _install_lines()
    assert lines[0] == 'pip install -e ".[calvin]"' and any("hydra-core" in line for line in lines)
    assert Version(metadata.version("omegaconf")) >= Version("2.4")
    for line in lines:
        planned = _dry_run(shlex.split(line)[2:], tmp_path)
        assert "omegaconf" not in planned, f"{line!r} would install omegaconf {planned['omegaconf']}"
        assert not _downgrades(planned), f"{line!r} would downgrade {_downgrades(planned)}"


def test_hydra_with_its_dependencies_would_downgrade_omegaconf(tmp_path: Path) -> None:
    """Why the doc installs hydra with --no-deps: the check above can fail."""
    planned = _dry_run(["hydra-core==1.3.8"], tmp_path)
    assert Version(planned["omegaconf"]) < Version("2.4")
    assert "omegaconf" in _downgrades(planned)
