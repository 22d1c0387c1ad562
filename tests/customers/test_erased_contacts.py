"""The suppression list of erased people: an erasure records digests of the e-mail and phone
(never the values); customer imports refuse rows carrying them; the person may join again."""

import hashlib
import hmac
import threading
import time
from pathlib import Path

import pytest
import tablib
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.urls import reverse

from apps.core.models import AuditEvent
from apps.core.private_files import private_storage
from apps.customers.identifiers import contact_digest
from apps.customers.importing.customers import customers_import
from apps.customers.importing.runner import import_job_run
from apps.customers.models import ConsentRecord, Customer, ErasedContact, ImportJob
from apps.customers.resources import CustomerResource
from apps.customers.services import customer_erase
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db

DOCS = Path(__file__).resolve().parents[2] / "docs" / "portal.md"
HEADER = "member_number,first_name,last_name,email,phone,consent_email_marketing\n"
REASON = "this person asked to be forgotten; they can re-join themselves"
EMAIL = "wei.zhang@example.org"
PHONE = "+8613812345678"


def sha(text: str) -> str:
    """The keyed digest, computed independently of the code under test."""
    return hmac.new(settings.ERASURE_DIGEST_KEY.encode(), text.encode(), hashlib.sha256).hexdigest()


def write(tmp_path: Path, text: str, name: str = "customers.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + text, encoding="utf-8")
    return path


def counts() -> dict[str, int]:
    return {
        "customers": Customer.objects.count(),
        "consents": ConsentRecord.objects.count(),
        "imports": AuditEvent.objects.filter(action="import.customers").count(),
    }


@pytest.fixture
def erased(manager):
    customer = CustomerFactory(
        member_number="1234567897", first_name="Wei", last_name="Zhang", email=EMAIL, phone=PHONE
    )
    return customer_erase(customer=customer, actor=manager)


# --- the list ------------------------------------------------------------------------------


def test_contact_digest_normalises_before_hashing():
    assert contact_digest("email", "  Wei.Zhang@Example.ORG ") == sha(f"email:{EMAIL}")
    assert contact_digest("phone", "138 1234 5678") == sha(f"phone:{PHONE}")
    assert contact_digest("phone", "+86 138-1234-5678") == sha(f"phone:{PHONE}")
    assert contact_digest("phone", PHONE) == sha(f"phone:{PHONE}")
    assert contact_digest("email", "  ") == ""


def test_erasure_records_the_two_digests_and_no_plaintext(erased):
    rows = list(ErasedContact.objects.values_list("digest", flat=True).order_by("digest"))

    assert rows == sorted([sha(f"email:{EMAIL}"), sha(f"phone:{PHONE}")])
    stored = " ".join(str(v) for v in ErasedContact.objects.values_list("digest", "erased_at"))
    assert EMAIL not in stored and "13812345678" not in stored
    assert erased.email == "" and erased.phone == ""


def test_erasing_twice_or_a_second_person_with_the_same_e_mail_keeps_one_digest(erased, manager):
    customer_erase(customer=erased, actor=manager)
    twin = CustomerFactory(email=EMAIL.upper(), phone="")
    customer_erase(customer=twin, actor=manager)

    assert ErasedContact.objects.count() == 2


# --- imports refuse the erased person ------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "column"),
    [
        (",Wei,Zhang,  WEI.Zhang@Example.org ,,yes", "email"),
        (",Wei,Zhang,,138 1234 5678,yes", "phone"),
        (",Wei,Zhang,,+86 138-1234-5678,yes", "phone"),
    ],
)
def test_import_refuses_the_erased_person_and_writes_nothing(tmp_path, erased, row, column):
    path = write(tmp_path, f",Anna,Smith,anna@example.com,,yes\n{row}\n")
    before = counts()

    result = customers_import(path=path, dry_run=False)

    assert result.errors == [f"row 3, column {column}: {REASON}"]
    assert (result.error_count, result.created) == (1, 0)
    assert [p["row"] for p in result.preview] == ["2"]  # the erased row is not previewed
    assert counts() == before


def test_a_row_with_both_contacts_gets_one_error_per_column(tmp_path, erased):
    path = write(tmp_path, f",Wei,Zhang,{EMAIL},{PHONE},\n")

    result = customers_import(path=path, dry_run=True)

    assert result.errors == [f"row 2, column email: {REASON}", f"row 2, column phone: {REASON}"]


