"""The rules.yaml model (pydantic v2, ``extra="forbid"``, frozen). ``rules`` is a union
discriminated by ``kind``, so an error points at the rule and its field."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alerting.models import TRANSACTION_KINDS
from alerting.routing.spec import CalendarSpec, RoutingSpec
from alerting.rules.common import Duration, Money, Role, Severity
from alerting.rules.deviation import DeviationSpec
from alerting.rules.inactivity import InactivitySpec
from alerting.rules.reactivation import ReactivationSpec
from alerting.rules.repeated import RepeatedSpec
from alerting.rules.sequence import SequenceSpec
from alerting.rules.sla import SlaSpec
from alerting.rules.threshold import ThresholdSpec
from alerting.rules.window import WindowSpec
from alerting.timeutil import DAY, HOUR

_OFFSET_RE = re.compile(r"^([+-])(\d{2}):(\d{2})$")

AnyRule = Annotated[
    ThresholdSpec | DeviationSpec | WindowSpec | ReactivationSpec | InactivitySpec
    | RepeatedSpec | SlaSpec | SequenceSpec,
    Field(discriminator="kind"),
]

_DEFAULT_DUE = {"critical": 4 * HOUR, "high": DAY, "medium": 3 * DAY, "low": 7 * DAY,
                "info": 14 * DAY}


def parse_offset(value: str) -> int:
    """``"+08:00"`` → 480 (minutes); ``"Z"``/``"UTC"`` → 0."""
    if value in ("Z", "UTC", "+00:00"):
        return 0
    m = _OFFSET_RE.match(value)
    if not m or int(m.group(3)) >= 60 or int(m.group(2)) > 14:
        raise ValueError(f"bad timezone offset {value!r}: use a fixed offset like '+08:00'")
    mins = int(m.group(2)) * 60 + int(m.group(3))
    return -mins if m.group(1) == "-" else mins


class Defaults(BaseModel):
    """File-wide defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    timezone: str = "+08:00"
    locale: Literal["zh", "en"] = "zh"
    late_grace: Duration = HOUR
    due: dict[Severity, Duration] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        parse_offset(v)
        return v

    @property
    def tz_minutes(self) -> int:
        """The default offset in minutes."""
        return parse_offset(self.timezone)

    def due_for(self, severity: str) -> int:
        """Default time to act for a severity, in ms."""
        return self.due.get(severity, _DEFAULT_DUE[severity])  # type: ignore[call-overload]


class TierLabel(BaseModel):
    """Display names of a tier."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    zh: str = ""
    en: str = ""


class TierSpec(BaseModel):
    """A customer tier by daily average assets."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: Annotated[str, Field(pattern=r"^[a-z0-9_\-]{1,32}$")]
    min_assets: Money
    owner_role: Role | None = None
    large_amount: Money | None = None
    label: TierLabel = TierLabel()


class ActivitySpec(BaseModel):
    """Which events count as customer-initiated activity (dormancy, inactivity)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    transaction_kinds: list[str] = Field(
        default_factory=lambda: ["deposit", "withdrawal", "transfer_in", "transfer_out"])
    channels: list[str] | None = None  # None = every channel
    complaints: bool = True

    @field_validator("transaction_kinds")
    @classmethod
    def _kinds(cls, v: list[str]) -> list[str]:
        bad = [k for k in v if k not in TRANSACTION_KINDS]
        if bad:
            raise ValueError(f"unknown transaction kind(s) {bad}: use "
                             + ", ".join(sorted(TRANSACTION_KINDS)))
        return v


class ExpectSpec(BaseModel):
    """One expected task of an in-file test."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    rule: str
    customer: str
    count: int = Field(default=1, ge=0)
    evidence: dict[str, Any] | None = None


class TestSpec(BaseModel):
    """An in-file rule test (promtool style)."""

    __test__ = False  # not a pytest class
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    customers: list[dict[str, Any]] = Field(default_factory=list)
    events: list[dict[str, Any]] = Field(default_factory=list)
    advance_to: str | None = None
    expect: list[ExpectSpec]


class RulesFile(BaseModel):
    """The whole rules.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: Literal[1] = 1
    defaults: Defaults = Defaults()
    tiers: list[TierSpec] = Field(default_factory=list)
    activity: ActivitySpec = ActivitySpec()
    rules: list[AnyRule] = Field(default_factory=list)
    routing: RoutingSpec = RoutingSpec()
    calendar: CalendarSpec = CalendarSpec()
    tests: list[TestSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_tiers(self) -> RulesFile:
        names = [t.name for t in self.tiers]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate tier name(s): {', '.join(dup)}")
        return self
