"""The ``routing:`` and ``calendar:`` sections of rules.yaml.

Both are pydantic v2 models (extra="forbid", frozen) with defaults, so an empty section is valid:
no receivers means no notifications, and escalation, workload caps and digests are off until
configured. Durations are strings like ``30s``, ``15m``, ``2h``, ``3d`` (or a number of seconds)
and are held as integer milliseconds.

```yaml
routing:
  route:
    receiver: managers
    group_by: [assignee]
    group_wait: 30s
    group_interval: 5m
    repeat_interval: 4h
    routes:
      - match: {severity: critical}
        receiver: risk_desk
        continue: true
      - match_re: {rule: "^complaint_"}
        receiver: service_quality
  receivers:
    - name: managers
      notifiers: [{type: redis_inbox}, {type: email, host: smtp.bank, from: alerts@bank}]
  escalation: {ack_deadline: {critical: 30m, high: 2h, medium: 1d, low: 3d},
               business_time: true, max_level: 3}
  workload: {max_per_day: 20}
  digest: {at: "08:30", receiver: managers}
calendar:
  timezone: "+08:00"
  working_hours: ["09:00-12:00", "13:30-17:30"]
  weekend: [sat, sun]
  holidays: [2026-10-01, 2026-10-02]
  workdays: [2026-10-10]          # make-up working days on a weekend
```
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from alerting.durations import parse_duration
from alerting.notifiers.config import NotifierConfig, notifier_names
from alerting.timeutil import DAY, HOUR, MINUTE

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_OFFSET = re.compile(r"^([+-])(\d\d):(\d\d)$")
_WEEKDAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}
MATCH_KEYS = ("rule", "severity", "tier", "branch", "assignee", "assignee_role", "customer")


def parse_duration_ms(value: Any) -> int:
    """``"15m"`` → 900000; a bare number is seconds. Raises ValueError with a readable message."""
    return parse_duration(value, bare="s")


def parse_hhmm(value: str) -> int:
    """``"08:30"`` → minutes after midnight."""
    m = _HHMM.match(value.strip())
    if not m:
        raise ValueError(f"bad time of day {value!r}: use HH:MM, e.g. 08:30")
    return int(m.group(1)) * 60 + int(m.group(2))


def parse_offset(value: str) -> int:
    """``"+08:00"`` → 480 minutes."""
    m = _OFFSET.match(value.strip())
    if not m or int(m.group(2)) > 14 or int(m.group(3)) > 59:
        raise ValueError(f"bad timezone offset {value!r}: use e.g. +08:00")
    minutes = int(m.group(2)) * 60 + int(m.group(3))
    return -minutes if m.group(1) == "-" else minutes


DurationMs = Annotated[int, BeforeValidator(parse_duration_ms)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Route(_Model):
    """A node of the routing tree. Unset ``receiver``/``group_*``/``repeat_interval`` inherit
    from the parent. ``match`` keys: rule, severity, tier, branch, assignee, assignee_role,
    customer, or any task label."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    receiver: str | None = None
    match: dict[str, str] = Field(default_factory=dict)
    match_re: dict[str, str] = Field(default_factory=dict)
    continue_: bool = Field(False, alias="continue")
    group_by: list[str] | None = None
    group_wait: DurationMs | None = None
    group_interval: DurationMs | None = None
    repeat_interval: DurationMs | None = None
    routes: list[Route] = Field(default_factory=list)

    @field_validator("match_re")
    @classmethod
    def _regexes_compile(cls, v: dict[str, str]) -> dict[str, str]:
        for key, pattern in v.items():
            try:
                re.compile(pattern)
            except re.error as e:
                raise ValueError(f"match_re.{key}: bad regular expression: {e}") from None
        return v

    def receivers_used(self) -> set[str]:
        """Every receiver named in this subtree."""
        out = {self.receiver} if self.receiver else set()
        for r in self.routes:
            out |= r.receivers_used()
        return out


