"""Convert the PKDD'99 Berka financial data (a real Czech bank, 1993-1998) to alerting's wire
format: ``events.jsonl.gz``, ``customers.csv`` and ``managers.csv``.

Input (``;``-separated, quoted, header on line 1): ``account.asc``, ``client.asc``,
``disp.asc``, ``district.asc`` and ``trans.asc`` or ``trans_prefix.asc``.

Transaction mapping (type / operation / k_symbol → our ``kind``, ``channel``):

| Berka                                          | kind          | channel  |
|------------------------------------------------|---------------|----------|
| PRIJEM  VKLAD (cash deposit)                   | deposit       | counter  |
| PRIJEM  PREVOD Z UCTU (transfer from a bank)   | transfer_in   | transfer |
| PRIJEM  (empty) + UROK (interest credited)     | interest      | system   |
| VYDAJ/VYBER VYBER + SLUZBY (statement fee)     | fee           | system   |
| VYDAJ/VYBER VYBER + SANKC. UROK (penalty)      | fee           | system   |
| VYDAJ/VYBER VYBER (cash withdrawal)            | withdrawal    | counter  |
| VYDAJ  VYBER KARTOU (card withdrawal)          | withdrawal    | card     |
| VYDAJ  PREVOD NA UCET (transfer to a bank)     | transfer_out  | transfer |

``counterparty_bank`` is the ``bank`` column (set for transfers to or from another bank);
``k_symbol`` purposes (SIPO household, DUCHOD pension, POJISTNE insurance, UVER loan) are kept
only for the ones above. The customer is the account's OWNER (``disp.asc``); a DISPONENT does
not own events. Dates have no time of day: every event is stamped 12:00 local time, +01:00
(Central European winter time, fixed so the output has no DST ambiguity); same-day events keep
the file's order through their sequence in ``event_id``. Currency CZK. Zero amounts (none in
the real files) are skipped and counted, never emitted: the wire contract needs ``amount > 0``.

Directory: ``assets`` is the time-weighted average balance of the customer's accounts over the
last 90 days of the input (a trailing daily average, like the brief's 日均资产; this looks ahead
when replaying the earlier months, which is fine for a demo). Tiers are left to the rules file.
``last_activity_at`` is the account's opening date. Managers are synthetic: one branch per
region of ``district.asc`` (president → VP → supervisor) and, per district, one account manager
per 40 customers (named after the district); customers are assigned round-robin in client-id
order.
"""

from __future__ import annotations

import csv
import gzip
import math
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from alerting.errors import ConfigError

TZ = "+01:00"
TRAILING_DAYS = 90
CUSTOMERS_PER_MANAGER = 40
_FEE_SYMBOLS = frozenset({"SLUZBY", "SANKC. UROK"})


def read_asc(path: Path) -> Iterator[dict[str, str]]:
    """Rows of a Berka ``.asc`` file as dicts (quotes and padding stripped)."""
    if not path.exists():
        raise ConfigError(f"Berka file not found: {path}")
    with open(path, encoding="latin-1", newline="") as fh:
        for row in csv.DictReader(fh, delimiter=";"):
            yield {k.strip(): (v or "").strip() for k, v in row.items() if k}


def berka_date(yymmdd: str) -> date:
    """'930101' -> 1993-01-01 (all Berka dates are 19xx)."""
    return date(1900 + int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:6]))


def birthday(birth_number: str) -> str:
    """Birth number YYMMDD, with 50 added to the month for women -> 'YYYY-MM-DD'."""
    yy, mm, dd = int(birth_number[:2]), int(birth_number[2:4]), int(birth_number[4:6])
    return f"19{yy:02d}-{mm - 50 if mm > 50 else mm:02d}-{dd:02d}"


def map_kind(ttype: str, operation: str, k_symbol: str) -> tuple[str, str] | None:
    """(kind, channel) for a Berka transaction, or None if it does not map."""
    if ttype == "PRIJEM":
        if operation == "PREVOD Z UCTU":
            return "transfer_in", "transfer"
        if operation == "" and k_symbol == "UROK":
            return "interest", "system"
        return "deposit", "counter"
    if ttype in ("VYDAJ", "VYBER"):
        if operation == "PREVOD NA UCET":
            return "transfer_out", "transfer"
        if operation == "VYBER KARTOU":
            return "withdrawal", "card"
        if k_symbol in _FEE_SYMBOLS:
            return "fee", "system"
        return "withdrawal", "counter"
    return None


