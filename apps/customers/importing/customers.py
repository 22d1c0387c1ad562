"""Customer imports: validate the whole file, then create the new customers and their consents
in one transaction (COPY into a staging table on PostgreSQL). Existing customers are skipped;
erased people are refused (the suppression list is checked again under its lock)."""

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.core.db import is_postgres
from apps.core.services import audit_record

from ..enums import Source
from ..identifiers import member_number_generate
from ..models import ConsentRecord, Customer, ImportJob
from ..services import PERSONAL_FIELDS, PREFERENCE_FIELDS, customer_search_text
from ..suppression import erased_contacts_lock
from .files import data_rows, read_header
from .results import (
    BULK_BATCH,
    PREVIEW_ROWS,
    Errors,
    ImportResult,
    Progress,
    batches,
    chunks,
    dup,
    finish,
    noop_progress,
    preview_value,
)
from .rows import (
    CONSENT_COLUMNS,
    CUSTOMER_COLUMNS,
    CUSTOMER_REQUIRED,
    ImportContext,
    customer_row_clean,
    customer_row_erased,
    erased_digests_of,
)


def customers_import(
    *,
    path: str | Path,
    dry_run: bool,
    actor: User | None = None,
    progress: Progress | None = None,
    file_name: str = "",
    expected_rows: int = 0,
) -> ImportResult:
    """Import customers from ``path`` (see the module docstring for columns and rules).

    Error messages are ``row N, column C: reason`` where N is the spreadsheet row number (the
    header is row 1, the first data row is row 2). Any error: nothing is written. Returns the
    counts, the first 1,000 errors and a preview of the first 20 parsed rows.
    """
    path = Path(path)
    progress = progress or noop_progress
    result = ImportResult(kind="customers", file_name=file_name or path.name, dry_run=dry_run)
    errors = Errors()
    header = read_header(path, known=CUSTOMER_COLUMNS, required=CUSTOMER_REQUIRED, errors=errors)
    if header is None:
        return finish(result, errors)
    total = expected_rows  # for progress only (the dry run counted the rows)
    progress(ImportJob.Status.VALIDATING, 0, total)

    ctx = ImportContext.load()
    records: list[tuple[int, dict[str, Any]]] = []
    by_member: dict[str, int] = {}
    done = 0
    # In batches: each batch looks its e-mails and phones up on the suppression list at once.
    for batch in batches(data_rows(path, header, errors)):
        cleaned = [(row_no, values, *customer_row_clean(values, ctx)) for row_no, values in batch]
        erased = erased_digests_of(clean for _n, _v, clean, _p in cleaned)
        for row_no, values, clean, problems in cleaned:
            problems.extend(customer_row_erased(clean, erased))
            for column, reason in problems:
                errors.add(row_no, column, reason)
            number = clean.get("member_number")
            if number:
                if number in by_member:
                    errors.add(row_no, "member_number", dup(by_member[number]))
                else:
                    by_member[number] = row_no
            if not problems:
                records.append((row_no, clean))
                if len(result.preview) < PREVIEW_ROWS:
                    result.preview.append(
                        {"row": str(row_no)}
                        | {k: preview_value(v) for k, v in clean.items() if k != "store"}
                        | {"store": values.get("store", "")}
                    )
        done += len(batch)
        progress(ImportJob.Status.VALIDATING, done, max(total, done))
    total = result.rows = done
    progress(ImportJob.Status.VALIDATING, total, total)
    if errors.count:
        return finish(result, errors)

    # Existing customers are skipped: by member number or, for rows without one, by e-mail or
    # phone, so running the same file again creates nobody twice.
    existing_numbers = _existing_values("member_number", list(by_member))
    unnumbered = [r for _n, r in records if not r["member_number"]]
    existing_emails = _existing_values("email", [r["email"] for r in unnumbered if r["email"]])
    existing_phones = _existing_values("phone", [r["phone"] for r in unnumbered if r["phone"]])
    new = [
        (row_no, r)
        for row_no, r in records
        if not (
            r["member_number"] in existing_numbers
            if r["member_number"]
            else (r["email"] in existing_emails or r["phone"] in existing_phones)
        )
    ]
    result.skipped = len(records) - len(new)
    result.created = len(new)
    result.consents = sum(1 for _n, r in new for c in CONSENT_COLUMNS if r[c] is not None)
    if dry_run:
        return finish(result, errors)

    progress(ImportJob.Status.RUNNING, total, total)
    _assign_member_numbers(new, taken=set(by_member))
    with transaction.atomic():
        # An erasure may have committed since the check above (a job running for minutes):
        # check again in the write transaction, after any erasure still running has committed.
        erased_contacts_lock(shared=True)
        erased = erased_digests_of(r for _n, r in new)
        for row_no, record in new if erased else ():
            for column, reason in customer_row_erased(record, erased):
                errors.add(row_no, column, reason)
        if errors.count:
            return finish(result, errors)
        if is_postgres():
            _customers_write_copy(new, actor=actor, file_name=result.file_name)
        else:
            _customers_write_bulk(new, actor=actor, file_name=result.file_name)
        audit_record(
            actor=actor,
            action="import.customers",
            summary=result.file_name,
            after={"file": result.file_name, **result.summary()},
        )
    return finish(result, errors)


def _existing_values(column: str, values: list[str]) -> set[str]:
    found: set[str] = set()
    for chunk in chunks(sorted(set(values))):
        found.update(
            Customer.objects.filter(**{f"{column}__in": chunk}).values_list(column, flat=True)
        )
    return found


