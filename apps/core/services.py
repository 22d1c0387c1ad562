"""Writes of the shared kernel: audit events, and the one way an export is audited."""

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from django.db import models, transaction
from django.db.models import QuerySet
from django.utils import translation

from .exports import XLSX_MAX_ROWS, ExportRows
from .models import AuditEvent
from .replica import reporting, reporting_iter

EXPORT_CHUNK = 2000


def audit_record(
    *,
    actor: Any | None,
    action: str,
    target: models.Model | None = None,
    summary: str = "",
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEvent:
    """Append an audit event. Call inside the service transaction that makes the change, so the
    change and its audit row commit or roll back together (invariant 8)."""
    actor_obj = (
        actor if getattr(actor, "pk", None) and getattr(actor, "is_authenticated", True) else None
    )
    return AuditEvent.objects.create(
        actor=actor_obj,
        actor_label=str(actor)[:200] if actor is not None else "system",
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        summary=summary[:300],
        before=before,
        after=after,
    )


def model_snapshot(instance: models.Model, fields: list[str]) -> dict:
    """JSON-safe dict of ``fields`` for before/after audit snapshots."""
    out: dict[str, Any] = {}
    for name in fields:
        value = getattr(instance, name)
        if isinstance(value, models.Model):
            value = value.pk
        elif value is not None and not isinstance(value, (str, int, float, bool)):
            value = str(value)
        out[name] = value
    return out


def changed_fields(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the keys whose values differ, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


@transaction.atomic
def export_record(
    *,
    actor: Any | None,
    what: str,
    fmt: str,
    rows: int | None = None,
    target: models.Model | None = None,
    summary: str = "",
    details: dict | None = None,
) -> AuditEvent:
    """Audit an export (invariant 8) as ``export.<what>``: who took which data in which format,
    how many rows, with which filters. Every export service calls this, and only this, before
    it hands out the rows."""
    after = {"format": fmt, **(details or {})}
    if rows is not None:
        after["rows"] = rows
    return audit_record(
        actor=actor,
        action=f"export.{what}",
        target=target,
        summary=summary or (f"{fmt} {rows} rows" if rows is not None else fmt),
        after=after,
    )


def export_audited(
    *,
    qs: QuerySet,
    columns: Sequence[tuple[str, Any]],
    fmt: str,
    actor: Any | None,
    action: str,
    filters: dict[str, Any],
    row: Callable[[tuple], Sequence] | None = None,
    chunk: Callable[[list[tuple]], Iterable[Sequence]] | None = None,
    header: Sequence[Any] | None = None,
) -> ExportRows:
    """A queryset export: it counts the rows, records ``action`` through ``export_record``
    (actor, format, the filters that were set, rows written,
    whether the spreadsheet limit cut it) and returns the header and a lazy row iterator.

    ``columns`` are ``(values_list path, column title)``; the titles (lazy translations) are the
    header unless ``header`` is given. ``row`` may turn each fetched tuple into the written one,
    or ``chunk`` a whole chunk of them at once (for columns read in bulk, a few queries per
    chunk whatever its size). Rows come from ``values_list(...).iterator()`` in chunks of
    ``EXPORT_CHUNK``, so a million rows never sit in memory; the caller streams them (CSV) or
    writes a workbook (XLSX). CSV rows are written after the view has returned, so ``row`` and
    ``chunk`` run in the language active now, whatever is active then.

    The count and the rows are read inside :func:`~apps.core.replica.reporting` (from the read
    replica when there is one); the audit row is written, as every write, on the primary."""
    with reporting():
        count = qs.count()
    limit = XLSX_MAX_ROWS if fmt == "xlsx" else None
    truncated = limit is not None and count > limit
    export_record(
        actor=actor,
        what=action.removeprefix("export."),
        fmt=fmt,
        rows=min(count, limit) if limit else count,
        summary=f"{fmt} {count} rows",
        details={"filters": {k: v for k, v in filters.items() if v}, "truncated": truncated},
    )
    values = qs.values_list(*(path for path, _title in columns))
    if limit is not None:
        values = values[:limit]
    titles = header if header is not None else [title for _path, title in columns]
    return ExportRows(
        header=[str(title) for title in titles],
        rows=reporting_iter(
            _chunked_rows(values, row=row, chunk=chunk, language=translation.get_language())
        ),
        count=count,
        truncated=truncated,
    )


def _chunked_rows(
    values: QuerySet,
    *,
    row: Callable[[tuple], Sequence] | None,
    chunk: Callable[[list[tuple]], Iterable[Sequence]] | None,
    language: str | None,
) -> Iterator[Sequence]:
    fetched = values.iterator(chunk_size=EXPORT_CHUNK)
    while batch := list(itertools.islice(fetched, EXPORT_CHUNK)):
        if chunk is None and row is None:
            yield from batch
            continue
        with translation.override(language):
            written = list(chunk(batch)) if chunk is not None else [row(t) for t in batch]
        yield from written
