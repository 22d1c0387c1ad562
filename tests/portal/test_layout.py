"""The portal's layout extends the one HTML root (layouts/base.html): htmx with its CSRF header,
the shared behaviours script and one spelling of the lang attribute on every page."""

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _root(html: str) -> dict:
    return {
        "lang": re.search(r'<html lang="([^"]+)"', html).group(1),
        "htmx": "vendor/htmx/htmx.min.js" in html,
        "behaviours": "js/behaviours.js" in html,
        "csrf_header": bool(re.search(r"hx-headers='\{\"X-CSRFToken\": \"\w{20,}\"\}'", html)),
        "roots": html.count("<html"),
    }


def test_portal_and_staff_pages_share_one_root(client, member, manager):
    user, _customer = member
    client.force_login(user)
    portal = _root(client.get(reverse("portal:points")).content.decode())
    client.force_login(manager)
    staff = _root(client.get(reverse("dashboard:home")).content.decode())
    expected = {"lang": "en", "htmx": True, "behaviours": True, "csrf_header": True, "roots": 1}
    assert portal == expected and staff == expected


def test_chinese_pages_spell_the_language_zh_hans(client, member):
    user, _customer = member
    client.force_login(user)
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/me/"})
    page = client.get(reverse("portal:points"), headers={"accept-language": "zh-hans"})
    assert _root(page.content.decode())["lang"] == "zh-Hans"
    client.logout()  # (which forgets every cookie)
    client.cookies["django_language"] = "zh-hans"
    signin = client.get(reverse("account_login"))
    assert _root(signin.content.decode())["lang"] == "zh-Hans"
