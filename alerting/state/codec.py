"""Per-customer engine state as bytes: versioned, compact JSON (orjson).

Layout (format version 1)::

    {"v": 1, "t": latest_ts, "a": last_activity or null,
     "s": [ring position, crc32 of the last 4 event ids],
     "r": {rule_id: [fingerprint, state]}, "c": {rule_id: cooldown record}}

Rule state is keyed by rule id with the rule's fingerprint, so state written under one rules file
is restored into another only for rules whose fingerprint is unchanged.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from alerting.errors import StateError
from alerting.state.customer import CustomerState

if TYPE_CHECKING:
    from alerting.rules.common import CompiledRule

VERSION = 1
_FP = 8  # fingerprint characters stored


def encode_customer(cs: CustomerState, rules: Sequence[CompiledRule]) -> bytes:
    """One customer's state as bytes."""
    d: dict[str, Any] = {"v": VERSION, "t": cs.last_ts, "a": cs.last_act,
                         "s": cs.t[4:].tolist()}
    rs = {r.id: [r.fingerprint[:_FP], r.dump_state(cs.rs[r.index])] for r in rules
          if r.stateful and cs.rs[r.index] is not None}
    if rs:
        d["r"] = rs
    if cs.cool:
        d["c"] = cs.cool
    return orjson.dumps(d)


def decode_customer(cid: str, raw: bytes, rules: Sequence[CompiledRule]) -> CustomerState:
    """Inverse of ``encode_customer`` for the given (possibly changed) rules."""
    try:
        d = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise StateError("customer state is not valid JSON") from None
    if not isinstance(d, dict) or d.get("v") != VERSION:
        raise StateError(f"unsupported customer state version "
                         f"{d.get('v') if isinstance(d, dict) else None!r}")
    try:
        cs = CustomerState(cid, sum(1 for r in rules if r.stateful), d["a"])
        cs.last_ts = int(d["t"])
        ring = [int(x) for x in d["s"]]
        if len(ring) != 5:
            raise ValueError("ring")
        cs.t[4:] = array("q", ring)
        saved = d.get("r") or {}
        for r in rules:
            entry = saved.get(r.id) if r.stateful else None
            if entry is not None and entry[0] == r.fingerprint[:_FP]:
                cs.rs[r.index] = r.load_state(entry[1])
        ids = {r.id for r in rules}
        cool = {k: v for k, v in (d.get("c") or {}).items() if k in ids}
        cs.cool = cool or None
    except (KeyError, TypeError, ValueError, IndexError):
        raise StateError("customer state is malformed") from None
    return cs
