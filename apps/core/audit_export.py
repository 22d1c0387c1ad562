"""The audit trail as an audited export (``export.audit``), for the staff audit page."""

import json
from typing import Any

from .audit import ACTION_LABELS, AuditFilters, audit_export_bound, audit_list
from .exports import ExportRows
from .services import export_audited

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
