"""UI strings of the web pages in Chinese and English: one small dict per locale.

The locale comes from ``?lang=zh|en`` (remembered in a cookie), else the manager's locale in
the directory, else the app default. Task titles and bodies come from the rules' templates:
``task.translations[lang]`` when the rules rendered that locale, else the default rendering.
"""

from __future__ import annotations

from typing import Any

LOCALES = ("zh", "en")

STRINGS: dict[str, dict[str, str]] = {
    "zh": {
        "app_title": "客户关系预警", "inbox": "我的任务", "effectiveness": "规则有效性",
        "login": "登录", "logout": "退出", "manager_id": "客户经理编号", "token": "访问令牌",
        "login_hint": "使用 alerting tasks token 命令签发的令牌登录。",
        "login_failed": "编号或令牌无效，或令牌已过期。", "signed_in_as": "当前用户",
        "open_tasks": "待处理任务", "no_tasks": "暂无任务。", "customer": "客户",
        "rule": "规则", "severity": "级别", "due": "截止时间", "status": "状态",
        "assignee": "负责人", "reason": "原因", "evidence": "依据（数字）",
        "events": "相关事件", "escalated": "已升级", "overdue": "已逾期",
        "level": "升级层级", "acknowledge": "确认接收", "resolve": "记录结果并关闭",
        "note": "跟进记录", "outcome": "结果", "history": "处理记录",
        "created": "创建时间", "acknowledged_at": "确认时间", "resolved_at": "关闭时间",
        "back": "返回任务列表", "filter": "筛选", "all": "全部", "team": "团队",
        "mine": "我的", "other_tasks": "该客户的其他任务", "no_events": "无事件编号。",
        "done_ack": "已确认接收，升级计时已停止。", "done_resolve": "已记录结果，任务已关闭。",
        "created_n": "创建", "acknowledged_n": "已确认", "resolved_n": "已关闭",
        "escalated_n": "已升级", "ack_median": "确认用时中位数", "ack_p90": "确认用时 P90",
        "positive_share": "挽留/转化占比", "false_alarm_share": "误报占比",
        "flagged": "误报过高", "effectiveness_hint":
            "误报占比高于 {threshold} 且已关闭任务不少于 {min_resolved} 个的规则会被标记。",
        "since": "统计区间", "days": "天", "no_data": "区间内没有任务。",
        "error": "出错了", "forbidden": "无权查看该任务。", "not_found": "任务不存在。",
        "bad_request": "请求无效。", "language": "English", "actions": "操作",
        "revision": "版本", "at": "时间", "choose": "请选择…", "by": "操作人",
        "action": "动作", "detail": "说明",
    },
    "en": {
        "app_title": "Relationship alerts", "inbox": "My tasks",
        "effectiveness": "Rule effectiveness", "login": "Sign in", "logout": "Sign out",
        "manager_id": "Manager ID", "token": "Access token",
        "login_hint": "Sign in with a token issued by `alerting tasks token`.",
        "login_failed": "Unknown manager, or the token is invalid or expired.",
        "signed_in_as": "Signed in as", "open_tasks": "Open tasks",
        "no_tasks": "No tasks.", "customer": "Customer", "rule": "Rule",
        "severity": "Severity", "due": "Due", "status": "Status", "assignee": "Assignee",
        "reason": "Reason", "evidence": "Evidence (the numbers)", "events": "Events",
        "escalated": "Escalated", "overdue": "Overdue", "level": "Escalation level",
        "acknowledge": "Acknowledge", "resolve": "Record outcome and close",
        "note": "Follow-up note", "outcome": "Outcome", "history": "History",
        "created": "Created", "acknowledged_at": "Acknowledged", "resolved_at": "Resolved",
        "back": "Back to tasks", "filter": "Filter", "all": "All", "team": "Team",
        "mine": "Mine", "other_tasks": "Other tasks for this customer",
        "no_events": "No event ids.",
        "done_ack": "Acknowledged: the escalation clock has stopped.",
        "done_resolve": "Outcome recorded; the task is closed.",
        "created_n": "Created", "acknowledged_n": "Acknowledged", "resolved_n": "Resolved",
        "escalated_n": "Escalated", "ack_median": "Time to ack (median)",
        "ack_p90": "Time to ack (p90)", "positive_share": "Retained/converted",
        "false_alarm_share": "False alarms", "flagged": "Too many false alarms",
        "effectiveness_hint": "A rule is flagged when its false-alarm share is above "
                              "{threshold} with at least {min_resolved} resolved tasks.",
        "since": "Period", "days": "days", "no_data": "No tasks in this period.",
        "error": "Something went wrong", "forbidden": "You may not see this task.",
        "not_found": "No such task.", "bad_request": "Bad request.", "language": "中文",
        "actions": "Actions", "revision": "Revision", "at": "Time", "choose": "Choose…",
        "by": "By", "action": "Action",
        "detail": "Detail",
    },
}

