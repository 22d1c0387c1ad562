"""The points-expiring reminder as a built-in journey: the loyalty engine finds the lots entering
the reminder window and publishes ``points.expiring``; this journey sends the message, so it
obeys the same consent (purpose "service": only an explicit "no" stops it), frequency cap and
quiet hours as every campaign. Marketing may edit its text; it cannot be deleted."""

from django.db import migrations

SLUG = "points-expiring"
EN_SUBJECT = "Your points expire soon"
ZH_SUBJECT = "您的积分即将过期"
EN_BODY = (
    "Hello {{ first_name|default('member') }},\n\n"
    "{{ expiring_points }} of your {{ points }} points expire on {{ expiring_on }}.\n\n"
    "Spend them on a reward before they expire: {{ links.rewards }}"
)
ZH_BODY = (
    "{{ first_name|default('会员') }}，您好：\n\n"
    "您的 {{ points }} 积分中有 {{ expiring_points }} 积分将于 {{ expiring_on }} 过期。\n\n"
    "请在过期前兑换礼品：{{ links.rewards }}"
)
EN_SMS = "{{ expiring_points }} points expire on {{ expiring_on }}: {{ links.rewards }}"
ZH_SMS = "您有 {{ expiring_points }} 积分将于 {{ expiring_on }} 过期，请及时兑换：{{ links.rewards }}"


def create(apps, schema_editor):
    Campaign = apps.get_model("campaigns", "Campaign")
    Variant = apps.get_model("campaigns", "Variant")
    if Campaign.objects.filter(builtin=SLUG).exists():
        return
    campaign = Campaign.objects.create(
        builtin=SLUG,
        name="Points expiring",
        name_en="Points expiring",
        name_zh_hans="积分即将过期",
        kind="triggered",
        status="running",
        purpose="service",
        trigger="points_expiring",
        channels=["email", "portal"],
        holdout_percent=0,
    )
    Variant.objects.create(
        campaign=campaign,
        label="A",
        subject=EN_SUBJECT, subject_en=EN_SUBJECT, subject_zh_hans=ZH_SUBJECT,
        body=EN_BODY, body_en=EN_BODY, body_zh_hans=ZH_BODY,
        sms_body=EN_SMS, sms_body_en=EN_SMS, sms_body_zh_hans=ZH_SMS,
    )


def remove(apps, schema_editor):
    apps.get_model("campaigns", "Campaign").objects.filter(builtin=SLUG).delete()


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0003_roles")]
    operations = [migrations.RunPython(create, remove)]
