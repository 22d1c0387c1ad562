"""Django admin for surveys: view-only.

Surveys, invitations and responses are looked at here, never edited: a survey's questions are
built, published, copied and closed in the staff builder through the services, which hold the
meaning lock (a question that already has answers cannot change what it asks, or the figures
would mix two questions); invitations are issued by the invitation service (consent, cooldown,
sampling, exactly once); responses are written once by ``response_submit``. So nobody adds,
changes or deletes anything here, the Administrator included.

An invitation's token is the link's secret: only its first characters are shown, and the
search finds an invitation by that prefix.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from modeltranslation.admin import TranslationAdmin

from .models import Answer, Invitation, Question, Response, Survey

TOKEN_SHOWN = 8


class ViewOnly:
    """Viewable by those with the view permission; nobody adds, changes or deletes."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class QuestionInline(ViewOnly, admin.TabularInline):
    model = Question
    fields = ["position", "type", "text", "required", "measure", "show_if_question"]
    readonly_fields = fields
    extra = 0
    show_change_link = False
    ordering = ["position", "id"]


@admin.register(Survey)
class SurveyAdmin(ViewOnly, TranslationAdmin):
    list_display = ["title", "slug", "kind", "status", "trigger", "anonymous", "reward_points"]
    list_display += ["published_at", "created_at"]
    list_filter = ["status", "kind", "trigger", "anonymous"]
    search_fields = ["slug", "title_en", "title_zh_hans"]
    inlines = [QuestionInline]
    date_hierarchy = "created_at"


@admin.register(Invitation)
class InvitationAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ["token_prefix", "survey", "member", "channel", "status", "skip_reason"]
    list_display += ["context", "sent_at", "completed_at", "expires_at"]
    list_filter = ["status", "channel", "skip_reason", "email_status", "survey"]
    search_fields = ["^token", "survey__slug", "customer__member_number", "context"]
    list_select_related = ["survey", "customer"]
    exclude = ["token"]
    readonly_fields = ["token_prefix"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    @admin.display(description=_("token"))
    def token_prefix(self, obj: Invitation) -> str:
        return f"{obj.token[:TOKEN_SHOWN]}…"

    @admin.display(description=_("member"), ordering="customer__member_number")
    def member(self, obj: Invitation) -> str:
        return obj.customer.member_number if obj.customer_id else "—"


class AnswerInline(ViewOnly, admin.TabularInline):
    model = Answer
    fields = ["question", "number", "choices", "text"]
    readonly_fields = fields
    extra = 0
    ordering = ["question__position", "question_id"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("question")


@admin.register(Response)
class ResponseAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ["id", "survey", "member", "submitted_at", "nps_score", "score_group"]
    list_display += ["csat_score", "ces_score", "channel", "language", "reward_points"]
    list_filter = ["survey", "score_group", "channel", "language", "tier"]
    search_fields = ["survey__slug", "customer__member_number", "^invitation__token"]
    list_select_related = ["survey", "customer"]
    raw_id_fields = ["invitation"]
    inlines = [AnswerInline]
    date_hierarchy = "submitted_at"
    show_full_result_count = False

    @admin.display(description=_("member"), ordering="customer__member_number")
    def member(self, obj: Response) -> str:
        return obj.customer.member_number if obj.customer_id else "—"
