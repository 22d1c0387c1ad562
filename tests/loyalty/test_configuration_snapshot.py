"""The programme's configuration snapshot (``apps.loyalty.configuration``): kept by the process
while the database's configuration version stays, read again as soon as any way of changing the
programme, a tier, an earn rule (or its tiers) or a badge moves it."""

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.loyalty import configuration as config_module
from apps.loyalty.configuration import configuration, configuration_kept, configuration_version
from apps.loyalty.models import Badge, EarnRule, Programme, Tier
from tests.loyalty.factories import BadgeFactory, EarnRuleFactory, ProgrammeFactory, TierFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _fresh_snapshot(monkeypatch):
    monkeypatch.setattr(config_module, "_snapshot", None)


@pytest.fixture
def programme(db):
    programme = ProgrammeFactory(points_per_currency_unit=Decimal(1))
    TierFactory(slug="member", rank=0)
    EarnRuleFactory(kind="category", category="tea", multiplier=Decimal(2))
    BadgeFactory(slug="regular", rule="orders_count", threshold=5)
    return programme


def test_a_kept_snapshot_costs_no_query(programme):
    first = configuration()
    version = configuration_version()
    with CaptureQueriesContext(connection) as ctx:
        again = configuration(version=version)
    assert again is first
    assert len(ctx.captured_queries) == 0
    assert configuration_kept() is first


@pytest.mark.parametrize(
    "change",
    [
        lambda: Programme.objects.update(points_per_currency_unit=Decimal(3)),
        lambda: TierFactory(slug="gold", rank=2),
        lambda: Tier.objects.filter(slug="member").update(earn_multiplier=Decimal("1.5")),
        lambda: EarnRule.objects.update(is_active=False),
        lambda: EarnRule.objects.first().tiers.add(Tier.objects.get(slug="member")),
        lambda: BadgeFactory(slug="first", rule="first_purchase"),
        lambda: Badge.objects.update(is_active=False),
        lambda: Badge.objects.all().delete(),
    ],
    ids=[
        "programme",
        "tier added",
        "tier changed",
        "rule",
        "rule tiers",
        "badge added",
        "badge deactivated",
        "badge deleted",
    ],
)
def test_every_change_moves_the_version_and_is_read(programme, change):
    before = configuration()
    version = configuration_version()
    change()
    moved = configuration_version()
    assert moved != version
    after = configuration(version=moved)
    assert after is not before
    assert after.version == moved


def test_the_fresh_snapshot_has_what_changed(programme):
    configuration()
    Programme.objects.update(points_per_currency_unit=Decimal(3))
    EarnRule.objects.update(is_active=False)
    gold = TierFactory(slug="gold", rank=2)
    now = configuration(version=configuration_version())
    assert now.programme.points_per_currency_unit == Decimal(3)
    assert now.rules == ()
    assert [t.slug for t in now.tiers] == ["member", "gold"]
    assert now.tiers_by_pk[gold.pk] == gold


def test_a_rolled_back_change_never_brings_a_used_number_back(programme):
    """The version comes from a sequence: after a rollback the next change gets a new number,
    so a snapshot kept under the rolled-back number is never taken for the new state."""
    configuration()
    start = configuration_version()
    with pytest.raises(RuntimeError), transaction.atomic():
        TierFactory(slug="silver", rank=1)
        inside = configuration_version()
        configuration(version=inside)  # a snapshot with silver, kept under ``inside``
        raise RuntimeError
    assert configuration_version() == start
    TierFactory(slug="gold", rank=2)
    later = configuration_version()
    assert later not in (start, inside)
    assert [t.slug for t in configuration(version=later).tiers] == ["member", "gold"]


def test_without_a_version_nothing_is_kept(programme):
    assert configuration(version=None, check=False) is not configuration(version=None, check=False)
