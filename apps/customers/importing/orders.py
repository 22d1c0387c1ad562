"""Order imports: validate the whole file, then write orders and their lines in one
transaction (COPY into staging tables on PostgreSQL) and publish ``orders.imported`` in it."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.core import events
from apps.core.db import is_postgres
from apps.core.services import audit_record

from ..enums import OrderStatus
from ..models import ImportJob, Order, OrderLine
from ..services import order_lines_problem
from .files import data_rows, read_header
from .results import (
    BULK_BATCH,
    PREVIEW_ROWS,
    Errors,
    ImportResult,
    Progress,
    batches,
    chunks,
    finish,
    noop_progress,
    preview_value,
)
from .rows import (
    ORDER_COLUMNS,
    ORDER_LEVEL,
    ORDER_REQUIRED,
    ImportContext,
    customer_ids_by_number,
    order_row_clean,
)


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
    progress = progress or noop_progress
    result = ImportResult(kind="orders", file_name=file_name or path.name, dry_run=dry_run)
    errors = Errors()
    header = read_header(path, known=ORDER_COLUMNS, required=ORDER_REQUIRED, errors=errors)
    if header is None:
        return finish(result, errors)

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
    for batch in batches(data_rows(path, header, errors)):
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
                    | {k: preview_value(order[k]) for k in ("external_id", *ORDER_LEVEL)}
                    | {k: preview_value(v) for k, v in (line or {}).items()}
                )
        done += len(batch)
        progress(ImportJob.Status.VALIDATING, done, max(total, done))
    total = result.rows = done
    progress(ImportJob.Status.VALIDATING, total, total)

    _lines_check(orders, lines, errors)
    # Orders already in the database: identical ones are skipped, different ones are errors.
    skip = _existing_orders(orders, errors)
    if errors.count:
        return finish(result, errors)
    new_orders = [o for o in orders if (o["store_id"], o["external_id"]) not in skip]
    new_lines = [(n, k, ln) for n, k, ln in lines if k not in skip]
    result.created, result.lines, result.skipped = len(new_orders), len(new_lines), len(skip)
    if dry_run:
        return finish(result, errors)

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
        # In the same transaction: subscribers (loyalty earns the orders' points) commit or roll
        # back with the orders. Orders skipped as already recorded are included, so orders a
        # run recorded before this rule existed, and never earned, earn now; subscribers are
        # idempotent (earning skips orders that earned).
        events.publish("orders.imported", order_ids=[*order_ids, *skip.values()])
    return finish(result, errors)


def _lines_check(
    orders: list[dict[str, Any]],
    lines: list[tuple[int, tuple[int, str], dict[str, Any]]],
    errors: Errors,
) -> None:
    """The lines of each order must add up to its total (``order_lines_problem``, the rule
    ``order_record`` applies too); a mismatch is an error on the order's first row."""
    by_order: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for _row, key, line in lines:
        by_order.setdefault(key, []).append(line)
    for order in orders:
        key = (order["store_id"], order["external_id"])
        if key in by_order and "total" in order:
            problem = order_lines_problem(
                total=order["total"], discount=order["discount"], lines=by_order[key]
            )
            if problem:
                errors.add(order["row_no"], "total", problem)


def _existing_orders(orders: list[dict[str, Any]], errors: Errors) -> dict[tuple[int, str], int]:
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
                f"SELECT external_id, customer_id, placed_at, total, id FROM {table} "  # noqa: S608 (identifiers from model metadata, values bound)  # nosec B608
                "WHERE store_id = %s AND external_id = ANY(%s)",
                [store_id, external_ids],
            )
            yield from cursor.fetchall()
        return
    for chunk in chunks(external_ids):
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
            f"INSERT INTO {order_table} (created_at, updated_at, store_id, external_id, "  # noqa: S608 (identifiers from model metadata, values bound)  # nosec B608
            "customer_id, placed_at, channel, total, discount, coupon_code, refunded_amount, "
            "status) "
            "SELECT %s, %s, store_id, external_id, customer_id, placed_at, channel, total, "
            "discount, coupon_code, 0, %s FROM imp_orders ORDER BY row_no RETURNING id",
            [now, now, OrderStatus.PAID.value],
        )
        order_ids = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            f"INSERT INTO {line_table} (order_id, sku, name, category, quantity, unit_price) "  # noqa: S608 (identifiers from model metadata, values bound)  # nosec B608
            "SELECT o.id, l.sku, l.name, l.category, l.quantity, l.unit_price "
            f"FROM imp_lines l JOIN {order_table} o "
            "ON o.store_id = l.store_id AND o.external_id = l.external_id ORDER BY l.row_no"
        )
        cursor.execute("DROP TABLE imp_orders; DROP TABLE imp_lines")
    return order_ids
