"""The nightly ledger verification: check invariant 1 and every HMAC chain, sign a digest of the
chain heads, record the run, and send the digest to the Managers.

Who is told, and how (decided here):

- Every active Manager with an e-mail address receives the signed digest as a JSON attachment
  after every run, so copies pile up night after night in mailboxes that the database's writers
  do not control; that is what lets ``verify_ledger --digest`` catch a consistent rewrite later.
- A run with faults says so in the subject and lists the first faults in the body.
- Clientele has no staff inbox (the portal inbox is the members'), so the other notice is on the
  staff pages: the overview and the ledger page show a banner to Managers and Administrators
  while the newest finished run found faults.
- The run's record (``LedgerVerification``) is written before the check starts and completed
  after it, outside one transaction: a run that crashed stays visible as unfinished.
"""

import datetime as dt
import logging
from smtplib import SMTPException

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.accounts.roles import MANAGER
from apps.accounts.selectors import users_in_role

from ..digest import digest_build, digest_dumps
from ..models import LedgerVerification
from ..verification import LedgerCheck, ledger_snapshot

log = logging.getLogger(__name__)
FAULTS_KEPT = 50


def ledger_verification_run(*, now: dt.datetime | None = None) -> LedgerVerification:
    """Check the whole ledger in one snapshot, record the result, and e-mail the signed digest
    of the chain heads it read to the Managers. Read-only on the ledger; safe to run twice."""
    run = LedgerVerification.objects.create(started_at=now or timezone.now())
    check = LedgerCheck()
    kept: list[str] = []
    count = 0
    with ledger_snapshot():
        for fault in check.faults():
            count += 1
            if count <= FAULTS_KEPT:
                kept.append(fault)
    digest = digest_build(heads=check.heads, generated_at=run.started_at)
    run.finished_at = timezone.now()
    run.ok = count == 0
    run.fault_count = count
    run.faults = "\n".join(kept)
    run.accounts_checked = check.accounts
    run.rows_checked = check.rows
    run.chains = digest["accounts"]
    run.merkle_root = digest["merkle_root"]
    run.key_id = digest["key_id"]
    run.save()
    run.digest_sent_to = ledger_digest_send(run=run, digest=digest)
    run.save(update_fields=["digest_sent_to"])
    return run


def _message(*, run: LedgerVerification) -> tuple[str, str]:
    if run.ok:
        subject = _("Ledger verified: no faults")
    else:
        subject = ngettext(
            "Ledger fault: %(n)s problem found",
            "Ledger fault: %(n)s problems found",
            run.fault_count,
        ) % {"n": run.fault_count}
    body = render_to_string(
        "emails/ledger_verification.txt",
        {
            "run": run,
            "faults": run.fault_lines,
            "more": run.fault_count - len(run.fault_lines),
            "page_url": f"{settings.SITE_URL.rstrip('/')}/staff/loyalty/ledger/",
        },
    )
    return f"[Clientele] {subject}", body


def ledger_digest_send(*, run: LedgerVerification, digest: dict) -> int:
    """One e-mail per Manager, in their language, with the digest attached. Returns how many
    went out; a mail server failure is logged and leaves 0 (the ledger page shows it)."""
    text = digest_dumps(digest)
    filename = f"ledger-digest-{run.started_at.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}.json"
    messages = []
    for user in users_in_role(role=MANAGER):
        with translation.override(user.language or settings.LANGUAGE_CODE):
            subject, body = _message(run=run)
        message = EmailMessage(
            subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[user.email]
        )
        message.attach(filename, text, "application/json")
        messages.append(message)
    if not messages:
        log.warning("ledger verification %s: no Manager with an e-mail address", run.pk)
        return 0
    try:
        return get_connection().send_messages(messages) or 0
    except (SMTPException, OSError):
        log.exception("ledger verification %s: the digest e-mail failed", run.pk)
        return 0
