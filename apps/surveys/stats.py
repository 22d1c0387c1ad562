"""Survey statistics: pure maths over counts and sums (no database), so the analysis can
aggregate in SQL and hand the totals here. Intervals are 95% two-sided.

- **NPS** = %promoters − %detractors, in points (−100…100). Interval: the *adjusted-Wald*
  method of Rocks (2016, *The American Statistician* 70(4)), the best of the six he compared:
  add 3/4 to the promoters, 3/4 to the detractors and 3 to n, then
  ``NPS_adj ± z·sqrt((pP + pD − (pP − pD)²) / n_adj)`` on the adjusted proportions — the
  variance of a difference of two proportions of one multinomial sample. The point estimate
  shown is the plain NPS; the interval is clamped to [−100, 100].
- **CSAT** = % of answers 4 or 5 on the 1–5 scale, with a Wilson score interval
  (``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")``).
- **CES** = mean of the 1–5 answers with a Student t interval (``mean ± t(0.975, n−1)·s/√n``).
- **Key drivers**: Pearson r of an item score (a rating, yes/no as 1/0, a choice option as a 0/1
  indicator) with the NPS score (0–10) of the same response, computed from the six sums
  n, Σx, Σy, Σx², Σy², Σxy (so any database can aggregate them), its two-sided p-value from
  ``t = r·sqrt((n−2)/(1−r²))`` with n−2 degrees of freedom; fewer than 30 pairs is "too few to
  say".
"""

import math
from dataclasses import dataclass

from scipy import stats as sps

CONFIDENCE = 0.95
DRIVER_MIN_N = 30
_Z = float(sps.norm.ppf(0.5 + CONFIDENCE / 2))


@dataclass(frozen=True)
class Interval:
    value: float | None
    low: float | None
    high: float | None
    n: int


def _round(x: float | None, digits: int = 1) -> float | None:
    return None if x is None else round(x, digits)


def nps(promoters: int, passives: int, detractors: int) -> Interval:
    """NPS in points with the adjusted-Wald 95% interval (Rocks 2016); None without answers."""
    n = promoters + passives + detractors
    if n == 0:
        return Interval(None, None, None, 0)
    score = 100.0 * (promoters - detractors) / n
    n_adj = n + 3
    p = (promoters + 0.75) / n_adj
    d = (detractors + 0.75) / n_adj
    centre = p - d
    variance = max(p + d - centre * centre, 0.0) / n_adj
    half = _Z * math.sqrt(variance)
    low = max(-1.0, centre - half)
    high = min(1.0, centre + half)
    return Interval(_round(score), _round(100 * low), _round(100 * high), n)


def csat(satisfied: int, n: int) -> Interval:
    """% satisfied (4–5 of 5) with the Wilson score 95% interval; None without answers."""
    if n == 0:
        return Interval(None, None, None, 0)
    ci = sps.binomtest(satisfied, n).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return Interval(_round(100.0 * satisfied / n), _round(100 * ci.low), _round(100 * ci.high), n)


def mean_interval(n: int, total: float, total_sq: float, digits: int = 2) -> Interval:
    """Mean with a Student t 95% interval from n, Σx, Σx² (no interval below two answers)."""
    if n == 0:
        return Interval(None, None, None, 0)
    mean = total / n
    if n < 2:
        return Interval(_round(mean, digits), None, None, n)
    variance = max(total_sq - n * mean * mean, 0.0) / (n - 1)
    half = float(sps.t.ppf(0.5 + CONFIDENCE / 2, n - 1)) * math.sqrt(variance / n)
    return Interval(
        _round(mean, digits), _round(mean - half, digits), _round(mean + half, digits), n
    )


def ces(n: int, total: float, total_sq: float) -> Interval:
    return mean_interval(n, total, total_sq)


@dataclass(frozen=True)
class Correlation:
    r: float | None
    p: float | None
    n: int
    too_few: bool


def pearson_from_sums(
    n: int, sx: float, sy: float, sxx: float, syy: float, sxy: float
) -> Correlation:
    """Pearson r and its two-sided p-value from the six sums; r is None when either variable
    does not vary (or n < 3)."""
    too_few = n < DRIVER_MIN_N
    if n < 3:
        return Correlation(None, None, n, True)
    cov = n * sxy - sx * sy
    vx = n * sxx - sx * sx
    vy = n * syy - sy * sy
    if vx <= 0 or vy <= 0:
        return Correlation(None, None, n, too_few)
    r = max(-1.0, min(1.0, cov / math.sqrt(vx * vy)))
    if abs(r) >= 1.0:
        p = 0.0
    else:
        t = r * math.sqrt((n - 2) / (1 - r * r))
        p = float(2 * sps.t.sf(abs(t), n - 2))
    return Correlation(round(r, 3), p, n, too_few)


@dataclass(frozen=True)
class Driver:
    key: str
    label: str
    correlation: Correlation


def drivers_sorted(drivers: list[Driver]) -> list[Driver]:
    """Strongest first (|r| descending); drivers without an r last."""
    return sorted(
        drivers,
        key=lambda d: (d.correlation.r is None, -abs(d.correlation.r or 0.0), d.label),
    )
