"""Shared body of ``import_customers`` and ``import_orders``."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from apps.customers.importing.files import ImportFileError
from apps.customers.importing.results import ImportResult


class ImportCommand(BaseCommand):
    kind = ""

    def add_arguments(self, parser):
        parser.add_argument("file", help=".csv (UTF-8) or .xlsx file")
        parser.add_argument(
            "--dry-run", action="store_true", help="validate and count only; write nothing"
        )

    def run_import(self, **kwargs) -> ImportResult:
        raise NotImplementedError

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(_("No such file: %(path)s") % {"path": path})
        try:
            result = self.run_import(path=path, dry_run=options["dry_run"])
        except ImportFileError as exc:
            raise CommandError(exc.message) from exc
        if not result.ok:
            for message in result.errors:
                self.stderr.write(message)
            if result.error_count > len(result.errors):
                self.stderr.write(
                    _("… and %(n)s more errors.") % {"n": result.error_count - len(result.errors)}
                )
            raise CommandError(
                _("%(n)s error(s) in %(file)s; nothing was written.")
                % {"n": result.error_count, "file": result.file_name}
            )
        self.stdout.write(self.summary(result))

    def summary(self, result: ImportResult) -> str:
        raise NotImplementedError