def _assign_member_numbers(records: list[tuple[int, dict[str, Any]]], *, taken: set[str]) -> None:
    """Draw member numbers for rows without one, unique in the file and in the database."""
    missing = [r for _n, r in records if not r["member_number"]]
    while missing:
        drawn: dict[str, dict[str, Any]] = {}
        for record in missing:
            number = member_number_generate()
            while number in taken or number in drawn:
                number = member_number_generate()
            drawn[number] = record
        clash: set[str] = set()
        for chunk in chunks(list(drawn)):
            clash.update(
                Customer.objects.filter(member_number__in=chunk).values_list(
                    "member_number", flat=True
                )
            )
        missing = []
        for number, record in drawn.items():
            if number in clash:
                missing.append(record)
                taken.add(number)
            else:
                record["member_number"] = number
                taken.add(number)


def _customer_values(record: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    return {
        "member_number": record["member_number"],
        **{name: record[name] for name in [*PERSONAL_FIELDS, *PREFERENCE_FIELDS]},
        "store_id": record["store"],
        "joined_at": record["joined_at"] or now,
        "source": Source.IMPORT.value,
        "search_text": customer_search_text(
            first_name=record["first_name"],
            last_name=record["last_name"],
            email=record["email"],
            phone=record["phone"],
            member_number=record["member_number"],
        ),
    }


def _consent_rows(
    records: list[tuple[int, dict[str, Any]]], file_name: str
) -> Iterator[tuple[int, str, str, str, bool, str]]:
    """(row_no, member_number, channel, purpose, granted, evidence) for every consent cell."""
    for row_no, record in records:
        for column, (channel, purpose) in CONSENT_COLUMNS.items():
            if record[column] is not None:
                evidence = _("import %(file)s row %(row)s") % {"file": file_name, "row": row_no}
                yield (
                    row_no,
                    record["member_number"],
                    channel,
                    purpose,
                    record[column],
                    evidence[:255],
                )


def _customers_write_bulk(
    records: list[tuple[int, dict[str, Any]]], *, actor: User | None, file_name: str
) -> None:
    now = timezone.now()
    customers = [Customer(**_customer_values(r, now)) for _n, r in records]
    Customer.objects.bulk_create(customers, batch_size=BULK_BATCH)
    ids = {c.member_number: c.pk for c in customers}
    if any(pk is None for pk in ids.values()):  # backends without RETURNING
        for chunk in chunks(list(ids)):
            ids.update(
                Customer.objects.filter(member_number__in=chunk).values_list("member_number", "id")
            )
    actor_id = actor.pk if actor is not None and actor.pk else None
    ConsentRecord.objects.bulk_create(
        (
            ConsentRecord(
                customer_id=ids[number],
                channel=channel,
                purpose=purpose,
                granted=granted,
                at=now,
                source=Source.IMPORT.value,
                evidence=evidence,
                actor_id=actor_id,
            )
            for _row, number, channel, purpose, granted, evidence in _consent_rows(
                records, file_name
            )
        ),
        batch_size=BULK_BATCH,
    )


_CUSTOMER_STAGE_COLUMNS = [
    "row_no",
    "member_number",
    *PERSONAL_FIELDS,
    *PREFERENCE_FIELDS,
    "store_id",
    "joined_at",
    "source",
    "search_text",
]


def _customers_write_copy(
    records: list[tuple[int, dict[str, Any]]], *, actor: User | None, file_name: str
) -> None:
    now = timezone.now()
    customer_table = Customer._meta.db_table
    consent_table = ConsentRecord._meta.db_table
    actor_id = actor.pk if actor is not None and actor.pk else None
    target = [c for c in _CUSTOMER_STAGE_COLUMNS if c != "row_no"]
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS imp_customers; DROP TABLE IF EXISTS imp_consents")
        cursor.execute(
            "CREATE TEMP TABLE imp_customers (row_no integer, member_number text, "
            "first_name text, last_name text, email text, phone text, birth_date date, "
            "gender text, city text, region text, preferred_language text, "
            "preferred_channel text, store_id bigint, joined_at timestamptz, source text, "
            "search_text text) ON COMMIT DROP"
        )
        cursor.execute(
            "CREATE TEMP TABLE imp_consents (row_no integer, member_number text, channel text, "
            "purpose text, granted boolean, evidence text) ON COMMIT DROP"
        )
        with cursor.copy(
            f"COPY imp_customers ({', '.join(_CUSTOMER_STAGE_COLUMNS)}) FROM STDIN"
        ) as copy:
            for row_no, record in records:
                values = _customer_values(record, now)
                copy.write_row([row_no, *(values[c] for c in target)])
        with cursor.copy(
            "COPY imp_consents (row_no, member_number, channel, purpose, granted, evidence) "
            "FROM STDIN"
        ) as copy:
            for row in _consent_rows(records, file_name):
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {customer_table} (created_at, updated_at, {', '.join(target)}) "  # noqa: S608 (identifiers from model metadata, values bound)  # nosec B608
            f"SELECT %s, %s, {', '.join(target)} FROM imp_customers ORDER BY row_no",
            [now, now],
        )
        cursor.execute(
            f"INSERT INTO {consent_table} "  # noqa: S608 (identifiers from model metadata, values bound)  # nosec B608
            "(customer_id, channel, purpose, granted, at, source, evidence, actor_id) "
            "SELECT c.id, s.channel, s.purpose, s.granted, %s, %s, s.evidence, %s "
            f"FROM imp_consents s JOIN {customer_table} c ON c.member_number = s.member_number "
            "ORDER BY s.row_no, s.channel",
            [now, Source.IMPORT.value, actor_id],
        )
        cursor.execute("DROP TABLE imp_customers; DROP TABLE imp_consents")
