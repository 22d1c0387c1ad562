"""Customer list, 360° page, create / edit and the 360° page's actions."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from apps.core.models import AuditEvent
from apps.customers.models import ConsentRecord, Customer, Interaction, Tag
from tests.customers.factories import (
    CustomerFactory,
    InteractionFactory,
    OrderFactory,
    OrderLineFactory,
    StoreFactory,
    TagFactory,
)

pytestmark = pytest.mark.django_db

LIST = "dashboard:customer-list"
HX = {"HX-Request": "true", "HX-Target": "customer-results"}


def _members(response) -> set[str]:
    return {c.member_number for c in response.context["page_obj"].object_list}


@pytest.fixture
def crowd(customer):
    """The fixture customer (Wei Zhang, +86 138 1234 5678) and a few others."""
    return [
        customer,
        CustomerFactory(
            first_name="Li", last_name="Na", email="li.na@example.org", phone="+8613911112222"
        ),
        CustomerFactory(
            first_name="伟", last_name="王", email="wang@example.cn", phone="+8613722223333"
        ),
        CustomerFactory(first_name="Anna", last_name="Berg", email="anna@berg.se", phone=""),
    ]


# --- search, filters, sorting --------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("zhang", 0),  # family name, lower case
        ("Wei Zh", 0),  # start of first and last name
        ("1234 5678", 0),  # part of a phone number, typed with a space
        ("138-1234", 0),  # ... or a dash
        ("13911112222", 1),  # the national digits of an E.164 number
        ("li.na@example", 1),  # part of an e-mail
        ("王伟", 2),  # Chinese name, family name first
        ("berg.se", 3),
    ],
)
def test_search_finds_by_name_phone_and_email(client, agent, crowd, query, expected):
    client.force_login(agent)
    response = client.get(reverse(LIST), {"q": query})
    assert _members(response) == {crowd[expected].member_number}


def test_search_finds_by_member_number_and_part_of_it(client, agent, crowd):
    client.force_login(agent)
    target = crowd[1].member_number
    assert _members(client.get(reverse(LIST), {"q": target})) == {target}
    assert target in _members(client.get(reverse(LIST), {"q": target[:7]}))


def test_search_without_match_shows_an_empty_state(client, agent, crowd):
    client.force_login(agent)
    response = client.get(reverse(LIST), {"q": "nobody-like-this"})
    assert _members(response) == set()
    assert "No customers match" in response.content.decode()


def test_empty_database_shows_a_first_run_empty_state(client, agent):
    client.force_login(agent)
    html = client.get(reverse(LIST)).content.decode()
    assert "No customers yet" in html
    assert reverse("dashboard:customer-create") in html


def test_filters_by_tag_store_source_and_portal_account(client, agent, crowd, member_user):
    other_store = StoreFactory(code="bj-01", name="Beijing")
    crowd[1].store = other_store
    crowd[1].source = "portal"
    crowd[1].user = member_user
    crowd[1].save()
    crowd[2].tags.add(TagFactory(name="complainer"))
    client.force_login(agent)
    assert _members(client.get(reverse(LIST), {"store": "bj-01"})) == {crowd[1].member_number}
    assert _members(client.get(reverse(LIST), {"source": "portal"})) == {crowd[1].member_number}
    assert _members(client.get(reverse(LIST), {"portal": "yes"})) == {crowd[1].member_number}
    assert crowd[1].member_number not in _members(client.get(reverse(LIST), {"portal": "no"}))
    assert _members(client.get(reverse(LIST), {"tag": "complainer"})) == {crowd[2].member_number}
    assert _members(client.get(reverse(LIST), {"tag": "vip", "q": "zhang"})) == {
        crowd[0].member_number
    }


def test_unknown_filter_values_are_ignored_not_errors(client, agent, crowd):
    client.force_login(agent)
    response = client.get(reverse(LIST), {"store": "nope", "sort": "drop table", "page": "999"})
    assert response.status_code == 200
    assert len(_members(response)) == len(crowd)


def test_sorting_by_name_member_number_and_joined(client, agent, crowd):
    now = timezone.now()
    for i, c in enumerate(crowd):
        c.joined_at = now - dt.timedelta(days=i)
        c.save()
    client.force_login(agent)

    def order(sort):
        page = client.get(reverse(LIST), {"sort": sort}).context["page_obj"]
        return [c.pk for c in page.object_list]

    assert order("-joined") == [c.pk for c in crowd]
    assert order("joined") == [c.pk for c in reversed(crowd)]
    by_number = sorted(crowd, key=lambda c: c.member_number)
    assert order("member") == [c.pk for c in by_number]
    assert order("-member") == [c.pk for c in reversed(by_number)]
    by_name = sorted(crowd, key=lambda c: (c.last_name, c.first_name))
    assert order("name") == [c.pk for c in by_name]


def test_pagination_keeps_the_query(client, agent, store):
    CustomerFactory.create_batch(55, last_name="Smith")
    CustomerFactory.create_batch(3, last_name="Other")
    client.force_login(agent)
    first = client.get(reverse(LIST), {"q": "smith"})
    assert first.context["page_obj"].paginator.count == 55
    assert len(first.context["page_obj"].object_list) == 50
    assert "?q=smith&amp;page=2" in first.content.decode()
    second = client.get(reverse(LIST), {"q": "smith", "page": 2})
    assert len(second.context["page_obj"].object_list) == 5


def test_htmx_search_gets_only_the_results_partial(client, agent, crowd):
    client.force_login(agent)
    response = client.get(reverse(LIST), {"q": "zhang"}, headers=HX)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="customer-results"')
    assert "<html" not in html and "sidebar" not in html
    assert crowd[0].member_number in html and crowd[1].member_number not in html
    assert "HX-Request" in response["Vary"]


def test_full_page_for_plain_requests_and_history_restores(client, agent, crowd):
    client.force_login(agent)
    assert "<html" in client.get(reverse(LIST)).content.decode()
    restore = {**HX, "HX-History-Restore-Request": "true"}
    assert "<html" in client.get(reverse(LIST), headers=restore).content.decode()
    other_target = {"HX-Request": "true", "HX-Target": "main"}
    assert "<html" in client.get(reverse(LIST), headers=other_target).content.decode()


def test_search_box_is_wired_for_search_as_you_type(client, agent):
    client.force_login(agent)
    html = client.get(reverse(LIST)).content.decode()
    assert 'hx-trigger="input changed delay:250ms, search"' in html
    assert 'hx-push-url="true"' in html
    assert 'hx-target="#customer-results"' in html


def test_list_rows_show_the_customer(client, agent, customer, member_user):
    customer.user = member_user
    customer.save()
    client.force_login(agent)
    html = client.get(reverse(LIST)).content.decode()
    detail = reverse("dashboard:customer-detail", args=[customer.member_number])
    assert f'data-href="{detail}"' in html
    for text in [
        "Wei Zhang",
        "wei.zhang@example.org",
        "+86 138 1234 5678",  # grouped for reading
        "Shanghai Jing&#x27;an",
        ">vip<",
    ]:
        assert text in html
    assert 'class="mono">' + customer.member_number in html
    assert "bi-person-check" in html  # portal-account badge


def test_export_buttons_carry_the_query_and_need_the_export_permission(
    client, agent, manager, customer
):
    url = reverse(LIST) + "?q=zhang&tag=vip&page=2"
    export = reverse("dashboard:customer-export")
    assert export == "/staff/customers/export/"  # the real route, mounted in config/urls.py
    client.force_login(manager)
    html = client.get(url).content.decode()
    assert f"{export}?q=zhang&amp;tag=vip&amp;format=csv" in html
    assert f"{export}?q=zhang&amp;tag=vip&amp;format=xlsx" in html
    response = client.get(export, {"q": "zhang", "tag": "vip", "format": "csv"})
    assert (response.status_code, response["Content-Type"]) == (200, "text/csv; charset=utf-8")
    lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == [customer.member_number]
    client.force_login(agent)
    assert export not in client.get(url).content.decode()
    assert client.get(export, {"format": "csv"}).status_code == 403


def test_order_export_buttons_need_the_export_permission(client, agent, manager, customer):
    OrderFactory(customer=customer, store=customer.store, external_id="ORD-7")
    export = reverse("dashboard:order-export")
    assert export == "/staff/orders/export/"  # the real route, mounted in config/urls.py
    client.force_login(manager)
    assert (
        f"{export}?q=ORD&amp;format=xlsx"
        in client.get(reverse("dashboard:order-list"), {"q": "ORD"}).content.decode()
    )
    response = client.get(export, {"q": "ORD", "format": "xlsx"})
    assert response.status_code == 200
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    client.force_login(agent)
    assert export not in client.get(reverse("dashboard:order-list")).content.decode()
    assert client.get(export, {"format": "xlsx"}).status_code == 403


# --- 360 page ------------------------------------------------------------------------------


def test_360_page_shows_stats_orders_lines_consent_interactions_and_timeline(
    client, agent, customer, store
):
    order = OrderFactory(customer=customer, store=store, external_id="A-1", total=Decimal("250.00"))
    OrderLineFactory(
        order=order, sku="TEA-1", name="Oolong", unit_price=Decimal("125.00"), quantity=Decimal(2)
    )
    OrderFactory(
        customer=customer,
        store=store,
        external_id="A-2",
        total=Decimal("50.00"),
        refunded_amount=Decimal("20.00"),
        status="partially_refunded",
    )
    InteractionFactory(customer=customer, summary="Wants a catalogue", author=agent)
    ConsentRecord.objects.create(
        customer=customer, channel="email", purpose="marketing", granted=True, source="portal"
    )
    client.force_login(agent)
    response = client.get(reverse("dashboard:customer-detail", args=[customer.member_number]))
    html = response.content.decode()
    stats = response.context["stats"]
    assert (stats.orders, stats.spend, stats.average_order, stats.refunded) == (
        2,
        Decimal("300.00"),
        Decimal("150.00"),
        Decimal("20.00"),
    )
    assert "¥300.00" in html and "¥150.00" in html and "CNY" not in html
    assert "Wants a catalogue" in html  # in the timeline
    assert "consent-yes" in html
    grid = {row["channel"]: row["cells"] for row in response.context["consent_grid"]}
    assert grid["E-mail"][0]["record"].granted is True
    assert grid["SMS"][0]["record"] is None
    kinds = sorted(e.kind for e in response.context["timeline"].events)
    assert kinds == ["consent", "interaction", "order", "order"]
    assert ">vip<" in html
    # The Orders and Interactions tabs are read when first shown: each its own request.
    panel = "dashboard:customer-panel"
    assert "TEA-1" not in html and "/panels/orders/" in html
    orders = client.get(reverse(panel, args=[customer.member_number, "orders"])).content.decode()
    assert "A-1" in orders and "TEA-1" in orders and "Oolong" in orders
    assert "<html" not in orders  # a fragment, not a page
    interactions = client.get(reverse(panel, args=[customer.member_number, "interactions"]))
    assert "Wants a catalogue" in interactions.content.decode()
    # Opened on a tab (a link, or without JavaScript), the page reads it in at once.
    opened = client.get(
        reverse("dashboard:customer-detail", args=[customer.member_number]) + "?tab=orders"
    ).content.decode()
    assert "TEA-1" in opened and "/panels/orders/" not in opened


def test_360_tabs_are_refused_to_roles_that_may_not_see_them(client, marketer, customer):
    # Marketing sees a member's interactions; without the permission, the tab is not there.
    marketer.groups.first().permissions.remove(Permission.objects.get(codename="view_interaction"))
    client.force_login(marketer)
    for panel in ("interactions", "nonsense"):
        url = reverse("dashboard:customer-panel", args=[customer.member_number, panel])
        assert client.get(url).status_code == 404
    # A tab the role may not see is not opened by ?tab= either.
    page = client.get(
        reverse("dashboard:customer-detail", args=[customer.member_number]) + "?tab=interactions"
    )
    assert page.context["tab"] == "timeline"
    assert "interactions" not in [panel.name for panel in page.context["panels"]]


@pytest.mark.parametrize(
    "before", ["2026-13-45T10:00:00+08:00", "yesterday", "2026-01-01T10:00:00", ""]
)
def test_a_timeline_page_asked_with_a_bad_time_is_the_newest(client, agent, customer, before):
    OrderFactory(customer=customer, external_id="NEWEST")
    client.force_login(agent)
    url = reverse("dashboard:customer-panel", args=[customer.member_number, "timeline"])
    response = client.get(url, {"before": before})
    assert response.status_code == 200
    assert "NEWEST" in response.content.decode()


@pytest.mark.parametrize("one_query", [True, False], ids=["union", "query-per-kind"])
def test_the_timeline_pages_back_in_time_without_gaps(
    client, agent, customer, store, monkeypatch, one_query
):
    # The page's rows found in one UNION query (PostgreSQL), or one query per kind where the
    # database cannot limit each part of a union (SQLite): the same pages either way.
    if one_query and connection.vendor != "postgresql":
        pytest.skip("SQLite cannot limit each part of a union")
    monkeypatch.setattr(
        connection.features, "supports_slicing_ordering_in_compound", one_query, raising=False
    )
    base = timezone.now() - dt.timedelta(days=400)
    for i in range(60):
        OrderFactory(
            customer=customer,
            store=store,
            external_id=f"T-{i:02d}",
            placed_at=base + dt.timedelta(days=i),
        )
    # Two interactions at the same instant as an order: events of one instant share a page.
    InteractionFactory.create_batch(2, customer=customer, at=base + dt.timedelta(days=35))
    client.force_login(agent)
    seen, url = [], reverse("dashboard:customer-detail", args=[customer.member_number])
    page = client.get(url).context["timeline"]
    pages = 1
    while True:
        seen.extend(page.events)
        if page.older is None:
            break
        more = reverse("dashboard:customer-panel", args=[customer.member_number, "timeline"])
        response = client.get(more, {"before": page.older.isoformat()})
        assert "<html" not in response.content.decode()
        page = response.context["timeline"]
        pages += 1
    assert pages >= 3
    orders = [e.title for e in seen if e.kind == "order"]
    assert len(orders) == len(set(orders)) == 60  # every order once, none twice
    assert sum(e.kind == "interaction" for e in seen) == 2  # both, though tied with an order
    assert [e.at for e in seen] == sorted((e.at for e in seen), reverse=True)


def test_360_page_hides_panels_the_role_cannot_see(client, marketer, customer):
    client.force_login(marketer)
    html = client.get(
        reverse("dashboard:customer-detail", args=[customer.member_number])
    ).content.decode()
    assert reverse("dashboard:interaction-create", args=[customer.member_number]) not in html
    assert reverse("dashboard:consent-update", args=[customer.member_number]) not in html
    assert reverse("dashboard:customer-edit", args=[customer.member_number]) not in html
    assert reverse("dashboard:customer-tag-add", args=[customer.member_number]) in html


def test_360_page_of_a_new_customer_has_empty_states(client, agent, store):
    fresh = CustomerFactory(store=store)
    client.force_login(agent)
    html = client.get(
        reverse("dashboard:customer-detail", args=[fresh.member_number])
    ).content.decode()
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    assert "Nothing has happened yet" in text
    for panel in ("orders", "interactions"):
        tab = client.get(reverse("dashboard:customer-panel", args=[fresh.member_number, panel]))
        text += " ".join(re.sub(r"<[^>]+>", " ", tab.content.decode()).split())
    assert "No orders yet" in text
    assert "No interactions logged" in text
    assert "Last order Never" in text


# --- create / edit -------------------------------------------------------------------------


def _profile(**overrides):
    data = {
        "first_name": "Mei",
        "last_name": "Chen",
        "email": "Mei.Chen@Example.org",
        "phone": "138 1234 5678",
        "birth_date": "1990-05-04",
        "gender": "female",
        "city": "Hangzhou",
        "region": "Zhejiang",
        "preferred_language": "zh-hans",
        "preferred_channel": "sms",
        "store": "sh-01",
    }
    data.update(overrides)
    return data


def test_create_enrols_through_the_service_and_redirects_to_360(client, agent, store):
    client.force_login(agent)
    response = client.post(reverse("dashboard:customer-create"), _profile(marketing_sms="on"))
    customer = Customer.objects.get(last_name="Chen")
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "dashboard:customer-detail", args=[customer.member_number]
    )
    assert customer.phone == "+8613812345678"  # normalised by the service
    assert customer.email == "mei.chen@example.org"
    assert customer.store == store and customer.source == "staff"
    assert AuditEvent.objects.filter(action="customer.create", actor=agent).count() == 1
    consent = ConsentRecord.objects.get(customer=customer)
    assert (consent.channel, consent.purpose, consent.granted, consent.actor) == (
        "sms",
        "marketing",
        True,
        agent,
    )


@pytest.mark.parametrize(
    ("phone", "message"),
    [
        ("12345", "“12345” is not a valid phone number."),
        ("not a phone", "“not a phone” is not a phone number."),
        ("+86 100", "“+86 100” is not a valid phone number."),
    ],
)
def test_create_with_a_bad_phone_shows_the_error_on_the_field_and_writes_nothing(
    client, agent, store, phone, message
):
    client.force_login(agent)
    response = client.post(reverse("dashboard:customer-create"), _profile(phone=phone))
    assert response.status_code == 200
    assert response.context["form"].errors == {"phone": [message]}
    html = response.content.decode()
    assert "is-invalid" in html and message in html
    assert Customer.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_create_with_a_control_character_is_a_field_error_and_writes_nothing(client, agent, store):
    client.force_login(agent)
    response = client.post(reverse("dashboard:customer-create"), _profile(first_name="Ann\u0007"))
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "first_name": [
            "This text contains an invisible control character (U+0007) that cannot be stored; "
            "remove it."
        ]
    }
    assert Customer.objects.count() == 0 and AuditEvent.objects.count() == 0


def test_edit_with_a_control_character_changes_nothing(client, agent, customer):
    client.force_login(agent)
    before = Customer.objects.values().get(pk=customer.pk)
    response = client.post(
        reverse("dashboard:customer-edit", args=[customer.member_number]),
        _profile(last_name="Zh\x08ang"),
    )
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["last_name"]
    assert Customer.objects.values().get(pk=customer.pk) == before
    assert AuditEvent.objects.count() == 0


def test_tag_and_interaction_with_a_control_character_are_refused(client, agent, customer):
    client.force_login(agent)
    tag = client.post(
        reverse("dashboard:customer-tag-add", args=[customer.member_number]),
        {"name": "v\x07ip"},
        follow=True,
    )
    note = client.post(
        reverse("dashboard:interaction-create", args=[customer.member_number]),
        {"kind": "call", "summary": "Called", "body": "Line one\r\nline two\x1b"},
        follow=True,
    )
    for response, code in ((tag, "0007"), (note, "001B")):
        assert [(m.level_tag, str(m)) for m in response.context["messages"]] == [
            (
                "error",
                f"This text contains an invisible control character (U+{code}) that cannot be "
                "stored; remove it.",
            )
        ]
    assert list(customer.tags.values_list("name", flat=True)) == ["vip"]
    assert Interaction.objects.count() == 0 and AuditEvent.objects.count() == 0


def test_interaction_body_keeps_the_line_breaks_a_browser_sends(client, agent, customer):
    client.force_login(agent)
    client.post(
        reverse("dashboard:interaction-create", args=[customer.member_number]),
        {"kind": "call", "summary": "Called", "body": "Line one\r\nline two"},
    )
    assert Interaction.objects.get().body.splitlines() == ["Line one", "line two"]


def test_service_refusal_becomes_a_form_error(client, agent, store):
    client.force_login(agent)
    future = (timezone.localdate() + dt.timedelta(days=3)).isoformat()
    response = client.post(reverse("dashboard:customer-create"), _profile(birth_date=future))
    assert response.status_code == 200
    assert response.context["form"].errors["birth_date"] == ["The birth date is in the future."]
    assert Customer.objects.count() == 0


def test_create_needs_an_email_or_a_phone(client, agent):
    """The minimum-contact rule of the customers service (a name alone is not enough)."""
    client.force_login(agent)
    data = _profile(first_name="Wei", last_name="Zhang", email="", phone="", store="")
    response = client.post(reverse("dashboard:customer-create"), data)
    assert response.status_code == 200
    assert response.context["form"].errors["email"] == [
        "A member needs an e-mail address or a phone number."
    ]
    assert Customer.objects.count() == 0 and not AuditEvent.objects.exists()


def test_edit_may_not_take_away_the_last_contact(client, agent, customer):
    client.force_login(agent)
    url = reverse("dashboard:customer-edit", args=[customer.member_number])
    before = list(Customer.objects.values_list("email", "phone"))
    response = client.post(url, _profile(first_name="Wei", email="", phone=""))
    assert response.status_code == 200
    assert response.context["form"].errors["email"] == [
        "A member needs an e-mail address or a phone number."
    ]
    assert list(Customer.objects.values_list("email", "phone")) == before
    assert not AuditEvent.objects.filter(action="customer.update").exists()


def test_edit_updates_through_the_service_with_an_audit_event(client, agent, customer):
    client.force_login(agent)
    url = reverse("dashboard:customer-edit", args=[customer.member_number])
    form = client.get(url).context["form"]
    assert form.initial["phone"] == "+8613812345678" and form.initial["store"] == "sh-01"
    response = client.post(
        url, _profile(first_name="Wei", last_name="Zhang", phone="(0)138-0000-9999")
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.phone == "+8613800009999"
    assert customer.city == "Hangzhou"
    event = AuditEvent.objects.get(action="customer.update")
    assert event.actor == agent
    assert (event.before, event.after) == (
        {
            "city": "Shanghai",
            "email": "wei.zhang@example.org",
            "phone": "+8613812345678",
            "gender": "",
            "region": "",
            "birth_date": None,
            "preferred_channel": "email",
        },
        {
            "city": "Hangzhou",
            "email": "mei.chen@example.org",
            "phone": "+8613800009999",
            "gender": "female",
            "region": "Zhejiang",
            "birth_date": "1990-05-04",
            "preferred_channel": "sms",
        },
    )


def test_edit_with_a_bad_phone_changes_nothing(client, agent, customer):
    client.force_login(agent)
    before = Customer.objects.values().get(pk=customer.pk)
    response = client.post(
        reverse("dashboard:customer-edit", args=[customer.member_number]),
        _profile(phone="999"),
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {"phone": ["“999” is not a valid phone number."]}
    assert Customer.objects.values().get(pk=customer.pk) == before
    assert AuditEvent.objects.count() == 0


# --- tags, interactions, consent -----------------------------------------------------------


def test_tag_add_and_remove(client, agent, customer):
    client.force_login(agent)
    detail = reverse("dashboard:customer-detail", args=[customer.member_number])
    response = client.post(
        reverse("dashboard:customer-tag-add", args=[customer.member_number]), {"name": "  Gold  "}
    )
    assert response.status_code == 302 and response["Location"].startswith(detail)
    assert sorted(customer.tags.values_list("name", flat=True)) == ["Gold", "vip"]
    gold = Tag.objects.get(name="Gold")
    page = client.get(detail).content.decode()
    assert reverse("dashboard:customer-tag-remove", args=[customer.member_number, gold.pk]) in page

    client.post(reverse("dashboard:customer-tag-remove", args=[customer.member_number, gold.pk]))
    assert list(customer.tags.values_list("name", flat=True)) == ["vip"]
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["customer.tag_add", "customer.tag_remove"]


def test_blank_tag_is_refused_with_a_message(client, agent, customer):
    client.force_login(agent)
    response = client.post(
        reverse("dashboard:customer-tag-add", args=[customer.member_number]),
        {"name": "   "},
        follow=True,
    )
    assert response.redirect_chain == [(f"/staff/customers/{customer.member_number}/", 302)]
    assert [(m.level_tag, str(m)) for m in response.context["messages"]] == [
        ("error", "This field is required.")
    ]
    assert list(customer.tags.values_list("name", flat=True)) == ["vip"]
    assert AuditEvent.objects.count() == 0


def test_removing_an_unknown_tag_is_404(client, agent, customer):
    client.force_login(agent)
    url = reverse("dashboard:customer-tag-remove", args=[customer.member_number, 999999])
    assert client.post(url).status_code == 404
    assert customer.tags.count() == 1


def test_interaction_log(client, agent, customer):
    client.force_login(agent)
    response = client.post(
        reverse("dashboard:interaction-create", args=[customer.member_number]),
        {"kind": "visit", "summary": "Came to collect a parcel", "body": "All fine"},
    )
    assert response.status_code == 302
    assert response["Location"].endswith("#tab-interactions")
    interaction = Interaction.objects.get()
    assert (interaction.customer, interaction.kind, interaction.author) == (
        customer,
        "visit",
        agent,
    )
    assert interaction.body == "All fine"
    assert AuditEvent.objects.filter(action="interaction.create").count() == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "call", "summary": ""}, "This field is required."),
        (
            {"kind": "telepathy", "summary": "Hmm"},
            "Select a valid choice. telepathy is not one of the available choices.",
        ),
    ],
)
def test_interaction_without_summary_or_with_an_unknown_kind_is_refused(
    client, agent, customer, data, message
):
    client.force_login(agent)
    url = reverse("dashboard:interaction-create", args=[customer.member_number])
    response = client.post(url, data, follow=True)
    assert response.redirect_chain == [
        (f"/staff/customers/{customer.member_number}/#tab-interactions", 302)
    ]
    assert [(m.level_tag, str(m)) for m in response.context["messages"]] == [("error", message)]
    assert Interaction.objects.count() == 0 and AuditEvent.objects.count() == 0


def test_consent_update_writes_a_record_and_an_audit_event(client, agent, customer):
    client.force_login(agent)
    response = client.post(
        reverse("dashboard:consent-update", args=[customer.member_number]),
        {"channel": "sms", "purpose": "marketing", "granted": "no", "evidence": "Phoned in"},
    )
    assert response.status_code == 302 and response["Location"].endswith("#consent")
    record = ConsentRecord.objects.get()
    assert (record.customer, record.channel, record.purpose, record.granted) == (
        customer,
        "sms",
        "marketing",
        False,
    )
    assert (record.source, record.actor, record.evidence) == ("staff", agent, "Phoned in")
    event = AuditEvent.objects.get()
    assert (event.action, event.actor) == ("consent.withdraw", agent)
    assert event.after == {
        "channel": "sms",
        "purpose": "marketing",
        "granted": False,
        "source": "staff",
    }

    page = client.get(reverse("dashboard:customer-detail", args=[customer.member_number]))
    grid = {row["channel"]: row["cells"] for row in page.context["consent_grid"]}
    assert grid["SMS"][0]["record"] == record


def test_consent_update_with_bad_input_changes_nothing(client, agent, customer):
    client.force_login(agent)
    response = client.post(
        reverse("dashboard:consent-update", args=[customer.member_number]),
        {"channel": "pigeon", "purpose": "marketing", "granted": "yes"},
        follow=True,
    )
    assert response.redirect_chain == [(f"/staff/customers/{customer.member_number}/#consent", 302)]
    assert [(m.level_tag, str(m)) for m in response.context["messages"]] == [
        ("error", "Select a valid choice. pigeon is not one of the available choices.")
    ]
    assert ConsentRecord.objects.count() == 0 and AuditEvent.objects.count() == 0


# --- orders and home -----------------------------------------------------------------------


def test_order_list_search_filter_and_links(client, agent, customer, store):
    other = StoreFactory(code="bj-01", name="Beijing")
    OrderFactory(customer=customer, store=store, external_id="SH-100")
    OrderFactory(customer=customer, store=other, external_id="BJ-200")
    OrderFactory(store=other, external_id="BJ-300")
    client.force_login(agent)

    def ids(**params):
        page = client.get(reverse("dashboard:order-list"), params).context["page_obj"]
        return {o.external_id for o in page.object_list}

    assert ids() == {"SH-100", "BJ-200", "BJ-300"}
    assert ids(q="BJ") == {"BJ-200", "BJ-300"}
    assert ids(q=customer.member_number) == {"SH-100", "BJ-200"}
    assert ids(store="sh-01") == {"SH-100"}
    html = client.get(reverse("dashboard:order-list")).content.decode()
    assert (
        f'data-href="{reverse("dashboard:customer-detail", args=[customer.member_number])}"' in html
    )
    partial = client.get(
        reverse("dashboard:order-list"),
        {"q": "SH"},
        headers={"HX-Request": "true", "HX-Target": "order-results"},
    ).content.decode()
    assert partial.lstrip().startswith('<section id="order-results"') and "BJ-200" not in partial


def test_home_shows_30_day_figures_and_recent_customers(client, manager, store):
    now = timezone.now()
    old = CustomerFactory(joined_at=now - dt.timedelta(days=90), first_name="Old")
    new = CustomerFactory(joined_at=now - dt.timedelta(days=2), first_name="Newcomer")
    OrderFactory(
        customer=new,
        store=store,
        placed_at=now - dt.timedelta(days=1),
        total=Decimal("80.00"),
        refunded_amount=Decimal("30.00"),
    )
    OrderFactory(
        customer=old, store=store, placed_at=now - dt.timedelta(days=5), total=Decimal("20.00")
    )
    OrderFactory(
        customer=old, store=store, placed_at=now - dt.timedelta(days=40), total=Decimal("999.00")
    )
    client.force_login(manager)
    response = client.get(reverse("dashboard:home"))
    summary = response.context["summary"]
    assert (summary.customers, summary.new_customers, summary.orders, summary.revenue) == (
        2,
        1,
        2,
        Decimal("70.00"),
    )
    assert [c.pk for c in response.context["recent_customers"]] == [new.pk, old.pk]
    assert "Newcomer" in response.content.decode()


def test_tags_read_their_label_in_the_readers_language(client, agent, customer):
    from apps.customers.models import Tag

    tag = Tag.objects.create(name="wholesale", label_en="Wholesale", label_zh_hans="批发")
    customer.tags.add(tag)
    client.force_login(agent)
    client.cookies["django_language"] = "zh-hans"
    detail = client.get(reverse("dashboard:customer-detail", args=[customer.member_number]))
    listing = client.get(reverse("dashboard:customer-list")).content.decode()
    assert "批发" in detail.content.decode() and "Wholesale" not in detail.content.decode()
    assert '<option value="wholesale">批发</option>' in listing  # filters by name, reads the label
