"""BG/NBD against the published CDNOW fit (Fader, Hardie & Lee 2005)."""

import numpy as np
import pytest
from scipy.special import hyp2f1

from apps.analytics.stats.bgnbd import (
    BGNBD,
    bgnbd_expected_purchases,
    bgnbd_expected_unconditional,
    bgnbd_fit,
    bgnbd_log_likelihood,
    bgnbd_p_alive,
)
from tests.analytics import cdnow

PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


@pytest.fixture(scope="module")
def published_fit() -> BGNBD:
    return bgnbd_fit(*cdnow.published_summary())


def simulate(n: int, r=0.25, alpha=4.0, a=0.8, b=2.5, seed=1):
    """(x, t_x, T) drawn from the BG/NBD process itself, vectorised: a customer can make at most
    Geometric(p) repeat purchases before dropping out; given N Poisson arrivals in (0, T], the
    k-th arrival is T × Beta(k, N − k + 1)."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(r, 1 / alpha, n)
    dropout = rng.beta(a, b, n)
    T = rng.uniform(1, 52, n)
    cap = rng.geometric(dropout)
    arrivals = rng.poisson(rate * T)
    x = np.minimum(arrivals, cap)
    k = np.maximum(x, 1)
    recency = np.where(x > 0, T * rng.beta(k, np.maximum(arrivals - k, 0) + 1), 0.0)
    return x.astype(float), recency, T


def test_fit_reproduces_the_published_parameters(published_fit):
    for name, value in PUBLISHED.items():
        assert getattr(published_fit, name) == pytest.approx(value, rel=0.005), name
    assert published_fit.log_likelihood == pytest.approx(-9582.4, abs=0.5)
    assert set(published_fit.as_dict()) == {"r", "alpha", "a", "b", "log_likelihood"}


def test_log_likelihood_is_per_customer_and_sums_to_the_fit(published_fit):
    frequency, recency, T = cdnow.published_summary()
    params = (published_fit.r, published_fit.alpha, published_fit.a, published_fit.b)
    ll = bgnbd_log_likelihood(params, frequency, recency, T)
    assert ll.shape == frequency.shape
    assert ll.sum() == pytest.approx(published_fit.log_likelihood, abs=1e-6)


def test_summary_from_the_transactions_equals_the_published_csv():
    summary = cdnow.summary()
    frequency, recency, T = cdnow.published_summary()
    assert np.array_equal(summary.frequency, frequency)
    assert np.abs(summary.recency - recency).max() < 0.01
    assert np.abs(summary.T - T).max() < 0.01
    assert summary.frequency.sum() == 2457
    assert summary.T.max() == pytest.approx(272 / 7)


def test_holdout_forecast(published_fit):
    summary = cdnow.summary()
    expected = bgnbd_expected_purchases(
        published_fit, cdnow.HOLDOUT_WEEKS, summary.frequency, summary.recency, summary.T
    )
    assert expected.sum() == pytest.approx(1650, rel=0.03)
    assert summary.holdout_days.sum() == 1882


def test_expected_purchases_matches_the_textbook_form_of_eq_10(published_fit):
    """The Euler-transformed evaluation equals eq. 10 as printed where the latter is stable."""
    m = published_fit
    x, t_x, T = cdnow.published_summary()
    t = 39.0
    z = t / (m.alpha + T + t)
    direct = (
        (m.a + m.b + x - 1)
        / (m.a - 1)
        * (
            1
            - ((m.alpha + T) / (m.alpha + T + t)) ** (m.r + x)
            * hyp2f1(m.r + x, m.b + x, m.a + m.b + x - 1, z)
        )
        / (1 + (x > 0) * m.a / (m.b + x - 1) * ((m.alpha + T) / (m.alpha + t_x)) ** (m.r + x))
    )
    ours = bgnbd_expected_purchases(m, t, x, t_x, T)
    np.testing.assert_allclose(ours, direct, rtol=1e-9)
    unconditional = bgnbd_expected_unconditional(m, t)
    zero = np.zeros(1)
    assert unconditional == pytest.approx(bgnbd_expected_purchases(m, t, zero, zero, zero)[0])
    assert 0 < unconditional < 39


def test_expected_purchases_stays_finite_for_extreme_customers(published_fit):
    x = np.array([0.0, 500.0, 5000.0, 1.0])
    t_x = np.array([0.0, 100.0, 499.0, 0.5])
    T = np.array([1000.0, 100.0, 500.0, 1000.0])
    expected = bgnbd_expected_purchases(published_fit, 10_000, x, t_x, T)
    assert np.isfinite(expected).all()
    assert (expected >= 0).all()


def test_p_alive(published_fit):
    frequency, recency, T = cdnow.published_summary()
    alive = bgnbd_p_alive(published_fit, frequency, recency, T)
    assert ((alive > 0) & (alive <= 1)).all()
    assert (alive[frequency == 0] == 1).all()
    # The same customer looks less alive the longer ago the last purchase was.
    longer_ago = bgnbd_p_alive(published_fit, [3.0, 3.0], [30.0, 5.0], [38.0, 38.0])
    assert longer_ago[0] > longer_ago[1]


@pytest.mark.parametrize(
    ("frequency", "recency", "T"),
    [
        ([], [], []),
        ([-1.0], [0.0], [5.0]),
        ([1.0], [-1.0], [5.0]),
        ([2.0], [6.0], [5.0]),
        ([np.nan], [1.0], [5.0]),
        ([1.0], [1.0], [np.nan]),
        ([1.0, 2.0], [1.0], [5.0]),
        ([1.5], [1.0], [5.0]),
    ],
)
def test_refusals(frequency, recency, T):
    with pytest.raises(ValueError):
        bgnbd_fit(frequency, recency, T)


def test_large_synthetic_fit_is_finite_and_recovers_the_truth():
    x, recency, T = simulate(100_000)
    model = bgnbd_fit(x, recency, T)
    values = np.array(list(model.as_dict().values()))
    assert np.isfinite(values).all()
    assert model.r == pytest.approx(0.25, rel=0.1)
    assert model.alpha == pytest.approx(4.0, rel=0.1)


def test_fit_is_deterministic():
    x, recency, T = cdnow.published_summary()
    assert bgnbd_fit(x, recency, T) == bgnbd_fit(x, recency, T)
