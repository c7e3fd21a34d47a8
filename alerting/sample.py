"""A realistic, deterministic sample of a retail bank: branches with a manager hierarchy,
customers across the asset tiers, and a year (or any span) of their transactions and complaints.

Realism the rules need to see: log-normal assets (most small, a few ≥ 1M and a handful ≥ 10M),
per-customer habits (salary day, usual withdrawal size and channel, monthly bills), dormant
spells (some wake up), bank-initiated interest and fee postings that continue while a customer
sleeps, occasional unusually large deposits/withdrawals, transfers to other banks (family
remittances as noise, a churn run-off as signal), a few lost cards emptied at ATMs in a burst,
and real CFPB complaint categories and texts resolved fast, late or never, sometimes repeated.

Generation runs in 30-day blocks over all customers so memory stays bounded and the output is in
time order; one ``random.Random(seed)`` consumed in a fixed order makes it byte-for-byte
deterministic.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from alerting.directory import Customer, Directory, Manager
from alerting.sample_stream import (
    CHANNELS,
    OTHER_BANKS,
    TZ_MIN,
    Cust,
    money,
    round_amount,
    secs_between,
    stream,
)
from alerting.timeutil import DAY, format_ts

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文德"


@dataclass(slots=True)
class SampleData:
    """The generated bank. ``events()`` regenerates the event stream lazily (same seed, same
    events), so a million events never sit in memory at once."""

    customers: list[Customer]
    managers: list[Manager]
    days: int
    seed: int
    start: date
    _custs: list[Cust]
    _rng_state: Any

    def directory(self) -> Directory:
        """A new in-memory directory of the generated customers and managers."""
        return Directory({c.customer_id: c for c in self.customers},
                         {m.manager_id: m for m in self.managers})

    def events(self) -> Iterator[dict[str, Any]]:
        """The wire-format event dicts (BRIEF §4) in time order."""
        rng = random.Random()
        rng.setstate(self._rng_state)
        custs = [c.fresh() for c in self._custs]
        return stream(custs, rng, _local_midnight_ms(self.start), self.days)

    def event_lines(self) -> Iterator[bytes]:
        """The events as JSON lines (bytes, newline-terminated)."""
        dumps = orjson.dumps
        for ev in self.events():
            yield dumps(ev) + b"\n"

    def write(self, out_dir: str | Path) -> dict[str, int]:
        """Write ``events.jsonl.gz`` (gzip mtime 0: identical bytes per seed), ``customers.csv``
        and ``managers.csv``; return counts."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        n = 0
        with open(out / "events.jsonl.gz", "wb") as raw, gzip.GzipFile(
                filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=5) as gz:
            batch: list[bytes] = []
            for line in self.event_lines():
                batch.append(line)
                if len(batch) >= 4096:
                    gz.write(b"".join(batch))
                    n += len(batch)
                    batch.clear()
            gz.write(b"".join(batch))
            n += len(batch)
        _write_customers(out / "customers.csv", self.customers)
        _write_managers(out / "managers.csv", self.managers)
        return {"events": n, "customers": len(self.customers), "managers": len(self.managers)}


def generate(customers: int, days: int, seed: int = 1, start: date | None = None) -> SampleData:
    """Build a sample bank of ``customers`` customers over ``days`` days from ``start``
    (default 2025-01-01), deterministic for ``seed``."""
    if customers < 1 or days < 1:
        raise ValueError("customers and days must be >= 1")
    start = start or date(2025, 1, 1)
    rng = random.Random(seed)
    managers, ams_by_branch = _managers(rng, customers)
    t0 = _local_midnight_ms(start)
    profiles: list[Customer] = []
    custs: list[Cust] = []
    branches = sorted(ams_by_branch)
    for i in range(1, customers + 1):
        branch = branches[(i - 1) % len(branches)]
        prof, cust = _customer(rng, i, branch, rng.choice(ams_by_branch[branch]), t0, days)
        profiles.append(prof)
        custs.append(cust)
    return SampleData(profiles, managers, days, seed, start, custs, rng.getstate())


# --- people ----------------------------------------------------------------------------------

