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
