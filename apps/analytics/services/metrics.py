"""``metrics_recompute``: every customer's metrics as of a date, in one pass.

Orders up to the date only, so the same date gives the same rows (invariant: reproducible). The
other apps' facts (open and breached tickets, the last NPS answer, points about to expire) come
through their selectors, read as of the same date where they keep history. Rows are written in
batches with one upsert each; the band's start date survives a recompute that keeps the band.
"""

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.complaints.selectors import open_tickets_by_customer
from apps.core.bulk import rows_upsert
from apps.customers.models import Customer
from apps.loyalty.selectors import points_expiring_by_customer
from apps.surveys.selectors import last_nps_by_customer

from ..enums import ChurnBand
from ..health import EXPIRING_DAYS, Facts, health_assess
from ..models import AnalyticsSettings, CustomerMetrics, ModelFit
from ..stats.rfm import rfm_scores, rfm_segment
from ..summary import day_start
from .value import ValueFit, value_fit


@dataclass(frozen=True)
class Recomputed:
    as_of: dt.date
    customers: int
    buyers: int
    fit: ModelFit
    seconds: float


def _fit_row(fit: ValueFit, as_of: dt.date) -> ModelFit:
    return ModelFit.objects.create(
        as_of=as_of,
        fitted_at=fit.fitted_at,
        customers=len(fit.summary),
        bgnbd=fit.bgnbd.as_dict(),
        gamma_gamma=fit.gamma_gamma.as_dict() if fit.gamma_gamma else None,
        churn=fit.churn.to_json() if fit.churn else {"refused": fit.churn_refusal},
        expected_repeat_purchases=fit.expected_repeat_purchases,
        horizon_days=fit.horizon_days,
        seconds=fit.seconds,
    )


def _facts(as_of: dt.date) -> dict[int, Facts]:
    moment = day_start(as_of + dt.timedelta(days=1))
    tickets = open_tickets_by_customer(as_of=moment)
    nps = last_nps_by_customer(as_of=moment)
    expiring = points_expiring_by_customer(as_of=moment, within_days=EXPIRING_DAYS)
    facts: dict[int, Facts] = {}
    for cid in tickets.keys() | nps.keys() | expiring.keys():
        open_, late = tickets.get(cid, (0, 0))
        score, group = nps.get(cid, (None, ""))
        facts[cid] = Facts(
            open_tickets=open_,
            breached_tickets=late,
            nps_score=score,
            nps_group=group,
            points_expiring=expiring.get(cid, 0),
        )
    return facts


