"""Rendering LIBERO's cameras only at the steps whose images are read, without changing anything else.

robosuite renders a camera inside its observable's sensor, which ``env.step`` samples during the physics
substeps of every control step, so a plain ``OffScreenRenderEnv`` pays for two renders per step (about 90 % of a
step here, docs/evaluation.md). Turning the observable off is not a way out: ``Observable.set_enabled`` resets its
sampling clock, so re-enabling it for a query step would return the image of another substep, or none. The
sensor function itself is therefore wrapped: while the gate is closed it returns a blank frame instead of calling
``sim.render``, and robosuite's sampling bookkeeping (when, which substep, the observation cache) runs exactly as
before. A step taken with the gate open therefore yields the very image a render-every-step simulator returns, and
physics never sees a difference: rendering only reads the MuJoCo state (tests/envs/libero/test_libero_lazy_render.py
checks both, bitwise, on the real simulator).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np


class CameraGate:
    """Switches the camera observables of one robosuite env between rendering and returning a blank frame.

    robosuite's hard reset (LIBERO's default) builds new sensors on every ``reset()``, so :meth:`install` must run
    after each reset; it is cheap and idempotent.
    """

    def __init__(self, cameras: Iterable[str], size: int) -> None:
        self.observables = tuple(f"{camera}_image" for camera in cameras)
        self.blank = np.zeros((size, size, 3), dtype=np.uint8)
        self.open = True

    def install(self, robosuite_env: Any) -> None:
        from robosuite.utils.observables import sensor

        for name in self.observables:
            original = robosuite_env._observables[name]._sensor  # robosuite keeps no public getter for it
            if getattr(original, "_foresight_gate", None) is self:
                continue

            @sensor(modality=original.__modality__)
            def gated(obs_cache: dict[str, Any], _render: Any = original) -> np.ndarray:
                return _render(obs_cache) if self.open else self.blank

            gated._foresight_gate = self  # type: ignore[attr-defined]
            was_open, self.open = self.open, False  # set_sensor probes the sensor once; a blank frame will do
            try:
                robosuite_env.modify_observable(observable_name=name, attribute="sensor", modifier=gated)
            finally:
                self.open = was_open
