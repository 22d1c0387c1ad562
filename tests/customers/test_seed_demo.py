import datetime as dt
import hashlib
import io
from collections import Counter, defaultdict
from decimal import Decimal

import pytest
from allauth.account.models import EmailAddress
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import Sum

from apps.accounts import roles
from apps.accounts.models import User
from apps.core import events
from apps.customers import demo
from apps.customers.enums import Channel, ConsentPurpose, OrderStatus
from apps.customers.identifiers import member_number_is_valid, phone_normalize
from apps.customers.models import (
    ConsentRecord,
    Customer,
    Interaction,
    Order,
    OrderLine,
    Refund,
    Store,
)
from apps.customers.services import customer_search_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def dev_settings(settings):
    settings.DEBUG = True
    settings.SETTINGS_MODULE = "config.settings.dev"
    return settings


def seed(**options) -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def checksum() -> str:
    customers = list(
        Customer.objects.order_by("member_number").values_list(
            "member_number", "first_name", "last_name", "email", "phone", "birth_date", "gender"
        )
    )
    orders = list(
        Order.objects.order_by("store__code", "external_id").values_list(
            "store__code",
            "external_id",
            "customer__member_number",
            "total",
            "discount",
            "status",
            "refunded_amount",
            "channel",
        )
    )
    lines = list(
        OrderLine.objects.order_by("order__store__code", "order__external_id", "sku").values_list(
            "order__external_id", "sku", "quantity", "unit_price"
        )
    )
    refunds = list(Refund.objects.order_by("refund_id").values_list("refund_id", "amount"))
    return hashlib.sha256(repr((customers, orders, lines, refunds)).encode()).hexdigest()


class _Rollback(Exception):
    pass


def seeded_checksum(**options) -> tuple[str, int]:
    """Seed inside a savepoint, fingerprint the data, roll it all back."""
    result = {}
    with pytest.raises(_Rollback), transaction.atomic():
        seed(**options)
        result["sum"], result["orders"] = checksum(), Order.objects.count()
        raise _Rollback
    assert not Customer.objects.exists()
    return result["sum"], result["orders"]


def test_same_seed_gives_identical_data_and_another_seed_does_not(dev_settings):
    first, n_orders = seeded_checksum(customers=50, seed=7)
    second, _n = seeded_checksum(customers=50, seed=7)
    other, _n = seeded_checksum(customers=50, seed=8)
    assert n_orders > 50
    assert first == second
    assert other != first


def test_identifiers_are_valid_and_derived_fields_consistent(dev_settings):
    seed(customers=120, seed=3)
    customers = list(Customer.objects.all())
    assert len(customers) == 120
    assert all(member_number_is_valid(c.member_number) for c in customers)
    phones = [c.phone for c in customers if c.phone]
    assert len(phones) > 100 and len(set(phones)) == len(phones)
    assert all(p.startswith("+861") and phone_normalize(p) == p for p in phones)
    emails = [c.email for c in customers if c.email]
    assert len(set(emails)) == len(emails)
    assert all(e.rsplit("@", 1)[1] in {"example.com", "example.net", "example.org"} for e in emails)
    for c in customers:
        assert c.search_text == customer_search_text(
            first_name=c.first_name,
            last_name=c.last_name,
            email=c.email,
            phone=c.phone,
            member_number=c.member_number,
        )
    # Chinese names: family name in last_name, given name in first_name.
    chinese = [c for c in customers if "\u4e00" <= c.last_name[:1] <= "\u9fff"]
    western = [c for c in customers if c.last_name.isascii() and c.last_name]
    assert chinese and western
    assert all(
        len(c.last_name) == 1 and c.display_name == c.last_name + c.first_name for c in chinese
    )


def test_every_order_matches_its_lines_and_refunds(dev_settings):
    seed(customers=150, seed=11)
    refunds = defaultdict(Decimal)
    for order_id, amount in Refund.objects.values_list("order_id", "amount"):
        refunds[order_id] += amount
    lines = defaultdict(Decimal)
    for line in OrderLine.objects.all():
        lines[line.order_id] += line.amount
    statuses = Counter()
    for order in Order.objects.all():
        refunded = refunds.get(order.pk, Decimal(0))
        assert order.refunded_amount == refunded
        if refunded == 0:
            expected = OrderStatus.PAID
        elif refunded >= order.total:
            expected = OrderStatus.REFUNDED
        else:
            expected = OrderStatus.PARTIALLY_REFUNDED
        assert order.status == expected
        statuses[order.status] += 1
        assert order.total == lines[order.pk] - order.discount
        assert order.placed_at >= order.customer.joined_at - dt.timedelta(days=1)
    assert statuses[OrderStatus.PAID] > 0
    assert statuses[OrderStatus.REFUNDED] + statuses[OrderStatus.PARTIALLY_REFUNDED] > 0
    for refund in Refund.objects.select_related("order"):
        assert refund.at > refund.order.placed_at


