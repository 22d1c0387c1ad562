"""The earn-rule preview says why the rule being edited does not apply to the example basket
(issue 9, part 7)."""

import pytest
from django.urls import reverse

from apps.loyalty.models import EarnRule
from tests.customers.factories import StoreFactory
from tests.dashboard import loyalty_fixtures

pytestmark = pytest.mark.django_db

loyalty_world = loyalty_fixtures.loyalty_world
RULE = {
    "name": "Big basket",
    "kind": "min_spend",
    "multiplier": "1",
    "bonus_points": "50",
    "min_spend": "150",
    "priority": 100,
    "stackable": "on",
    "is_active": "on",
}


def _preview(client, rule, **basket):
    data = {**rule, **{f"preview-{k}": v for k, v in basket.items()}}
    return client.post(reverse("dashboard:loyalty-rule-preview"), data)


def test_the_missing_amount_is_said(client, marketer, loyalty_world):
    client.force_login(marketer)
    response = _preview(client, RULE, amount="99.50")
    html = response.content.decode()
    assert "This rule does not apply to this basket:" in html
    assert "The basket is below the minimum spend of 150.00: 50.50 more needed." in html
    assert not EarnRule.objects.filter(name="Big basket").exists()


def test_no_reason_when_the_rule_applies(client, marketer, loyalty_world):
    client.force_login(marketer)
    response = _preview(client, RULE, amount="150")
    assert response.context["reasons"] == []
    assert "does not apply" not in response.content.decode()


def test_store_time_and_switched_off_are_said(client, marketer, loyalty_world):
    shop = StoreFactory(code="hz-01", name="Hangzhou West Lake")
    other = StoreFactory(code="hz-02", name="Hangzhou East")
    rule = {
        **RULE,
        "store": shop.pk,
        "starts_at": "2026-06-01T00:00",
        "ends_at": "2026-07-01T00:00",
        "is_active": "",
    }
    client.force_login(marketer)
    response = _preview(client, rule, amount="200", store=other.pk, placed_at="2026-05-31T23:00")
    assert response.context["reasons"][0] == "The rule is switched off."
    assert response.context["reasons"][1].startswith("The purchase is before the rule starts")
    assert response.context["reasons"][2] == "Only for purchases at Hangzhou West Lake."
    same_store_in_window = _preview(
        client,
        {**rule, "is_active": "on"},
        amount="200",
        store=shop.pk,
        placed_at="2026-06-02T10:00",
    )
    assert same_store_in_window.context["reasons"] == []


def test_a_stopping_rule_is_named(client, marketer, loyalty_world):
    # The world's "Tea ×2" rule stacks; a non-stackable higher one stops the draft.
    EarnRule.objects.create(
        name="Tea ×4 alone",
        kind="category",
        category="tea",
        multiplier=4,
        priority=500,
        stackable=False,
    )
    draft = {
        **RULE,
        "kind": "category",
        "category": "tea",
        "multiplier": "3",
        "bonus_points": 0,
        "min_spend": "0",
    }
    client.force_login(marketer)
    response = _preview(client, draft, amount="100", category="tea")
    assert response.context["reasons"] == [
        "“Tea ×4 alone” comes first by priority and does not stack, so it stops this rule."
    ]
