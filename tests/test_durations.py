import pytest

from alerting.durations import parse_duration, parse_seconds


@pytest.mark.parametrize(
    ("raw", "ms"),
    [("90d", 90 * 86_400_000), ("36h", 36 * 3_600_000), ("15m", 900_000), ("1d12h", 129_600_000),
     ("500ms", 500), ("1.5s", 1500), ("2w", 14 * 86_400_000), (" 3 h ", 10_800_000), (0, 0)],
)
def test_units_and_compounds(raw, ms):
    assert parse_duration(raw) == ms


@pytest.mark.parametrize("raw", ["", "90", "90x", "d", "1d 2", "-5m", True, None, [1], 90])
def test_rejects_without_a_unit(raw):
    with pytest.raises(ValueError):
        parse_duration(raw)


def test_bare_numbers_take_the_callers_unit():
    assert parse_duration(30, bare="s") == 30_000
    assert parse_duration("2.5", bare="s") == 2500
    assert parse_seconds("500ms") == 0.5
    assert parse_seconds(2) == 2.0
    with pytest.raises(ValueError):
        parse_duration(-1, bare="s")
