"""Staff writes that build a survey: its settings, questions with their choices and conditions,
its order, its status, and new versions.

The meaning lock: once a survey has responses, an answer already collected must keep meaning
what it meant. So a question's type, its choices' codes, its condition and its measure cannot
change, no question or choice can be deleted, and a text already written in a language cannot
be reworded (an empty language may be filled). Reordering and adding optional questions stay
allowed, and so do the survey's own texts. A refusal raises ``SurveyLocked`` and changes nothing.
Each function is one transaction with its audit row.
"""

import secrets
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils.text import slugify
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.core.content import content_input, content_languages, localized_fields
from apps.core.exceptions import ValidationFailed
from apps.core.services import audit_record, changed_fields, model_snapshot
from apps.core.text import instance_text_problems
from apps.customers.enums import OrderChannel
from apps.customers.models import Store

from ..enums import (
    CHOICE_TYPES,
    MEASURE_TYPES,
    InvitationChannel,
    Measure,
    QuestionType,
    SurveyKind,
    SurveyStatus,
)
from ..exceptions import SurveyLocked
from ..models import Choice, Question, Survey

SURVEY_FIELDS = localized_fields(
    Survey,
    [
        "title",
        "intro",
        "thank_you",
        "kind",
        "anonymous",
        "display",
        "reward_points",
        "trigger",
        "delay_days",
        "sample_percent",
        "trigger_channels",
        "invite_channels",
        "valid_days",
        "follow_up_detractors",
    ],
)
QUESTION_FIELDS = localized_fields(
    Question, ["type", "text", "help_text", "required", "measure", "show_if_values"]
)
CHOICE_LABELS = localized_fields(Choice, ["label"])
INVITE_CHANNELS = (InvitationChannel.EMAIL, InvitationChannel.PORTAL)

# The standard first question of each headline kind, in both languages.
STANDARD_QUESTIONS = {
    SurveyKind.NPS: (
        QuestionType.NPS,
        Measure.NPS,
        {
            "en": "How likely are you to recommend us to a friend or colleague?",
            "zh-hans": "您向朋友或同事推荐我们的可能性有多大？",
        },
    ),
    SurveyKind.CSAT: (
        QuestionType.RATING,
        Measure.CSAT,
        {
            "en": "How satisfied are you with your experience?",
            "zh-hans": "您对这次体验的满意程度如何？",
        },
    ),
    SurveyKind.CES: (
        QuestionType.RATING,
        Measure.CES,
        {
            "en": "How easy was it to get what you needed?",
            "zh-hans": "获得所需帮助的难易程度如何？",
        },
    ),
}
KIND_MEASURE = {
    SurveyKind.NPS: Measure.NPS,
    SurveyKind.CSAT: Measure.CSAT,
    SurveyKind.CES: Measure.CES,
}


def _col(name: str, lang: str) -> str:
    return f"{name}_{lang.replace('-', '_')}"


def _refuse(problems: list[tuple[str, str]]) -> None:
    if problems:
        field, message = problems[0]
        raise ValidationFailed(message, field=field)


def _need_text(instance, name: str) -> None:
    columns = localized_fields(type(instance), [name])
    if not any((getattr(instance, c, None) or "").strip() for c in columns):
        raise ValidationFailed(_("Enter it in at least one language."), field=columns[0])


def _locked(survey: Survey) -> bool:
    return survey.responses.exists()


def _lock_survey(survey: Survey) -> Survey:
    return Survey.objects.select_for_update().get(pk=survey.pk)


# --- survey settings ----------------------------------------------------------------------------


