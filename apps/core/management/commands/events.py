import json

from django.core.management.base import BaseCommand

from apps.core import catalogue, events


class Command(BaseCommand):
    help = "List every domain event with its publishers and subscribers."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print JSON instead of text.")

    def handle(self, *args, **options):
        published = catalogue.publishers()
        rows = []
        for name, description in events.EVENTS.items():
            rows.append(
                {
                    "event": name,
                    "description": description,
                    "publishers": [f"{c.module}.{c.function}" for c in published.get(name, [])],
                    "subscribers": [
                        {"handler": s.name, "when": s.when} for s in events.subscribers(name)
                    ],
                }
            )
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        for row in rows:
            self.stdout.write(self.style.MIGRATE_HEADING(row["event"]))
            self.stdout.write(f"  {row['description']}")
            for publisher in row["publishers"] or ["(none yet)"]:
                self.stdout.write(f"  published by  {publisher}")
            for sub in row["subscribers"]:
                self.stdout.write(f"  {sub['when']:<15}{sub['handler']}")
            if not row["subscribers"]:
                self.stdout.write("  (no subscribers yet)")
