"""``apps.core.db.stand_ins_replaced``: the parameters of SQL compiled once for stand-ins get
this use's values in the stand-ins' places, and nothing else moves."""

import datetime as dt
from decimal import Decimal

from apps.core.db import stand_ins_replaced

STAND_IN_ID = -7_000_001
STAND_IN_AT = dt.datetime(1901, 1, 1, tzinfo=dt.UTC)


def test_each_stand_in_takes_its_value_wherever_it_occurs():
    at = dt.datetime(2026, 12, 7, 9, 30, tzinfo=dt.UTC)
    params = (STAND_IN_ID, "sent", 0, STAND_IN_AT, STAND_IN_ID, [1, 2], Decimal("1.5"), None)
    assert stand_ins_replaced(params, {STAND_IN_ID: 42, STAND_IN_AT: at}) == [
        42, "sent", 0, at, 42, [1, 2], Decimal("1.5"), None
    ]  # fmt: skip


def test_a_value_equal_to_no_stand_in_is_kept_even_when_unhashable():
    params = [7, {"a": 1}, [STAND_IN_ID]]
    assert stand_ins_replaced(params, {STAND_IN_ID: 42}) == [7, {"a": 1}, [STAND_IN_ID]]
