"""Background exports (issue 14): an export of more rows than ``EXPORT_BACKGROUND_ROWS`` is
queued for a worker, shows its progress, and is downloadable by whoever started it until the
link expires; the file is the one the request would have streamed; duplicate deliveries and
crashed workers write it once; the nightly purge deletes expired files."""

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from apps.analytics.services.segments import segment_save
from apps.campaigns.enums import MessageStatus, Suppression
from apps.campaigns.models import Message
from apps.complaints.enums import Priority, TicketChannel
from apps.complaints.services.tickets import ticket_open
from apps.core.export_jobs import (
    STALE_AFTER,
    export_job_claim,
    export_job_create,
    export_jobs_purge,
)
from apps.core.models import AuditEvent, ExportJob
from apps.core.private_files import private_storage
from apps.core.services import audit_record
from apps.customers.models import Customer
from apps.dashboard.tasks import export_job_run
from tests.campaigns.factories import broadcast
from tests.complaints.factories import CategoryFactory, SLAPolicyFactory
from tests.conftest import make_staff
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db

CUSTOMERS = reverse("dashboard:customer-export")


@pytest.fixture
def many(settings, tmp_path):
    settings.EXPORT_BACKGROUND_ROWS = 3
    settings.PRIVATE_MEDIA_ROOT = tmp_path
    for i in range(5):
        CustomerFactory(first_name=f"Ling{i}", last_name="Wang")
    CustomerFactory(first_name="=HYPERLINK(1)", last_name="Evil")


