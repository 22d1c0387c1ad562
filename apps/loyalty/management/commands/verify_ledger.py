from django.core.management.base import BaseCommand, CommandError

from apps.loyalty.verification import ledger_faults


class Command(BaseCommand):
    help = "Check invariant 1 for every account (sums, lots, hash chains); exit 1 on any fault."

    def handle(self, *args, **options):
        faults = 0
        for fault in ledger_faults():
            faults += 1
            if faults <= 200:
                self.stderr.write(fault)
        if faults:
            raise CommandError(f"{faults} ledger fault(s) found.")
        self.stdout.write(self.style.SUCCESS("Ledger verified: no faults."))
