"""A per-trial reset that keeps the task's compiled MuJoCo model instead of recompiling it.

LIBERO resets through robosuite's hard reset (``MujocoEnv.reset`` with ``hard_reset=True``): destroy the
``MjSim`` (and its rendering context), ``_load_model`` (rebuild the scene's Python objects from the BDDL file:
robots, objects, their ``ObjectState`` wrappers, the placement samplers), ``_initialize_sim`` (compile that XML
into a new ``MjModel`` / ``MjData``), then ``_reset_internal`` (a new rendering context, controllers, placements
drawn from NumPy's global generator) and new observables. About 4.5 s on an idle 2-core machine here: ~2.5 s
compiling, ~1.4 s in ``_reset_internal``, ~0.25 s for the observables; ``_load_model`` takes ~15 ms.

A soft reset (``sim.reset()`` alone) would be wrong: LIBERO keeps Python state per object (a stove's burner-on
flag), and a reset writes into the *model*, not only the data (LIBERO's fixture placements into ``body_pos`` /
``body_quat``, robosuite's ``visualize`` into site colours). So :class:`ModelReuse` runs robosuite's own
``reset`` unchanged, Python side included, and replaces only its two expensive calls. ``_destroy_sim`` is
skipped. ``_initialize_sim`` restores the model compiled at the first reset (every array and ``opt``, copied in
place), resets the data (``mj_resetData``, what a fresh ``MjData`` starts as) and calls ``forward`` as often as a
fresh simulator gets it: once more for the rendering context a fresh sim builds, because MuJoCo warm-starts each
solve from the last. That is the state a fresh compile gives, so every later step is the same. It does so only
when the XML that ``_load_model`` just built is the one compiled, byte for byte; otherwise it compiles, as
robosuite would. The rendering context is kept: it holds the meshes and textures of that same model.
tests/envs/libero/test_libero_fast_reset.py checks model, data, observations and success against the hard reset,
bitwise, over consecutive trials on the real simulator.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

RESETS = ("reuse_model", "hard")
"""``env.reset``: keep the compiled model across the trials of a task (the default), or robosuite's hard reset."""


def mujoco_arrays(struct: Any) -> dict[str, np.ndarray]:
    """Every array of a ``mujoco.MjModel`` or ``MjData`` (views into its buffer), by name."""
    arrays = {}
    for name in dir(struct):
        if name.startswith("_"):
            continue
        value = getattr(struct, name)
        if isinstance(value, np.ndarray) and value.size:
            arrays[name] = value
    return arrays


def _option_fields(option: Any) -> dict[str, Any]:
    """The fields of an ``mjOption`` (timestep, gravity, solver settings...), copied."""
    fields = {}
    for name in dir(option):
        if not name.startswith("_"):
            value = getattr(option, name)
            if isinstance(value, (np.ndarray, int, float)):
                fields[name] = np.copy(value) if isinstance(value, np.ndarray) else value
    return fields


class ModelReuse:
    """The model compiled at a simulator's first reset, restored in place at the next ones (same XML only)."""

    def __init__(self) -> None:
        self._xml: str | None = None
        self._processor: Any = None
        self._arrays: dict[str, np.ndarray] = {}
        self._option: dict[str, Any] = {}
        self.compiles = 0
        self.reuses = 0

    @contextlib.contextmanager
    def applied(self, robosuite_env: Any) -> Iterator[None]:
        """While active, robosuite's ``reset()`` on ``robosuite_env`` reuses the compiled model when it can."""
        env = robosuite_env
        destroy, initialize = env._destroy_sim, env._initialize_sim

        def initialize_sim(xml_string: str | None = None) -> None:
            xml = xml_string if xml_string else env.model.get_xml()
            if env.sim is not None and xml == self._xml and env._xml_processor is self._processor:
                self._restore(env.sim)
                env.sim.forward()  # as _initialize_sim does after compiling
                env.initialize_time(env.control_freq)
                if env.has_offscreen_renderer:
                    # _reset_internal builds a rendering context for a new sim, and MjRenderContext.__init__ calls
                    # forward(): MuJoCo warm-starts each solve from the last, so that forward shows in every later
                    # step (last bits of qacc, then qpos). The kept context does not call it; do it here.
                    env.sim.forward()
                self.reuses += 1
                return
            destroy()
            initialize(xml_string)
            self._capture(env.sim, xml, env._xml_processor)
            self.compiles += 1

        env._destroy_sim = lambda: None  # decided in initialize_sim, once the new XML is known
        env._initialize_sim = initialize_sim
        try:
            yield
        finally:
            del env._destroy_sim, env._initialize_sim  # the class's methods again (close() must really destroy)

    def _capture(self, sim: Any, xml: str, processor: Any) -> None:
        model = sim.model._model
        self._xml, self._processor = xml, processor
        self._arrays = {name: array.copy() for name, array in mujoco_arrays(model).items()}
        self._option = _option_fields(model.opt)

    def _restore(self, sim: Any) -> None:
        import mujoco

        model = sim.model._model
        for name, array in mujoco_arrays(model).items():
            np.copyto(array, self._arrays[name])
        for name, value in self._option.items():
            current = getattr(model.opt, name)
            if isinstance(current, np.ndarray):
                np.copyto(current, value)
            else:
                setattr(model.opt, name, value)
        mujoco.mj_resetData(model, sim.data._data)
