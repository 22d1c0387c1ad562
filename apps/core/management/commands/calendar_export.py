"""``manage.py calendar_export CODE [-o FILE]``: a business calendar as its JSON document."""

import json

from django.core.management.base import BaseCommand, CommandError

from apps.core.calendars import calendar_export
from apps.core.models import BusinessCalendar


class Command(BaseCommand):
    help = "Export a business calendar as JSON (the shape calendar_import reads)."

    def add_arguments(self, parser):
        parser.add_argument("code")
        parser.add_argument("-o", "--output", help="Write to this file instead of stdout.")

    def handle(self, *args, **options):
        calendar = BusinessCalendar.objects.filter(code=options["code"]).first()
        if calendar is None:
            raise CommandError(f"No calendar with code {options['code']!r}.")
        text = json.dumps(calendar_export(calendar), ensure_ascii=False, indent=2) + "\n"
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8") as fh:
                fh.write(text)
        else:
            self.stdout.write(text, ending="")
