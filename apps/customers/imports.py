"""Fast-path imports of customers and orders from ``.csv`` (UTF-8, with or without BOM) or
``.xlsx`` files (DESIGN §6), plus the ImportJob services behind the dashboard import page.

How an import runs:

1. **Read and validate the whole file first** (nothing written). Every bad row is collected as
   ``row N, column C: reason``. ``N`` is the row number a spreadsheet user sees: the header is
   row 1, so the first data row is row 2; blank rows are skipped but keep their number.
2. **All or nothing**: any error and nothing is written; the first 1,000 messages are returned
   with the total count.
3. **Write in one transaction**: on PostgreSQL the rows go through psycopg 3 ``COPY`` into a
   temporary staging table, then set-based ``INSERT ... SELECT`` into the real tables (orders
   first, then their lines joined back by ``(store_id, external_id)``); on SQLite through
   ``bulk_create`` in batches. One AuditEvent records the import (actor, kind, file, counts).

Re-running a file is safe:

- **Orders**: an order already in the database with the same store and external id is
  *skipped* when its customer, time and total are the same as in the file (a re-run of the
  same file writes nothing new), and is an *error* when any of them differs (the file disagrees
  with what was recorded; orders are never silently rewritten, their points depend on them).
- **Customers**: imports create customers, they never update them. A row whose member number
  already exists is skipped; a row without a member number whose e-mail or phone already
  belongs to a customer is skipped too. Inside one file, member numbers must be unique.
- **Erased customers**: a row whose e-mail or phone is on the suppression list of erased
  people (``ErasedContact``, digests only) is an error: an old file must not bring a person
  back who asked to be forgotten (they may join again themselves). The list is checked while
  validating and again in the write transaction, under a lock the erasure takes too.

Consent columns become ConsentRecord rows with source ``import`` and the file and row as
evidence; the import's single AuditEvent covers them (one audit row per file, not per cell).
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import re
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import DatabaseError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.core.db import is_postgres
from apps.core.exceptions import ValidationFailed
from apps.core.services import audit_record

from .enums import Channel, ConsentPurpose, Gender, OrderChannel, OrderStatus, Source
from .identifiers import (
    CONTACT_KINDS,
    contact_digest,
    member_number_generate,
    member_number_is_valid,
    phone_normalize,
)
from .models import ConsentRecord, Customer, ImportJob, Order, OrderLine, Store
from .services import PROFILE_FIELDS, customer_search_text
from .services.privacy import ERASED_TEXT, erased_contacts_lock, erased_digests_among

log = logging.getLogger(__name__)

MAX_ERRORS = 1000
PREVIEW_ROWS = 20
PROGRESS_EVERY = 5000
LOOKUP_CHUNK = 5000
BULK_BATCH = 1000
ALLOWED_EXTENSIONS = (".csv", ".xlsx")

# Called as progress(status, processed_rows, total_rows); status is an ImportJob.Status value.
Progress = Callable[[str, int, int], None]

# Called after an orders import commits, with the ids of the orders it created. Higher layers
# register here in their AppConfig.ready() (loyalty earns the points of imported orders) —
# the customers layer cannot import them.
ORDERS_IMPORTED_HOOKS: list[Callable[..., Any]] = []

CUSTOMER_COLUMNS = [
    "member_number",
    *PROFILE_FIELDS,
    "joined_at",
    "consent_email_marketing",
    "consent_sms_marketing",
]
CUSTOMER_REQUIRED = ["first_name", "last_name", "email", "phone"]
ORDER_COLUMNS = [
    "member_number",
    "external_id",
    "store",
    "placed_at",
    "total",
    "channel",
    "discount",
    "coupon_code",
    "sku",
    "name",
    "category",
    "quantity",
    "unit_price",
]
ORDER_REQUIRED = ["member_number", "external_id", "store", "placed_at", "total"]
LINE_COLUMNS = ("sku", "name", "category", "quantity", "unit_price")
# Values that must agree on every row of one order.
ORDER_LEVEL = ("member_number", "placed_at", "total", "channel", "discount", "coupon_code")
CONSENT_COLUMNS = {
    "consent_email_marketing": (Channel.EMAIL, ConsentPurpose.MARKETING),
    "consent_sms_marketing": (Channel.SMS, ConsentPurpose.MARKETING),
}
_YES = {"yes", "y", "1", "true"}
_NO = {"no", "n", "0", "false"}
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ORDER_CHANNELS = frozenset(OrderChannel.values)


class ImportFileError(ValidationFailed):
    code = "import_file_invalid"


@dataclass
class ImportResult:
    kind: str
    file_name: str
    dry_run: bool
    rows: int = 0
    created: int = 0
    lines: int = 0
    consents: int = 0
    skipped: int = 0
    error_count: int = 0
    errors: list[str] = field(default_factory=list)
    preview: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def summary(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "created": self.created,
            "lines": self.lines,
            "consents": self.consents,
            "skipped": self.skipped,
            "errors": self.error_count,
        }


class _Errors:
    """First MAX_ERRORS messages plus the total count."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.count = 0

    def add(self, row: int, column: str, reason: str) -> None:
        self.count += 1
        if len(self.messages) < MAX_ERRORS:
            self.messages.append(
                _("row %(row)s, column %(column)s: %(reason)s")
                % {"row": row, "column": column, "reason": reason}
            )

    def add_file(self, reason: str) -> None:
        self.count += 1
        if len(self.messages) < MAX_ERRORS:
            self.messages.append(reason)


# --- reading -------------------------------------------------------------------------------


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time.min and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    return str(value).strip()