def test_logins_exist_with_roles_verified_addresses_and_password(dev_settings, client):
    seed(customers=30, password="another-Secret-9")
    expected = {
        "admin@example.com": roles.ADMINISTRATOR,
        "manager@example.com": roles.MANAGER,
        "agent@example.com": roles.SUPPORT_AGENT,
        "marketer@example.com": roles.MARKETING,
    }
    for email, role in expected.items():
        user = User.objects.get(email=email)
        assert user.is_staff and user.is_active
        assert user.is_superuser == (role == roles.ADMINISTRATOR)
        assert list(user.groups.values_list("name", flat=True)) == [role]
        assert client.login(email=email, password="another-Secret-9")
        client.logout()
        assert not client.login(email=email, password=demo.DEFAULT_PASSWORD)
    for email in demo.MEMBER_LOGINS:
        user = User.objects.get(email=email)
        assert not user.is_staff and not user.is_superuser and not user.groups.exists()
        customer = Customer.objects.get(user=user)
        assert customer.email == email
        assert customer.orders.count() >= 8
        assert client.login(email=email, password="another-Secret-9")
        client.logout()
    addresses = EmailAddress.objects.filter(email__in=demo.DEMO_LOGINS)
    assert addresses.count() == 6
    assert all(a.primary and a.verified and a.user.email == a.email for a in addresses)


def test_default_password_is_the_documented_one(dev_settings, client):
    seed(customers=5)
    assert client.login(email="agent@example.com", password="clientele-demo")


def test_refuses_production_settings_and_changes_nothing(settings):
    settings.DEBUG = False
    settings.SETTINGS_MODULE = "config.settings.dev"
    with pytest.raises(CommandError, match="production"):
        seed(customers=5)
    settings.DEBUG = True
    settings.SETTINGS_MODULE = "config.settings.prod"
    with pytest.raises(CommandError, match=r"config\.settings\.prod"):
        seed(customers=5)
    assert not Customer.objects.exists()
    assert not Store.objects.exists()
    assert not User.objects.exists()


def test_force_seeds_despite_production_settings(settings):
    settings.DEBUG = False
    seed(customers=5, force=True)
    assert Customer.objects.count() == 5


def test_second_run_changes_nothing(dev_settings):
    seed(customers=20, seed=1)
    before = (checksum(), User.objects.count(), ConsentRecord.objects.count())
    out = seed(customers=20, seed=2)
    assert "already exist" in out and "Nothing was changed" in out
    assert (checksum(), User.objects.count(), ConsentRecord.objects.count()) == before


def test_refuses_when_a_demo_login_already_exists(dev_settings):
    User.objects.create_user(email="manager@example.com", password="x-Secret-1234")
    out = seed(customers=20)
    assert "manager@example.com" in out
    assert not Customer.objects.exists() and User.objects.count() == 1


def test_default_size_has_a_year_of_realistic_history(dev_settings):
    out = seed()
    assert "customers" in out
    assert Customer.objects.count() == 2000
    anchor = demo._anchor()
    orders = Order.objects.all()
    oldest = orders.order_by("placed_at").first().placed_at
    newest = orders.order_by("-placed_at").first().placed_at
    assert oldest < anchor - dt.timedelta(days=365)
    assert newest > anchor - dt.timedelta(days=7)
    assert newest < anchor
    assert orders.count() > 5000
    per_customer = Counter(orders.values_list("customer_id", flat=True))
    regulars = sum(1 for n in per_customer.values() if n >= 8)
    few = sum(1 for n in per_customer.values() if 1 <= n <= 6)
    assert 0.08 * 2000 < regulars < 0.25 * 2000
    assert few > 0.5 * 2000
    assert set(orders.values_list("store__code", flat=True)) == {
        s.code for s in Store.objects.all()
    }
    assert {s.kind for s in Store.objects.all()} == {"offline", "online", "partner"}
    assert orders.aggregate(s=Sum("total"))["s"] > 0
    # Consent: most grant e-mail service, around 60% e-mail marketing at enrolment, some SMS.
    with_email = Customer.objects.exclude(email="").count()
    email_service = (
        ConsentRecord.objects.filter(
            channel=Channel.EMAIL, purpose=ConsentPurpose.SERVICE, granted=True
        )
        .values("customer")
        .distinct()
        .count()
    )
    email_marketing = (
        ConsentRecord.objects.filter(
            channel=Channel.EMAIL, purpose=ConsentPurpose.MARKETING, granted=True
        )
        .values("customer")
        .distinct()
        .count()
    )
    sms_marketing = ConsentRecord.objects.filter(
        channel=Channel.SMS, purpose=ConsentPurpose.MARKETING, granted=True
    ).count()
    assert email_service > 0.9 * with_email
    assert 0.5 * with_email < email_marketing < 0.7 * with_email
    assert sms_marketing > 100
    assert Interaction.objects.filter(author__email="agent@example.com").exists()
    tags = set(Customer.tags.through.objects.values_list("tag__name", flat=True))
    assert {"VIP", "Wholesale", "Complained", "Newsletter"} <= tags


def test_registered_steps_run_in_order_with_their_own_rng(dev_settings, monkeypatch):
    monkeypatch.setattr(demo, "_steps", [])
    calls = []

    def _second(ctx):
        calls.append(("second", ctx.rng("second").random()))
        return {"widgets": 3}

    def _first(ctx):
        assert len(ctx.customer_ids) == 10
        assert (
            Customer.objects.get(pk=ctx.member_customer_ids["member1@example.com"]).user
            == (ctx.users["member1@example.com"])
        )
        calls.append(("first", ctx.rng("first").random()))

    with events.late_wiring():
        demo.register("second", _second, order=20)
        demo.register("first", _first, order=10)
    out = seed(customers=10, seed=5)
    assert [name for name, _value in calls] == ["first", "second"]
    assert (
        calls[1][1]
        == demo.DemoContext(
            seed=5,
            anchor=None,
            password="",
            users={},
            customer_ids=[],
            member_customer_ids={},
            store_ids={},
        )
        .rng("second")
        .random()
    )
    assert "widgets" in out
