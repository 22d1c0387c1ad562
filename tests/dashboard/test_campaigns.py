"""Campaigns under /staff/campaigns/: who may read and write, the editor (saved through the
lifecycle service; a refusal shows on its field and writes nothing), start → send (eager Celery)
→ results, pause / resume / cancel, the preview with a real member, the test send to oneself,
the exports, and query budgets independent of the number of campaigns and messages."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from apps.campaigns.enums import CampaignStatus, MessageStatus
from apps.campaigns.models import Campaign, CampaignSettings, Message, Variant
from apps.campaigns.results import campaign_results
from apps.campaigns.services.lifecycle import campaign_start
from apps.campaigns.tasks import campaign_send_task
from apps.core.models import AuditEvent
from apps.dashboard.views.campaigns import campaign_figures
from tests.campaigns.factories import VARIANT, broadcast, grant, journey, segment_everyone
from tests.customers.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db

B = {
    **VARIANT,
    "label": "B",
    "subject_en": "A gift for {{ first_name }}",
    "subject_zh_hans": "{{ first_name }}的礼物",
}


def url(name, **kwargs):
    return reverse(f"dashboard:{name}", kwargs=kwargs)


@pytest.fixture(autouse=True)
def _no_quiet_hours():
    """Quiet hours would defer every e-mail of a test run at night in Shanghai."""
    settings_ = CampaignSettings.get()
    settings_.quiet_start = settings_.quiet_end = dt.time(9, 0)
    settings_.save()


def _members(n: int, **kwargs) -> list:
    people = CustomerFactory.create_batch(n, preferred_channel="email", **kwargs)
    for person in people:
        grant(person, "email")
    return people


def _variant_fields(index: int, variant: dict) -> dict:
    keys = ("label", "weight", "subject_en", "subject_zh_hans", "body_en", "body_zh_hans")
    keys += ("sms_body_en", "sms_body_zh_hans")
    return {f"variants-{index}-{k}": variant.get(k, "") for k in keys}


def _body(segment=None, variants=(VARIANT,), initial=0, **over) -> dict:
    body = {
        "name_en": "Spring sale",
        "name_zh_hans": "春季促销",
        "segment": segment.pk if segment else "",
        "scheduled_at": "",
        "purpose": "marketing",
        "channels": ["email", "portal"],
        "offer_kind": "none",
        "coupon_kind": "",
        "coupon_value": "0",
        "coupon_min_spend": "0",
        "coupon_valid_days": "30",
        "bonus_points": "0",
        "multiplier": "1",
        "multiplier_days": "7",
        "holdout_percent": "20",
        "conversion_days": "",
        "cost_per_message": "0.05",
        "budget": "",
        "variants-TOTAL_FORMS": str(len(variants)),
        "variants-INITIAL_FORMS": str(initial),
        "variants-MIN_NUM_FORMS": "1",
        "variants-MAX_NUM_FORMS": "5",
    }
    for i, variant in enumerate(variants):
        body |= _variant_fields(i, {"weight": 1, **variant})
    return body | over


def _started(marketer, n=10, **settings):
    """A broadcast to ``n`` members with e-mail consent, started and sent."""
    people = _members(n)
    campaign = broadcast(actor=marketer, variants=[dict(VARIANT), dict(B)], **settings)
    campaign_start(campaign=campaign, actor=marketer)
    campaign_send_task(campaign.pk)
    campaign.refresh_from_db()
    return campaign, people


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    return list(csv.reader(io.StringIO(body, newline="")))


def _sheet(response):
    return load_workbook(io.BytesIO(b"".join(response.streaming_content))).active


# --- access --------------------------------------------------------------------------------------


def _read_pages(campaign) -> list[str]:
    return [
        url("campaign-list"),
        url("campaign-detail", pk=campaign.pk),
        url("campaign-messages", pk=campaign.pk),
        url("campaign-progress", pk=campaign.pk),
    ]


def test_marketer_opens_every_campaign_page(client, marketer):
    draft = broadcast(actor=marketer)
    sent, _people = _started(marketer, n=3, holdout_percent=30)
    client.force_login(marketer)
    pages = [
        *_read_pages(sent),
        url("campaign-create") + "?kind=broadcast",
        url("campaign-create") + "?kind=triggered",
        url("campaign-edit", pk=draft.pk),
        url("campaign-detail", pk=draft.pk),
    ]
    for page in pages:
        assert client.get(page).status_code == 200, page
    listed = client.get(url("campaign-list")).content.decode()
    assert "Spring sale" in listed and "New broadcast" in listed and "New journey" in listed


def test_the_list_reads_in_chinese(client, marketer):
    broadcast(actor=marketer)
    client.force_login(marketer)
    response = client.get(url("campaign-list"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "春季促销" in response.content.decode()


def test_agent_reads_but_may_not_write(client, agent, marketer):
    campaign, _people = _started(marketer, n=3)
    draft = broadcast(actor=marketer)
    client.force_login(agent)
    for page in _read_pages(campaign):
        assert client.get(page).status_code == 200, page
    detail = client.get(url("campaign-detail", pk=campaign.pk))
    assert detail.context["results"] is None  # results need view_campaign_results
    assert (
        'data-testid="start"'
        not in client.get(url("campaign-detail", pk=draft.pk)).content.decode()
    )
    assert client.get(url("campaign-create")).status_code == 403
    assert client.post(url("campaign-create"), _body(segment_everyone())).status_code == 403
    assert client.get(url("campaign-edit", pk=draft.pk)).status_code == 403
    for action in ("campaign-start", "campaign-pause", "campaign-resume", "campaign-cancel"):
        assert client.post(url(action, pk=draft.pk)).status_code == 403, action
    assert (
        client.post(url("campaign-test-send", pk=draft.pk), {"channel": "email"}).status_code == 403
    )
    assert client.get(url("campaign-export", pk=campaign.pk, fmt="csv")).status_code == 403
    assert client.get(url("campaign-messages-export", pk=campaign.pk, fmt="csv")).status_code == 403
    draft.refresh_from_db()
    assert draft.status == CampaignStatus.DRAFT


def test_anonymous_is_sent_to_login(client, marketer):
    campaign = broadcast(actor=marketer)
    for page in [*_read_pages(campaign), url("campaign-create")]:
        response = client.get(page)
        assert response.status_code == 302, page
        assert response["Location"].startswith(reverse("account_login")), page


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("campaign-detail", "get"),
        ("campaign-edit", "get"),
        ("campaign-messages", "get"),
        ("campaign-progress", "get"),
        ("campaign-preview", "get"),
        ("campaign-start", "post"),
        ("campaign-pause", "post"),
        ("campaign-cancel", "post"),
        ("campaign-test-send", "post"),
    ],
)
def test_unknown_campaign_is_not_found(client, marketer, name, method):
    client.force_login(marketer)
    client.raise_request_exception = False
    assert getattr(client, method)(url(name, pk=999999)).status_code == 404


# --- create, edit, start, results ----------------------------------------------------------------


def test_create_edit_start_send_and_read_the_results(
    client, marketer, django_capture_on_commit_callbacks
):
    people = _members(30)
    segment = segment_everyone(marketer)
    client.force_login(marketer)

    response = client.post(
        url("campaign-create") + "?kind=broadcast", _body(segment, variants=(VARIANT, B))
    )
    campaign = Campaign.objects.get(builtin="")
    assert response.status_code == 302
    assert response["Location"] == url("campaign-detail", pk=campaign.pk)
    assert (campaign.kind, campaign.status, campaign.holdout_percent) == ("broadcast", "draft", 20)
    assert campaign.name_zh_hans == "春季促销" and campaign.channels == ["email", "portal"]
    assert campaign.cost_per_message == Decimal("0.05")
    assert sorted(campaign.variants.values_list("label", flat=True)) == ["A", "B"]
    assert AuditEvent.objects.filter(action="campaign.create").count() == 1

    edit = url("campaign-edit", pk=campaign.pk)
    page = client.get(edit).content.decode()
    assert "Spring sale" in page and "A gift for" in page
    body = _body(segment, variants=(VARIANT, B), initial=2, name_en="Spring sale, again")
    assert client.post(edit, body).status_code == 302
    campaign.refresh_from_db()
    assert campaign.name_en == "Spring sale, again"

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("campaign-start", pk=campaign.pk))
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED
    assert campaign.audience_size == 30
    sent = Message.objects.filter(campaign=campaign, status=MessageStatus.SENT)
    held = Message.objects.filter(campaign=campaign, status=MessageStatus.HOLDOUT)
    assert sent.count() + held.count() == 30 and held.count() > 0
    assert len(mail.outbox) == sent.count()
    buyers = [m.customer for m in sent[:3]] + [m.customer for m in held[:1]]
    for person in buyers:
        OrderFactory(customer=person, placed_at=timezone.now() + dt.timedelta(minutes=5))

    detail = client.get(url("campaign-detail", pk=campaign.pk))
    assert detail.status_code == 200
    figures = detail.context["figures"]
    assert dict(figures["funnel"])["Reached"] == sent.count()
    assert figures["conversion"]["treated"] == pytest.approx(300 / sent.count())
    html = detail.content.decode()
    assert 'data-testid="results"' in html and "percentage points" in html
    assert "¥" in html and "not significant yet" in html.lower()
    assert client.get(edit).status_code == 302  # no longer a draft: the editor sends back
    assert people  # (every member was placed)


def test_a_journey_is_created_with_its_trigger(client, marketer):
    client.force_login(marketer)
    body = _body(trigger="inactive_n_days", trigger_days="60", delay_hours="2")
    body.pop("scheduled_at")
    response = client.post(url("campaign-create") + "?kind=triggered", body)
    assert response.status_code == 302
    campaign = Campaign.objects.get(builtin="")
    assert (campaign.kind, campaign.trigger, campaign.trigger_days, campaign.delay_hours) == (
        "triggered",
        "inactive_n_days",
        60,
        2,
    )
    assert campaign.segment is None


def test_a_refused_template_shows_at_its_field_and_writes_nothing(client, marketer):
    segment = segment_everyone(marketer)
    client.force_login(marketer)
    bad = {**B, "body_en": "Hi {{ __class__ }}"}
    response = client.post(url("campaign-create"), _body(segment, variants=(VARIANT, bad)))
    assert response.status_code == 400
    variant_b = response.context["variants"].forms[1]
    assert "body_en" in variant_b.errors
    assert "Not allowed in a message" in variant_b.errors["body_en"][0]
    assert Campaign.objects.filter(builtin="").count() == 0
    assert not Variant.objects.filter(campaign__builtin="").exists()
    assert not AuditEvent.objects.filter(action__startswith="campaign.").exists()


def test_a_variant_without_a_subject_is_refused_at_its_subject(client, marketer):
    segment = segment_everyone(marketer)
    client.force_login(marketer)
    bare = {**B, "subject_en": "", "subject_zh_hans": ""}
    response = client.post(url("campaign-create"), _body(segment, variants=(VARIANT, bare)))
    assert response.status_code == 400
    errors = response.context["variants"].forms[1].errors
    assert errors["subject_en"] == ["Variant B needs a subject in at least one language."]
    assert Campaign.objects.filter(builtin="").count() == 0


def test_a_campaign_without_a_channel_is_refused_at_the_channels(client, marketer):
    segment = segment_everyone(marketer)
    client.force_login(marketer)
    response = client.post(url("campaign-create"), _body(segment, channels=[]))
    assert response.status_code == 400
    assert response.context["form"].errors["channels"] == ["Choose at least one channel."]
    assert Campaign.objects.filter(builtin="").count() == 0


def test_a_broadcast_without_a_segment_is_refused(client, marketer):
    client.force_login(marketer)
    response = client.post(url("campaign-create"), _body(None))
    assert response.status_code == 400
    assert "segment" in response.context["form"].errors
    assert Campaign.objects.filter(builtin="").count() == 0


def test_a_refused_edit_changes_nothing(client, marketer):
    campaign = broadcast(actor=marketer)
    client.force_login(marketer)
    body = _body(campaign.segment, variants=({**VARIANT, "subject_en": "{% for x in y %}"},))
    response = client.post(
        url("campaign-edit", pk=campaign.pk), body | {"variants-INITIAL_FORMS": "1"}
    )
    assert response.status_code == 400
    campaign.refresh_from_db()
    assert campaign.variants.get().subject_en == VARIANT["subject_en"]
    assert campaign.holdout_percent == 0


def test_removing_a_variant(client, marketer):
    campaign = broadcast(actor=marketer, variants=[dict(VARIANT), dict(B)])
    client.force_login(marketer)
    body = _body(campaign.segment, variants=(VARIANT, B), initial=2) | {"variants-1-DELETE": "on"}
    assert client.post(url("campaign-edit", pk=campaign.pk), body).status_code == 302
    assert list(campaign.variants.values_list("label", flat=True)) == ["A"]


# --- start, pause, resume, cancel ----------------------------------------------------------------


def test_pause_resume_and_cancel(client, marketer, django_capture_on_commit_callbacks):
    _members(3)
    campaign = broadcast(actor=marketer)
    campaign_start(campaign=campaign, actor=marketer)  # started, nothing sent yet
    client.force_login(marketer)

    client.post(url("campaign-pause", pk=campaign.pk))
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("campaign-resume", pk=campaign.pk))
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED  # resumed: the send ran to the end
    assert len(mail.outbox) == 3

    other = broadcast(actor=marketer)
    response = client.post(url("campaign-cancel", pk=other.pk), follow=True)
    other.refresh_from_db()
    assert other.status == CampaignStatus.CANCELLED
    assert "cancelled" in response.content.decode()


def test_a_refused_transition_shows_why(client, marketer):
    campaign = broadcast(actor=marketer)
    client.force_login(marketer)
    response = client.post(url("campaign-pause", pk=campaign.pk), follow=True)
    assert "Only a running campaign can pause." in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


def test_progress_polls_while_running_and_reloads_the_page_when_done(client, marketer):
    _members(2)
    campaign = broadcast(actor=marketer)
    campaign_start(campaign=campaign, actor=marketer)
    client.force_login(marketer)
    partial = client.get(url("campaign-progress", pk=campaign.pk))
    assert 'hx-trigger="every 2s"' in partial.content.decode()
    campaign_send_task(campaign.pk)
    done = client.get(url("campaign-progress", pk=campaign.pk), {"polling": "1"})
    assert done.status_code == 204 and done["HX-Refresh"] == "true"
    final = client.get(url("campaign-progress", pk=campaign.pk)).content.decode()
    assert "every 2s" not in final and "2 / 2" in final


# --- preview and test send -----------------------------------------------------------------------


def test_preview_renders_a_real_member(client, marketer):
    (person,) = _members(1, first_name="Lina", preferred_language="en")
    campaign = broadcast(actor=marketer)
    variant = campaign.variants.get()
    client.force_login(marketer)
    response = client.get(
        url("campaign-preview", pk=campaign.pk),
        {"member_number": person.member_number, "variant": variant.pk, "channel": "email"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Hello Lina" in html and "You have 0 points" in html
    assert url("campaign-preview-email", pk=campaign.pk) in html
    sms = client.get(
        url("campaign-preview", pk=campaign.pk),
        {"member_number": person.member_number, "channel": "sms", "lang": "zh-hans"},
    )
    assert "Lina，您有 0 积分" in sms.content.decode()


def test_preview_with_an_unknown_member_number_says_so(client, marketer):
    campaign = broadcast(actor=marketer)
    client.force_login(marketer)
    response = client.get(
        url("campaign-preview", pk=campaign.pk), {"member_number": "0000000000", "channel": "email"}
    )
    assert response.status_code == 200
    assert "No customer with that member number." in response.content.decode()


def test_preview_of_a_template_that_fails_shows_the_error(client, marketer):
    campaign = broadcast(actor=marketer)
    Variant.objects.filter(campaign=campaign).update(body_en="{{ points + 'x' }}")
    client.force_login(marketer)
    response = client.get(url("campaign-preview", pk=campaign.pk), {"channel": "email"})
    assert response.status_code == 200
    assert "cannot be rendered" in response.content.decode()


def test_the_email_frame_has_its_own_sandboxed_policy(client, marketer):
    campaign = broadcast(actor=marketer)
    client.force_login(marketer)
    response = client.get(url("campaign-preview-email", pk=campaign.pk), {"channel": "email"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    policy = response["Content-Security-Policy"]
    assert "sandbox" in policy and "frame-ancestors 'self'" in policy
    assert "script-src 'none'" in policy
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert "Hello Mia" in response.content.decode()  # the sample member


def test_test_send_mails_me_and_records_nothing(client, marketer):
    (person,) = _members(1, first_name="Lina", preferred_language="en")
    campaign = broadcast(actor=marketer)
    client.force_login(marketer)
    response = client.post(
        url("campaign-test-send", pk=campaign.pk),
        {"member_number": person.member_number, "channel": "email"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "Test sent to marketer@test.local" in response.content.decode()
    (email,) = mail.outbox
    assert email.subject == "[Test] Hello Lina"
    assert email.to == ["marketer@test.local"]
    assert "Hello Lina" in email.alternatives[0][0]
    assert Message.objects.count() == 0


def test_test_send_without_htmx_redirects_with_a_message(client, marketer):
    campaign = broadcast(actor=marketer)
    client.force_login(marketer)
    response = client.post(
        url("campaign-test-send", pk=campaign.pk), {"channel": "sms"}, follow=True
    )
    assert "Test sent to" in response.content.decode()
    (email,) = mail.outbox
    assert email.subject.startswith("[Test] SMS: ") and "Mia" in email.body


# --- exports -------------------------------------------------------------------------------------


def test_results_export_has_a_row_per_group(client, marketer):
    campaign, _people = _started(marketer, n=12, holdout_percent=30)
    client.force_login(marketer)
    response = client.get(url("campaign-export", pk=campaign.pk, fmt="csv"))
    assert response["Content-Type"].startswith("text/csv")
    rows = _csv(response)
    assert rows[0][0] == "Group" and rows[0][9] == "Revenue (¥)"
    assert [r[0] for r in rows[1:]] == ["Holdout", "Treated", "Variant A", "Variant B"]
    results = campaign_results(campaign=campaign)
    assert int(rows[1][1]) == results.holdout.members
    assert int(rows[2][1]) == results.treated.members
    xlsx = client.get(url("campaign-export", pk=campaign.pk, fmt="xlsx"))
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    assert _sheet(xlsx).max_row == 5


def test_messages_export_has_a_row_per_message_in_words(client, marketer):
    campaign, people = _started(marketer, n=4)
    client.force_login(marketer)
    rows = _csv(client.get(url("campaign-messages-export", pk=campaign.pk, fmt="csv")))
    assert rows[0][:5] == ["Member number", "Channel", "Status", "Reason", "Variant"]
    assert sorted(r[0] for r in rows[1:]) == sorted(p.member_number for p in people)
    assert {r[1] for r in rows[1:]} == {"E-mail"} and {r[2] for r in rows[1:]} == {"Sent"}
    xlsx = client.get(url("campaign-messages-export", pk=campaign.pk, fmt="xlsx"))
    assert _sheet(xlsx).max_row == 5


def test_an_unknown_export_format_is_not_found(client, marketer):
    campaign = broadcast(actor=marketer)
    client.force_login(marketer)
    client.raise_request_exception = False
    assert client.get(url("campaign-export", pk=campaign.pk, fmt="pdf")).status_code == 404


def test_exports_are_audited(client, marketer):
    campaign, _people = _started(marketer, n=2)
    client.force_login(marketer)
    _csv(client.get(url("campaign-export", pk=campaign.pk, fmt="csv")))
    assert AuditEvent.objects.filter(action="export.campaign").count() == 1


# --- the list's figures --------------------------------------------------------------------------


def test_list_figures_agree_with_the_results(marketer):
    campaign, _people = _started(marketer, n=20, holdout_percent=40)
    treated = Message.objects.filter(campaign=campaign, variant__isnull=False)
    held = Message.objects.filter(campaign=campaign, status=MessageStatus.HOLDOUT)
    for message in [*treated[:4], *held[:1]]:
        OrderFactory(customer=message.customer, placed_at=timezone.now() + dt.timedelta(hours=1))
    OrderFactory(  # too late: outside the 14-day window
        customer=treated[5].customer, placed_at=timezone.now() + dt.timedelta(days=20)
    )
    results = campaign_results(campaign=campaign)
    figures = campaign_figures(campaigns=[campaign])[campaign.pk]
    assert (figures["treated"], figures["treated_conv"]) == (
        results.treated.members,
        results.treated.conversions,
    )
    assert (figures["holdout"], figures["holdout_conv"]) == (
        results.holdout.members,
        results.holdout.conversions,
    )
    assert figures["reached"] == results.reached == treated.count()


def test_the_builtin_journey_is_marked(client, marketer):
    assert Campaign.objects.exclude(builtin="").exists()  # the points-expiring reminder
    client.force_login(marketer)
    html = client.get(url("campaign-list"), {"kind": "triggered"}).content.decode()
    assert 'data-testid="builtin"' in html


# --- query budgets -------------------------------------------------------------------------------

# Measured counts (session, user, permissions and the Administration link included).
LIST_BUDGET = 15  # campaigns (count + page), the settings row, two grouped counts of messages
DETAIL_BUDGET = 19  # the results: five queries and the programme; variants, progress from them
MESSAGES_BUDGET = 14  # the campaign, its variants (filter), count and page


def test_list_budget(client, marketer, count_queries, django_assert_max_num_queries):
    _members(3)
    client.force_login(marketer)
    for _ in range(5):
        campaign = broadcast(actor=marketer, holdout_percent=30)
    campaign_start(campaign=campaign, actor=marketer)
    campaign_send_task(campaign.pk)
    few = count_queries(client, url("campaign-list"))
    for _ in range(45):
        journey(trigger="birthday", actor=marketer)
    assert count_queries(client, url("campaign-list")) == few
    with django_assert_max_num_queries(LIST_BUDGET):
        response = client.get(url("campaign-list"))
    assert len(response.context["rows"]) == 50


def test_detail_budget(client, marketer, count_queries, django_assert_max_num_queries):
    campaign, _people = _started(marketer, n=5, holdout_percent=30)
    client.force_login(marketer)
    page = url("campaign-detail", pk=campaign.pk)
    few = count_queries(client, page)
    more = _members(45)
    Message.objects.bulk_create(
        Message(
            campaign=campaign,
            step="send",
            customer=p,
            status=MessageStatus.SENT,
            channel="email",
            variant=campaign.variants.first(),
            sent_at=timezone.now(),
        )
        for p in more
    )
    assert count_queries(client, page) == few
    with django_assert_max_num_queries(DETAIL_BUDGET):
        response = client.get(page)
    assert response.context["results"].reached >= 45


def test_messages_budget(client, marketer, count_queries, django_assert_max_num_queries):
    campaign, _people = _started(marketer, n=5)
    client.force_login(marketer)
    page = url("campaign-messages", pk=campaign.pk)
    few = count_queries(client, page)
    more = _members(45)
    Message.objects.bulk_create(
        Message(campaign=campaign, step="send", customer=p, status=MessageStatus.HOLDOUT)
        for p in more
    )
    assert count_queries(client, page) == few
    assert count_queries(client, page + "?status=holdout&channel=email") <= few
    with django_assert_max_num_queries(MESSAGES_BUDGET):
        response = client.get(page)
    assert response.context["page_obj"].paginator.count == 50
