"""Turning a rule hit into a ``Task``: ids, times, assignee, rendered title/body in every
locale, JSON-safe evidence. Only runs when a rule fires (rare), never per event."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alerting.money import format_money
from alerting.rules.common import MONEY_KEYS, TIME_KEYS, CompiledRule
from alerting.tasks import Task
from alerting.timeutil import format_ts

if TYPE_CHECKING:
    from alerting.engine import CustomerState, Engine


def render_task(eng: Engine, rule: CompiledRule, cs: CustomerState, cust: Any, task_id: str,
                revision: int, created_ms: int, created_tz: int, evidence: dict[str, Any],
                event_ids: list[str], event: Any, severity: str | None,
                owner_role: str | None, level: int,
                updated: tuple[int, int] | None = None) -> Task:
    """Build the task for one emission of ``rule`` for customer ``cs``."""
    sev = severity or rule.severity
    due_ms = created_ms + (rule.spec.due if rule.spec.due is not None
                           else eng.defaults.due_for(sev))
    tier = eng.resolver.of(cust)  # an unknown customer counts as zero assets
    if owner_role is None:
        owner_role = (rule.spec.owner if rule.spec.owner != "manager"
                      else (tier.owner_role if tier is not None else None))
    known = cust if cust is not None and cust.customer_id else None
    assignee, role = eng.assigner(known, owner_role, eng.directory)
    created_at = format_ts(created_ms, created_tz)
    due_at = format_ts(due_ms, created_tz)
    ctx = _context(eng, rule, cs, cust, tier, evidence, event, created_at, due_at)
    texts: dict[str, tuple[str, str]] = {}
    for loc in sorted(set(rule.title) | set(rule.body)):
        label = (getattr(tier.label, loc) or tier.name) if tier is not None else ""
        ctx["tier_label"] = ctx["customer"]["tier_label"] = label
        texts[loc] = (_render(rule.title.get(loc), ctx), _render(rule.body.get(loc), ctx))
    main = eng.locale if eng.locale in texts else next(iter(texts), eng.locale)
    title, body = texts.get(main, ("", ""))
    return Task(
        task_id=task_id, rule_id=rule.id, severity=sev, customer_id=cs.cid, title=title,
        body=body, evidence=evidence_json(evidence, created_tz), event_ids=event_ids,
        created_at=created_at, due_at=due_at, created_ms=created_ms, due_ms=due_ms,
        revision=revision,
        updated_at=format_ts(updated[0], updated[1]) if updated is not None else None,
        assignee_id=assignee, assignee_role=role, escalation_level=level,
        branch_id=getattr(cust, "branch_id", None), customer_tier=tier.name if tier else None,
        labels=dict(rule.spec.labels),
        translations={loc: {"title": t, "body": b} for loc, (t, b) in texts.items()
                      if loc != main},
    )


def _render(tmpl: Any, ctx: dict[str, Any]) -> str:
    return tmpl.render(ctx) if tmpl is not None else ""


def _context(eng: Engine, rule: CompiledRule, cs: CustomerState, cust: Any, tier: Any,
             evidence: dict[str, Any], event: Any, created_at: str,
             due_at: str) -> dict[str, Any]:
    ctx: dict[str, Any] = dict(evidence)
    ctx["evidence"] = evidence
    ctx["customer"] = {
        "customer_id": cs.cid, "name": getattr(cust, "name", ""),
        "tier": tier.name if tier else None,
        "tier_label": (getattr(tier.label, eng.locale) or tier.name) if tier else "",
        "assets": getattr(cust, "assets", 0), "manager_id": getattr(cust, "manager_id", None),
        "branch_id": getattr(cust, "branch_id", None),
    }
    ctx["tier"] = tier.name if tier else None
    ctx["tier_label"] = ctx["customer"]["tier_label"]
    ctx["rule"] = {"id": rule.id, "description": rule.spec.description,
                   "severity": rule.severity}
    ctx["event"] = _event_dict(event) if event is not None else {}
    ctx["created_at"] = created_at
    ctx["due_at"] = due_at
    return ctx


def _event_dict(event: Any) -> dict[str, Any]:
    d = {k: getattr(event, k) for k in getattr(event, "__slots__", ())}
    d["type"] = event.type
    return d


def evidence_json(evidence: dict[str, Any], tz: int) -> dict[str, Any]:
    """Make evidence JSON-safe: money as decimal strings, times as ISO strings."""
    out: dict[str, Any] = {}
    for k, v in evidence.items():
        if v is None:
            out[k] = None
        elif k in MONEY_KEYS:
            out[k] = format_money(v if isinstance(v, int) else round(v))
        elif k in TIME_KEYS:
            out[k] = format_ts(v, tz)
        else:
            out[k] = v
    return out
