"""What conditions may read: the fields of ``event``, ``customer`` and ``agg``, and the rule
functions (``tier``, ``tier_limit``) on top of the expression builtins."""

from __future__ import annotations

from functools import lru_cache

from alerting.rules.expr import Function, Schema, T
from alerting.rules.tiers import TierResolver

EVENT_SCHEMA = {
    "type": T.STR, "event_id": T.STR, "customer_id": T.STR, "ts": T.TIME,
    # transactions
    "account_id": T.STR, "kind": T.STR, "amount": T.MONEY, "currency": T.STR,
    "channel": T.STR, "balance_after": T.MONEY, "counterparty_bank": T.STR,
    # complaints
    "complaint_id": T.STR, "status": T.STR, "category": T.STR, "severity": T.STR,
    "text": T.STR,
}
CUSTOMER_SCHEMA = {
    "customer_id": T.STR, "tier": T.STR, "assets": T.MONEY, "manager_id": T.STR,
    "branch_id": T.STR, "last_activity_at": T.TIME, "birthday": T.STR, "segment": T.STR,
    "age": T.NUMBER,
}
AGG_SCHEMA = {"sum": T.MONEY, "count": T.NUMBER, "max": T.MONEY, "start": T.TIME,
              "end": T.TIME}
_ROOTS = {"event": EVENT_SCHEMA, "customer": CUSTOMER_SCHEMA, "agg": AGG_SCHEMA}


@lru_cache(maxsize=16)
def schema_for(roots: tuple[str, ...]) -> Schema:
    """The schema with only the given roots (e.g. inactivity conditions see no event)."""
    return Schema(roots={r: _ROOTS[r] for r in roots})


def functions_for(resolver: TierResolver) -> dict[str, Function]:
    """Rule functions bound to the file's tiers."""
    return {
        "tier": Function("tier", (T.ANY,), T.STR, resolver.name),
        "tier_limit": Function("tier_limit", (T.ANY,), T.MONEY, resolver.limit),
    }
