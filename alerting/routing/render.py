"""Rendering notifications (title + Markdown text) in the recipient's locale (zh / en).

Each task's own title and body come from the rules' templates: the default locale in
``task.title``/``task.body``, other locales in ``task.translations``. This module only adds the
frame: a heading, one entry per task with its reason, numbers and due time.
"""

from __future__ import annotations

import hashlib
from typing import Any

from alerting.tasks import Task

_WORDS: dict[str, dict[str, str]] = {
    "zh": {
        "new_one": "{title}", "new_many": "{n} 条新任务", "update_one": "任务更新：{title}",
        "update_many": "{n} 条任务有更新", "escalation": "任务升级：{title}",
        "repeat": "提醒：{title}", "repeat_many": "提醒：{n} 条任务待确认",
        "digest": "日程表 {day}：{n} 条待办任务", "digest_empty": "日程表 {day}：没有待办任务",
        "customer": "客户", "severity": "级别", "due": "截止", "numbers": "数据",
        "level": "升级层级", "from": "原负责人", "status": "状态",
        "open": "待确认", "acknowledged": "已确认", "resolved": "已完成",
    },
    "en": {
        "new_one": "{title}", "new_many": "{n} new tasks", "update_one": "Task updated: {title}",
        "update_many": "{n} tasks updated", "escalation": "Escalated: {title}",
        "repeat": "Reminder: {title}", "repeat_many": "Reminder: {n} tasks to acknowledge",
        "digest": "Daily schedule {day}: {n} open tasks",
        "digest_empty": "Daily schedule {day}: no open tasks",
        "customer": "Customer", "severity": "Severity", "due": "Due", "numbers": "Numbers",
        "level": "Escalation level", "from": "Previous owner", "status": "Status",
        "open": "open", "acknowledged": "acknowledged", "resolved": "resolved",
    },
}
_SEVERITY = {
    "zh": {"info": "提示", "low": "低", "medium": "中", "high": "高", "critical": "紧急"},
    "en": {"info": "info", "low": "low", "medium": "medium", "high": "high",
           "critical": "critical"},
}


def words(locale: str) -> dict[str, str]:
    """The phrase table for a locale (English for anything but zh)."""
    return _WORDS["zh" if locale.startswith("zh") else "en"]


def task_text(task: Task, locale: str) -> tuple[str, str]:
    """The task's (title, body) in ``locale``, falling back to the default rendering."""
    tr = task.translations.get(locale) or task.translations.get(locale[:2]) or {}
    return tr.get("title", task.title), tr.get("body", task.body)


def _numbers(evidence: dict[str, Any]) -> str:
    parts = [f"{k}={v}" for k, v in evidence.items() if isinstance(v, str | int | float)]
    return ", ".join(parts[:8])


def task_entry(task: Task, locale: str, *, with_status: bool = False) -> str:
    """One Markdown list entry: title, severity, customer, due time, reason, numbers."""
    w = words(locale)
    sev = _SEVERITY["zh" if w is _WORDS["zh"] else "en"].get(task.severity, task.severity)
    title, body = task_text(task, locale)
    lines = [f"- **{title}** ({w['severity']}: {sev}; {w['customer']}: {task.customer_id}; "
             f"{w['due']}: {task.due_at})"]
    if with_status:
        lines[0] = lines[0][:-1] + f"; {w['status']}: {w.get(task.status, task.status)})"
    if body:
        lines.extend(f"  {line}" for line in body.strip().splitlines()[:12])
    nums = _numbers(task.evidence)
    if nums:
        lines.append(f"  {w['numbers']}: {nums}")
    return "\n".join(lines)


def group_title(kind: str, tasks: list[Task], locale: str) -> str:
    """Title of a grouped notification ("3 new tasks" / "3 条新任务", or the task's title)."""
    w = words(locale)
    if len(tasks) == 1:
        key = {"task": "new_one", "update": "update_one", "repeat": "repeat",
               "escalation": "escalation"}.get(kind, "new_one")
        return w[key].format(title=task_text(tasks[0], locale)[0])
    key = {"update": "update_many", "repeat": "repeat_many"}.get(kind, "new_many")
    return w[key].format(n=len(tasks))


def group_text(kind: str, tasks: list[Task], locale: str) -> str:
    """Markdown body listing each task."""
    return "\n".join(task_entry(t, locale) for t in tasks)


def escalation_text(task: Task, locale: str, previous: str | None) -> str:
    """Body of an escalation notification."""
    w = words(locale)
    head = f"{w['level']}: {task.escalation_level}"
    if previous:
        head += f"; {w['from']}: {previous}"
    return head + "\n" + task_entry(task, locale)


def digest_title(day: str, tasks: list[Task], locale: str) -> str:
    """Title of a daily digest."""
    w = words(locale)
    return (w["digest"] if tasks else w["digest_empty"]).format(day=day, n=len(tasks))


def digest_text(tasks: list[Task], locale: str) -> str:
    """Body of a daily digest: the tasks in the given order (due time, severity)."""
    return "\n".join(task_entry(t, locale, with_status=True) for t in tasks)


def notification_id(receiver: str, kind: str, keys: list[str]) -> str:
    """Deterministic id from the receiver, the kind and the covered keys (order-free)."""
    h = hashlib.sha256("\x1f".join(sorted(keys)).encode()).hexdigest()[:24]
    return f"{receiver}:{kind}:{h}"
