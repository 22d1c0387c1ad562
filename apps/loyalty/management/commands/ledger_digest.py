from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.loyalty.digest import digest_build, digest_dumps
from apps.loyalty.verification import LedgerCheck, ledger_snapshot


class Command(BaseCommand):
    help = (
        "Write the signed JSON digest of every account's chain head and their Merkle root "
        "(to FILE, or standard output). Keep it outside the database: verify_ledger --digest "
        "FILE later proves nothing recorded up to it changed. The ledger is checked on the way; "
        "the digest is written even with faults (it records what is there) and the command "
        "then exits 1."
    )

    def add_arguments(self, parser):
        parser.add_argument("--out", metavar="FILE", help="write the digest here (default: stdout)")

    def handle(self, *args, **options):
        check = LedgerCheck()
        with ledger_snapshot():
            generated_at = timezone.now()
            faults = sum(1 for _ in check.faults())
        digest = digest_build(heads=check.heads, generated_at=generated_at)
        text = digest_dumps(digest)
        if options["out"]:
            try:
                Path(options["out"]).write_text(text, encoding="utf-8")
            except OSError as exc:
                raise CommandError(f"Cannot write {options['out']}: {exc}") from exc
        else:
            self.stdout.write(text, ending="")
        digest_summary = (
            f"{digest['accounts']} chains, {digest['rows']} ledger rows; Merkle root "
            f"{digest['merkle_root']}"
        )
        if faults:
            raise CommandError(
                f"Digest written ({digest_summary}), but the ledger has {faults} fault(s): "
                "run verify_ledger."
            )
        if options["out"]:
            self.stdout.write(
                self.style.SUCCESS(f"Digest written to {options['out']} ({digest_summary}).")
            )
