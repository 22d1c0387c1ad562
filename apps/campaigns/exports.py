"""Campaign exports are audited (invariant 8): the dashboard's export views record each one
here before they hand out the rows (the delivery layer writes no audit rows itself)."""

from typing import Any

from apps.core.services import export_record

from .models import Campaign


def campaign_export_record(
    *, actor: Any, campaign: Campaign, what: str, fmt: str, rows: int | None, details=None
) -> None:
    """``what``: ``campaign`` (the results table) or ``campaign_messages``."""
    export_record(
        actor=actor,
        what=what,
        fmt=fmt,
        rows=rows,
        target=campaign,
        summary=f"{campaign}: {fmt}" + (f", {rows} rows" if rows is not None else ""),
        details=details,
    )