def _raw_rows(path: Path) -> Iterator[list[str]]:
    """Every row of the file (header first) as a list of stripped strings."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            with open(path, encoding="utf-8-sig", newline="") as fh:
                for row in csv.reader(fh):
                    yield [c.strip() for c in row]
        elif suffix == ".xlsx":
            from openpyxl import load_workbook

            wb = load_workbook(path, read_only=True, data_only=True)
            try:
                for row in wb.worksheets[0].iter_rows(values_only=True):
                    yield [cell_text(v) for v in row]
            finally:
                wb.close()
        else:
            raise ImportFileError(_("Only .csv and .xlsx files can be imported."))
    except UnicodeDecodeError as exc:
        raise ImportFileError(_("The file is not UTF-8 text.")) from exc
    except csv.Error as exc:
        raise ImportFileError(_("The CSV file is malformed: %(error)s") % {"error": exc}) from exc
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ImportFileError(_("The file is not a readable .xlsx workbook.")) from exc


def _read_header(
    path: Path, *, known: list[str], required: list[str], errors: _Errors
) -> list[str] | None:
    rows = _raw_rows(path)
    header = next(rows, None)
    if header is None:
        raise ImportFileError(_("The file is empty."))
    names = [re.sub(r"\s+", "_", h.strip().lower()) for h in header]
    while names and not names[-1]:
        names.pop()
    seen: set[str] = set()
    for name in names:
        if not name:
            errors.add(1, "-", _("a column has no name"))
        elif name not in known:
            errors.add(1, name, _("unknown column"))
        elif name in seen:
            errors.add(1, name, _("the column appears twice"))
        seen.add(name)
    for name in required:
        if name not in seen:
            errors.add(1, name, _("missing column"))
    return names if errors.count == 0 else None


def _data_rows(path: Path, header: list[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(spreadsheet row number, {column: text}) for every non-blank data row."""
    width = len(header)
    rows = _raw_rows(path)
    next(rows, None)
    for index, cells in enumerate(rows, start=2):
        if not any(cells):
            continue
        if len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        yield index, dict(zip(header, cells, strict=False))


# --- field parsers: each returns the value or raises ValueError(reason) ----------------------


def _tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def parse_moment(text: str, tz: ZoneInfo | None = None) -> dt.datetime:
    """ISO 8601 date or date-time, with or without offset; naive means settings.TIME_ZONE."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(_("is not an ISO 8601 date or date-time")) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz or _tz())
    return value


def parse_day(text: str) -> dt.date:
    if not _DATE_RE.match(text):
        raise ValueError(_("is not a date (YYYY-MM-DD)"))
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(_("is not a date (YYYY-MM-DD)")) from None


def parse_money(text: str, *, places: int = 2, digits: int = 12) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(_("is not a number")) from None
    if not value.is_finite():
        raise ValueError(_("is not a number"))
    if value < 0:
        raise ValueError(_("must not be negative"))
    if value.as_tuple().exponent < -places:
        raise ValueError(_("has more than %(n)s decimal places") % {"n": places})
    if value >= Decimal(10) ** (digits - places):
        raise ValueError(_("is too large"))
    return value


def parse_flag(text: str) -> bool | None:
    low = text.lower()
    if low in _YES:
        return True
    if low in _NO:
        return False
    raise ValueError(_("must be yes or no"))


def _text(text: str, limit: int) -> str:
    if len(text) > limit:
        raise ValueError(_("is longer than %(n)s characters") % {"n": limit})
    return text


# --- row cleaners (shared with apps.customers.resources) --------------------------------------


@dataclass
class ImportContext:
    """What row cleaning needs from the database, loaded once per file."""

    stores: dict[str, int]
    customers: dict[str, int] = field(default_factory=dict)  # member_number -> id
    tz: ZoneInfo = field(default_factory=_tz)
    today: dt.date = field(default_factory=timezone.localdate)

    @classmethod
    def load(cls) -> ImportContext:
        return cls(stores=dict(Store.objects.values_list("code", "id")))


def customer_row_clean(
    values: dict[str, str], ctx: ImportContext
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Validate one customer row. Returns (clean values, [(column, reason), ...])."""
    out: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []

    def check(column: str, fn: Callable[[str], Any], default: Any = "") -> None:
        text = (values.get(column) or "").strip()
        if not text:
            out[column] = default
            return
        try:
            out[column] = fn(text)
        except ValueError as exc:
            problems.append((column, str(exc)))
        except ValidationFailed as exc:
            problems.append((column, exc.message))

    def member(text: str) -> str:
        if not member_number_is_valid(text):
            raise ValueError(_("is not a valid member number (10 digits with a check digit)"))
        return text

    def email(text: str) -> str:
        text = _text(text.lower(), 254)
        try:
            validate_email(text)
        except ValidationError:
            raise ValueError(_("is not a valid e-mail address")) from None
        return text

    def birth(text: str) -> dt.date:
        day = parse_day(text)
        if day > ctx.today:
            raise ValueError(_("is in the future"))
        return day

    def choice(options: list[str]) -> Callable[[str], str]:
        def pick(text: str) -> str:
            low = text.lower()
            if low not in options:
                raise ValueError(_("must be one of %(options)s") % {"options": ", ".join(options)})
            return low

        return pick

    def store(text: str) -> int:
        if text not in ctx.stores:
            raise ValueError(_("unknown store “%(code)s”") % {"code": text})
        return ctx.stores[text]

    def joined(text: str) -> dt.datetime:
        moment = parse_moment(text, ctx.tz)
        if moment > timezone.now() + dt.timedelta(days=1):
            raise ValueError(_("is in the future"))
        return moment

    check("member_number", member)
    check("first_name", lambda t: _text(t, 80))
    check("last_name", lambda t: _text(t, 80))
    check("email", email)
    check("phone", phone_normalize)
    check("birth_date", birth, None)
    check("gender", choice(list(Gender.values)))
    check("city", lambda t: _text(t, 80))
    check("region", lambda t: _text(t, 80))
    languages = [code for code, _label in settings.LANGUAGES]
    check(
        "preferred_language",
        choice(languages),
        Customer._meta.get_field("preferred_language").default,
    )
    check("preferred_channel", choice(list(Channel.values)), Channel.EMAIL.value)
    check("store", store, None)
    check("joined_at", joined, None)
    for column in CONSENT_COLUMNS:
        check(column, parse_flag, None)
    if not problems and not any(out.get(k) for k in ("first_name", "last_name", "email", "phone")):
        problems.append(
            ("first_name", _("a customer needs a name, an e-mail address or a phone number"))
        )
    return out, problems


