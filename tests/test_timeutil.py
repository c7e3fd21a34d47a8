import pytest

from alerting.errors import BadEvent
from alerting.timeutil import DAY, format_ts, parse_ts, to_datetime


def test_same_instant_in_two_offsets():
    a, tz_a = parse_ts("2024-03-01T10:00:00+08:00")
    b, tz_b = parse_ts("2024-03-01T02:00:00Z")
    assert a == b
    assert (tz_a, tz_b) == (480, 0)


def test_round_trip_keeps_offset_and_millis():
    for s in ("2024-03-01T10:00:00+08:00", "2024-03-01T10:00:00.123-05:30"):
        assert format_ts(*parse_ts(s)) == s


def test_day_arithmetic():
    a, _ = parse_ts("2024-02-28T23:00:00+08:00")
    b, _ = parse_ts("2024-02-29T23:00:00+08:00")
    assert b - a == DAY
    assert to_datetime(b, 480).day == 29


@pytest.mark.parametrize("raw", ["2024-03-01T10:00:00", "yesterday", 1709258400, None, ""])
def test_rejects_naive_or_garbage(raw):
    with pytest.raises(BadEvent):
        parse_ts(raw)