def test_a_file_without_them_imports_fine(tmp_path, erased):
    path = write(tmp_path, ",Anna,Smith,anna@example.com,,yes\n,Li,Na,,139 1234 5678,\n")

    result = customers_import(path=path, dry_run=False)

    assert result.ok, result.errors
    assert result.created == 2
    assert sorted(Customer.objects.exclude(pk=erased.pk).values_list("email", "phone")) == [
        ("", "+8613912345678"),
        ("anna@example.com", ""),
    ]


def test_an_erasure_committed_during_the_run_is_caught_in_the_write_transaction(tmp_path, manager):
    wei = CustomerFactory(email="old@example.org", phone="")
    path = write(tmp_path, f",Anna,Smith,anna@example.com,,yes\n,Wei,Zhang,{EMAIL},,yes\n")

    def progress(status, processed, total):
        if status == ImportJob.Status.RUNNING:  # validated; the write comes next
            Customer.objects.filter(pk=wei.pk).update(email=EMAIL)
            customer_erase(customer=wei, actor=manager)

    before = counts()
    result = customers_import(path=path, dry_run=False, progress=progress)

    assert result.errors == [f"row 3, column email: {REASON}"]
    assert result.created == 0
    assert counts() == before


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_import_waits_for_an_erasure_still_in_progress(tmp_path, manager):
    """The erasure (another connection) has recorded the digest but not committed when the
    import reaches its write: the import waits for the list's lock, then sees the digest."""
    wei = CustomerFactory(email="old@example.org", phone="")
    path = write(tmp_path, f",Wei,Zhang,{EMAIL},,yes\n")
    held, failures = threading.Event(), []

    def erase_slowly():
        try:
            with transaction.atomic():
                Customer.objects.filter(pk=wei.pk).update(email=EMAIL)
                customer_erase(customer=wei, actor=manager)
                held.set()
                time.sleep(0.5)  # the import reaches its write meanwhile
        except Exception as exc:  # asserted below
            failures.append(exc)
            held.set()
        finally:
            connection.close()

    eraser = threading.Thread(target=erase_slowly)

    def progress(status, processed, total):
        if status == ImportJob.Status.RUNNING:
            eraser.start()
            held.wait(10)

    before = counts()
    result = customers_import(path=path, dry_run=False, progress=progress)
    eraser.join()

    assert failures == []
    assert result.errors == [f"row 2, column email: {REASON}"]
    assert counts() == before


def test_a_previewed_job_fails_when_the_person_is_erased_before_it_runs(private_media, erased):
    stored = private_storage().save(
        "imports/customers.csv", ContentFile(f"{HEADER},Wei,Zhang,{EMAIL.upper()},,yes\n".encode())
    )
    job = ImportJob.objects.create(
        kind=ImportJob.Kind.CUSTOMERS,
        file_name="customers.csv",
        stored_path=stored,
        status=ImportJob.Status.PREVIEWED,
        queued_at=erased.anonymized_at,
    )
    before = counts()

    job = import_job_run(job_id=str(job.pk))

    assert job.status == ImportJob.Status.FAILED
    assert job.errors == [f"row 2, column email: {REASON}"]
    assert counts() == before


def test_admin_resource_refuses_the_erased_person(erased):
    data = tablib.Dataset(
        ["", "Anna", "Smith", "anna@example.com", ""],
        ["", "Wei", "Zhang", "", "138 1234 5678"],
        headers=["member_number", "first_name", "last_name", "email", "phone"],
    )
    before = counts()

    # As the admin imports: a file with an invalid row writes nothing.
    result = CustomerResource().import_data(data, dry_run=False, rollback_on_validation_errors=True)

    assert [
        (row.number, {k: [str(m) for m in v] for k, v in row.error_dict.items()})
        for row in result.invalid_rows
    ] == [(2, {"phone": [REASON]})]
    assert counts() == before


# --- the person may come back by themselves --------------------------------------------------


def test_the_api_still_enrols_the_same_e_mail(erased, api, store):

    response = api.post(
        reverse("api:customer-list"),
        {"first_name": "Wei", "last_name": "Zhang", "email": EMAIL, "phone": PHONE},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert Customer.objects.filter(email=EMAIL, phone=PHONE, anonymized_at=None).count() == 1
    assert ErasedContact.objects.count() == 2  # the list stays: imports still refuse the file


def test_the_suppression_list_is_in_the_privacy_docs():
    text = DOCS.read_text(encoding="utf-8")

    assert "ErasedContact" in text and "contact_digest" in text


def test_the_digest_is_keyed_so_a_plain_hash_of_a_number_does_not_find_it(erased):
    plain = hashlib.sha256(f"phone:{PHONE}".encode()).hexdigest()
    assert not ErasedContact.objects.filter(digest=plain).exists()
    assert ErasedContact.objects.filter(digest=sha(f"phone:{PHONE}")).exists()