def erased_digests_of(rows: Iterable[Mapping[str, Any]]) -> set[str]:
    """The digests of the rows' e-mails and phones that are on the suppression list of erased
    people, in one query per chunk (not per row). Rows may be raw or cleaned."""
    return erased_digests_among(
        contact_digest(kind, row.get(kind) or "") for row in rows for kind in CONTACT_KINDS
    )


def customer_row_erased(clean: Mapping[str, Any], erased: set[str]) -> list[tuple[str, str]]:
    """[(column, reason)] for the row's e-mail and phone found in ``erased`` (from
    ``erased_digests_of``)."""
    if not erased:
        return []
    return [
        (kind, _("this person asked to be forgotten; they can re-join themselves"))
        for kind in CONTACT_KINDS
        if contact_digest(kind, clean.get(kind) or "") in erased
    ]


def order_row_clean(
    values: dict[str, str], ctx: ImportContext
) -> tuple[dict[str, Any], dict[str, Any] | None, list[tuple[str, str]]]:
    """Validate one order row: (order-level values, line values or None, problems).
    ``ctx.customers`` must map the file's member numbers to customer ids."""
    order: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []

    def get(column: str) -> str:
        # Rows from files are stripped strings already; rows from resources are normalised first.
        return values.get(column) or ""

    member_number = get("member_number")
    order["member_number"] = member_number
    if member_number:
        customer_id = ctx.customers.get(member_number)
        if customer_id is None:
            problems.append(
                ("member_number", _("unknown member number “%(n)s”") % {"n": member_number})
            )
        order["customer_id"] = customer_id
    else:
        order["customer_id"] = None  # an anonymous (non-member) order

    external_id = get("external_id")
    if not external_id:
        problems.append(("external_id", _("is required")))
    elif len(external_id) > 64:
        problems.append(("external_id", _("is longer than %(n)s characters") % {"n": 64}))
    order["external_id"] = external_id

    code = get("store")
    order["store_id"] = ctx.stores.get(code)
    if not code:
        problems.append(("store", _("is required")))
    elif order["store_id"] is None:
        problems.append(("store", _("unknown store “%(code)s”") % {"code": code}))

    placed = get("placed_at")
    if not placed:
        problems.append(("placed_at", _("is required")))
    else:
        try:
            order["placed_at"] = parse_moment(placed, ctx.tz)
        except ValueError as exc:
            problems.append(("placed_at", str(exc)))

    total = get("total")
    if not total:
        problems.append(("total", _("is required")))
    else:
        try:
            order["total"] = parse_money(total)
        except ValueError as exc:
            problems.append(("total", str(exc)))

    channel = get("channel").lower()
    if channel and channel not in _ORDER_CHANNELS:
        problems.append(
            (
                "channel",
                _("must be one of %(options)s") % {"options": ", ".join(OrderChannel.values)},
            )
        )
    order["channel"] = channel or OrderChannel.STORE.value

    discount = get("discount")
    order["discount"] = Decimal(0)
    if discount:
        try:
            order["discount"] = parse_money(discount)
        except ValueError as exc:
            problems.append(("discount", str(exc)))
    coupon = get("coupon_code")
    if len(coupon) > 40:
        problems.append(("coupon_code", _("is longer than %(n)s characters") % {"n": 40}))
    order["coupon_code"] = coupon

    line: dict[str, Any] | None = None
    if any(get(c) for c in LINE_COLUMNS):
        line = {}
        sku = get("sku")
        if not sku:
            problems.append(("sku", _("is required on a line")))
        elif len(sku) > 64:
            problems.append(("sku", _("is longer than %(n)s characters") % {"n": 64}))
        line["sku"] = sku
        for column, limit in (("name", 200), ("category", 80)):
            text = get(column)
            if len(text) > limit:
                problems.append((column, _("is longer than %(n)s characters") % {"n": limit}))
            line[column] = text
        quantity = get("quantity")
        line["quantity"] = Decimal(1)
        if quantity:
            try:
                line["quantity"] = parse_money(quantity, places=3, digits=10)
                if line["quantity"] == 0:
                    problems.append(("quantity", _("must be more than zero")))
            except ValueError as exc:
                problems.append(("quantity", str(exc)))
        price = get("unit_price")
        if not price:
            problems.append(("unit_price", _("is required on a line")))
        else:
            try:
                line["unit_price"] = parse_money(price)
            except ValueError as exc:
                problems.append(("unit_price", str(exc)))
    return order, line, problems


def _chunks(items: list, size: int = LOOKUP_CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _preview_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).isoformat(sep=" ", timespec="minutes")
    return str(value)


def _noop_progress(status: str, processed: int, total: int) -> None:
    return None


def _batches(
    rows: Iterator[tuple[int, dict[str, str]]], size: int = PROGRESS_EVERY
) -> Iterator[list]:
    batch: list = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def customer_ids_by_number(numbers: list[str]) -> Iterator[tuple[str, int]]:
    """(member_number, id) of the customers among ``numbers``."""
    if not numbers:
        return
    if is_postgres():
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT member_number, id FROM {Customer._meta.db_table} "  # noqa: S608 (table name from model meta)
                "WHERE member_number = ANY(%s)",
                [numbers],
            )
            yield from cursor.fetchall()
        return
    for chunk in _chunks(numbers):
        yield from Customer.objects.filter(member_number__in=chunk).values_list(
            "member_number", "id"
        )


