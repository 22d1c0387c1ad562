"""Customer metrics: the purchase summary, the nightly recompute and its reproducibility, the
health score's reasons from the other apps' facts."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.analytics.enums import ChurnBand, Reason
from apps.analytics.exceptions import NotEnoughHistory
from apps.analytics.models import CustomerMetrics, ModelFit
from apps.analytics.services.metrics import metrics_recompute
from apps.analytics.summary import purchase_summary
from apps.customers.enums import OrderStatus
from apps.customers.models import Order
from tests.analytics.conftest import local_noon, make_history
from tests.customers.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2026, 6, 30)


def test_summary_counts_purchase_days_not_orders_and_leaves_refunds_out():
    customer = CustomerFactory()
    for day, total, status, refunded in [
        (dt.date(2026, 1, 5), "30", OrderStatus.PAID, "0"),
        (dt.date(2026, 1, 5), "20", OrderStatus.PAID, "0"),  # same day: one purchase day
        (dt.date(2026, 2, 1), "100", OrderStatus.PARTIALLY_REFUNDED, "40"),
        (dt.date(2026, 3, 1), "500", OrderStatus.REFUNDED, "500"),  # not a purchase
        (dt.date(2026, 7, 1), "70", OrderStatus.PAID, "0"),  # after the as-of date
    ]:
        OrderFactory(
            customer=customer,
            placed_at=local_noon(day),
            total=Decimal(total),
            status=status,
            refunded_amount=Decimal(refunded),
        )

    s = purchase_summary(as_of=AS_OF)

    assert list(s.customer_ids) == [customer.pk]
    assert (s.orders[0], s.days[0], s.frequency[0]) == (3, 2, 1)
    assert s.spend[0] == pytest.approx(110.0)  # 30 + 20 + (100 − 40)
    assert s.monetary[0] == pytest.approx(60.0)  # the repeat day only
    assert s.recency_weeks[0] == pytest.approx(27 / 7)
    assert s.age_weeks[0] == pytest.approx((AS_OF - dt.date(2026, 1, 5)).days / 7)
    assert s.days_since_last[0] == (AS_OF - dt.date(2026, 2, 1)).days


def test_summary_reads_days_in_the_business_time_zone():
    customer = CustomerFactory()
    # 23:30 in Shanghai on the as-of day is 15:30 UTC: it belongs to that day, not the next.
    late = dt.datetime(2026, 6, 30, 23, 30, tzinfo=timezone.get_default_timezone())
    OrderFactory(customer=customer, placed_at=late)
    OrderFactory(customer=customer, placed_at=late + dt.timedelta(hours=1))  # July 1st there

    s = purchase_summary(as_of=AS_OF)

    assert s.orders[0] == 1 and s.last[0] == AS_OF.toordinal()


def test_recompute_writes_every_customer_and_the_fit(history):
    never = CustomerFactory()

    done = metrics_recompute()

    assert CustomerMetrics.objects.count() == len(history) + 1 == done.customers
    fit = ModelFit.objects.get()
    assert done.fit == fit and fit.customers == done.buyers == len(history)
    assert set(fit.bgnbd) == {"r", "alpha", "a", "b", "log_likelihood"}
    row = CustomerMetrics.objects.exclude(customer=never).order_by("pk").first()
    assert 1 <= row.r_score <= 5 and row.rfm_segment
    assert 0 < row.p_alive <= 1 and 0 <= row.churn_risk <= 1
    assert row.churn_band in ChurnBand.values and row.health_score is not None
    assert row.predicted_clv >= 0
    none = CustomerMetrics.objects.get(customer=never)
    assert (none.orders, none.churn_band, none.health_score) == (0, "", None)
    assert none.reasons == [{"code": Reason.NO_ORDERS}]


def test_churn_model_is_back_tested_on_the_programmes_own_history(history):
    metrics_recompute()

    churn = ModelFit.objects.get().churn
    assert churn["samples"] > 0 and 0 < churn["positives"] < churn["samples"]
    assert 0.5 < churn["auc"] <= 1 and 0 < churn["baseline_auc"] <= 1
    assert len(churn["auc_folds"]) == 5


def test_the_same_date_gives_the_same_rows_whatever_came_after(history):
    as_of = timezone.localdate() - dt.timedelta(days=30)
    metrics_recompute(as_of=as_of)
    first = list(
        CustomerMetrics.objects.order_by("pk").values_list(
            "customer_id",
            "orders",
            "frequency",
            "monetary",
            "r_score",
            "rfm_segment",
            "p_alive",
            "expected_purchases",
            "predicted_clv",
            "churn_risk",
            "health_score",
        )
    )
    # Orders after the as-of date change nothing of that date's metrics.
    OrderFactory.create_batch(3, customer=history[0], placed_at=timezone.now())

    metrics_recompute(as_of=as_of)

    again = list(
        CustomerMetrics.objects.order_by("pk").values_list(
            "customer_id",
            "orders",
            "frequency",
            "monetary",
            "r_score",
            "rfm_segment",
            "p_alive",
            "expected_purchases",
            "predicted_clv",
            "churn_risk",
            "health_score",
        )
    )
    assert again == first


def test_too_little_history_writes_nothing():
    make_history(customers=5)

    with pytest.raises(NotEnoughHistory):
        metrics_recompute()

    assert CustomerMetrics.objects.count() == 0 and ModelFit.objects.count() == 0


def test_band_start_survives_a_recompute_that_keeps_the_band(history):
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    metrics_recompute(as_of=yesterday - dt.timedelta(days=1))
    before = dict(CustomerMetrics.objects.values_list("customer_id", "band_since"))

    metrics_recompute(as_of=yesterday)

    for cid, band_since in CustomerMetrics.objects.values_list("customer_id", "band_since"):
        assert band_since in (before[cid], yesterday)


def test_merged_and_erased_customers_have_no_metrics(history):
    merged, erased = history[0], history[1]
    merged.merged_into, merged.merged_at = history[2], timezone.now()
    merged.save(update_fields=["merged_into", "merged_at"])
    erased.anonymized_at = timezone.now()
    erased.save(update_fields=["anonymized_at"])

    metrics_recompute()

    assert not CustomerMetrics.objects.filter(customer__in=[merged, erased]).exists()
    assert Order.objects.filter(customer=merged).exists()
