"""Business time (issue 11): ``add_business_minutes`` and ``business_minutes_between`` across
lunch breaks, nights, weekends, holidays, make-up days, year ends and DST, checked by hand and
against a minute-by-minute reference; the document rules; import and export."""

import datetime as dt
import json
import zoneinfo

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.core.calendar import (
    Schedule,
    add_business_minutes,
    business_minutes_between,
    is_open,
    next_opening,
)
from apps.core.calendar_rules import calendar_document_clean
from apps.core.calendars import calendar_export, calendar_import
from apps.core.exceptions import ValidationFailed
from apps.core.models import AuditEvent, BusinessCalendar

SH = zoneinfo.ZoneInfo("Asia/Shanghai")
WEEKDAYS = {
    d: [["09:00", "12:00"], ["13:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")
}
CN = Schedule.from_parts(
    timezone="Asia/Shanghai",
    hours=WEEKDAYS,
    holidays=["2026-10-01", "2026-10-02", "2026-10-05", "2026-12-31", "2027-01-01"],
    workdays=["2026-10-11"],
)


def sh(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=SH)


@pytest.mark.parametrize(
    ("start", "minutes", "due"),
    [
        ("2026-09-28 09:00", 60, "2026-09-28 10:00"),
        ("2026-09-28 11:30", 60, "2026-09-28 13:30"),  # across lunch
        ("2026-09-28 12:15", 30, "2026-09-28 13:30"),  # starts in the lunch break
        ("2026-09-28 17:00", 60, "2026-09-28 18:00"),  # ends exactly at closing: that closing
        ("2026-09-28 17:30", 60, "2026-09-29 09:30"),  # overnight
        ("2026-09-28 22:00", 0, "2026-09-29 09:00"),  # zero minutes from closed: next opening
        ("2026-09-28 10:00", 0, "2026-09-28 10:00"),
        ("2026-09-25 17:00", 120, "2026-09-28 10:00"),  # over the weekend
        ("2026-09-30 17:00", 120, "2026-10-06 10:00"),  # holidays Thu, Fri, Mon (weekend between)
        ("2026-10-09 17:00", 120, "2026-10-11 10:00"),  # to a make-up Sunday
        ("2026-12-30 17:00", 120, "2027-01-04 10:00"),  # over the year end and its holidays
    ],
)
def test_add_business_minutes(start, minutes, due):
    assert add_business_minutes(CN, sh(start), minutes) == sh(due)


def test_results_are_utc_and_naive_input_is_refused():
    result = add_business_minutes(CN, sh("2026-09-28 09:00"), 1)
    assert result.tzinfo == dt.UTC
    with pytest.raises(ValueError):
        add_business_minutes(CN, dt.datetime(2026, 9, 28, 9), 1)


def test_between_counts_whole_business_minutes():
    assert business_minutes_between(CN, sh("2026-09-28 11:30"), sh("2026-09-28 13:30")) == 60
    assert business_minutes_between(CN, sh("2026-09-25 17:00"), sh("2026-09-28 10:00")) == 120
    assert business_minutes_between(CN, sh("2026-09-28 10:00"), sh("2026-09-28 09:00")) == 0
    half = sh("2026-09-28 10:00") + dt.timedelta(seconds=90)
    assert business_minutes_between(CN, sh("2026-09-28 10:00"), half) == 1  # floored


def test_is_open_and_next_opening():
    assert is_open(CN, sh("2026-09-28 09:00")) and not is_open(CN, sh("2026-09-28 12:00"))
    assert not is_open(CN, sh("2026-10-01 10:00")) and is_open(CN, sh("2026-10-11 10:00"))
    assert next_opening(CN, sh("2026-09-28 12:30")) == sh("2026-09-28 13:00")


def test_a_calendar_that_never_opens_is_an_error_not_a_hang():
    closed = Schedule.from_parts(timezone="Asia/Shanghai", hours={})
    with pytest.raises(ValidationFailed):
        add_business_minutes(closed, sh("2026-09-28 09:00"), 1)


def test_dst_counts_real_minutes_and_moves_a_missing_hour_forward():
    berlin = Schedule.from_parts(
        timezone="Europe/Berlin",
        hours={"sun": [["01:00", "04:00"]], "mon": [["09:00", "10:00"]]},
    )
    cet = zoneinfo.ZoneInfo("Europe/Berlin")
    start = dt.datetime(2026, 3, 29, 1, 0, tzinfo=cet)  # clocks go 02:00 → 03:00 that night
    # 01:00–04:00 wall clock is two real hours that Sunday.
    assert (
        business_minutes_between(berlin, start, dt.datetime(2026, 3, 29, 5, 0, tzinfo=cet)) == 120
    )
    assert add_business_minutes(berlin, start, 120) == dt.datetime(2026, 3, 29, 4, 0, tzinfo=cet)
    autumn = dt.datetime(2026, 10, 25, 1, 0, tzinfo=cet)  # 03:00 → 02:00: three real hours
    assert (
        business_minutes_between(berlin, autumn, dt.datetime(2026, 10, 25, 5, 0, tzinfo=cet)) == 240
    )


def _reference(schedule: Schedule, start: dt.datetime, minutes: int) -> dt.datetime:
    """Minute by minute: the slow, obviously right answer."""
    at, left = start, minutes
    while True:
        if is_open(schedule, at):
            if left == 0:
                return at
            left -= 1
            at += dt.timedelta(minutes=1)
            if left == 0:
                return at
        else:
            at += dt.timedelta(minutes=1)


ZONED = {
    "shanghai": CN,
    "new-york": Schedule.from_parts(
        timezone="America/New_York",
        hours={
            **WEEKDAYS,
            "sat": [["00:00", "02:30"], ["22:00", "24:00"]],
            "sun": [["01:00", "04:00"]],
        },
        holidays=["2026-11-26"],
        workdays=["2026-11-01"],
    ),
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    zone=st.sampled_from(sorted(ZONED)),
    offset=st.integers(min_value=0, max_value=60 * 24 * 120),
    minutes=st.integers(min_value=0, max_value=2400),
)
def test_matches_a_minute_by_minute_reference(zone, offset, minutes):
    schedule = ZONED[zone]
    start = dt.datetime(2026, 9, 20, tzinfo=dt.UTC) + dt.timedelta(minutes=offset)
    due = add_business_minutes(schedule, start, minutes)
    assert due == _reference(schedule, start, minutes)
    assert business_minutes_between(schedule, start, due) == minutes


# --- the document ------------------------------------------------------------------------------

DOC = {
    "code": "cn-2027",
    "name": "Mainland China 2027",
    "timezone": "Asia/Shanghai",
    "hours": {
        "mon": [["09:00", "12:00"], ["13:00", "18:00"]],
        "tue": [["09:00", "18:00"]],
        "sat": [],
    },
    "holidays": ["2027-01-01", "2027-02-05"],
    "workdays": ["2027-02-14"],
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"hours": {"mon": [["13:00", "12:00"]]}},
            "hours.mon[0]: 13:00–12:00 ends before it starts.",
        ),
        ({"hours": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}}, "overlap"),
        ({"hours": {"funday": []}}, "unknown day"),
        ({"hours": {"mon": [["9am", "12:00"]]}}, "is not a time like"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"workdays": ["2027-01-01"]}, "2027-01-01 is also a holiday."),
        ({"holidays": ["2027-13-01"]}, "holidays[0]"),
        ({"code": "CN 2027"}, "code:"),
    ],
)
def test_bad_documents_are_refused_with_their_path(change, message):
    with pytest.raises(ValidationFailed) as refused:
        calendar_document_clean({**DOC, **change})
    assert message in refused.value.message