# --- customers -----------------------------------------------------------------------------


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
    progress = progress or _noop_progress
    result = ImportResult(kind="customers", file_name=file_name or path.name, dry_run=dry_run)
    errors = _Errors()
    header = _read_header(path, known=CUSTOMER_COLUMNS, required=CUSTOMER_REQUIRED, errors=errors)
    if header is None:
        return _finish(result, errors)
    total = expected_rows  # for progress only (the dry run counted the rows)
    progress(ImportJob.Status.VALIDATING, 0, total)

    ctx = ImportContext.load()
    records: list[tuple[int, dict[str, Any]]] = []
    by_member: dict[str, int] = {}
    done = 0
    # In batches: each batch looks its e-mails and phones up on the suppression list at once.
    for batch in _batches(_data_rows(path, header)):
        cleaned = [(row_no, values, *customer_row_clean(values, ctx)) for row_no, values in batch]
        erased = erased_digests_of(clean for _n, _v, clean, _p in cleaned)
        for row_no, values, clean, problems in cleaned:
            problems.extend(customer_row_erased(clean, erased))
            for column, reason in problems:
                errors.add(row_no, column, reason)
            number = clean.get("member_number")
            if number:
                if number in by_member:
                    errors.add(row_no, "member_number", _dup(by_member[number]))
                else:
                    by_member[number] = row_no
            if not problems:
                records.append((row_no, clean))
                if len(result.preview) < PREVIEW_ROWS:
                    result.preview.append(
                        {"row": str(row_no)}
                        | {k: _preview_value(v) for k, v in clean.items() if k != "store"}
                        | {"store": values.get("store", "")}
                    )
        done += len(batch)
        progress(ImportJob.Status.VALIDATING, done, max(total, done))
    total = result.rows = done
    progress(ImportJob.Status.VALIDATING, total, total)
    if errors.count:
        return _finish(result, errors)

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
        return _finish(result, errors)

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
            return _finish(result, errors)
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
    return _finish(result, errors)


def _existing_values(column: str, values: list[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(sorted(set(values))):
        found.update(
            Customer.objects.filter(**{f"{column}__in": chunk}).values_list(column, flat=True)
        )
    return found


def _dup(first_row: int) -> str:
    return _("duplicate of row %(row)s") % {"row": first_row}


def _finish(result: ImportResult, errors: _Errors) -> ImportResult:
    result.errors = errors.messages
    result.error_count = errors.count
    if errors.count:
        result.created = result.lines = result.consents = result.skipped = 0
    return result


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
        for chunk in _chunks(list(drawn)):
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
        "first_name": record["first_name"],
        "last_name": record["last_name"],
        "email": record["email"],
        "phone": record["phone"],
        "birth_date": record["birth_date"],
        "gender": record["gender"],
        "city": record["city"],
        "region": record["region"],
        "preferred_language": record["preferred_language"],
        "preferred_channel": record["preferred_channel"],
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
        for chunk in _chunks(list(ids)):
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
    "first_name",
    "last_name",
    "email",
    "phone",
    "birth_date",
    "gender",
    "city",
    "region",
    "preferred_language",
    "preferred_channel",
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
            f"INSERT INTO {customer_table} (created_at, updated_at, {', '.join(target)}) "  # noqa: S608 (table names from model meta)
            f"SELECT %s, %s, {', '.join(target)} FROM imp_customers ORDER BY row_no",
            [now, now],
        )
        cursor.execute(
            f"INSERT INTO {consent_table} "  # noqa: S608 (table names from model meta)
            "(customer_id, channel, purpose, granted, at, source, evidence, actor_id) "
            "SELECT c.id, s.channel, s.purpose, s.granted, %s, %s, s.evidence, %s "
            f"FROM imp_consents s JOIN {customer_table} c ON c.member_number = s.member_number "
            "ORDER BY s.row_no, s.channel",
            [now, Source.IMPORT.value, actor_id],
        )
        cursor.execute("DROP TABLE imp_customers; DROP TABLE imp_consents")


# --- orders --------------------------------------------------------------------------------


def orders_import(
    *,
    path: str | Path,
    dry_run: bool,
    actor: User | None = None,
    progress: Progress | None = None,
    file_name: str = "",
    expected_rows: int = 0,
) -> ImportResult:
    """Import orders (and their lines) from ``path``; see the module docstring.

    Error messages are ``row N, column C: reason`` where N is the spreadsheet row number (the
    header is row 1, the first data row is row 2). Rows of one order (same store and
    external_id, each carrying one line) must follow each other and agree on the order-level
    values; the same order appearing again later is a duplicate. An order already in the
    database is skipped when identical (customer, placed_at, total), an error otherwise. Any
    error: nothing is written. ``created`` counts orders, ``lines`` order lines.
    """
    path = Path(path)
    progress = progress or _noop_progress
    result = ImportResult(kind="orders", file_name=file_name or path.name, dry_run=dry_run)
    errors = _Errors()
    header = _read_header(path, known=ORDER_COLUMNS, required=ORDER_REQUIRED, errors=errors)
    if header is None:
        return _finish(result, errors)

    # One pass in batches: each batch resolves its new member numbers in one query.
    total = expected_rows
    progress(ImportJob.Status.VALIDATING, 0, total)
    ctx = ImportContext.load()
    orders: list[dict[str, Any]] = []
    lines: list[tuple[int, tuple[int, str], dict[str, Any]]] = []
    first_row: dict[tuple[int, str], int] = {}  # order key -> index into orders
    prev_key: tuple[int, str] | None = None
    looked_up: set[str] = set()
    done = 0
    for batch in _batches(_data_rows(path, header)):
        wanted = {v["member_number"] for _n, v in batch} - looked_up
        wanted.discard("")
        looked_up |= wanted
        ctx.customers.update(customer_ids_by_number(sorted(wanted)))
        for row_no, values in batch:
            order, line, problems = order_row_clean(values, ctx)
            for column, reason in problems:
                errors.add(row_no, column, reason)
            key = (order["store_id"], order["external_id"])
            if order["store_id"] is not None and order["external_id"]:
                index = first_row.get(key)
                if index is None:
                    if not problems:
                        first_row[key] = len(orders)
                        orders.append(order | {"row_no": row_no, "has_lines": line is not None})
                else:
                    first = orders[index]
                    if key == prev_key and line is not None and first["has_lines"]:
                        for column in ORDER_LEVEL:
                            if column in order and order[column] != first.get(column):
                                errors.add(
                                    row_no,
                                    column,
                                    _("differs from row %(row)s of the same order")
                                    % {"row": first["row_no"]},
                                )
                    else:
                        errors.add(
                            row_no,
                            "external_id",
                            _("duplicate of row %(row)s (order “%(id)s” at store “%(store)s”)")
                            % {
                                "row": first["row_no"],
                                "id": order["external_id"],
                                "store": values["store"],
                            },
                        )
                prev_key = key
            if line is not None and not problems:
                lines.append((row_no, key, line))
            if len(result.preview) < PREVIEW_ROWS and not problems:
                result.preview.append(
                    {"row": str(row_no), "store": values["store"]}
                    | {k: _preview_value(order[k]) for k in ("external_id", *ORDER_LEVEL)}
                    | {k: _preview_value(v) for k, v in (line or {}).items()}
                )
        done += len(batch)
        progress(ImportJob.Status.VALIDATING, done, max(total, done))
    total = result.rows = done
    progress(ImportJob.Status.VALIDATING, total, total)

    # Orders already in the database: identical ones are skipped, different ones are errors.
    skip = _existing_orders(orders, errors)
    if errors.count:
        return _finish(result, errors)
    new_orders = [o for o in orders if (o["store_id"], o["external_id"]) not in skip]
    new_lines = [(n, k, ln) for n, k, ln in lines if k not in skip]
    result.created, result.lines, result.skipped = len(new_orders), len(new_lines), len(skip)
    if dry_run:
        return _finish(result, errors)

    progress(ImportJob.Status.RUNNING, total, total)
    with transaction.atomic():
        if is_postgres():
            order_ids = _orders_write_copy(new_orders, new_lines)
        else:
            order_ids = _orders_write_bulk(new_orders, new_lines)
        audit_record(
            actor=actor,
            action="import.orders",
            summary=result.file_name,
            after={"file": result.file_name, **result.summary()},
        )
        # Orders skipped as already recorded go to the hooks too: a run that wrote its orders
        # but died before they earned (the hooks run after the commit) is finished by the
        # next run of the same file. The hooks are idempotent (earning skips earned orders).
        hooked = [*order_ids, *skip.values()]
        if hooked and ORDERS_IMPORTED_HOOKS:
            transaction.on_commit(lambda: _run_hooks(hooked))
    return _finish(result, errors)


def _run_hooks(order_ids: list[int]) -> None:
    for hook in ORDERS_IMPORTED_HOOKS:
        hook(order_ids=order_ids)


def _existing_orders(orders: list[dict[str, Any]], errors: _Errors) -> dict[tuple[int, str], int]:
    """{(store id, external id): order id} of the file's orders already recorded identically."""
    by_store: dict[int, dict[str, dict[str, Any]]] = {}
    for order in orders:
        by_store.setdefault(order["store_id"], {})[order["external_id"]] = order
    skip: dict[tuple[int, str], int] = {}
    for store_id, wanted in by_store.items():
        for external_id, customer_id, placed_at, total, pk in _orders_found(store_id, list(wanted)):
            order = wanted[external_id]
            if (
                order["customer_id"] == customer_id
                and order["placed_at"] == placed_at
                and order["total"] == total
            ):
                skip[(store_id, external_id)] = pk
            else:
                errors.add(
                    order["row_no"],
                    "external_id",
                    _(
                        "order “%(id)s” is already recorded at this store with a different "
                        "customer, time or total"
                    )
                    % {"id": external_id},
                )
    return skip


def _orders_found(store_id: int, external_ids: list[str]) -> Iterator[tuple]:
    """(external_id, customer_id, placed_at, total, id) of the store's orders among
    ``external_ids``.
    On PostgreSQL one ``= ANY(array)`` query: no statement with thousands of parameters."""
    if is_postgres():
        table = Order._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                # Table name from model meta; the values are bound parameters.
                f"SELECT external_id, customer_id, placed_at, total, id FROM {table} "  # noqa: S608
                "WHERE store_id = %s AND external_id = ANY(%s)",
                [store_id, external_ids],
            )
            yield from cursor.fetchall()
        return
    for chunk in _chunks(external_ids):
        yield from Order.objects.filter(store_id=store_id, external_id__in=chunk).values_list(
            "external_id", "customer_id", "placed_at", "total", "id"
        )


