"""The BG/NBD ("beta-geometric / negative binomial") model of repeat purchasing.

Source: Fader, Hardie & Lee (2005), "Counting your sheep the easy way" / "Counting your customers
the easy way: an alternative to the Pareto/NBD model", Marketing Science 24(2), 275–284, and
Hardie's note "Implementing the BG/NBD model in Excel" (the log form of the likelihood).

Inputs are per-customer arrays: ``frequency`` x (repeat purchase days), ``recency`` t_x (time from
the first to the last purchase) and ``T`` (time from the first purchase to the as-of date), all in
the same unit (weeks, as in the paper, so α and the log-likelihood compare with the published
values). Everything is vectorised; there is no per-customer Python loop.
"""

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

__all__ = [
    "BGNBD",
    "bgnbd_expected_purchases",
    "bgnbd_expected_unconditional",
    "bgnbd_fit",
    "bgnbd_log_likelihood",
    "bgnbd_p_alive",
]


@dataclass(frozen=True)
class BGNBD:
    """Fitted BG/NBD parameters: purchase rate ~ Gamma(r, α), dropout probability ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float

    def as_dict(self) -> dict:
        return {
            "r": self.r,
            "alpha": self.alpha,
            "a": self.a,
            "b": self.b,
            "log_likelihood": self.log_likelihood,
        }


def _as_arrays(frequency, recency, T) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated float arrays of one shape; ValueError on anything the model cannot mean."""
    x = np.asarray(frequency, dtype=float)
    t_x = np.asarray(recency, dtype=float)
    t = np.asarray(T, dtype=float)
    if not (x.shape == t_x.shape == t.shape):
        raise ValueError("frequency, recency and T must have the same shape")
    if x.ndim != 1:
        raise ValueError("frequency, recency and T must be one-dimensional")
    if x.size == 0:
        raise ValueError("no customers")
    if not (np.isfinite(x).all() and np.isfinite(t_x).all() and np.isfinite(t).all()):
        raise ValueError("frequency, recency and T must be finite (no NaN or infinity)")
    if (x < 0).any() or (t_x < 0).any() or (t < 0).any():
        raise ValueError("frequency, recency and T must not be negative")
    if (x != np.round(x)).any():
        raise ValueError("frequency must be a whole number of repeat purchases")
    # A small tolerance: recency and T are often rounded separately (e.g. to 0.01 weeks).
    if (t_x > t + 1e-6).any():
        raise ValueError("recency must not exceed T")
    if ((x == 0) & (t_x > 0)).any():
        raise ValueError("recency must be 0 for customers without repeat purchases")
    return x, t_x, t


def bgnbd_log_likelihood(params: tuple, frequency, recency, T) -> np.ndarray:
    """Per-customer log-likelihood ln L(r, α, a, b | x, t_x, T) (FHL 2005 eq. 6).

    Written as ln A1 + ln(A2 + δ(x>0)·A3) with the sum taken by log-sum-exp, as in Hardie's Excel
    note, so that (α+T)^(r+x) never has to be formed and nothing overflows for large x.
    """
    r, alpha, a, b = (float(p) for p in params)
    x, t_x, t = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    ln_a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    ln_a2 = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + t)
    repeat = x > 0
    # For x = 0 the A3 term is absent; b + x − 1 would be ≤ 0 there, so evaluate at a safe x.
    x_safe = np.where(repeat, x, 1.0)
    ln_a3 = betaln(a + 1, b + x_safe - 1) - betaln(a, b) - (r + x) * np.log(alpha + t_x)
    ln_a3 = np.where(repeat, ln_a3, -np.inf)
    return ln_a1 + np.logaddexp(ln_a2, ln_a3)


