"""Teachers: frozen models whose outputs become training targets (depth, motion, SAM / SAM 2, DINOv2).

``build_teacher("depth_anything", path=...)``; cached per dataset by :mod:`foresight.teachers.cache`; declared by
methods as :class:`foresight.types.TeacherSpec` targets. See docs/teachers.md.
"""

from foresight.teachers.base import Teacher, TeacherError, make_teacher_id, teacher_outputs
from foresight.teachers.registry import available_teachers, build_teacher, register_teacher, teacher_class

__all__ = [
    "Teacher",
    "TeacherError",
    "available_teachers",
    "build_teacher",
    "make_teacher_id",
    "register_teacher",
    "teacher_class",
    "teacher_outputs",
]
