"""What a respondent may answer: which questions are shown (conditional display) and how raw
form values become stored answers. Pure functions over questions already loaded, shared by the
member's answer page, the preview and the submit service, so all three apply one rule.

Raw values are what a form posts: a string per question (``"9"``, ``"yes"``, a choice code, a
text), or a list of choice codes for multiple choice. Stored answers are ``Answer`` fields:
``number`` for scales and yes/no (1 yes, 0 no), ``choices`` for choice questions, ``text``.
Conditions compare the earlier answer as a string: ``"9"``, ``"yes"``, a choice code.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from apps.core.text import text_problem

from .enums import CHOICE_TYPES, SCALES, QuestionType
from .models import Question

TEXT_ANSWER_MAX = 2000


@dataclass(frozen=True)
class Cleaned:
    number: int | None = None
    text: str = ""
    choices: list[str] = field(default_factory=list)

    def condition_values(self) -> set[str]:
        """The answer as the strings a later question's condition compares with."""
        if self.choices:
            return set(self.choices)
        if self.number is not None:
            return {str(self.number)}
        return {self.text} if self.text else set()


def display_value(question: Question, number: int | None) -> str:
    if question.type == QuestionType.YES_NO and number is not None:
        return "yes" if number else "no"
    return "" if number is None else str(number)


def _raw_list(raw: Any) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [raw] if raw.strip() else []
    if isinstance(raw, Sequence):
        return [str(v) for v in raw if str(v).strip()]
    return [str(raw)]


def _clean_one(question: Question, raw: Any) -> tuple[Cleaned | None, str | None]:
    """(cleaned answer or None when left empty, error message or None)."""
    values = _raw_list(raw)
    if not values:
        return None, None
    kind = question.type
    if kind in SCALES:
        low, high = SCALES[kind]
        try:
            number = int(values[0].strip())
        except ValueError:
            number = None
        if number is None or not low <= number <= high or len(values) > 1:
            return None, _("Choose a number from %(low)s to %(high)s.") % {"low": low, "high": high}
        return Cleaned(number=number), None
    if kind == QuestionType.YES_NO:
        value = values[0].strip().lower()
        if value not in ("yes", "no") or len(values) > 1:
            return None, _("Answer yes or no.")
        return Cleaned(number=1 if value == "yes" else 0), None
    if kind in CHOICE_TYPES:
        allowed = [c.value for c in question.choices.all()]
        picked = list(dict.fromkeys(v.strip() for v in values))
        if any(v not in allowed for v in picked) or (
            kind == QuestionType.SINGLE_CHOICE and len(picked) > 1
        ):
            return None, _("Choose from the options given.")
        return Cleaned(choices=sorted(picked, key=allowed.index)), None
    text = values[0].strip() if len(values) == 1 else "\n".join(values).strip()
    if len(text) > TEXT_ANSWER_MAX:
        return None, _("Keep it under %(n)s characters.") % {"n": TEXT_ANSWER_MAX}
    if problem := text_problem(text, multiline=True):
        return None, problem
    return (Cleaned(text=text), None) if text else (None, None)


def is_shown(question: Question, answered: Mapping[int, Cleaned]) -> bool:
    """Whether the question is shown given the answers to earlier questions: always, unless it
    depends on an earlier answer, which must then be one of ``show_if_values``."""
    if question.show_if_question_id is None:
        return True
    earlier = answered.get(question.show_if_question_id)
    if earlier is None:
        return False
    return bool(earlier.condition_values() & {str(v) for v in question.show_if_values})


def answers_clean(
    questions: Sequence[Question], raw: Mapping[str, Any]
) -> tuple[dict[int, Cleaned], dict[int, str]]:
    """Clean the raw answers, keyed by question id as a string (``"12"``). Returns the answers
    to the questions shown (answers to hidden ones are dropped) and the errors by question id:
    out-of-range values, unknown choices, and required questions shown but left empty."""
    cleaned: dict[int, Cleaned] = {}
    errors: dict[int, str] = {}
    for question in questions:  # in order: a condition only looks back
        if not is_shown(question, cleaned):
            continue
        answer, error = _clean_one(question, raw.get(str(question.pk)))
        if error:
            errors[question.pk] = error
        elif answer is None:
            if question.required:
                errors[question.pk] = _("Please answer this question.")
        else:
            cleaned[question.pk] = answer
    return cleaned, errors
