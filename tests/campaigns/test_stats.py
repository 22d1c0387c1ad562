"""The campaign statistics against hand-worked examples and SciPy's own tests.

Pure functions: no database, no Django.
"""

from decimal import Decimal
from math import sqrt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from apps.campaigns.stats import (
    MeanUplift,
    ProportionUplift,
    ab_winner,
    conversion_uplift,
    incremental_revenue,
    revenue_uplift,
    revenue_uplift_from_stats,
    roi,
)

Z_975 = 1.959963984540054  # stats.norm.ppf(0.975)


# --- conversion: two-proportion z-test ----------------------------------------------------------


def test_conversion_worked_example():
    """Treated 120 of 1000, control 90 of 1000.

    p_t = 0.12, p_c = 0.09, difference d = 0.03, relative 0.03 / 0.09 = 0.3333.
    Pooled p = (120 + 90) / 2000 = 0.105.
    Pooled SE = sqrt(0.105 · 0.895 · (1/1000 + 1/1000)) = sqrt(0.00018795) = 0.0137095
    z = 0.03 / 0.0137095 = 2.1883
    p = 2 · (1 − Φ(2.1883)) = 0.02865                        → significant at 95%, not at 99%
    Wald SE = sqrt(0.12 · 0.88 / 1000 + 0.09 · 0.91 / 1000) = sqrt(0.0001875) = 0.0136931
    CI 95% = 0.03 ± 1.959964 · 0.0136931 = 0.03 ± 0.0268379 = (0.0031621, 0.0568379)
    """
    result = conversion_uplift(1000, 120, 1000, 90)

    pooled_se = sqrt(0.105 * 0.895 * (2 / 1000))
    wald_se = sqrt(0.12 * 0.88 / 1000 + 0.09 * 0.91 / 1000)
    assert pooled_se == pytest.approx(0.0137095, rel=1e-5)
    assert wald_se == pytest.approx(0.0136931, rel=1e-5)
    assert result.treated_rate == pytest.approx(0.12)
    assert result.control_rate == pytest.approx(0.09)
    assert result.difference == pytest.approx(0.03)
    assert result.relative == pytest.approx(1 / 3)
    assert result.z == pytest.approx(2.1883, rel=1e-4)
    assert result.z == pytest.approx(0.03 / pooled_se)
    assert result.p_value == pytest.approx(0.02865, rel=1e-4)
    assert result.ci_low == pytest.approx(0.03 - Z_975 * wald_se)
    assert result.ci_low == pytest.approx(0.0031621, rel=1e-4)
    assert result.ci_high == pytest.approx(0.0568379, rel=1e-4)
    assert result.significant is True
    assert result.enough_data is True
    assert conversion_uplift(1000, 120, 1000, 90, confidence=0.99).significant is False


def test_conversion_interval_uses_the_confidence_level():
    """90%: 0.03 ± 1.644854 · 0.0136931 = 0.03 ± 0.0225231 = (0.0074769, 0.0525231)."""
    result = conversion_uplift(1000, 120, 1000, 90, confidence=0.90)
    assert result.ci_low == pytest.approx(0.0074769, rel=1e-5)
    assert result.ci_high == pytest.approx(0.0525231, rel=1e-5)


@pytest.mark.parametrize(
    ("treated_n", "treated_conv", "control_n", "control_conv"),
    [(1000, 120, 1000, 90), (500, 7, 3000, 30), (40, 39, 60, 41), (12345, 678, 910, 11)],
)
def test_conversion_z_squared_is_pearson_chi_squared(
    treated_n, treated_conv, control_n, control_conv
):
    table = [
        [treated_conv, treated_n - treated_conv],
        [control_conv, control_n - control_conv],
    ]
    chi2, p_value, _, _ = stats.chi2_contingency(table, correction=False)
    result = conversion_uplift(treated_n, treated_conv, control_n, control_conv)
    assert result.z**2 == pytest.approx(chi2, rel=1e-9)
    assert result.p_value == pytest.approx(p_value, rel=1e-9)


def test_conversion_lower_treated_rate_gives_negative_z():
    result = conversion_uplift(1000, 90, 1000, 120)
    assert result.z == pytest.approx(-2.1883, rel=1e-4)
    assert result.difference == pytest.approx(-0.03)
    assert result.relative == pytest.approx(-0.25)
    assert result.significant is True


def test_conversion_identical_groups_are_not_significant():
    result = conversion_uplift(1000, 100, 1000, 100)
    assert result.difference == 0
    assert result.z == 0
    assert result.p_value == pytest.approx(1.0)
    assert result.significant is False
    assert result.enough_data is True
    assert result.ci_low == pytest.approx(-result.ci_high)


