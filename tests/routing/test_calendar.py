"""Business calendar arithmetic: nights, weekends, holidays, make-up days, exact boundaries."""

from __future__ import annotations

import random
from datetime import date, datetime

import pytest
from pydantic import ValidationError

from alerting.routing.calendar import (
    BusinessCalendar,
    coverage_warning,
    holidays_end_timestamp,
    holidays_listed_until,
    iso_weekday,
)
from alerting.routing.spec import CalendarSpec
from alerting.timeutil import DAY, HOUR, MINUTE, from_datetime, to_datetime


def ms(s: str) -> int:
    return from_datetime(datetime.fromisoformat(s))


def iso(v: int) -> str:
    return to_datetime(v, 480).isoformat()


@pytest.fixture
def cal() -> BusinessCalendar:
    # 2026-10-01 (Thu) and 10-02 (Fri) holidays; Saturday 10-10 a make-up working day
    return BusinessCalendar(CalendarSpec(
        timezone="+08:00", working_hours=["09:00-12:00", "13:30-17:30"],
        holidays=[date(2026, 10, 1), date(2026, 10, 2)], workdays=[date(2026, 10, 10)]))


def test_epoch_day_weekday() -> None:
    assert iso_weekday(0) == 4  # 1970-01-01 was a Thursday


@pytest.mark.parametrize(("start", "duration", "expected"), [
    # inside one span
    ("2026-09-28T09:00:00+08:00", 2 * HOUR, "2026-09-28T11:00:00+08:00"),
    # over the lunch break
    ("2026-09-28T11:00:00+08:00", 2 * HOUR, "2026-09-28T14:30:00+08:00"),
    # exactly to the end of the day stays at 17:30
    ("2026-09-28T16:30:00+08:00", HOUR, "2026-09-28T17:30:00+08:00"),
    # one minute more goes to the next morning
    ("2026-09-28T16:30:00+08:00", HOUR + MINUTE, "2026-09-29T09:01:00+08:00"),
    # started at night: counts from 09:00
    ("2026-09-28T02:00:00+08:00", 30 * MINUTE, "2026-09-28T09:30:00+08:00"),
    # started after close
    ("2026-09-28T19:00:00+08:00", 30 * MINUTE, "2026-09-29T09:30:00+08:00"),
    # started exactly at close
    ("2026-09-28T17:30:00+08:00", 30 * MINUTE, "2026-09-29T09:30:00+08:00"),
    # started exactly at opening
    ("2026-09-29T09:00:00+08:00", 3 * HOUR, "2026-09-29T12:00:00+08:00"),
    # started during lunch
    ("2026-09-29T12:10:00+08:00", 10 * MINUTE, "2026-09-29T13:40:00+08:00"),
    # Friday afternoon over the weekend (2026-09-25 Fri)
    ("2026-09-25T17:00:00+08:00", HOUR, "2026-09-28T09:30:00+08:00"),
    # Saturday: nothing counts until Monday
    ("2026-09-26T10:00:00+08:00", HOUR, "2026-09-28T10:00:00+08:00"),
    # Wednesday evening before the Thu/Fri holidays, weekend after: next is Monday 10-05
    ("2026-09-30T17:00:00+08:00", HOUR, "2026-10-05T09:30:00+08:00"),
    # a full working day (7h) from Friday 10-09 09:00 ends at close
    ("2026-10-09T09:00:00+08:00", 7 * HOUR, "2026-10-09T17:30:00+08:00"),
    # make-up Saturday 10-10 counts
    ("2026-10-09T17:00:00+08:00", HOUR, "2026-10-10T09:30:00+08:00"),
    # three working days (21h) from Monday morning
    ("2026-09-28T09:00:00+08:00", 21 * HOUR, "2026-09-30T17:30:00+08:00"),
    # the start is given in UTC; the calendar works in +08:00
    ("2026-09-28T01:00:00+00:00", HOUR, "2026-09-28T10:00:00+08:00"),
])
def test_add_business_time(cal: BusinessCalendar, start: str, duration: int,
                           expected: str) -> None:
    assert iso(cal.add_business_time(ms(start), duration)) == expected


def test_zero_duration_is_start(cal: BusinessCalendar) -> None:
    t = ms("2026-09-26T10:00:00+08:00")
    assert cal.add_business_time(t, 0) == t


def test_negative_duration_rejected(cal: BusinessCalendar) -> None:
    with pytest.raises(ValueError):
        cal.add_business_time(0, -1)


