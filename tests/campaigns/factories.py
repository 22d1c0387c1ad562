import datetime as dt

from django.utils import timezone

from apps.analytics.services.segments import segment_save
from apps.campaigns.audience import assign
from apps.campaigns.models import CampaignSettings, Message
from apps.campaigns.services.lifecycle import campaign_save
from apps.customers.models import ConsentRecord, Customer
from tests.customers.factories import CustomerFactory

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


# --- helpers for the service tests (appended) ---------------------------------------------------


def no_quiet_hours():
    """Quiet hours off (start == end): e-mail and SMS go whatever the hour of the run."""
    settings_ = CampaignSettings.get()
    settings_.quiet_start = settings_.quiet_end = dt.time(9, 0)
    settings_.save()
    return settings_


def campaign_settings(**values):
    """Change the one ``CampaignSettings`` row (frequency cap, quiet hours, tracking…)."""
    settings_ = CampaignSettings.get()
    for key, value in values.items():
        setattr(settings_, key, value)
    settings_.save()
    return settings_


def withdraw(customer, *channels, purpose="marketing"):
    """An explicit "no", recorded now (after ``grant``'s "yes" of yesterday)."""
    grant(customer, *channels, purpose=purpose, granted=False, at=timezone.now())


def reachable(n=1, channel="email", **kwargs):
    """``n`` customers who said yes to marketing on ``channel`` (and prefer it), reading English
    unless told otherwise."""
    kwargs.setdefault("preferred_language", "en")
    customers = [CustomerFactory(preferred_channel=channel, **kwargs) for _ in range(n)]
    for customer in customers:
        grant(customer, channel)
    return customers


def draws(campaign, customer_id):
    """The customer's group in ``campaign`` as placing draws it: None for the holdout, else the
    variant (same variant order as ``messages_queue``)."""
    variants = list(campaign.variants.order_by("label", "pk"))
    return assign(campaign=campaign, customer_id=customer_id, variants=variants)


def split_audience(campaign, *, treated, holdout, channel="email", limit=400, **kwargs):
    """Reachable customers made until ``treated`` of them draw a variant of ``campaign`` and
    ``holdout`` draw its holdout; the extra ones are deleted again, so the audience is exactly
    what the test asks for. Returns (treated customers, holdout customers)."""
    got_t, got_h = [], []
    for _ in range(limit):
        if len(got_t) >= treated and len(got_h) >= holdout:
            return got_t, got_h
        (customer,) = reachable(1, channel, **kwargs)
        group = got_h if draws(campaign, customer.pk) is None else got_t
        wanted = holdout if group is got_h else treated
        if len(group) < wanted:
            group.append(customer)
        else:
            ConsentRecord.objects.filter(customer=customer).delete()
            Customer.objects.filter(pk=customer.pk).delete()
    raise AssertionError("could not draw the groups asked for")


def messages_by_customer(campaign):
    return {m.customer_id: m for m in Message.objects.filter(campaign=campaign)}
