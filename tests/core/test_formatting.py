import datetime as dt
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import timezone, translation
from django.utils.formats import date_format

from apps.core import formatting


@pytest.mark.parametrize(
    ("value", "options", "expected"),
    [
        (Decimal("1234.5"), {}, "¥1,234.50"),
        (Decimal("30"), {"trim": True}, "¥30"),
        (Decimal("30.5"), {"trim": True}, "¥30.50"),
        (Decimal("-80"), {}, "\u2212¥80.00"),
        (Decimal("12"), {"signed": True}, "+¥12.00"),
        ("535.705", {}, "¥535.71"),
        (0, {}, "¥0.00"),
    ],
)
def test_money_carries_its_symbol_and_groups(value, options, expected):
    assert formatting.money(value, **options) == expected


def test_money_leaves_what_is_not_a_number():
    assert formatting.money(None) == ""
    assert formatting.money("n/a") == "n/a"


def test_other_currencies_use_their_symbol_or_code():
    assert formatting.money(5, currency="USD") == "$5.00"
    assert formatting.money(5, currency="CHF") == "CHF\u00a05.00"


def test_numbers_and_points_group_by_three_in_both_languages():
    assert formatting.number(1234567) == "1,234,567"
    assert formatting.number(-32, signed=True) == "\u221232"
    assert formatting.number(Decimal("12.345"), places=1) == "12.3"
    with translation.override("en"):
        assert formatting.points(1) == "1 point"
        assert formatting.points(1500) == "1,500 points"
    with translation.override("zh-hans"):
        assert formatting.points(1500) == "1,500 积分"


def test_phone_is_grouped_and_linked():
    assert formatting.phone_display("+8613290809573") == "+86 132 9080 9573"
    assert formatting.phone_display("not a phone") == "not a phone"
    assert formatting.phone_uri("+86 132 9080 9573") == "tel:+8613290809573"
    html = Template("{% load fmt %}{{ p|phone_link }}").render(Context({"p": "+8613290809573"}))
    assert html == '<a href="tel:+8613290809573" class="text-nowrap">+86 132 9080 9573</a>'


def test_relative_times_use_one_unit_and_read_naturally_in_chinese():
    now = timezone.now()
    with translation.override("en"):
        assert formatting.since(now - dt.timedelta(seconds=20), now=now) == "just now"
        assert formatting.since(now - dt.timedelta(hours=3, minutes=5), now=now) == "3 hours ago"
        assert formatting.since(now + dt.timedelta(days=2, hours=1), now=now) == "in 2 days"
    with translation.override("zh-hans"):
        assert formatting.since(now - dt.timedelta(days=3), now=now) == "3天前"
        assert formatting.since(now - dt.timedelta(minutes=5), now=now) == "5分钟前"
        old = now - dt.timedelta(days=90)
        assert formatting.since(old, now=now) == date_format(timezone.localtime(old), "DATE_FORMAT")


def test_dates_are_unambiguous_in_each_language():
    day = dt.date(2026, 12, 4)
    with translation.override("en"):
        assert date_format(day, "DATE_FORMAT") == "4 Dec 2026"
        assert date_format(day, "SHORT_DATE_FORMAT") == "2026-12-04"
    with translation.override("zh-hans"):
        assert date_format(day, "DATE_FORMAT") == "2026年12月4日"
        assert date_format(day, "SHORT_DATE_FORMAT") == "2026-12-04"


def test_template_filters_format_money_and_numbers_in_chinese():
    template = Template('{% load fmt %}{{ a|money:"trim" }} {{ n|number }} {{ d|signed_number }}')
    with translation.override("zh-hans"):
        html = template.render(Context({"a": Decimal("10.00"), "n": 123456, "d": 158}))
    assert html == "¥10 123,456 +158"


def test_money_rounds_headline_figures_and_keeps_a_points_exact_value():
    assert formatting.money(Decimal("123456.50"), whole=True) == "¥123,457"
    assert formatting.money(Decimal("0.0100"), exact=True) == "¥0.01"
    assert formatting.money(Decimal("0.005"), exact=True) == "¥0.005"
    html = Template('{% load fmt %}{{ v|money:"whole" }}').render(Context({"v": Decimal("9.6")}))
    assert html == "¥10"


def test_greetings_and_masked_names_respect_chinese_name_order():
    from apps.accounts.models import User
    from apps.customers.models import Customer

    zhang = Customer(first_name="伟", last_name="张")
    mia = Customer(first_name="Mia", last_name="Miller")
    assert (zhang.greeting_name, zhang.masked_name) == ("张伟", "张*")
    assert (mia.greeting_name, mia.masked_name) == ("Mia", "Mia M.")
    assert Customer(first_name="Mia").masked_name == "Mia"
    assert User(full_name="王芳").get_short_name() == "王芳"
    assert User(full_name="Lee Chen").get_short_name() == "Lee"


def test_name_fields_come_family_name_first_in_chinese():
    from django import forms

    from apps.core.templatetags.fields import name_fields

    class NameForm(forms.Form):
        first_name = forms.CharField()
        last_name = forms.CharField()

    with translation.override("zh-hans"):
        assert [f.name for f in name_fields(NameForm())] == ["last_name", "first_name"]
    with translation.override("en"):
        assert [f.name for f in name_fields(NameForm())] == ["first_name", "last_name"]