def _managers(rng: random.Random, customers: int) -> tuple[list[Manager], dict[str, list[str]]]:
    """Per branch: a president, one or two VPs, supervisors (one per four account managers)
    and account managers (about one per 150 customers)."""
    n_branches = max(2, min(20, customers // 1500))
    per_branch = math.ceil(customers / n_branches)
    out: list[Manager] = []
    ams: dict[str, list[str]] = {}
    for b in range(1, n_branches + 1):
        bid = f"B{b:02d}"
        pres = _mgr(rng, f"M-{bid}-P", "branch_president", None, bid)
        vps = [_mgr(rng, f"M-{bid}-VP{v}", "branch_vp", pres.manager_id, bid)
               for v in range(1, 2 + (per_branch > 3000))]
        n_am = max(2, math.ceil(per_branch / 150))
        sups = [_mgr(rng, f"M-{bid}-S{s:02d}", "supervisor", vps[s % len(vps)].manager_id, bid)
                for s in range(1, math.ceil(n_am / 4) + 1)]
        am_list = [_mgr(rng, f"M-{bid}-AM{a:03d}", "account_manager",
                        sups[(a - 1) // 4].manager_id, bid) for a in range(1, n_am + 1)]
        out += [pres, *vps, *sups, *am_list]
        ams[bid] = [m.manager_id for m in am_list]
    return out, ams


def _mgr(rng: random.Random, mid: str, role: str, sup: str | None, bid: str) -> Manager:
    return Manager(manager_id=mid, name=_name(rng), role=role, supervisor_id=sup, branch_id=bid,
                   email=f"{mid.lower()}@bank.example", locale="zh")


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))


def _assets(rng: random.Random) -> int:
    """Daily average assets in cents: log-normal (median ~30k CNY), plus a thin top slice of
    very large customers so that even a small sample has a handful ≥ 10M."""
    u = rng.random()
    if u < 0.002:
        yuan = math.exp(rng.uniform(math.log(1e7), math.log(6e7)))
    elif u < 0.015:
        yuan = math.exp(rng.uniform(math.log(1e6), math.log(1e7)))
    else:
        yuan = min(math.exp(rng.gauss(10.3, 1.5)), 9.5e5)
    return max(10000, int(yuan * 100))


def _customer(rng: random.Random, i: int, branch: str, am: str, t0: int,
              days: int) -> tuple[Customer, Cust]:
    cid = f"C{i:06d}"
    assets = _assets(rng)
    age = rng.randint(18, 88)
    birthday = f"{2025 - age}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    asleep_at_start = rng.random() < 0.05
    last = t0 - (rng.randint(100, 400) if asleep_at_start else rng.randint(0, 9)) * DAY
    prof = Customer(customer_id=cid, name=_name(rng), assets=assets, manager_id=am,
                    branch_id=branch, last_activity_at=last, birthday=birthday, age=age,
                    segment=rng.choice(("retail", "retail", "retail", "payroll", "senior")))
    c = _habits(rng, cid, assets, t0, days, asleep_at_start)
    return prof, c


def _habits(rng: random.Random, cid: str, assets: int, t0: int, days: int,
            asleep_at_start: bool) -> Cust:
    salary = 0
    if rng.random() < 0.6:
        salary = round_amount(min(15_000_000, max(250_000, int(assets * rng.uniform(0.03, 0.12)))))
    c = Cust(
        cid=cid, acct=f"A{cid[1:]}01", balance=assets, salary=salary,
        salary_day=rng.choice((5, 10, 10, 15, 15, 20, 25)),
        bill=round_amount(rng.randint(8_000, 60_000)) if rng.random() < 0.5 else 0,
        bill_day=rng.randint(1, 28), wd_rate=rng.uniform(0.03, 0.25),
        wd_median=max(10_000, min(5_000_000, int(assets * rng.uniform(0.005, 0.04)))),
        dep_rate=rng.uniform(0.02, 0.12), channel=rng.choice(CHANNELS),
        pays_fee=rng.random() < 0.3,
        remits_to=rng.choice(OTHER_BANKS) if rng.random() < 0.08 else None,
        paid_from=rng.choice(OTHER_BANKS) if rng.random() < 0.1 else None,
        sleeps=[], oneoffs=[])
    c.next_wd = t0 + int(rng.expovariate(c.wd_rate) * DAY)
    c.next_dep = t0 + int(rng.expovariate(c.dep_rate) * DAY)
    end = t0 + days * DAY
    _plan_sleep(rng, c, t0, end, asleep_at_start)
    _plan_oneoffs(rng, c, t0, end)
    c.oneoffs.sort(key=lambda o: o[0])
    return c


def _plan_sleep(rng: random.Random, c: Cust, t0: int, end: int, asleep: bool) -> None:
    """Dormant spells: some customers start asleep, some fall asleep; most of them wake up
    with a deposit, the others stay silent to the end."""
    if asleep:
        wake = t0 + rng.randint(5, 200) * DAY if rng.random() < 0.5 else end
        c.sleeps.append((t0, wake))
    elif rng.random() < 0.08:
        frm = t0 + rng.randint(0, 150) * DAY
        wake = frm + rng.randint(60, 240) * DAY if rng.random() < 0.6 else end
        c.sleeps.append((frm, wake))
    for _frm, wake in c.sleeps:
        if wake < end:
            c.oneoffs.append((wake + secs_between(rng, 9, 17) * 1000, "wake", {}))


def _plan_oneoffs(rng: random.Random, c: Cust, t0: int, end: int) -> None:
    span = end - t0
    r = rng.random()
    if r < 0.03:
        c.oneoffs.append((t0 + int(rng.random() * span), "large_withdrawal", {}))
    elif r < 0.05:
        c.oneoffs.append((t0 + int(rng.random() * span), "large_deposit", {}))
    if rng.random() < 0.006:  # a lost or skimmed card: a burst of ATM withdrawals in hours
        at = t0 + int(rng.random() * span)
        for k in range(rng.randint(8, 12)):
            c.oneoffs.append((at + k * rng.randint(10, 40) * 60_000, "atm_burst", {}))
    r = rng.random()
    if r < 0.015:  # churn: complaint, then money leaves for another bank over a few days
        at = t0 + int(rng.random() * span)
        _plan_complaint(rng, c, at, repeat=rng.random() < 0.5)
        bank = rng.choice(OTHER_BANKS)
        for k in range(rng.randint(1, 3)):
            c.oneoffs.append((at + (k + 1) * rng.randint(1, 4) * DAY, "runoff", {"bank": bank}))
    elif r < 0.05:
        _plan_complaint(rng, c, t0 + int(rng.random() * span), repeat=rng.random() < 0.2)


def _plan_complaint(rng: random.Random, c: Cust, at: int, repeat: bool) -> None:
    texts = _complaints()
    n = rng.randint(2, 4) if repeat else 1
    base = rng.choice(texts)
    for k in range(n):
        ts = at + k * rng.randint(2, 12) * DAY
        item = base if k and rng.random() < 0.7 else rng.choice(texts)
        p = {"n": k, "item": item, "severity": rng.choice(("low", "medium", "high"))}
        c.oneoffs.append((ts, "complaint", p))
        fate = rng.random()  # resolved fast (hours), late (days) or never
        if fate < 0.6:
            c.oneoffs.append((ts + rng.randint(1, 20) * 3_600_000, "resolve", p))
        elif fate < 0.85:
            c.oneoffs.append((ts + rng.randint(1, 3) * DAY, "update", p))
            c.oneoffs.append((ts + rng.randint(4, 12) * DAY, "resolve", p))


_COMPLAINTS: list[dict[str, str]] = []


def _complaints() -> list[dict[str, str]]:
    """Real CFPB categories and first sentences (copied into the package; see the JSON)."""
    if not _COMPLAINTS:
        raw = resources.files("alerting").joinpath("data/cfpb_complaints.json").read_text("utf-8")
        _COMPLAINTS.extend({"category": x["category"], "text": x["text"]}
                           for x in json.loads(raw)["complaints"])
    return _COMPLAINTS


def _local_midnight_ms(d: date) -> int:
    dt = datetime(d.year, d.month, d.day, tzinfo=UTC) - timedelta(minutes=TZ_MIN)
    return int(dt.timestamp()) * 1000


_CUSTOMER_COLUMNS = ("customer_id", "name", "tier", "assets", "manager_id", "branch_id",
                     "last_activity_at", "birthday", "age", "segment")
_MANAGER_COLUMNS = ("manager_id", "name", "role", "supervisor_id", "branch_id", "email", "locale")


def _write_customers(path: Path, customers: list[Customer]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(_CUSTOMER_COLUMNS)
        for c in customers:
            last = "" if c.last_activity_at is None else format_ts(c.last_activity_at, TZ_MIN)
            w.writerow((c.customer_id, c.name, c.tier or "", money(c.assets),
                        c.manager_id or "", c.branch_id or "", last, c.birthday or "",
                        "" if c.age is None else c.age, c.segment or ""))


def _write_managers(path: Path, managers: list[Manager]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(_MANAGER_COLUMNS)
        for m in managers:
            w.writerow((m.manager_id, m.name, m.role, m.supervisor_id or "", m.branch_id or "",
                        m.email or "", m.locale))