@pytest.mark.django_db
def test_import_export_round_trip_is_audited(tmp_path):
    calendar, created = calendar_import(
        document={**DOC, "name": {"en": "China 2027", "zh-hans": "中国 2027"}}
    )
    assert created and calendar.name_zh_hans == "中国 2027"
    exported = calendar_export(calendar)
    again, created = calendar_import(document=exported)
    assert not created and calendar_export(again) == exported
    assert AuditEvent.objects.filter(action="core.calendar_imported").count() == 2


@pytest.mark.django_db
def test_commands(tmp_path, capsys):
    path = tmp_path / "cn-2027.json"
    path.write_text(json.dumps(DOC), encoding="utf-8")
    call_command("calendar_import", str(path))
    assert "Created calendar cn-2027" in capsys.readouterr().out
    out = tmp_path / "out.json"
    call_command("calendar_export", "cn-2027", "-o", str(out))
    assert json.loads(out.read_text(encoding="utf-8"))["holidays"] == DOC["holidays"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**DOC, "timezone": "Nowhere"}), encoding="utf-8")
    with pytest.raises(CommandError, match="unknown time zone"):
        call_command("calendar_import", str(bad))
    assert BusinessCalendar.objects.count() == 1


@pytest.mark.django_db
def test_the_shipped_2026_schedule_loads():
    path = django_settings.BASE_DIR / "fixtures" / "calendars" / "cn-2026.json"
    calendar, _ = calendar_import(document=json.loads(path.read_text(encoding="utf-8")))
    # Sat 14 Feb 2026 is a make-up working day; Mon 16 Feb is in the Spring Festival holiday.
    assert is_open(calendar, sh("2026-02-14 10:00")) and not is_open(
        calendar, sh("2026-02-16 10:00")
    )
    assert add_business_minutes(calendar, sh("2026-02-13 17:30"), 60) == sh("2026-02-14 09:30")
