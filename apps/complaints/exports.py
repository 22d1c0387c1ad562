"""Complaint report exports: the table handed to a writer (CSV or XLSX), audited once written
(invariant 8)."""

from collections.abc import Callable, Iterable
from typing import Any

from apps.core.services import export_record

from .reports import Table


def report_export(
    *,
    table: Table,
    actor,
    fmt: str,
    filters: dict[str, Any],
    write: Callable[[list[str], Iterable[list]], Any],
):
    written = write(table.header, table.rows)
    export_record(
        actor=actor,
        what="complaint_report",
        fmt=fmt,
        rows=len(table.rows),
        summary=f"{table.key}, {fmt}",
        details={"table": table.key, "filters": {k: v for k, v in filters.items() if v}},
    )
    return written
