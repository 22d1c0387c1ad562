"""The programme's configuration as one snapshot, kept by the process while it does not change.

Every order reads the programme's settings, the active earn rules and their tiers, the tiers and
the active badges; they change a few times a year. ``configuration(version=…)`` returns them from
memory while the database's configuration version (``ConfigurationVersion``, moved by triggers on
those tables, so every way of changing them counts: services, admin, imports, fixtures, SQL) is
the one the snapshot was read at, and reads them again when it has moved. A caller reads the
version in a query it makes anyway (the order's account lock carries it), so a warm order pays
no query for its configuration.

The snapshot is read-only: its model instances are shared by every request of the process.
Services that change the configuration load their own rows (``Programme.get()``, querysets).
Without PostgreSQL (SQLite for ``make run``) there is no version and nothing is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import Subquery

from .models import Badge, ConfigurationVersion, EarnRule, Programme, Tier


@dataclass(frozen=True)
class Configuration:
    """``rules``: the active earn rules; ``rule_tiers``: for each tier-limited rule the ids of
    its tiers; ``tiers``: every tier by rank; ``badges``: the active badges by pk."""

    version: int | None
    programme: Programme
    rules: tuple[EarnRule, ...]
    rule_tiers: dict[int, frozenset[int]]
    tiers: tuple[Tier, ...]
    badges: tuple[Badge, ...]

    @property
    def tiers_by_pk(self) -> dict[int, Tier]:
        return {tier.pk: tier for tier in self.tiers}


_snapshot: tuple[str, Configuration] | None = None


def version_subquery() -> Subquery | None:
    """The configuration version as a subquery to annotate onto a query the caller makes anyway,
    or None where the database keeps no version."""
    if connection.vendor != "postgresql":
        return None
    return Subquery(ConfigurationVersion.objects.filter(pk=1).values("version")[:1])


def configuration_version() -> int | None:
    """The configuration version in its own query (None without PostgreSQL)."""
    if connection.vendor != "postgresql":
        return None
    return ConfigurationVersion.objects.filter(pk=1).values_list("version", flat=True).first()


def configuration_kept() -> Configuration | None:
    """The process's snapshot for this database, unchecked: what a caller may plan a query
    with before it reads the version (``configuration(version=…)`` then says whether the plan
    held: the same object comes back)."""
    kept = _snapshot
    if kept is None or kept[0] != connection.settings_dict["NAME"]:
        return None
    return kept[1]


def _load(version: int | None) -> Configuration:
    rules = tuple(EarnRule.objects.filter(is_active=True).order_by("pk"))
    rule_tiers: dict[int, set[int]] = {}
    if rules:
        for rule_id, tier_id in EarnRule.tiers.through.objects.filter(
            earnrule__in=[r.pk for r in rules]
        ).values_list("earnrule_id", "tier_id"):
            rule_tiers.setdefault(rule_id, set()).add(tier_id)
    return Configuration(
        version=version,
        programme=Programme.get(),
        rules=rules,
        rule_tiers={k: frozenset(v) for k, v in rule_tiers.items()},
        tiers=tuple(Tier.objects.order_by("rank")),
        badges=tuple(Badge.objects.filter(is_active=True).order_by("pk")),
    )


def configuration(*, version: int | None = None, check: bool = True) -> Configuration:
    """The configuration at ``version`` (read it in its own query when not given and
    ``check``). The process's snapshot when it is at that version, else read afresh (four or
    five queries) and kept for the next caller."""
    global _snapshot
    if version is None and check:
        version = configuration_version()
    database = connection.settings_dict["NAME"]
    kept = _snapshot
    if (
        version is not None
        and kept is not None
        and (database, version)
        == (
            kept[0],
            kept[1].version,
        )
    ):
        return kept[1]
    fresh = _load(version)
    if version is not None:
        _snapshot = (database, fresh)
    return fresh
