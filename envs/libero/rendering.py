"""Choosing MuJoCo's OpenGL backend before robosuite is imported.

robosuite reads ``MUJOCO_GL`` once, at import, and PyOpenGL fixes its platform at its first import, so a
backend that fails cannot be swapped for another inside the same process. Each candidate is therefore probed
in a short subprocess, and the first that renders is exported for this process and its children.
"""

from __future__ import annotations

import os
import subprocess
import sys

CANDIDATES = ("egl", "osmesa")

_PROBE = "import mujoco; c = mujoco.GLContext(16, 16); c.make_current(); c.free()"

FIX = (
    "Install a headless OpenGL library: `apt-get install libegl1` (EGL: NVIDIA driver or Mesa) or "
    "`apt-get install libosmesa6` (OSMesa, software), or set MUJOCO_GL yourself."
)


class RenderingUnavailable(RuntimeError):
    """No headless OpenGL backend works on this machine."""


def probe(backend: str, timeout: float = 60.0) -> str | None:
    """``None`` if ``backend`` can create a MuJoCo GL context here, else the reason it cannot."""
    env = {**os.environ, "MUJOCO_GL": backend}
    env.pop("PYOPENGL_PLATFORM", None)  # let mujoco pick the platform matching the backend
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout:.0f} s"
    if done.returncode == 0:
        return None
    lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {done.returncode}"


def select_mujoco_gl(candidates: tuple[str, ...] = CANDIDATES) -> str:
    """Return the backend to render with, exporting it as ``MUJOCO_GL``; a user's own setting always wins."""
    chosen = os.environ.get("MUJOCO_GL")
    if chosen:
        return chosen
    failures = {}
    for backend in candidates:
        reason = probe(backend)
        if reason is None:
            os.environ["MUJOCO_GL"] = backend
            if backend in ("egl", "osmesa"):
                os.environ.setdefault("PYOPENGL_PLATFORM", backend)
            return backend
        failures[backend] = reason
    detail = "; ".join(f"{name}: {reason}" for name, reason in failures.items())
    raise RenderingUnavailable(f"no headless OpenGL backend renders on this machine ({detail}). {FIX}")
