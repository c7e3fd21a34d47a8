"""The ``routing:`` and ``calendar:`` sections of rules.yaml (placeholder: the routing work
fills these models in; the rules loader embeds them so errors carry the field and line)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RoutingSpec(BaseModel):
    """Routing tree, receivers, escalation and workload settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CalendarSpec(BaseModel):
    """Business calendar: working hours, weekends, holidays."""

    model_config = ConfigDict(extra="forbid", frozen=True)