def _orders_write_bulk(
    orders: list[dict[str, Any]], lines: list[tuple[int, tuple[int, str], dict[str, Any]]]
) -> list[int]:
    now = timezone.now()
    objs = [
        Order(
            created_at=now,
            store_id=o["store_id"],
            external_id=o["external_id"],
            customer_id=o["customer_id"],
            placed_at=o["placed_at"],
            channel=o["channel"],
            total=o["total"],
            discount=o["discount"],
            coupon_code=o["coupon_code"],
            status=OrderStatus.PAID,
        )
        for o in orders
    ]
    Order.objects.bulk_create(objs, batch_size=BULK_BATCH)
    ids = {(o.store_id, o.external_id): o.pk for o in objs}
    OrderLine.objects.bulk_create(
        (OrderLine(order_id=ids[key], **line) for _row, key, line in lines),
        batch_size=BULK_BATCH,
    )
    return list(ids.values())


def _orders_write_copy(
    orders: list[dict[str, Any]], lines: list[tuple[int, tuple[int, str], dict[str, Any]]]
) -> list[int]:
    now = timezone.now()
    order_table = Order._meta.db_table
    line_table = OrderLine._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS imp_orders; DROP TABLE IF EXISTS imp_lines")
        # The ORDER BY row_no sorts keep ids in file order; let them sort in memory.
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(
            "CREATE TEMP TABLE imp_orders (row_no integer, store_id bigint, external_id text, "
            "customer_id bigint, placed_at timestamptz, channel text, total numeric(12, 2), "
            "discount numeric(12, 2), coupon_code text) ON COMMIT DROP"
        )
        cursor.execute(
            "CREATE TEMP TABLE imp_lines (row_no integer, store_id bigint, external_id text, "
            "sku text, name text, category text, quantity numeric(10, 3), "
            "unit_price numeric(12, 2)) ON COMMIT DROP"
        )
        with cursor.copy(
            "COPY imp_orders (row_no, store_id, external_id, customer_id, placed_at, channel, "
            "total, discount, coupon_code) FROM STDIN"
        ) as copy:
            for o in orders:
                copy.write_row(
                    (
                        o["row_no"],
                        o["store_id"],
                        o["external_id"],
                        o["customer_id"],
                        o["placed_at"],
                        o["channel"],
                        o["total"],
                        o["discount"],
                        o["coupon_code"],
                    )
                )
        with cursor.copy(
            "COPY imp_lines (row_no, store_id, external_id, sku, name, category, quantity, "
            "unit_price) FROM STDIN"
        ) as copy:
            for row_no, (store_id, external_id), line in lines:
                copy.write_row(
                    (
                        row_no,
                        store_id,
                        external_id,
                        line["sku"],
                        line["name"],
                        line["category"],
                        line["quantity"],
                        line["unit_price"],
                    )
                )
        cursor.execute(
            f"INSERT INTO {order_table} (created_at, updated_at, store_id, external_id, "  # noqa: S608 (table names from model meta)
            "customer_id, placed_at, channel, total, discount, coupon_code, refunded_amount, "
            "status) "
            "SELECT %s, %s, store_id, external_id, customer_id, placed_at, channel, total, "
            "discount, coupon_code, 0, %s FROM imp_orders ORDER BY row_no RETURNING id",
            [now, now, OrderStatus.PAID.value],
        )
        order_ids = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            f"INSERT INTO {line_table} (order_id, sku, name, category, quantity, unit_price) "  # noqa: S608 (table names from model meta)
            "SELECT o.id, l.sku, l.name, l.category, l.quantity, l.unit_price "
            f"FROM imp_lines l JOIN {order_table} o "
            "ON o.store_id = l.store_id AND o.external_id = l.external_id ORDER BY l.row_no"
        )
        cursor.execute("DROP TABLE imp_orders; DROP TABLE imp_lines")
    return order_ids


