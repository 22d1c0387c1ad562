"""The personal-data registry: every app that stores something about a customer registers how to
export it and how to erase it, so "download my data" and "delete my account" cover every app
without the customers app knowing the apps above it (they register in ``AppConfig.ready``).

An exporter returns a list of flat dicts (one per row; values JSON-safe or str-able); the export
writes each section as ``<name>.json`` and ``<name>.csv``. An eraser removes or anonymises that
app's personal data for the customer inside the erasure transaction; it must keep the amounts
that the books need (orders, ledger) and must be safe to run twice.

A section may also name the audit targets it owns for the customer (``audit_targets`` returns
``[(target_type, [ids]), ...]``, e.g. ``("loyalty.redemption", ["12", "15"])``): the customers
app's privacy log exports the audit events about them and its eraser scrubs them.

A section may also say how to merge a duplicate customer into another (``merge(source=,
target=, actor=)``, see ``apps.customers.services.merge``): move that app's rows from the
merged-away ``source`` to the surviving ``target`` inside the merge's transaction, keep that
app's invariants, and return what it moved as ``{label: count}`` for the audit event. Mergers
run in ascending ``merge_order`` (then name): an app above another one registers a higher
order, so it finds the lower app's rows (orders, say) already on the survivor.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .events import wiring_only

Exporter = Callable[..., list[dict[str, Any]]]
Eraser = Callable[..., None]
AuditTargets = Callable[..., list[tuple[str, list[str]]]]
Merger = Callable[..., dict[str, int]]


@dataclass(frozen=True)
class PrivacySection:
    name: str
    export: Exporter | None
    erase: Eraser | None
    order: int
    audit_targets: AuditTargets | None = None
    merge: Merger | None = None
    merge_order: int = 100


_sections: dict[str, PrivacySection] = {}


def register(
    name: str,
    *,
    export: Exporter | None = None,
    erase: Eraser | None = None,
    order: int = 100,
    audit_targets: AuditTargets | None = None,
    merge: Merger | None = None,
    merge_order: int = 100,
) -> None:
    """Register (or replace, so module reloads stay harmless) a section of personal data.
    Erasers run in ascending ``order``; the customer's own profile should go last. Mergers run
    in ascending ``merge_order``."""
    wiring_only(f"the privacy section {name!r}")
    if not name.replace("_", "").isalnum():
        raise ValueError(f"Section names are used as file names: {name!r}")
    _sections[name] = PrivacySection(
        name=name,
        export=export,
        erase=erase,
        order=order,
        audit_targets=audit_targets,
        merge=merge,
        merge_order=merge_order,
    )


def sections() -> list[PrivacySection]:
    return sorted(_sections.values(), key=lambda s: (s.order, s.name))


def export_sections(*, customer) -> dict[str, list[dict[str, Any]]]:
    """Every registered section's rows for ``customer``, keyed by section name."""
    return {s.name: s.export(customer=customer) for s in sections() if s.export is not None}


def erase_sections(*, customer) -> list[str]:
    """Run every registered eraser for ``customer``; return the section names that ran."""
    done = []
    for section in sections():
        if section.erase is not None:
            section.erase(customer=customer)
            done.append(section.name)
    return done


def audit_targets(*, customer) -> list[tuple[str, list[str]]]:
    """Every registered section's audit targets for ``customer`` (types with their ids)."""
    out = []
    for section in sections():
        if section.audit_targets is not None:
            out.extend((kind, ids) for kind, ids in section.audit_targets(customer=customer) if ids)
    return out


def merge_sections(*, source, target, actor) -> dict[str, int]:
    """Run every registered merger (ascending ``merge_order``) for a merge of ``source`` into
    ``target``; return what they moved, ``{"<section>.<label>": count}``. Runs inside the
    merge's transaction: a merger that raises rolls the whole merge back."""
    moved: dict[str, int] = {}
    for section in sorted(_sections.values(), key=lambda s: (s.merge_order, s.name)):
        if section.merge is not None:
            counts = section.merge(source=source, target=target, actor=actor)
            moved.update({f"{section.name}.{label}": n for label, n in counts.items()})
    return moved
