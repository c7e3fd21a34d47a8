"""The event half of the sample generator (``alerting.sample``): turns each customer's habits and
planned one-off episodes into wire-format events, block by block, in time order."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from alerting.timeutil import DAY

TZ_MIN = 8 * 60
TZ_SUFFIX = "+08:00"
BLOCK_DAYS = 30
OTHER_BANKS = ("ICBC", "CCB", "BOC", "ABC", "CMB", "BOCOM", "CITIC", "SPDB", "PAB", "CIB")
CHANNELS = ("counter", "atm", "mobile", "online")
# Bank-initiated postings: they continue while a customer sleeps and are not activity.
BANK_INITIATED = frozenset({"interest", "fee"})
_CREDIT = frozenset({"deposit", "transfer_in", "interest"})
_ANYWAY = frozenset({"wake", "burst"})  # a wake-up deposit, or a stolen card used while asleep

Planned = tuple[int, str, str, int, dict[str, Any]]  # (ts, kind, channel, cents, extra)


@dataclass(slots=True)
class Cust:
    """Generator-internal state of one customer (habits, balance, schedule)."""

    cid: str
    acct: str
    balance: int  # cents
    salary: int  # cents, 0 = none
    salary_day: int
    bill: int
    bill_day: int
    wd_rate: float  # withdrawals per day
    wd_median: int  # cents
    dep_rate: float
    channel: str
    pays_fee: bool
    remits_to: str | None  # another bank family remittances go to
    paid_from: str | None  # another bank a monthly transfer arrives from
    sleeps: list[tuple[int, int]]  # [from_ms, until_ms) with no customer-initiated activity
    oneoffs: list[tuple[int, str, dict[str, Any]]]  # (ts, what, params), time-ordered
    next_wd: int = 0
    next_dep: int = 0
    seq: int = 0
    cursor: int = 0  # next index into oneoffs

    def fresh(self) -> Cust:
        """A copy to run a stream from the start (the stream mutates balances and cursors)."""
        return replace(self)

    def asleep(self, ts: int) -> bool:
        """Inside a dormant spell at ``ts``."""
        return any(a <= ts < b for a, b in self.sleeps)


def round_amount(cents: int) -> int:
    """Habitual amounts are round numbers (to 10 yuan)."""
    return max(1000, cents // 1000 * 1000)


def secs_between(rng: random.Random, h0: int, h1: int) -> int:
    """A random second of the day between hours h0 and h1."""
    return rng.randint(h0 * 3600, h1 * 3600 - 1)


def money(cents: int) -> str:
    """Cents as a wire decimal string."""
    return f"{cents // 100}.{cents % 100:02d}"


class _Clock:
    """Day calendar of the sample in local time (+08:00), with cached date strings."""

    def __init__(self, t0: int, days: int) -> None:
        self.t0 = t0
        self.end = t0 + days * DAY
        base = datetime.fromtimestamp(t0 / 1000, UTC) + timedelta(minutes=TZ_MIN)
        self.dates = [base + timedelta(days=i) for i in range(days)]
        self.dstr = [d.strftime("%Y-%m-%d") for d in self.dates]
        self._dom: dict[tuple[int, int], dict[int, list[int]]] = {}

    def by_dom(self, day_range: range) -> dict[int, list[int]]:
        """Day indices of a block grouped by day of month (cached per block)."""
        key = (day_range.start, day_range.stop)
        got = self._dom.get(key)
        if got is None:
            got = {}
            for day in day_range:
                got.setdefault(self.dates[day].day, []).append(day)
            self._dom = {key: got}
        return got

    def ts_str(self, ts: int) -> str:
        day, ms = divmod(ts - self.t0, DAY)
        s = ms // 1000
        return f"{self.dstr[day]}T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}{TZ_SUFFIX}"


def stream(custs: list[Cust], rng: random.Random, t0: int, days: int) -> Iterator[dict[str, Any]]:
    """All customers' events in (ts, customer, sequence) order, generated 30 days at a time."""
    clock = _Clock(t0, days)
    for b in range(0, days, BLOCK_DAYS):
        day_range = range(b, min(days, b + BLOCK_DAYS))
        b1 = t0 + day_range.stop * DAY
        block: list[tuple[int, str, int, dict[str, Any]]] = []
        for c in custs:
            planned = _recurring(rng, c, clock, day_range) + _oneoffs(rng, c, b1)
            planned.sort(key=lambda p: p[0])
            block.extend(_materialise(rng, c, clock, planned))
        block.sort(key=lambda e: (e[0], e[1], e[2]))
        for e in block:
            yield e[3]