# --- import jobs (dashboard upload → Celery dry run → preview → Celery import) -------------

IMPORTERS: dict[str, Callable[..., ImportResult]] = {
    ImportJob.Kind.CUSTOMERS: customers_import,
    ImportJob.Kind.ORDERS: orders_import,
}

# A validating/running job whose worker has shown no progress for this long is taken to be
# orphaned (the worker died) when its task is delivered again, and is run again from the
# start. Progress is written every PROGRESS_EVERY rows and before the write, so only a dead
# worker is this quiet. On PostgreSQL a live run also holds an advisory lock on its job, so an
# orphan is recognised at once, without waiting for the timeout.
JOB_STALE_AFTER = dt.timedelta(minutes=15)
# When a live run holds the job, a duplicate delivery looks again after this long.
JOB_BUSY_RETRY_SECONDS = 60
_IN_PROGRESS = (ImportJob.Status.VALIDATING, ImportJob.Status.RUNNING)


class ImportJobBusy(Exception):
    """Another worker is running this job right now; try again in ``retry_in`` seconds."""

    def __init__(self, retry_in: int) -> None:
        self.retry_in = retry_in
        super().__init__(f"import job busy, retry in {retry_in}s")


def import_upload_check(*, name: str, size: int) -> str:
    """The lower-cased extension of an acceptable upload; ValidationFailed otherwise."""
    suffix = Path(name).suffix.lower()
    if suffix not in ALLOWED_EXTENSIONS:
        raise ValidationFailed(_("Only .csv and .xlsx files can be imported."))
    if size > settings.IMPORT_MAX_UPLOAD_BYTES:
        raise ValidationFailed(
            _("The file is larger than %(mb)s MB.")
            % {"mb": settings.IMPORT_MAX_UPLOAD_BYTES // (1024 * 1024)}
        )
    return suffix


@transaction.atomic
def import_job_create(*, kind: str, upload: Any, actor: User | None) -> ImportJob:
    """Store an uploaded file under PRIVATE_MEDIA_ROOT/imports/ and queue its dry run (the
    whole file is checked by the worker, not in the upload request): the job, ``pending``,
    then keeps the row count, the first errors and a preview of the first rows. Nothing else
    is written."""
    from .tasks import import_job_run_task

    if kind not in IMPORTERS:
        raise ValidationFailed(_("Unknown import kind."))
    suffix = import_upload_check(name=upload.name, size=upload.size)
    job_id = uuid.uuid4()
    folder = Path(settings.PRIVATE_MEDIA_ROOT) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    stored = folder / f"{job_id}{suffix}"
    with open(stored, "wb") as fh:
        for chunk in upload.chunks():
            fh.write(chunk)
    job = ImportJob.objects.create(
        id=job_id,
        kind=kind,
        file_name=Path(upload.name).name[:255],
        stored_path=str(stored),
        status=ImportJob.Status.PENDING,
        created_by=actor if actor is not None and actor.pk else None,
    )
    transaction.on_commit(lambda: import_job_run_task.delay(str(job_id)))
    return job


@transaction.atomic
def import_job_start(*, job: ImportJob, actor: User | None) -> ImportJob:
    """Queue the real import of a previewed job (once; a second start changes nothing)."""
    from .tasks import import_job_run_task

    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.queued_at is not None:
        raise ValidationFailed(_("This import has already been started."))
    if job.status in (ImportJob.Status.PENDING, ImportJob.Status.VALIDATING):
        raise ValidationFailed(_("The file is still being checked."))
    if job.error_count or job.status != ImportJob.Status.PREVIEWED:
        raise ValidationFailed(_("Fix the errors in the file and upload it again."))
    job.queued_at = timezone.now()
    job.save(update_fields=["queued_at"])
    transaction.on_commit(lambda: import_job_run_task.delay(str(job.pk)))
    return job


def _job_lock_key(job_id: Any) -> int:
    return int.from_bytes(uuid.UUID(str(job_id)).bytes[:8], "big", signed=True)


def _job_lock_take(job_id: Any) -> bool:
    """PostgreSQL: a session advisory lock on the job, held while this worker runs it and
    dropped by the server if the worker dies. Elsewhere there is none (always True)."""
    if not is_postgres():
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_job_lock_key(job_id)])
        return bool(cursor.fetchone()[0])


def _job_lock_drop(job_id: Any) -> None:
    if not is_postgres():
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_job_lock_key(job_id)])
    except DatabaseError:  # the connection is gone, and its lock with it
        log.warning("import job %s: could not release its lock", job_id, exc_info=True)


