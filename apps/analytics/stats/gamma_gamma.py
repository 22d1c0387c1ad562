"""The Gamma-Gamma model of spend per transaction, and the discounted CLV built on BG/NBD.

Source: Fader & Hardie (2013), "The Gamma-Gamma model of monetary value" (and Fader, Hardie &
Lee 2005, "RFM and CLV: using iso-value curves for customer base analysis", JMR 42(4)). A
customer's transaction values are Gamma(p, ν) with ν ~ Gamma(q, γ); the observed mean m_x of x
transactions is then Gamma(px, νx), and integrating ν out gives the likelihood below.
The CLV sum follows the lifetimes package's ``customer_lifetime_value`` (monthly steps).
"""

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import digamma, gammaln

from .bgnbd import BGNBD, bgnbd_expected_purchases

__all__ = ["GammaGamma", "clv_predict", "gamma_gamma_expected_spend", "gamma_gamma_fit"]


@dataclass(frozen=True)
class GammaGamma:
    """Fitted Gamma-Gamma parameters (p, q, γ — called ``v`` here, as in lifetimes)."""

    p: float
    q: float
    v: float
    log_likelihood: float

    def as_dict(self) -> dict:
        return {"p": self.p, "q": self.q, "v": self.v, "log_likelihood": self.log_likelihood}


def _validated(frequency, monetary) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(frequency, dtype=float)
    m = np.asarray(monetary, dtype=float)
    if x.shape != m.shape or x.ndim != 1:
        raise ValueError("frequency and monetary must be one-dimensional and of the same shape")
    if not (np.isfinite(x).all() and np.isfinite(m).all()):
        raise ValueError("frequency and monetary must be finite (no NaN or infinity)")
    if (x < 0).any() or (m < 0).any():
        raise ValueError("frequency and monetary must not be negative")
    return x, m


def _neg_ll_and_gradient(log_params, x, m) -> tuple[float, np.ndarray]:
    """Mean negative log-likelihood (Fader & Hardie 2013 eq. 3) and its log-parameter gradient:

    ln f(m_x | x) = ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln γ + (px−1) ln m_x + px ln x
                    − (px+q) ln(γ + m_x x)
    """
    p, q, v = np.exp(log_params)
    px = p * x
    log_denominator = np.log(v + m * x)
    ll = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * log_denominator
    )
    total = float(ll.sum())
    if not np.isfinite(total):
        return 1e10, np.zeros(3)
    psi = digamma(px + q)
    d_p = x * (psi - digamma(px) + np.log(m) + np.log(x) - log_denominator)
    d_q = psi - digamma(q) + np.log(v) - log_denominator
    d_v = q / v - (px + q) / (v + m * x)
    grad = np.array([d_p.sum() * p, d_q.sum() * q, d_v.sum() * v])
    return -total / x.size, -grad / x.size


def gamma_gamma_fit(frequency, monetary) -> GammaGamma:
    """Maximum-likelihood fit on the customers with repeat purchases (frequency > 0) and a
    positive mean spend ``monetary`` (the mean value of their repeat transactions).

    Start values come from the method of moments on the spends, so the fit is scale-free and
    deterministic (L-BFGS-B on log-parameters with the analytic gradient).
    """
    x, m = _validated(frequency, monetary)
    keep = (x > 0) & (m > 0)
    if int(keep.sum()) < 2:
        raise ValueError("the Gamma-Gamma model needs at least 2 customers with repeat purchases")
    x, m = x[keep], m[keep]
    # Rough start: p = 1 and q = 2 give a population mean of v; the spread tunes itself.
    start = np.log([1.0, 2.0, float(np.mean(m))])
    result = minimize(
        _neg_ll_and_gradient,
        start,
        args=(x, m),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-12.0, 12.0)] * 3,
        options={"ftol": 1e-14, "gtol": 1e-9, "maxiter": 1000},
    )
    p, q, v = (float(value) for value in np.exp(result.x))
    return GammaGamma(p=p, q=q, v=v, log_likelihood=-float(result.fun) * x.size)


def gamma_gamma_expected_spend(model: GammaGamma, frequency, monetary) -> np.ndarray:
    """E[M | x, m_x] = p(γ + x·m_x) / (px + q − 1) (Fader & Hardie 2013 eq. 5).

    A weighted average of the population mean pγ/(q−1) and the customer's own mean m_x, with
    weight px/(px+q−1) on m_x; for x = 0 it is the population mean.
    """
    x, m = _validated(frequency, monetary)
    p, q, v = model.p, model.q, model.v
    if q <= 1:
        raise ValueError("the population mean spend is infinite for q ≤ 1")
    return np.where(x > 0, p * (v + x * m) / (p * x + q - 1.0), p * v / (q - 1.0))


def clv_predict(
    bgnbd: BGNBD,
    gg: GammaGamma,
    frequency,
    recency,
    T,
    monetary,
    *,
    months: int = 12,
    annual_discount_rate: float = 0.10,
    weeks_per_month: float = 4.345,
) -> np.ndarray:
    """Discounted expected value of the next ``months`` months per customer.

    Σ_{m=1..months} (E[X(T, T+m months)] − E[X(T, T+(m−1) months)]) · E[M] / (1+d)^m with the
    monthly rate d = (1+annual)^(1/12) − 1: purchases are expected month by month (BG/NBD
    eq. 10, time in weeks) and each month's value is discounted to today.
    """
    if months < 1:
        raise ValueError("months must be at least 1")
    if annual_discount_rate <= -1:
        raise ValueError("the discount rate must be greater than −100%")
    spend = gamma_gamma_expected_spend(gg, frequency, monetary)
    monthly_rate = (1.0 + annual_discount_rate) ** (1.0 / 12.0) - 1.0
    x = np.asarray(frequency, dtype=float)
    # One evaluation per month boundary for all customers at once: (months+1) × n.
    cumulative = np.stack(
        [
            bgnbd_expected_purchases(bgnbd, k * weeks_per_month, frequency, recency, T)
            if k
            else np.zeros(x.shape)
            for k in range(months + 1)
        ]
    )
    per_month = np.diff(cumulative, axis=0)
    discount = (1.0 + monthly_rate) ** -np.arange(1, months + 1)
    return spend * (discount @ per_month)
