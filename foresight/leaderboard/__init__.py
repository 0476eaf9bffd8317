"""The unified leaderboard: a versioned results schema, the results store, the papers' reported numbers, and
the rendered report, static site and plots.

The evaluation runner calls :func:`make_result` with raw per-task counts and writes ``result.to_json()``;
``python -m foresight.leaderboard add <file>`` files it and ``build`` renders everything (docs/leaderboard.md).
Rendering lives in :mod:`foresight.leaderboard.build` and is not imported here, so writing results does not
load matplotlib.
"""

from foresight.leaderboard.schema import (
    SCHEMA_VERSION,
    CalvinStats,
    Checkpoint,
    Hardware,
    Protocol,
    Rate,
    Result,
    TaskOutcome,
    TaskResult,
    make_result,
    validate_result,
)
from foresight.leaderboard.stats import wilson_interval
from foresight.leaderboard.store import StoreConflictError, add_result, load_results
from foresight.leaderboard.validation import (
    LeaderboardValidationError,
    ReportedValidationError,
    ResultValidationError,
)

__all__ = [
    "SCHEMA_VERSION",
    "CalvinStats",
    "Checkpoint",
    "Hardware",
    "LeaderboardValidationError",
    "Protocol",
    "Rate",
    "ReportedValidationError",
    "Result",
    "ResultValidationError",
    "StoreConflictError",
    "TaskOutcome",
    "TaskResult",
    "add_result",
    "load_results",
    "make_result",
    "validate_result",
    "wilson_interval",
]