def _job_claim(job_id: Any, now: dt.datetime) -> bool:
    """Take the job for this run with one conditional UPDATE: a job waiting for its dry run
    (pending; one confirmed already, as jobs queued before the dry run moved to the worker,
    goes straight to its import), a confirmed job waiting for its import, or an orphaned one
    (validating/running with a dead worker: nobody holds its lock on PostgreSQL, no progress
    for JOB_STALE_AFTER elsewhere). A run that crashed before its write committed wrote
    nothing (one transaction, rolled back); one that crashed after it, while its orders were
    earning, is finished by the re-run: the orders are found recorded identically and go to
    the after-import hooks again, which earn what has not earned yet."""
    orphaned = Q(status__in=_IN_PROGRESS)
    if not is_postgres():
        orphaned &= Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=now - JOB_STALE_AFTER)
    waiting = Q(status=ImportJob.Status.PENDING) | Q(
        status=ImportJob.Status.PREVIEWED, queued_at__isnull=False
    )
    return bool(
        ImportJob.objects.filter(Q(pk=job_id) & (waiting | orphaned)).update(
            status=ImportJob.Status.VALIDATING, processed_rows=0, heartbeat_at=now
        )
    )


def _job_busy_for(job_id: Any, now: dt.datetime) -> int | None:
    """Seconds until a job another worker is running may be looked at again; None when the
    job needs nothing (finished, previewed and not confirmed, or gone)."""
    job = ImportJob.objects.filter(pk=job_id, status__in=_IN_PROGRESS).first()
    if job is None:
        return None
    if is_postgres() or job.heartbeat_at is None:
        return JOB_BUSY_RETRY_SECONDS
    return max(1, int((job.heartbeat_at + JOB_STALE_AFTER - now).total_seconds()) + 1)


def _rows_estimate(path: Path) -> int:
    """Data rows in the file, for the dry run's progress bar only (blank rows count too)."""
    try:
        if path.suffix.lower() == ".xlsx":
            from openpyxl import load_workbook

            wb = load_workbook(path, read_only=True)
            try:
                return max(0, (wb.worksheets[0].max_row or 1) - 1)
            finally:
                wb.close()
        with open(path, encoding="utf-8-sig", newline="") as fh:
            return max(0, sum(1 for _row in csv.reader(fh)) - 1)
    except (OSError, UnicodeDecodeError, csv.Error, zipfile.BadZipFile, KeyError, IndexError):
        return 0  # the importer reports what is wrong with the file


def import_job_run(*, job_id: str) -> ImportJob | None:
    """Run the job's next pass: the dry run of a new upload (→ previewed, or failed when the
    file has errors), or the import of a confirmed one (→ done, or failed). Idempotent: a
    duplicate delivery finds nothing to do (returns None) or, while another worker is alive
    on the job, raises ImportJobBusy; a delivery for an orphaned job runs it again.

    Validation runs outside the write transaction, so the progress UPDATEs are visible to the
    polling page; the write itself is one transaction inside the importer. A database error
    (OperationalError) hands the job back as it was before this run and is re-raised for the
    task to retry; any other error fails the job (nothing was written)."""
    now = timezone.now()
    if not _job_lock_take(job_id):
        raise ImportJobBusy(JOB_BUSY_RETRY_SECONDS)
    try:
        if not _job_claim(job_id, now):
            busy_for = _job_busy_for(job_id, now)
            if busy_for is not None:
                raise ImportJobBusy(busy_for)
            return None
        return _job_pass(ImportJob.objects.select_related("created_by").get(pk=job_id))
    finally:
        _job_lock_drop(job_id)


def _job_pass(job: ImportJob) -> ImportJob:
    dry_run = job.queued_at is None
    ours = ImportJob.objects.filter(pk=job.pk, status__in=_IN_PROGRESS)

    def progress(status: str, processed: int, total: int) -> None:
        ours.update(
            status=status,
            processed_rows=processed,
            total_rows=total,
            heartbeat_at=timezone.now(),
        )

    expected = job.total_rows
    if dry_run:
        expected = _rows_estimate(Path(job.stored_path))
        progress(ImportJob.Status.VALIDATING, 0, expected)
    try:
        result = IMPORTERS[job.kind](
            path=job.stored_path,
            dry_run=dry_run,
            actor=job.created_by,
            progress=progress,
            file_name=job.file_name,
            expected_rows=expected,
        )
    except ImportFileError as exc:
        result = ImportResult(kind=job.kind, file_name=job.file_name, dry_run=dry_run)
        result.error_count, result.errors = 1, [exc.message]
    except OperationalError:
        log.warning("import job %s: database error, handing it back for a retry", job.pk)
        try:
            ours.update(
                status=ImportJob.Status.PENDING if dry_run else ImportJob.Status.PREVIEWED,
                processed_rows=0,
                heartbeat_at=None,
            )
        except DatabaseError:  # still down: the retry finds it orphaned instead
            log.warning("import job %s: could not hand it back", job.pk, exc_info=True)
        raise
    except Exception:
        log.exception("import job %s failed", job.pk)
        import_job_fail(job_id=str(job.pk))
        raise
    if dry_run and result.ok:
        ours.update(
            status=ImportJob.Status.PREVIEWED,
            total_rows=result.rows,
            processed_rows=result.rows,
            error_count=0,
            errors=[],
            preview=result.preview,
            summary=result.summary(),
            heartbeat_at=None,
        )
    else:
        fields: dict[str, Any] = {"preview": result.preview} if dry_run else {}
        ours.update(
            status=ImportJob.Status.DONE if result.ok else ImportJob.Status.FAILED,
            finished_at=timezone.now(),
            total_rows=result.rows,
            processed_rows=result.rows,
            error_count=result.error_count,
            errors=result.errors,
            summary=result.summary(),
            heartbeat_at=None,
            **fields,
        )
        _job_file_discard(job)
    job.refresh_from_db()
    return job


def import_job_fail(*, job_id: str) -> int:
    """Close a job that cannot be run (an unexpected error, or database errors past the
    task's retries): failed, with a message for staff, its file deleted. A finished job is
    left alone. Returns the number of jobs changed (0 or 1)."""
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None:
        return 0
    changed = (
        ImportJob.objects.filter(pk=job_id)
        .exclude(status__in=[ImportJob.Status.DONE, ImportJob.Status.FAILED])
        .update(
            status=ImportJob.Status.FAILED,
            finished_at=timezone.now(),
            error_count=1,
            errors=[_("The import failed unexpectedly; nothing was written.")],
            heartbeat_at=None,
        )
    )
    if changed:
        _job_file_discard(job)
    return changed