def metrics_recompute(*, as_of: dt.date | None = None) -> Recomputed:
    """Fit the models on orders up to ``as_of`` (default: yesterday, the last whole day) and
    write every active customer's metrics row. Raises ``NotEnoughHistory`` before writing
    anything when there are too few buyers to fit."""
    started = timezone.now()
    as_of = as_of or timezone.localdate() - dt.timedelta(days=1)
    settings = AnalyticsSettings.get()
    fit = value_fit(
        as_of=as_of,
        horizon_days=settings.horizon_days,
        clv_months=settings.clv_months,
        discount_rate=float(settings.discount_rate),
    )
    facts = _facts(as_of)
    previous = {
        cid: (band, since)
        for cid, band, since in CustomerMetrics.objects.values_list(
            "customer_id", "churn_band", "band_since"
        ).iterator(chunk_size=10_000)
    }
    # A list, not a server-side cursor: the rows stream through COPY on this connection.
    customer_ids = list(
        Customer.objects.filter(merged_into__isnull=True, anonymized_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    with transaction.atomic():
        model_fit = _fit_row(fit, as_of)
        rows = _rows(
            customer_ids,
            fit=fit,
            facts=facts,
            previous=previous,
            settings=settings,
            stamp=(as_of, model_fit.pk, timezone.now()),
        )
        written = rows_upsert(
            model=CustomerMetrics, columns=COLUMNS, rows=rows, conflict="customer_id"
        )
        CustomerMetrics.objects.filter(
            Q(customer__merged_into__isnull=False) | Q(customer__anonymized_at__isnull=False)
        ).delete()
    return Recomputed(
        as_of=as_of,
        customers=written,
        buyers=len(fit.summary),
        fit=model_fit,
        seconds=(timezone.now() - started).total_seconds(),
    )


# The columns written, in the order ``_rows`` yields them.
COLUMNS = [
    "customer_id", "as_of", "fit_id", "computed_at", "orders", "spend", "first_order_on",
    "last_order_on", "recency_days", "frequency", "monetary", "tenure_days", "r_score",
    "f_score", "m_score", "rfm_segment", "p_alive", "expected_purchases", "expected_spend",
    "predicted_clv", "churn_risk", "churn_band", "band_since", "health_score", "reasons",
]  # fmt: skip


def _bands(risk: np.ndarray, settings: AnalyticsSettings) -> np.ndarray:
    """The churn band of each risk: high from ``high_risk``, medium from ``medium_risk``."""
    return np.select(
        [risk >= float(settings.high_risk), risk >= float(settings.medium_risk)],
        [ChurnBand.HIGH.value, ChurnBand.MEDIUM.value],
        ChurnBand.LOW.value,
    )


def _rows(customer_ids, *, fit: ValueFit, facts, previous, settings, stamp) -> Iterator[tuple]:
    """One tuple per customer (``COLUMNS``): the arrays are computed once, vectorised; only the
    health reasons are worked out customer by customer."""
    s = fit.summary
    average_day = np.where(s.days > 0, s.spend / np.maximum(s.days, 1), 0.0)
    r, f, m = rfm_scores(s.days_since_last, s.orders, average_day)
    segments = rfm_segment(r, f, m).tolist()
    bands = _bands(fit.churn_risk, settings).tolist()
    index = {cid: i for i, cid in enumerate(s.customer_ids.tolist())}
    as_of, fit_id, now = stamp
    cols = {
        "orders": s.orders.tolist(),
        "spend": np.round(s.spend, 2).tolist(),
        "first": s.first.tolist(),
        "last": s.last.tolist(),
        "since_last": s.days_since_last.tolist(),
        "frequency": s.frequency.tolist(),
        "monetary": np.round(s.monetary, 2).tolist(),
        "r": r.tolist(),
        "f": f.tolist(),
        "m": m.tolist(),
        "p_alive": np.round(fit.p_alive, 6).tolist(),
        "expected": np.round(fit.expected, 6).tolist(),
        "exp_spend": np.round(fit.expected_spend, 2).tolist(),
        "clv": np.round(fit.clv, 2).tolist(),
        "risk": np.round(fit.churn_risk, 6).tolist(),
    }
    as_of_ordinal = as_of.toordinal()
    nobody = Facts()
    for cid in customer_ids:
        fact = facts.get(cid, nobody)
        i = index.get(cid)
        if i is None:
            score, reasons = health_assess(
                churn_risk=None,
                days_since_last=None,
                frequency=0,
                span_days=0,
                p_alive=None,
                facts=fact,
            )
            yield (
                cid, as_of, fit_id, now, 0, 0, None, None, None, 0, 0, None, None, None,
                None, "", None, None, None, None, None, "", None, score, json.dumps(reasons),
            )  # fmt: skip
            continue
        band = bands[i]
        band_before, since_before = previous.get(cid, ("", None))
        score, reasons = health_assess(
            churn_risk=cols["risk"][i],
            days_since_last=cols["since_last"][i],
            frequency=cols["frequency"][i],
            span_days=cols["last"][i] - cols["first"][i],
            p_alive=cols["p_alive"][i],
            facts=fact,
            horizon_days=settings.horizon_days,
        )
        yield (
            cid, as_of, fit_id, now, cols["orders"][i], cols["spend"][i],
            dt.date.fromordinal(cols["first"][i]), dt.date.fromordinal(cols["last"][i]),
            cols["since_last"][i], cols["frequency"][i], cols["monetary"][i],
            as_of_ordinal - cols["first"][i], cols["r"][i], cols["f"][i], cols["m"][i],
            segments[i], cols["p_alive"][i], cols["expected"][i], cols["exp_spend"][i],
            cols["clv"][i], cols["risk"][i], band,
            since_before if band == band_before and since_before else as_of,
            score, json.dumps(reasons),
        )  # fmt: skip
