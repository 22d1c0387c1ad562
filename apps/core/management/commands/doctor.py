"""``manage.py doctor``: the readiness checks of ``/readyz``, for a person. Each problem comes
with what it was and how to fix it; the exit status is 1 when anything failed."""

from django.core.management.base import BaseCommand, CommandError

from apps.core.health import readiness


class Command(BaseCommand):
    help = "Check the database, cache, broker and migrations; say how to fix each problem."

    def add_arguments(self, parser):
        parser.add_argument(
            "--timeout",
            type=float,
            default=None,
            help="Seconds each check may take (default READINESS_CHECK_TIMEOUT).",
        )

    def handle(self, *args, **options):
        results = readiness(options["timeout"])
        for result in results:
            if result.ok:
                line = f"OK    {result.name:<11} {result.detail} ({result.ms:g} ms)"
                self.stdout.write(self.style.SUCCESS(line))
            else:
                self.stdout.write(self.style.ERROR(f"FAIL  {result.name:<11} {result.detail}"))
                self.stdout.write(f"      fix: {result.fix}")
        problems = [r.name for r in results if not r.ok]
        if problems:
            raise CommandError(f"{len(problems)} problem(s): {', '.join(problems)}", returncode=1)
        self.stdout.write("All checks passed.")