# --- retention and erasure of import data ----------------------------------------------------
#
# An uploaded file is a copy of many people's personal data. It lives only while its job can
# still run: it is deleted as soon as the job is done or failed. The preview rows and error
# messages stay for the staff who ran the import, for IMPORT_RETENTION_DAYS; a job uploaded but
# never started is closed after the same time. An erasure also scrubs them at once.

IMPORT_RETENTION_DAYS = 30
# Jobs holding a file that no worker is on: uploaded, or previewed and waiting for staff.
_IDLE = tuple(s for s in ImportJob.Status.values if s in ("pending", "previewed"))


def _job_file_discard(job: ImportJob) -> None:
    """Delete the job's uploaded file (one already gone is fine) and forget its path."""
    if job.stored_path:
        Path(job.stored_path).unlink(missing_ok=True)
        ImportJob.objects.filter(pk=job.pk).update(stored_path="")


def import_jobs_purge(*, now: dt.datetime | None = None, days: int | None = None) -> int:
    """Apply the retention above: delete the files of finished jobs; after ``days`` clear the
    preview and errors of finished jobs (counts and summary stay) and close jobs never started
    (failed, file deleted). Returns the number of jobs changed; running it twice changes
    nothing more."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=IMPORT_RETENTION_DAYS if days is None else days)
    finished = [ImportJob.Status.DONE, ImportJob.Status.FAILED]
    changed: set[Any] = set()
    for job in ImportJob.objects.filter(status__in=finished).exclude(stored_path=""):
        _job_file_discard(job)
        changed.add(job.pk)
    stale = ImportJob.objects.filter(status__in=finished, finished_at__lt=cutoff).exclude(
        preview=[], errors=[]
    )
    changed.update(stale.values_list("pk", flat=True))
    stale.update(preview=[], errors=[])
    for job in ImportJob.objects.filter(status__in=_IDLE, created_at__lt=cutoff):
        closed = ImportJob.objects.filter(pk=job.pk, status=job.status).update(
            status=ImportJob.Status.FAILED,
            finished_at=now,
            preview=[],
            errors=[_("Never started; the uploaded file was deleted.")],
            error_count=1,
        )
        if closed:
            _job_file_discard(job)
            changed.add(job.pk)
    return len(changed)


@dataclass(frozen=True)
class _Person:
    """What identifies one customer in import data, lower-cased."""

    email: str
    phones: tuple[str, ...]
    member_number: str
    names: tuple[str, ...]  # "first last", "last first", "lastfirst"
    first_name: str
    last_name: str

    @classmethod
    def of(cls, customer: Customer) -> _Person:
        first, last = customer.first_name.strip().lower(), customer.last_name.strip().lower()
        phone = customer.phone.strip()
        return cls(
            email=customer.email.strip().lower(),
            phones=tuple(p for p in {phone, phone.lstrip("+")} if p),
            member_number=customer.member_number,
            names=(f"{first} {last}", f"{last} {first}", f"{last}{first}")
            if first and last
            else (),
            first_name=first,
            last_name=last,
        )

    def in_text(self, text: str) -> bool:
        low = text.lower()
        needles = (self.email, *self.phones, self.member_number, *self.names)
        return any(n and n in low for n in needles)

    def in_cells(self, cells: list[str]) -> bool:
        low = {c.strip().lower() for c in cells if c}
        digits = {re.sub(r"\D", "", c) for c in low}
        if self.email in low or self.member_number in low:
            return True
        # A file may hold the national form (137…) of the stored +86 137… number.
        if any(len(d) >= 9 and p.lstrip("+").endswith(d) for p in self.phones for d in digits):
            return True
        named = self.first_name in low and self.last_name in low
        return bool(self.first_name and self.last_name and named) or any(
            self.in_text(c) for c in low
        )


def _scrub_rows(rows: list, person: _Person) -> tuple[list, bool]:
    out, changed = [], False
    for row in rows:
        if isinstance(row, dict) and person.in_cells([str(v) for v in row.values()]):
            row, changed = {k: ERASED_TEXT for k in row}, True
        elif isinstance(row, str) and person.in_text(row):
            row, changed = ERASED_TEXT, True
        out.append(row)
    return out, changed


def _file_mentions(path: str, person: _Person) -> bool:
    try:
        return any(person.in_cells(row) for row in _raw_rows(Path(path)))
    except (OSError, ImportFileError):
        return False


def import_jobs_scrub(*, customer: Customer) -> int:
    """Part of an erasure (invariant 10), inside its transaction: preview rows and error
    messages of any import job that mention the customer's e-mail, phone, member number or
    name become "(erased)". A job not started yet whose file mentions them is closed and the
    file deleted on commit -- running it would bring their data back. Returns jobs changed."""
    person = _Person.of(customer)
    changed: set[Any] = set()
    for job in ImportJob.objects.order_by("pk").iterator():
        preview, in_preview = _scrub_rows(job.preview or [], person)
        errors, in_errors = _scrub_rows(job.errors or [], person)
        fields: dict[str, Any] = {}
        if in_preview:
            fields["preview"] = preview
        if in_errors:
            fields["errors"] = errors
        if person.in_text(job.file_name):
            fields["file_name"] = ERASED_TEXT
        if fields:
            ImportJob.objects.filter(pk=job.pk).update(**fields)
            changed.add(job.pk)
        if job.status not in _IDLE or not job.stored_path:
            continue
        if fields or _file_mentions(job.stored_path, person):
            # Conditional, like the worker's claim: whichever comes first wins.
            closed = ImportJob.objects.filter(pk=job.pk, status=job.status).update(
                status=ImportJob.Status.FAILED,
                finished_at=timezone.now(),
                errors=[_("Closed: the file held data of a customer who was erased.")],
                error_count=1,
                stored_path="",
            )
            if closed:
                path = job.stored_path
                transaction.on_commit(lambda p=path: Path(p).unlink(missing_ok=True))
                changed.add(job.pk)
    return len(changed)
