"""Read the CDNOW sample (tests/analytics/data/cdnow) into the per-customer arrays the models use.

Purchases on one day by one customer are one purchase day (values summed), as in Fader, Hardie &
Lee (2005). Time is in weeks; the as-of date is inclusive, so a first purchase on 1997-01-01 gives
T = 272 days / 7 = 38.857 weeks at 1997-09-30.
"""

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data" / "cdnow"
CALIBRATION_END = np.datetime64("1997-09-30")
HOLDOUT_END = np.datetime64("1998-06-30")
HOLDOUT_WEEKS = 39.0


@dataclass(frozen=True)
class Summary:
    """Per customer (index = sample id − 1) over the calibration period."""

    frequency: np.ndarray  # repeat purchase days
    recency: np.ndarray  # weeks, first to last purchase day
    T: np.ndarray  # weeks, first purchase day to the end of calibration
    monetary: np.ndarray  # mean value of the repeat purchase days (0 if none)
    first_value: np.ndarray  # value of the first purchase day
    holdout_days: np.ndarray  # purchase days in the holdout period


@cache
def purchase_days() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(customer index 0.., day as datetime64[D], summed value) per customer-day, sorted."""
    raw = np.loadtxt(DATA / "CDNOW_sample.txt", dtype=str)
    customer = raw[:, 1].astype(int) - 1
    day = np.array([f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in raw[:, 2]], dtype="datetime64[D]")
    value = raw[:, 4].astype(float)
    key = customer.astype(np.int64) * 100_000 + day.astype(np.int64)
    unique, inverse = np.unique(key, return_inverse=True)
    summed = np.bincount(inverse, weights=value)
    cust = (unique // 100_000).astype(int)
    days = (unique % 100_000).astype("datetime64[D]")
    return cust, days, summed


@cache
def summary() -> Summary:
    cust, days, value = purchase_days()
    n = int(cust.max()) + 1
    calib = days <= CALIBRATION_END
    first = np.full(n, np.datetime64("2100-01-01"), dtype="datetime64[D]")
    np.minimum.at(first, cust, days)
    last = np.full(n, np.datetime64("1900-01-01"), dtype="datetime64[D]")
    np.maximum.at(last, cust[calib], days[calib])
    count = np.bincount(cust[calib], minlength=n)
    is_first = days == first[cust]
    repeat = calib & ~is_first
    repeat_value = np.bincount(cust[repeat], weights=value[repeat], minlength=n)
    frequency = count - 1
    monetary = np.divide(repeat_value, frequency, out=np.zeros(n), where=frequency > 0)
    first_value = np.bincount(cust[is_first], weights=value[is_first], minlength=n)
    holdout = (days > CALIBRATION_END) & (days <= HOLDOUT_END)
    return Summary(
        frequency=frequency.astype(float),
        recency=(last - first).astype(float) / 7.0,
        T=(CALIBRATION_END - first).astype(float) / 7.0,
        monetary=monetary,
        first_value=first_value,
        holdout_days=np.bincount(cust[holdout], minlength=n).astype(float),
    )


def published_summary() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frequency, recency, T) from cdnow_customers_summary.csv, ordered by ID."""
    data = np.loadtxt(DATA / "cdnow_customers_summary.csv", delimiter=",", skiprows=1)
    data = data[np.argsort(data[:, 0])]
    return data[:, 1], data[:, 2], data[:, 3]
