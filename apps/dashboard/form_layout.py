"""How staff forms lay out: titled sections with help, a translated field's languages side by
side, and fields that only some kinds use shown only for those kinds.

A form declares ``sections = [(title, help, [field, ...]), ...]`` (plain names; a translated
field such as ``name`` stands for its per-language columns) and, when a choice decides which
fields apply, ``depends_on = (controlling_field, {field: kinds_that_use_it})``. The page hides
the fields the chosen kind does not use (``static/js/dashboard.js``); on submit they take their
neutral default, so a value typed before switching kind is not held against the new kind.
"""

from django.utils.text import capfirst

from apps.core.content import content_label, split_localized, translated_fields


class LayoutMixin:
    sections: list[tuple[str | None, str | None, list[str]]] | None = None
    depends_on: tuple[str, dict[str, frozenset]] | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        model = getattr(getattr(self, "_meta", None), "model", None)
        for name, field in self.fields.items():
            parts = split_localized(name)
            if parts and model is not None and parts[0] in translated_fields(model):
                base, lang = parts
                label = model._meta.get_field(base).verbose_name
                field.label = content_label(capfirst(label), lang)

    # --- submit: fields the chosen kind does not use take their neutral default --------------

    def _unused_fields(self) -> list[str]:
        if self.depends_on is None:
            return []
        controller, uses = self.depends_on
        chosen = self.cleaned_data.get(controller)
        if not chosen:
            return []
        return [name for name, kinds in uses.items() if chosen not in kinds and name in self.fields]

    def _neutral(self, name: str):
        model = getattr(getattr(self, "_meta", None), "model", None)
        if model is None:
            return self.fields[name].initial
        field = model._meta.get_field(name)
        return None if field.is_relation else field.get_default()

    def clean(self):
        data = super().clean()
        for name in self._unused_fields():
            self._errors.pop(name, None)
            data[name] = self._neutral(name)
        return data

    # --- render ------------------------------------------------------------------------------

    def _items(self, names: list[str]) -> list[dict]:
        items, seen = [], set()
        controller, uses = self.depends_on or (None, {})
        for name in names:
            columns = [
                n for n in self.fields if n == name or (split_localized(n) or ("",))[0] == name
            ]
            columns = [n for n in columns if n not in seen]
            if not columns:
                continue
            seen.update(columns)
            show_when = ""
            if name in uses:
                show_when = f"{controller}:{' '.join(sorted(uses[name]))}"
            bound = [self[n] for n in columns]
            items.append({"fields": bound, "pair": len(bound) > 1, "show_when": show_when})
        return items

    def layout(self) -> list[dict]:
        sections = self.sections or [(None, None, list(self.fields))]
        out, placed = [], set()
        for title, help_text, names in sections:
            items = self._items(names)
            for item in items:
                placed.update(f.name for f in item["fields"])
            out.append({"title": title, "help": help_text, "items": items})
        rest = [n for n in self.fields if n not in placed and not self.fields[n].widget.is_hidden]
        if rest:
            out.append({"title": None, "help": None, "items": self._items(rest)})
        return out
