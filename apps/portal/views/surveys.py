"""Answering surveys: the token link ``/s/<token>/`` (no login needed; the token is the
capability), the staff preview ``/s/preview/<pk>/`` (framed by the survey builder, stores
nothing) and the member's list ``/me/surveys/``.

The page renders every question (it works without JavaScript); ``static/js/survey.js`` turns a
one-per-screen survey into steps and applies conditional display live. The server applies the
same rule (``apps.surveys.answering``) whatever the browser did."""

from csp.constants import SELF
from csp.decorators import csp_replace
from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.cache import add_never_cache_headers
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.generic import TemplateView

from apps.surveys.answering import TEXT_ANSWER_MAX, answers_clean
from apps.surveys.enums import DisplayMode, QuestionType
from apps.surveys.exceptions import (
    AlreadyAnswered,
    AnswersInvalid,
    InvitationExpired,
    InvitationNotFound,
    SurveyNotFound,
    SurveyNotOpen,
)
from apps.surveys.selectors import (
    invitation_get_by_token,
    invitation_list_answered_for_member,
    invitation_list_open_for_member,
    question_list,
    survey_get,
)
from apps.surveys.services.invitations import survey_link
from apps.surveys.services.responses import (
    invitation_check_answerable,
    invitation_mark,
    response_submit,
)

from .. import ratelimit
from .mixins import MemberMixin

SUBMITS_PER_TOKEN_PER_MINUTE = 20
PINGS_PER_TOKEN_PER_MINUTE = 20
LANGUAGE_CODES = {code for code, _name in settings.LANGUAGES}
ANSWER_TEMPLATE = "portal/surveys/answer.html"
STATE_TEMPLATE = "portal/surveys/state.html"


def field_name(question) -> str:
    return f"q{question.pk}"


def raw_answers(questions, data) -> dict:
    """The posted form as ``answers_clean`` reads it: question id (a string) → value, or the
    list of codes for multiple choice."""
    raw = {}
    for q in questions:
        name = field_name(q)
        if q.type == QuestionType.MULTI_CHOICE:
            raw[str(q.pk)] = data.getlist(name)
        elif name in data:
            raw[str(q.pk)] = data.get(name, "")
    return raw


def _options(question) -> list[tuple[str, str]]:
    if question.type == QuestionType.NPS:
        return [(str(n), str(n)) for n in range(11)]
    if question.type == QuestionType.RATING:
        return [(str(n), str(n)) for n in range(1, 6)]
    if question.type == QuestionType.YES_NO:
        return [("yes", translation.gettext("Yes")), ("no", translation.gettext("No"))]
    return [(c.value, c.label) for c in question.choices.all()]


def question_rows(questions, raw: dict, errors: dict) -> list[dict]:
    """What the template needs per question: options, the values entered, the error."""
    rows = []
    for number, q in enumerate(questions, start=1):
        value = raw.get(str(q.pk))
        values = value if isinstance(value, list) else ([value] if value else [])
        rows.append(
            {
                "q": q,
                "number": number,
                "name": field_name(q),
                "options": _options(q),
                "values": [str(v) for v in values],
                "text": values[0] if q.type == QuestionType.TEXT and values else "",
                "error": errors.get(q.pk, ""),
                "show_if": (
                    f"q{q.show_if_question_id}" if q.show_if_question_id is not None else ""
                ),
                "show_if_values": "|".join(str(v) for v in q.show_if_values),
            }
        )
    return rows


def _requested_language(request) -> str | None:
    lang = (request.GET.get("lang") or "").lower()
    return lang if lang in LANGUAGE_CODES else None


def _activate(request, language: str) -> None:
    translation.activate(language)
    request.LANGUAGE_CODE = language


def _no_store(response):
    add_never_cache_headers(response)
    return response


def _answer_page(request, survey, *, action, started_url="", preview=False, raw=None, errors=None):
    """The answer form of ``survey``: every question with its options, the values entered and
    their errors (the same page for a member's link and the staff preview)."""
    context = {
        "survey": survey,
        "rows": question_rows(question_list(survey=survey), raw or {}, errors or {}),
        "errors": errors or {},
        "stepped": survey.display == DisplayMode.ONE_PER_SCREEN,
        "text_max": TEXT_ANSWER_MAX,
        "action": action,
        "started_url": started_url,
        "preview": preview,
    }
    return render(request, ANSWER_TEMPLATE, context)


