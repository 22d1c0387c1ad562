"""``manage.py seed_demo``: deterministic demo data and the demo logins (DESIGN §6)."""

import os
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.customers import demo


def production_reason() -> str | None:
    module = getattr(settings, "SETTINGS_MODULE", "") or os.environ.get(
        "DJANGO_SETTINGS_MODULE", ""
    )
    if module.endswith(".prod"):
        return f"the settings module is {module}"
    if not settings.DEBUG:
        return "DEBUG is off"
    return None


class Command(BaseCommand):
    help = (
        "Load deterministic demo data (stores, customers with two years of orders, consents, tags, "
        "interactions, refunds) and the demo logins. Runs once: a database that already has "
        "customers is left alone."
    )

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=demo.DEFAULT_CUSTOMERS)
        parser.add_argument("--seed", type=int, default=demo.DEFAULT_SEED)
        parser.add_argument("--password", default=demo.DEFAULT_PASSWORD)
        parser.add_argument(
            "--force",
            action="store_true",
            help="Seed even though the settings look like production.",
        )

    def handle(self, *args, **options):
        reason = production_reason()
        if reason and not options["force"]:
            raise CommandError(
                f"Refusing to load demo data: {reason} (production settings). "
                "Pass --force if this really is a throw-away database."
            )
        if options["customers"] < len(demo.MEMBER_LOGINS):
            raise CommandError(f"--customers must be at least {len(demo.MEMBER_LOGINS)}.")
        clash = demo.demo_already_seeded()
        if clash:
            self.stdout.write(f"Demo data not loaded: {clash}. Nothing was changed.")
            return
        started = time.monotonic()
        counts = demo.demo_seed(
            customers=options["customers"],
            seed=options["seed"],
            password=options["password"],
            write=self.stdout.write,
        )
        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(f"Demo data loaded in {elapsed:.1f} s (seed {options['seed']}):")
        )
        for kind, n in counts.items():
            self.stdout.write(f"  {kind:<18} {n:>8,}")
        self.stdout.write(f"Logins (password: {options['password']}):")
        for email, _name, role, _superuser in demo.STAFF_LOGINS:
            self.stdout.write(f"  {email:<24} {role}")
        for email in demo.MEMBER_LOGINS:
            self.stdout.write(f"  {email:<24} member")
