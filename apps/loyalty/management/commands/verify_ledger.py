from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.loyalty.digest import digest_loads
from apps.loyalty.exceptions import LedgerDigestInvalid
from apps.loyalty.ledger import ledger_key_id
from apps.loyalty.verification import LedgerCheck, digest_faults, ledger_snapshot

SHOWN = 200


class Command(BaseCommand):
    help = (
        "Check invariant 1 for every account (sums, lots, HMAC chains under LEDGER_KEY); with "
        "--digest FILE also prove that nothing recorded up to that signed digest was changed, "
        "removed or truncated. Exits 1 on any fault."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--digest", metavar="FILE", help="a digest written by ledger_digest (JSON)"
        )

    def handle(self, *args, **options):
        digest = None
        if options["digest"]:
            try:
                digest = digest_loads(Path(options["digest"]).read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, LedgerDigestInvalid) as exc:
                raise CommandError(f"Cannot read the digest {options['digest']}: {exc}") from exc
        check = LedgerCheck()
        faults = 0
        with ledger_snapshot():
            for fault in check.faults():
                faults += 1
                if faults <= SHOWN:
                    self.stderr.write(fault)
            if check.rows and check.bad_hashes == check.rows:
                self.stderr.write(
                    "Every row fails its hash: was the ledger written under another LEDGER_KEY? "
                    f"(this key's id is {ledger_key_id()})"
                )
            if digest is not None:
                for fault in digest_faults(digest):
                    faults += 1
                    if faults <= SHOWN:
                        self.stderr.write(fault)
        if faults:
            raise CommandError(f"{faults} ledger fault(s) found.")
        checked = f"{check.accounts} accounts, {check.rows} ledger rows"
        if digest is not None:
            checked += (
                f"; digest of {digest['generated_at']} ({digest['accounts']} chains, Merkle root "
                f"{digest['merkle_root']}) holds"
            )
        self.stdout.write(self.style.SUCCESS(f"Ledger verified: no faults ({checked})."))
