"""Content staff write in both languages (django-modeltranslation, registered in each app's
``translation.py``): the per-language columns a translated field expands into, the input rule
(a translated field needs text in at least one language) and the labels forms show.

Services list their fields with the per-language columns (``name_en``, ``name_zh_hans``) so
forms, the admin and the audit trail see both; callers may still pass the plain field (``name``),
which means "in the active language" (:func:`content_input`).
"""

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from modeltranslation.translator import NotRegistered, translator
from modeltranslation.utils import build_localized_fieldname

# Each language named in itself: a bilingual form reads the same to every reader.
AUTONYMS = {"en": "English", "zh-hans": "简体中文"}


def content_languages() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def translated_fields(model: type[models.Model]) -> tuple[str, ...]:
    try:
        return tuple(translator.get_options_for_model(model).fields)
    except NotRegistered:
        return ()


def localized_fields(model: type[models.Model], fields: list[str]) -> list[str]:
    """``fields`` with each translated one replaced by its per-language columns, in order."""
    translated = set(translated_fields(model))
    out: list[str] = []
    for name in fields:
        if name in translated:
            out.extend(build_localized_fieldname(name, lang) for lang in content_languages())
        else:
            out.append(name)
    return out


def split_localized(name: str) -> tuple[str, str] | None:
    """``("name", "zh-hans")`` for ``name_zh_hans``; None for a plain field name."""
    for lang in content_languages():
        suffix = "_" + lang.replace("-", "_")
        if name.endswith(suffix):
            return name[: -len(suffix)], lang
    return None


def content_input(model: type[models.Model], data: dict[str, Any]) -> dict[str, Any]:
    """Input where a plain translated field (``name``) becomes the active language's column,
    unless that column is given too."""
    out = dict(data)
    for name in translated_fields(model):
        if name in out:
            value = out.pop(name)
            column = build_localized_fieldname(name, get_language() or settings.LANGUAGE_CODE)
            out.setdefault(column, value)
    return out


def content_problems(instance: models.Model, required: tuple[str, ...] = ("name",)):
    """``(field, message)`` for each ``required`` translated field empty in every language; the
    problem sits on the first language's column (the form shows it there)."""
    problems = []
    for name in required:
        columns = localized_fields(type(instance), [name])
        if not any((getattr(instance, column, None) or "").strip() for column in columns):
            problems.append((columns[0], _("Enter it in at least one language.")))
    return problems


def content_label(field_label: str, lang: str) -> str:
    """ "Name · 简体中文": the label of one language's column."""
    return f"{field_label} · {AUTONYMS.get(lang, lang)}"


def is_cjk(text: str) -> bool:
    """Whether the text holds Chinese characters (names, content written in Chinese)."""
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def fill_content_columns(apps, label: str, fields: list[str]) -> None:
    """Data migration: put text stored before the content was translated into the column of the
    language it is written in (Chinese characters → ``zh_hans``, else ``en``)."""
    model = apps.get_model(label)
    for row in model.objects.all().only("pk", *fields).iterator():
        changes = {}
        for name in fields:
            value = getattr(row, name) or ""
            if value:
                changes[f"{name}_{'zh_hans' if is_cjk(value) else 'en'}"] = value
        if changes:
            model.objects.filter(pk=row.pk).update(**changes)
