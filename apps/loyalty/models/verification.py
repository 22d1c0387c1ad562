"""The record of each ledger verification run (kept apart from ``models.py``, which is at its
size limit; ``models.py`` re-exports it)."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class LedgerVerification(models.Model):
    """One run of the ledger check (nightly, see ``tasks.ledger_verify``): when, whether the
    ledger held, what was checked, the first faults, and the Merkle root and key id of the signed
    digest it sent to the Managers. The digest itself is deliberately not stored here: its worth
    is that copies live outside the database. ``ok`` stays empty for a run that never finished."""

    started_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    ok = models.BooleanField(_("ledger intact"), null=True)
    accounts_checked = models.PositiveIntegerField(_("accounts checked"), default=0)
    rows_checked = models.PositiveBigIntegerField(_("ledger rows checked"), default=0)
    fault_count = models.PositiveIntegerField(_("faults"), default=0)
    faults = models.TextField(_("first faults"), blank=True)
    chains = models.PositiveIntegerField(_("chains in the digest"), default=0)
    merkle_root = models.CharField(_("digest Merkle root"), max_length=64, blank=True)
    key_id = models.CharField(_("key id"), max_length=16, blank=True)
    digest_sent_to = models.PositiveIntegerField(_("digest e-mailed to"), default=0)

    class Meta:
        verbose_name = _("ledger verification")
        verbose_name_plural = _("ledger verifications")
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["-started_at", "-id"], name="loyalty_ledgerver_recent")]

    def __str__(self) -> str:
        result = {True: "ok", False: "faults", None: "unfinished"}[self.ok]
        return f"{self.started_at:%Y-%m-%d %H:%M} {result}"

    @property
    def fault_lines(self) -> list[str]:
        return self.faults.splitlines()
