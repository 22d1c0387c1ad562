"""Every URL name a template resolves with ``{% url '...' as var %}`` exists, or belongs to an
area still to come.

That form of the tag renders "" instead of raising when the name does not resolve, which is how
the staff layout hides the entries of areas not built yet. It also hides a typo, a renamed route
or a wrong number of arguments: the link silently disappears. This test tells them apart."""

import re
from pathlib import Path

from django.conf import settings
from django.urls import NoReverseMatch, get_resolver, reverse

TEMPLATES = Path(settings.BASE_DIR) / "templates"

# The URL names templates may link before their area exists (DESIGN §6 lists these areas and
# their URLs). Remove a name when its area lands; nothing else belongs here.
STILL_TO_COME: dict[str, str] = {}

URL_AS = re.compile(
    r"""\{%\s*url\s+(?P<quote>['"])(?P<name>[^'"]+)(?P=quote)(?P<args>(?:\s+[^\s%]+)*?)\s+as\s+\w+\s*%\}"""
)
# Values that every path converter in use accepts: member numbers and ints take digits, str and
# slug take anything, uuid takes a UUID.
DUMMIES = ["1234567897", "00000000-0000-0000-0000-000000000001"]


def url_as_tags(text: str) -> list[tuple[str, list[str]]]:
    """(name, argument tokens) of each ``{% url 'name' ... as var %}`` in ``text``."""
    return [(m["name"], m["args"].split()) for m in URL_AS.finditer(text)]


def template_url_names() -> dict[tuple[str, str], list[str]]:
    """(template, name) -> argument tokens, for every template under templates/."""
    found = {}
    for path in sorted(TEMPLATES.rglob("*")):
        if path.suffix not in (".html", ".txt"):
            continue
        for name, args in url_as_tags(path.read_text(encoding="utf-8")):
            found[(str(path.relative_to(TEMPLATES)), name)] = args
    return found


def name_exists(name: str) -> bool:
    """Whether some URL pattern carries ``name`` (namespaces included), whatever its arguments."""
    resolver = get_resolver()
    *namespaces, view = name.split(":")
    for namespace in namespaces:
        if namespace not in resolver.namespace_dict:
            return False
        resolver = resolver.namespace_dict[namespace][1]
    return view in resolver.reverse_dict


def reverses_with_dummies(name: str, args: list[str]) -> bool:
    """Whether ``name`` reverses with as many arguments as the template passes (keyword
    arguments by their names), each a dummy value."""
    keywords = [a.split("=", 1)[0] for a in args if "=" in a]
    positional = len(args) - len(keywords)
    for dummy in DUMMIES:
        try:
            reverse(name, args=[dummy] * positional, kwargs=dict.fromkeys(keywords, dummy))
        except NoReverseMatch:
            continue
        return True
    return False


def test_the_parser_reads_names_and_arguments():
    text = (
        "{% url 'dashboard:home' as home_url %}\n"
        '{% url "dashboard:customer-detail" c.member_number as detail_url %}\n'
        "{% url 'dashboard:data-import-job' pk=job.pk as u %}\n"
        "{% url 'dashboard:order-list' %}{% url ... as x %}"
    )
    assert url_as_tags(text) == [
        ("dashboard:home", []),
        ("dashboard:customer-detail", ["c.member_number"]),
        ("dashboard:data-import-job", ["pk=job.pk"]),
    ]


def test_name_exists_tells_a_missing_name_from_one_that_needs_arguments():
    assert name_exists("dashboard:customer-detail") and name_exists("account_login")
    assert not name_exists("dashboard:no-such-page") and not name_exists("nowhere:home")
    assert reverses_with_dummies("dashboard:customer-detail", ["c.member_number"])
    assert not reverses_with_dummies("dashboard:customer-detail", [])
    assert not reverses_with_dummies("dashboard:home", ["extra"])


def test_every_url_name_resolved_with_as_exists_or_is_still_to_come():
    found = template_url_names()
    # The scan sees the layout's navigation and a tag with an argument, so it cannot pass empty.
    assert ("layouts/dashboard.html", "dashboard:customer-list") in found
    assert found[("dashboard/home.html", "dashboard:customer-detail")] == ["c.member_number"]

    problems = {
        f"{template}: {name} {' '.join(args)}".strip(): (
            "exists, but not with these arguments"
            if name_exists(name)
            else "unknown name (a typo, a renamed route, or an area for STILL_TO_COME)"
        )
        for (template, name), args in found.items()
        if not (reverses_with_dummies(name, args) if name_exists(name) else name in STILL_TO_COME)
    }
    assert problems == {}


def test_the_still_to_come_list_holds_only_areas_that_do_not_exist_yet():
    """A built area leaves the list, so the list never hides a route that really broke."""
    assert [name for name in STILL_TO_COME if name_exists(name)] == []
