"""Factories for the rule-kind, engine and state tests: small rule sets from dicts, wire events
(through the real parser), directories and engines. Plain functions plus fixtures; the rules and
state conftests put ``tests/`` on ``sys.path`` and import from here."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from alerting.directory import Directory, customer_from_dict
from alerting.engine import Engine
from alerting.models import parse_event
from alerting.rules.loader import RuleSet, load_rules

TIERS = [
    {"name": "vip", "min_assets": 1000000, "owner_role": "branch_vp", "large_amount": 500000,
     "label": {"zh": "贵宾", "en": "VIP"}},
    {"name": "key", "min_assets": 200000, "large_amount": 100000,
     "label": {"zh": "重点", "en": "Key"}},
    {"name": "mass", "min_assets": 0, "large_amount": 20000,
     "label": {"zh": "大众", "en": "Mass"}},
]


def build_rules(*rules: dict[str, Any], **top: Any) -> RuleSet:
    """A RuleSet from rule dicts (title defaults to the rule id)."""
    doc: dict[str, Any] = {"version": 1, "tiers": TIERS, **top}
    doc["rules"] = [{"title": r["id"], **r} for r in rules]
    return load_rules(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))


@pytest.fixture
def rules() -> Callable[..., RuleSet]:
    """``rules({...rule...}, defaults={...})`` → RuleSet."""
    return build_rules


_ids = itertools.count(1)


def make_txn(customer: str = "c1", ts: str = "2024-03-01T10:00:00+08:00",
             kind: str = "withdrawal", amount: str = "100", **kw: Any) -> Any:
    """A parsed transaction (through the real wire parser)."""
    d = {"event_id": kw.pop("event_id", f"e{next(_ids)}"), "type": "transaction",
         "customer_id": customer, "ts": ts, "kind": kind, "amount": amount, **kw}
    return parse_event(d)


def make_complaint(customer: str = "c1", ts: str = "2024-03-01T10:00:00+08:00",
                   status: str = "opened", complaint_id: str = "k1", **kw: Any) -> Any:
    """A parsed complaint event."""
    d = {"event_id": kw.pop("event_id", f"e{next(_ids)}"), "type": "complaint",
         "customer_id": customer, "ts": ts, "status": status, "complaint_id": complaint_id,
         "category": kw.pop("category", "fees"), **kw}
    return parse_event(d)


@pytest.fixture
def txn() -> Callable[..., Any]:
    """Transaction factory."""
    return make_txn


@pytest.fixture
def complaint() -> Callable[..., Any]:
    """Complaint factory."""
    return make_complaint


def make_directory(*customers: dict[str, Any]) -> Directory:
    """A directory with the given customer profiles (defaults: c1, assets 300000, manager m1)."""
    d = Directory()
    for raw in customers or ({"customer_id": "c1", "assets": "300000", "manager_id": "m1"},):
        d.put_customer(customer_from_dict(raw))
    return d


@pytest.fixture
def directory() -> Callable[..., Directory]:
    """Directory factory."""
    return make_directory


@pytest.fixture
def engine() -> Callable[..., Engine]:
    """``engine(ruleset, *customer dicts, **engine kwargs)`` → Engine."""
    def make(ruleset: RuleSet, *customers: dict[str, Any], **kw: Any) -> Engine:
        return Engine(ruleset, make_directory(*customers), **kw)
    return make


def run(eng: Engine, events: list[Any]) -> list[Any]:
    """Process events, return all emitted tasks."""
    out: list[Any] = []
    for ev in events:
        out += eng.process(ev)
    return out
