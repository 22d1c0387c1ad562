"""Preference centre, unsubscribe tokens, export completeness and erasure without a trace.

The export and erasure tests do not list models by hand: they walk every model with a foreign
key path (direct, or one hop) to Customer or User, so a new model that stores something about a
member fails them until the privacy registry covers it."""

import datetime as dt
import io
import json
import zipfile
from decimal import Decimal

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from django.apps import apps as django_apps
from django.contrib.sessions.models import Session
from django.core.files.base import ContentFile
from django.db import DatabaseError, models, transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.analytics.models import AtRiskEntry, CustomerMetrics
from apps.analytics.services.segments import segment_freeze, segment_save
from apps.campaigns.models import Message
from apps.campaigns.services.lifecycle import campaign_save
from apps.complaints.models import Attachment
from apps.complaints.services.compensation import compensation_request
from apps.complaints.services.conversation import customer_reply, staff_reply
from apps.complaints.services.tickets import ticket_open
from apps.core.exceptions import ValidationFailed
from apps.core.models import AuditEvent
from apps.core.private_files import private_storage
from apps.customers.exceptions import UnsubscribeTokenInvalid
from apps.customers.inbox import portal_message_send
from apps.customers.models import ConsentRecord, Customer, ImportJob, Order
from apps.customers.services import (
    consent_preferences_save,
    customer_erase,
    customer_export,
    customer_update,
    interaction_log,
    membership_enrol,
    refund_record,
    unsubscribe_apply,
    unsubscribe_token_make,
    unsubscribe_token_read,
)
from apps.loyalty.models import (
    LoyaltyAccount,
    PointsTransaction,
    Redemption,
    Referral,
    TierHistory,
)
from apps.loyalty.services import (
    coupon_deactivate,
    coupon_issue,
    coupon_redeem,
    order_ingest,
    points_adjust,
    redemption_cancel,
    redemption_fulfil,
    referral_code_for,
    referral_register,
    reward_redeem,
)
from apps.loyalty.verification import ledger_faults
from apps.surveys.services.responses import response_submit
from tests.accounts.factories import UserFactory
from tests.complaints.factories import CategoryFactory
from tests.customers.factories import CustomerFactory, StoreFactory
from tests.loyalty.factories import BadgeFactory, ProgrammeFactory, RewardFactory, TierFactory
from tests.surveys.factories import InvitationFactory, nps_survey
from tests.surveys.factories import questions as survey_questions

pytestmark = pytest.mark.django_db

NAME, SURNAME = "Zebulon", "Quackenbush"
EMAIL = "zebulon.quackenbush@example.org"
PHONE = "+8613712345678"
FRIEND = ("Ottoline", "Featherstonehaugh")  # referred the person
REFERRED = ("Perpetua", "Wigglesworth")  # referred by the person


