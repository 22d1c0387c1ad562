"""Why an earn rule did not apply (issue 9, part 7): ``rules.rule_explain`` gives the reasons as
codes and values; ``earn_rule_trial`` names tiers and stores for reading."""

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.loyalty.models import EarnRule
from apps.loyalty.rules import (
    LineFacts,
    Miss,
    OrderFacts,
    _applies,
    _matches_line,
    _matches_order,
    rule_explain,
)
from apps.loyalty.services.earning import earn_rule_trial
from tests.customers.factories import StoreFactory
from tests.loyalty.factories import EarnRuleFactory, TierFactory

NOW = dt.datetime(2026, 5, 4, 12, 0, tzinfo=dt.UTC)


def facts(**over) -> OrderFacts:
    values = {
        "total": Decimal(100),
        "placed_at": NOW,
        "store_id": 1,
        "channel": "store",
        "lines": (LineFacts(sku="TEA-1", category="tea", amount=Decimal(100)),),
        "tier_id": None,
        "tier_multiplier": Decimal(1),
        "first_purchase": False,
    }
    return OrderFacts(**(values | over))


def rule(pk=1, **over) -> EarnRule:
    values = {
        "name": "R",
        "kind": "category",
        "category": "tea",
        "multiplier": Decimal(2),
        "bonus_points": 0,
        "min_spend": Decimal(0),
        "priority": 100,
        "stackable": True,
        "is_active": True,
    }
    made = EarnRule(**(values | over))
    made.pk = pk
    return made


def explain(r, f=None, others=(), tiers=None) -> list[Miss]:
    f = f or facts()
    return rule_explain(r, facts=f, rules=[r, *others], rule_tiers=tiers or {})


def test_an_applying_rule_has_no_reasons():
    assert explain(rule()) == []


@pytest.mark.parametrize(
    "over, f_over, expected",
    [
        ({"is_active": False}, {}, [Miss("inactive")]),
        (
            {"starts_at": NOW + dt.timedelta(days=1)},
            {},
            [Miss("not_started", {"starts_at": NOW + dt.timedelta(days=1)})],
        ),
        ({"ends_at": NOW}, {}, [Miss("ended", {"ends_at": NOW})]),
        ({"store_id": 7}, {}, [Miss("store", {"store_id": 7})]),
        ({"channel": "online"}, {}, [Miss("channel", {"channel": "online"})]),
        ({"category": "cups"}, {}, [Miss("category", {"category": "cups"})]),
        ({"kind": "sku", "sku": "CUP-9"}, {}, [Miss("sku", {"sku": "CUP-9"})]),
        ({"category": " "}, {}, [Miss("no_target")]),
        ({"kind": "promotion"}, {}, [Miss("promotion_window")]),
        (
            {"kind": "event", "event": "review", "bonus_points": 5},
            {},
            [Miss("event_only", {"event": "review"})],
        ),
        ({"kind": "first_purchase", "bonus_points": 50}, {}, [Miss("not_first_purchase")]),
        (
            {"kind": "first_purchase", "bonus_points": 0},
            {"first_purchase": True},
            [Miss("no_bonus")],
        ),
        (
            {"kind": "min_spend", "bonus_points": 50, "min_spend": Decimal("150.50")},
            {},
            [Miss("min_spend", {"min_spend": Decimal("150.50"), "missing": Decimal("50.50")})],
        ),
    ],
)
def test_each_reason(over, f_over, expected):
    assert explain(rule(**over), facts(**f_over)) == expected


def test_several_reasons_are_all_given():
    r = rule(is_active=False, store_id=7, category="cups")
    assert [m.code for m in explain(r)] == ["inactive", "store", "category"]


def test_tier_reason_lists_the_rules_tiers():
    assert explain(rule(), tiers={1: {3, 2}}) == [Miss("tier", {"tier_ids": [2, 3]})]
    assert explain(rule(), facts(tier_id=2), tiers={1: {3, 2}}) == []


def test_a_non_stackable_rule_above_stops_it():
    boss = rule(pk=2, name="Tea ×5 alone", priority=200, stackable=False, multiplier=Decimal(5))
    assert explain(rule(), others=[boss]) == [Miss("outranked", {"rule": "Tea ×5 alone"})]


def test_a_non_stackable_rule_below_applied_ones_stays_out():
    first = rule(pk=2, name="Tea ×2", priority=200)
    loner = rule(pk=1, stackable=False)
    assert explain(loner, others=[first]) == [Miss("not_alone", {"rules": ["Tea ×2"]})]


def test_stackable_rules_of_another_family_do_not_stop_it():
    bonus = rule(pk=2, kind="min_spend", bonus_points=5, min_spend=Decimal(1), stackable=False)
    assert explain(rule(), others=[bonus]) == []


def test_a_multiplier_applies_when_it_wins_on_any_line():
    f = facts(
        lines=(
            LineFacts(sku="A", category="tea", amount=Decimal(50)),
            LineFacts(sku="B", category="tea", amount=Decimal(50)),
        )
    )
    sku_only = rule(pk=2, kind="sku", sku="A", priority=200, stackable=False)
    assert explain(rule(), f, others=[sku_only]) == []  # line B still takes it


@pytest.mark.parametrize(
    "kind, active, store, channel, category, first, total",
    list(
        itertools.product(
            ["category", "sku", "store", "channel", "promotion", "first_purchase", "min_spend"],
            [True, False],
            [None, 1, 2],
            ["", "store", "online"],
            ["", "tea"],
            [True, False],
            [Decimal(50), Decimal(200)],
        )
    )[::7],
)
def test_no_reason_exactly_when_the_engine_matches(
    kind, active, store, channel, category, first, total
):
    r = rule(
        kind=kind,
        is_active=active,
        store_id=store,
        channel=channel,
        category=category,
        sku="TEA-1" if category else "",
        bonus_points=10,
        min_spend=Decimal(100),
        starts_at=NOW - dt.timedelta(days=1) if kind == "promotion" else None,
        ends_at=NOW + dt.timedelta(days=1) if kind == "promotion" else None,
    )
    f = facts(first_purchase=first, total=total)
    engine = _applies(r, f, set()) and (
        any(_matches_line(r, f, line) for line in f.lines)
        if kind in ("category", "sku", "store", "channel", "promotion")
        else _matches_order(r, f)
    )
    assert (explain(r, f) == []) == engine


@pytest.mark.django_db
def test_trial_names_the_tiers_and_the_store(programme):
    gold = TierFactory(slug="gold", name="Gold", rank=2)
    shop = StoreFactory(name="Jing'an")
    draft = EarnRule(
        name="Gold tea", kind="category", category="tea", multiplier=Decimal(2), store=shop
    )
    draft.pk = -1
    trial = earn_rule_trial(
        facts=facts(store_id=None, placed_at=timezone.now()), draft=draft, draft_tier_ids={gold.pk}
    )
    assert trial.result.points == trial.current.points == 100
    assert trial.misses == [
        Miss("tier", {"tiers": ["Gold"]}),
        Miss("store", {"store_id": shop.pk, "store": "Jing'an"}),
    ]


@pytest.mark.django_db
def test_trial_of_an_applying_draft_has_no_reasons(programme):
    EarnRuleFactory(name="Old", category="cups")
    draft = rule(pk=-1)
    trial = earn_rule_trial(facts=facts(placed_at=timezone.now()), draft=draft)
    assert trial.misses == [] and trial.result.points == 200