def _clean_survey(survey: Survey, data: dict[str, Any]) -> None:
    _refuse(instance_text_problems(survey, names=[f for f in SURVEY_FIELDS if f in data]))
    _need_text(survey, "title")
    if survey.kind not in SurveyKind.values:
        raise ValidationFailed(_("Choose a kind."), field="kind")
    bad = [c for c in survey.trigger_channels or [] if c not in OrderChannel.values]
    if bad:
        raise ValidationFailed(
            _("Unknown channel: %(c)s") % {"c": bad[0]}, field="trigger_channels"
        )
    bad = [c for c in survey.invite_channels or [] if c not in INVITE_CHANNELS]
    if bad:
        raise ValidationFailed(
            _("Invite by e-mail or the portal inbox only."), field="invite_channels"
        )
    if not 1 <= survey.sample_percent <= 100:
        raise ValidationFailed(_("Enter a share from 1 to 100."), field="sample_percent")
    if not 1 <= survey.valid_days <= 365:
        raise ValidationFailed(_("Enter 1 to 365 days."), field="valid_days")
    if not 0 <= survey.delay_days <= 365:
        raise ValidationFailed(_("Enter 0 to 365 days."), field="delay_days")
    if not 0 <= survey.reward_points <= 100_000:
        raise ValidationFailed(_("Enter 0 to 100,000 points."), field="reward_points")


def _new_slug(title: str) -> str:
    base = slugify(title)[:40] or "survey"
    return f"{base}-{secrets.token_hex(3)}"


@transaction.atomic
def survey_create(
    *, actor: User | None, trigger_stores: Sequence[Store] = (), **data: Any
) -> Survey:
    """A new draft. A survey of kind NPS, CSAT or CES starts with its standard first question
    (in both languages) feeding its measure."""
    data = content_input(Survey, data)
    survey = Survey(**{k: v for k, v in data.items() if k in SURVEY_FIELDS})
    survey.status = SurveyStatus.DRAFT
    survey.created_by = actor if getattr(actor, "pk", None) else None
    _clean_survey(survey, data)
    title = next(
        (
            getattr(survey, _col("title", lang))
            for lang in content_languages()
            if getattr(survey, _col("title", lang))
        ),
        "",
    )
    survey.slug = _new_slug(title)
    survey.save()
    survey.trigger_stores.set(trigger_stores)
    if survey.kind in STANDARD_QUESTIONS:
        qtype, measure, texts = STANDARD_QUESTIONS[survey.kind]
        Question.objects.create(
            survey=survey,
            position=1,
            type=qtype,
            measure=measure,
            required=True,
            **{_col("text", lang): texts.get(lang, "") for lang in content_languages()},
        )
    audit_record(
        actor=actor,
        action="survey.create",
        target=survey,
        summary=str(survey),
        after=model_snapshot(survey, ["slug", *SURVEY_FIELDS]),
    )
    return survey


def _store_ids(survey: Survey) -> list[int]:
    return sorted(survey.trigger_stores.values_list("pk", flat=True))


@transaction.atomic
def survey_update(
    *,
    survey: Survey,
    actor: User | None,
    trigger_stores: Sequence[Store] | None = None,
    **data: Any,
) -> Survey:
    """The survey's settings and texts (always allowed, even with responses)."""
    survey = _lock_survey(survey)
    data = content_input(Survey, data)
    if "kind" in data and data["kind"] != survey.kind and _locked(survey):
        raise SurveyLocked()
    before = {**model_snapshot(survey, SURVEY_FIELDS), "trigger_stores": _store_ids(survey)}
    for name in SURVEY_FIELDS:
        if name in data:
            setattr(survey, name, data[name])
    _clean_survey(survey, data)
    survey.save()
    if trigger_stores is not None:
        survey.trigger_stores.set(trigger_stores)
    after = {**model_snapshot(survey, SURVEY_FIELDS), "trigger_stores": _store_ids(survey)}
    old, new = changed_fields(before, after)
    if new:
        audit_record(
            actor=actor,
            action="survey.update",
            target=survey,
            summary=str(survey),
            before=old,
            after=new,
        )
    return survey


# --- questions ----------------------------------------------------------------------------------