class Receiver(_Model):
    """A named set of notifiers; a notification for the receiver goes to each of them."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    notifiers: list[NotifierConfig] = Field(default_factory=list)


SEVERITY_NAMES = ("info", "low", "medium", "high", "critical")


class EscalationSpec(_Model):
    """Acknowledgement deadlines per severity; an unacknowledged task climbs one level (the
    assignee's supervisor) each time its deadline passes, up to ``max_level``."""

    ack_deadline: dict[str, DurationMs] = Field(default_factory=lambda: {
        "critical": 30 * MINUTE, "high": 2 * HOUR, "medium": DAY, "low": 3 * DAY})
    business_time: bool = False
    max_level: int = Field(3, ge=0, le=10)

    @field_validator("ack_deadline")
    @classmethod
    def _known_severities(cls, v: dict[str, int]) -> dict[str, int]:
        for sev, ms in v.items():
            if sev not in SEVERITY_NAMES:
                raise ValueError(f"unknown severity {sev!r}: use {', '.join(SEVERITY_NAMES)}")
            if ms <= 0:
                raise ValueError(f"ack_deadline.{sev} must be > 0")
        return v


class WorkloadSpec(_Model):
    """At most ``max_per_day`` new tasks per manager per local day; overflow goes to the
    supervisor's queue."""

    max_per_day: int = Field(20, ge=1)


class DigestSpec(_Model):
    """A daily schedule (日程表) per manager at local time ``at``, sent through ``receiver``."""

    at: str = "08:30"
    receiver: str
    business_days_only: bool = True
    include_acknowledged: bool = True

    @field_validator("at")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        parse_hhmm(v)
        return v

    @property
    def at_minutes(self) -> int:
        """Minutes after local midnight."""
        return parse_hhmm(self.at)


class RoutingSpec(_Model):
    """Routing tree, receivers, escalation, workload cap and daily digest."""

    route: Route = Field(default_factory=lambda: Route.model_validate({}))
    receivers: list[Receiver] = Field(default_factory=list)
    escalation: EscalationSpec | None = None
    workload: WorkloadSpec | None = None
    digest: DigestSpec | None = None

    @model_validator(mode="after")
    def _receivers_exist(self) -> RoutingSpec:
        names = [r.name for r in self.receivers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"receivers: duplicate name(s) {', '.join(dupes)}")
        all_names = [n for r in self.receivers for n in notifier_names(r.name, r.notifiers)]
        clash = sorted({n for n in all_names if all_names.count(n) > 1})
        if clash:
            raise ValueError(f"receivers: notifier name(s) used twice: {', '.join(clash)}")
        used = self.route.receivers_used()
        if self.digest is not None:
            used.add(self.digest.receiver)
        missing = sorted(used - set(names))
        if missing:
            raise ValueError(f"route names undefined receiver(s): {', '.join(missing)}")
        return self

    def notifier_configs(self) -> dict[str, list[NotifierConfig]]:
        """``{receiver: [NotifierConfig...]}``, the input of
        ``alerting.notifiers.registry.build_receivers`` (then ``Outbox(receivers)``)."""
        return {r.name: list(r.notifiers) for r in self.receivers}

    def receiver(self, name: str) -> Receiver | None:
        """The receiver with that name."""
        return next((r for r in self.receivers if r.name == name), None)


class CalendarSpec(_Model):
    """Business calendar: local offset, working hours, weekend days, holidays, make-up days."""

    timezone: str = "+08:00"
    working_hours: list[str] = Field(default_factory=lambda: ["09:00-17:30"])
    weekend: list[str | int] = Field(default_factory=lambda: list[str | int](["sat", "sun"]))
    holidays: list[date] = Field(default_factory=list)
    workdays: list[date] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _offset(cls, v: str) -> str:
        parse_offset(v)
        return v

    @field_validator("working_hours")
    @classmethod
    def _hours(cls, v: list[str]) -> list[str]:
        spans = [_parse_span(s) for s in v]
        if not spans:
            raise ValueError("working_hours needs at least one span like 09:00-17:30")
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            if start < end:
                raise ValueError("working_hours spans overlap")
        return v

    @field_validator("weekend")
    @classmethod
    def _weekend(cls, v: list[str | int]) -> list[str | int]:
        days = {_weekday(d) for d in v}
        if len(days) == 7:
            raise ValueError("weekend cannot be every day of the week")
        return v

    @property
    def offset_minutes(self) -> int:
        """The calendar's UTC offset in minutes."""
        return parse_offset(self.timezone)

    def spans_minutes(self) -> list[tuple[int, int]]:
        """Working spans as sorted (start, end) minutes after local midnight."""
        return sorted(_parse_span(s) for s in self.working_hours)

    def weekend_days(self) -> frozenset[int]:
        """ISO weekday numbers (Mon=1 … Sun=7) that are not working days."""
        return frozenset(_weekday(d) for d in self.weekend)


def _parse_span(s: str) -> tuple[int, int]:
    start, sep, end = s.partition("-")
    if not sep:
        raise ValueError(f"bad working hours {s!r}: use HH:MM-HH:MM, e.g. 09:00-17:30")
    a, b = parse_hhmm(start), (24 * 60 if end.strip() == "24:00" else parse_hhmm(end))
    if b <= a:
        raise ValueError(f"bad working hours {s!r}: the end must be after the start")
    return a, b


def _weekday(d: str | int) -> int:
    if isinstance(d, int) and 1 <= d <= 7:
        return d
    n = _WEEKDAYS.get(str(d).strip().lower()[:3])
    if n is None:
        raise ValueError(f"bad weekday {d!r}: use mon..sun or 1..7 (Mon=1)")
    return n
