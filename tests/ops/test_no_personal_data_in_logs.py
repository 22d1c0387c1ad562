"""No personal data in the logs: the main journeys of every role run with every logger at DEBUG,
printed as production prints them (JSON lines, with the request id and the callers' extras),
and no e-mail address, phone number or name of the test customers may appear in the output.

The journeys: member sign-up, e-mail confirmation, login (a wrong password too), password reset;
staff customer search (by e-mail, phone and name) and the 360 page; the API enrolling a
customer, looking one up by e-mail, posting an order and redeeming a reward; a complaint filed
on the portal and answered by an agent; a survey answered; a campaign sent by e-mail (locmem)
and SMS (the console back-end, which logs)."""

import io
import logging
import logging.config
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.campaigns.services.lifecycle import campaign_start
from apps.campaigns.tasks import campaign_send_task
from apps.complaints.models import Ticket
from apps.complaints.services.conversation import staff_reply
from apps.core.request_id import JSON_FORMATTER, RequestIdFilter
from apps.customers.models import Customer
from config.settings import base
from tests.campaigns.factories import broadcast, grant, no_quiet_hours
from tests.complaints.factories import CategoryFactory, SLAPolicyFactory
from tests.conftest import enrolled_member
from tests.customers.factories import CustomerFactory, StoreFactory
from tests.loyalty.factories import ProgrammeFactory, RewardFactory, TierFactory
from tests.surveys.factories import InvitationFactory, nps_survey, questions

pytestmark = pytest.mark.django_db
PASSWORD = "pw-Secret-123"
LINK = re.compile(r"http://testserver(/accounts/\S+/)")

# Distinctive enough that any hit in the output is one of these people, never a coincidence.
PEOPLE = [
    {
        "first_name": "Quillona",
        "last_name": "Marchetti",
        "email": "quillona.marchetti@pii-probe.example",
        "phone": "+8613711112222",
    },
    {
        "first_name": "Bartholo",
        "last_name": "Okonkwo",
        "email": "bartholo.okonkwo@pii-probe.example",
        "phone": "+8613933334444",
    },
    {
        "first_name": "Ysoldine",
        "last_name": "Fairweather",
        "email": "ysoldine.fw@pii-probe.example",
        "phone": "+8613055556666",
    },
]


def _needles() -> list[str]:
    found = []
    for person in PEOPLE:
        local = person["email"].split("@")[0]
        national = person["phone"].removeprefix("+86")
        found += [person["first_name"], person["last_name"], person["email"], local, national]
        found.append(f"{national[:3]} {national[3:7]} {national[7:]}")  # as a person types it
    return found


@pytest.fixture
def log_output(settings):
    """Every record of every logger, at DEBUG, as production writes it (JSON) and as a
    developer reads it (plain): one text to search."""
    settings.SMS_BACKEND = "apps.core.sms.ConsoleSmsBackend"
    stream = io.StringIO()
    json_handler = logging.StreamHandler(stream)
    json_handler.setFormatter(
        logging.config.DictConfigurator({}).configure_formatter(dict(JSON_FORMATTER))
    )
    plain_handler = logging.StreamHandler(stream)
    plain_handler.setFormatter(logging.Formatter(base.LOGGING["formatters"]["plain"]["format"]))
    root = logging.getLogger()
    old_level = root.level
    # Every logger at DEBUG, but for the ones the base settings pin higher (django.template
    # and django.db.backends, which would print personal data at DEBUG by design).
    pinned = {name for name, conf in base.LOGGING["loggers"].items() if "level" in conf}
    pinned.discard("django")
    pinned.add("factory")  # factory_boy, the tests' tool: it prints the objects it builds
    quiet = {
        name: logger.level
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger) and logger.level != logging.DEBUG
    }
    for name in quiet:
        under_pin = any(name == pin or name.startswith(pin + ".") for pin in pinned)
        logging.getLogger(name).setLevel(logging.NOTSET if under_pin else logging.DEBUG)
    for name in pinned:
        level = base.LOGGING["loggers"].get(name, {}).get("level", "INFO")
        logging.getLogger(name).setLevel(level)
    for handler in (json_handler, plain_handler):
        handler.addFilter(RequestIdFilter())
        handler.setLevel(logging.DEBUG)
        root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    logging.getLogger("apps.probe").debug("capture started")
    yield stream
    for name in pinned:
        quiet.setdefault(name, logging.NOTSET)
    for name, level in quiet.items():
        logging.getLogger(name).setLevel(level)
    root.setLevel(old_level)
    root.removeHandler(json_handler)
    root.removeHandler(plain_handler)


def assert_no_personal_data(stream: io.StringIO) -> None:
    text = stream.getvalue()
    assert "capture started" in text, "the capture is broken"
    hits = []
    for needle in _needles():
        for match in re.finditer(re.escape(needle), text, flags=re.IGNORECASE):
            hits.append(text[max(match.start() - 120, 0) : match.end() + 40])
    assert hits == []


@pytest.fixture
def shop(db):
    store = StoreFactory(code="sh-01")
    ProgrammeFactory(pending_days=0)
    TierFactory(slug="member", name="Member", rank=0)
    RewardFactory(slug="mug", name="Mug", cost_points=50)
    SLAPolicyFactory(position=1)
    return store


def _link(message) -> str:
    (link,) = LINK.findall(message.body)
    return link


