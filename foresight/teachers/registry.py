"""Teacher registry: name -> :class:`~foresight.teachers.base.Teacher` class, as for encoders.

Built-in teachers register themselves when their module is imported; the registry imports every module of this
package once (:class:`foresight.registry.PackageRegistry`), so a module whose optional dependency is missing
(CoTracker) hides nothing else. Outside packages declare teachers in the ``foresight.teachers`` entry-point group.
"""

from __future__ import annotations

from typing import Any

from foresight.registry import PackageRegistry
from foresight.teachers.base import Teacher

TEACHER_GROUP = "foresight.teachers"

TEACHERS = PackageRegistry(TEACHER_GROUP, "teacher", __package__, Teacher)

register_teacher = TEACHERS.register
"""Class decorator: make a :class:`Teacher` subclass buildable as ``teacher=<name>``."""

teacher_class = TEACHERS.get
"""The class registered as ``name`` (built-in or from an installed plugin)."""

available_teachers = TEACHERS.names
"""Names that :func:`build_teacher` accepts, sorted."""


def build_teacher(name: str, **kwargs: Any) -> Teacher:
    """The teacher registered as ``name``, built with ``kwargs`` (model path, resolution, grid, ...), frozen."""
    return TEACHERS.build(name, **kwargs).eval().requires_grad_(False)
