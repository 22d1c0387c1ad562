"""The template sandbox: what marketing may write in a message, refused at save with nothing
written; and a template that renders for the sample member but fails for a real one, which
fails that member's message only."""

import tracemalloc

import pytest
from django.core import mail

from apps.campaigns.enums import MessageStatus
from apps.campaigns.models import Campaign, Message, Variant
from apps.campaigns.services.lifecycle import campaign_save, campaign_start
from apps.campaigns.tasks import campaign_send_task
from apps.campaigns.templating import (
    MAX_OUTPUT,
    MAX_SOURCE,
    TemplateFailed,
    render,
    sample_context,
    template_check,
)
from apps.core.exceptions import ValidationFailed
from apps.core.models import AuditEvent
from apps.loyalty.services import bonus_award
from tests.campaigns.factories import (
    VARIANT,
    broadcast,
    draws,
    messages_by_customer,
    no_quiet_hours,
    reachable,
    segment_everyone,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _daytime(db):
    no_quiet_hours()


# --- what renders --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Hello {{ first_name }}", "Hello Mia"),
        ("{{ first_name|upper }} {{ tier|lower }}", "MIA gold"),
        ("{% if points > 500 %}rich{% else %}poor{% endif %}", "rich"),
        ("{% if points > 5000 %}rich{% elif points > 1000 %}fine{% endif %}", "fine"),
        (
            "{{ points + bonus_points }} / {{ points - 200 }} / {{ points * 2 }}",
            "1300 / 1000 / 2400",
        ),
        ("{{ 'Code: ' ~ coupon_code }}", "Code: SAMPLE-CODE"),
        (
            "{{ links.rewards }} {{ links.unsubscribe }}",
            "https://example.com/rewards/ https://example.com/unsubscribe/",
        ),
        ("{{ coupon_value }} until {{ expiring_on }}", "¥20.00 until 2027-01-31"),
        ("{{ points if points > 0 else 'none' }}", "1200"),
        ("{{ -expiring_points }}", "-300"),
        ("{{ first_name|default('friend')|title }}", "Mia"),
        ("{# a note #}{{ member_number }}", "M0000000"),
    ],
)
def test_allowed_templates_render_with_the_sample_member(source, expected):
    assert render(template_check(source), sample_context()) == expected


def test_the_sample_context_holds_only_strings_numbers_and_the_links():
    context = sample_context()
    assert set(context) == {
        "first_name", "member_number", "tier", "points", "expiring_points", "expiring_on",
        "coupon_code", "coupon_value", "bonus_points", "links",
    }  # fmt: skip
    for name, value in context.items():
        if name == "links":
            assert all(isinstance(url, str) for url in value.values())
        else:
            assert isinstance(value, str | int)


# --- refused at save: nothing written ------------------------------------------------------

