"""Survey content in both languages (django-modeltranslation): respondents read their preferred
language, falling back to the other when a text is empty."""

from modeltranslation.translator import TranslationOptions, register

from .models import Choice, Question, Survey


@register(Survey)
class SurveyTranslation(TranslationOptions):
    fields = ("title", "intro", "thank_you")


@register(Question)
class QuestionTranslation(TranslationOptions):
    fields = ("text", "help_text")


@register(Choice)
class ChoiceTranslation(TranslationOptions):
    fields = ("label",)
