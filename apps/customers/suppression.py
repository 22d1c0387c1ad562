"""The suppression list of erased people: keyed digests (HMAC under ``ERASURE_DIGEST_KEY``) of
the e-mail addresses and phone numbers of customers who were erased, so that a stale import file
cannot bring them back (they may still re-join themselves). Erasure writes it; imports read it.
"""

from collections.abc import Iterable

from django.db import connection
from django.utils import timezone

from apps.core.db import is_postgres

from .identifiers import CONTACT_KINDS, contact_digest
from .models import Customer, ErasedContact

# What erased free text reads as, everywhere personal data was.
ERASED_TEXT = "(erased)"

# PostgreSQL advisory lock serialising the list's writers (erasures, exclusive) with the
# imports that check it right before they insert (shared). Without it an import's check under
# READ COMMITTED could miss an erasure that commits between the check and the import's commit.
ERASED_CONTACTS_LOCK = 0x636C_6965_5F65_7261  # "clie_era"
ERASED_LOOKUP_CHUNK = 5000


def erased_contacts_lock(*, shared: bool) -> None:
    """Take the suppression list's lock until the end of the current transaction (PostgreSQL
    only; SQLite serialises writers by itself)."""
    if not is_postgres():
        return
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s)", [ERASED_CONTACTS_LOCK])


def erased_digests_among(digests: Iterable[str]) -> set[str]:
    """The ``digests`` on the suppression list: one query per ERASED_LOOKUP_CHUNK digests."""
    wanted = sorted({d for d in digests if d})
    found: set[str] = set()
    for start in range(0, len(wanted), ERASED_LOOKUP_CHUNK):
        chunk = wanted[start : start + ERASED_LOOKUP_CHUNK]
        found.update(
            ErasedContact.objects.filter(digest__in=chunk).values_list("digest", flat=True)
        )
    return found


def contacts_suppress(*, customer: Customer) -> int:
    """Put the digests of the customer's e-mail and phone on the suppression list (before the
    profile is blanked). Returns how many digests the customer had."""
    erased_contacts_lock(shared=False)
    digests = [d for kind in CONTACT_KINDS if (d := contact_digest(kind, getattr(customer, kind)))]
    now = timezone.now()
    ErasedContact.objects.bulk_create(
        [ErasedContact(digest=d, erased_at=now) for d in digests], ignore_conflicts=True
    )
    return len(digests)