@pytest.mark.parametrize(
    ("treated_n", "treated_conv", "control_n", "control_conv", "treated_rate", "control_rate"),
    [(0, 0, 100, 10, None, 0.1), (100, 10, 0, 0, 0.1, None), (0, 0, 0, 0, None, None)],
)
def test_conversion_empty_group_has_no_test(
    treated_n, treated_conv, control_n, control_conv, treated_rate, control_rate
):
    result = conversion_uplift(treated_n, treated_conv, control_n, control_conv)
    assert result == ProportionUplift(
        treated_rate=treated_rate,
        control_rate=control_rate,
        difference=None,
        ci_low=None,
        ci_high=None,
        relative=None,
        z=None,
        p_value=None,
        significant=False,
        enough_data=False,
    )


def test_conversion_nobody_converted_has_no_test():
    assert conversion_uplift(100, 0, 200, 0) == ProportionUplift(
        treated_rate=0.0,
        control_rate=0.0,
        difference=0.0,
        ci_low=0.0,
        ci_high=0.0,
        relative=None,
        z=None,
        p_value=None,
        significant=False,
        enough_data=False,
    )


def test_conversion_everybody_converted_has_no_test():
    result = conversion_uplift(50, 50, 80, 80)
    assert (result.difference, result.relative, result.z, result.enough_data) == (
        0.0,
        0.0,
        None,
        False,
    )


def test_conversion_zero_control_rate_has_no_relative_uplift():
    result = conversion_uplift(1000, 10, 1000, 0)
    assert result.relative is None
    assert result.enough_data is True
    assert result.z == pytest.approx(0.01 / sqrt(0.005 * 0.995 * 0.002))


def test_conversion_wald_interval_collapses_when_both_rates_are_extreme():
    """0 of 100 against 100 of 100: pooled p = 0.5 gives a test, z = −1 / sqrt(.25 · .02) =
    −14.142; each rate alone has no variance, so the Wald interval is the point."""
    result = conversion_uplift(100, 0, 100, 100)
    assert result.z == pytest.approx(-14.142136, rel=1e-6)
    assert result.significant is True
    assert (result.ci_low, result.difference, result.ci_high) == (-1.0, -1.0, -1.0)


@pytest.mark.parametrize(
    "args",
    [(10, 11, 10, 1), (-1, 0, 10, 1), (10, 1, 10, -1), (10, 1, 10, 1, 1.0), (10, 1, 10, 1, 0)],
)
def test_conversion_refuses_impossible_input(args):
    with pytest.raises(ValueError):
        conversion_uplift(*args)


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    treated_n=st.integers(0, 10**6),
    control_n=st.integers(0, 10**6),
    confidence=st.sampled_from([0.8, 0.9, 0.95, 0.99]),
)
def test_conversion_interval_contains_the_difference(data, treated_n, control_n, confidence):
    treated_conv = data.draw(st.integers(0, treated_n))
    control_conv = data.draw(st.integers(0, control_n))
    result = conversion_uplift(treated_n, treated_conv, control_n, control_conv, confidence)
    if result.difference is not None:
        assert result.ci_low <= result.difference <= result.ci_high
    if result.p_value is not None:
        assert 0 <= result.p_value <= 1
        assert result.significant == (result.p_value < 1 - confidence)
    else:
        assert result.significant is False and result.enough_data is False


# --- revenue: Welch's t-test ------------------------------------------------------------------

TREATED = [0, 0, 10, 20, 30]
CONTROL = [0, 0, 0, 5, 10]


