"""Encoder registry: name -> :class:`foresight.interfaces.Encoder` class.

Built-in encoders live in the modules of this package and register themselves with :func:`register_encoder`
when imported; :func:`build_encoder` imports every module of the package on first use, so a new encoder module
dropped into ``foresight/encoders/`` needs no edit here. Out-of-tree packages declare encoders in the
``foresight.encoders`` entry-point group, exactly as methods and environments are declared.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from typing import Any, TypeVar

from foresight.interfaces import Encoder
from foresight.registry import Registry, RegistryError

ENCODER_GROUP = "foresight.encoders"

E = TypeVar("E", bound=type[Encoder])

ENCODERS = Registry(ENCODER_GROUP, "encoder")
_builtin_import_errors: dict[str, str] = {}
_builtins_loaded = False


def register_encoder(name: str) -> Callable[[E], E]:
    """Class decorator: make an :class:`Encoder` subclass buildable as ``encoder=<name>``."""

    def decorator(cls: E) -> E:
        if not (isinstance(cls, type) and issubclass(cls, Encoder)):
            raise TypeError(f"@register_encoder({name!r}) needs a subclass of foresight.interfaces.Encoder, got {cls}")
        return ENCODERS.register(name)(cls)

    return decorator


def _load_builtins() -> None:
    """Import every module of this package once so their decorators run.

    A module that fails to import (a missing optional dependency) must not hide the others; its error is kept
    and reported only if the encoder asked for turns out to be missing.
    """
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True
    package = importlib.import_module(__package__)
    for module in pkgutil.iter_modules(package.__path__):
        qualified = f"{__package__}.{module.name}"
        try:
            importlib.import_module(qualified)
        except Exception as exc:
            _builtin_import_errors[qualified] = f"{type(exc).__name__}: {exc}"


def encoder_class(name: str) -> type[Encoder]:
    """The class registered as ``name`` (built-in or from an installed plugin)."""
    _load_builtins()
    try:
        return ENCODERS.get(name)
    except RegistryError as exc:
        if _builtin_import_errors:
            failures = "; ".join(f"{mod}: {err}" for mod, err in sorted(_builtin_import_errors.items()))
            raise RegistryError(f"{exc} (some built-in encoder modules failed to import: {failures})") from None
        raise


def build_encoder(name: str, **kwargs: Any) -> Encoder:
    """Instantiate the encoder registered as ``name`` with ``kwargs`` (checkpoint path, variant, ...)."""
    cls = encoder_class(name)
    try:
        inspect.signature(cls).bind(**kwargs)
    except TypeError as exc:
        raise TypeError(
            f"encoder {name!r} ({cls.__module__}.{cls.__qualname__}{inspect.signature(cls)}): {exc}"
        ) from None
    encoder = cls(**kwargs)
    if not isinstance(encoder, Encoder):
        raise TypeError(f"encoder {name!r} built a {type(encoder).__name__}, not a foresight.interfaces.Encoder")
    return encoder


def available_encoders() -> list[str]:
    """Names that :func:`build_encoder` accepts, sorted."""
    _load_builtins()
    return sorted(ENCODERS.available())
