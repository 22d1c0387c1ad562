"""The strict Content-Security-Policy: every response carries it, with no inline or eval'd script,
and no template brings back what it refuses (inline <script>, on*= handlers, javascript: URLs,
style= attributes). The browser tests (tests/browser/test_csp.py) prove the pages keep working
under it."""

import re
from pathlib import Path

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from apps.loyalty.models import Programme

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
REQUIRED = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "img-src": {"'self'", "data:"},
    "object-src": {"'none'"},
    "base-uri": {"'self'"},
    "form-action": {"'self'"},
    "frame-ancestors": {"'none'"},
}


def directives(response) -> dict[str, set[str]]:
    header = response.headers.get("Content-Security-Policy", "")
    parsed = {}
    for part in filter(None, (p.strip() for p in header.split(";"))):
        name, *sources = part.split()
        parsed[name] = set(sources)
    return parsed


def assert_strict(response) -> None:
    policy = directives(response)
    assert {name: policy.get(name) for name in REQUIRED} == REQUIRED, response.request["PATH_INFO"]
    for name in ("default-src", "script-src", "script-src-elem", "script-src-attr"):
        assert not policy.get(name, set()) & {"'unsafe-inline'", "'unsafe-eval'", "*"}


@pytest.fixture
def staff_client(client, manager):
    Programme.objects.create()
    client.force_login(manager)
    return client


@pytest.mark.parametrize(
    "path",
    ["/", "/accounts/login/", "/accounts/signup/", "/me/", "/staff/", "/admin/login/", "/nowhere/"],
)
def test_every_page_sends_the_strict_policy_to_visitors(client, path):
    response = client.get(path)
    assert response.status_code in (200, 302, 404)
    assert_strict(response)


@pytest.mark.parametrize(
    "name",
    [
        "dashboard:home",
        "dashboard:customer-list",
        "dashboard:loyalty-liability",
        "dashboard:loyalty-approval-list",
        "dashboard:data-import",
    ],
)
def test_staff_pages_send_the_strict_policy(staff_client, name):
    response = staff_client.get(reverse(name))
    assert response.status_code == 200
    assert_strict(response)


def test_refusals_and_htmx_partials_send_it_too(client, agent):
    client.force_login(agent)
    forbidden = client.get(reverse("dashboard:loyalty-liability"))
    partial = client.get(
        reverse("dashboard:customer-list"), {"q": "x"}, headers={"HX-Request": "true"}
    )
    assert forbidden.status_code == 403 and partial.status_code == 200
    assert_strict(forbidden)
    assert_strict(partial)


def test_api_and_its_docs_send_it_and_the_docs_set_up_is_a_script_file():
    api = APIClient()
    docs = api.get(reverse("api:docs"))
    script = api.get(reverse("api:docs"), {"script": ""})
    unauthorised = api.get("/api/v1/customers/")
    for response in (docs, script, unauthorised):
        assert_strict(response)
    html = docs.content.decode()
    # Swagger UI's set-up comes from docs/?script, and the page has no inline script or style.
    assert re.search(r'<script src="[^"]*\?script=?"', html)
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert "<style" not in html
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in script.content.decode()


# --- templates ----------------------------------------------------------------------------------

DJANGO_COMMENT = re.compile(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}|{#.*?#}", re.S)
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.I)
RULES = [
    ("on*= event handler", re.compile(r"""\son[a-z]+\s*=\s*["'{]""", re.I)),
    ("hx-on handler", re.compile(r"\s(?:data-)?hx-on[:\-]", re.I)),
    ("javascript: URL", re.compile(r"javascript\s*:", re.I)),
    ("style= attribute", re.compile(r"""\sstyle\s*=\s*["'{]""", re.I)),
    ("<style> element", re.compile(r"<style\b", re.I)),
]


def csp_offences(source: str, *, styles_allowed: bool = False) -> list[str]:
    """What in a template the policy would refuse: inline scripts (a <script> without src=,
    other than a JSON data block), event-handler attributes, javascript: URLs and, unless
    ``styles_allowed`` (e-mail bodies, which no browser renders under our policy), inline
    styles."""
    text = DJANGO_COMMENT.sub("", source)
    found = []
    for match in SCRIPT_TAG.finditer(text):
        attrs = match.group(1)
        if not re.search(r"\bsrc\s*=", attrs) and "application/json" not in attrs:
            found.append(f"inline <script>: {match.group(0)}")
    for label, pattern in RULES:
        if styles_allowed and "style" in label:
            continue
        found += [f"{label}: {m.group(0).strip()}" for m in pattern.finditer(text)]
    return found


@pytest.mark.parametrize(
    ("snippet", "offence"),
    [
        ("<script>document.title = 'x'</script>", "inline <script>"),
        ('<script type="module">go()</script>', "inline <script>"),
        ('<select onchange="this.form.submit()">', "on*= event handler"),
        ("<body ONLOAD='x()'>", "on*= event handler"),
        ('<button hx-on:click="go()">', "hx-on handler"),
        ('<a href="javascript:void(0)">', "javascript: URL"),
        ('<div style="width: {{ percent }}%">', "style= attribute"),
        ("<style>.x { color: red }</style>", "<style> element"),
    ],
)
def test_the_scan_finds_what_the_policy_refuses(snippet, offence):
    found = csp_offences(snippet)
    assert len(found) == 1 and found[0].startswith(offence + ": ")


def test_the_scan_lets_files_data_and_comments_through():
    allowed = (
        "<script src=\"{% static 'js/charts.js' %}\"></script>"
        '<script type="application/json" id="d">{}</script>'
        '<select data-autosubmit name="months">'
        '<div class="w-pct-{{ percent }}" data-color="{{ tier.color }}">'
        "<p>Don't click on=this</p>"
        '{% comment %}no <script>, no onchange="", no style=""{% endcomment %}'
        "{# javascript: URLs are refused #}"
    )
    assert csp_offences(allowed) == []


def test_no_template_holds_what_the_policy_refuses():
    offences = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        relative = path.relative_to(TEMPLATES)
        styles_allowed = relative.parts[0] == "emails"
        for offence in csp_offences(
            path.read_text(encoding="utf-8"), styles_allowed=styles_allowed
        ):
            offences.append(f"{relative}: {offence}")
    assert offences == []