def _csv_text(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8").lstrip("\ufeff"), newline="")))


def _start(client, user, django_capture_on_commit_callbacks, query="?format=csv"):
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(CUSTOMERS + query)
    assert response.status_code == 302
    job = ExportJob.objects.get()
    assert response.url == reverse("dashboard:export-job", args=[job.pk])
    return job


def _download(client, job) -> bytes:
    response = client.get(reverse("dashboard:export-job-download", args=[job.pk]))
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def test_small_export_streams_in_the_request(client, manager, settings):
    settings.EXPORT_BACKGROUND_ROWS = 10
    CustomerFactory()
    client.force_login(manager)
    response = client.get(CUSTOMERS + "?format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert not ExportJob.objects.exists()


def test_large_export_is_written_by_a_worker_and_matches_the_inline_file(
    client, manager, many, settings, django_capture_on_commit_callbacks
):
    job = _start(client, manager, django_capture_on_commit_callbacks, "?format=csv&sort=name")
    job.refresh_from_db()
    assert job.status == ExportJob.Status.DONE
    assert job.total_rows == job.processed_rows == 6
    assert job.params == {"sort": "name"}
    assert job.expires_at - job.finished_at == dt.timedelta(hours=settings.EXPORT_LINK_HOURS)
    background = _csv_text(_download(client, job))

    settings.EXPORT_BACKGROUND_ROWS = 100
    inline = client.get(CUSTOMERS + "?format=csv&sort=name")
    assert _csv_text(b"".join(inline.streaming_content)) == background
    assert len(background) == 7
    # Formula-like text stays inert in the worker's file too.
    assert [c for row in background for c in row if "HYPERLINK" in c] == ["'=HYPERLINK(1)"]
    # Audited once per export, as whoever started it, with the filters.
    events = AuditEvent.objects.filter(action="export.customers").order_by("id")
    assert [(e.actor_id, e.after["rows"], e.after["filters"]) for e in events] == [
        (manager.pk, 6, {"sort": "name"}),
        (manager.pk, 6, {"sort": "name"}),
    ]


def test_xlsx_in_the_background(client, manager, many, django_capture_on_commit_callbacks):
    job = _start(client, manager, django_capture_on_commit_callbacks, "?format=xlsx")
    response = client.get(reverse("dashboard:export-job-download", args=[job.pk]))
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert 'filename="customers-' in response["Content-Disposition"]
    ws = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    assert ws.max_row == 7
    evil = next(c for row in ws.iter_rows(min_row=2) for c in row if c.value == "=HYPERLINK(1)")
    assert evil.data_type == "s"


def test_the_job_page_shows_progress_then_the_link(client, manager, many, settings):
    client.force_login(manager)
    response = client.get(CUSTOMERS + "?format=csv")  # not committed: no worker has run
    job = ExportJob.objects.get()
    page = client.get(response.url)
    assert page.status_code == 200
    body = page.content.decode()
    assert "waiting for a worker" in body
    assert reverse("dashboard:export-job-progress", args=[job.pk]) in body  # polls

    export_job_run(str(job.pk))
    partial = client.get(reverse("dashboard:export-job-progress", args=[job.pk])).content.decode()
    assert reverse("dashboard:export-job-download", args=[job.pk]) in partial
    assert "hx-trigger" not in partial  # finished: stops polling


def test_a_job_is_its_starters_only(client, manager, many, django_capture_on_commit_callbacks):
    job = _start(client, manager, django_capture_on_commit_callbacks)
    other = make_staff("Manager", email="other@test.local")
    client.force_login(other)
    for name in ("export-job", "export-job-progress", "export-job-download"):
        assert client.get(reverse(f"dashboard:{name}", args=[job.pk])).status_code == 404


def test_the_link_expires_and_the_purge_deletes_the_file(
    client, manager, many, django_capture_on_commit_callbacks
):
    job = _start(client, manager, django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert private_storage().exists(job.stored_name)
    later = job.expires_at + dt.timedelta(seconds=1)
    ExportJob.objects.filter(pk=job.pk).update(expires_at=timezone.now() - dt.timedelta(1))
    response = client.get(reverse("dashboard:export-job-download", args=[job.pk]))
    assert response.status_code == 302  # back to the job page, which says it expired
    assert "expired" in client.get(response.url).content.decode()

    assert export_jobs_purge(now=later) == 1
    job.refresh_from_db()
    assert job.status == ExportJob.Status.EXPIRED and job.stored_name == ""
    assert private_storage().listdir(f"exports/{job.pk}")[1] == []
    assert export_jobs_purge(now=later) == 0


def test_duplicate_delivery_writes_once(client, manager, many, django_capture_on_commit_callbacks):
    job = _start(client, manager, django_capture_on_commit_callbacks)
    assert export_job_run(str(job.pk)) is None  # the same task again: nothing to do
    assert AuditEvent.objects.filter(action="export.customers").count() == 1


def test_a_crashed_worker_s_job_is_claimed_again_only_when_stale(manager, many):
    job = export_job_create(kind="customers", fmt="csv", params={}, actor=manager, total_rows=6)
    now = timezone.now()
    assert export_job_claim(job_id=job.pk, now=now) is not None  # the first worker
    # A duplicate delivery while that worker lives finds it claimed.
    assert export_job_claim(job_id=job.pk, now=now + dt.timedelta(minutes=1)) is None
    # The worker died (no heartbeat): the redelivered task takes the job over and finishes it.
    assert export_job_claim(job_id=job.pk, now=now + STALE_AFTER * 2) is not None
    ExportJob.objects.filter(pk=job.pk).update(heartbeat_at=now - STALE_AFTER * 2)
    assert export_job_run(str(job.pk)) == ExportJob.Status.DONE


def test_permission_withdrawn_before_the_worker_runs(client, manager, many):
    client.force_login(manager)
    client.get(CUSTOMERS + "?format=csv")
    job = ExportJob.objects.get()
    manager.groups.clear()
    manager.user_permissions.clear()
    assert export_job_run(str(job.pk)) == ExportJob.Status.FAILED
    job.refresh_from_db()
    assert job.error and not job.stored_name
    assert not AuditEvent.objects.filter(action="export.customers").exists()


def test_the_worker_writes_in_the_starters_language(
    client, manager, many, django_capture_on_commit_callbacks
):
    client.force_login(manager)
    with django_capture_on_commit_callbacks(execute=True):
        client.get(CUSTOMERS + "?format=csv", HTTP_ACCEPT_LANGUAGE="zh-hans")
    job = ExportJob.objects.get()
    assert job.language == "zh-hans"
    header = _csv_text(_download(client, job))[0]
    assert "会员号" in header


def test_agents_cannot_start_a_customer_export(client, agent, many):
    client.force_login(agent)
    assert client.get(CUSTOMERS + "?format=csv").status_code == 403
    assert not ExportJob.objects.exists()


def test_audit_export_in_the_background(
    client, administrator, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.EXPORT_BACKGROUND_ROWS = 1
    settings.PRIVATE_MEDIA_ROOT = tmp_path
    for n in range(3):
        audit_record(actor=administrator, action="customer.update", summary=f"change {n}")
    client.force_login(administrator)
    url = reverse("dashboard:audit-export")
    assert client.get(url + "?format=csv&date_from=not-a-date").status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(url + "?format=csv")
    job = ExportJob.objects.get(kind="audit")
    assert response.url == reverse("dashboard:export-job", args=[job.pk])
    rows = _csv_text(_download(client, job))
    assert len(rows) - 1 == job.total_rows >= 2


def test_segment_export_in_the_background(
    client, marketer, many, django_capture_on_commit_callbacks
):
    CustomerFactory(first_name="Elsewhere", city="Beijing")
    segment = segment_save(
        actor=None,
        rules={"all": [{"field": "customer.city", "op": "ne", "value": "Beijing"}]},
        names={"name_en": "Wangs"},
    )
    client.force_login(marketer)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(reverse("dashboard:segment-export", args=[segment.pk]))
    job = ExportJob.objects.get(kind="segment")
    assert response.url == reverse("dashboard:export-job", args=[job.pk])
    assert job.params == {"pk": str(segment.pk)}
    assert len(_csv_text(_download(client, job))) == 1 + 6  # everyone but the Beijing customer
    missing = reverse("dashboard:segment-export", args=[segment.pk + 99])
    assert client.get(missing).status_code == 404


def _same_file_both_ways(client, url, settings, capture) -> list[list[str]]:
    """The export of ``url`` written by a worker, checked equal to the one the request streams."""
    threshold = settings.EXPORT_BACKGROUND_ROWS
    with capture(execute=True):
        response = client.get(url)
    job = ExportJob.objects.order_by("-created_at").first()
    assert response.status_code == 302 and job.status == ExportJob.Status.DONE
    background = _csv_text(_download(client, job))
    settings.EXPORT_BACKGROUND_ROWS = 10_000
    inline = client.get(url)
    assert _csv_text(b"".join(inline.streaming_content)) == background
    settings.EXPORT_BACKGROUND_ROWS = threshold
    return background


def test_ticket_queue_export_in_the_background(
    client, manager, many, settings, django_capture_on_commit_callbacks
):
    SLAPolicyFactory(position=1)
    category = CategoryFactory(code="delivery", name_en="Delivery", name_zh_hans="配送")
    for i, customer in enumerate(Customer.objects.order_by("pk")):
        ticket_open(
            customer=customer,
            category=category,
            subject=f"Parcel {i} late",
            description="Still waiting.",
            channel=TicketChannel.PHONE,
            priority=Priority.HIGH if i % 2 else Priority.NORMAL,
        )
    client.force_login(manager)
    settings.EXPORT_BACKGROUND_ROWS = 2
    url = reverse("dashboard:ticket-export", args=["csv"]) + "?view=all&priority=high"
    rows = _same_file_both_ways(client, url, settings, django_capture_on_commit_callbacks)
    assert len(rows) == 1 + 3  # the page's filter holds in the worker
    assert ExportJob.objects.get().params == {"view": "all", "priority": "high"}


def test_campaign_messages_export_in_the_background(
    client, manager, many, settings, django_capture_on_commit_callbacks
):
    campaign = broadcast(actor=manager)
    recipients = list(Customer.objects.order_by("pk"))
    Message.objects.bulk_create(
        Message(
            campaign=campaign,
            customer=c,
            step="send",
            channel="email",
            status=MessageStatus.SUPPRESSED,
            reason=Suppression.NO_CONSENT,
        )
        for c in recipients
    )
    client.force_login(manager)
    url = reverse("dashboard:campaign-messages-export", args=[campaign.pk, "csv"])
    rows = _same_file_both_ways(client, url, settings, django_capture_on_commit_callbacks)
    assert len(rows) == 1 + len(recipients)
    # The file names the campaign, in the request and from the worker alike.
    assert ExportJob.objects.get().file_name.startswith(f"campaign-{campaign.pk}-messages-")
    settings.EXPORT_BACKGROUND_ROWS = 10_000
    inline = client.get(url)["Content-Disposition"]
    assert f'filename="campaign-{campaign.pk}-messages-' in inline
    missing = reverse("dashboard:campaign-messages-export", args=[campaign.pk + 99, "csv"])
    assert client.get(missing).status_code == 404


def test_my_exports_lists_background_jobs_with_their_links(
    client, manager, many, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    job = _start(client, manager, django_capture_on_commit_callbacks)
    with django_assert_max_num_queries(13):
        page = client.get(reverse("dashboard:export-list")).content.decode()
    assert reverse("dashboard:export-job-download", args=[job.pk]) in page
    other = make_staff("Manager", email="other@test.local")
    client.force_login(other)
    page = client.get(reverse("dashboard:export-list")).content.decode()
    assert str(job.pk) not in page


@pytest.mark.parametrize("customers", [1, 20])
def test_job_pages_cost_the_same_whatever_the_rows(
    client, manager, settings, tmp_path, django_assert_max_num_queries, customers
):
    settings.PRIVATE_MEDIA_ROOT = tmp_path
    for _ in range(customers):
        CustomerFactory()
    job = export_job_create(
        kind="customers", fmt="csv", params={}, actor=manager, total_rows=customers
    )
    client.force_login(manager)
    for name in ("export-job", "export-job-progress"):
        with django_assert_max_num_queries(12):
            assert client.get(reverse(f"dashboard:{name}", args=[job.pk])).status_code == 200
    export_job_run(str(job.pk))
    with django_assert_max_num_queries(12):
        page = client.get(reverse("dashboard:export-job", args=[job.pk])).content.decode()
    assert f"{customers:,}" in page


def test_a_job_page_is_refused_to_another_user_and_changes_nothing(client, manager, many):
    job = export_job_create(kind="customers", fmt="csv", params={}, actor=manager, total_rows=6)
    other = make_staff("Manager", email="other2@test.local")
    client.force_login(other)
    assert client.get(reverse("dashboard:export-job-download", args=[job.pk])).status_code == 404
    job.refresh_from_db()
    assert job.status == ExportJob.Status.QUEUED and not job.stored_name
    assert not AuditEvent.objects.filter(action="export.customers").exists()