def comparable_values(question: Question) -> list[str]:
    """The answer values a condition on ``question`` may name ([] when it has none)."""
    if question.type == QuestionType.NPS:
        return [str(n) for n in range(11)]
    if question.type == QuestionType.RATING:
        return [str(n) for n in range(1, 6)]
    if question.type == QuestionType.YES_NO:
        return ["yes", "no"]
    if question.type in CHOICE_TYPES:
        return [c.value for c in question.choices.all()]
    return []


def _clean_choices(qtype: str, choices: Sequence[dict] | None) -> list[dict]:
    if qtype not in CHOICE_TYPES:
        return []
    rows = []
    for i, row in enumerate(choices or []):
        row = content_input(Choice, dict(row))
        value = (row.get("value") or "").strip()
        if not value or slugify(value) != value:
            raise ValidationFailed(
                _("Choice %(n)s: a code of letters, digits, - or _.") % {"n": i + 1},
                field="choices",
            )
        labels = {c: (row.get(c) or "").strip() for c in CHOICE_LABELS}
        if not any(labels.values()):
            raise ValidationFailed(
                _("Choice %(n)s: enter its label in at least one language.") % {"n": i + 1},
                field="choices",
            )
        for column, label in labels.items():
            _refuse(instance_text_problems(Choice(**{column: label}), names=[column]))
        rows.append({"value": value, **labels})
    codes = [r["value"] for r in rows]
    if len(set(codes)) != len(codes):
        raise ValidationFailed(_("Each choice needs its own code."), field="choices")
    if len(rows) < 2:
        raise ValidationFailed(_("A choice question needs at least two choices."), field="choices")
    return rows


def _clean_condition(question: Question, show_if: Question | None, values: list) -> list[str]:
    if show_if is None:
        if values:
            raise ValidationFailed(
                _("Choose the question the condition reads."), field="show_if_question"
            )
        return []
    earlier = show_if.survey_id == question.survey_id and (
        question.pk is None or (show_if.position, show_if.pk) < (question.position, question.pk)
    )
    if not earlier or show_if.pk == question.pk:
        raise ValidationFailed(
            _("A condition can only read an earlier question of this survey."),
            field="show_if_question",
        )
    allowed = comparable_values(show_if)
    if not allowed:
        raise ValidationFailed(
            _("A condition cannot read a free-text answer."), field="show_if_question"
        )
    values = [str(v) for v in values]
    if not values:
        raise ValidationFailed(_("Choose at least one answer."), field="show_if_values")
    if bad := [v for v in values if v not in allowed]:
        raise ValidationFailed(
            _("%(v)s is not an answer of that question.") % {"v": bad[0]}, field="show_if_values"
        )
    return sorted(set(values), key=allowed.index)


def _clean_measure(question: Question) -> None:
    if not question.measure:
        return
    if question.measure not in MEASURE_TYPES:
        raise ValidationFailed(_("Unknown measure."), field="measure")
    if MEASURE_TYPES[question.measure] != question.type:
        raise ValidationFailed(
            _("%(m)s needs a question of type %(t)s.")
            % {
                "m": Measure(question.measure).label,
                "t": QuestionType(MEASURE_TYPES[question.measure]).label,
            },
            field="measure",
        )
    taken = (
        Question.objects.filter(survey_id=question.survey_id, measure=question.measure)
        .exclude(pk=question.pk)
        .exists()
    )
    if taken:
        raise ValidationFailed(_("Another question already feeds this measure."), field="measure")


def _set_choices(question: Question, rows: list[dict]) -> None:
    existing = {c.value: c for c in question.choices.all()}
    keep = set()
    for position, row in enumerate(rows, start=1):
        choice = existing.get(row["value"]) or Choice(question=question, value=row["value"])
        choice.position = position
        for column in CHOICE_LABELS:
            setattr(choice, column, row[column])
        choice.save()
        keep.add(row["value"])
    question.choices.exclude(value__in=keep).delete()


