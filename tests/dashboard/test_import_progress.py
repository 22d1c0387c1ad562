"""The import job page follows both of the worker's passes through the htmx partial: the file
being checked, the preview (or the file's errors), the queued import, the result."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse

from apps.customers.models import ImportJob, Order
from apps.customers.tasks import import_job_run_task

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_media")]

FIXTURES = Path(__file__).parent.parent / "customers" / "fixtures"
POLLS = 'hx-trigger="every 1s"'


@pytest.fixture
def job(client, manager, import_shop):
    """An orders file just uploaded: the response came back before any worker looked at it."""
    client.force_login(manager)
    with TestCase.captureOnCommitCallbacks(execute=False) as queued:
        response = client.post(
            reverse("dashboard:data-import"),
            {
                "kind": "orders",
                "file": SimpleUploadedFile(
                    "orders.csv", (FIXTURES / "orders_good.csv").read_bytes()
                ),
            },
        )
    assert response.status_code == 302 and len(queued) == 1
    return ImportJob.objects.get()


def partial(client, job) -> str:
    response = client.get(reverse("dashboard:data-import-job-progress", kwargs={"pk": job.pk}))
    assert response.status_code == 200
    return response.content.decode()


def test_the_upload_answers_before_the_file_is_checked(client, job):
    page = client.get(reverse("dashboard:data-import-job", kwargs={"pk": job.pk})).content.decode()

    assert job.status == "pending" and job.total_rows == 0
    assert "File received, waiting for a worker to check it…" in page and POLLS in page
    assert "Ready:" not in page and Order.objects.count() == 0


def test_the_check_shows_its_progress(client, job):
    ImportJob.objects.filter(pk=job.pk).update(
        status="validating", processed_rows=5000, total_rows=20000
    )

    html = partial(client, job)

    assert "Checking the file: row 5000 of 20000…" in html and POLLS in html
    assert 'aria-valuenow="25"' in html


def test_after_the_check_the_partial_becomes_the_preview_and_stops_polling(client, job):
    import_job_run_task(str(job.pk))

    html = partial(client, job)

    assert "Ready: 3 new orders with 3 lines; 0 already recorded will be skipped." in html
    assert reverse("dashboard:data-import-job-start", kwargs={"pk": job.pk}) in html
    assert "csrfmiddlewaretoken" in html and "TEA-1" in html
    assert POLLS not in html


def test_a_file_with_errors_shows_them_and_stops_polling(client, manager, import_shop):
    client.force_login(manager)
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(
            reverse("dashboard:data-import"),
            {
                "kind": "orders",
                "file": SimpleUploadedFile(
                    "orders.csv",
                    b"member_number,external_id,store,placed_at,total\n,X,nowhere,2024-03-01,1\n",
                ),
            },
        )
    job = ImportJob.objects.get()

    html = partial(client, job)

    assert job.status == "failed"
    assert "The file has 1 error; nothing can be imported until it is fixed." in html
    assert "row 2, column store: unknown store “nowhere”" in html
    assert POLLS not in html and "The import failed" not in html


def test_the_confirmed_import_is_followed_to_done(client, job, django_capture_on_commit_callbacks):
    import_job_run_task(str(job.pk))
    start = reverse("dashboard:data-import-job-start", kwargs={"pk": job.pk})
    with django_capture_on_commit_callbacks(execute=False) as queued:
        client.post(start)
    assert len(queued) == 1

    waiting = partial(client, job)
    assert "Import queued, waiting for a worker…" in waiting and POLLS in waiting
    assert 'aria-valuenow="0"' in waiting

    queued[0]()  # the worker takes it
    done = partial(client, job)
    assert "Done: 3 orders with 3 lines imported, 0 already recorded skipped." in done
    assert POLLS not in done and Order.objects.count() == 3
