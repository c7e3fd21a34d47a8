"""Event time. Timestamps travel as ISO-8601 with an offset; the engine holds epoch milliseconds
(UTC) plus the event's offset in minutes so that rendering uses the customer's local time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from alerting.errors import BadEvent

MS = 1
SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR

_TZ_CACHE: dict[int, timezone] = {}


def parse_ts(value: object, *, field: str = "ts") -> tuple[int, int]:
    """Parse an ISO-8601 timestamp with offset into (epoch_ms, offset_minutes).

    A timestamp without an offset is rejected: event time must be unambiguous.
    """
    if type(value) is str and len(value) in (20, 25):
        fast = _fast_ts(value)
        if fast is not None:
            return fast
    if not isinstance(value, str):
        raise BadEvent(f"bad_{field}", f"{field} must be an ISO-8601 string")
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise BadEvent(f"bad_{field}", f"{field} is not ISO-8601") from None
    off = dt.utcoffset()
    if off is None:
        raise BadEvent(f"bad_{field}", f"{field} has no UTC offset")
    return _epoch_ms(dt), int(off.total_seconds() // 60)


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_DAY_CACHE: dict[str, int] = {}  # "YYYY-MM-DD" -> days since the epoch
_OFFSET_CACHE: dict[str, int] = {}  # "+08:00" / "Z" -> offset minutes


def _fast_ts(value: str) -> tuple[int, int] | None:
    """The hot path for the canonical ``YYYY-MM-DDTHH:MM:SS+HH:MM`` (or ``Z``) form: cached
    date and offset, integer time of day. Returns None for anything else (the general
    ``fromisoformat`` path then decides), so it accepts nothing the general path rejects."""
    if value[10] != "T" or value[13] != ":" or value[16] != ":":
        return None
    days = _DAY_CACHE.get(value[:10])
    if days is None:
        ds = value[:10]
        if ds[4] != "-" or ds[7] != "-" or not (ds.isascii() and ds.replace("-", "").isdigit()):
            return None
        try:
            days = date.fromisoformat(ds).toordinal() - _EPOCH_ORDINAL
        except ValueError:
            return None
        if len(_DAY_CACHE) > 65536:
            _DAY_CACHE.clear()
        _DAY_CACHE[ds] = days
    hms = value[11:13] + value[14:16] + value[17:19]
    if not (hms.isascii() and hms.isdigit()):
        return None
    h, m, s = int(hms[:2]), int(hms[2:4]), int(hms[4:])
    if h > 23 or m > 59 or s > 59:
        return None
    off = _OFFSET_CACHE.get(value[19:])
    if off is None:
        off = _offset_minutes(value[19:])
        if off is None:
            return None
    return (days * 86400 + h * 3600 + m * 60 + s - off * 60) * 1000, off


def _offset_minutes(suffix: str) -> int | None:
    try:
        delta = datetime.fromisoformat("2000-01-01T00:00:00" + suffix).utcoffset()
    except ValueError:
        return None
    if delta is None or delta.total_seconds() % 60:
        return None
    _OFFSET_CACHE[suffix] = int(delta.total_seconds() // 60)
    return _OFFSET_CACHE[suffix]


def _epoch_ms(dt: datetime) -> int:
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000


def tz_of(offset_min: int) -> timezone:
    """A fixed-offset tzinfo for an offset in minutes (cached)."""
    tz = _TZ_CACHE.get(offset_min)
    if tz is None:
        tz = timezone(timedelta(minutes=offset_min))
        _TZ_CACHE[offset_min] = tz
    return tz


def to_datetime(epoch_ms: int, offset_min: int = 0) -> datetime:
    """Epoch milliseconds back to an aware datetime in the given offset."""
    return datetime(1970, 1, 1, tzinfo=UTC).astimezone(tz_of(offset_min)) + timedelta(
        milliseconds=epoch_ms
    )


def format_ts(epoch_ms: int, offset_min: int = 0) -> str:
    """Render as ISO-8601 with offset, seconds precision unless milliseconds are set."""
    dt = to_datetime(epoch_ms, offset_min)
    spec = "milliseconds" if epoch_ms % 1000 else "seconds"
    return dt.isoformat(timespec=spec)


def from_datetime(dt: datetime) -> int:
    """Aware datetime to epoch milliseconds."""
    if dt.utcoffset() is None:
        raise ValueError("naive datetime")
    return _epoch_ms(dt)
