"""Writes of segments: save (in both languages), delete, count, freeze into a snapshot.

Every way in (dashboard, API, admin) saves through ``segment_save``, so the rules are checked
by ``rules_validate`` in one place and every change leaves an audit row.
"""

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.core.exceptions import Conflict, ValidationFailed
from apps.core.services import audit_record

from ..models import Segment, SegmentSnapshot, SnapshotMember
from ..rules.compiler import rules_validate, segment_customers

NAME_FIELDS = ("name_en", "name_zh_hans")


def _names_check(names: dict[str, str]) -> dict[str, str]:
    cleaned = {key: (names.get(key) or "").strip()[:120] for key in NAME_FIELDS}
    if not any(cleaned.values()):
        raise ValidationFailed(_("A segment needs a name in at least one language."))
    return cleaned


@transaction.atomic
def segment_save(
    *,
    actor: User | None,
    rules: dict,
    names: dict[str, str],
    descriptions: dict[str, str] | None = None,
    segment: Segment | None = None,
) -> Segment:
    """Create or change a segment. The rules are refused (``InvalidRules``) before anything is
    written; the live count is refreshed with the save."""
    rules = rules_validate(rules)
    cleaned = _names_check(names)
    descriptions = descriptions or {}
    creating = segment is None
    segment = segment or Segment(created_by=actor if getattr(actor, "pk", None) else None)
    before = {"rules": segment.rules, **{k: getattr(segment, k, "") for k in NAME_FIELDS}}
    for key, value in cleaned.items():
        setattr(segment, key, value)
    for key in ("description_en", "description_zh_hans"):
        setattr(segment, key, (descriptions.get(key) or "").strip()[:2000])
    segment.rules = rules
    segment.last_count = segment_customers(rules).count()
    segment.counted_at = timezone.now()
    segment.save()
    after = {"rules": rules, **cleaned}
    audit_record(
        actor=actor,
        action="segment.create" if creating else "segment.update",
        target=segment,
        summary=str(segment),
        before=None if creating else before,
        after=after,
    )
    return segment


@transaction.atomic
def segment_delete(*, segment: Segment, actor: User | None) -> None:
    """Refused while a snapshot of it exists: a campaign may have sent to that list."""
    if segment.snapshots.exists():
        raise Conflict(_("This segment has frozen snapshots and cannot be deleted."))
    audit_record(
        actor=actor,
        action="segment.delete",
        target=segment,
        summary=str(segment),
        before={"rules": segment.rules},
    )
    segment.delete()


def segment_count(*, segment: Segment) -> int:
    count = segment_customers(segment.rules).count()
    Segment.objects.filter(pk=segment.pk).update(last_count=count, counted_at=timezone.now())
    return count


@transaction.atomic
def segment_freeze(*, segment: Segment, actor: User | None, note: str = "") -> SegmentSnapshot:
    """Who matches now, copied into a snapshot with one INSERT … SELECT (the list never goes
    through Python, whatever its size)."""
    snapshot = SegmentSnapshot.objects.create(
        segment=segment,
        taken_at=timezone.now(),
        taken_by=actor if getattr(actor, "pk", None) else None,
        rules=segment.rules,
        size=0,
        note=note.strip()[:200],
    )
    matching = segment_customers(segment.rules).order_by().values("pk")
    sql, params = matching.query.sql_with_params()
    table = connection.ops.quote_name(SnapshotMember._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (snapshot_id, customer_id) SELECT %s, m.* FROM ({sql}) m",  # noqa: S608 (inner SQL is a compiled queryset, params bound)  # nosec B608
            [snapshot.pk, *params],
        )
        size = cursor.rowcount
    SegmentSnapshot.objects.filter(pk=snapshot.pk).update(size=size)
    snapshot.size = size
    audit_record(
        actor=actor,
        action="segment.freeze",
        target=segment,
        summary=f"{segment}: {size}",
        after={"snapshot": snapshot.pk, "size": size},
    )
    return snapshot
