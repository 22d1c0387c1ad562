"""Audited survey exports (invariant 8: every export has an audit event).

``responses_export_rows``: one row per response, one column per question (its text in the
reader's language), then when it was submitted, channel, store, tier and NPS group; the member
number only for an identified survey read by someone allowed to read identified answers (free
text of identified members is left out for anybody else). Answers are read per chunk of
responses (one query per chunk), so a large survey streams with flat memory.

``report_export``: one of the analysis page's tables, audited the same way.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.core.exports import ExportRows
from apps.core.services import export_audited, export_record
from apps.customers.models import Store
from apps.loyalty.models import Tier

from .enums import CHOICE_TYPES, InvitationChannel, QuestionType, ScoreGroup
from .models import Answer, Question, Survey
from .selectors import question_list


def _answer_cell(question: Question, answer: Answer | None, labels: dict[str, str]):
    if answer is None:
        return ""
    if question.type == QuestionType.YES_NO:
        return "" if answer.number is None else (_("Yes") if answer.number else _("No"))
    if question.type in CHOICE_TYPES:
        return ", ".join(labels.get(v, v) for v in answer.choices or [])
    if question.type == QuestionType.TEXT:
        return answer.text
    return answer.number


def responses_export_rows(
    *,
    survey: Survey,
    actor,
    fmt: str,
    qs,
    identified: bool,
    filters: dict[str, Any],
) -> ExportRows:
    """The responses in ``qs`` (the analysis page's filters), with their audit event.
    ``identified``: the reader may see who answered and what identified members wrote."""
    questions = question_list(survey=survey)
    hide_text = not (survey.anonymous or identified)
    with_member = identified and not survey.anonymous
    stores = {s.pk: str(s.name) for s in Store.objects.order_by()}
    tiers = {t.pk: str(t.name) for t in Tier.objects.order_by()}
    columns: list[tuple[str, Any]] = [
        ("id", None),
        ("submitted_at", gettext_lazy("Submitted")),
        ("channel", gettext_lazy("Channel")),
        ("store_id", gettext_lazy("Store")),
        ("tier_id", gettext_lazy("Tier")),
        ("score_group", gettext_lazy("NPS group")),
    ]
    if with_member:
        columns.append(("customer__member_number", gettext_lazy("Member number")))
    header = [str(title) for _path, title in columns[1:]] + [str(q.text) for q in questions]

    def chunk(batch: list[tuple]) -> Iterable[Sequence]:
        choice_labels = {q.pk: {c.value: str(c.label) for c in q.choices.all()} for q in questions}
        channels = {k: str(v) for k, v in InvitationChannel.choices}
        groups = {k: str(v) for k, v in ScoreGroup.choices}
        answers: dict[int, dict[int, Answer]] = defaultdict(dict)
        for answer in Answer.objects.filter(response_id__in=[row[0] for row in batch]):
            answers[answer.response_id][answer.question_id] = answer
        for values in batch:
            pk, submitted, channel, store_id, tier_id, group, *rest = values
            row = [
                submitted,
                channels.get(channel, channel),
                stores.get(store_id, "") if store_id else "",
                tiers.get(tier_id, "") if tier_id else "",
                groups.get(group, group),
                *(rest if with_member else []),
            ]
            for q in questions:
                if hide_text and q.type == QuestionType.TEXT:
                    row.append("")
                    continue
                row.append(_answer_cell(q, answers[pk].get(q.pk), choice_labels[q.pk]))
            yield row

    def chunk_list(batch: list[tuple]) -> list[Sequence]:
        return list(chunk(batch))

    return export_audited(
        qs=qs.order_by("submitted_at", "id"),
        columns=columns,
        header=header,
        fmt=fmt,
        actor=actor,
        action="export.survey_responses",
        filters={"survey": survey.slug, **filters},
        chunk=chunk_list,
    )


def report_export(
    *,
    survey: Survey,
    actor,
    fmt: str,
    table: str,
    header: list[str],
    rows: list[list],
    filters: dict[str, Any],
    write: Callable[[list[str], Iterable[list]], Any],
):
    """One table of the analysis page, handed to ``write`` (header, rows); audited once
    ``write`` has returned."""
    written = write(header, rows)
    export_record(
        actor=actor,
        what="survey_report",
        fmt=fmt,
        rows=len(rows),
        target=survey,
        summary=f"{survey.slug} {table}, {fmt}",
        details={"table": table, "filters": {k: v for k, v in filters.items() if v}},
    )
    return written
