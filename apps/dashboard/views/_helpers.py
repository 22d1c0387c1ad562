"""Small helpers shared by the dashboard views (htmx partials, paging, sort links)."""

from django.core.paginator import Page, Paginator
from django.http import HttpRequest

PAGE_SIZE = 50


def wants_partial(request: HttpRequest, target: str) -> bool:
    """True for an htmx request that swaps only ``#target``. A history-restore request (back
    button after the cache was evicted) needs the whole page."""
    headers = request.headers
    return (
        headers.get("HX-Request") == "true"
        and not headers.get("HX-History-Restore-Request")
        and headers.get("HX-Target") == target
    )


class PartialResultsMixin:
    """A list page whose results an htmx request may swap alone: ``partial_template_name`` for
    a request that targets ``#results_id``, the whole page otherwise."""

    template_name = ""
    partial_template_name = ""
    results_id = ""

    def get_template_names(self) -> list[str]:
        if wants_partial(self.request, self.results_id):  # type: ignore[attr-defined]
            return [self.partial_template_name]
        return [self.template_name]


def paginate(queryset, request: HttpRequest, per_page: int = PAGE_SIZE) -> Page:
    """The requested page, clamped to the valid range (a stale link never 404s)."""
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def sort_links(current: str, columns: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """For each sortable column: the sort value its header link sets (toggling direction when it
    is the active column) and its current direction ("asc", "desc" or "")."""
    links = {}
    for column in columns:
        if current == column:
            links[column] = {"next": f"-{column}", "dir": "asc"}
        elif current == f"-{column}":
            links[column] = {"next": column, "dir": "desc"}
        else:
            links[column] = {"next": column, "dir": ""}
    return links