@pytest.fixture
def person(client, manager, settings, tmp_path):
    """A member with a row in every table that stores something about a member (customers,
    accounts, allauth, loyalty, audit), free text naming them wherever staff can type, an
    import that mentions them, and a live session."""
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    ProgrammeFactory(signup_bonus=100, referee_bonus=200, referrer_bonus=300)
    member_tier, silver = TierFactory(slug="member", rank=0), TierFactory(slug="silver", rank=1)
    BadgeFactory(slug="first-order", name="First order", rule="orders_count", bonus_points=10)
    friend = CustomerFactory(first_name=FRIEND[0], last_name=FRIEND[1])
    user = UserFactory(email=EMAIL, full_name=f"{NAME} {SURNAME}")
    EmailAddress.objects.create(user=user, email=EMAIL, verified=True, primary=True)
    Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": "s"})
    customer = membership_enrol(
        user=user, first_name=NAME, last_name=SURNAME, consents=[("email", "marketing", True)]
    )
    referral_register(referee=customer, code=referral_code_for(customer=friend).code)
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
    store = StoreFactory(code="hz1")
    order, _created, _outcome = order_ingest(  # earns points, rewards the referral, a badge
        store=store,
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
    # Loyalty: staff free text naming the person wherever it can be typed.
    points_adjust(
        customer=customer,
        points=30,
        reason=f"Goodwill: {NAME} {SURNAME} called from {PHONE}",
        actor=manager,
    )
    account = LoyaltyAccount.objects.get(customer=customer)
    TierHistory.objects.create(
        account=account,
        from_tier=member_tier,
        to_tier=silver,
        reason=f"Upgraded as {EMAIL} asked",
        qualifying_value=Decimal("88.00"),
    )
    voucher = RewardFactory(
        slug="tea-voucher", kind="voucher", cost_points=50, coupon_kind="fixed", coupon_value=10
    )
    gift = RewardFactory(slug="tea-cup", name="Tea cup", kind="physical", cost_points=40)
    bought = reward_redeem(customer=customer, reward=voucher, key="r-voucher", actor=user)
    coupon_redeem(
        code=bought.voucher_code, customer=customer, store=store, order_external_id="HZ-2"
    )
    handed = reward_redeem(customer=customer, reward=gift, key="r-gift", actor=user)
    redemption_fulfil(
        redemption=handed, actor=manager, notes=f"Handed to {NAME} {SURNAME}, {PHONE}"
    )
    cancelled = reward_redeem(customer=customer, reward=gift, key="r-gift-2", actor=user)
    redemption_cancel(redemption=cancelled, actor=manager, reason=f"{NAME} asked by {EMAIL}")
    spare = coupon_issue(owner=customer, kind="fixed", value=Decimal(5), source_ref="goodwill")
    coupon_deactivate(coupon=spare, actor=manager, reason=f"Lost by {NAME} {SURNAME}")
    referred = CustomerFactory(first_name=REFERRED[0], last_name=REFERRED[1])
    made = referral_register(referee=referred, code=referral_code_for(customer=customer).code)
    Referral.objects.filter(pk=made.pk).update(
        status="refused", refusal_reason=f"Same household as {NAME} {SURNAME}"
    )
    # Surveys: an invitation answered with words naming the person, and one still open.
    survey = nps_survey(slug="visit-nps")
    asked = InvitationFactory(survey=survey, customer=customer, context="order:1")
    InvitationFactory(survey=survey, customer=customer, context="manual")
    q = survey_questions(survey)
    response_submit(
        invitation=asked,
        answers={str(q[0].pk): "2", str(q[1].pk): "1", str(q[4].pk): f"{NAME} was ignored"},
    )
    # An anonymous survey answered: only the mark that they were asked stays theirs.
    anonymous = nps_survey(slug="anon-nps", anonymous=True)
    anon_q = survey_questions(anonymous)
    response_submit(
        invitation=InvitationFactory(survey=anonymous, customer=customer, context="manual"),
        answers={str(anon_q[0].pk): "9", str(anon_q[1].pk): "5"},
    )
    # A complaint: the member's words, a reply and an internal note naming them, a message
    # back, compensation, an attachment.
    ticket = ticket_open(
        customer=customer,
        category=CategoryFactory(code="service"),
        subject=f"{NAME} was overcharged",
        description=f"Call me on {PHONE}",
        channel="portal",
    )
    staff_reply(ticket=ticket, author=manager, body=f"Dear {NAME}, we are sorry.")
    staff_reply(ticket=ticket, author=manager, body=f"{NAME} {SURNAME} shops weekly", internal=True)
    customer_reply(ticket=ticket, body=f"Thanks, {NAME} {SURNAME}")
    compensation_request(
        ticket=ticket, actor=manager, kind="points", points=50, reason=f"Goodwill for {NAME}"
    )
    Attachment.objects.create(
        ticket=ticket,
        file=ContentFile(b"%PDF-1.4 receipt", name="receipt.pdf"),
        name=f"{NAME}-receipt.pdf",
        content_type="application/pdf",
        size=16,
        sha256="0" * 64,
        at=timezone.now(),
    )
    # Customer value: the metrics, an at-risk entry and a frozen segment naming them.
    CustomerMetrics.objects.create(
        customer=customer,
        as_of=timezone.localdate(),
        computed_at=timezone.now(),
        first_order_on=timezone.localdate() - dt.timedelta(days=40),
        last_order_on=timezone.localdate() - dt.timedelta(days=3),
        rfm_segment="loyal",
        churn_band="low",
        band_since=timezone.localdate() - dt.timedelta(days=9),
        reasons=[{"code": "points_expiring", "points": 120, "days": 30}],
    )
    AtRiskEntry.objects.create(
        week=timezone.localdate() - dt.timedelta(days=14),
        customer=customer,
        churn_risk=0.8,
        predicted_clv=500,
        health_score=30,
        action="coupon",
    )
    segment = segment_save(
        actor=manager, rules={"all": []}, names={"name_en": "Everyone", "name_zh_hans": "全体"}
    )
    segment_freeze(segment=segment, actor=manager)
    # A campaign message that reached them (with an SMS gateway id) and one they clicked.
    campaign = campaign_save(
        actor=manager,
        names={"name_en": "Spring"},
        settings={"kind": "broadcast", "segment": segment, "channels": ["sms"]},
        variants=[{"label": "A", "sms_body_en": "Hi {{ first_name }}"}],
    )
    variant = campaign.variants.get()
    Message.objects.create(
        campaign=campaign,
        step="send",
        customer=customer,
        variant=variant,
        channel="sms",
        status="failed",
        reason="",
        error="gateway refused the message (400)",
        language="zh-hans",
        sent_at=timezone.now(),
        claimed_at=timezone.now(),
        provider_id="gw-123",
    )
    Message.objects.create(
        campaign=campaign,
        step="birthday:2026",
        customer=customer,
        channel="email",
        status="suppressed",
        reason="frequency_cap",
    )
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


# --- export: every model that can hold something about a member ----------------------------

# Models the walk reaches only through a staff member's foreign key (author, uploader, creator):
# a member account never fills it (staff cannot hold a membership), so no row is the member's.
# The test asserts they really hold none for the person.
NOT_THE_MEMBERS = {
    "admin.LogEntry": "admin actions by staff; members have no admin access",
    "account.EmailConfirmation": "one-time secret keys (HMAC confirmations keep it empty)",
    "accounts.ApiKey": "keys created by staff",
    "customers.ImportJob": "uploads by staff; erasure scrubs rows naming the person",
    "loyalty.CouponBatch": "batches created by staff; the member's coupons are exported",
    "surveys.Survey": "surveys built by staff; the member's invitations and answers are exported",
    "surveys.Question": "questions written by staff; exported with each answer",
    "complaints.Team": "support teams of staff; the member's tickets are exported",
    "analytics.Segment": "segments built by staff; the snapshots naming the member are erased",
    "analytics.SegmentSnapshot": "snapshots taken by staff; the member's place in them is erased",
    "loyalty.EarnRule": "rules written by staff (reached through a segment's author)",
    "campaigns.Campaign": "campaigns built by staff; the member's messages are exported",
    "campaigns.Variant": "content written by staff; the member's messages are exported",
    "core.ExportJob": "list exports started by staff; their files are deleted within a day",
    "analytics.ReportSubscription": "report subscriptions made by staff for staff",
    "analytics.ReportDelivery": "deliveries of staff reports to staff",
    "integrations.Endpoint": "webhook endpoints set up by Administrators",
    "integrations.Delivery": "webhook deliveries to those endpoints (member numbers, no names)",
}
# Columns that are not personal data and are deliberately left out of the export.
TECHNICAL = {"search_text", "key", "idempotency_key", "hash", "prev_hash", "last_hash"}
TECHNICAL |= {"password", "session_key", "actor_label"}
TECHNICAL |= {"token"}  # a survey link's secret: a credential, not information about the person


def _person_paths() -> dict[type[models.Model], list[tuple[str, type[models.Model]]]]:
    """Every concrete model with a foreign key to Customer or User, directly or one hop away
    (e.g. OrderLine → Order → Customer), with the lookups that reach them."""
    targets = (Customer, User)

    def links(model):
        return [f for f in model._meta.concrete_fields if f.is_relation and f.related_model]

    paths: dict[type[models.Model], list[tuple[str, type[models.Model]]]] = {}
    for model in django_apps.get_models():
        if model in targets:
            continue
        for field in links(model):
            if field.related_model in targets:
                paths.setdefault(model, []).append((field.name, field.related_model))
            elif field.related_model is not model:
                for hop in links(field.related_model):
                    if hop.related_model in targets:
                        lookup = f"{field.name}__{hop.name}"
                        paths.setdefault(model, []).append((lookup, hop.related_model))
    return paths


def _rows_of(model, paths, customer: Customer, user: User) -> list[models.Model]:
    condition = models.Q(pk__in=[])
    for lookup, target in paths:
        condition |= models.Q(**{lookup: customer if target is Customer else user})
    return list(model._default_manager.filter(condition).distinct())


def _personal_values(instance: models.Model) -> dict[str, str]:
    out = {}
    for field in instance._meta.concrete_fields:
        if field.name in TECHNICAL or field.is_relation:
            continue
        if isinstance(field, (models.CharField, models.TextField, models.DateField)):
            value = getattr(instance, field.attname)
            if value not in (None, ""):
                if isinstance(value, dt.datetime):
                    value = value.isoformat()
                out[field.name] = str(value)
    return out


def _export(person) -> tuple[dict, dict, zipfile.ZipFile]:
    filename, payload = customer_export(customer=person, actor=person.user)
    assert filename.startswith(f"clientele-{person.member_number}-") and filename.endswith(".zip")
    archive = zipfile.ZipFile(io.BytesIO(payload))
    sections = json.loads(archive.read("manifest.json"))["sections"]
    for section in sections:
        assert {f"{section}.json", f"{section}.csv"} <= set(archive.namelist())
    return sections, {s: json.loads(archive.read(f"{s}.json")) for s in sections}, archive


def test_export_contains_every_personal_field_of_every_model(person):
    person.refresh_from_db()
    user = person.user
    walked = _person_paths()
    rows_by_model = {model: _rows_of(model, paths, person, user) for model, paths in walked.items()}
    sections, data, archive = _export(person)  # (its own audit event comes after the data)
    blob = json.dumps(data, ensure_ascii=False)
    assert {m._meta.label for m in walked} >= {
        "customers.OrderLine",
        "loyalty.PointsTransaction",
        "loyalty.LotAllocation",
        "loyalty.Referral",
        "usersessions.UserSession",
    }
    missing, checked = [], set()
    for model, rows in rows_by_model.items():
        if model._meta.label in NOT_THE_MEMBERS:
            assert rows == [], f"{model._meta.label} holds member rows: export and erase them"
            continue
        assert rows, f"the fixture must give the person a {model._meta.label} row"
        for row in [user, *rows] if model is Customer else rows:
            for name, value in _personal_values(row).items():
                checked.add(f"{row._meta.label}.{name}")
                if value not in blob:
                    missing.append(f"{row._meta.label}.{name} = {value!r}")
    assert missing == []
    assert {"loyalty.PointsTransaction.reason", "loyalty.Redemption.fulfilment_notes"} <= checked
    assert data["account"][0]["email"] == EMAIL and data["account"][1]["verified"] is True
    assert any(r["record"] == "session" for r in data["account"])
    assert (sections["orders"], sections["order_lines"], sections["refunds"]) == (1, 1, 1)
    assert (sections["redemptions"], sections["coupons"], sections["coupon_uses"]) == (3, 2, 1)
    assert sections["loyalty_account"] == 1 and sections["badges"] == 1
    # Referrals both ways; the other member only by member number, never by name.
    friend = Customer.objects.get(first_name=FRIEND[0])
    referred = Customer.objects.get(first_name=REFERRED[0])
    assert sorted((r["role"], r["other_member_number"]) for r in data["referrals"]) == sorted(
        [("referred", friend.member_number), ("referrer", referred.member_number)]
    )
    for name in (*FRIEND, *REFERRED):
        assert name not in blob
    assert any(e["action"] == "redemption.fulfil" for e in data["privacy_log"])
    csv_text = archive.read("profile.csv").decode("utf-8-sig")
    assert NAME in csv_text and PHONE in csv_text
    assert (
        AuditEvent.objects.filter(action="customer.export", target_id=str(person.pk)).count() == 1
    )


# --- erasure -------------------------------------------------------------------------------


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


def _imports_naming(person) -> tuple[ImportJob, ImportJob, str]:
    """A finished import whose preview and errors name the person (and someone else), and a
    previewed one not started yet whose file holds them."""
    other = {"row": "3", "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org"}
    done = ImportJob.objects.create(
        kind="customers",
        file_name="april.csv",
        stored_path="",
        status="done",
        finished_at=timezone.now(),
        preview=[
            {"row": "2", "first_name": NAME, "last_name": SURNAME, "email": EMAIL, "phone": PHONE},
            other,
        ],
        errors=[f"row 4, column phone: {PHONE} is a duplicate", "row 9, column gender: bad"],
    )
    upload = private_storage().save(
        "imports/pending.csv",
        ContentFile(
            "first_name,last_name,email,phone\nAda,Lovelace,ada@example.org,\n"
            f"Zeb,Q,{EMAIL.upper()},\n".encode()
        ),
    )
    pending = ImportJob.objects.create(
        kind="customers", file_name="may.csv", stored_path=upload, status="pending"
    )
    return done, pending, upload


def test_erasure_leaves_no_trace_and_keeps_totals(
    person, client, django_capture_on_commit_callbacks
):
    done, pending, upload = _imports_naming(person)
    assert _traces(), "the fixture must leave traces to erase"
    user = person.user
    account = LoyaltyAccount.objects.get(customer=person)
    ledger_before = list(
        PointsTransaction.objects.order_by("id").values_list(
            "id", "account_id", "points", "pending_points", "balance_after", "hash"
        )
    )
    balances = list(LoyaltyAccount.objects.order_by("id").values_list("balance", "pending"))
    assert UserSession.objects.filter(user=user).exists() and Session.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        customer_erase(customer=person, actor=user)

    assert _traces() == []
    # The ledger keeps every amount and its chain; only the free text went.
    assert (
        list(
            PointsTransaction.objects.order_by("id").values_list(
                "id", "account_id", "points", "pending_points", "balance_after", "hash"
            )
        )
        == ledger_before
    )
    assert list(LoyaltyAccount.objects.order_by("id").values_list("balance", "pending")) == (
        balances
    )
    assert list(ledger_faults()) == []
    reasons = set(account.transactions.values_list("reason", flat=True))
    assert reasons <= {"(erased)", ""} and "(erased)" in reasons
    assert set(Redemption.objects.values_list("fulfilment_notes", flat=True)) <= {"", "(erased)"}
    assert set(
        AuditEvent.objects.filter(target_type="loyalty.redemption").values_list(
            "summary", flat=True
        )
    ) == {"(erased)"}
    # Imports: only the person's preview row and error are gone; the pending file is closed.
    done.refresh_from_db()
    pending.refresh_from_db()
    assert done.preview[0] == dict.fromkeys(done.preview[0], "(erased)")
    assert done.preview[1]["first_name"] == "Ada"
    assert done.errors == ["(erased)", "row 9, column gender: bad"]
    assert (pending.status, pending.stored_path) == ("failed", "")
    assert not private_storage().exists(upload)
    # The person and their account.
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


@pytest.mark.postgres
def test_the_ledger_is_append_only_again_after_an_erasure(person, manager):
    customer_erase(customer=person, actor=manager)
    row = PointsTransaction.objects.filter(account__customer=person).first()
    for change in ({"reason": "rewritten"}, {"points": row.points + 1}):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            PointsTransaction.objects.filter(pk=row.pk).update(**change)
    row.refresh_from_db()
    assert row.reason == "(erased)"


def test_erasure_twice_changes_nothing_more(person, manager):
    customer_erase(customer=person, actor=manager)
    count = AuditEvent.objects.count()
    customer_erase(customer=Customer.objects.get(pk=person.pk), actor=manager)
    assert AuditEvent.objects.count() == count
    assert AuditEvent.objects.get(action="customer.erase").actor == manager


def test_a_member_may_switch_only_the_switchable_purposes():
    """Decided in the customers app (MEMBER_SWITCHABLE_PURPOSES), whatever form calls it."""
    customer = CustomerFactory()
    before = (ConsentRecord.objects.count(), AuditEvent.objects.count())
    with pytest.raises(ValidationFailed, match="cannot be changed here"):
        consent_preferences_save(
            customer=customer,
            choices={("email", "marketing"): True, ("email", "service"): False},
            actor=None,
            explicit=True,
        )
    assert (ConsentRecord.objects.count(), AuditEvent.objects.count()) == before
    written = consent_preferences_save(
        customer=customer, choices={("sms", "surveys"): True}, actor=None
    )
    assert [(r.channel, r.purpose, r.granted) for r in written] == [("sms", "surveys", True)]
