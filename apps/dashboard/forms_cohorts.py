"""The cohort retention page's filters (GET): basis, range, measure, store, tier, source."""

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.analytics.cohorts import (
    BASIS_FIRST_PURCHASE,
    BASIS_JOINED,
    MONTH_CHOICES,
    CohortFilters,
)
from apps.customers.enums import Source

MEASURE_RETENTION = "retention"
MEASURE_REVENUE = "revenue"


class CohortFilterForm(forms.Form):
    basis = forms.ChoiceField(
        label=_("Cohort by"),
        required=False,
        choices=[
            (BASIS_JOINED, _("Join month")),
            (BASIS_FIRST_PURCHASE, _("First purchase month")),
        ],
    )
    months = forms.TypedChoiceField(
        label=_("Range"),
        required=False,
        coerce=int,
        choices=[(n, _("Last %(n)s months") % {"n": n}) for n in MONTH_CHOICES],
    )
    measure = forms.ChoiceField(
        label=_("Show"),
        required=False,
        choices=[
            (MEASURE_RETENTION, _("Retention")),
            (MEASURE_REVENUE, _("Revenue per member")),
        ],
    )
    store = forms.ChoiceField(label=_("Store"), required=False)
    tier = forms.ChoiceField(label=_("Tier"), required=False)
    source = forms.ChoiceField(
        label=_("Source"), required=False, choices=[("", _("Any source")), *Source.choices]
    )

    def __init__(self, *args, stores=(), tiers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self._stores = {s.code: s.pk for s in stores}
        self._tiers = {t.slug: t.pk for t in tiers}
        self.fields["store"].choices = [("", _("Any store")), *((s.code, s.name) for s in stores)]
        self.fields["tier"].choices = [("", _("Any tier")), *((t.slug, str(t)) for t in tiers)]

    def _data(self) -> dict:
        """The fields that are valid; a bad value drops only its own filter."""
        if not self.is_bound:
            return {}
        self.is_valid()
        return self.cleaned_data

    def cohort_filters(self) -> CohortFilters:
        """The selector's filters from the valid part of the input (bad values are ignored)."""
        data = self._data()
        return CohortFilters(
            basis=data.get("basis") or BASIS_JOINED,
            months=data.get("months") or MONTH_CHOICES[0],
            store_id=self._stores.get(data.get("store", "")),
            tier_id=self._tiers.get(data.get("tier", "")),
            source=data.get("source", ""),
        )

    @property
    def selected(self) -> dict:
        """The valid values as given (store code, tier slug), for the page's pickers."""
        return self._data()

    @property
    def chosen_measure(self) -> str:
        return self._data().get("measure") or MEASURE_RETENTION
