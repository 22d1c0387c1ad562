"""The Django admin saves segments through the service: rules checked, audited; a refusal
writes nothing. Computed rows are view-only."""

import json
from decimal import Decimal

import pytest
from django.urls import reverse

from apps.analytics.models import AnalyticsSettings, Segment
from apps.core.models import AuditEvent

pytestmark = pytest.mark.django_db

VIP = {"field": "customer.tags", "op": "has", "value": "vip"}


def _post(client, rules):
    return client.post(
        reverse("admin:analytics_segment_add"),
        {
            "name_en": "VIP",
            "name_zh_hans": "贵宾",
            "description_en": "",
            "description_zh_hans": "",
            "rules": json.dumps(rules),
        },
    )


def test_admin_saves_a_segment_through_the_service(client, superuser):
    client.force_login(superuser)

    response = _post(client, VIP)

    assert response.status_code == 302
    segment = Segment.objects.get()
    assert segment.rules == VIP and segment.last_count == 0
    assert AuditEvent.objects.filter(action="segment.create").count() == 1


def test_admin_refuses_bad_rules_and_writes_nothing(client, superuser):
    client.force_login(superuser)

    response = _post(client, {"field": "loyalty.tier", "op": "eq", "value": "gold'; DROP TABLE x"})

    assert response.status_code == 200
    assert "is not a code" in response.content.decode()
    assert not Segment.objects.exists() and not AuditEvent.objects.exists()


def test_computed_rows_are_view_only(client, superuser):
    client.force_login(superuser)

    for name in ("customermetrics", "modelfit", "atriskentry", "segmentsnapshot"):
        assert client.get(reverse(f"admin:analytics_{name}_add")).status_code == 403


def test_admin_refuses_medium_risk_above_high_and_changes_nothing(client, superuser):
    settings_row = AnalyticsSettings.get()
    client.force_login(superuser)
    url = reverse("admin:analytics_analyticssettings_change", args=[settings_row.pk])

    response = client.post(
        url,
        {
            "clv_months": 12,
            "discount_rate": "0.100",
            "horizon_days": 90,
            "high_risk": "0.50",
            "medium_risk": "0.60",
            "at_risk_top_share": "0.30",
        },
    )

    assert response.status_code == 200
    assert "Medium risk must start below high risk." in response.content.decode()
    settings_row.refresh_from_db()
    assert (settings_row.high_risk, settings_row.medium_risk) == (Decimal("0.70"), Decimal("0.40"))
