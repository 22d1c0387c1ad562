"""Staff pages of the survey builder: the list, settings, questions (with choices, conditions
and order), status, new versions, invitations and a phone-sized preview. Views validate, call a
selector or service, and render; every rule lives in ``apps.surveys``."""

import json

from django.contrib import messages
from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import TemplateView

from apps.core.exceptions import ApplicationError
from apps.core.forms import add_service_error
from apps.surveys.enums import SkipReason, SurveyStatus
from apps.surveys.models import Question, Survey
from apps.surveys.selectors import question_list, survey_has_responses
from apps.surveys.services import builder, lifecycle
from apps.surveys.services.invitations import invitations_send_to_customers
from apps.surveys.staff_selectors import (
    condition_labels,
    condition_sources,
    member_list_read,
    survey_list_for_staff,
    tag_customer_ids,
)

from ..forms_surveys import (
    ChoiceFormSet,
    InviteForm,
    QuestionForm,
    SurveyForm,
    choice_rows,
    uses_choices,
)
from ._helpers import paginate
from .form_page import FormPageView
from .mixins import StaffRequiredMixin

VIEW, ADD, CHANGE = "surveys.view_survey", "surveys.add_survey", "surveys.change_survey"


class SurveyMixin:
    """``self.survey`` from the URL's ``pk``; 404 for an unknown one."""

    def dispatch(self, request, *args, **kwargs):
        self.survey = get_object_or_404(Survey, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)


class SurveyListView(StaffRequiredMixin, TemplateView):
    permission_required = VIEW
    template_name = "dashboard/surveys/list.html"

    def get_context_data(self, **kwargs):
        status = self.request.GET.get("status", "")
        status = status if status in SurveyStatus.values else ""
        query = self.request.GET.get("q", "").strip()[:100]
        return super().get_context_data(
            page_obj=paginate(survey_list_for_staff(status=status, query=query), self.request),
            status=status,
            query=query,
            statuses=SurveyStatus.choices,
            **kwargs,
        )


def _survey_data(form) -> dict:
    data = dict(form.cleaned_data)
    stores = data.pop("trigger_stores", None)
    return {"trigger_stores": list(stores or []), **data}


class SurveyCreateView(FormPageView):
    permission_required = ADD
    form_class = SurveyForm
    title = gettext_lazy("New survey")
    success_message = gettext_lazy("Survey created. Now add its questions.")
    template_name = "dashboard/surveys/form.html"

    def save(self, form):
        self.survey = builder.survey_create(actor=self.request.user, **_survey_data(form))

    def get_success_url(self):
        return reverse("dashboard:survey-questions", kwargs={"pk": self.survey.pk})

    def get_cancel_url(self):
        return reverse("dashboard:survey-list")


class SurveyEditView(SurveyMixin, FormPageView):
    permission_required = CHANGE
    form_class = SurveyForm
    success_message = gettext_lazy("Survey saved.")
    template_name = "dashboard/surveys/form.html"

    @property
    def title(self):
        return _("Settings of %(title)s") % {"title": self.survey.title}

    def get_form_kwargs(self):
        return {"instance": self.survey}

    def get_context_data(self, **kwargs):
        return super().get_context_data(survey=self.survey, tab="settings", **kwargs)

    def save(self, form):
        builder.survey_update(survey=self.survey, actor=self.request.user, **_survey_data(form))

    def get_success_url(self):
        return reverse("dashboard:survey-questions", kwargs={"pk": self.survey.pk})


class SurveyQuestionsView(SurveyMixin, StaffRequiredMixin, TemplateView):
    permission_required = VIEW
    template_name = "dashboard/surveys/questions.html"

    def get_context_data(self, **kwargs):
        questions = question_list(survey=self.survey)
        for question in questions:
            question.condition_labels = condition_labels(question, questions)
        return super().get_context_data(
            survey=self.survey,
            questions=questions,
            locked=survey_has_responses(survey=self.survey),
            problems=lifecycle.publish_problems(self.survey)
            if self.survey.status == SurveyStatus.DRAFT
            else [],
            tab="questions",
            **kwargs,
        )


class QuestionFormView(SurveyMixin, StaffRequiredMixin, TemplateView):
    """Add (no ``question``) or edit one question with its choices and condition."""

    permission_required = CHANGE
    template_name = "dashboard/surveys/question_form.html"

    def dispatch(self, request, *args, **kwargs):
        self.question = None
        return super().dispatch(request, *args, **kwargs)

    def get_question(self):
        if "question" in self.kwargs and self.question is None:
            self.question = get_object_or_404(
                Question, pk=self.kwargs["question"], survey_id=self.kwargs["pk"]
            )
        return self.question

    def forms(self, data=None):
        question = self.get_question()
        sources = condition_sources(question=question, survey=self.survey)
        if question is None:
            form = QuestionForm(data, sources=sources, prefix="q")
            choices = ChoiceFormSet(data, prefix="choices")
        else:
            form = QuestionForm(
                data, sources=sources, prefix="q", initial=QuestionForm.initial_for(question)
            )
            initial = [
                {"value": c.value, "label_en": c.label_en, "label_zh_hans": c.label_zh_hans}
                for c in question.choices.order_by("position", "id")
            ]
            choices = ChoiceFormSet(data, prefix="choices", initial=initial)
        return form, choices

    def get_context_data(self, **kwargs):
        kwargs.pop("question", None)  # the URL's id; the context holds the question itself
        if "form" not in kwargs:
            kwargs["form"], kwargs["choices"] = self.forms()
        question = self.get_question()
        title = _("New question") if question is None else _("Edit question")
        return super().get_context_data(
            survey=self.survey,
            question=question,
            title=title,
            locked=survey_has_responses(survey=self.survey),
            cancel_url=reverse("dashboard:survey-questions", kwargs={"pk": self.survey.pk}),
            **kwargs,
        )

    def post(self, request, *args, **kwargs):
        form, choices = self.forms(request.POST)
        if form.is_valid() and choices.is_valid():
            data = dict(form.cleaned_data)
            rows = choice_rows(choices) if uses_choices(data["type"]) else None
            try:
                if self.get_question() is None:
                    builder.question_add(
                        survey=self.survey, actor=request.user, choices=rows, **data
                    )
                else:
                    builder.question_update(
                        question=self.question, actor=request.user, choices=rows, **data
                    )
            except ApplicationError as exc:
                add_service_error(form, exc)
            else:
                messages.success(request, _("Question saved."))
                return redirect("dashboard:survey-questions", pk=self.survey.pk)
        return self.render_to_response(
            self.get_context_data(form=form, choices=choices), status=400
        )