def _question_snapshot(question: Question) -> dict:
    out = model_snapshot(question, QUESTION_FIELDS)
    out["show_if_question"] = question.show_if_question_id
    out["choices"] = [
        {"value": c.value, **{col: getattr(c, col) for col in CHOICE_LABELS}}
        for c in question.choices.order_by("position", "id")
    ]
    return out


def _fill_question(question: Question, data: dict, show_if, choices) -> list[dict]:
    for name in QUESTION_FIELDS:
        if name in data and name != "show_if_values":
            setattr(question, name, data[name])
    if question.type not in QuestionType.values:
        raise ValidationFailed(_("Choose a type."), field="type")
    _refuse(instance_text_problems(question, names=[f for f in QUESTION_FIELDS if f in data]))
    _need_text(question, "text")
    question.measure = question.measure or Measure.NONE
    _clean_measure(question)
    question.show_if_values = _clean_condition(question, show_if, data.get("show_if_values") or [])
    question.show_if_question = show_if
    return _clean_choices(question.type, choices)


@transaction.atomic
def question_add(
    *,
    survey: Survey,
    actor: User | None,
    show_if_question: Question | None = None,
    choices: Sequence[dict] | None = None,
    **data: Any,
) -> Question:
    """A new last question. With responses it must be optional (earlier respondents never saw
    it)."""
    survey = _lock_survey(survey)
    data = content_input(Question, data)
    question = Question(survey=survey, required=data.get("required", True))
    last = survey.questions.aggregate(m=Max("position"))["m"] or 0
    question.position = last + 1
    rows = _fill_question(question, data, show_if_question, choices)
    if _locked(survey) and question.required:
        raise SurveyLocked(
            _("This survey has responses: a new question must be optional."), field="required"
        )
    question.save()
    _set_choices(question, rows)
    audit_record(
        actor=actor,
        action="survey.question_add",
        target=survey,
        summary=str(question)[:300],
        after={"question": question.pk, **_question_snapshot(question)},
    )
    return question


def _meaning_changes(question: Question, data: dict, show_if, rows: list[dict]) -> bool:
    if data.get("type", question.type) != question.type:
        return True
    if (data.get("measure", question.measure) or "") != (question.measure or ""):
        return True
    if (show_if.pk if show_if else None) != question.show_if_question_id:
        return True
    if sorted(map(str, data.get("show_if_values") or [])) != sorted(question.show_if_values or []):
        return True
    if question.type in CHOICE_TYPES:
        old = [c.value for c in question.choices.all()]
        new = [r["value"] for r in rows]
        if set(old) - set(new) or set(new) - set(old):
            return True
    for column in localized_fields(Question, ["text"]):
        old = (getattr(question, column) or "").strip()
        if column in data and old and (data[column] or "").strip() != old:
            return True
    for choice in question.choices.all():
        row = next((r for r in rows if r["value"] == choice.value), None)
        for column in CHOICE_LABELS:
            old = (getattr(choice, column) or "").strip()
            if row is not None and old and row[column] != old:
                return True
    return False


