"""A KPI figure and its change in words, in the reader's language: the KPI page, the role home
pages and the scheduled KPI e-mail all show them the same way."""

from django.utils.translation import gettext as _

from apps.core import formatting


def kpi_display(value, unit: str) -> str:
    """A KPI value as the KPI page shows it ("–" when there is nothing to count)."""
    if value is None:
        return "–"
    if unit == "money":
        return formatting.money(value, whole=True)
    if unit == "points":
        return formatting.points(value)
    if unit == "percent":
        return f"{formatting.number(value, places=1)}%"
    if unit == "score":
        return formatting.number(value, places=1, signed=True)
    if unit == "ratio":
        return formatting.number(value, places=2)
    return formatting.number(value)


def kpi_change_text(change: dict | None) -> str:
    """A change (``Card.change``): "+12.5%" relative, "+3.0 pts" for percentages and scores."""
    if change is None:
        return ""
    delta = formatting.number(change["delta"], places=1, signed=True)
    if change["relative"]:
        return f"{delta}%"
    return _("%(delta)s pts") % {"delta": delta}
