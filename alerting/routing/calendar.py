"""Business time: deadlines that only run during working hours on working days.

Integer arithmetic on epoch milliseconds in the calendar's fixed UTC offset: a local day is
``(ms + offset) // DAY``; epoch day 0 (1970-01-01) was a Thursday. A day is a working day if it
is a make-up working day, or neither a weekend day nor a holiday.
"""

from __future__ import annotations

from datetime import date

from alerting.errors import ConfigError
from alerting.routing.spec import CalendarSpec
from alerting.timeutil import DAY, MINUTE

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# A calendar with no working day in ten years is a configuration error, not an endless loop.
_MAX_DAYS_SCANNED = 3660
# Warn this long before the holiday list runs out: the State Council's notice for next year
# comes out in November or December.
NOTICE_DAYS = 30


def epoch_day(d: date) -> int:
    """Days since 1970-01-01 of a calendar date."""
    return d.toordinal() - _EPOCH_ORDINAL


def iso_weekday(day: int) -> int:
    """ISO weekday (Mon=1 … Sun=7) of an epoch day number."""
    return (day + 3) % 7 + 1


class BusinessCalendar:
    """Working-time arithmetic for one ``CalendarSpec``."""

    def __init__(self, spec: CalendarSpec | None = None) -> None:
        self.update(spec)

    def update(self, spec: CalendarSpec | None) -> None:
        """Take a new calendar in place (a rules reload: next year's holidays), so that every
        holder (escalation, workload, digest) sees it; deadlines already set stay as they are."""
        spec = spec or CalendarSpec()
        self.offset_ms = spec.offset_minutes * MINUTE
        self.offset_minutes = spec.offset_minutes
        self.spans = [(a * MINUTE, b * MINUTE) for a, b in spec.spans_minutes()]
        self.weekend = spec.weekend_days()
        self.holidays = frozenset(epoch_day(d) for d in spec.holidays)
        self.workdays = frozenset(epoch_day(d) for d in spec.workdays)

    def local_day(self, ms: int) -> int:
        """Epoch day number of ``ms`` in the calendar's local time."""
        return (ms + self.offset_ms) // DAY

    def local_date(self, ms: int) -> date:
        """Local calendar date of ``ms``."""
        return date.fromordinal(self.local_day(ms) + _EPOCH_ORDINAL)

    def day_start_ms(self, day: int) -> int:
        """Epoch ms of local midnight starting epoch day ``day``."""
        return day * DAY - self.offset_ms

    def is_working_day(self, day: int) -> bool:
        """Whether local epoch day ``day`` has working hours."""
        if day in self.workdays:
            return True
        return day not in self.holidays and iso_weekday(day) not in self.weekend

    def is_business_time(self, ms: int) -> bool:
        """Whether ``ms`` falls inside working hours (start inclusive, end exclusive)."""
        day = self.local_day(ms)
        if not self.is_working_day(day):
            return False
        tod = ms - self.day_start_ms(day)
        return any(a <= tod < b for a, b in self.spans)

    def add_business_time(self, start_ms: int, duration_ms: int) -> int:
        """The instant at which ``duration_ms`` of working time has elapsed after ``start_ms``.

        Time outside working hours does not count; a deadline that runs out exactly at the end
        of a span is that end (17:30, not 09:00 next day). A zero duration returns ``start_ms``.
        """
        if duration_ms < 0:
            raise ValueError("duration must not be negative")
        if duration_ms == 0:
            return start_ms
        remaining = duration_ms
        day = self.local_day(start_ms)
        t = start_ms - self.day_start_ms(day)  # time of day, ms
        for _ in range(_MAX_DAYS_SCANNED + remaining // DAY + 1):
            if self.is_working_day(day):
                base = self.day_start_ms(day)
                for a, b in self.spans:
                    if t >= b:
                        continue
                    begin = max(t, a)
                    if remaining <= b - begin:
                        return base + begin + remaining
                    remaining -= b - begin
                    t = b
            day += 1
            t = 0
        raise ConfigError("calendar: no working time found (check weekend/holidays)")

    def business_time_between(self, start_ms: int, end_ms: int) -> int:
        """Working milliseconds in [start_ms, end_ms) (for reports and tests)."""
        total = 0
        day = self.local_day(start_ms)
        while self.day_start_ms(day) < end_ms:
            if self.is_working_day(day):
                base = self.day_start_ms(day)
                for a, b in self.spans:
                    lo, hi = max(start_ms, base + a), min(end_ms, base + b)
                    total += max(0, hi - lo)
            day += 1
        return total


def holidays_listed_until(spec: CalendarSpec) -> date | None:
    """The last day the holiday list covers: 31 December of the latest year with a listed
    holiday or make-up working day. None when it lists none (the bank does not use holidays).

    Holidays are announced a year at a time, so a year with any listed day counts as listed
    whole; after it, public holidays would count as working days without anyone noticing."""
    days = [*spec.holidays, *spec.workdays]
    return date(max(d.year for d in days), 12, 31) if days else None


def holidays_end_timestamp(spec: CalendarSpec) -> float:
    """Unix time (seconds) of the local midnight ending ``holidays_listed_until``; 0 if none."""
    last = holidays_listed_until(spec)
    if last is None:
        return 0.0
    return BusinessCalendar(spec).day_start_ms(epoch_day(last) + 1) / 1000


def coverage_warning(spec: CalendarSpec, now_s: float,
                     notice_days: int = NOTICE_DAYS) -> str | None:
    """A warning when the holiday list ends within ``notice_days`` of ``now_s`` (Unix time;
    the calendar's local date) or already has, else None."""
    last = holidays_listed_until(spec)
    if last is None or (last - BusinessCalendar(spec).local_date(int(now_s * 1000))).days \
            >= notice_days:
        return None
    nxt = last.year + 1
    return (f"calendar: holidays are listed up to {last.year} only: from {nxt}-01-01 "
            f"business-time deadlines count public holidays as working days; add {nxt}'s "
            f"holidays and make-up working days (calendar.holidays, calendar.workdays)")
