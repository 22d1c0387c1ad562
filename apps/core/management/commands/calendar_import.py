"""``manage.py calendar_import FILE``: load (or replace) a business calendar from its JSON
document, e.g. next year's official holiday schedule."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.core.calendars import calendar_import
from apps.core.exceptions import ApplicationError


class Command(BaseCommand):
    help = "Import a business calendar (JSON: code, name, timezone, hours, holidays, workdays)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="Path of the calendar's JSON document.")

    def handle(self, *args, **options):
        path = Path(options["file"])
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CommandError(f"{path}: no such file") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CommandError(f"{path}: not a JSON document ({exc})") from None
        try:
            calendar, created = calendar_import(document=document)
        except ApplicationError as exc:
            raise CommandError(f"{path}: {exc.message}") from None
        verb = "Created" if created else "Updated"
        self.stdout.write(
            f"{verb} calendar {calendar.code} ({calendar.timezone}): "
            f"{len(calendar.holidays)} holidays, {len(calendar.workdays)} make-up working days."
        )