def test_member_sign_up_login_and_password_reset(client, mailoutbox, log_output, shop):
    person = PEOPLE[0]
    response = client.post(
        reverse("account_signup"),
        {
            "first_name": person["first_name"],
            "last_name": person["last_name"],
            "email": person["email"],
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 302
    assert client.post(_link(mailoutbox[-1])).status_code == 302  # confirmed, signed in
    client.post(
        reverse("portal:join"),
        {"first_name": person["first_name"], "last_name": person["last_name"]},
    )
    client.logout()
    wrong = client.post(reverse("account_login"), {"login": person["email"], "password": "x"})
    assert wrong.status_code == 200
    right = client.post(reverse("account_login"), {"login": person["email"], "password": PASSWORD})
    assert right.status_code == 302
    client.logout()
    unknown = client.post(
        reverse("account_login"), {"login": PEOPLE[1]["email"], "password": PASSWORD}
    )
    assert unknown.status_code == 200
    assert (
        client.post(reverse("account_reset_password"), {"email": person["email"]}).status_code
        == 302
    )
    form_url = client.get(_link(mailoutbox[-1]))["Location"]
    new = "brand-New-Secret-4821"
    assert client.post(form_url, {"password1": new, "password2": new}).status_code == 302
    assert_no_personal_data(log_output)


def test_staff_search_and_the_360_page(client, agent, log_output, shop):
    person = PEOPLE[1]
    customer = CustomerFactory(store=shop, **person)
    client.force_login(agent)
    for query in (person["email"], person["phone"], person["last_name"], "nobody@pii-probe.x"):
        response = client.get(reverse("dashboard:customer-list"), {"q": query})
        assert response.status_code == 200
    detail = reverse("dashboard:customer-detail", args=[customer.member_number])
    assert client.get(detail).status_code == 200
    # A 404 is logged with the request, whose text holds the query string.
    missing = detail.replace(customer.member_number, "1")
    assert client.get(missing, {"q": person["email"]}).status_code == 404
    assert_no_personal_data(log_output)


def test_api_enrol_lookup_order_and_redemption(api, log_output, shop):
    person = PEOPLE[2]
    response = api.post(
        "/api/v1/customers/",
        {
            **person,
            "store": "sh-01",
            "consents": [{"channel": "email", "purpose": "marketing", "granted": True}],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    member_number = response.json()["member_number"]
    assert api.get("/api/v1/customers/", {"email": person["email"]}).status_code == 200
    assert api.get("/api/v1/customers/", {"phone": "+8613000000000"}).status_code in (200, 404)
    # A refused enrolment: the same person again, and a malformed one.
    assert (
        api.post("/api/v1/customers/", {**person, "store": "sh-01"}, format="json").status_code
        == 409
    )
    bad = {**person, "email": "not-an-address " + person["email"], "store": "sh-01"}
    assert api.post("/api/v1/customers/", bad, format="json").status_code == 400
    order = {
        "external_id": "POS-77",
        "member_number": member_number,
        "store": "sh-01",
        "placed_at": timezone.now().isoformat(),
        "total": "120.00",
    }
    assert api.post("/api/v1/orders/", order, format="json").status_code == 201
    redeemed = api.post(
        "/api/v1/redemptions/", {"member_number": member_number, "reward": "mug"}, format="json"
    )
    assert redeemed.status_code == 201, redeemed.content
    assert_no_personal_data(log_output)


def test_complaint_filed_and_answered(
    client, agent, mailoutbox, log_output, shop, django_capture_on_commit_callbacks
):
    person = PEOPLE[0]
    user, customer = enrolled_member(
        person["email"], first_name=person["first_name"], last_name=person["last_name"]
    )
    category = CategoryFactory(code="product", name_en="Product", name_zh_hans="产品")
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("portal:complaint-new"),
            {
                "category": str(category.pk),
                "subject": "Cracked mug",
                "description": f"Call me on {person['phone']} or write to {person['email']}.",
            },
        )
    assert response.status_code == 302
    ticket = Ticket.objects.get(customer=customer)
    with django_capture_on_commit_callbacks(execute=True):
        staff_reply(ticket=ticket, author=agent, body=f"Dear {person['first_name']}, sorry!")
    client.force_login(agent)
    assert client.get(reverse("dashboard:ticket-list")).status_code == 200
    assert mailoutbox  # the member was told
    assert_no_personal_data(log_output)


def test_survey_answered(client, log_output, shop):
    customer = CustomerFactory(store=shop, **PEOPLE[1])
    invitation = InvitationFactory(survey=nps_survey(), customer=customer)
    q = questions(invitation.survey)
    url = reverse("portal:survey-answer", kwargs={"token": invitation.token})
    assert client.get(url).status_code == 200
    answer = {f"q{q[0].pk}": "3", f"q{q[1].pk}": "2"}
    assert client.post(url, answer).status_code in (200, 302)
    assert_no_personal_data(log_output)


def test_campaign_sent_by_email_and_sms(marketer, mailoutbox, log_output, shop):
    no_quiet_hours()
    by_email = CustomerFactory(store=shop, preferred_channel="email", **PEOPLE[0])
    by_sms = CustomerFactory(store=shop, preferred_channel="sms", **PEOPLE[1])
    grant(by_email, "email")
    grant(by_sms, "sms")
    campaign = broadcast(actor=marketer)
    campaign_start(campaign=campaign, actor=marketer)
    campaign_send_task(campaign.pk)
    assert [m.to for m in mailoutbox] == [[PEOPLE[0]["email"]]]
    assert "sms queued" in log_output.getvalue()  # the console back-end logged, masked
    assert Customer.objects.count() == 2 and Decimal(1)
    assert_no_personal_data(log_output)
