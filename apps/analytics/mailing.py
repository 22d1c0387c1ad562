"""The weekly at-risk e-mail to managers, in each manager's language, with the list attached."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.accounts.roles import MANAGER
from apps.core.exports import XLSX_CONTENT_TYPE, xlsx_file

from .exports import at_risk_rows
from .selectors import at_risk_list


def at_risk_mail_send(*, week) -> int:
    """One e-mail per manager; returns how many were sent (none for an empty list)."""
    entries = list(at_risk_list(week=week))
    if not entries:
        return 0
    managers = User.objects.filter(is_active=True, groups__name=MANAGER).exclude(email="")
    url = settings.SITE_URL.rstrip("/") + reverse("dashboard:at-risk") + f"?week={week}"
    sent = 0
    for manager in managers.distinct().order_by("pk"):
        with translation.override(manager.language or settings.LANGUAGE_CODE):
            header, rows = at_risk_rows(entries)
            attachment = xlsx_file(title=_("At risk"), header=header, rows=rows).read()
            subject = _("At-risk customers for the week of %(week)s: %(count)s") % {
                "week": week.isoformat(),
                "count": len(entries),
            }
            body = render_to_string(
                "emails/at_risk.txt",
                {"entries": entries[:20], "count": len(entries), "week": week, "url": url},
            )
        mail = EmailMultiAlternatives(
            subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[manager.email]
        )
        mail.attach(f"at-risk-{week.isoformat()}.xlsx", attachment, XLSX_CONTENT_TYPE)
        mail.send()
        sent += 1
    return sent