REFUSED = [
    ("{{ password }}", "the name “password”"),
    ("{{ request }}", "the name “request”"),
    ("{{ first_name.__class__ }}", "attributes other than links"),
    ("{{ first_name.mro }}", "attributes other than links"),
    ("{{ links.mro }}", "the link “mro”"),
    ("{{ ''.__class__.__mro__ }}", "attributes other than links"),
    ("{{ links.__class__ }}", "the link “__class__”"),
    ("{{ links['portal'] }}", "indexing"),
    ("{{ links.portal[0:3] }}", "indexing"),
    ("{% for c in first_name %}{{ c }}{% endfor %}", "loops"),
    ("{{ range(10) }}", "function calls"),
    ("{{ first_name.upper() }}", "function calls"),
    ("{{ links|attr('__class__') }}", "the filter “attr”"),
    ("{{ first_name|center(1000000) }}", "the filter “center”"),
    ("{{ links|pprint }}", "the filter “pprint”"),
    ("{% set x = 1 %}{{ x }}", "setting variables"),
    ("{% set x %}big{% endset %}", "setting variables"),
    ("{% include 'emails/campaign.html' %}", "other templates"),
    ("{% extends 'emails/campaign.html' %}", "other templates"),
    ("{% import 'emails/campaign.html' as m %}", "other templates"),
    ("{% macro m() %}x{% endmacro %}", "macros and blocks"),
    ("{% filter upper %}x{% endfilter %}", "macros and blocks"),
    ("{% with a = 1 %}{{ a }}{% endwith %}", "this template syntax (With)"),
    ("{{ points is defined }}", "this template syntax (Test)"),
    ("{{ 'x' * 10**9 }}", "this template syntax (Pow)"),
    ("{{ [1, 2] }}", "this template syntax (List)"),
    ("{{ points // 3 }}", "this template syntax (FloorDiv)"),
    ("{{ points / 3 }}", "this template syntax (Div)"),
    ("{{ points ** 3 }}", "this template syntax (Pow)"),
    ("{{ '%s' % first_name }}", "this template syntax (Mod)"),
    ("{{ first_name }", "template error"),
    ("{% if points > 1 %}open", "template error"),
    ("{% endif %}", "template error"),
    # Pass the tree check, fail against the sample member:
    ("{{ 'x' * 1000000000 }}", "cannot be rendered: SecurityError"),
    ("{{ coupon_code * 3 }}", "cannot be rendered: SecurityError"),
    ("{{ points + coupon_code }}", "cannot be rendered: TypeError"),
    ("{{ -first_name }}", "cannot be rendered: TypeError"),
]


def _counts():
    return (
        Campaign.objects.count(),
        Variant.objects.count(),
        AuditEvent.objects.filter(action__startswith="campaign.").count(),
    )


CASES = [(source, says, "body_en") for source, says in REFUSED] + [
    (source, says, field)
    for source, says in (REFUSED[0], REFUSED[5], REFUSED[9], REFUSED[-4])
    for field in (
        "subject_en",
        "subject_zh_hans",
        "body_zh_hans",
        "sms_body_en",
        "sms_body_zh_hans",
    )
]


@pytest.mark.parametrize(("source", "says", "field"), CASES, ids=[f"{f}:{s}" for s, _w, f in CASES])
def test_a_refused_template_is_refused_at_save_and_nothing_is_written(
    marketer, source, says, field
):
    segment = segment_everyone(marketer)
    before = _counts()

    with pytest.raises(ValidationFailed) as refused:
        broadcast(actor=marketer, segment=segment, variants=[dict(VARIANT, **{field: source})])

    assert says in refused.value.message
    assert refused.value.message.startswith(f"A · {field}: ")
    assert _counts() == before


def test_a_refused_edit_leaves_the_saved_content_as_it_was(marketer):
    campaign = broadcast(actor=marketer)
    before = _counts()
    with pytest.raises(ValidationFailed):
        campaign_save(
            actor=marketer,
            campaign=campaign,
            names={"name_en": "Renamed"},
            settings={"channels": ["email"]},
            variants=[dict(VARIANT, body_en="{% for x in links %}{% endfor %}")],
        )
    campaign.refresh_from_db()
    assert (campaign.name_en, campaign.channels) == ("Spring sale", ["email", "sms", "portal"])
    assert campaign.variants.get().body_en == VARIANT["body_en"]
    assert _counts() == before


def test_a_template_longer_than_the_limit_is_refused(marketer):
    segment = segment_everyone(marketer)
    before = _counts()
    with pytest.raises(ValidationFailed) as refused:
        broadcast(
            actor=marketer,
            segment=segment,
            variants=[dict(VARIANT, body_en="x" * (MAX_SOURCE + 1))],
        )
    assert (
        refused.value.message == f"A · body_en: A message may be at most {MAX_SOURCE} characters."
    )
    assert _counts() == before


# --- the second wall: the sandbox at render time -------------------------------------------


