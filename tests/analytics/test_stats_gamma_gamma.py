"""Gamma-Gamma spend model against Fader & Hardie (2013), and the discounted CLV.

Monetary definition that reproduces p = 6.25, q = 3.74, γ = 15.44 (and LL −4055.9): for each of
the 946 customers with repeat purchases in the calibration period, the mean dollar value of the
repeat purchase days, where a purchase day's value is the sum of that day's purchases and the
first purchase day is excluded.
"""

import numpy as np
import pytest

from apps.analytics.stats.bgnbd import bgnbd_expected_purchases, bgnbd_fit
from apps.analytics.stats.gamma_gamma import (
    GammaGamma,
    clv_predict,
    gamma_gamma_expected_spend,
    gamma_gamma_fit,
)
from tests.analytics import cdnow


@pytest.fixture(scope="module")
def models():
    s = cdnow.summary()
    return bgnbd_fit(s.frequency, s.recency, s.T), gamma_gamma_fit(s.frequency, s.monetary)


def test_fit_reproduces_the_published_parameters(models):
    _, gg = models
    s = cdnow.summary()
    assert int(((s.frequency > 0) & (s.monetary > 0)).sum()) == 946
    assert gg.p == pytest.approx(6.25, rel=0.005)
    assert gg.q == pytest.approx(3.74, rel=0.005)
    assert gg.v == pytest.approx(15.44, rel=0.005)
    assert gg.log_likelihood == pytest.approx(-4055.9, abs=0.5)
    assert set(gg.as_dict()) == {"p", "q", "v", "log_likelihood"}


def test_expected_spend_shrinks_towards_the_population_mean(models):
    _, gg = models
    population = gg.p * gg.v / (gg.q - 1)
    spend = gamma_gamma_expected_spend(
        gg, [0.0, 1.0, 1.0, 20.0, 1.0], [0.0, 100.0, 5.0, 100.0, population]
    )
    assert spend[0] == pytest.approx(population)
    assert population < spend[1] < 100  # pulled down from a high mean
    assert 5 < spend[2] < population  # pulled up from a low mean
    assert spend[3] > spend[1]  # more purchases, more weight on the customer's own mean
    assert spend[4] == pytest.approx(population)


def test_fit_refuses_too_few_repeat_customers():
    with pytest.raises(ValueError):
        gamma_gamma_fit([0.0, 0.0, 3.0], [0.0, 10.0, 10.0])
    with pytest.raises(ValueError):
        gamma_gamma_fit([1.0, np.nan], [1.0, 2.0])


def test_clv(models):
    bg, gg = models
    s = cdnow.summary()
    clv = clv_predict(bg, gg, s.frequency, s.recency, s.T, s.monetary)
    assert clv.shape == s.frequency.shape
    assert (clv > 0).all()

    frequency = np.array([1.0, 3.0, 6.0, 12.0])
    T = np.full(4, 30.0)
    monetary = np.full(4, 40.0)
    by_frequency = clv_predict(bg, gg, frequency, T, T, monetary)
    assert (np.diff(by_frequency) > 0).all()

    cheap = clv_predict(bg, gg, frequency, T, T, monetary, annual_discount_rate=0.0)
    dear = clv_predict(bg, gg, frequency, T, T, monetary, annual_discount_rate=0.3)
    assert (dear < by_frequency).all()
    assert (by_frequency < cheap).all()


def test_clv_without_discount_is_spend_times_expected_purchases(models):
    bg, gg = models
    x, t_x, T, m = np.array([2.0]), np.array([20.0]), np.array([30.0]), np.array([25.0])
    clv = clv_predict(bg, gg, x, t_x, T, m, months=6, annual_discount_rate=0.0, weeks_per_month=4)
    expected = bgnbd_expected_purchases(bg, 24, x, t_x, T) * gamma_gamma_expected_spend(gg, x, m)
    np.testing.assert_allclose(clv, expected)
    assert isinstance(gg, GammaGamma)
