"""ci/min-versions.txt pins exactly the floors pyproject.toml declares, so the minimum-versions check tests them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")

ROOT = Path(__file__).resolve().parents[2]


def _floors() -> dict[str, str]:
    """Name -> the version of its ``>=`` specifier, for every core dependency of pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    floors = {}
    for line in project["dependencies"]:
        requirement = Requirement(line)
        lower = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        assert len(lower) == 1, f"pyproject.toml: {line!r} needs exactly one '>=' floor for the minimum-versions check"
        floors[canonicalize_name(requirement.name)] = lower[0]
    return floors


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "ci" / "min-versions.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    return pins


def test_min_versions_pins_every_floor_of_pyproject():
    floors, pins = _floors(), _pins()
    assert "omegaconf" in floors and floors["omegaconf"] == "2.4"  # 2.3 rejects CLaD's Literal annotations
    missing = {name: f"{name}=={v}" for name, v in floors.items() if name not in pins}
    assert not missing, f"add to ci/min-versions.txt: {sorted(missing.values())}"
    extra = sorted(set(pins) - set(floors))
    assert not extra, f"ci/min-versions.txt pins {extra}, which are not core dependencies in pyproject.toml"
    for name, floor in floors.items():
        assert Version(pins[name]) == Version(floor), f"{name}: pyproject.toml floor {floor}, pinned {pins[name]}"