def test_is_business_time_boundaries(cal: BusinessCalendar) -> None:
    assert cal.is_business_time(ms("2026-09-28T09:00:00+08:00"))
    assert not cal.is_business_time(ms("2026-09-28T08:59:59+08:00"))
    assert not cal.is_business_time(ms("2026-09-28T12:00:00+08:00"))
    assert cal.is_business_time(ms("2026-09-28T13:30:00+08:00"))
    assert not cal.is_business_time(ms("2026-09-28T17:30:00+08:00"))
    assert not cal.is_business_time(ms("2026-10-01T10:00:00+08:00"))  # holiday
    assert cal.is_business_time(ms("2026-10-10T10:00:00+08:00"))  # make-up Saturday
    assert not cal.is_business_time(ms("2026-10-11T10:00:00+08:00"))  # Sunday


def test_add_agrees_with_between_randomised(cal: BusinessCalendar) -> None:
    """Property: the business time between start and the computed deadline is the duration,
    and the deadline lies in (or at the end of) working time."""
    rng = random.Random(7)
    base = ms("2026-09-20T00:00:00+08:00")
    for _ in range(500):
        start = base + rng.randrange(0, 30 * DAY, MINUTE)
        dur = rng.randrange(1, 40 * HOUR, MINUTE)
        end = cal.add_business_time(start, dur)
        assert cal.business_time_between(start, end) == dur
        assert cal.is_business_time(end - 1)


def test_default_calendar_and_24h() -> None:
    c = BusinessCalendar(CalendarSpec(working_hours=["00:00-24:00"], weekend=[],
                                      timezone="+00:00"))
    assert c.add_business_time(5, 3 * DAY) == 5 + 3 * DAY
    d = BusinessCalendar()
    assert iso(d.add_business_time(ms("2026-09-28T17:00:00+08:00"), HOUR)) == \
        "2026-09-29T09:30:00+08:00"


@pytest.mark.parametrize("bad", [
    {"working_hours": []}, {"working_hours": ["9-17"]}, {"working_hours": ["10:00-09:00"]},
    {"working_hours": ["09:00-12:00", "11:00-13:00"]}, {"timezone": "Asia/Shanghai"},
    {"weekend": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}, {"weekend": ["funday"]},
    {"holidays": ["not-a-date"]}, {"lunch": "12:00"},
])
def test_bad_calendar_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        CalendarSpec.model_validate(bad)


def test_holiday_list_coverage_is_whole_years_of_holidays_and_workdays() -> None:
    assert holidays_listed_until(CalendarSpec()) is None
    spec = CalendarSpec(holidays=[date(2026, 10, 1)], workdays=[date(2027, 2, 7)])
    assert holidays_listed_until(spec) == date(2027, 12, 31)
    # the end is local midnight starting 2028-01-01 in the calendar's offset (+08:00)
    assert holidays_end_timestamp(spec) == ms("2028-01-01T00:00:00+08:00") / 1000
    assert holidays_end_timestamp(CalendarSpec()) == 0


@pytest.mark.parametrize(("today", "warns"), [
    (date(2026, 12, 1), False),   # 30 days left
    (date(2026, 12, 2), True),    # 29 days left
    (date(2027, 3, 1), True),     # already past
])
def test_coverage_warning_thirty_days_before_the_list_runs_out(today: date, warns: bool) -> None:
    spec = CalendarSpec(holidays=[date(2026, 1, 1), date(2026, 10, 1)])
    # 00:30 local time on that day, which is still the day before in UTC
    now_s = ms(f"{today.isoformat()}T00:30:00+08:00") / 1000
    warning = coverage_warning(spec, now_s)
    assert (warning is not None) == warns
    if warns:
        assert warning is not None and "up to 2026 only" in warning and "2027-01-01" in warning
    assert coverage_warning(CalendarSpec(), now_s) is None  # no holidays used: nothing to say


def test_update_in_place_changes_what_every_holder_computes() -> None:
    cal = BusinessCalendar(CalendarSpec(holidays=[date(2026, 10, 1)]))
    start = ms("2026-12-31T17:00:00+08:00")
    assert iso(cal.add_business_time(start, HOUR)) == "2027-01-01T09:30:00+08:00"
    cal.update(CalendarSpec(holidays=[date(2026, 10, 1), date(2027, 1, 1)]))
    assert iso(cal.add_business_time(start, HOUR)) == "2027-01-04T09:30:00+08:00"
