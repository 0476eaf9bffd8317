"""The benchmarks and suites a leaderboard row can belong to, with the facts validation needs.

Task counts come from the benchmarks themselves: each LIBERO suite has 10 tasks except LIBERO-90 (LIBERO
paper, Liu et al. 2023); CALVIN chains 5 subtasks drawn from 34 (Mees et al. 2022), so a CALVIN result lists
only the subtasks its chains reached and has no fixed count.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Suite:
    key: str
    label: str
    num_tasks: int | None  # None: the number of tasks a result lists is not fixed (CALVIN subtasks)


BENCHMARKS: dict[str, dict[str, Suite]] = {
    "libero": {
        s.key: s
        for s in (
            Suite("libero_spatial", "LIBERO-Spatial", 10),
            Suite("libero_object", "LIBERO-Object", 10),
            Suite("libero_goal", "LIBERO-Goal", 10),
            Suite("libero_10", "LIBERO-Long (libero_10)", 10),
            Suite("libero_90", "LIBERO-90", 90),
        )
    },
    "calvin": {
        s.key: s
        for s in (
            Suite("abc_d", "CALVIN ABC→D", None),
            Suite("abcd_d", "CALVIN ABCD→D", None),
            Suite("d_d", "CALVIN D→D", None),
        )
    },
}
"""Benchmarks a reproduced result may name (the ones foresight can run)."""

REPORTED_ONLY: dict[str, dict[str, Suite]] = {
    # LIBERO-Plus (Fei et al. 2025) perturbs the four standard suites; papers report it per suite.
    "libero_plus": {
        s.key: s
        for s in (
            Suite("libero_spatial", "LIBERO-Plus Spatial", None),
            Suite("libero_object", "LIBERO-Plus Object", None),
            Suite("libero_goal", "LIBERO-Plus Goal", None),
            Suite("libero_10", "LIBERO-Plus Long", None),
        )
    },
}
"""Benchmarks that appear only through papers' reported numbers."""

BENCHMARK_LABELS = {"libero": "LIBERO", "calvin": "CALVIN", "libero_plus": "LIBERO-Plus"}

LIBERO_STANDARD_SUITES = ("libero_spatial", "libero_object", "libero_goal", "libero_10")
"""The four suites whose mean is the customary single LIBERO number (openpi, OpenVLA, CLAP Table IV)."""

CALVIN_CHAIN_LENGTH = 5
"""Subtasks per CALVIN evaluation chain (calvin_agent/evaluation/evaluate_policy.py)."""


def all_suites() -> dict[str, dict[str, Suite]]:
    """Every benchmark, reproducible or reported-only, keyed by benchmark then suite."""
    return {**BENCHMARKS, **REPORTED_ONLY}


def suite_label(benchmark: str, suite: str) -> str:
    return all_suites()[benchmark][suite].label
