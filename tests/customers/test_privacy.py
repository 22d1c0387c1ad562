"""Preference centre, unsubscribe tokens, export completeness and erasure without a trace."""

import datetime as dt
import io
import json
import zipfile
from decimal import Decimal

import pytest
from allauth.account.models import EmailAddress
from allauth.usersessions.models import UserSession
from django.apps import apps as django_apps
from django.contrib.sessions.models import Session
from django.db import models

from apps.core.models import AuditEvent
from apps.customers.inbox import portal_message_send
from apps.customers.models import ConsentRecord, Customer, Order
from apps.customers.services import (
    consent_preferences_save,
    customer_erase,
    customer_export,
    customer_update,
    interaction_log,
    membership_enrol,
    order_record,
    refund_record,
    unsubscribe_apply,
    unsubscribe_token_make,
    unsubscribe_token_read,
)
from apps.customers.services.privacy import UnsubscribeTokenInvalid
from tests.accounts.factories import UserFactory
from tests.customers.factories import StoreFactory

pytestmark = pytest.mark.django_db

NAME, SURNAME = "Zebulon", "Quackenbush"
EMAIL = "zebulon.quackenbush@example.org"
PHONE = "+8613712345678"


@pytest.fixture
def person(client):
    """A member with something in every table the customers app owns, and a live session."""
    user = UserFactory(email=EMAIL, full_name=f"{NAME} {SURNAME}")
    EmailAddress.objects.create(user=user, email=EMAIL, verified=True, primary=True)
    customer = membership_enrol(
        user=user, first_name=NAME, last_name=SURNAME, consents=[("email", "marketing", True)]
    )
    customer = customer_update(
        customer=customer,
        actor=user,
        phone=PHONE,
        birth_date=dt.date(1990, 5, 17),
        city="Hangzhou",
        region="Zhejiang",
        gender="other",
    )
    consent_preferences_save(
        customer=customer,
        choices={("sms", "marketing"): True},
        actor=user,
        evidence=f"ticked by {EMAIL}",
    )
    order, _ = order_record(
        store=StoreFactory(code="hz1"),
        external_id="HZ-1",
        customer=customer,
        placed_at=dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC),
        total=Decimal("88.00"),
        lines=[{"sku": "T1", "name": "Oolong", "unit_price": Decimal("88.00")}],
    )
    refund_record(
        order=order, refund_id="R1", amount=Decimal("8.00"), reason=f"{NAME} changed mind"
    )
    interaction_log(
        customer=customer,
        kind="call",
        summary=f"{NAME} {SURNAME} called",
        body=f"Call back on {PHONE} or {EMAIL}",
        actor=None,
    )
    portal_message_send(customer=customer, subject=f"Hi {NAME}", body=f"Dear {NAME} {SURNAME}")
    client.force_login(user)
    client.get("/me/")  # a tracked session (allauth.usersessions)
    return customer


def test_preference_centre_records_only_changes_with_history_and_audit(person):
    before = ConsentRecord.objects.filter(customer=person).count()
    written = consent_preferences_save(
        customer=person,
        choices={
            ("email", "marketing"): True,
            ("sms", "marketing"): False,
            ("portal", "surveys"): False,
        },
        actor=person.user,
    )
    # email/marketing already granted; portal/surveys never answered and stays off.
    assert [(r.channel, r.purpose, r.granted) for r in written] == [("sms", "marketing", False)]
    history = list(
        ConsentRecord.objects.filter(customer=person, channel="sms")
        .order_by("at", "id")
        .values_list("granted", "source", "actor")
    )
    assert history == [(True, "portal", person.user.pk), (False, "portal", person.user.pk)]
    assert ConsentRecord.objects.filter(customer=person).count() == before + 1
    assert (
        AuditEvent.objects.filter(action="consent.withdraw", summary="sms/marketing").count() == 1
    )


def test_unsubscribe_token_withdraws_once(person):
    token = unsubscribe_token_make(customer=person, channel="email", purpose="marketing")
    assert unsubscribe_token_read(token=token) == (person, "email", "marketing")
    _c, _ch, _p, changed = unsubscribe_apply(token=token, one_click=True)
    assert changed is True
    latest = ConsentRecord.objects.filter(customer=person, channel="email").order_by("-at", "-id")[
        0
    ]
    assert (latest.granted, latest.source) == (False, "unsubscribe_link")
    count = ConsentRecord.objects.count()
    assert unsubscribe_apply(token=token)[3] is False and ConsentRecord.objects.count() == count


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # signature altered
        lambda t: t.replace(t.split(":")[0], t.split(":")[0][::-1]),  # payload altered
        lambda t: "garbage",
        lambda t: "",
    ],
)
def test_tampered_unsubscribe_tokens_change_nothing(person, mangle):
    token = unsubscribe_token_make(customer=person, channel="email", purpose="marketing")
    count = ConsentRecord.objects.count()
    with pytest.raises(UnsubscribeTokenInvalid):
        unsubscribe_apply(token=mangle(token))
    assert ConsentRecord.objects.count() == count


