"""The segment list's export (issue 14): every segment with its last count, audited through
:func:`apps.core.services.export_audited` as ``export.segments``. (A segment's customers are
another export, ``export.segment``, in ``apps.analytics.exports``.)

A chunk of segments is read through ``segment_list`` in one query: names and descriptions in the
reader's language with the other as fallback, as the list shows them."""

from collections.abc import Iterable, Sequence

from django.utils.translation import gettext_lazy as _

from apps.accounts.models import User
from apps.core.exports import ExportRows
from apps.core.services import export_audited

from .selectors import segment_list

SEGMENT_LIST_HEADER = [
    _("Segment"),
    _("Description"),
    _("Customers"),
    _("Counted"),
    _("Created by"),
    _("Updated"),
]


def segments_export(*, actor: User | None, fmt: str) -> ExportRows:
    """Every segment, by name, as the list shows them."""
    qs = segment_list()

    def chunk(batch: list[tuple]) -> Iterable[Sequence]:
        found = qs.in_bulk([pk for (pk,) in batch])
        return [
            (
                s.name,
                s.description,
                s.last_count,
                s.counted_at,
                s.created_by.display_name if s.created_by is not None else "",
                s.updated_at,
            )
            for s in (found[pk] for (pk,) in batch if pk in found)
        ]

    return export_audited(
        qs=qs,
        columns=[("id", None)],
        header=SEGMENT_LIST_HEADER,
        fmt=fmt,
        actor=actor,
        action="export.segments",
        filters={},
        chunk=chunk,
    )