class SurveyAnswerView(View):
    """GET: the form (marks the invitation opened). POST: submit once; errors shown next to
    each question with the values kept; thanks on success."""

    def dispatch(self, request, *args, **kwargs):
        try:
            self.invitation = invitation_get_by_token(token=kwargs["token"])
        except InvitationNotFound:
            return _no_store(render(request, STATE_TEMPLATE, {"state": "unknown"}, status=404))
        self._pick_language(request)
        return _no_store(super().dispatch(request, *args, **kwargs))

    def _pick_language(self, request) -> None:
        """``?lang=``, else the language the visitor chose with the switcher (its cookie), else
        an identified member's preferred language, else what the browser asked for."""
        if lang := _requested_language(request):
            _activate(request, lang)
            return
        if settings.LANGUAGE_COOKIE_NAME in request.COOKIES:
            return
        customer = self.invitation.customer
        if customer is not None and customer.preferred_language in LANGUAGE_CODES:
            _activate(request, customer.preferred_language)

    def _refusal(self, request, exc):
        state = {
            AlreadyAnswered: "answered",
            SurveyNotOpen: "closed",
            InvitationExpired: "expired",
        }[type(exc)]
        status = 200 if state == "answered" else 410
        context = {"state": state, "survey": self.invitation.survey}
        return render(request, STATE_TEMPLATE, context, status=status)

    def _form(self, request, *, raw=None, errors=None):
        return _answer_page(
            request,
            self.invitation.survey,
            action=request.path,
            started_url=reverse("portal:survey-started", kwargs={"token": self.invitation.token}),
            raw=raw,
            errors=errors,
        )

    def get(self, request, token):
        try:
            invitation_check_answerable(invitation=self.invitation)
        except (AlreadyAnswered, SurveyNotOpen, InvitationExpired) as exc:
            return self._refusal(request, exc)
        invitation_mark(invitation=self.invitation, step="opened")
        return self._form(request)

    def post(self, request, token):
        if not ratelimit.hit(
            scope="survey-submit",
            key=self.invitation.token,
            limit=SUBMITS_PER_TOKEN_PER_MINUTE,
            window_seconds=60,
        ):
            return render(request, STATE_TEMPLATE, {"state": "limited"}, status=429)
        survey = self.invitation.survey
        had_member = self.invitation.customer_id is not None
        questions = question_list(survey=survey)
        raw = raw_answers(questions, request.POST)
        try:
            response = response_submit(
                invitation=self.invitation,
                answers=raw,
                language=translation.get_language(),
            )
        except (AlreadyAnswered, SurveyNotOpen, InvitationExpired) as exc:
            return self._refusal(request, exc)
        except AnswersInvalid as exc:
            return self._form(request, raw=raw, errors=exc.errors)
        context = {
            "state": "thanks",
            "survey": survey,
            "reward_points": response.reward_points,
            "member_link": had_member,
        }
        return render(request, STATE_TEMPLATE, context)


class SurveyStartedView(View):
    """The page's "first answer given" ping (CSRF-protected POST): marks the invitation
    started. Answers nothing but 204 so a script learns nothing about the link."""

    def post(self, request, token):
        try:
            invitation = invitation_get_by_token(token=token)
        except InvitationNotFound:
            raise Http404 from None
        if (
            ratelimit.hit(
                scope="survey-started",
                key=invitation.token,
                limit=PINGS_PER_TOKEN_PER_MINUTE,
                window_seconds=60,
            )
            and invitation.completed_at is None
        ):
            invitation_mark(invitation=invitation, step="started")
        return HttpResponse(status=204)


@method_decorator(xframe_options_sameorigin, name="dispatch")
@method_decorator(csp_replace({"frame-ancestors": [SELF]}), name="dispatch")
class SurveyPreviewView(View):
    """The answer page of any survey (drafts too) for staff who may view surveys; framed by the
    builder. Submitting validates like the real page and stores nothing."""

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        if not (user.is_authenticated and user.is_staff and user.has_perm("surveys.view_survey")):
            raise Http404
        try:
            self.survey = survey_get(pk=kwargs["pk"])
        except SurveyNotFound:
            raise Http404 from None
        if lang := _requested_language(request):
            _activate(request, lang)
        return _no_store(super().dispatch(request, *args, **kwargs))

    def _form(self, request, *, raw=None, errors=None):
        return _answer_page(
            request,
            self.survey,
            action=request.get_full_path(),
            preview=True,
            raw=raw,
            errors=errors,
        )

    def get(self, request, pk):
        return self._form(request)

    def post(self, request, pk):
        questions = question_list(survey=self.survey)
        raw = raw_answers(questions, request.POST)
        _cleaned, errors = answers_clean(questions, raw)
        if errors:
            return self._form(request, raw=raw, errors=errors)
        context = {
            "state": "thanks",
            "survey": self.survey,
            "reward_points": self.survey.reward_points,
            "preview": True,
            "again_url": request.get_full_path(),
        }
        return render(request, STATE_TEMPLATE, context)


class MemberSurveyListView(MemberMixin, TemplateView):
    template_name = "portal/surveys/list.html"
    nav = "surveys"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["open"] = [
            {"invitation": inv, "url": survey_link(inv.token, absolute=False)}
            for inv in invitation_list_open_for_member(customer=self.customer)
        ]
        context["answered"] = invitation_list_answered_for_member(customer=self.customer)
        return context