def test_a_token_signed_for_another_purpose_cannot_be_reused():
    from django.core import signing

    forged = signing.dumps({"m": "1", "c": "email", "p": "marketing"}, salt="other-salt")
    with pytest.raises(UnsubscribeTokenInvalid):
        unsubscribe_token_read(token=forged)


def _personal_values(instance: models.Model) -> dict[str, str]:
    out = {}
    for field in instance._meta.concrete_fields:
        if isinstance(field, (models.CharField, models.TextField, models.DateField)):
            value = getattr(instance, field.attname)
            if value not in (None, ""):
                out[field.name] = str(value)
    return out


def test_export_contains_every_personal_field_of_every_model(person):
    filename, payload = customer_export(customer=person, actor=person.user)
    assert filename.startswith(f"clientele-{person.member_number}-") and filename.endswith(".zip")
    archive = zipfile.ZipFile(io.BytesIO(payload))
    names = set(archive.namelist())
    sections = json.loads(archive.read("manifest.json"))["sections"]
    for section in sections:
        assert {f"{section}.json", f"{section}.csv"} <= names
    data = {s: json.loads(archive.read(f"{s}.json")) for s in sections}
    blob = json.dumps(data, ensure_ascii=False)
    person.refresh_from_db()
    objects = [
        person,
        *person.consents.all(),
        *person.orders.all(),
        *[line for o in person.orders.all() for line in o.lines.all()],
        *[r for o in person.orders.all() for r in o.refunds.all()],
        *person.interactions.all(),
        *person.portal_messages.all(),
    ]
    for obj in objects:
        for name, value in _personal_values(obj).items():
            if name in ("search_text", "key"):
                continue
            value = (
                value.replace(" ", "T") if isinstance(getattr(obj, name), dt.datetime) else value
            )
            assert value.split("+")[0] in blob, f"{obj._meta.label}.{name} missing from export"
    assert data["account"][0]["email"] == EMAIL and data["account"][1]["verified"] is True
    assert any(r["record"] == "session" for r in data["account"])
    assert sections["orders"] == 1 and sections["order_lines"] == 1 and sections["refunds"] == 1
    csv_text = archive.read("profile.csv").decode("utf-8-sig")
    assert NAME in csv_text and PHONE in csv_text
    assert (
        AuditEvent.objects.filter(action="customer.export", target_id=str(person.pk)).count() == 1
    )


def _needles():
    return [NAME.lower(), SURNAME.lower(), EMAIL.lower(), PHONE, PHONE.lstrip("+"), PHONE[3:]]


def _traces() -> list[str]:
    """Every text or JSON column of every model that still mentions the person."""
    found = []
    for model in django_apps.get_models():
        text_fields = [
            f.attname
            for f in model._meta.concrete_fields
            if isinstance(f, (models.CharField, models.TextField, models.JSONField))
        ]
        if not text_fields:
            continue
        for row in model._default_manager.values_list(*text_fields):
            for name, value in zip(text_fields, row, strict=True):
                text = (
                    json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
                ).lower()
                for needle in _needles():
                    if needle.lower() in text:
                        found.append(f"{model._meta.label}.{name}: {needle}")
    return found


def test_erasure_leaves_no_trace_and_keeps_totals(person, client):
    assert _traces(), "the fixture must leave traces to erase"
    user = person.user
    assert UserSession.objects.filter(user=user).exists() and Session.objects.exists()
    customer_erase(customer=person, actor=user)
    assert _traces() == []
    person.refresh_from_db()
    user.refresh_from_db()
    assert person.anonymized_at is not None and person.user is None
    assert person.search_text == person.member_number and person.birth_date is None
    assert not user.is_active and not user.has_usable_password()
    assert not EmailAddress.objects.filter(user=user).exists()
    assert not UserSession.objects.filter(user=user).exists()
    assert client.get("/me/").status_code == 302  # the old session no longer signs in
    order = Order.objects.get(external_id="HZ-1")
    assert (order.total, order.refunded_amount, order.customer_id) == (
        Decimal("88.00"),
        Decimal("8.00"),
        person.pk,
    )
    assert order.lines.get().unit_price == Decimal("88.00")
    erase = AuditEvent.objects.get(action="customer.erase")
    assert erase.target_id == str(person.pk) and erase.summary == "self-service"


def test_erasure_twice_changes_nothing_more(person, manager):
    customer_erase(customer=person, actor=manager)
    count = AuditEvent.objects.count()
    customer_erase(customer=Customer.objects.get(pk=person.pk), actor=manager)
    assert AuditEvent.objects.count() == count
    assert AuditEvent.objects.get(action="customer.erase").actor == manager
