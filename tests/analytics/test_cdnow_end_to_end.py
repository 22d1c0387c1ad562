"""CDNOW through the product: the published sample is imported with the project's own commands
(``import_customers``, ``import_orders``), then ``customer_value --as-of 1997-09-30`` fits the
models on what the database holds. The figures must be the published ones (Fader, Hardie & Lee
2005; Fader & Hardie 2013, in tests/analytics/data/cdnow/README.md):

- BG/NBD r = 0.243, α = 4.414, a = 0.793, b = 2.426 (within 0.5%), LL −9582.4;
- Gamma-Gamma p = 6.25, q = 3.74, v = 15.44 (within 0.5%);
- the 39-week holdout forecast about 1,650 repeat purchase days (1,882 happened).

Purchases on one day by one customer are one purchase day (the summary SQL does that), and the
import's dates are local days in the business time zone, which the summary reads back.
"""

import csv
import io
import json
from collections import Counter

import pytest
from django.core.management import call_command
from django.test import override_settings

from apps.customers.models import Customer, Order
from tests.analytics import cdnow
from tests.customers.factories import StoreFactory

pytestmark = pytest.mark.django_db

PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_GG = {"p": 6.25, "q": 3.74, "v": 15.44}


def _rows():
    with open(cdnow.DATA / "CDNOW_sample.txt", encoding="ascii") as fh:
        for line in fh:
            _original, sample_id, day, _cds, dollars = line.split()
            yield int(sample_id), f"{day[:4]}-{day[4:6]}-{day[6:]}", dollars


@pytest.fixture
def imported(tmp_path):
    """The whole sample through the import commands (2,357 customers, 6,919 orders)."""
    StoreFactory(code="cdnow", name="CDNOW")
    ids = sorted({sample_id for sample_id, _day, _value in _rows()})
    people = tmp_path / "customers.csv"
    with open(people, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["first_name", "last_name", "email", "phone", "joined_at"])
        for sample_id in ids:
            out.writerow(
                ["Cd", f"Buyer {sample_id}", f"cd{sample_id}@example.com", "", "1997-01-01"]
            )
    call_command("import_customers", str(people), stdout=io.StringIO())
    numbers = {
        int(email[2:].split("@")[0]): number
        for email, number in Customer.objects.values_list("email", "member_number")
    }
    orders = tmp_path / "orders.csv"
    seen = Counter()
    with open(orders, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["member_number", "external_id", "store", "placed_at", "total"])
        for sample_id, day, dollars in _rows():
            seen[sample_id] += 1
            out.writerow(
                [numbers[sample_id], f"{sample_id}-{seen[sample_id]}", "cdnow", day, dollars]
            )
    # Thirty-year-old orders: a back-fill this old is allowed by setting, not by default.
    with override_settings(ORDER_HISTORY_YEARS=40):
        call_command("import_orders", str(orders), stdout=io.StringIO())
    return numbers


def _customer_value(*args) -> dict:
    out = io.StringIO()
    call_command("customer_value", "--as-of", "1997-09-30", "--json", *args, stdout=out)
    return json.loads(out.getvalue())


def test_cdnow_through_the_import_commands_gives_the_published_figures(imported, tmp_path):
    """One import (a minute), every check on it: the import, both fits, the holdout forecast,
    the churn model's back-test and the scores file."""
    assert Customer.objects.count() == 2357
    assert Order.objects.count() == 6919

    report = _customer_value("--horizon-days", "273", "--scores", str(tmp_path / "scores.csv"))

    assert report["customers"] == 2357
    for name, published in PUBLISHED_BGNBD.items():
        assert report["bgnbd"][name] == pytest.approx(published, rel=0.005), name
    assert report["bgnbd"]["log_likelihood"] == pytest.approx(-9582.4, abs=0.5)
    for name, published in PUBLISHED_GG.items():
        assert report["gamma_gamma"][name] == pytest.approx(published, rel=0.005), name
    # 39 weeks after 1997-09-30 a good BG/NBD says about 1,650 (1,882 really happened).
    assert report["expected_repeat_purchases"] == pytest.approx(1650, rel=0.03)
    churn = report["churn_model"]
    assert set(churn) == {"auc", "baseline_auc", "fitted_at"}
    assert churn["auc"] > churn["baseline_auc"] > 0.5

    with open(tmp_path / "scores.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == [
        "member_number",
        "frequency",
        "recency",
        "T",
        "monetary",
        "expected_purchases",
        "p_alive",
        "churn_risk",
        "predicted_clv",
    ]
    assert len(rows) == 2357
    assert sum(int(r["frequency"]) for r in rows) == 2457
    s = cdnow.summary()
    first = {row["member_number"]: row for row in rows}[imported[1]]
    assert int(first["frequency"]) == int(s.frequency[0]) == 2
    assert float(first["recency"]) == pytest.approx(s.recency[0], abs=0.01)
    assert float(first["T"]) == pytest.approx(s.T[0], abs=0.01)
    assert 0 < float(first["p_alive"]) <= 1 and 0 <= float(first["churn_risk"]) <= 1
