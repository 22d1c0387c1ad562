from django.utils.translation import gettext as _

from apps.customers.importing.customers import customers_import
from apps.customers.importing.results import ImportResult

from ._importing import ImportCommand


class Command(ImportCommand):
    help = (
        "Import customers from a .csv or .xlsx file (all or nothing). Errors are printed as "
        "'row N, column C: reason' (row 1 is the header)."
    )

    def run_import(self, **kwargs) -> ImportResult:
        return customers_import(**kwargs)

    def summary(self, result: ImportResult) -> str:
        text = (
            _(
                "%(rows)s rows: %(created)s customers created, %(consents)s consent records, "
                "%(skipped)s already present (skipped)."
            )
            % result.summary()
        )
        return (_("Dry run, nothing written. ") + text) if result.dry_run else text
