"""Message templates: Jinja2 in a sandbox, over a fixed context.

Marketing writes ``{{ first_name }}``, ``{% if points > 500 %}…{% endif %}``, ``{{ coupon_code }}``
or ``{{ links.rewards }}``. What a template may use is a whitelist, checked on the parsed tree
when it is saved (``template_check``): the names of ``CONTEXT_NAMES``, the attributes of
``links``, constants, comparisons, ``if`` and a few formatting filters. Anything else — another
name, an attribute trick (``__class__``, ``mro``), a call, a loop, a macro, an include — is refused
with a message saying what. The sandbox (``SandboxedEnvironment`` with ``StrictUndefined``) is
the second wall: even a template that slipped past the check cannot reach Python objects, and
the context holds only strings and numbers. A render that fails for one customer raises
``TemplateFailed``, and the sender records that message as failed — the rest of the campaign
goes on.
"""

from functools import lru_cache

from django.utils.translation import gettext as _
from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from apps.core.exceptions import ValidationFailed

# The fixed context, in the order the editor lists it.
CONTEXT_NAMES = (
    "first_name",
    "member_number",
    "tier",
    "points",
    "expiring_points",
    "expiring_on",
    "coupon_code",
    "coupon_value",
    "bonus_points",
    "links",
)
LINK_NAMES = ("portal", "rewards", "coupons", "points", "unsubscribe")
FILTERS = ("default", "upper", "lower", "title", "capitalize", "trim", "round", "int")
MAX_SOURCE = 10_000
MAX_OUTPUT = 20_000

_ALLOWED_NODES = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Name,
    nodes.Const,
    nodes.If,
    nodes.Compare,
    nodes.Operand,
    nodes.And,
    nodes.Or,
    nodes.Not,
    nodes.CondExpr,
    nodes.Concat,
    nodes.Getattr,
    nodes.Filter,
    nodes.Add,
    nodes.Sub,
    nodes.Mul,
    nodes.Neg,
)


class TemplateFailed(Exception):
    """A template could not be rendered for one customer (``reason`` says why, briefly)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class _Environment(SandboxedEnvironment):
    intercepted_binops = frozenset(["*"])

    def is_safe_attribute(self, obj, attr, value) -> bool:
        # Only the keys of the plain dicts we put in the context; never a method or a dunder.
        return isinstance(obj, dict) and not attr.startswith("_")

    def call_binop(self, context, operator, left, right):
        # "x" * 10**9 would build a gigabyte before any length check: numbers only.
        if operator == "*" and not all(isinstance(v, int | float) for v in (left, right)):
            raise SecurityError("only numbers multiply")
        return super().call_binop(context, operator, left, right)


_env = _Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


def _refuse(what: str) -> None:
    raise ValidationFailed(_("Not allowed in a message: %(what)s.") % {"what": what})


def _refused_kind(node: nodes.Node) -> str:
    if isinstance(node, nodes.For):
        return _("loops")
    if isinstance(node, nodes.Call):
        return _("function calls")
    if isinstance(node, nodes.Getitem | nodes.Slice):
        return _("indexing")
    if isinstance(node, nodes.Assign | nodes.AssignBlock):
        return _("setting variables")
    if isinstance(node, nodes.Macro | nodes.CallBlock | nodes.FilterBlock):
        return _("macros and blocks")
    if isinstance(node, nodes.Include | nodes.Import | nodes.FromImport | nodes.Extends):
        return _("other templates")
    return _("this template syntax (%(kind)s)") % {"kind": type(node).__name__}


def _walk(node: nodes.Node) -> None:
    if not isinstance(node, _ALLOWED_NODES):
        _refuse(_refused_kind(node))
    if isinstance(node, nodes.Name) and node.name not in CONTEXT_NAMES:
        _refuse(
            _("the name “%(name)s” (use one of: %(names)s)")
            % {"name": node.name, "names": ", ".join(CONTEXT_NAMES)}
        )
    if isinstance(node, nodes.Getattr):
        if not (isinstance(node.node, nodes.Name) and node.node.name == "links"):
            _refuse(_("attributes other than links.…"))
        if node.attr not in LINK_NAMES:
            _refuse(
                _("the link “%(name)s” (use one of: %(names)s)")
                % {"name": node.attr, "names": ", ".join(LINK_NAMES)}
            )
    if isinstance(node, nodes.Filter) and node.name not in FILTERS:
        _refuse(_("the filter “%(name)s”") % {"name": node.name})
    for child in node.iter_child_nodes():
        _walk(child)


def template_check(source: str) -> str:
    """The template, or ``ValidationFailed`` saying what is wrong or not allowed."""
    if len(source) > MAX_SOURCE:
        raise ValidationFailed(_("A message may be at most %(n)s characters.") % {"n": MAX_SOURCE})
    try:
        tree = _env.parse(source)
    except TemplateError as exc:
        raise ValidationFailed(
            _("The message has a template error: %(error)s") % {"error": exc.message or exc}
        ) from exc
    _walk(tree)
    return source


@lru_cache(maxsize=256)
def _compiled(source: str):
    template_check(source)
    return _env.from_string(source)


def render(source: str, context: dict) -> str:
    """``source`` rendered with ``context`` (only ``CONTEXT_NAMES``); ``TemplateFailed`` for a
    template that fails the check or cannot render for this customer."""
    if not source:
        return ""
    try:
        output = _compiled(source).render(context)
    except ValidationFailed as exc:
        raise TemplateFailed(str(exc.message)) from exc
    except Exception as exc:  # the sandbox's SecurityError, an undefined value, a type error
        raise TemplateFailed(f"{type(exc).__name__}: {str(exc)[:160]}") from exc
    if len(output) > MAX_OUTPUT:
        raise TemplateFailed("output too long")
    return output


def sample_context() -> dict:
    """A made-up member, for checking a template renders before anyone receives it."""
    return {
        "first_name": "Mia",
        "member_number": "M0000000",
        "tier": "Gold",
        "points": 1200,
        "expiring_points": 300,
        "expiring_on": "2027-01-31",
        "coupon_code": "SAMPLE-CODE",
        "coupon_value": "¥20.00",
        "bonus_points": 100,
        "links": {name: f"https://example.com/{name}/" for name in LINK_NAMES},
    }


def template_validate(source: str) -> str:
    """Check the template, then render it once with the sample member: a template that passes
    the check but cannot render (``{{ points + "x" }}``) is refused at save time too."""
    template_check(source)
    try:
        render(source, sample_context())
    except TemplateFailed as exc:
        raise ValidationFailed(
            _("The message cannot be rendered: %(error)s") % {"error": exc.reason}
        ) from exc
    return source
