"""Wilson score interval: a hand computation, published values, and statsmodels' numbers."""

import pytest

from foresight.leaderboard.stats import wilson_interval


def test_matches_hand_computation_47_of_50():
    # p = 0.94, z = 1.96, n = 50:
    #   z²/n = 3.8416 / 50 = 0.076832, denominator 1 + z²/n = 1.076832
    #   centre = (0.94 + 3.8416 / 100) / 1.076832 = 0.978416 / 1.076832 = 0.9086059850
    #   half   = 1.96 / 1.076832 * sqrt(0.94 * 0.06 / 50 + 3.8416 / 10000) = 1.8201539... * sqrt(0.00151216)
    #          = 0.0707794187
    lo, hi = wilson_interval(47, 50)
    assert lo == pytest.approx(0.9086059850 - 0.0707794187, abs=1e-9)
    assert hi == pytest.approx(0.9086059850 + 0.0707794187, abs=1e-9)
    assert (round(lo, 4), round(hi, 4)) == (0.8378, 0.9794)


@pytest.mark.parametrize(
    ("successes", "n", "expected"),
    [
        # Newcombe (1998), Statistics in Medicine 17:857, Table I, method 3 (score interval), z = 1.96.
        (81, 263, (0.2553, 0.3662)),
        (15, 148, (0.0624, 0.1605)),
        (0, 20, (0.0000, 0.1611)),
        (1, 29, (0.0061, 0.1718)),
    ],
)
def test_matches_newcombe_1998(successes, n, expected):
    lo, hi = wilson_interval(successes, n)
    assert (round(lo, 4), round(hi, 4)) == expected


@pytest.mark.parametrize(
    ("successes", "n", "expected"),
    [
        # statsmodels.stats.proportion.proportion_confint(count, nobs, method="wilson"), alpha = 0.05, which
        # uses z = norm.ppf(0.975) = 1.959963984540054 (values written down here, statsmodels not installed).
        (5, 10, (0.2365930905, 0.7634069095)),
        (0, 10, (0.0, 0.2775328)),
        (10, 10, (0.7224672, 1.0)),
    ],
)
def test_matches_statsmodels_formula(successes, n, expected):
    lo, hi = wilson_interval(successes, n, z=1.959963984540054)
    assert lo == pytest.approx(expected[0], abs=1e-7)
    assert hi == pytest.approx(expected[1], abs=1e-7)


def test_edges_are_exact_and_interval_is_symmetric():
    for n in (1, 10, 50, 60, 500):  # 60/60 rounds to 0.9999999999999999 without pinning
        assert wilson_interval(0, n)[0] == 0.0
        assert wilson_interval(n, n)[1] == 1.0
    lo, hi = wilson_interval(12, 40)
    mlo, mhi = wilson_interval(28, 40)
    assert (lo, hi) == pytest.approx((1 - mhi, 1 - mlo), abs=1e-12)
    # More trials at the same rate give a strictly narrower interval around it.
    widths = [hi - lo for lo, hi in (wilson_interval(n // 2, n) for n in (10, 20, 100))]
    assert widths == sorted(widths, reverse=True) and widths[-1] < widths[0]


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((1, 0), ValueError, "n >= 1"),
        ((5, 4), ValueError, "0 <= successes <= n"),
        ((-1, 4), ValueError, "0 <= successes <= n"),
        ((1.0, 4), TypeError, "integer counts"),
        ((True, 4), TypeError, "integer counts"),
    ],
)
def test_rejects_bad_counts(args, error, message):
    with pytest.raises(error, match=message):
        wilson_interval(*args)
