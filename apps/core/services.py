"""Writes of the shared kernel: audit events, and the one way an export is audited."""

import json
from collections.abc import Callable, Sequence
from typing import Any

from django.db import models, transaction
from django.db.models import QuerySet

from .audit import ACTION_LABELS, AuditFilters, audit_export_bound, audit_list
from .exports import XLSX_MAX_ROWS, ExportRows
from .models import AuditEvent

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


def export_audited(
    *,
    qs: QuerySet,
    columns: Sequence[tuple[str, str]],
    fmt: str,
    actor: Any | None,
    action: str,
    filters: dict[str, Any],
    row: Callable[[tuple], Sequence] | None = None,
) -> ExportRows:
    """Every export goes through here, so every export has its audit event (invariant 8): it
    counts the rows, records ``action`` (actor, format, the filters that were set, rows written,
    whether the spreadsheet limit cut it) and returns the header and a lazy row iterator.

    ``columns`` are ``(values_list path, column name)``; ``row`` may turn each fetched tuple into
    the written one. Rows come from ``values_list(...).iterator()`` in chunks, so a million rows
    never sit in memory; the caller streams them (CSV) or writes a workbook (XLSX)."""
    count = qs.count()
    limit = XLSX_MAX_ROWS if fmt == "xlsx" else None
    truncated = limit is not None and count > limit
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=action,
            summary=f"{fmt} {count} rows",
            after={
                "format": fmt,
                "filters": {k: v for k, v in filters.items() if v},
                "rows": min(count, limit) if limit else count,
                "truncated": truncated,
            },
        )
    values = qs.values_list(*(path for path, _column in columns))
    if limit is not None:
        values = values[:limit]
    rows = values.iterator(chunk_size=EXPORT_CHUNK)
    return ExportRows(
        header=[column for _path, column in columns],
        rows=map(row, rows) if row is not None else rows,
        count=count,
        truncated=truncated,
    )


AUDIT_EXPORT_COLUMNS = [
    ("at", "at"),
    ("id", "id"),
    ("actor__email", "actor_email"),
    ("actor_label", "actor"),
    ("action", "action"),
    ("action", "action_label"),
    ("target_type", "target_type"),
    ("target_id", "target_id"),
    ("summary", "summary"),
    ("before", "before"),
    ("after", "after"),
]


def _json_cell(value: Any) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def audit_export(
    *, actor: Any | None, fmt: str, filters: AuditFilters, described: dict[str, str]
) -> ExportRows:
    """The audit trail under ``filters``, newest first, as an audited export (``export.audit``).

    The rows stop at the newest event when the export starts, so the file holds exactly the
    count its own audit row records. ``described`` are the filters as the person set them
    (an actor's e-mail rather than an id), for that audit row."""
    # Words in the request's language now: CSV rows are written after the view has returned.
    labels = {code: str(label) for code, label in ACTION_LABELS.items()}
    qs = audit_list(filters=filters).filter(id__lte=audit_export_bound()).select_related(None)

    def row(values: tuple) -> tuple:
        at, pk, email, label, action, code, target_type, target_id, summary, before, after = values
        return (
            at,
            pk,
            email or "",
            label,
            action,
            labels.get(code, code),
            target_type,
            target_id,
            summary,
            _json_cell(before),
            _json_cell(after),
        )

    return export_audited(
        qs=qs,
        columns=AUDIT_EXPORT_COLUMNS,
        fmt=fmt,
        actor=actor,
        action="export.audit",
        filters=described,
        row=row,
    )
