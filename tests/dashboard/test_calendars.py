import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.core.calendars import calendar_import
from apps.core.models import AuditEvent, BusinessCalendar

pytestmark = pytest.mark.django_db

DOC = {
    "code": "cn-2027",
    "name": {"en": "Mainland China 2027", "zh-hans": "中国大陆 2027"},
    "timezone": "Asia/Shanghai",
    "hours": {"mon": [["09:00", "12:00"], ["13:00", "18:00"]], "tue": [["09:00", "18:00"]]},
    "holidays": ["2027-01-01"],
    "workdays": ["2027-02-14"],
}


def test_administrator_loads_a_calendar_from_a_file_and_reads_it(client, administrator):
    client.force_login(administrator)
    upload = SimpleUploadedFile(
        "cn-2027.json", json.dumps(DOC).encode(), content_type="application/json"
    )
    response = client.post(reverse("dashboard:calendar-import"), {"file": upload})
    assert response.status_code == 302
    calendar = BusinessCalendar.objects.get(code="cn-2027")
    assert calendar.workdays == ["2027-02-14"]
    page = client.get(
        reverse("dashboard:calendar-detail", args=["cn-2027"]),
        {"start": "2027-01-04T17:30", "minutes": "60"},
    )
    assert page.status_code == 200 and 'data-testid="deadline"' in page.content.decode()
    exported = client.get(reverse("dashboard:calendar-export", args=["cn-2027"]))
    assert json.loads(exported.content)["holidays"] == ["2027-01-01"]
    assert AuditEvent.objects.filter(action="core.calendar_imported").count() == 1


def test_a_bad_document_is_a_form_error_and_nothing_changes(client, administrator):
    client.force_login(administrator)
    bad = {**DOC, "hours": {"mon": [["13:00", "12:00"]]}}
    response = client.post(reverse("dashboard:calendar-import"), {"document": json.dumps(bad)})
    assert response.status_code == 400
    assert "hours.mon[0]: 13:00–12:00 ends before it starts." in response.content.decode()
    broken = client.post(reverse("dashboard:calendar-import"), {"document": "{not json"})
    assert "Not JSON: line 1" in broken.content.decode()
    assert not BusinessCalendar.objects.exists()


def test_managers_read_agents_do_not_and_only_administrators_load(client, manager, agent):
    calendar_import(document=DOC)
    client.force_login(manager)
    assert client.get(reverse("dashboard:calendar-list")).status_code == 200
    assert (
        client.post(reverse("dashboard:calendar-import"), {"document": json.dumps(DOC)}).status_code
        == 403
    )
    client.force_login(agent)
    assert client.get(reverse("dashboard:calendar-list")).status_code == 403


def test_calendar_list_query_budget_independent_of_rows(client, manager, count_queries):
    calendar_import(document=DOC)
    client.force_login(manager)
    few = count_queries(client, reverse("dashboard:calendar-list"))
    for year in range(2028, 2038):
        calendar_import(document={**DOC, "code": f"cn-{year}"})
    assert count_queries(client, reverse("dashboard:calendar-list")) == few
