"""``manage.py survey_stats SLUG [--since DATE] [--until DATE] [--json]``: a survey's headline
figures, the same selector (and so the same numbers) as the staff analysis page."""

import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date

from apps.surveys.analysis import survey_summary
from apps.surveys.models import Survey


def _date(value: str | None, option: str) -> dt.date | None:
    if not value:
        return None
    try:
        day = parse_date(value)
    except ValueError:
        day = None
    if day is None:
        raise CommandError(f"{option}: not a date (YYYY-MM-DD): {value!r}")
    return day


class Command(BaseCommand):
    help = (
        "A survey's responses, invitations, NPS with its 95% interval, promoters, passives, "
        "detractors, CSAT and CES (null where the survey has no such question)."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--since", help="first day counted (YYYY-MM-DD, business time zone)")
        parser.add_argument("--until", help="last day counted (YYYY-MM-DD)")
        parser.add_argument("--json", action="store_true", help="print the figures as JSON")

    def handle(self, *args, **options):
        since = _date(options["since"], "--since")
        until = _date(options["until"], "--until")
        survey = Survey.objects.filter(slug=options["slug"]).first()
        if survey is None:
            raise CommandError(f"No survey with code {options['slug']!r}.")
        figures = survey_summary(survey=survey, since=since, until=until).as_dict()
        if options["json"]:
            self.stdout.write(json.dumps(figures))
            return
        self.stdout.write(f"{survey.slug} — {survey.title}")
        for key, value in figures.items():
            shown = "—" if value is None else value
            self.stdout.write(f"  {key.replace('_', ' '):<12} {shown}")
