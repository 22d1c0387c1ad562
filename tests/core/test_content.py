"""Content in both languages: per-language columns, the reader's language with a fallback, the
input rule and the data migration that sorted existing text into its language's column."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import translation

from apps.core.content import (
    content_input,
    content_label,
    content_problems,
    fill_content_columns,
    localized_fields,
    split_localized,
)
from apps.customers.models import Store
from apps.loyalty.models import Reward, Tier
from tests.loyalty.factories import RewardFactory

pytestmark = pytest.mark.django_db


def test_translated_fields_expand_into_their_language_columns():
    assert localized_fields(Reward, ["name", "slug", "description"]) == [
        "name_en",
        "name_zh_hans",
        "slug",
        "description_en",
        "description_zh_hans",
    ]
    assert localized_fields(Store, ["code", "name"]) == ["code", "name_en", "name_zh_hans"]
    assert split_localized("name_zh_hans") == ("name", "zh-hans")
    assert split_localized("coupon_kind") is None


def test_the_reader_gets_their_language_and_the_other_when_theirs_is_empty():
    both = RewardFactory(name_en="Tea set", name_zh_hans="茶具")
    english_only = RewardFactory(name_en="Mug", name_zh_hans="")
    chinese_only = RewardFactory(name_en="", name_zh_hans="月饼")
    with translation.override("zh-hans"):
        assert [Reward.objects.get(pk=r.pk).name for r in (both, english_only, chinese_only)] == [
            "茶具",
            "Mug",
            "月饼",
        ]
    with translation.override("en"):
        assert [Reward.objects.get(pk=r.pk).name for r in (both, english_only, chinese_only)] == [
            "Tea set",
            "Mug",
            "月饼",
        ]


def test_a_plain_field_in_input_means_the_active_language():
    with translation.override("zh-hans"):
        assert content_input(Reward, {"name": "茶具", "slug": "tea"}) == {
            "name_zh_hans": "茶具",
            "slug": "tea",
        }
    # An explicit column wins over the plain field.
    assert content_input(Reward, {"name": "x", "name_en": "Tea"}) == {"name_en": "Tea"}


def test_a_name_is_needed_in_at_least_one_language():
    assert content_problems(Reward(name_en="", name_zh_hans="  ")) == [
        ("name_en", "Enter it in at least one language.")
    ]
    assert content_problems(Reward(name_zh_hans="茶具")) == []


def test_labels_name_each_language_in_itself():
    assert content_label("Name", "zh-hans") == "Name · 简体中文"
    assert content_label("Name", "en") == "Name · English"


def test_the_migration_puts_old_text_in_the_column_of_its_language():
    Tier.objects.create(slug="a", rank=1, name="Gold", benefits="免运费")
    Tier.objects.update(name_en=None, name_zh_hans=None, benefits_en=None, benefits_zh_hans=None)
    # The migration's models: plain columns, as they were when it ran.
    state = MigrationExecutor(connection).loader.project_state(
        ("loyalty", "0010_content_translations_fill")
    )
    fill_content_columns(state.apps, "loyalty.Tier", ["name", "benefits"])
    row = Tier.objects.values("name_en", "name_zh_hans", "benefits_en", "benefits_zh_hans").get()
    assert row == {
        "name_en": "Gold",
        "name_zh_hans": None,
        "benefits_en": None,
        "benefits_zh_hans": "免运费",
    }


def test_a_tag_reads_its_label_in_the_readers_language_and_keeps_its_name():
    from apps.customers.models import Tag

    tag = Tag.objects.create(name="wholesale", label_en="Wholesale", label_zh_hans="批发")
    bare = Tag.objects.create(name="vip")
    with translation.override("zh-hans"):
        assert (Tag.objects.get(pk=tag.pk).display, Tag.objects.get(pk=bare.pk).display) == (
            "批发",
            "vip",
        )
        # The name stays the identifier imports, the API and filters match.
        assert Tag.objects.get(name="wholesale") == tag
    with translation.override("en"):
        assert Tag.objects.get(pk=tag.pk).display == "Wholesale"
