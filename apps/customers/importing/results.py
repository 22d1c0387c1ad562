"""What an import returns: counts, the first errors (``row N, column C: reason``) and a preview;
plus the progress callback and batching shared by the importers."""

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

MAX_ERRORS = 1000
PREVIEW_ROWS = 20
PROGRESS_EVERY = 5000
LOOKUP_CHUNK = 5000
BULK_BATCH = 1000

# Called as progress(status, processed_rows, total_rows); status is an ImportJob.Status value.
Progress = Callable[[str, int, int], None]


@dataclass
class ImportResult:
    kind: str
    file_name: str
    dry_run: bool
    rows: int = 0
    created: int = 0
    lines: int = 0
    consents: int = 0
    skipped: int = 0
    error_count: int = 0
    errors: list[str] = field(default_factory=list)
    preview: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def summary(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "created": self.created,
            "lines": self.lines,
            "consents": self.consents,
            "skipped": self.skipped,
            "errors": self.error_count,
        }


class Errors:
    """First MAX_ERRORS messages plus the total count."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.count = 0

    def add(self, row: int, column: str, reason: str) -> None:
        self.count += 1
        if len(self.messages) < MAX_ERRORS:
            self.messages.append(
                _("row %(row)s, column %(column)s: %(reason)s")
                % {"row": row, "column": column, "reason": reason}
            )

    def add_file(self, reason: str) -> None:
        self.count += 1
        if len(self.messages) < MAX_ERRORS:
            self.messages.append(reason)


def chunks(items: list, size: int = LOOKUP_CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def preview_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).isoformat(sep=" ", timespec="minutes")
    return str(value)


def noop_progress(status: str, processed: int, total: int) -> None:
    return None


def batches(
    rows: Iterator[tuple[int, dict[str, str]]], size: int = PROGRESS_EVERY
) -> Iterator[list]:
    batch: list = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def dup(first_row: int) -> str:
    return _("duplicate of row %(row)s") % {"row": first_row}


def finish(result: ImportResult, errors: Errors) -> ImportResult:
    result.errors = errors.messages
    result.error_count = errors.count
    if errors.count:
        result.created = result.lines = result.consents = result.skipped = 0
    return result