@transaction.atomic
def question_update(
    *,
    question: Question,
    actor: User | None,
    show_if_question: Question | None = None,
    choices: Sequence[dict] | None = None,
    **data: Any,
) -> Question:
    """Change a question; refused with ``SurveyLocked`` when the survey has responses and the
    change would alter what its answers mean (see the module docstring)."""
    survey = _lock_survey(question.survey)
    question = Question.objects.select_for_update().get(pk=question.pk)
    data = content_input(Question, data)
    before = _question_snapshot(question)
    locked = _locked(survey)
    if locked:
        rows_preview = (
            _clean_choices(data.get("type", question.type), choices)
            if choices is not None
            else [
                {"value": c.value, **{col: getattr(c, col) for col in CHOICE_LABELS}}
                for c in question.choices.all()
            ]
        )
        if _meaning_changes(question, data, show_if_question, rows_preview):
            raise SurveyLocked()
        if data.get("required") and not question.required:
            raise SurveyLocked(
                _("This survey has responses: an optional question cannot become required."),
                field="required",
            )
    if choices is None and data.get("type", question.type) in CHOICE_TYPES:
        choices = [
            {"value": c.value, **{col: getattr(c, col) for col in CHOICE_LABELS}}
            for c in question.choices.all()
        ]
    rows = _fill_question(question, data, show_if_question, choices)
    if question.dependants.exists():
        for dependant in question.dependants.all():
            allowed = (
                comparable_values(question)
                if question.type not in CHOICE_TYPES
                else [r["value"] for r in rows]
            )
            if not allowed or any(v not in allowed for v in dependant.show_if_values):
                raise ValidationFailed(
                    _("A later question's condition reads this one: change that condition first."),
                    field="type",
                )
    question.save()
    _set_choices(question, rows)
    old, new = changed_fields(before, _question_snapshot(question))
    if new:
        audit_record(
            actor=actor,
            action="survey.question_update",
            target=survey,
            summary=str(question)[:300],
            before=old,
            after={"question": question.pk, **new},
        )
    return question


@transaction.atomic
def question_delete(*, question: Question, actor: User | None) -> None:
    survey = _lock_survey(question.survey)
    if _locked(survey):
        raise SurveyLocked()
    if question.dependants.exists():
        raise ValidationFailed(
            _("A later question's condition reads this one: remove that condition first.")
        )
    before = _question_snapshot(question)
    pk = question.pk
    question.delete()
    _renumber(survey, [q.pk for q in survey.questions.order_by("position", "id")])
    audit_record(
        actor=actor,
        action="survey.question_delete",
        target=survey,
        summary=str(before.get("text_en") or before.get("text_zh_hans") or pk)[:300],
        before={"question": pk, **before},
    )


def _renumber(survey: Survey, order: list[int]) -> None:
    questions = {q.pk: q for q in survey.questions.all()}
    for position, pk in enumerate(order, start=1):
        q = questions[pk]
        if q.position != position:
            q.position = position
            q.save(update_fields=["position"])


def _check_order(survey: Survey, order: list[int]) -> None:
    questions = {q.pk: q for q in survey.questions.all()}
    index = {pk: i for i, pk in enumerate(order)}
    for q in questions.values():
        if q.show_if_question_id and index[q.show_if_question_id] > index[q.pk]:
            raise ValidationFailed(
                _("“%(q)s” reads an earlier answer: it must stay after that question.")
                % {"q": q.text}
            )


@transaction.atomic
def questions_reorder(*, survey: Survey, order: Sequence[int], actor: User | None) -> None:
    """Put the questions in ``order`` (every question id, once). A question with a condition
    stays after the question it reads. Allowed with responses."""
    survey = _lock_survey(survey)
    order = [int(pk) for pk in order]
    current = list(survey.questions.order_by("position", "id").values_list("pk", flat=True))
    if sorted(order) != sorted(current):
        raise ValidationFailed(_("The order must list every question of the survey once."))
    _check_order(survey, order)
    _renumber(survey, order)
    if order != current:
        audit_record(
            actor=actor,
            action="survey.questions_reorder",
            target=survey,
            summary=str(survey),
            before={"order": current},
            after={"order": order},
        )


@transaction.atomic
def question_move(*, question: Question, direction: str, actor: User | None) -> None:
    """Swap a question with its neighbour (``direction`` "up" or "down")."""
    order = list(question.survey.questions.order_by("position", "id").values_list("pk", flat=True))
    i = order.index(question.pk)
    j = i - 1 if direction == "up" else i + 1
    if direction not in ("up", "down"):
        raise ValidationFailed(_("Move up or down."))
    if 0 <= j < len(order):
        order[i], order[j] = order[j], order[i]
        questions_reorder(survey=question.survey, order=order, actor=actor)


# --- status and versions ------------------------------------------------------------------------
