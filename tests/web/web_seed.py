"""Demo data for the web tests and the screenshot script: a small branch hierarchy, customers
and tasks as the engine would emit them (evidence as decimal strings, event time +08:00)."""

from __future__ import annotations

from typing import Any

from alerting.directory import Customer, Directory, Manager
from alerting.store.base import TaskStore
from alerting.tasks import Task, make_task_id
from alerting.timeutil import HOUR, MINUTE, format_ts

TZ = 480
# 2026-03-02 10:00 +08:00 (02:00Z); the tests' clock stands at NOW_S.
BASE_MS = 1_772_416_800_000
NOW_S = (BASE_MS + 3 * HOUR) / 1000
SECRET = "test-secret-0123456789abcdef"


def demo_directory() -> Directory:
    """p1 > v1 > s1 > m1, m2; s2 > m3 (m3 is not in s1's team)."""
    d = Directory()
    for m in (Manager("p1", name="赵行长", role="branch_president", locale="zh"),
              Manager("v1", name="钱副行长", role="branch_vp", supervisor_id="p1"),
              Manager("s1", name="孙主管", role="supervisor", supervisor_id="v1"),
              Manager("s2", name="周主管", role="supervisor", supervisor_id="v1"),
              Manager("m1", name="李娜", supervisor_id="s1", locale="zh"),
              Manager("m2", name="Wang Wei", supervisor_id="s1", locale="en"),
              Manager("m3", name="吴敏", supervisor_id="s2")):
        d.put_manager(m)
    for c in (Customer("C1001", name="张秀英", assets=85_000_000, manager_id="m1", tier="key"),
              Customer("C1002", name="刘洋", assets=12_000_000, manager_id="m1", tier="general"),
              Customer("C1003", name="陈静", assets=30_000_000, manager_id="m2", tier="key"),
              Customer("C1004", name="杨磊", assets=6_000_000, manager_id="m3",
                       tier="potential")):
        d.put_customer(c)
    return d


def make_task(rule_id: str, customer_id: str, situation: str, *, assignee: str,
              created_offset_ms: int = 0, due_in_ms: int = 2 * HOUR,
              severity: str = "high", **kw: Any) -> Task:
    """A task as the engine emits it, created ``created_offset_ms`` after BASE_MS."""
    created = BASE_MS + created_offset_ms
    title, body = TEXTS.get(rule_id, (rule_id, rule_id))
    en_title, en_body = EN_TEXTS.get(rule_id, (rule_id, rule_id))
    fields: dict[str, Any] = dict(
        task_id=make_task_id(rule_id, customer_id, situation), rule_id=rule_id,
        severity=severity, customer_id=customer_id, title=title, body=body,
        evidence=EVIDENCE.get(rule_id, {}), event_ids=[f"ev-{situation}"],
        created_at=format_ts(created, TZ), due_at=format_ts(created + due_in_ms, TZ),
        created_ms=created, due_ms=created + due_in_ms, assignee_id=assignee,
        assignee_role="account_manager",
        translations={"en": {"title": en_title, "body": en_body}})
    fields.update(kw)
    return Task(**fields)


TEXTS = {
    "large_withdrawal": ("大额取款：张秀英取款 250,000.00 元",
                         "客户单笔取款 250,000.00 元，超过重点客户阈值 200,000.00 元，"
                         "请当日联系客户了解资金用途。"),
    "transfer_out_other_bank": ("他行转出：刘洋 7 天内转出资产的 52%",
                                "7 天内向他行转出 62,400.00 元，占日均资产 52%。"),
    "dormant_wakeup": ("睡眠客户激活：陈静 212 天后首次交易",
                       "客户沉睡 212 天后发生存款 5,000.00 元，是唤醒营销的好时机。"),
    "complaint_sla": ("投诉超时未处理：杨磊", "投诉已打开 26 小时仍未解决，已升级。"),
}
EN_TEXTS = {
    "large_withdrawal": ("Large withdrawal: 250,000.00 CNY by Zhang Xiuying",
                         "A single withdrawal of 250,000.00 CNY exceeds the key-tier limit of "
                         "200,000.00. Call the customer today to learn what the money is for."),
    "transfer_out_other_bank": ("Transfers to other banks: 52% of assets in 7 days",
                                "62,400.00 CNY transferred to other banks within 7 days, 52% "
                                "of the daily average assets."),
    "dormant_wakeup": ("Dormant customer woke up after 212 days",
                       "First transaction (deposit 5,000.00 CNY) after 212 dormant days."),
    "complaint_sla": ("Complaint not resolved in time", "Complaint open for 26 hours; "
                      "escalated."),
}
EVIDENCE: dict[str, dict[str, Any]] = {
    "large_withdrawal": {"amount": "250000.00", "threshold": "200000.00", "tier": "key",
                         "channel": "counter", "balance_after": "12000.00"},
    "transfer_out_other_bank": {"window": "7d", "window_sum": "62400.00",
                                "assets": "120000.00", "share": "0.52", "transfers": 3},
    "dormant_wakeup": {"days_dormant": 212, "amount": "5000.00", "kind": "deposit"},
    "complaint_sla": {"complaint_id": "CP-88", "open_hours": 26, "category": "fees"},
}


def demo_tasks() -> list[Task]:
    """Four tasks: m1 has two (one overdue), m2 one (escalation level 0), m3 an escalated one."""
    return [
        make_task("large_withdrawal", "C1001", "e-1001", assignee="m1",
                  due_in_ms=2 * HOUR, severity="critical",
                  event_ids=["tx-20260302-0001", "tx-20260302-0007"]),
        make_task("transfer_out_other_bank", "C1002", "w-1002", assignee="m1",
                  created_offset_ms=30 * MINUTE, due_in_ms=8 * HOUR, severity="high"),
        make_task("dormant_wakeup", "C1003", "d-1003", assignee="m2",
                  created_offset_ms=45 * MINUTE, due_in_ms=24 * HOUR, severity="medium"),
        make_task("complaint_sla", "C1004", "c-1004", assignee="m3", due_in_ms=1 * HOUR,
                  severity="high", escalation_level=1),
    ]


async def seed(store: TaskStore, tasks: list[Task] | None = None) -> list[Task]:
    """Insert tasks into a store as the engine would; returns them."""
    tasks = demo_tasks() if tasks is None else tasks
    for t in tasks:
        await store.upsert_emitted(t)
    return tasks
