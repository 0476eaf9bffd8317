"""Evaluation under a benchmark protocol: ``python -m foresight.eval checkpoint=... env=libero_10``.

Shared by every environment adapter (LIBERO, CALVIN): parallel simulator workers, policy inference batched across
them, per-episode results that make an evaluation resumable, videos, and a summary with Wilson intervals. See
docs/evaluation.md. The exports are loaded lazily so that a simulator worker, which imports
:mod:`foresight.eval.worker`, never imports the policy side (accelerate, the runner) with it.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ActionHistory": "foresight.eval.history",
    "ActionQueue": "foresight.eval.chunking",
    "BatchedPolicy": "foresight.eval.policy",
    "EpisodeLog": "foresight.eval.results",
    "EvalConfig": "foresight.eval.config",
    "EvalError": "foresight.eval.results",
    "ObservationHistory": "foresight.eval.history",
    "POLICY_RESET": "foresight.eval.worker",
    "evaluate": "foresight.eval.runner",
    "select_episodes": "foresight.eval.runner",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'foresight.eval' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