def _recurring(rng: random.Random, c: Cust, clock: _Clock, day_range: range) -> list[Planned]:
    out: list[Planned] = []
    by_dom = clock.by_dom(day_range)
    t0 = clock.t0
    for day in by_dom.get(c.salary_day, ()) if c.salary else ():
        out.append((t0 + day * DAY + secs_between(rng, 8, 10) * 1000, "deposit", "payroll",
                    c.salary, {}))
    for day in by_dom.get(c.bill_day, ()) if c.bill else ():
        out.append((t0 + day * DAY + secs_between(rng, 0, 6) * 1000, "transfer_out", "online",
                    c.bill + rng.randint(-500, 500) * 10, {}))
    for day in by_dom.get((c.salary_day + 2) % 28 + 1, ()) if c.remits_to else ():
        out.append((t0 + day * DAY + secs_between(rng, 9, 22) * 1000, "transfer_out", "mobile",
                    round_amount(c.salary // 4 or 200_000), {"bank": c.remits_to}))
    for day in by_dom.get((c.salary_day + 6) % 28 + 1, ()) if c.paid_from else ():
        out.append((t0 + day * DAY + secs_between(rng, 9, 18) * 1000, "transfer_in", "online",
                    round_amount(c.wd_median * 3), {"bank": c.paid_from}))
    for day in by_dom.get(21, ()):
        if clock.dates[day].month in (3, 6, 9, 12):
            out.append((t0 + day * DAY + 3_600_000, "interest", "system", -1, {}))
    for day in by_dom.get(1, ()) if c.pays_fee else ():
        out.append((t0 + day * DAY + 7_200_000, "fee", "system", 1000, {}))
    end = clock.t0 + day_range.stop * DAY
    while c.next_wd < end:
        out.append((_daytime(rng, clock, c.next_wd), "withdrawal", _channel(rng, c),
                    int(c.wd_median * rng.lognormvariate(0, 0.5)), {}))
        c.next_wd += max(3_600_000, int(rng.expovariate(c.wd_rate) * DAY))
    while c.next_dep < end:
        out.append((_daytime(rng, clock, c.next_dep), "deposit", _channel(rng, c),
                    int(c.wd_median * rng.lognormvariate(0.3, 0.6)), {}))
        c.next_dep += max(3_600_000, int(rng.expovariate(c.dep_rate) * DAY))
    return out


def _daytime(rng: random.Random, clock: _Clock, ts: int) -> int:
    midnight = ts - (ts - clock.t0) % DAY
    return midnight + secs_between(rng, 7, 23) * 1000


def _channel(rng: random.Random, c: Cust) -> str:
    return c.channel if rng.random() < 0.8 else rng.choice(CHANNELS)


def _oneoffs(rng: random.Random, c: Cust, b1: int) -> list[Planned]:
    out: list[Planned] = []
    while c.cursor < len(c.oneoffs) and c.oneoffs[c.cursor][0] < b1:
        ts, what, params = c.oneoffs[c.cursor]
        c.cursor += 1
        if what == "wake":
            out.append((ts, "deposit", "counter", max(c.wd_median * 5, 500_000), {"wake": 1}))
        elif what == "large_withdrawal":
            out.append((ts, "withdrawal", "counter", -2, {}))
        elif what == "atm_burst":
            out.append((ts, "withdrawal", "atm", rng.randint(5, 25) * 10_000, {"burst": 1}))
        elif what == "large_deposit":
            out.append((ts, "deposit", "counter", int(c.balance * rng.uniform(0.3, 1.5)), {}))
        elif what == "runoff":
            out.append((ts, "transfer_out", "online", -3, {"bank": params["bank"]}))
        else:
            out.append((ts, "complaint", what, 0, params))
    return out


def _materialise(rng: random.Random, c: Cust, clock: _Clock, planned: list[Planned],
                 ) -> Iterator[tuple[int, str, int, dict[str, Any]]]:
    """Apply balances in time order, drop what a sleeping customer would not do."""
    for ts, kind, channel, cents, extra in planned:
        if ts >= clock.end:
            continue
        if kind == "complaint":
            c.seq += 1
            yield ts, c.cid, c.seq, _complaint(c, clock, ts, channel, extra)
            continue
        if kind not in BANK_INITIATED and not extra.keys() & _ANYWAY and c.asleep(ts):
            continue
        cents = _amount(rng, c, kind, cents)
        if cents < 100:
            continue
        c.balance += cents if kind in _CREDIT else -cents
        c.seq += 1
        ev = {"event_id": f"{c.cid}-{c.seq:05d}", "type": "transaction", "customer_id": c.cid,
              "account_id": c.acct, "ts": clock.ts_str(ts), "kind": kind, "amount": money(cents),
              "currency": "CNY", "channel": channel, "balance_after": money(c.balance)}
        if "bank" in extra:
            ev["counterparty_bank"] = extra["bank"]
        yield ts, c.cid, c.seq, ev


def _amount(rng: random.Random, c: Cust, kind: str, cents: int) -> int:
    """Resolve balance-dependent amounts (-1 interest, -2 large withdrawal, -3 run-off) and
    keep debits within the balance."""
    if cents == -1:
        return c.balance * 35 // 40_000 if c.balance > 0 else 0
    if cents == -2:
        cents = int(c.balance * rng.uniform(0.3, 0.7))
    elif cents == -3:
        cents = int(c.balance * rng.uniform(0.2, 0.6))
    if kind in _CREDIT:
        return cents
    cents = min(cents, c.balance * 9 // 10)
    return cents // 10_000 * 10_000 if kind == "withdrawal" and cents >= 10_000 else cents


def _complaint(c: Cust, clock: _Clock, ts: int, what: str, p: dict[str, Any]) -> dict[str, Any]:
    status = {"complaint": "opened", "update": "updated", "resolve": "resolved"}[what]
    item = p.get("item") or {}
    ev: dict[str, Any] = {
        "event_id": f"{c.cid}-{c.seq:05d}", "type": "complaint",
        "complaint_id": f"K{c.cid[1:]}-{p['n']}", "customer_id": c.cid, "ts": clock.ts_str(ts),
        "status": status, "category": item.get("category", ""),
        "severity": p.get("severity", ""),
    }
    if status == "opened":
        ev["text"] = item["text"]
    return ev
