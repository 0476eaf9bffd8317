"""Turning schema violations into messages that name the field and the reason.

jsonschema reports ``required`` and ``additionalProperties`` failures at the parent object; a user fixing a
results file needs the missing or unknown field itself, and the list of valid names, so those are rewritten here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

Issue = tuple[str, str]
"""(field path such as ``protocol.seeds[0]``, reason)."""


class LeaderboardValidationError(ValueError):
    """A results or reported-numbers document broke the schema or a consistency rule.

    ``issues`` holds every ``(path, reason)`` found; the message lists them, prefixed by ``source`` (a file
    name) when known.
    """

    def __init__(self, issues: Sequence[Issue], source: str | None = None) -> None:
        if not issues:
            raise ValueError("a validation error needs at least one issue")
        self.issues = list(issues)
        self.source = source
        where = f"{source}: " if source else ""
        items = [f"{path}: {why}" if path else why for path, why in self.issues]
        if len(items) == 1:
            super().__init__(f"{where}{items[0]}")
        else:
            super().__init__("\n".join([f"{where}{len(items)} problem(s):", *(f"  {item}" for item in items)]))

    @property
    def path(self) -> str:
        """Field path of the first issue."""
        return self.issues[0][0]


class ResultValidationError(LeaderboardValidationError):
    """A results file (one evaluation) is invalid."""


class ReportedValidationError(LeaderboardValidationError):
    """``leaderboard/reported.yaml`` (the papers' numbers) is invalid."""


def format_path(parts: Iterable[str | int]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A JSON Schema shipped as package data next to this module."""
    text = resources.files("foresight.leaderboard").joinpath(name).read_text(encoding="utf-8")
    schema = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def _issues_for(error: jsonschema.ValidationError) -> list[Issue]:
    path = list(error.absolute_path)
    if error.validator == "required":
        missing = re.match(r"'(.+)' is a required property", error.message)
        name = missing.group(1) if missing else "?"
        return [(format_path([*path, name]), "required field is missing")]
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        return [(format_path([*path, key]), f"unknown field (valid fields: {', '.join(allowed)})") for key in unknown]
    if error.validator == "enum":
        options = ", ".join(repr(o) for o in error.validator_value)
        return [(format_path(path), f"{error.instance!r} is not a valid value (valid: {options})")]
    if error.validator == "const":
        return [(format_path(path), f"{error.instance!r} is not supported (expected {error.validator_value!r})")]
    if error.validator in ("anyOf", "oneOf") and error.context:
        # A branch that failed deeper inside the value matched its shape best: report its specific reason.
        deepest = max(error.context, key=lambda e: len(e.absolute_path))
        if len(deepest.absolute_path) > len(error.absolute_path):
            return _issues_for(deepest)
        reasons = "; ".join(dict.fromkeys(e.message for e in error.context))
        return [(format_path(path), f"matches no allowed form ({reasons})")]
    return [(format_path(path), error.message)]


def schema_issues(instance: Any, schema_name: str) -> list[Issue]:
    """Every violation of a packaged schema, sorted by field path for stable messages."""
    validator = jsonschema.Draft202012Validator(load_schema(schema_name))
    issues: list[Issue] = []
    for error in validator.iter_errors(instance):
        issues.extend(_issues_for(error))
    return sorted(set(issues))