def test_revenue_worked_example():
    """Treated [0, 0, 10, 20, 30], control [0, 0, 0, 5, 10].

    Means: 60 / 5 = 12 and 15 / 5 = 3; difference 9.
    Sample variances (ddof=1):
      treated (144 + 144 + 4 + 64 + 324) / 4 = 680 / 4 = 170
      control (9 + 9 + 9 + 4 + 49) / 4 = 80 / 4 = 20
    a = 170 / 5 = 34, b = 20 / 5 = 4, SE = sqrt(38) = 6.164414
    t = 9 / 6.164414 = 1.459993
    Welch df = (a + b)² / (a² / 4 + b² / 4) = 1444 / (289 + 4) = 1444 / 293 = 4.928328
    p = 2 · P(T_4.928 > 1.459993) = 0.204941                 → not significant
    CI 95% = 9 ± t_{0.975, 4.928328} · 6.164414 = 9 ± 2.581867 · 6.164414 = 9 ± 15.915696
           = (−6.915696, 24.915696)
    """
    result = revenue_uplift(TREATED, CONTROL)

    se = sqrt(170 / 5 + 20 / 5)
    df = 1444 / 293
    assert result.treated_mean == 12
    assert result.control_mean == 3
    assert result.difference == 9
    assert result.t == pytest.approx(9 / se)
    assert result.t == pytest.approx(1.459993, rel=1e-6)
    assert result.df == pytest.approx(df)
    assert result.df == pytest.approx(4.928328, rel=1e-6)
    assert result.p_value == pytest.approx(2 * stats.t.sf(9 / se, df))
    assert result.p_value == pytest.approx(0.204941, rel=1e-5)
    assert result.ci_low == pytest.approx(-6.915696, rel=1e-6)
    assert result.ci_high == pytest.approx(24.915696, rel=1e-6)
    assert result.significant is False
    assert result.enough_data is True

    scipy_result = stats.ttest_ind(TREATED, CONTROL, equal_var=False)
    assert result.t == pytest.approx(scipy_result.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(scipy_result.pvalue, rel=1e-12)
    assert result.df == pytest.approx(scipy_result.df, rel=1e-12)
    assert (result.ci_low, result.ci_high) == pytest.approx(
        tuple(scipy_result.confidence_interval(0.95)), rel=1e-12
    )


def test_revenue_from_stats_gives_the_same_answer():
    from_stats = revenue_uplift_from_stats(5, 12.0, 170.0, 5, 3.0, 20.0)
    assert from_stats == revenue_uplift(TREATED, CONTROL)


def test_revenue_from_stats_takes_decimals_from_sql():
    from_sql = revenue_uplift_from_stats(
        5, Decimal("12.00"), Decimal("170.0"), 5, Decimal("3.00"), Decimal("20.0")
    )
    assert from_sql == revenue_uplift(TREATED, CONTROL)


def test_revenue_large_groups_are_significant():
    """The same spread over 1000 members a group: SE = sqrt(170/1000 + 20/1000) = sqrt(0.19)
    = 0.4358899, t = 9 / 0.4358899 = 20.647416."""
    result = revenue_uplift_from_stats(1000, 12.0, 170.0, 1000, 3.0, 20.0)
    assert result.t == pytest.approx(20.647416, rel=1e-6)
    assert result.significant is True


def test_revenue_one_constant_group_still_has_a_test():
    """Control all zero: b = 0, so df = a² / (a² / (n_t − 1)) = n_t − 1 = 2."""
    result = revenue_uplift([0, 10, 20], [0, 0, 0, 0])
    expected = stats.ttest_ind([0, 10, 20], [0, 0, 0, 0], equal_var=False)
    assert result.df == pytest.approx(2)
    assert result.t == pytest.approx(10 / sqrt(100 / 3))
    assert result.p_value == pytest.approx(expected.pvalue)
    assert result.enough_data is True


def test_revenue_all_zero_has_no_test():
    assert revenue_uplift([0.0] * 10, [0.0] * 20) == MeanUplift(
        treated_mean=0.0,
        control_mean=0.0,
        difference=0.0,
        ci_low=0.0,
        ci_high=0.0,
        t=None,
        df=None,
        p_value=None,
        significant=False,
        enough_data=False,
    )


def test_revenue_single_member_has_no_test():
    result = revenue_uplift([5.0], [1.0, 2.0, 3.0])
    assert (result.treated_mean, result.control_mean, result.difference) == (5.0, 2.0, 3.0)
    assert (result.ci_low, result.ci_high) == (3.0, 3.0)
    assert (result.t, result.df, result.p_value) == (None, None, None)
    assert result.significant is False and result.enough_data is False


def test_revenue_empty_group_has_no_difference():
    result = revenue_uplift([], [1.0, 2.0])
    assert (result.treated_mean, result.control_mean) == (None, 1.5)
    assert (result.difference, result.ci_low, result.ci_high) == (None, None, None)
    assert result.enough_data is False


def test_revenue_from_stats_with_sql_nulls():
    """AVG over no rows and VAR_SAMP over fewer than two rows are NULL."""
    result = revenue_uplift_from_stats(0, None, None, 1, 4.0, None)
    assert (result.treated_mean, result.control_mean, result.difference) == (None, 4.0, None)
    assert result.enough_data is False


def test_revenue_from_stats_tolerates_rounding_below_zero():
    result = revenue_uplift_from_stats(3, 5.0, -1e-17, 3, 5.0, -1e-17)
    assert result.enough_data is False
    assert result.difference == 0.0


def test_revenue_constant_groups_in_floating_point_have_no_test():
    """Twelve members at 0.1: the float mean is one ulp off 0.1, the variance 2.1e-34, not 0."""
    result = revenue_uplift([0.1] * 10, [0.1] * 12)
    assert result.enough_data is False
    assert result.t is None


def test_revenue_refuses_impossible_input():
    with pytest.raises(ValueError):
        revenue_uplift_from_stats(-1, 1.0, 1.0, 5, 1.0, 1.0)
    with pytest.raises(ValueError):
        revenue_uplift(TREATED, CONTROL, confidence=1.5)


cents = st.integers(0, 500_000).map(lambda c: c / 100)


@pytest.mark.filterwarnings("ignore:Precision loss occurred:RuntimeWarning")  # scipy, constant
@settings(max_examples=200, deadline=None)
@given(
    treated=st.lists(cents, max_size=40),
    control=st.lists(cents, max_size=40),
    confidence=st.sampled_from([0.8, 0.9, 0.95, 0.99]),
)
def test_revenue_interval_contains_the_difference(treated, control, confidence):
    result = revenue_uplift(treated, control, confidence)
    if result.difference is not None:
        assert result.ci_low <= result.difference <= result.ci_high
    if result.enough_data:
        assert 0 <= result.p_value <= 1
        assert result.significant == (result.p_value < 1 - confidence)
        expected = stats.ttest_ind(treated, control, equal_var=False)
        assert result.t == pytest.approx(expected.statistic, rel=1e-6, abs=1e-9)
        assert result.p_value == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-12)
    else:
        assert result.p_value is None and result.significant is False


