"""Durations as written in rules.yaml, settings and the CLI: ``90d``, ``36h``, ``15m``, ``1d12h``,
``500ms``, ``1.5s``. One parser for every caller; callers differ only in whether a bare number is
allowed (and in which unit it is then read)."""

from __future__ import annotations

import re
from typing import Any

from alerting.timeutil import DAY, HOUR, MINUTE, SECOND

UNIT_MS = {"ms": 1, "s": SECOND, "m": MINUTE, "h": HOUR, "d": DAY, "w": 7 * DAY}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_HINT = "use a number and a unit (ms, s, m, h, d, w), e.g. '90d', '36h', '15m' or '1d12h'"


def parse_duration(value: Any, *, bare: str | None = None) -> int:
    """A duration in whole milliseconds.

    ``bare`` is the unit of a bare number (e.g. ``"s"``); when None a bare number is refused,
    because its unit would be a guess (0 is always allowed). Raises ValueError with a readable
    message; negative durations are refused.
    """
    if isinstance(value, bool):
        raise ValueError(f"duration must be a string: {_HINT}")
    if isinstance(value, int | float):
        if value == 0:
            return 0
        if bare is None:
            raise ValueError(f"bad duration {value!r}: {_HINT}")
        if value < 0:
            raise ValueError("duration must not be negative")
        return round(value * UNIT_MS[bare])
    if not isinstance(value, str):
        raise ValueError(f"duration must be a string: {_HINT}")
    text = value.strip().replace(" ", "")
    if bare is not None and _is_number(text):
        return parse_duration(float(text), bare=bare)
    pos, total = 0, 0.0
    for m in _PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * UNIT_MS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(f"bad duration {value!r}: {_HINT}")
    return round(total)


def parse_seconds(value: Any) -> float:
    """A duration as float seconds; a bare number is seconds (notifier timeouts, backoff)."""
    return parse_duration(value, bare="s") / SECOND


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