LABELS: dict[str, dict[str, dict[str, str]]] = {
    "status": {
        "zh": {"open": "待处理", "acknowledged": "已确认", "resolved": "已关闭"},
        "en": {"open": "Open", "acknowledged": "Acknowledged", "resolved": "Resolved"},
    },
    "outcome": {
        "zh": {"contacted": "已联系", "retained": "已挽留", "converted": "已转化",
               "not_needed": "无需跟进", "false_alarm": "误报"},
        "en": {"contacted": "Contacted", "retained": "Retained", "converted": "Converted",
               "not_needed": "Not needed", "false_alarm": "False alarm"},
    },
    "action": {
        # the history actions of docs/DESIGN.md (routing and lifecycle)
        "zh": {"assigned": "派单", "handover": "代理转交", "overflow": "超量转主管",
               "notified": "已通知", "escalated": "升级", "escalation_stopped": "停止升级",
               "acknowledged": "确认接收", "resolved": "关闭"},
        "en": {"assigned": "Assigned", "handover": "Handed over", "overflow": "Overflow",
               "notified": "Notified", "escalated": "Escalated",
               "escalation_stopped": "Escalation stopped", "acknowledged": "Acknowledged",
               "resolved": "Resolved"},
    },
    "severity": {
        "zh": {"info": "提示", "low": "低", "medium": "中", "high": "高", "critical": "紧急"},
        "en": {"info": "Info", "low": "Low", "medium": "Medium", "high": "High",
               "critical": "Critical"},
    },
}


# Names of the evidence keys the rule kinds produce (alerting/rules/*: evidence_keys);
# unknown keys are shown as they are (English: underscores become spaces).
EVIDENCE_ZH = {
    "age_hours": "已开时长（小时）", "amount": "金额", "assets": "日均资产",
    "baseline_count": "基线笔数", "baseline_mean": "基线均值", "baseline_std": "基线标准差",
    "balance_after": "交易后余额", "category": "类别", "channel": "渠道",
    "complaint_id": "投诉编号", "complaint_ids": "投诉编号", "count": "次数",
    "counterparty_bank": "对方银行", "days_dormant": "沉睡天数", "days_inactive": "未活动天数",
    "event_at": "事件时间", "factor": "倍数", "first_at": "首个事件时间",
    "first_event_id": "首个事件", "first_label": "首个事件类型", "gap_days": "间隔天数",
    "gap_hours": "间隔小时", "kind": "交易类型", "last_activity_at": "最近活动时间",
    "limit": "阈值", "threshold": "阈值", "opened_at": "打开时间", "ratio": "比例",
    "share": "占比", "status": "状态", "step": "升级步骤", "steps": "步骤",
    "then_amount": "后续金额", "then_at": "后续事件时间", "then_event_id": "后续事件",
    "tier": "客户层级", "window": "窗口", "window_count": "窗口内笔数",
    "window_days": "窗口天数", "window_end": "窗口结束", "window_max": "窗口内最大额",
    "window_start": "窗口开始", "window_sum": "窗口内合计", "z": "Z 值", "zscore": "Z 值",
    "transfers": "转账笔数", "open_hours": "已开时长（小时）",
}


def evidence_label(locale: str, key: str) -> str:
    """Display name of an evidence key in the locale."""
    if locale == "zh":
        return EVIDENCE_ZH.get(key, key)
    return key.replace("_", " ")


def pick_locale(requested: str | None, cookie: str | None, manager_locale: str | None,
                default: str) -> str:
    """The first supported locale among the query, the cookie, the manager's, the default."""
    for cand in (requested, cookie, manager_locale, default):
        if cand in LOCALES:
            return cand
    return LOCALES[0]


class Translator:
    """Template helper: ``t("key")`` for UI strings, ``label("outcome", v)`` for values."""

    def __init__(self, locale: str) -> None:
        self.locale = locale if locale in LOCALES else LOCALES[0]
        self._strings = STRINGS[self.locale]

    def __call__(self, key: str, **kw: Any) -> str:
        text = self._strings.get(key) or STRINGS["en"].get(key) or key
        return text.format(**kw) if kw else text

    def label(self, kind: str, value: str | None) -> str:
        """Localised name of a status, outcome, severity, history action or evidence key
        (the raw value if unknown)."""
        if value is None:
            return ""
        if kind == "evidence":
            return evidence_label(self.locale, value)
        return LABELS.get(kind, {}).get(self.locale, {}).get(value, value)