def _cents(s: str) -> int:
    whole, _, frac = s.partition(".")
    neg = whole.startswith("-")
    c = abs(int(whole or "0")) * 100 + int((frac + "00")[:2])
    return -c if neg else c


def _money(c: int) -> str:
    sign = "-" if c < 0 else ""
    return f"{sign}{abs(c) // 100}.{abs(c) % 100:02d}"


@dataclass
class BerkaData:
    """The converted data set."""

    events: list[dict[str, Any]]
    customers: list[dict[str, str]]
    managers: list[dict[str, str]]
    skipped: Counter[str] = field(default_factory=Counter)

    def write(self, out_dir: str | Path) -> dict[str, int]:
        """Write the three files (gzip mtime 0: the same input gives the same bytes)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "events.jsonl.gz", "wb") as raw, gzip.GzipFile(
                filename="", mode="wb", fileobj=raw, mtime=0) as gz:
            gz.write(b"".join(orjson.dumps(e) + b"\n" for e in self.events))
        _write_csv(out / "customers.csv", self.customers)
        _write_csv(out / "managers.csv", self.managers)
        return {"events": len(self.events), "customers": len(self.customers),
                "managers": len(self.managers), "skipped": sum(self.skipped.values())}


def _write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        if not rows:
            return
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def _trans_file(d: Path) -> Path:
    for name in ("trans.asc", "trans_prefix.asc"):
        if (d / name).exists():
            return d / name
    raise ConfigError(f"no trans.asc or trans_prefix.asc in {d}")


def select_accounts(trans: list[dict[str, str]], limit: int | None) -> set[str] | None:
    """``limit`` accounts spread evenly over the account ids that have transactions
    (deterministic), or None for all."""
    if limit is None:
        return None
    ids = sorted({t["account_id"] for t in trans}, key=int)
    if limit >= len(ids):
        return set(ids)
    step = len(ids) / limit
    return {ids[math.floor(i * step)] for i in range(limit)}


def convert(src: str | Path, accounts: int | None = None) -> BerkaData:
    """Read the Berka directory ``src`` and convert it (optionally only ``accounts`` of them)."""
    d = Path(src)
    owners = {r["account_id"]: r["client_id"] for r in read_asc(d / "disp.asc")
              if r["type"] == "OWNER"}
    acc = {r["account_id"]: r for r in read_asc(d / "account.asc")}
    clients = {r["client_id"]: r for r in read_asc(d / "client.asc")}
    districts = {r["A1"]: (r["A2"], r["A3"]) for r in read_asc(d / "district.asc")}
    trans = list(read_asc(_trans_file(d)))
    keep = select_accounts(trans, accounts)
    data = BerkaData([], [], [])
    balances: dict[str, list[tuple[date, int]]] = defaultdict(list)
    for t in trans:
        if keep is not None and t["account_id"] not in keep:
            continue
        ev = _event(t, owners, data.skipped)
        if ev is not None:
            data.events.append(ev)
            balances[t["account_id"]].append((berka_date(t["date"]), _cents(t["balance"])))
    last_day = max((b[-1][0] for b in balances.values()), default=date(1993, 1, 1))
    data.customers, data.managers = _directory(balances, owners, acc, clients, districts,
                                               last_day)
    return data


def _event(t: dict[str, str], owners: dict[str, str],
           skipped: Counter[str]) -> dict[str, Any] | None:
    mapped = map_kind(t["type"], t["operation"], t["k_symbol"])
    owner = owners.get(t["account_id"])
    amount = _cents(t["amount"]) if t["amount"] else 0
    if mapped is None or owner is None or amount <= 0:
        skipped["unmapped" if mapped is None else "no_owner" if owner is None
                else "zero_amount"] += 1
        return None
    kind, channel = mapped
    day = berka_date(t["date"]).isoformat()
    ev: dict[str, Any] = {
        "event_id": f"berka-{t['trans_id']}", "type": "transaction",
        "customer_id": f"C{owner}", "account_id": f"A{t['account_id']}",
        "ts": f"{day}T12:00:00{TZ}", "kind": kind, "amount": _money(amount), "currency": "CZK",
        "channel": channel, "balance_after": _money(_cents(t["balance"])),
    }
    if t["bank"]:
        ev["counterparty_bank"] = t["bank"]
    if t["k_symbol"] and kind in ("transfer_in", "transfer_out", "withdrawal"):
        ev["purpose"] = t["k_symbol"]
    return ev


def trailing_average(points: list[tuple[date, int]], last_day: date,
                     days: int = TRAILING_DAYS) -> int:
    """Time-weighted average end-of-day balance (cents) over the ``days`` days ending on
    ``last_day``; the balance carries forward between transactions, zero before the first."""
    eod: dict[date, int] = {}
    for day, bal in points:  # the last posting of a day is the day's closing balance
        eod[day] = bal
    first = last_day.toordinal() - days + 1
    bal = 0
    total = 0
    ordered = sorted(eod.items())
    i = 0
    while i < len(ordered) and ordered[i][0].toordinal() < first:
        bal = ordered[i][1]
        i += 1
    for o in range(first, last_day.toordinal() + 1):
        while i < len(ordered) and ordered[i][0].toordinal() == o:
            bal = ordered[i][1]
            i += 1
        total += bal
    return total // days


def _directory(balances: dict[str, list[tuple[date, int]]], owners: dict[str, str],
               acc: dict[str, dict[str, str]], clients: dict[str, dict[str, str]],
               districts: dict[str, tuple[str, str]], last_day: date,
               ) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    assets: Counter[str] = Counter()
    district_of: dict[str, str] = {}
    opened: dict[str, date] = {}
    for account_id, points in balances.items():
        cid = owners[account_id]
        assets[cid] += trailing_average(points, last_day)
        district_of.setdefault(cid, acc[account_id]["district_id"])
        od = berka_date(acc[account_id]["date"])
        opened[cid] = min(opened.get(cid, od), od)
    by_district: dict[str, list[str]] = defaultdict(list)
    for cid in sorted(assets, key=int):
        by_district[district_of[cid]].append(cid)
    customers: list[dict[str, str]] = []
    managers: list[dict[str, str]] = []
    branches: dict[str, str] = {}  # region -> branch id
    for did in sorted(by_district, key=int):
        dname, region = districts.get(did, (f"district {did}", "unknown"))
        if region not in branches:
            branches[region] = f"R{len(branches) + 1:02d}"
            managers += _branch_managers(branches[region], region)
        ams = _district_managers(did, dname, branches[region], len(by_district[did]), managers)
        for n, cid in enumerate(by_district[did]):
            customers.append({
                "customer_id": f"C{cid}", "name": "", "tier": "",
                "assets": _money(max(0, assets[cid])), "manager_id": ams[n % len(ams)],
                "branch_id": branches[region],
                "last_activity_at": f"{opened[cid].isoformat()}T12:00:00{TZ}",
                "birthday": birthday(clients[cid]["birth_number"]),
            })
    return customers, managers


def _mgr(mid: str, role: str, sup_id: str, branch: str, name: str) -> dict[str, str]:
    return {"manager_id": mid, "name": name, "role": role, "supervisor_id": sup_id,
            "branch_id": branch, "email": f"{mid.lower()}@bank.example", "locale": "en"}


def _branch_managers(branch: str, region: str) -> list[dict[str, str]]:
    """A region's branch: president, VP, supervisor."""
    p, vp = f"M-{branch}-P", f"M-{branch}-VP1"
    return [_mgr(p, "branch_president", "", branch, f"{region} branch president"),
            _mgr(vp, "branch_vp", p, branch, f"{region} branch VP"),
            _mgr(f"M-{branch}-S01", "supervisor", vp, branch, f"{region} supervisor")]


def _district_managers(did: str, dname: str, branch: str, n_customers: int,
                       out: list[dict[str, str]]) -> list[str]:
    """Append a district's account managers (one per 40 customers) to ``out``."""
    ams = []
    for a in range(1, max(1, math.ceil(n_customers / CUSTOMERS_PER_MANAGER)) + 1):
        mid = f"M-{branch}-D{int(did):02d}-AM{a}"
        out.append(_mgr(mid, "account_manager", f"M-{branch}-S01", branch,
                        f"{dname} account manager {a}"))
        ams.append(mid)
    return ams
