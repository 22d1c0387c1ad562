import datetime as dt

from django.utils import timezone

from apps.analytics.services.segments import segment_save
from apps.campaigns.services.lifecycle import campaign_save
from apps.customers.models import ConsentRecord

EVERYONE = {"all": [{"field": "customer.joined_days", "op": "gte", "value": 0}]}

VARIANT = {
    "label": "A",
    "weight": 1,
    "subject_en": "Hello {{ first_name }}",
    "subject_zh_hans": "{{ first_name }}，您好",
    "body_en": "You have {{ points }} points. Code {{ coupon_code }}. {{ links.rewards }}",
    "body_zh_hans": "您有 {{ points }} 积分。优惠码 {{ coupon_code }}。{{ links.rewards }}",
    "sms_body_en": "Hi {{ first_name }}, {{ points }} points",
    "sms_body_zh_hans": "{{ first_name }}，您有 {{ points }} 积分",
}


def grant(customer, *channels, purpose="marketing", granted=True, at=None):
    for channel in channels:
        ConsentRecord.objects.create(
            customer=customer,
            channel=channel,
            purpose=purpose,
            granted=granted,
            at=at or timezone.now() - dt.timedelta(days=1),
            source="test",
        )


def segment_everyone(actor=None):
    return segment_save(actor=actor, rules=EVERYONE, names={"name_en": "Everyone"})


def broadcast(*, actor=None, segment=None, variants=None, **settings):
    base = {
        "kind": "broadcast",
        "segment": segment or segment_everyone(actor),
        "channels": ["email", "sms", "portal"],
        "holdout_percent": 0,
    }
    return campaign_save(
        actor=actor,
        names={"name_en": "Spring sale", "name_zh_hans": "春季促销"},
        settings=base | settings,
        variants=variants or [dict(VARIANT)],
    )


def journey(*, trigger, actor=None, variants=None, **settings):
    base = {
        "kind": "triggered",
        "trigger": trigger,
        "channels": ["email", "portal"],
        "holdout_percent": 0,
    }
    return campaign_save(
        actor=actor,
        names={"name_en": f"Journey {trigger}"},
        settings=base | settings,
        variants=variants or [dict(VARIANT)],
    )
