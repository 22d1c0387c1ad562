"""Surveys: questions in both languages, invitations with single-use token links, responses.

Exactly once (invariant 2) is held by unique keys: one response per invitation (``Response.
invitation`` is one-to-one), one answer per question and response, one invitation per (survey,
customer, context) and per (survey, order). Headline scores are kept on the response row
(``nps_score``, ``score_group``, ``csat_score``, ``ces_score``) so the analysis reads one narrow
table, not the answers, for NPS, CSAT, CES, trends and breakdowns.
"""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.models import TimeStampedModel

from .enums import (
    DisplayMode,
    EmailStatus,
    InvitationChannel,
    InvitationStatus,
    Measure,
    QuestionType,
    ScoreGroup,
    SkipReason,
    SurveyKind,
    SurveyStatus,
    SurveyTrigger,
)


class Survey(TimeStampedModel):
    slug = models.SlugField(_("code"), max_length=60, unique=True)
    title = models.CharField(_("title"), max_length=200)
    intro = models.TextField(_("introduction"), blank=True)
    thank_you = models.TextField(_("thank-you message"), blank=True)
    kind = models.CharField(_("kind"), max_length=10, choices=SurveyKind.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=SurveyStatus.choices, default=SurveyStatus.DRAFT
    )
    anonymous = models.BooleanField(
        _("anonymous"),
        default=False,
        help_text=_("Responses never store who answered."),
    )
    display = models.CharField(
        _("display"), max_length=20, choices=DisplayMode.choices, default=DisplayMode.ONE_PER_SCREEN
    )
    reward_points = models.PositiveIntegerField(
        _("reward points"),
        default=0,
        validators=[MaxValueValidator(100_000)],
        help_text=_("Points a member earns for completing it (0 = none)."),
    )
    trigger = models.CharField(
        _("trigger"), max_length=30, choices=SurveyTrigger.choices, default=SurveyTrigger.MANUAL
    )
    delay_days = models.PositiveSmallIntegerField(
        _("days after the purchase or ticket"),
        default=1,
        validators=[MaxValueValidator(365)],
    )
    sample_percent = models.PositiveSmallIntegerField(
        _("sample (%)"),
        default=100,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("Share of purchases or tickets that get an invitation."),
    )
    trigger_stores = models.ManyToManyField(
        "customers.Store",
        verbose_name=_("only purchases in these stores"),
        blank=True,
        related_name="+",
    )
    trigger_channels = models.JSONField(
        _("only purchases through these channels"), default=list, blank=True
    )
    invite_channels = models.JSONField(
        _("invite by"),
        default=list,
        blank=True,
        help_text=_("Tried in order: the first channel the member has agreed to is used."),
    )
    valid_days = models.PositiveSmallIntegerField(
        _("link valid (days)"),
        default=14,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
    )
    follow_up_detractors = models.BooleanField(
        _("follow up detractors"),
        default=False,
        help_text=_("A member who answers 0–6 gets a follow-up complaint ticket, once per answer."),
    )
    copied_from = models.ForeignKey(
        "self",
        verbose_name=_("new version of"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="versions",
    )
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(_("published"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    class Meta:
        verbose_name = _("survey")
        verbose_name_plural = _("surveys")
        ordering = ["-created_at", "-id"]
        permissions = [
            ("view_text_answers", _("Can read free-text answers of identified members")),
            ("export_responses", _("Can export survey responses")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(sample_percent__gte=1, sample_percent__lte=100),
                name="surveys_survey_sample_percent_range",
            )
        ]

    def __str__(self) -> str:
        return self.title or self.slug

    @property
    def is_live(self) -> bool:
        return self.status == SurveyStatus.LIVE


class Question(models.Model):
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    type = models.CharField(_("type"), max_length=20, choices=QuestionType.choices)
    text = models.CharField(_("question"), max_length=300)
    help_text = models.CharField(_("help text"), max_length=300, blank=True)
    required = models.BooleanField(_("required"), default=True)
    measure = models.CharField(
        _("feeds"), max_length=10, choices=Measure.choices, default=Measure.NONE, blank=True
    )
    show_if_question = models.ForeignKey(
        "self",
        verbose_name=_("show only when"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="dependants",
    )
    show_if_values = models.JSONField(_("…the answer is one of"), default=list, blank=True)

    class Meta:
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        ordering = ["survey", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["survey", "measure"],
                condition=~Q(measure=""),
                name="surveys_question_one_per_measure",
            )
        ]

    def __str__(self) -> str:
        return self.text


class Choice(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="choices")
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    value = models.SlugField(_("code"), max_length=40)
    label = models.CharField(_("label"), max_length=200)

    class Meta:
        verbose_name = _("choice")
        verbose_name_plural = _("choices")
        ordering = ["question", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["question", "value"], name="surveys_choice_unique_value"
            )
        ]

    def __str__(self) -> str:
        return self.label


class Invitation(models.Model):
    """One invitation of one person (or, on a receipt without a member, of nobody in
    particular). ``token`` is the link's secret: 192 random bits, single-use for answering."""

    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="invitations")
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="survey_invitations",
    )
    token = models.CharField(max_length=64, unique=True)
    channel = models.CharField(_("channel"), max_length=10, choices=InvitationChannel.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=InvitationStatus.choices, default=InvitationStatus.SENT
    )
    skip_reason = models.CharField(
        _("skipped because"), max_length=20, choices=SkipReason.choices, blank=True
    )
    # What the invitation is about: "manual", "order:<id>", "ticket:<id>", "receipt:<random>".
    context = models.CharField(_("context"), max_length=64)
    order = models.ForeignKey(
        "customers.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    store = models.ForeignKey(
        "customers.Store", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    email_status = models.CharField(
        _("e-mail"), max_length=12, choices=EmailStatus.choices, default="", blank=True
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    opened_at = models.DateTimeField(_("opened"), null=True, blank=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["survey", "customer", "context"],
                condition=Q(customer__isnull=False),
                name="surveys_invitation_once_per_context",
            ),
            models.UniqueConstraint(
                fields=["survey", "order"],
                condition=Q(order__isnull=False),
                name="surveys_invitation_once_per_order",
            ),
        ]
        indexes = [
            # The cooldown: a customer's latest sent invitation, across all surveys.
            models.Index(
                fields=["customer", "-sent_at"],
                condition=Q(status="sent"),
                name="surveys_inv_cooldown_idx",
            ),
            models.Index(fields=["survey", "status"], name="surveys_inv_survey_status_idx"),
            models.Index(
                fields=["email_status"],
                condition=Q(email_status="queued"),
                name="surveys_inv_email_queue_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.survey.slug} · {self.context}"

    def is_expired(self, now=None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())


class AskedMark(models.Model):
    """That a member was asked, kept after an anonymous survey's answered invitation lets go of
    them (``responses.response_submit`` clears its customer, order and context). It holds what
    the unique keys and the cooldown need — the survey, the member, what they were asked about
    and the day — and nothing that leads to the answers: no link to the invitation or the
    response, and only the date."""

    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="survey_asked_marks"
    )
    context = models.CharField(_("context"), max_length=64)
    order = models.ForeignKey(
        "customers.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    asked_on = models.DateField(_("asked on"))

    class Meta:
        verbose_name = _("asked mark")
        verbose_name_plural = _("asked marks")
        constraints = [
            models.UniqueConstraint(
                fields=["survey", "customer", "context"], name="surveys_asked_once_per_context"
            ),
            models.UniqueConstraint(
                fields=["survey", "order"],
                condition=Q(order__isnull=False),
                name="surveys_asked_once_per_order",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-asked_on"], name="surveys_asked_cooldown_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.survey_id} · {self.asked_on}"


class Response(models.Model):
    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="responses")
    invitation = models.OneToOneField(Invitation, on_delete=models.PROTECT, related_name="response")
    # Cut on erasure and never stored for an anonymous survey; the answers stay for the figures.
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="survey_responses",
    )
    submitted_at = models.DateTimeField(_("submitted"), default=timezone.now, db_index=True)
    language = models.CharField(_("language"), max_length=10, blank=True)
    channel = models.CharField(_("channel"), max_length=10, choices=InvitationChannel.choices)
    store = models.ForeignKey(
        "customers.Store", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tier = models.ForeignKey(
        "loyalty.Tier", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    nps_score = models.SmallIntegerField(_("NPS score"), null=True, blank=True)
    score_group = models.CharField(
        _("group"), max_length=10, choices=ScoreGroup.choices, blank=True
    )
    csat_score = models.SmallIntegerField(_("CSAT score"), null=True, blank=True)
    ces_score = models.SmallIntegerField(_("CES score"), null=True, blank=True)
    reward_points = models.PositiveIntegerField(_("reward points"), default=0)

    class Meta:
        verbose_name = _("response")
        verbose_name_plural = _("responses")
        ordering = ["-submitted_at", "-id"]
        indexes = [
            models.Index(fields=["survey", "submitted_at"], name="surveys_resp_survey_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.survey.slug} · {self.submitted_at:%Y-%m-%d}"


class Answer(models.Model):
    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="answers")
    number = models.SmallIntegerField(_("number"), null=True, blank=True)
    text = models.TextField(_("text"), blank=True)
    choices = models.JSONField(_("choices"), default=list, blank=True)

    class Meta:
        verbose_name = _("answer")
        verbose_name_plural = _("answers")
        constraints = [
            models.UniqueConstraint(
                fields=["response", "question"], name="surveys_answer_once_per_question"
            )
        ]
        indexes = [models.Index(fields=["question", "number"], name="surveys_answer_q_num_idx")]

    def __str__(self) -> str:
        return f"{self.question_id}: {self.number if self.number is not None else self.text[:20]}"
