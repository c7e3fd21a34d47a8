"""The customer and manager directories: who the customer is, what they hold, who looks after
them. The engine reads it (tier, assets, manager) synchronously; adapters fill it from CSV/JSONL
files, Redis or the compacted Kafka topics.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from alerting.errors import ConfigError
from alerting.models import MANAGER_ROLES
from alerting.money import parse_money
from alerting.timeutil import parse_ts


@dataclass(slots=True, frozen=True)
class Customer:
    """A customer profile. ``assets`` is the daily average in cents."""

    customer_id: str
    name: str = ""
    tier: str | None = None  # explicit tier; None = derived from assets by the rules' tiers
    assets: int = 0
    manager_id: str | None = None
    branch_id: str | None = None
    last_activity_at: int | None = None  # epoch ms; seeds dormancy at go-live
    birthday: str | None = None  # YYYY-MM-DD
    segment: str | None = None
    age: int | None = None


@dataclass(slots=True, frozen=True)
class Manager:
    """A member of staff who can own tasks."""

    manager_id: str
    name: str = ""
    role: str = "account_manager"
    supervisor_id: str | None = None
    branch_id: str | None = None
    email: str | None = None
    phone: str | None = None
    wecom_id: str | None = None
    delegate_id: str | None = None  # who covers while absent
    absent: bool = False
    locale: str = "zh"
    channels: dict[str, str] = field(default_factory=dict)


UNKNOWN_CUSTOMER = Customer(customer_id="")


class DirectoryReader(Protocol):
    """What the engine and the router need from a directory."""

    def customer(self, customer_id: str) -> Customer | None: ...

    def manager(self, manager_id: str) -> Manager | None: ...


class Directory:
    """In-memory directory; the embedded default and the per-worker cache."""

    def __init__(self, customers: dict[str, Customer] | None = None,
                 managers: dict[str, Manager] | None = None) -> None:
        self.customers: dict[str, Customer] = customers or {}
        self.managers: dict[str, Manager] = managers or {}

    def customer(self, customer_id: str) -> Customer | None:
        """The customer's profile, or None if unknown."""
        return self.customers.get(customer_id)

    def manager(self, manager_id: str) -> Manager | None:
        """The manager, or None if unknown."""
        return self.managers.get(manager_id)

    def put_customer(self, c: Customer) -> None:
        """Insert or replace a customer profile."""
        self.customers[c.customer_id] = c

    def put_manager(self, m: Manager) -> None:
        """Insert or replace a manager."""
        self.managers[m.manager_id] = m

    def update_customer(self, customer_id: str, fields: dict[str, Any]) -> Customer:
        """Apply a partial profile update (from a ``customer`` event) and return the result."""
        base = self.customers.get(customer_id) or Customer(customer_id=customer_id)
        new = replace(base, **customer_fields(fields))
        self.customers[customer_id] = new
        return new

    def supervisors_of(self, manager_id: str) -> list[Manager]:
        """The escalation chain above a manager, nearest first (cycle-safe)."""
        chain: list[Manager] = []
        seen = {manager_id}
        m = self.managers.get(manager_id)
        while m is not None and m.supervisor_id and m.supervisor_id not in seen:
            seen.add(m.supervisor_id)
            m = self.managers.get(m.supervisor_id)
            if m is not None:
                chain.append(m)
        return chain


def _none_if_blank(v: Any) -> Any:
    return None if v is None or (isinstance(v, str) and v.strip() == "") else v


def customer_fields(raw: dict[str, Any]) -> dict[str, Any]:
    """Validate and convert the customer fields present in ``raw`` (partial allowed)."""
    out: dict[str, Any] = {}
    for key in ("name", "tier", "manager_id", "branch_id", "birthday", "segment"):
        if key in raw:
            v = _none_if_blank(raw[key])
            out[key] = None if v is None else str(v)
    if "name" in out and out["name"] is None:
        out["name"] = ""
    if "assets" in raw:
        v = _none_if_blank(raw["assets"])
        out["assets"] = 0 if v is None else parse_money(v)
    if "age" in raw:
        v = _none_if_blank(raw["age"])
        out["age"] = None if v is None else int(v)
    if "last_activity_at" in raw:
        v = _none_if_blank(raw["last_activity_at"])
        out["last_activity_at"] = None if v is None else parse_ts(v, field="last_activity_at")[0]
    return out


def customer_from_dict(raw: dict[str, Any]) -> Customer:
    """Build a Customer from a CSV row or JSON object."""
    cid = _none_if_blank(raw.get("customer_id"))
    if cid is None:
        raise ConfigError("customer row without customer_id")
    return Customer(customer_id=str(cid), **customer_fields(raw))


def manager_from_dict(raw: dict[str, Any]) -> Manager:
    """Build a Manager from a CSV row or JSON object."""
    mid = _none_if_blank(raw.get("manager_id"))
    if mid is None:
        raise ConfigError("manager row without manager_id")
    role = _none_if_blank(raw.get("role")) or "account_manager"
    if role not in MANAGER_ROLES:
        raise ConfigError(f"manager {mid}: role must be one of {', '.join(MANAGER_ROLES)}")
    absent = str(raw.get("absent") or "").strip().lower() in ("1", "true", "yes", "y")
    kw = {k: (None if _none_if_blank(raw.get(k)) is None else str(raw[k]))
          for k in ("supervisor_id", "branch_id", "email", "phone", "wecom_id", "delegate_id")}
    channels = raw.get("channels") if isinstance(raw.get("channels"), dict) else {}
    return Manager(manager_id=str(mid), name=str(raw.get("name") or ""), role=role,
                   absent=absent, locale=str(raw.get("locale") or "zh"),
                   channels=dict(channels or {}), **kw)
