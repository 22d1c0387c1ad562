"""Reads for the staff survey builder: the list with its counts, the questions a condition may
read, and the members an uploaded list names."""

import tempfile
from pathlib import Path

from django.db.models import Count, Max, Q, QuerySet
from django.utils.translation import gettext as _

from apps.customers.importing.files import ImportFileError, cell_error, raw_rows
from apps.customers.models import Customer

from .enums import InvitationStatus
from .models import Question, Survey
from .selectors import survey_list

LIST_EXTENSIONS = (".csv", ".xlsx", ".txt")
MAX_LIST_ROWS = 100_000
HEADER_WORDS = ("member", "number", "会员")


def survey_list_for_staff(*, status: str = "", query: str = "") -> QuerySet[Survey]:
    """Surveys with their invited and response counts and last response, in one query."""
    return survey_list(status=status, query=query).annotate(
        invited_count=Count(
            "invitations", filter=Q(invitations__status=InvitationStatus.SENT), distinct=True
        ),
        response_count=Count("responses", distinct=True),
        last_response_at=Max("responses__submitted_at"),
    )


def condition_sources(*, question: Question | None, survey: Survey) -> QuerySet[Question]:
    """The questions a condition on ``question`` may read: earlier ones of the same survey
    (all of them for a new question)."""
    qs = survey.questions.exclude(type="text").order_by("position", "id")
    if question is not None and question.pk:
        qs = qs.filter(
            Q(position__lt=question.position) | Q(position=question.position, pk__lt=question.pk)
        )
    return qs


def condition_labels(question: Question, questions: list[Question]) -> list[str]:
    """The values a conditional question waits for, as the reader sees them: the earlier
    question's choice labels, "Yes"/"No", or the score as it is."""
    earlier = next((q for q in questions if q.pk == question.show_if_question_id), None)
    labels = {c.value: str(c.label) for c in earlier.choices.all()} if earlier else {}
    labels |= {"yes": _("Yes"), "no": _("No")}
    return [labels.get(str(value), str(value)) for value in question.show_if_values]


def member_list_read(*, name: str, content: bytes) -> tuple[list[int], list[str]]:
    """The customer ids an uploaded list of member numbers names (``.csv``, ``.xlsx`` or a
    ``.txt`` with one number a line; the first column; a header row is skipped), and the
    ``row N, column C: reason`` errors for rows naming nobody. A merged-away member number
    names its survivor (as at the till); anonymised members are left to the invitation rules,
    which skip them with the reason."""
    suffix = Path(name).suffix.lower()
    if suffix not in LIST_EXTENSIONS:
        return [], [_("Upload a .csv, .xlsx or .txt file.")]
    rows: list[tuple[int, str, str]] = []  # (row, column, number)
    try:
        if suffix == ".txt":
            try:
                text = content.decode("utf-8-sig")
            except UnicodeDecodeError:
                return [], [_("The file is not UTF-8 text.")]
            lines = [[line.strip()] for line in text.splitlines()]
        else:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / f"list{suffix}"
                path.write_bytes(content)
                lines = list(raw_rows(path))
    except ImportFileError as exc:
        return [], [exc.message]
    header = "A"
    for number, cells in enumerate(lines, start=1):
        value = (cells[0] if cells else "").strip()
        if number == 1 and any(w in value.lower() for w in HEADER_WORDS):
            header = value
            continue
        if not value:
            continue
        rows.append((number, header, value))
        if len(rows) > MAX_LIST_ROWS:
            return [], [_("The list has more than %(n)s rows.") % {"n": MAX_LIST_ROWS}]
    if not rows:
        return [], [_("The file names no member numbers.")]
    found = {
        c["member_number"]: c
        for c in Customer.objects.filter(
            member_number__in={r[2] for r in rows if len(r[2]) <= 16}
        ).values("pk", "member_number", "merged_into_id")
    }
    ids, errors = [], []
    for row, column, value in rows:
        customer = found.get(value)
        if customer is None:
            errors.append(cell_error(row, column, _("no member with number %(n)s") % {"n": value}))
        else:
            ids.append(customer["merged_into_id"] or customer["pk"])
    return ids, errors


def tag_customer_ids(*, tag_id: int) -> list[int]:
    return list(
        Customer.objects.filter(tags__pk=tag_id, merged_into__isnull=True).values_list(
            "pk", flat=True
        )
    )
