"""Deterministic small event streams for the adapter tests (the real sample generator is used in
test_e2e.py)."""

from __future__ import annotations

import random
from typing import Any

from alerting.timeutil import DAY, HOUR, format_ts

T0 = 1_735_660_800_000  # 2025-01-01T00:00:00+08:00 expressed as epoch ms (16:00 UTC)


def make_events(customers: int = 30, per_customer: int = 40, seed: int = 7) -> list[dict[str, Any]]:
    """Transactions and complaints in global time order; some withdrawals are large, some
    customers go quiet for > 30 days (inactivity timers) and some get profile updates."""
    rng = random.Random(seed)
    out: list[tuple[int, int, dict[str, Any]]] = []
    seq = 0
    for c in range(customers):
        cid = f"C{c:04d}"
        ts = T0 + rng.randrange(0, DAY)
        for i in range(per_customer):
            ts += rng.randrange(HOUR, 3 * DAY) + (40 * DAY if rng.random() < 0.03 else 0)
            seq += 1
            if rng.random() < 0.1:
                ev: dict[str, Any] = {
                    "type": "complaint", "event_id": f"e{seq}", "complaint_id": f"k{seq}",
                    "customer_id": cid, "ts": format_ts(ts, 480), "status": "opened",
                    "category": "fees"}
            else:
                big = rng.random() < 0.08
                ev = {"type": "transaction", "event_id": f"e{seq}", "customer_id": cid,
                      "account_id": f"A{c}", "ts": format_ts(ts, 480),
                      "kind": rng.choice(["deposit", "withdrawal"]) if not big else "withdrawal",
                      "amount": f"{rng.randrange(10_000, 60_000) if big else rng.randrange(1, 900)}"
                                ".25",
                      "channel": "mobile"}
            out.append((ts, seq, ev))
            if i == per_customer // 2 and c % 5 == 0:
                seq += 1
                out.append((ts + 1, seq, {"type": "customer", "customer_id": cid,
                                      "tier": "key", "event_id": f"u{seq}",
                                      "ts": format_ts(ts + 1, 480)}))
    out.sort(key=lambda x: (x[0], x[1]))
    return [e for _, _, e in out]


BAD_RECORDS = [b"{not json", b'{"type":"transaction","event_id":"x1"}', b"[1,2]",
               b"\xff\xfe binary", b'{"type":"spaceship","customer_id":"C0001"}']
