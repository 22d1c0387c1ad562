"""The customer timeline merges events from every app. Each app registers a provider in its
``AppConfig.ready``; a provider returns the events of the newest ``limit`` rows of one kind for
a customer that happened before ``before`` (all when None), with a bounded number of queries,
so the 360 page stays within its query budget whatever the history.

A row's events are never older than the row's own time (a complaint is resolved after it is
filed, a survey answered after the invitation), which is what a provider filters ``before`` on;
the timeline drops the events that fall at or after ``before`` itself.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from .events import wiring_only

Provider = Callable[..., list["TimelineEvent"]]
_providers: list[Provider] = []


@dataclass(frozen=True)
class TimelineEvent:
    at: dt.datetime
    kind: str  # "order", "interaction", "consent", "points", "ticket", ...
    icon: str  # a Bootstrap icon-ish short name used by the template
    title: str
    detail: str = ""
    url: str = ""
    extra: dict = field(default_factory=dict)


def register(provider: Provider) -> None:
    """Add a provider (in ``AppConfig.ready()`` only; registering it twice is a no-op)."""
    wiring_only(f"the timeline provider {provider.__qualname__}")
    if provider not in _providers:
        _providers.append(provider)


@dataclass(frozen=True)
class TimelinePage:
    """The newest events before a point in time, newest first. ``older``: where the next page
    starts (pass it as ``before``), or None when nothing older is left."""

    events: list[TimelineEvent]
    older: dt.datetime | None


def timeline_page(customer, *, limit: int = 25, before: dt.datetime | None = None) -> TimelinePage:
    """The newest ``limit`` events of every provider before ``before``. Events at the same
    instant stay on one page (a transaction's ledger rows share its time), so a page may hold a
    few more than ``limit``; the next one starts strictly before the last instant shown."""
    events: list[TimelineEvent] = []
    for provider in _providers:
        # One row more than a page: a provider with more rows than that makes the page full.
        for event in provider(customer=customer, limit=limit + 1, before=before):
            if before is None or event.at < before:
                events.append(event)
    events.sort(key=lambda e: e.at, reverse=True)
    if len(events) <= limit:
        return TimelinePage(events, None)
    cut = events[limit - 1].at
    return TimelinePage([e for e in events if e.at >= cut], cut)


def timeline_for(customer, *, limit: int = 50) -> list[TimelineEvent]:
    """The newest ``limit`` events of every provider, newest first (at most ``limit``)."""
    return timeline_page(customer, limit=limit).events[:limit]
