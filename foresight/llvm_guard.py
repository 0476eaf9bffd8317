"""Keeping triton's LLVM apart from the one a software OpenGL driver brings into the process.

Why this exists: rendering on a machine without an NVIDIA driver goes through Mesa's llvmpipe, whose driver
(``swrast_dri.so``) links the system's ``libLLVM-15``. Mesa's loader opens that driver with ``RTLD_GLOBAL``
(EGL through ``libEGL_mesa``; OSMesa because PyOpenGL opens ``libOSMesa`` with ``RTLD_GLOBAL``), so after the
first software GL context, the process's global symbol scope holds LLVM 15. triton's extension
``libtriton.so`` carries its own, newer LLVM with default visibility. The dynamic linker resolves a newly
opened library's symbols in the global scope before the library itself, so about 12,000 of libtriton's LLVM
references bind to LLVM 15 and its static constructors crash (``_GLOBAL__sub_I_PassBuilder.cpp`` frees a
pointer of the wrong layout): a segmentation fault inside ``import triton``, which ``torch._dynamo`` and
therefore diffusers import. MuJoCo (LIBERO) and pybullet's EGL plugin (CALVIN) both hit it.

The fix: just before Python loads ``triton._C.libtriton`` in a process whose global scope already holds an
LLVM, open it ourselves with ``RTLD_DEEPBIND``, which makes it resolve symbols in itself first; Python's
import then reuses that handle. Loaded before the GL driver, nothing is needed: Python opens extensions with
``RTLD_LOCAL``, so the driver's LLVM never sees triton's. :func:`install` hooks the import for the whole
process; ``import foresight`` calls it, so any order of rendering and importing works once foresight is
imported.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from importlib.machinery import ModuleSpec, PathFinder
from types import ModuleType

LIBTRITON = "triton._C.libtriton"
LLVM_PROBE = "LLVMContextCreate"
"""A symbol of LLVM's C API that every libLLVM exports and libtriton does not: its presence in the global
scope means some library opened with ``RTLD_GLOBAL`` brought an LLVM."""

ADVICE = (
    "Import torch._dynamo (any `import diffusers` or `import foresight.methods` does) before creating the "
    "first renderer, or run the simulator in a separate process (the evaluation runner's workers do)."
)


class TritonLLVMClash(ImportError):
    """triton cannot be loaded safely next to the LLVM already in this process."""


def foreign_llvm_loaded() -> bool:
    """Whether a library opened with ``RTLD_GLOBAL`` (Mesa's GL driver) has put an LLVM in the global scope."""
    import ctypes  # here, not at module level: `import foresight` stays as light as it was

    return hasattr(ctypes.CDLL(None), LLVM_PROBE)


def open_libtriton(path: str) -> bool:
    """Open ``path`` (libtriton) so that it binds to its own LLVM; True if ``RTLD_DEEPBIND`` was needed.

    Without a foreign LLVM in the global scope the ordinary import is safe and nothing is done. Where the
    platform lacks ``RTLD_DEEPBIND`` or refuses it, the crash cannot be avoided in this process, so this
    raises before it happens. It also warns, because torch catches an ImportError from ``import triton`` and
    quietly carries on without triton.
    """
    if not foreign_llvm_loaded():
        return False
    import ctypes

    deepbind = getattr(os, "RTLD_DEEPBIND", None)
    clash = (
        "triton cannot be loaded in this process: a software OpenGL driver (Mesa llvmpipe, used by MuJoCo or "
        "pybullet rendering through EGL or OSMesa) has already loaded its own LLVM, and triton's would bind to "
        f"it and crash. {ADVICE}"
    )
    if deepbind is None:
        error = TritonLLVMClash(f"{clash} (this platform has no RTLD_DEEPBIND)")
    else:
        try:
            ctypes.CDLL(path, mode=os.RTLD_NOW | os.RTLD_LOCAL | deepbind)
            return True
        except OSError as exc:
            error = TritonLLVMClash(f"{clash} (opening {path} with RTLD_DEEPBIND failed: {exc})")
    warnings.warn(str(error), RuntimeWarning, stacklevel=2)
    raise error


class LibtritonFinder:
    """Sees the import of ``triton._C.libtriton`` first and opens the library safely before Python does.

    A meta path finder by protocol (``find_spec``): the module is found by the ordinary path finder.
    """

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != LIBTRITON:
            return None
        spec = PathFinder.find_spec(fullname, path)
        if spec is not None and spec.origin:
            open_libtriton(spec.origin)
        return spec


def install() -> None:
    """Guard every later import of triton in this process (idempotent; a no-op once triton is loaded)."""
    if LIBTRITON in sys.modules or any(isinstance(finder, LibtritonFinder) for finder in sys.meta_path):
        return
    sys.meta_path.insert(0, LibtritonFinder())