def _collapse(x, t_x, t) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unique (x, t_x, T) rows and their counts: real data repeats rows a lot, which makes the
    likelihood cheaper without changing it."""
    rows, counts = np.unique(np.stack([x, t_x, t], axis=1), axis=0, return_counts=True)
    return rows[:, 0], rows[:, 1], rows[:, 2], counts.astype(float)


def _neg_ll_and_gradient(log_params, x, t_x, t, weights) -> tuple[float, np.ndarray]:
    """Mean negative log-likelihood and its gradient in log-parameters.

    The analytic gradient (digamma terms of the log form above) keeps a fit on 100,000
    customers to a few dozen likelihood evaluations instead of hundreds of numeric ones.
    """
    r, alpha, a, b = np.exp(log_params)
    repeat = x > 0
    x_safe = np.where(repeat, x, 1.0)
    ln_a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    ln_a2 = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + t)
    ln_a3 = betaln(a + 1, b + x_safe - 1) - betaln(a, b) - (r + x) * np.log(alpha + t_x)
    ln_a3 = np.where(repeat, ln_a3, -np.inf)
    ln_sum = np.logaddexp(ln_a2, ln_a3)
    total = float(np.dot(weights, ln_a1 + ln_sum))
    if not np.isfinite(total):
        return 1e10, np.zeros(4)
    share3 = np.exp(ln_a3 - ln_sum)  # weight of A3 in A2 + A3; 0 for x = 0
    share2 = 1.0 - share3
    psi_ab, psi_abx = digamma(a + b), digamma(a + b + x)
    d_r = (
        digamma(r + x)
        - digamma(r)
        + np.log(alpha)
        - share2 * np.log(alpha + t)
        - share3 * np.log(alpha + t_x)
    )
    d_alpha = r / alpha - (r + x) * (share2 / (alpha + t) + share3 / (alpha + t_x))
    d_a = share2 * (psi_ab - psi_abx) + share3 * (digamma(a + 1) - digamma(a) + psi_ab - psi_abx)
    d_b = share2 * (digamma(b + x) - psi_abx - digamma(b) + psi_ab) + share3 * (
        digamma(b + x_safe - 1) - psi_abx - digamma(b) + psi_ab
    )
    grad = np.array([np.dot(weights, d) for d in (d_r, d_alpha, d_a, d_b)])
    grad *= np.array([r, alpha, a, b])
    n = float(weights.sum())
    return -total / n, -grad / n


def bgnbd_fit(frequency, recency, T) -> BGNBD:
    """Maximum-likelihood fit of (r, α, a, b) (FHL 2005 §3), optimising over log-parameters.

    The start point is data-driven (α from the mean purchase rate) so the result does not depend
    on the unit of time; L-BFGS-B with the analytic gradient is deterministic.
    """
    x, t_x, t = _as_arrays(frequency, recency, T)
    ux, ut_x, ut, w = _collapse(x, t_x, t)
    mean_rate = max(float(x.sum()) / max(float(t.sum()), 1e-9), 1e-6)
    start = np.log([1.0, 1.0 / mean_rate, 1.0, 1.0])
    result = minimize(
        _neg_ll_and_gradient,
        start,
        args=(ux, ut_x, ut, w),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-12.0, 12.0)] * 4,
        options={"ftol": 1e-14, "gtol": 1e-9, "maxiter": 1000},
    )
    r, alpha, a, b = (float(v) for v in np.exp(result.x))
    ll = float(np.sum(w * bgnbd_log_likelihood((r, alpha, a, b), ux, ut_x, ut)))
    if not np.isfinite(ll):
        raise ValueError("the BG/NBD likelihood did not converge on these data")
    return BGNBD(r=r, alpha=alpha, a=a, b=b, log_likelihood=ll)


def bgnbd_p_alive(model: BGNBD, frequency, recency, T) -> np.ndarray:
    """P(alive | x, t_x, T) (FHL 2005 eq. 11 / Fader, Hardie & Lee 2008 note): 1 for x = 0.

    Computed as 1 / (1 + exp(ln term)) so (α+T)/(α+t_x) raised to r+x cannot overflow.
    """
    x, t_x, t = _as_arrays(frequency, recency, T)
    repeat = x > 0
    x_safe = np.where(repeat, x, 1.0)
    ln_term = (
        np.log(model.a)
        - np.log(model.b + x_safe - 1)
        + (model.r + x) * (np.log(model.alpha + t) - np.log(model.alpha + t_x))
    )
    return np.where(repeat, expit(-ln_term), 1.0)


def _expected_given_alive(model: BGNBD, x, horizon, big_t) -> np.ndarray:
    """The numerator of eq. 10: (c/(a−1))·[1 − ((α+T)/(α+T+t))^(r+x)·2F1(r+x, b+x; c; z)] with
    c = a+b+x−1 and z = t/(α+T+t); with x = 0 and T = 0 it is eq. 9.

    Euler's transformation 2F1(A, B; C; z) = (1−z)^(C−A−B)·2F1(C−A, C−B; C; z) turns the
    bracketed product into (1−z)^(a−1)·2F1(a+b−1−r, a−1; c; z): the power that underflows for
    large x disappears, the first two parameters are small constants, and the series converges
    faster the larger x is (c grows with x), so it stays finite for any x and t.
    """
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    c = a + b + x - 1.0
    one_minus_z = (alpha + big_t) / (alpha + big_t + horizon)
    z = horizon / (alpha + big_t + horizon)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        scaled = one_minus_z ** (a - 1.0) * hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
        out = (c / (a - 1.0)) * (1.0 - scaled)
    bad = ~np.isfinite(out)
    if bad.any():
        # When a and b run large together (the data show a dropout chance but no spread in
        # it), Beta(a, b) is a point mass at p = a/(a+b) and 2F1 is out of numerical reach;
        # the fixed-p limit of eq. 10 is (1/p)·[1 − ((α+T)/(α+T+p·t))^(r+x)].
        p = a / (a + b)
        limit = (
            1.0 - np.exp((r + x) * (np.log(alpha + big_t) - np.log(alpha + big_t + p * horizon)))
        ) / p
        out = np.where(bad, limit, out)
    return out


def bgnbd_expected_purchases(model: BGNBD, t, frequency, recency, T) -> np.ndarray:
    """E[X(T, T+t) | x, t_x, T], the expected purchases in the next ``t`` (FHL 2005 eq. 10)."""
    x, t_x, big_t = _as_arrays(frequency, recency, T)
    horizon = np.broadcast_to(np.asarray(t, dtype=float), x.shape)
    if (horizon < 0).any() or not np.isfinite(horizon).all():
        raise ValueError("the horizon t must be finite and not negative")
    return _expected_given_alive(model, x, horizon, big_t) * bgnbd_p_alive(model, x, t_x, big_t)


def bgnbd_expected_unconditional(model: BGNBD, t) -> float:
    """E[X(t)] for a customer just acquired (FHL 2005 eq. 9), in the Euler form used above."""
    t = float(t)
    if t < 0 or not np.isfinite(t):
        raise ValueError("t must be finite and not negative")
    zero = np.zeros(1)
    return float(_expected_given_alive(model, zero, np.full(1, t), zero)[0])
