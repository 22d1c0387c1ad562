"""The favicon (issue 9, part 7): an SVG in the brand colour that every page links, and
``/favicon.ico`` answered with a redirect to it instead of a 404."""

import pytest
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.urls import reverse

ICON = "img/favicon.svg"


def test_the_icon_is_an_svg_in_the_brand_colour():
    path = finders.find(ICON)
    assert path is not None
    with open(path, encoding="utf-8") as handle:
        svg = handle.read()
    assert svg.lstrip().startswith("<svg") and "#2f55d4" in svg


@pytest.mark.django_db
def test_favicon_ico_redirects_to_it_for_anyone(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"] == static(ICON)


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["anonymous", "agent"])
def test_pages_link_it(client, request, who):
    if who == "agent":
        client.force_login(request.getfixturevalue("agent"))
        url = reverse("dashboard:home")
    else:
        url = reverse("account_login")
    html = client.get(url).content.decode()
    assert f'<link rel="icon" href="{static(ICON)}" type="image/svg+xml">' in html