# --- money ------------------------------------------------------------------------------------


def test_incremental_revenue_worked_example():
    """(12.35 − 10.10) × 1000 = 2.25 × 1000 = 2250.00."""
    assert incremental_revenue(1000, Decimal("12.35"), Decimal("10.10")) == Decimal("2250.00")


def test_incremental_revenue_rounds_half_up_and_can_be_negative():
    assert incremental_revenue(5, Decimal("10.005"), Decimal("10")) == Decimal("0.03")  # 0.025
    assert incremental_revenue(100, Decimal("8"), Decimal("10")) == Decimal("-200.00")
    assert incremental_revenue(0, Decimal("8"), Decimal("10")) == Decimal("0.00")


@pytest.mark.parametrize(
    ("incremental", "costs", "expected"),
    [
        ("1500.00", "1000.00", "0.5000"),  # (1500 − 1000) / 1000
        ("1000", "600", "0.6667"),  # 400 / 600 = 0.66666…
        ("250", "1000", "-0.7500"),  # (250 − 1000) / 1000
        ("0", "80", "-1.0000"),  # nothing came back
        ("20001", "20000", "0.0001"),  # 0.00005 rounds half up
        ("2250.00", "1200.00", "0.8750"),  # the incremental revenue example: 1050 / 1200
    ],
)
def test_roi_worked_examples(incremental, costs, expected):
    result = roi(Decimal(incremental), Decimal(costs))
    assert result == Decimal(expected)
    assert str(result) == expected


def test_roi_without_costs_is_undefined():
    assert roi(Decimal("100"), Decimal("0")) is None
    assert roi(Decimal("0"), Decimal("0.00")) is None


# --- A/B ----------------------------------------------------------------------------------------


def test_ab_winner_beats_the_runner_up():
    """A 12% against B 9% over 1000 each: z = 2.1883, p = 0.0287 (the worked example)."""
    variants = {"B": (1000, 90), "A": (1000, 120), "C": (1000, 50)}
    assert ab_winner(variants) == "A"
    assert ab_winner(variants, confidence=0.99) is None


def test_ab_winner_none_when_leader_is_close():
    assert ab_winner({"A": (1000, 100), "B": (1000, 95)}) is None


def test_ab_winner_none_on_a_tie():
    assert ab_winner({"A": (1000, 100), "B": (2000, 200), "C": (1000, 10)}) is None


@pytest.mark.parametrize(
    "variants",
    [
        {},
        {"A": (1000, 120)},
        {"A": (1000, 120), "B": (0, 0)},
        {"A": (1000, 0), "B": (1000, 0)},
    ],
)
def test_ab_winner_none_without_a_comparison(variants):
    assert ab_winner(variants) is None


def test_ab_winner_refuses_impossible_counts():
    with pytest.raises(ValueError):
        ab_winner({"A": (10, 11), "B": (10, 1)})
