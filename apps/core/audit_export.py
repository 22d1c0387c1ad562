"""The audit trail as an audited export (``export.audit``), for the staff audit page: column titles
in the reader's language, actions and target types in words (the action's code next to it, for
whoever filters the file by it), times as times, before and after as JSON."""

import json
from typing import Any

from django.utils.translation import gettext_lazy as _

from .audit import ACTION_LABELS, AuditFilters, audit_export_bound, audit_list, target_type_label
from .exports import ExportRows
from .services import export_audited

AUDIT_EXPORT_COLUMNS = [
    ("at", _("When")),
    ("id", _("Event")),
    ("actor__email", _("Actor e-mail")),
    ("actor_label", _("Actor")),
    ("action", _("Action")),
    ("action", _("Action code")),
    ("target_type", _("Target type")),
    ("target_id", _("Target id")),
    ("summary", _("Summary")),
    ("before", _("Before")),
    ("after", _("After")),
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
    qs = audit_list(filters=filters).filter(id__lte=audit_export_bound()).select_related(None)
    type_labels: dict[str, str] = {}

    def row(values: tuple) -> tuple:
        at, pk, email, label, code, _code, target_type, target_id, summary, before, after = values
        if target_type and target_type not in type_labels:
            type_labels[target_type] = target_type_label(target_type)
        action = ACTION_LABELS.get(code)
        return (
            at,
            pk,
            email or "",
            label,
            str(action) if action is not None else code,
            code,
            type_labels.get(target_type, ""),
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
