"""Fitting the customer-value models on the programme's own orders.

``value_fit`` is the one place the models meet the data: the purchase summary up to a date,
BG/NBD and Gamma-Gamma by maximum likelihood, CLV, and the churn model back-tested on the
programme's history (features from the orders up to ``as_of − horizon``, label: bought again in
the ``horizon`` days after). ``customer_value`` (the command) prints it; ``metrics_recompute``
stores it per customer.
"""

import datetime as dt
from dataclasses import dataclass

import numpy as np
from django.utils import timezone

from ..exceptions import NotEnoughHistory
from ..stats.bgnbd import BGNBD, bgnbd_expected_purchases, bgnbd_fit, bgnbd_p_alive
from ..stats.churn import ChurnModel, churn_features, churn_model_fit
from ..stats.gamma_gamma import GammaGamma, clv_predict, gamma_gamma_expected_spend, gamma_gamma_fit
from ..summary import Summary, purchase_summary

MIN_CUSTOMERS = 20  # fewer buyers than this and maximum likelihood has nothing to stand on
MIN_REPEATERS = 10
# The back-test learns five weights: a sample this size pins them down, and keeps the nightly
# fit to seconds at any programme size (a fixed, seeded sample: the same data, the same model).
BACKTEST_SAMPLE = 20_000
# One regularisation strength: with five standardised features and thousands of customers the
# choice between 0.1 and 10 moves the AUC in the fourth decimal (measured on CDNOW), not worth
# the 20 extra fits of an inner cross-validation every night.
BACKTEST_C = (1.0,)


@dataclass(frozen=True)
class ValueFit:
    summary: Summary
    bgnbd: BGNBD
    gamma_gamma: GammaGamma | None
    churn: ChurnModel | None
    churn_refusal: str
    horizon_days: int
    expected: np.ndarray  # purchases in the next horizon_days
    p_alive: np.ndarray
    expected_spend: np.ndarray
    clv: np.ndarray
    churn_risk: np.ndarray
    fitted_at: dt.datetime
    seconds: float

    @property
    def expected_repeat_purchases(self) -> float:
        return float(self.expected.sum())


def _bgnbd(summary: Summary) -> BGNBD:
    if len(summary) < MIN_CUSTOMERS:
        raise NotEnoughHistory(customers=len(summary))
    return bgnbd_fit(summary.frequency, summary.recency_weeks, summary.age_weeks)


def _churn_inputs(
    summary: Summary, model: BGNBD, horizon_weeks: float
) -> tuple[np.ndarray, np.ndarray]:
    f, r, t = summary.frequency, summary.recency_weeks, summary.age_weeks
    expected = bgnbd_expected_purchases(model, horizon_weeks, f, r, t)
    return churn_features(
        f, r, t, summary.monetary, expected, bgnbd_p_alive(model, f, r, t)
    ), expected


def churn_backtest(*, now: Summary, horizon_days: int) -> ChurnModel:
    """Train on the past: features as of ``now.as_of − horizon``, label = a purchase day in the
    ``horizon`` days after it. Raises ValueError when that past is too thin to learn from."""
    cutoff = now.as_of - dt.timedelta(days=horizon_days)
    past = purchase_summary(as_of=cutoff)
    if len(past) < MIN_CUSTOMERS:
        raise ValueError(f"only {len(past)} customers had bought by {cutoff}")
    # Both summaries are sorted by customer id and everyone in the past is in the present.
    where = np.searchsorted(now.customer_ids, past.customer_ids)
    bought = now.last[where] > cutoff.toordinal()
    features, expected = _churn_inputs(past, _bgnbd(past), horizon_days / 7.0)
    label = bought.astype(int)
    if label.size > BACKTEST_SAMPLE:
        keep = np.sort(np.random.default_rng(0).choice(label.size, BACKTEST_SAMPLE, replace=False))
        features, label, expected = features[keep], label[keep], expected[keep]
    return churn_model_fit(features, label, expected, Cs=BACKTEST_C)


def value_fit(
    *,
    as_of: dt.date,
    horizon_days: int,
    clv_months: int = 12,
    discount_rate: float = 0.10,
    churn_horizon_days: int | None = None,
) -> ValueFit:
    """Fit every model on orders up to ``as_of``. ``horizon_days`` is the forecast window for
    expected purchases; the churn model answers "no purchase within ``churn_horizon_days``"
    (the same window unless given)."""
    started = timezone.now()
    summary = purchase_summary(as_of=as_of)
    bg = _bgnbd(summary)
    f, r, t, m = summary.frequency, summary.recency_weeks, summary.age_weeks, summary.monetary
    expected = bgnbd_expected_purchases(bg, horizon_days / 7.0, f, r, t)
    p_alive = bgnbd_p_alive(bg, f, r, t)
    gg = gamma_gamma_fit(f, m) if int((f > 0).sum()) >= MIN_REPEATERS else None
    if gg is not None:
        spend = gamma_gamma_expected_spend(gg, f, m)
        clv = clv_predict(bg, gg, f, r, t, m, months=clv_months, annual_discount_rate=discount_rate)
    else:
        spend = np.full(len(summary), float(summary.spend.sum() / max(summary.days.sum(), 1)))
        clv = np.zeros(len(summary))
    churn_days = churn_horizon_days or horizon_days
    churn, refusal = None, ""
    try:
        churn = churn_backtest(now=summary, horizon_days=churn_days)
    except ValueError as exc:
        refusal = str(exc)
    if churn is not None:
        features, _ = _churn_inputs(summary, bg, churn_days / 7.0)
        risk = 1.0 - churn.predict_buy(features)
    else:
        # No back-test to learn from: the textbook answer, P(dead) or P(alive and no purchase).
        soon = bgnbd_expected_purchases(bg, churn_days / 7.0, f, r, t)
        risk = 1.0 - p_alive * (1.0 - np.exp(-soon / np.maximum(p_alive, 1e-9)))
    return ValueFit(
        summary=summary,
        bgnbd=bg,
        gamma_gamma=gg,
        churn=churn,
        churn_refusal=refusal,
        horizon_days=horizon_days,
        expected=expected,
        p_alive=p_alive,
        expected_spend=spend,
        clv=clv,
        churn_risk=np.clip(risk, 0.0, 1.0),
        fitted_at=timezone.now(),
        seconds=(timezone.now() - started).total_seconds(),
    )


def value_report(fit: ValueFit) -> dict:
    """The ``customer_value --json`` document (DESIGN §6)."""
    churn = None
    if fit.churn is not None:
        churn = {
            "auc": round(fit.churn.auc, 4),
            "baseline_auc": round(fit.churn.baseline_auc, 4),
            "fitted_at": fit.fitted_at.isoformat(),
        }
    gg = fit.gamma_gamma
    return {
        "as_of": fit.summary.as_of.isoformat(),
        "customers": len(fit.summary),
        "horizon_days": fit.horizon_days,
        "bgnbd": fit.bgnbd.as_dict(),
        "gamma_gamma": {"p": gg.p, "q": gg.q, "v": gg.v} if gg else None,
        "expected_repeat_purchases": round(fit.expected_repeat_purchases, 3),
        "churn_model": churn,
    }
