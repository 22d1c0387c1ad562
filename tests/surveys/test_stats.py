import math

import pytest
from scipy import stats as sps

from apps.surveys import stats


def test_nps_50_30_20_is_30_with_the_adjusted_wald_interval():
    # By hand (Rocks 2016): n' = 103, p = 50.75/103, d = 20.75/103,
    # half = 1.959964 * sqrt((p + d - (p - d)^2) / 103).
    p, d = 50.75 / 103, 20.75 / 103
    half = 1.959964 * math.sqrt((p + d - (p - d) ** 2) / 103)
    result = stats.nps(50, 30, 20)
    assert result.value == 30.0
    assert result.n == 100
    assert result.low == round(100 * (p - d - half), 1) == 14.1
    assert result.high == round(100 * (p - d + half), 1) == 44.2


def test_nps_without_answers_is_none_and_interval_stays_in_range():
    assert stats.nps(0, 0, 0).value is None
    all_promoters = stats.nps(10, 0, 0)
    assert all_promoters.value == 100.0 and all_promoters.high == 100.0
    assert all_promoters.low < 100.0


def test_csat_matches_scipy_wilson():
    ci = sps.binomtest(42, 60).proportion_ci(method="wilson")
    result = stats.csat(42, 60)
    assert result.value == 70.0
    assert result.low == round(100 * ci.low, 1)
    assert result.high == round(100 * ci.high, 1)


def test_ces_mean_with_t_interval():
    values = [1, 2, 3, 4, 5, 3, 4, 2]
    n = len(values)
    mean = sum(values) / n
    sem = sps.sem(values)
    low, high = sps.t.interval(0.95, n - 1, loc=mean, scale=sem)
    result = stats.ces(n, sum(values), sum(v * v for v in values))
    assert result.value == round(mean, 2)
    assert result.low == pytest.approx(low, abs=0.006)
    assert result.high == pytest.approx(high, abs=0.006)
    assert stats.ces(1, 4, 16).low is None


def _sums(xs, ys):
    return (
        len(xs),
        sum(xs),
        sum(ys),
        sum(x * x for x in xs),
        sum(y * y for y in ys),
        sum(x * y for x, y in zip(xs, ys, strict=True)),
    )


def test_pearson_from_sums_matches_scipy_for_a_planted_correlation():
    ys = [i % 11 for i in range(60)]
    xs = [1 + (y // 2.5) for y in ys]  # a rating that follows the NPS score
    r, p = sps.pearsonr(xs, ys)
    result = stats.pearson_from_sums(*_sums(xs, ys))
    assert result.r == round(r, 3) and result.r > 0.9
    assert result.p == pytest.approx(p, rel=1e-6, abs=1e-12)
    assert result.too_few is False


def test_uncorrelated_driver_is_weak_and_small_samples_are_flagged():
    ys = [i % 11 for i in range(66)]
    xs = [(i // 11) % 2 for i in range(66)]  # alternates blocks regardless of the score
    result = stats.pearson_from_sums(*_sums(xs, ys))
    assert abs(result.r) < 0.05 and result.p > 0.5
    small = stats.pearson_from_sums(*_sums(xs[:20], ys[:20]))
    assert small.too_few is True
    constant = stats.pearson_from_sums(*_sums([3] * 40, ys[:40]))
    assert constant.r is None


def test_drivers_sorted_strongest_first():
    def driver(key, r):
        return stats.Driver(key, key, stats.Correlation(r, 0.5, 50, False))

    ordered = stats.drivers_sorted(
        [driver("a", 0.1), driver("b", -0.8), driver("c", None), driver("d", 0.5)]
    )
    assert [d.key for d in ordered] == ["b", "d", "a", "c"]
