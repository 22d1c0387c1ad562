"""The profile forms built from the model (``apps.customers.forms``) speak the reader's language:
their labels stay lazy, so a form class made at import time is not frozen in English."""

from django.utils import translation

from apps.customers.forms import profile_formfields


def test_profile_labels_follow_the_active_language():
    fields = profile_formfields()
    with translation.override("zh-hans"):
        labels = {name: str(fields[name].label) for name in ("first_name", "phone", "store")}
    with translation.override("en"):
        english = {name: str(fields[name].label) for name in ("first_name", "phone", "store")}
    assert english == {"first_name": "First name", "phone": "Phone", "store": "Enrolment store"}
    assert all(labels[name] != english[name] for name in labels), labels
