"""Issue 8: no admin page can store a control character, whatever model it edits."""

import pytest
from django.contrib import admin
from django.urls import reverse

from apps.core.forms import TextRuleModelForm
from apps.customers.models import Store, Tag
from tests.customers.factories import StoreFactory

pytestmark = pytest.mark.django_db

BELL = "Jing\u0007an"


def test_every_admin_page_and_inline_edits_through_the_text_rule():
    for model_admin in admin.site._registry.values():
        assert issubclass(model_admin.form, TextRuleModelForm), model_admin
        for inline in model_admin.inlines:
            assert issubclass(inline.form, TextRuleModelForm), inline


def test_a_store_named_with_a_control_character_is_refused_on_its_field(client, administrator):
    client.force_login(administrator)
    response = client.post(
        reverse("admin:customers_store_add"),
        {
            "code": "sh-02",
            "name_en": BELL,
            "city": "Shanghai",
            "kind": "offline",
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert "U+0007" in str(response.context["adminform"].form.errors["name_en"])
    assert not Store.objects.filter(code="sh-02").exists()


def test_a_tag_with_a_control_character_is_refused_and_a_clean_one_saved(client, administrator):
    client.force_login(administrator)
    refused = client.post(reverse("admin:customers_tag_add"), {"name": "vip\u001b", "color": "red"})
    assert refused.status_code == 200 and not Tag.objects.exists()
    saved = client.post(reverse("admin:customers_tag_add"), {"name": "vip", "color": "blue"})
    assert saved.status_code == 302 and Tag.objects.get().name == "vip"


def test_a_row_stored_before_the_rule_can_still_be_edited_elsewhere(client, administrator):
    store = StoreFactory(code="sh-03", name=BELL)
    client.force_login(administrator)
    response = client.post(
        reverse("admin:customers_store_change", args=[store.pk]),
        {"code": "sh-03", "name_en": BELL, "city": "Suzhou", "kind": store.kind, "is_active": "on"},
    )
    assert response.status_code == 302
    store.refresh_from_db()
    assert store.city == "Suzhou"
