"""The fulfilment queue (issue 9, part 7): where each reward goes, bulk fulfilment with a report
of the rows that failed, and cancelling only after a confirmation page."""

from decimal import Decimal

import pytest
from django.urls import reverse

from apps.core.models import AuditEvent
from apps.loyalty.models import LoyaltyAccount, Redemption
from apps.loyalty.services import points_adjust, redemption_cancel, reward_redeem
from tests.customers.factories import CustomerFactory, StoreFactory
from tests.dashboard import loyalty_fixtures
from tests.loyalty.factories import RewardFactory

pytestmark = pytest.mark.django_db

loyalty_world = loyalty_fixtures.loyalty_world
QUEUE = "dashboard:loyalty-redemption-list"
BULK = "dashboard:loyalty-redemption-bulk-fulfil"


def _redeem(world, n: int, **handover) -> list[Redemption]:
    reward = RewardFactory(name="Tea mug", kind="physical", cost_points=300)
    made = []
    for i in range(n):
        customer = CustomerFactory(first_name=f"M{i}", last_name="Lee")
        points_adjust(customer=customer, points=300, reason="seed", actor=world["root"])
        made.append(
            reward_redeem(customer=customer, reward=reward, key=f"b-{i}-{customer.pk}", **handover)
        )
    return made


def _messages(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


def test_queue_shows_the_pickup_store_or_the_delivery_address(client, agent, loyalty_world):
    shop = StoreFactory(code="bj-01", name="Beijing Sanlitun", city="Beijing")
    _redeem(loyalty_world, 1, pickup_store=shop)
    _redeem(loyalty_world, 1, delivery_address="Room 5, 8 Tea Lane\nHangzhou")
    client.force_login(agent)
    html = client.get(reverse(QUEUE)).content.decode()
    assert "Beijing Sanlitun" in html and "Beijing" in html
    assert "Room 5, 8 Tea Lane<br>Hangzhou" in html
    assert "Not given: ask the member" in html  # the fixture's redemption said nothing
    assert 'name="ids"' in html and 'form="bulk-fulfil"' in html


def test_bulk_fulfil_fulfils_each_row_and_reports_the_ones_that_failed(
    client, agent, loyalty_world
):
    first, second, third = _redeem(loyalty_world, 3)
    redemption_cancel(redemption=second, actor=agent, reason="Member changed their mind")
    client.force_login(agent)
    response = client.post(
        reverse(BULK),
        {"ids": [first.pk, second.pk, third.pk, 999999], "notes": "Courier SF"},
        follow=True,
    )
    statuses = dict(Redemption.objects.values_list("pk", "status"))
    assert (statuses[first.pk], statuses[second.pk], statuses[third.pk]) == (
        "fulfilled",
        "cancelled",
        "fulfilled",
    )
    assert Redemption.objects.get(pk=first.pk).fulfilment_notes == "Courier SF"
    assert AuditEvent.objects.filter(action="redemption.fulfil", actor=agent).count() == 2
    assert _messages(response) == [
        ("success", "2 redemptions marked as fulfilled."),
        (
            "error",
            "Not fulfilled: Tea mug for M1 Lee. Only requested redemptions can be fulfilled.",
        ),
        ("error", "Not fulfilled: Redemption 999999. Not found."),
    ]


def test_bulk_fulfil_without_a_selection_changes_nothing(client, agent, loyalty_world):
    client.force_login(agent)
    response = client.post(reverse(BULK), {"notes": "x"}, follow=True)
    assert _messages(response) == [("error", "Select the redemptions to fulfil.")]
    assert not Redemption.objects.filter(status="fulfilled").exists()


def test_bulk_fulfil_refuses_junk_ids(client, agent, loyalty_world):
    client.force_login(agent)
    response = client.post(reverse(BULK), {"ids": ["1; drop", "2"]}, follow=True)
    assert response.status_code == 200 and _messages(response)[0][0] == "error"
    assert not Redemption.objects.filter(status="fulfilled").exists()


def test_bulk_fulfil_does_not_touch_vouchers(client, agent, loyalty_world):
    voucher = RewardFactory(
        kind="voucher", cost_points=10, coupon_kind="fixed", coupon_value=Decimal(5)
    )
    customer = loyalty_world["customer"]
    done = reward_redeem(customer=customer, reward=voucher, key="v-1")
    client.force_login(agent)
    response = client.post(reverse(BULK), {"ids": [done.pk]}, follow=True)
    assert _messages(response) == [("error", f"Not fulfilled: Redemption {done.pk}. Not found.")]
    assert not AuditEvent.objects.filter(action="redemption.fulfil").exists()


def test_marketer_cannot_bulk_fulfil(client, marketer, loyalty_world):
    client.force_login(marketer)
    redemption = loyalty_world["redemption"]
    assert client.post(reverse(BULK), {"ids": [redemption.pk]}).status_code == 403
    assert Redemption.objects.get(pk=redemption.pk).status == "requested"


def test_cancel_shows_a_confirmation_first(client, agent, loyalty_world):
    redemption, customer = loyalty_world["redemption"], loyalty_world["customer"]
    client.force_login(agent)
    url = reverse("dashboard:loyalty-redemption-cancel", args=[redemption.pk])
    queue = client.get(reverse(QUEUE)).content.decode()
    assert f'href="{url}"' in queue  # a link to the confirmation, not a one-click POST
    balance = LoyaltyAccount.objects.get(customer=customer).balance
    page = client.get(url)
    html = page.content.decode()
    assert page.status_code == 200
    assert "The member gets 300 points back" in html and f'action="{url}"' in html
    assert Redemption.objects.get(pk=redemption.pk).status == "requested"
    response = client.post(url, {"reason": "Out of stock"})
    assert response.status_code == 302
    assert Redemption.objects.get(pk=redemption.pk).status == "cancelled"
    assert LoyaltyAccount.objects.get(customer=customer).balance == balance + 300


def test_the_confirmation_of_a_finished_redemption_sends_back(client, agent, loyalty_world):
    redemption = loyalty_world["redemption"]
    redemption_cancel(redemption=redemption, actor=agent, reason="x")
    client.force_login(agent)
    url = reverse("dashboard:loyalty-redemption-cancel", args=[redemption.pk])
    response = client.get(url, follow=True)
    assert response.redirect_chain == [(reverse(QUEUE), 302)]
    assert _messages(response) == [("error", "This redemption can no longer be cancelled.")]


def test_queue_budget_with_stores_and_addresses(
    client, manager, loyalty_world, count_queries, django_assert_max_num_queries
):
    client.force_login(manager)
    url = reverse(QUEUE)
    shops = [StoreFactory(code=f"s{i}", name=f"Shop {i}") for i in range(3)]
    _redeem(loyalty_world, 2, pickup_store=shops[0])
    small = count_queries(client, url)
    for shop in shops:
        _redeem(loyalty_world, 10, pickup_store=shop)
    _redeem(loyalty_world, 10, delivery_address="1 Road")
    assert count_queries(client, url) == small
    with django_assert_max_num_queries(12):
        client.get(url)
