from decimal import Decimal

import pytest

from alerting.errors import BadEvent
from alerting.money import format_money, format_money_grouped, parse_money, to_cents


@pytest.mark.parametrize(
    ("raw", "cents"),
    [("200000.00", 20_000_000), ("200000", 20_000_000), (200000, 20_000_000), ("0.01", 1),
     (0.1, 10), (0.3, 30), ("  12.5 ", 1250), ("1e3", 100_000)],
)
def test_to_cents_is_exact(raw, cents):
    assert to_cents(raw) == cents


def test_float_sums_do_not_drift():
    assert to_cents(0.1) + to_cents(0.2) == to_cents("0.30")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [("abc", "bad_amount"), ("NaN", "bad_amount"), ("Infinity", "bad_amount"),
     (float("inf"), "bad_amount"), ("0", "bad_amount"), (-5, "bad_amount"),
     ("1.001", "bad_amount"), (True, "bad_amount"), (None, "bad_amount"), ([1], "bad_amount")],
)
def test_to_cents_rejects(raw, reason):
    with pytest.raises(BadEvent) as ei:
        to_cents(raw)
    assert ei.value.reason == reason


def test_balance_may_be_zero_or_negative():
    assert to_cents("-10.50", field="balance_after", allow_zero=True, allow_negative=True) == -1050
    assert parse_money("0") == 0


def test_format():
    assert format_money(20_000_000) == "200000.00"
    assert format_money(-5) == "-0.05"
    assert format_money(Decimal("1234.5")) == "12.35"
    assert format_money_grouped(123_456_789) == "1,234,567.89"
    assert format_money_grouped(-100) == "-1.00"
