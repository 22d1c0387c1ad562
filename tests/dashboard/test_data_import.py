"""The dashboard import page: upload → the worker's dry run → preview → the worker's import
(Celery is eager in tests: a task queued on commit runs when the captured callbacks run)."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse

from apps.core.models import AuditEvent
from apps.customers.models import Customer, ImportJob, Order, OrderLine

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_media")]

FIXTURES = Path(__file__).parent.parent / "customers" / "fixtures"


def upload(client, kind: str, name: str, content: bytes):
    """Upload a file; its dry run (queued on commit) runs before this returns."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            reverse("dashboard:data-import"),
            {"kind": kind, "file": SimpleUploadedFile(name, content, content_type="text/csv")},
        )


def test_agent_cannot_open_the_import_page(client, agent):
    client.force_login(agent)
    assert client.get(reverse("dashboard:data-import")).status_code == 403


def test_manager_sees_the_form(client, manager):
    client.force_login(manager)
    response = client.get(reverse("dashboard:data-import"))
    assert response.status_code == 200
    assert b'name="file"' in response.content


def test_dry_run_preview_then_import_to_done(
    client, manager, import_shop, private_media, django_capture_on_commit_callbacks
):
    client.force_login(manager)
    response = upload(client, "orders", "orders.csv", (FIXTURES / "orders_good.csv").read_bytes())

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:data-import-job", kwargs={"pk": job.pk})
    assert (job.status, job.total_rows, job.error_count, job.created_by) == (
        "previewed",
        4,
        0,
        manager,
    )
    assert job.stored_path == f"imports/{job.pk}.csv"  # a private storage name, no path
    assert (private_media / job.stored_path).read_bytes() == (
        FIXTURES / "orders_good.csv"
    ).read_bytes()
    assert Order.objects.count() == 0  # the dry run wrote nothing
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "Ready: 3 new orders with 3 lines" in page.content.decode()
    assert "TEA-1" in page.content.decode()  # preview rows

    with django_capture_on_commit_callbacks(execute=True):
        start = client.post(reverse("dashboard:data-import-job-start", kwargs={"pk": job.pk}))

    assert start.status_code == 302
    job.refresh_from_db()
    assert job.status == "done" and job.finished_at is not None
    assert (job.processed_rows, job.summary["created"], job.summary["lines"]) == (4, 3, 3)
    assert (Order.objects.count(), OrderLine.objects.count()) == (3, 3)
    assert AuditEvent.objects.get(action="import.orders").actor == manager
    progress = client.get(reverse("dashboard:data-import-job-progress", kwargs={"pk": job.pk}))
    assert "Done: 3 orders with 3 lines imported" in progress.content.decode()
    assert "hx-trigger" not in progress.content.decode()  # polling stops when finished


def test_a_second_start_changes_nothing(
    client, manager, import_shop, django_capture_on_commit_callbacks
):
    client.force_login(manager)
    upload(client, "orders", "orders.csv", (FIXTURES / "orders_good.csv").read_bytes())
    job = ImportJob.objects.get()
    url = reverse("dashboard:data-import-job-start", kwargs={"pk": job.pk})
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url)
    job.refresh_from_db()
    queued_at = job.queued_at
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(url, follow=True)

    assert callbacks == []
    assert [str(m) for m in response.context["messages"]] == [
        "This import has already been started."
    ]
    job.refresh_from_db()
    assert (job.status, job.queued_at) == ("done", queued_at)
    assert Order.objects.count() == 3
    assert AuditEvent.objects.filter(action="import.orders").count() == 1


def test_preview_shows_row_errors_and_import_is_refused(
    client, manager, import_shop, django_capture_on_commit_callbacks
):
    client.force_login(manager)
    bad = (
        b"member_number,first_name,last_name,email,phone,store\n"
        b",Ann,Lee,ann@example.com,12345,sh-01\n"
        b",Bo,Wu,bo@example.com,,nowhere\n"
    )
    upload(client, "customers", "people.csv", bad)
    job = ImportJob.objects.get()

    page = client.get(reverse("dashboard:data-import-job", kwargs={"pk": job.pk})).content.decode()

    assert job.error_count == 2
    assert "row 2, column phone: “12345” is not a valid phone number." in page
    assert "row 3, column store: unknown store “nowhere”" in page
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            reverse("dashboard:data-import-job-start", kwargs={"pk": job.pk}), follow=True
        )
    job.refresh_from_db()
    assert callbacks == [] and job.status == "failed" and job.queued_at is None
    assert [str(m) for m in response.context["messages"]] == [
        "Fix the errors in the file and upload it again."
    ]
    assert Customer.objects.count() == 2  # the two members of the fixture only


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"first_name,last_name,email,phone\nAnn,Le\x00e,ann@example.com,+86 139 1234 5678\n",
            "row 2, column last_name: contains a NUL character",
        ),
        (
            b'first_name,last_name,email,phone\nAnn,"Lee,ann@example.com,+86 139 1234 5678\n',
            "row 2, column last_name: a quoted value is never closed (a quote is missing)",
        ),
    ],
)
def test_a_broken_file_ends_failed_with_its_message_on_the_page(
    client, manager, import_shop, content, message
):
    client.force_login(manager)
    upload(client, "customers", "people.csv", content)
    job = ImportJob.objects.get()

    page = client.get(reverse("dashboard:data-import-job", kwargs={"pk": job.pk})).content.decode()

    assert (job.status, job.errors) == ("failed", [message])
    assert message in page
    assert Customer.objects.count() == 2  # the two members of the fixture only


def test_customers_import_through_the_page(
    client, manager, import_shop, django_capture_on_commit_callbacks
):
    client.force_login(manager)
    upload(client, "customers", "c.csv", (FIXTURES / "customers_good.csv").read_bytes())
    job = ImportJob.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("dashboard:data-import-job-start", kwargs={"pk": job.pk}))

    job.refresh_from_db()
    # 1234567897 already exists (fixture), so its row is skipped.
    assert job.status == "done" and job.summary["created"] == 2 and job.summary["skipped"] == 1
    assert Customer.objects.filter(source="import").count() == 2


def test_wrong_extension_is_refused(client, manager, private_media):
    client.force_login(manager)
    response = upload(client, "orders", "orders.txt", b"x")
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "file": ["Only .csv and .xlsx files can be imported."]
    }
    assert "Only .csv and .xlsx files can be imported." in response.content.decode()
    assert ImportJob.objects.count() == 0 and not private_media.exists()


def test_too_large_upload_is_refused(client, manager, settings, private_media):
    settings.IMPORT_MAX_UPLOAD_BYTES = 1024 * 1024
    header = b"member_number,external_id,store,placed_at,total\n"
    client.force_login(manager)
    response = upload(client, "orders", "orders.csv", header + b"x" * (1024 * 1024))
    assert response.status_code == 200
    assert response.context["form"].errors == {"file": ["The file is larger than 1 MB."]}
    assert "The file is larger than 1 MB." in response.content.decode()
    assert ImportJob.objects.count() == 0 and not private_media.exists()


def test_staff_without_import_rights_get_403_on_a_job(client, manager, marketer, import_shop):
    client.force_login(manager)
    upload(client, "orders", "orders.csv", (FIXTURES / "orders_good.csv").read_bytes())
    job = ImportJob.objects.get()
    client.force_login(marketer)
    assert (
        client.get(reverse("dashboard:data-import-job", kwargs={"pk": job.pk})).status_code == 403
    )
