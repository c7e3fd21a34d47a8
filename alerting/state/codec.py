"""Per-customer engine state as bytes: versioned, compact JSON (orjson).

Layout (format version 1)::

    {"v": 1, "t": latest_ts, "a": last_activity or null, "s": [crc32 of recent event ids],
     "r": {rule_id: [fingerprint, state]}, "c": {rule_id: cooldown record}}

Rule state is keyed by rule id with the rule's fingerprint, so state written under one rules file
is restored into another only for rules whose fingerprint is unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from array import array

import orjson

from alerting.errors import StateError

if TYPE_CHECKING:
    from alerting.engine import CustomerState
    from alerting.rules.common import CompiledRule

VERSION = 1
_FP = 8  # fingerprint characters stored


def encode_customer(cs: CustomerState, rules: Sequence[CompiledRule]) -> bytes:
    """One customer's state as bytes."""
    d: dict[str, Any] = {"v": VERSION, "t": cs.last_ts, "a": cs.last_act, "s": cs.seen.tolist()}
    rs = {r.id: [r.fingerprint[:_FP], cs.rs[r.index]] for r in rules
          if cs.rs[r.index] is not None}
    if rs:
        d["r"] = rs
    if cs.cool:
        d["c"] = cs.cool
    return orjson.dumps(d)


def decode_customer(cid: str, raw: bytes, rules: Sequence[CompiledRule]) -> CustomerState:
    """Inverse of ``encode_customer`` for the given (possibly changed) rules."""
    from alerting.engine import CustomerState

    try:
        d = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise StateError("customer state is not valid JSON") from None
    if not isinstance(d, dict) or d.get("v") != VERSION:
        raise StateError(f"unsupported customer state version "
                         f"{d.get('v') if isinstance(d, dict) else None!r}")
    try:
        cs = CustomerState(cid, len(rules), d["a"])
        cs.last_ts = int(d["t"])
        cs.seen = array("I", d["s"])
        saved = d.get("r") or {}
        for r in rules:
            entry = saved.get(r.id)
            if entry is not None and entry[0] == r.fingerprint[:_FP]:
                cs.rs[r.index] = entry[1]
        ids = {r.id for r in rules}
        cool = {k: v for k, v in (d.get("c") or {}).items() if k in ids}
        cs.cool = cool or None
    except (KeyError, TypeError, ValueError, IndexError):
        raise StateError("customer state is malformed") from None
    return cs
