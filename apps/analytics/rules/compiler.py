"""Checking and compiling a segment's condition tree.

The format (the API takes the same)::

    {"all": [node, ...]} | {"any": [node, ...]} | {"not": node}
    | {"field": "orders.count", "op": "gte", "value": 3, "days": 90}

``rules_validate`` reads the tree with no database access at all: unknown fields or operators,
wrong value types, values outside a field's range, code-like values that are not codes, too
deep or too large trees are refused with ``InvalidRules`` naming the place (``all[2].any[0]``).
``rules_compile`` turns a valid tree into one ``Q``; ``segment_customers`` is the queryset, one
SQL statement however many conditions (no Python-side filtering).
"""

import re
from numbers import Real

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from apps.customers.models import Customer

from ..exceptions import InvalidRules
from .fields import FIELDS, Field

MAX_DEPTH = 6
MAX_NODES = 60
MAX_LIST = 100
MAX_DAYS = 3650
# Codes (tiers, stores, SKUs) are slug-like; text (city, category) is words, never punctuation
# that only an injection attempt would need.
CODE = re.compile(r"^[\w.-]{1,64}$")
TEXT = re.compile(r"^[\w\s·&'’()/.-]{1,80}$")
EMPTY = {"all": []}


def _fail(where: str, message: str):
    raise InvalidRules(
        _("%(where)s: %(reason)s") % {"where": where or _("rules"), "reason": message},
        where=where,
    )


def _check_scalar(field: Field, value, where: str):
    kind = field.kind
    if kind in ("int", "number"):
        if isinstance(value, bool) or not isinstance(value, Real):
            _fail(where, _("the value must be a number"))
        if value != value or value in (float("inf"), float("-inf")):
            _fail(where, _("the value must be a number"))
        if kind == "int" and int(value) != value:
            _fail(where, _("the value must be a whole number"))
        if field.minimum is not None and value < field.minimum:
            _fail(where, _("the value must be at least %(n)s") % {"n": field.minimum})
        if field.maximum is not None and value > field.maximum:
            _fail(where, _("the value must be at most %(n)s") % {"n": field.maximum})
        return int(value) if kind == "int" else value
    if kind == "flag":
        if not isinstance(value, bool):
            _fail(where, _("the value must be true or false"))
        return value
    if not isinstance(value, str):
        _fail(where, _("the value must be text"))
    if kind == "choice":
        allowed = {code for code, _label in field.choices()}
        if value not in allowed:
            _fail(where, _("%(value)s is not one of the choices") % {"value": value[:40]})
    elif kind == "code" and not CODE.match(value):
        _fail(where, _("%(value)s is not a code") % {"value": value[:40]})
    elif kind in ("text", "set") and not TEXT.match(value):
        _fail(where, _("the text may hold letters, digits, spaces and simple punctuation only"))
    return value


def _check_leaf(node: dict, where: str) -> dict:
    extra = set(node) - {"field", "op", "value", "days"}
    if extra:
        _fail(
            where, _("unknown keys: %(keys)s") % {"keys": ", ".join(sorted(map(str, extra)))[:80]}
        )
    name = node.get("field")
    field = FIELDS.get(name) if isinstance(name, str) else None
    if field is None:
        _fail(where, _("unknown field %(name)s") % {"name": str(name)[:60]})
    op = node.get("op")
    if op not in field.ops:
        _fail(
            where,
            _("%(field)s takes the operators %(ops)s")
            % {"field": name, "ops": ", ".join(field.ops)},
        )
    if "value" not in node:
        _fail(where, _("a value is needed"))
    value = node["value"]
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            _fail(where, _("between takes two values, [low, high]"))
        low, high = (_check_scalar(field, v, where) for v in value)
        if low > high:
            _fail(where, _("the low value is above the high one"))
        value = [low, high]
    elif op in ("in", "not_in"):
        if not isinstance(value, list) or not value or len(value) > MAX_LIST:
            _fail(where, _("the value must be a list of 1 to %(n)s items") % {"n": MAX_LIST})
        value = [_check_scalar(field, v, where) for v in value]
    else:
        value = _check_scalar(field, value, where)
    out = {"field": name, "op": op, "value": value}
    days = node.get("days")
    if field.days == "required" and days is None:
        _fail(where, _("%(field)s needs a number of days") % {"field": name})
    if days is not None:
        if not field.days:
            _fail(where, _("%(field)s takes no number of days") % {"field": name})
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
            _fail(where, _("days must be a whole number from 1 to %(n)s") % {"n": MAX_DAYS})
        out["days"] = days
    return out


def _check(node, where: str, depth: int, count: list[int]) -> dict:
    if depth > MAX_DEPTH:
        _fail(where, _("nested too deep (at most %(n)s levels)") % {"n": MAX_DEPTH})
    if not isinstance(node, dict):
        _fail(where, _("each condition must be an object"))
    groups = [key for key in ("all", "any", "not") if key in node]
    # count = [conditions, groups]: both are capped, so a tree of empty groups is refused too.
    count[1 if groups else 0] += 1
    if count[0] > MAX_NODES:
        _fail(where, _("too many conditions (at most %(n)s)") % {"n": MAX_NODES})
    if count[1] > MAX_NODES:
        _fail(where, _("too many groups (at most %(n)s)") % {"n": MAX_NODES})
    if not groups:
        return _check_leaf(node, where)
    if len(node) != 1:
        _fail(where, _("a group holds exactly one of all, any or not"))
    key = groups[0]
    if key == "not":
        return {"not": _check(node["not"], f"{where}.not".lstrip("."), depth + 1, count)}
    children = node[key]
    if not isinstance(children, list):
        _fail(where, _("%(key)s takes a list of conditions") % {"key": key})
    return {
        key: [
            _check(child, f"{where}.{key}[{i}]".lstrip("."), depth + 1, count)
            for i, child in enumerate(children)
        ]
    }


def rules_validate(rules) -> dict:
    """The tree, normalised (ints as ints, lists as lists), or ``InvalidRules``. No query runs."""
    if not isinstance(rules, dict):
        _fail("", _("the rules must be an object"))
    return _check(rules, "", 1, [0, 0])


def _compile(node: dict) -> Q:
    if "all" in node:
        if not node["all"]:
            return Q(pk__isnull=False)  # an empty "all" matches everybody, as all([]) is True
        q = Q()
        for child in node["all"]:
            q &= _compile(child)
        return q
    if "any" in node:
        if not node["any"]:
            return Q(pk__in=[])  # an empty "any" matches nobody, as any([]) is False
        q = Q()
        for child in node["any"]:
            q |= _compile(child)
        return q
    if "not" in node:
        return ~_compile(node["not"])
    return FIELDS[node["field"]].build(node["op"], node["value"], node.get("days"))


def rules_compile(rules) -> Q:
    return _compile(rules_validate(rules))


def segment_customers(rules) -> QuerySet[Customer]:
    """Live, not merged, not anonymised customers matching ``rules``: one SQL statement."""
    q = rules_compile(rules)
    return Customer.objects.filter(merged_into__isnull=True, anonymized_at__isnull=True).filter(q)
