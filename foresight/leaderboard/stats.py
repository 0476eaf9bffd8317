"""Confidence intervals for success rates.

A LIBERO task evaluated 10 times and one evaluated 50 times can show the same rate with very different certainty
(LIBERO issue #152 asks for exactly this), so every per-task rate carries a Wilson score interval. Wilson rather
than the normal approximation because success rates sit near 0 and 1, where the normal interval leaves [0, 1]
and collapses to zero width at 0/n and n/n.
"""

from __future__ import annotations

import math

Z95 = 1.96
"""Two-sided 95 % normal quantile, rounded as in Newcombe (1998) and most papers."""


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for ``successes`` out of ``n`` trials (Wilson 1927; Newcombe 1998, method 3).

    Same formula as ``statsmodels.stats.proportion.proportion_confint(method="wilson")``: centre
    ``(p + z²/2n) / (1 + z²/n)``, half-width ``z / (1 + z²/n) · sqrt(p(1-p)/n + z²/4n²)``.
    """
    if isinstance(successes, bool) or isinstance(n, bool) or not isinstance(successes, int) or not isinstance(n, int):
        raise TypeError(f"wilson_interval needs integer counts, got successes={successes!r}, n={n!r}")
    if n <= 0:
        raise ValueError(f"wilson_interval needs n >= 1 trials, got n={n}")
    if not 0 <= successes <= n:
        raise ValueError(f"wilson_interval needs 0 <= successes <= n, got successes={successes}, n={n}")
    if not z > 0:
        raise ValueError(f"wilson_interval needs z > 0, got z={z}")
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # At 0/n and n/n the bound is exactly 0 or 1 algebraically; pin it so round-off cannot cross the estimate.
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return lo, hi


def fisher_exact(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> float:
    """Two-sided p-value of Fisher's exact test that two success rates are equal (pooled 2x2 counts).

    Conditional on the total successes, the successes of ``a`` are hypergeometric; the p-value sums the
    probabilities of every table no more likely than the observed one (the "minimum likelihood" two-sided rule of
    R's ``fisher.test`` and ``scipy.stats.fisher_exact``). Computed on exact integers, so ties between tables are
    decided without the floating-point slack those implementations need.
    """
    for name, (s, n) in {"a": (successes_a, trials_a), "b": (successes_b, trials_b)}.items():
        if isinstance(s, bool) or isinstance(n, bool) or not isinstance(s, int) or not isinstance(n, int):
            raise TypeError(f"fisher_exact needs integer counts, got {name}: {s!r}/{n!r}")
        if n < 1 or not 0 <= s <= n:
            raise ValueError(f"fisher_exact needs 0 <= successes <= trials and trials >= 1, got {name}: {s}/{n}")
    total = trials_a + trials_b
    wins = successes_a + successes_b

    def weight(x: int) -> int:  # tables with x successes in a, times C(total, trials_a)
        return math.comb(wins, x) * math.comb(total - wins, trials_a - x)

    observed = weight(successes_a)
    support = range(max(0, wins - trials_b), min(wins, trials_a) + 1)
    extreme = sum(w for w in (weight(x) for x in support) if w <= observed)
    return min(1.0, extreme / math.comb(total, trials_a))