class SurveyPostView(SurveyMixin, StaffRequiredMixin, View):
    """A POST-only action on the survey; a refusal comes back as an error message."""

    permission_required = CHANGE
    http_method_names = ["post"]

    def act(self, request):
        raise NotImplementedError

    def post(self, request, *args, **kwargs):
        try:
            target = self.act(request)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            target = None
        return redirect(
            target or reverse("dashboard:survey-questions", kwargs={"pk": self.survey.pk})
        )


class QuestionDeleteView(SurveyPostView):
    def act(self, request):
        question = get_object_or_404(Question, pk=self.kwargs["question"], survey=self.survey)
        builder.question_delete(question=question, actor=request.user)
        messages.success(request, _("Question deleted."))


class QuestionMoveView(SurveyPostView):
    def act(self, request):
        question = get_object_or_404(Question, pk=self.kwargs["question"], survey=self.survey)
        builder.question_move(
            question=question, direction=request.POST.get("direction", ""), actor=request.user
        )


class QuestionReorderView(SurveyMixin, StaffRequiredMixin, View):
    """Drag and drop: ``order`` = the question ids in their new order (JSON or repeated)."""

    permission_required = CHANGE
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        order = request.POST.getlist("order")
        if not order and request.content_type == "application/json":
            try:
                order = json.loads(request.body or b"{}").get("order", [])
            except (ValueError, AttributeError):
                return HttpResponseBadRequest()
        try:
            builder.questions_reorder(
                survey=self.survey, order=[int(pk) for pk in order], actor=request.user
            )
        except (TypeError, ValueError):
            return JsonResponse({"message": _("Not a list of questions.")}, status=400)
        except ApplicationError as exc:
            return JsonResponse({"code": exc.code, "message": exc.message}, status=exc.status)
        return JsonResponse({"ok": True})


STATUS_ACTIONS = {
    "publish": (lifecycle.survey_publish, gettext_lazy("Survey published.")),
    "pause": (lifecycle.survey_pause, gettext_lazy("Survey paused.")),
    "resume": (lifecycle.survey_resume, gettext_lazy("Survey resumed.")),
    "close": (lifecycle.survey_close, gettext_lazy("Survey closed.")),
}


class SurveyStatusView(SurveyPostView):
    def act(self, request):
        action = STATUS_ACTIONS.get(request.POST.get("action", ""))
        if action is None:
            raise Http404
        action[0](survey=self.survey, actor=request.user)
        messages.success(request, action[1])


class SurveyCopyView(SurveyPostView):
    permission_required = (ADD, CHANGE)

    def act(self, request):
        copy = lifecycle.survey_copy(survey=self.survey, actor=request.user)
        messages.success(request, _("New draft version created."))
        return reverse("dashboard:survey-questions", kwargs={"pk": copy.pk})


class SurveyInviteView(SurveyMixin, StaffRequiredMixin, TemplateView):
    permission_required = (CHANGE, "surveys.add_invitation")
    template_name = "dashboard/surveys/invite.html"

    def get_context_data(self, **kwargs):
        kwargs.setdefault("form", InviteForm())
        return super().get_context_data(survey=self.survey, tab="invite", **kwargs)

    def post(self, request, *args, **kwargs):
        form = InviteForm(request.POST, request.FILES)
        errors: list[str] = []
        result = None
        if form.is_valid():
            if form.cleaned_data["tag"]:
                ids = tag_customer_ids(tag_id=form.cleaned_data["tag"].pk)
            else:
                upload = form.cleaned_data["members"]
                ids, errors = member_list_read(name=upload.name, content=upload.read())
            if not errors:
                try:
                    result = invitations_send_to_customers(survey=self.survey, customer_ids=ids)
                except ApplicationError as exc:
                    add_service_error(form, exc)
        if result is None:
            return self.render_to_response(
                self.get_context_data(form=form, errors=errors[:50], error_count=len(errors)),
                status=400,
            )
        skipped = [
            (SkipReason(reason).label, count) for reason, count in sorted(result.skipped.items())
        ]
        return self.render_to_response(
            self.get_context_data(
                form=InviteForm(),
                result={
                    "sent": len(result.sent),
                    "skipped": skipped,
                    "skipped_total": sum(result.skipped.values()),
                    "existing": result.existing,
                },
            )
        )


class SurveyPreviewView(SurveyMixin, StaffRequiredMixin, TemplateView):
    permission_required = VIEW
    template_name = "dashboard/surveys/preview.html"

    def get_context_data(self, **kwargs):
        lang = self.request.GET.get("lang", "en")
        lang = lang if lang in ("en", "zh-hans") else "en"
        return super().get_context_data(survey=self.survey, lang=lang, tab="preview", **kwargs)
