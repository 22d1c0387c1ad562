"""Campaign measurement against a holdout: did the treated group convert more, spend more, and
did that pay for the campaign?

Pure functions, no database: the callers count members and conversions (or n, mean and sample
variance of revenue per member) in SQL and pass the figures in. The distributions come from
SciPy; nothing here re-implements a CDF or quantile.

- ``conversion_uplift``: two-proportion z-test on p_t − p_c (pooled standard error for the test,
  unpooled Wald standard error for the interval).
- ``revenue_uplift`` / ``revenue_uplift_from_stats``: Welch's unequal-variance t-test on revenue
  per member, zeros included for members who bought nothing.
- ``incremental_revenue`` and ``roi``: money, in ``Decimal``.
- ``ab_winner``: the best variant of an A/B test, if it clearly beats the runner-up.

Both tests are large-sample approximations that assume members are assigned at random and
behave independently of each other; they say nothing about effects smaller than the noise of
the group sizes at hand (``enough_data`` only flags the cases where no test can be computed).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from math import sqrt

import numpy as np
from scipy import stats

__all__ = [
    "MeanUplift",
    "ProportionUplift",
    "ab_winner",
    "conversion_uplift",
    "incremental_revenue",
    "revenue_uplift",
    "revenue_uplift_from_stats",
    "roi",
]

CENTS = Decimal("0.01")
ROI_PLACES = Decimal("0.0001")
VARIANCE_NOISE = 1e-12


@dataclass(frozen=True)
class ProportionUplift:
    """Conversion rates of the treated and control groups and the test of their difference.

    ``difference`` is p_t − p_c in absolute terms (0.03 = three percentage points); ``relative``
    is that difference over p_c. Fields are None where the figure is undefined (a group of zero
    members, a control rate of zero, no variation at all).
    """

    treated_rate: float | None
    control_rate: float | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    relative: float | None
    z: float | None
    p_value: float | None
    significant: bool
    enough_data: bool


@dataclass(frozen=True)
class MeanUplift:
    """Mean revenue per member of both groups and Welch's test of their difference.

    ``df`` is the Welch–Satterthwaite degrees of freedom (not an integer in general).
    """

    treated_mean: float | None
    control_mean: float | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    t: float | None
    df: float | None
    p_value: float | None
    significant: bool
    enough_data: bool


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")


def _check_counts(n: int, conversions: int) -> None:
    if n < 0 or not 0 <= conversions <= n:
        raise ValueError(f"need 0 <= conversions <= n, got n={n}, conversions={conversions}")


def conversion_uplift(
    treated_n: int,
    treated_conv: int,
    control_n: int,
    control_conv: int,
    confidence: float = 0.95,
) -> ProportionUplift:
    """Two-proportion z-test of the treated conversion rate against the control's.

    Method: p_t = x_t / n_t, p_c = x_c / n_c, difference d = p_t − p_c.
    The test statistic uses the pooled standard error, because under the null hypothesis both
    groups share one rate p = (x_t + x_c) / (n_t + n_c):
    z = d / sqrt(p (1 − p) (1/n_t + 1/n_c)), two-sided p-value 2 · (1 − Φ(|z|)).
    The confidence interval uses the unpooled (Wald) standard error, because away from the null
    the rates differ: d ± z_{(1+confidence)/2} · sqrt(p_t (1 − p_t)/n_t + p_c (1 − p_c)/n_c).
    ``significant`` is p-value < 1 − confidence. z² equals the Pearson χ² of the 2×2 table
    without continuity correction.

    Assumptions: members assigned at random, independent conversions, and enough conversions and
    non-conversions in each group (the usual n·p ≥ 5 or so) for the normal approximation. With
    few conversions the p-value is approximate; the Wald interval is too narrow near 0 and 1.

    Degenerate inputs do not raise: a group of zero members has no rate (``enough_data`` False,
    everything depending on it None); when the pooled rate is 0 or 1 (nobody or everybody
    converted) the pooled standard error is 0, so z and the p-value are None, ``significant``
    is False and the interval collapses to the difference.
    """
    _check_counts(treated_n, treated_conv)
    _check_counts(control_n, control_conv)
    _check_confidence(confidence)

    p_t = treated_conv / treated_n if treated_n else None
    p_c = control_conv / control_n if control_n else None
    if p_t is None or p_c is None:
        return ProportionUplift(
            treated_rate=p_t,
            control_rate=p_c,
            difference=None,
            ci_low=None,
            ci_high=None,
            relative=None,
            z=None,
            p_value=None,
            significant=False,
            enough_data=False,
        )

    difference = p_t - p_c
    relative = difference / p_c if p_c else None
    pooled = (treated_conv + control_conv) / (treated_n + control_n)
    pooled_se = sqrt(pooled * (1 - pooled) * (1 / treated_n + 1 / control_n))
    if pooled_se == 0:
        return ProportionUplift(  # no spread to build an interval from: the point itself
            treated_rate=p_t,
            control_rate=p_c,
            difference=difference,
            ci_low=difference,
            ci_high=difference,
            relative=relative,
            z=None,
            p_value=None,
            significant=False,
            enough_data=False,
        )

    z = difference / pooled_se
    p_value = float(2 * stats.norm.sf(abs(z)))
    wald_se = sqrt(p_t * (1 - p_t) / treated_n + p_c * (1 - p_c) / control_n)
    half_width = float(stats.norm.ppf((1 + confidence) / 2)) * wald_se
    return ProportionUplift(
        treated_rate=p_t,
        control_rate=p_c,
        difference=difference,
        ci_low=difference - half_width,
        ci_high=difference + half_width,
        relative=relative,
        z=z,
        p_value=p_value,
        significant=p_value < 1 - confidence,
        enough_data=True,
    )


def _variance(value: float | Decimal | None, mean: float | None) -> float | None:
    """The sample variance with float noise removed.

    A constant group in floating point (twelve members at 0.1) gives a mean one ulp off and so a
    variance of 2e-34 or, from a float SQL aggregate, -1e-17 instead of 0 — enough to turn "no
    variation" into an absurd t. Anything below (1e-12 · mean)² is that noise; a real spread of
    one cent among a million members (mean 100) is still ten orders of magnitude above it.
    """
    if value is None or mean is None:
        return None
    variance = float(value)
    return 0.0 if variance <= (VARIANCE_NOISE * mean) ** 2 else variance


def revenue_uplift_from_stats(
    treated_n: int,
    treated_mean: float | Decimal | None,
    treated_var: float | Decimal | None,
    control_n: int,
    control_mean: float | Decimal | None,
    control_var: float | Decimal | None,
    confidence: float = 0.95,
) -> MeanUplift:
    """Welch's unequal-variance t-test on mean revenue per member, from summary statistics.

    Inputs are what SQL gives back: ``COUNT``, ``AVG`` and ``VAR_SAMP`` (sample variance, ddof=1)
    of revenue per member over the whole group, zeros included for members who bought nothing.
    ``AVG`` of no rows and ``VAR_SAMP`` of fewer than two are NULL, hence the Nones.

    Method: d = m_t − m_c; with a = s_t²/n_t and b = s_c²/n_c the standard error is sqrt(a + b),
    t = d / sqrt(a + b), and the Welch–Satterthwaite degrees of freedom are
    df = (a + b)² / (a²/(n_t − 1) + b²/(n_c − 1)). t and the two-sided p-value come from
    ``scipy.stats.ttest_ind_from_stats(equal_var=False)`` (the same test as
    ``ttest_ind(equal_var=False)`` on raw values); the interval is
    d ± t_{(1+confidence)/2, df} · sqrt(a + b). ``significant`` is p-value < 1 − confidence.

    Assumptions: random assignment, independent members, and means that are close to normal —
    revenue per member is skewed (mostly zeros, a long tail), which the t approximation absorbs
    at campaign sizes (hundreds of members and up) but not at a handful. No equal-variance
    assumption: a campaign changes the spread as well as the mean.

    Degenerate inputs do not raise: with fewer than two members in a group, or no variation in
    either group, there is no test (``enough_data`` False, t/df/p-value None, ``significant``
    False) and the interval collapses to the difference when both means are known.
    """
    _check_confidence(confidence)
    if treated_n < 0 or control_n < 0:
        raise ValueError(f"group sizes must not be negative, got {treated_n}, {control_n}")

    m_t = float(treated_mean) if treated_n and treated_mean is not None else None
    m_c = float(control_mean) if control_n and control_mean is not None else None
    difference = m_t - m_c if m_t is not None and m_c is not None else None
    v_t = _variance(treated_var, m_t)
    v_c = _variance(control_var, m_c)

    if (
        difference is None
        or v_t is None
        or v_c is None
        or treated_n < 2
        or control_n < 2
        or (v_t == 0 and v_c == 0)
    ):
        return MeanUplift(  # no spread to build an interval from: the point itself, if any
            treated_mean=m_t,
            control_mean=m_c,
            difference=difference,
            ci_low=difference,
            ci_high=difference,
            t=None,
            df=None,
            p_value=None,
            significant=False,
            enough_data=False,
        )

    a = v_t / treated_n
    b = v_c / control_n
    se = sqrt(a + b)
    df = (a + b) ** 2 / (a**2 / (treated_n - 1) + b**2 / (control_n - 1))
    result = stats.ttest_ind_from_stats(
        m_t, sqrt(v_t), treated_n, m_c, sqrt(v_c), control_n, equal_var=False
    )
    t, p_value = float(result.statistic), float(result.pvalue)
    half_width = float(stats.t.ppf((1 + confidence) / 2, df)) * se
    return MeanUplift(
        treated_mean=m_t,
        control_mean=m_c,
        difference=difference,
        ci_low=difference - half_width,
        ci_high=difference + half_width,
        t=t,
        df=df,
        p_value=p_value,
        significant=p_value < 1 - confidence,
        enough_data=True,
    )


def _summary(values: Sequence[float]) -> tuple[int, float | None, float | None]:
    """n, mean and sample variance (ddof=1) — what ``COUNT``/``AVG``/``VAR_SAMP`` return."""
    data = np.asarray(values, dtype=float)
    n = int(data.size)
    mean = float(data.mean()) if n else None
    var = float(data.var(ddof=1)) if n >= 2 else None
    return n, mean, var


def revenue_uplift(
    treated: Sequence[float], control: Sequence[float], confidence: float = 0.95
) -> MeanUplift:
    """Welch's t-test on revenue per member from the raw values (one per member, zeros included).

    Reduces each group to n, mean and sample variance and calls ``revenue_uplift_from_stats``,
    so both give the same answer; see there for the method and its assumptions.
    """
    treated_n, treated_mean, treated_var = _summary(treated)
    control_n, control_mean, control_var = _summary(control)
    return revenue_uplift_from_stats(
        treated_n, treated_mean, treated_var, control_n, control_mean, control_var, confidence
    )


def incremental_revenue(treated_n: int, treated_mean: Decimal, control_mean: Decimal) -> Decimal:
    """Revenue the treated group brought beyond what it would have brought without the campaign.

    (treated mean − control mean) × treated n, to the cent (half up): the holdout's mean revenue
    per member stands in for the treated group's counterfactual. Negative when the treated group
    spent less than the holdout.
    """
    return ((treated_mean - control_mean) * treated_n).quantize(CENTS, rounding=ROUND_HALF_UP)


def roi(incremental_revenue: Decimal, costs: Decimal) -> Decimal | None:
    """Return on the campaign's costs: (incremental revenue − costs) / costs.

    0.5 means every unit spent came back with half a unit on top; −1 means nothing came back.
    Rounded to 0.0001 (half up); None when there were no costs (the ratio is undefined).
    """
    if costs == 0:
        return None
    return ((incremental_revenue - costs) / costs).quantize(ROI_PLACES, rounding=ROUND_HALF_UP)


def ab_winner(variants: Mapping[str, tuple[int, int]], confidence: float = 0.95) -> str | None:
    """The label of the variant with the highest conversion rate, if it clearly beats the rest.

    ``variants`` maps label → (members, conversions). The leader is tested against the runner-up
    (the variant with the next highest rate) with the two-sided two-proportion z-test of
    ``conversion_uplift``; it wins when that test is significant at ``confidence``. Otherwise —
    including ties, fewer than two variants or any variant with no members — there is no clear
    winner and the answer is None. Ties in rate are broken by label so the answer does not
    depend on the mapping's order.

    Assumptions as for ``conversion_uplift``. Only the leader/runner-up pair is tested and there
    is no correction for comparing several variants, so with many variants treat a winner as a
    strong hint, not a proof; a third variant with few members can have a rate close to the
    leader's without the test noticing.
    """
    _check_confidence(confidence)
    if len(variants) < 2:
        return None
    for n, conversions in variants.values():
        _check_counts(n, conversions)
        if n == 0:
            return None
    ranked = sorted(variants.items(), key=lambda item: (-item[1][1] / item[1][0], item[0]))
    (leader, (leader_n, leader_conv)), (_, (runner_n, runner_conv)) = ranked[0], ranked[1]
    test = conversion_uplift(leader_n, leader_conv, runner_n, runner_conv, confidence)
    return leader if test.significant and test.difference and test.difference > 0 else None
