"""Shared routing fixtures: a branch hierarchy, a task factory, a fake outbox and clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from alerting.directory import Customer, Directory, Manager
from alerting.tasks import Task

# 2026-09-28 (Mon) 10:00 +08:00
T0_MS = 1_790_560_800_000


@pytest.fixture
def directory() -> Directory:
    """Branch B1: president p1 > vp v1 > supervisor s1 > m1 (zh), m2 (en); s2 > m3.
    Branch B2: president p2 > vp v2 > supervisor s9 > m9."""
    d = Directory()
    for m in (Manager("p1", name="President One", role="branch_president", branch_id="B1"),
              Manager("v1", name="VP One", role="branch_vp", supervisor_id="p1",
                      branch_id="B1"),
              Manager("s1", name="Sup One", role="supervisor", supervisor_id="v1",
                      branch_id="B1", email="s1@bank.test"),
              Manager("s2", role="supervisor", supervisor_id="v1", branch_id="B1"),
              Manager("m1", name="Li Wei", supervisor_id="s1", branch_id="B1",
                      email="m1@bank.test"),
              Manager("m2", name="Anna", supervisor_id="s1", branch_id="B1", locale="en"),
              Manager("m3", supervisor_id="s2", branch_id="B1"),
              Manager("p2", role="branch_president", branch_id="B2"),
              Manager("v2", role="branch_vp", supervisor_id="p2", branch_id="B2"),
              Manager("s9", role="supervisor", supervisor_id="v2", branch_id="B2"),
              Manager("m9", supervisor_id="s9", branch_id="B2")):
        d.put_manager(m)
    d.put_customer(Customer("C1", name="Wang", manager_id="m1", branch_id="B1"))
    d.put_customer(Customer("C2", manager_id="m2", branch_id="B1"))
    return d


@pytest.fixture
def make_task() -> Callable[..., Task]:
    def make(task_id: str = "t-1", **kw: Any) -> Task:
        base: dict[str, Any] = dict(
            task_id=task_id, rule_id="large_withdrawal", severity="high", customer_id="C1",
            title="大额取款", body="客户取款 250,000.00", evidence={"amount": "250000.00"},
            event_ids=["e1"], created_at="2026-09-28T10:00:00+08:00",
            due_at="2026-09-28T18:00:00+08:00", created_ms=T0_MS,
            due_ms=T0_MS + 8 * 3_600_000, assignee_id="m1", assignee_role="account_manager",
            branch_id="B1", customer_tier="key",
            translations={"en": {"title": "Large withdrawal",
                                 "body": "Customer withdrew 250,000.00"}})
        base.update(kw)
        return Task(**base)
    return make


class FakeOutbox:
    """In-test stand-in for alerting.notifiers.outbox.Outbox: records what is enqueued and
    applies the contract's dedup on notification_id (the real outbox is tested by its owner)."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.ids: set[str] = set()

    async def enqueue(self, n: Any) -> bool:
        if n.notification_id in self.ids:
            return False
        self.ids.add(n.notification_id)
        self.items.append(n)
        return True

    def take(self) -> list[Any]:
        out, self.items = self.items, []
        return out


@pytest.fixture
def outbox() -> FakeOutbox:
    return FakeOutbox()


class Clock:
    """A settable clock in seconds."""

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000

    def advance(self, ms: int) -> None:
        self.ms += ms


@pytest.fixture
def clock() -> Clock:
    return Clock(T0_MS)