def test_string_repetition_fails_at_render_without_allocating():
    tracemalloc.start()
    try:
        with pytest.raises(TemplateFailed) as failed:
            render("{{ 'x' * 1000000000 }}", sample_context())
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert failed.value.reason.startswith("SecurityError")
    assert peak < 5_000_000  # a gigabyte was never built


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ links.__class__ }}",
        "{% for x in links %}{{ x }}{% endfor %}",
        "{{ range(10) }}",
        "{{ links|attr('__class__') }}",
        "{% include 'emails/campaign.html' %}",
    ],
)
def test_render_refuses_what_the_check_refuses(source):
    """A template that never went through the save (an old row, a direct write) is checked again
    before it renders."""
    with pytest.raises(TemplateFailed) as failed:
        render(source, sample_context())
    assert failed.value.reason.startswith("Not allowed in a message:")


def test_output_over_the_limit_fails():
    context = dict(sample_context(), first_name="y" * (MAX_OUTPUT + 1))
    with pytest.raises(TemplateFailed) as failed:
        render("{{ first_name }}", context)
    assert failed.value.reason == "output too long"


def test_a_name_missing_from_the_context_fails_instead_of_rendering_blank():
    context = sample_context()
    del context["tier"]
    with pytest.raises(TemplateFailed) as failed:
        render("Your tier: {{ tier }}", context)
    assert failed.value.reason.startswith("UndefinedError")


# --- a template that fails for one member at send time -------------------------------------


def test_a_template_that_fails_for_one_member_fails_that_message_and_the_rest_are_sent(marketer):
    """``{{ points + first_name }}`` behind ``points < 1000`` renders for the sample member (1,200
    points) and so passes the save; a member with fewer points makes it a TypeError."""
    rich, poor, also_rich = reachable(3, "email")
    for customer in (rich, also_rich):
        bonus_award(customer=customer, points=1500, key=f"t:{customer.pk}", reason="test")
    body = "{% if points < 1000 %}{{ points + first_name }}{% else %}{{ points }} points{% endif %}"
    campaign = broadcast(actor=marketer, channels=["email"], variants=[dict(VARIANT, body_en=body)])
    campaign_start(campaign=campaign, actor=marketer)

    campaign_send_task(campaign.pk)

    messages = messages_by_customer(campaign)
    failed = messages[poor.pk]
    assert failed.status == MessageStatus.FAILED
    assert failed.error.startswith("TypeError: unsupported operand type(s) for +")
    assert [messages[c.pk].status for c in (rich, also_rich)] == [MessageStatus.SENT] * 2
    assert sorted(m.to[0] for m in mail.outbox) == sorted([rich.email, also_rich.email])
    assert all(m.body.startswith("1500 points") for m in mail.outbox)
    campaign.refresh_from_db()
    assert campaign.status == "completed"


def test_a_variant_written_around_the_service_fails_its_messages_and_the_others_go(marketer):
    """A variant row that never went through ``campaign_save`` (a direct write): the sandbox
    check runs again at render, so its messages fail with the reason; the other variant's go."""
    campaign = broadcast(
        actor=marketer,
        channels=["email"],
        variants=[dict(VARIANT, label="A"), dict(VARIANT, label="B")],
    )
    drawn = {"A": 0, "B": 0}
    customers = []
    while min(drawn.values()) < 2:  # at least two members in each variant
        (customer,) = reachable(1, "email")
        customers.append(customer)
        drawn[draws(campaign, customer.pk).label] += 1
    Variant.objects.filter(campaign=campaign, label="B").update(
        body_en="{{ ''.__class__.__mro__ }}"
    )
    campaign_start(campaign=campaign, actor=marketer)

    campaign_send_task(campaign.pk)

    by_label = {"A": [], "B": []}
    for message in Message.objects.filter(campaign=campaign).select_related("variant"):
        by_label[message.variant.label].append(message)
    assert len(by_label["A"]) + len(by_label["B"]) == len(customers)
    assert (len(by_label["A"]), len(by_label["B"])) == (drawn["A"], drawn["B"])
    assert {m.status for m in by_label["B"]} == {MessageStatus.FAILED}
    assert all(
        m.error == "Not allowed in a message: attributes other than links.…." for m in by_label["B"]
    )
    assert {m.status for m in by_label["A"]} == {MessageStatus.SENT}
    assert len(mail.outbox) == len(by_label["A"])
    assert not any("__class__" in m.body or "<class" in m.body for m in mail.outbox)
