"""Survey lifecycle: publish (with the reasons it is refused), pause, resume, close, and a new
draft version copied from a survey. Audited, one transaction each."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.core.content import localized_fields
from apps.core.exceptions import ValidationFailed
from apps.core.services import audit_record

from ..enums import CHOICE_TYPES, SurveyKind, SurveyStatus
from ..models import Choice, Question, Survey
from .builder import CHOICE_LABELS, KIND_MEASURE, SURVEY_FIELDS, _lock_survey, _new_slug


def publish_problems(survey: Survey) -> list[str]:
    """Why the survey cannot go live ([] when it can)."""
    problems = []
    questions = list(survey.questions.prefetch_related("choices"))
    if not questions:
        problems.append(_("Add at least one question."))
    measure = KIND_MEASURE.get(survey.kind)
    if measure and not any(q.measure == measure for q in questions):
        problems.append(
            _("A %(kind)s survey needs a question that feeds the %(kind)s.")
            % {"kind": SurveyKind(survey.kind).label}
        )
    for q in questions:
        if q.type in CHOICE_TYPES and len(q.choices.all()) < 2:
            problems.append(_("“%(q)s” needs at least two choices.") % {"q": q.text})
    if not any((getattr(survey, c) or "").strip() for c in localized_fields(Survey, ["title"])):
        problems.append(_("Give the survey a title."))
    return problems


def _set_status(survey: Survey, *, allowed_from: set, to: str, actor, action: str) -> Survey:
    survey = _lock_survey(survey)
    if survey.status not in allowed_from:
        raise ValidationFailed(
            _("A %(status)s survey cannot do that.")
            % {"status": SurveyStatus(survey.status).label.lower()}
        )
    before = survey.status
    survey.status = to
    fields = ["status", "updated_at"]
    if to == SurveyStatus.LIVE and survey.published_at is None:
        survey.published_at = timezone.now()
        fields.append("published_at")
    if to == SurveyStatus.CLOSED:
        survey.closed_at = timezone.now()
        fields.append("closed_at")
    survey.save(update_fields=fields)
    audit_record(
        actor=actor,
        action=action,
        target=survey,
        summary=str(survey),
        before={"status": before},
        after={"status": to},
    )
    return survey


@transaction.atomic
def survey_publish(*, survey: Survey, actor: User | None) -> Survey:
    """Draft → live, refused with the first of ``publish_problems``."""
    if problems := publish_problems(_lock_survey(survey)):
        raise ValidationFailed(problems[0])
    return _set_status(
        survey,
        allowed_from={SurveyStatus.DRAFT},
        to=SurveyStatus.LIVE,
        actor=actor,
        action="survey.publish",
    )


@transaction.atomic
def survey_pause(*, survey: Survey, actor: User | None) -> Survey:
    return _set_status(
        survey,
        allowed_from={SurveyStatus.LIVE},
        to=SurveyStatus.PAUSED,
        actor=actor,
        action="survey.pause",
    )


@transaction.atomic
def survey_resume(*, survey: Survey, actor: User | None) -> Survey:
    return _set_status(
        survey,
        allowed_from={SurveyStatus.PAUSED},
        to=SurveyStatus.LIVE,
        actor=actor,
        action="survey.resume",
    )


@transaction.atomic
def survey_close(*, survey: Survey, actor: User | None) -> Survey:
    return _set_status(
        survey,
        allowed_from={SurveyStatus.DRAFT, SurveyStatus.LIVE, SurveyStatus.PAUSED},
        to=SurveyStatus.CLOSED,
        actor=actor,
        action="survey.close",
    )


@transaction.atomic
def survey_copy(*, survey: Survey, actor: User | None) -> Survey:
    """A new draft version: the same settings, questions, choices and conditions."""
    source = Survey.objects.get(pk=survey.pk)
    copy = Survey(
        **{name: getattr(source, name) for name in SURVEY_FIELDS},
        status=SurveyStatus.DRAFT,
        copied_from=source,
        created_by=actor if getattr(actor, "pk", None) else None,
        slug=_new_slug(source.slug.rsplit("-", 1)[0] if "-" in source.slug else source.slug),
    )
    copy.save()
    copy.trigger_stores.set(source.trigger_stores.all())
    mapping: dict[int, Question] = {}
    for q in source.questions.order_by("position", "id").prefetch_related("choices"):
        new = Question(
            survey=copy,
            position=q.position,
            type=q.type,
            required=q.required,
            measure=q.measure,
            show_if_values=list(q.show_if_values or []),
            show_if_question=mapping.get(q.show_if_question_id),
            **{c: getattr(q, c) for c in localized_fields(Question, ["text", "help_text"])},
        )
        new.save()
        mapping[q.pk] = new
        Choice.objects.bulk_create(
            Choice(
                question=new,
                position=c.position,
                value=c.value,
                **{col: getattr(c, col) for col in CHOICE_LABELS},
            )
            for c in q.choices.all()
        )
    audit_record(
        actor=actor,
        action="survey.copy",
        target=copy,
        summary=str(copy),
        after={"copied_from": source.pk},
    )
    return copy
