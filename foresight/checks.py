"""Range checks for numeric config fields, called from the config dataclasses' ``__post_init__``.

Each check raises ``ValueError`` with one line that names the field as the user types it (``train.lr``), the
value given and the range expected; :func:`foresight.config.validate` turns that into a ``ConfigError``.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from typing import Any


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def at_least(where: str, value: Any, low: float, *, optional: bool = False) -> None:
    """``value >= low`` (``None`` passes when ``optional``); NaN and infinities never pass."""
    if value is None and optional:
        return
    if not _is_number(value) or not math.isfinite(value) or value < low:
        none = " (or null)" if optional else ""
        raise ValueError(f"{where}={value!r}: expected a number >= {low:g}{none}")


def positive(where: str, value: Any, *, optional: bool = False) -> None:
    """``value > 0`` (``None`` passes when ``optional``); NaN and infinities never pass."""
    if value is None and optional:
        return
    if not _is_number(value) or not math.isfinite(value) or value <= 0:
        none = " (or null)" if optional else ""
        raise ValueError(f"{where}={value!r}: expected a number > 0{none}")


def in_range(where: str, value: Any, low: float, high: float, *, high_open: bool = True) -> None:
    """``low <= value < high`` (or ``<= high`` when not ``high_open``)."""
    upper_ok = value < high if high_open else value <= high
    if not _is_number(value) or not math.isfinite(value) or value < low or not upper_ok:
        bracket = ")" if high_open else "]"
        raise ValueError(f"{where}={value!r}: expected a number in [{low:g}, {high:g}{bracket}")


def one_of(where: str, value: Any, choices: tuple[Any, ...]) -> None:
    """``value`` is one of ``choices``; the message lists them (for ``Literal`` fields set from Python)."""
    if value not in choices:
        raise ValueError(f"{where}={value!r}: expected one of {', '.join(repr(c) for c in choices)}")


def literal_fields(obj: Any, prefix: str) -> None:
    """Every ``Literal[...]`` field of the dataclass ``obj`` holds one of its choices.

    The command line checks these already (:func:`foresight.config.validate`); this catches the Python API, where
    ``DynamicsConfig(semantic_query="Current")`` would otherwise take an ``else`` branch silently.
    """
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        hint = hints.get(f.name)
        if typing.get_origin(hint) is typing.Literal:
            one_of(f"{prefix}.{f.name}", getattr(obj, f.name), typing.get_args(hint))
