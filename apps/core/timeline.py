"""The customer timeline merges events from every app. Each app registers a provider in its
``AppConfig.ready``; a provider returns the newest ``limit`` events of one kind for a customer
with a bounded number of queries, so the 360 page stays within its query budget."""

import datetime as dt
from collections.abc import Callable, Mapping
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


def timeline_for(
    customer, *, limit: int = 50, known: Mapping[Provider, list[TimelineEvent]] | None = None
) -> list[TimelineEvent]:
    """The newest ``limit`` events of every provider, newest first. ``known``: the events of
    some providers already made from rows the page has read anyway (at least the newest
    ``limit`` of that kind); those providers are not asked again."""
    known = known or {}
    events: list[TimelineEvent] = []
    for provider in _providers:
        if provider in known:
            events.extend(known[provider])
        else:
            events.extend(provider(customer=customer, limit=limit))
    events.sort(key=lambda e: e.at, reverse=True)
    return events[:limit]
