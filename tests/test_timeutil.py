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


def test_format_ts_is_the_isoformat_of_to_datetime():
    """format_ts's integer arithmetic gives exactly what the datetime route gives, and
    to_datetime is the instant in the asked offset (random instants 1900-2100, offsets -12h to
    +14h, with and without milliseconds, and the day and year edges)."""
    import random
    from datetime import UTC, datetime, timedelta

    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    rng = random.Random(5)
    edges = [0, -1, 1, DAY - 1, DAY, 1735660799999, 1735660800000, -2208988800000]
    for i in range(20_000):
        ms = edges[i] if i < len(edges) else rng.randrange(-2208988800000, 4102444800000)
        if i % 2:
            ms -= ms % 1000  # whole seconds: no fraction in the text
        off = rng.choice([0, 480, -300, -330, 330, 345, -720, 840, rng.randrange(-720, 841)])
        dt = to_datetime(ms, off)
        assert dt == epoch + timedelta(milliseconds=ms)
        assert dt.utcoffset() == timedelta(minutes=off)
        spec = "milliseconds" if ms % 1000 else "seconds"
        assert format_ts(ms, off) == dt.isoformat(timespec=spec), (ms, off)
