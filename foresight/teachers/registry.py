"""Teacher registry: name -> :class:`~foresight.teachers.base.Teacher` class, as for encoders.

Built-in teachers register themselves when their module is imported; :func:`build_teacher` imports every module
of this package once, so a module whose optional dependency is missing (CoTracker) hides nothing else. Outside
packages declare teachers in the ``foresight.teachers`` entry-point group.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from typing import Any, TypeVar

from foresight.registry import Registry, RegistryError
from foresight.teachers.base import Teacher

TEACHER_GROUP = "foresight.teachers"
T = TypeVar("T", bound=type[Teacher])

TEACHERS = Registry(TEACHER_GROUP, "teacher")
_builtin_import_errors: dict[str, str] = {}
_builtins_loaded = False


def register_teacher(name: str) -> Callable[[T], T]:
    """Class decorator: make a :class:`Teacher` subclass buildable as ``teacher=<name>``."""

    def decorator(cls: T) -> T:
        if not (isinstance(cls, type) and issubclass(cls, Teacher)):
            raise TypeError(f"@register_teacher({name!r}) needs a subclass of foresight.teachers.Teacher, got {cls}")
        return TEACHERS.register(name)(cls)

    return decorator


def _load_builtins() -> None:
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


def teacher_class(name: str) -> type[Teacher]:
    """The class registered as ``name`` (built-in or from an installed plugin)."""
    _load_builtins()
    try:
        return TEACHERS.get(name)
    except RegistryError as exc:
        if _builtin_import_errors:
            failures = "; ".join(f"{mod}: {err}" for mod, err in sorted(_builtin_import_errors.items()))
            raise RegistryError(f"{exc} (some built-in teacher modules failed to import: {failures})") from None
        raise


def build_teacher(name: str, **kwargs: Any) -> Teacher:
    """Instantiate the teacher registered as ``name`` with ``kwargs`` (model path, resolution, grid, ...)."""
    cls = teacher_class(name)
    try:
        inspect.signature(cls).bind(**kwargs)
    except TypeError as exc:
        where = f"{cls.__module__}.{cls.__qualname__}{inspect.signature(cls)}"
        raise TypeError(f"teacher {name!r} ({where}): {exc}") from None
    teacher = cls(**kwargs)
    if not isinstance(teacher, Teacher):
        raise TypeError(f"teacher {name!r} built a {type(teacher).__name__}, not a foresight.teachers.Teacher")
    return teacher.eval().requires_grad_(False)


def available_teachers() -> list[str]:
    """Names that :func:`build_teacher` accepts, sorted."""
    _load_builtins()
    return sorted(TEACHERS.available())
