"""Decode+validate benchmark (a script, not a test). Run: ``.venv/bin/python bench/parse.py``.

On the events of ``alerting.sample.generate(3400, 365, seed=11)`` serialized with orjson (the
bytes ``bench/kafka.py`` sends), in one run, per record:

(1) bare ``orjson.loads`` (the baseline: what the raw Kafka consumer of bench/kafka.py does);
(2) the old path: a reference copy (below, for this benchmark only) of ``parse_item`` and
    ``parse_event`` as they were before the msgspec fast path (orjson.loads + dict parsers +
    ``to_cents`` + ``parse_ts`` + a dataclass ``Item``);
(3) the new ``alerting.streams.shard.parse_item``;
(4)/(5) the same without the Item, i.e. the decode of ``io.read_events``/``backtest.replay``:
    old ``parse_event(orjson.loads(raw))`` against new ``fast_transaction(raw)`` with its
    fallback to that.

Rounds alternate the variants and the best of N rounds is kept (the machine is shared and
noisy); ratios are against (1) and the old path, measured in the same run. Before timing, every
record is checked to decode to equal events (and equal Items) on the old and the new path.

Options: ``--customers``, ``--days``, ``--rounds``, ``--limit`` (records, default all).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from alerting.errors import BadEvent  # noqa: E402
from alerting.models import (  # noqa: E402
    COMPLAINT_STATUSES,
    MAX_ID_LEN,
    MAX_TEXT_LEN,
    TRANSACTION_KINDS,
    Complaint,
    CustomerUpdate,
    Event,
    Transaction,
    Watermark,
    fast_event,
    fast_transaction,
    parse_event,
)
from alerting.sample import generate  # noqa: E402
from alerting.streams.shard import parse_item  # noqa: E402

# --- the old path: a copy of the code as it was, for comparison only ---------------------------

_REF_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_REF_OFFSETS: dict[tzinfo | None, int] = {}
_NEG_INF = -(2**62)


def _ref_parse_ts(value: object, *, field: str = "ts") -> tuple[int, int]:
    if not isinstance(value, str):
        raise BadEvent(f"bad_{field}", f"{field} must be an ISO-8601 string")
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise BadEvent(f"bad_{field}", f"{field} is not ISO-8601") from None
    off_s = _REF_OFFSETS.get(dt.tzinfo)
    if off_s is None:
        off = dt.utcoffset()
        if off is None:
            raise BadEvent(f"bad_{field}", f"{field} has no UTC offset")
        off_s = off.days * 86400 + off.seconds
        if len(_REF_OFFSETS) < 1000:
            _REF_OFFSETS[dt.tzinfo] = off_s
    local_s = ((dt.toordinal() - _REF_EPOCH_ORDINAL) * 86400 + dt.hour * 3600 + dt.minute * 60
               + dt.second)
    return (local_s - off_s) * 1000 + dt.microsecond // 1000, off_s // 60


def _ref_to_cents(value: Any, *, field: str = "amount", allow_zero: bool = False,
                  allow_negative: bool = False) -> int:
    if type(value) is str:
        if len(value) > 3 and value[-3] == ".":
            digits = value.replace(".", "", 1)
            if digits.isascii() and digits.isdigit():
                cents = int(digits)
                if cents > 0 or (cents == 0 and allow_zero):
                    return cents
        whole, dot, frac = value.partition(".")
        if whole.isascii() and whole.isdigit() and (
                not dot or (0 < len(frac) <= 2 and frac.isascii() and frac.isdigit())):
            cents = int(whole) * 100 + (int(frac) * (10 if len(frac) == 1 else 1) if dot else 0)
            if cents > 0 or (cents == 0 and allow_zero):
                return cents
    if isinstance(value, bool):
        raise BadEvent(f"bad_{field}", f"{field} must be a number, not a boolean")
    if isinstance(value, int):
        cents = value * 100
    else:
        if isinstance(value, float):
            value = repr(value)
        if not isinstance(value, str):
            raise BadEvent(f"bad_{field}", f"{field} must be a decimal string or number")
        try:
            d = Decimal(value.strip())
        except (InvalidOperation, ValueError):
            raise BadEvent(f"bad_{field}", f"{field} is not a decimal number") from None
        if not d.is_finite():
            raise BadEvent(f"bad_{field}", f"{field} must be finite")
        scaled = d * 100
        if scaled != scaled.to_integral_value():
            raise BadEvent(f"bad_{field}", f"{field} has more than two decimal places")
        cents = int(scaled)
    if cents < 0 and not allow_negative:
        raise BadEvent(f"bad_{field}", f"{field} must not be negative")
    if cents == 0 and not allow_zero:
        raise BadEvent(f"bad_{field}", f"{field} must be > 0")
    return cents


def _ref_req_str(d: dict[str, Any], key: str) -> str:
    v = d.get(key)
    if v is None or v == "":
        raise BadEvent(f"missing_{key}", f"{key} is required")
    if isinstance(v, int) and not isinstance(v, bool):
        v = str(v)
    if not isinstance(v, str):
        raise BadEvent(f"bad_{key}", f"{key} must be a string")
    if len(v) > MAX_ID_LEN:
        raise BadEvent(f"bad_{key}", f"{key} longer than {MAX_ID_LEN}")
    return v


def _ref_opt_str(d: dict[str, Any], key: str, default: str | None = None) -> str | None:
    v = d.get(key)
    if v is None or v == "":
        return default
    if isinstance(v, int | float) and not isinstance(v, bool):
        return str(v)
    if not isinstance(v, str):
        raise BadEvent(f"bad_{key}", f"{key} must be a string")
    return v[:MAX_TEXT_LEN]


def _ref_transaction(d: dict[str, Any]) -> Transaction:
    ts, tz = _ref_parse_ts(d.get("ts"))
    kind = d.get("kind")
    if kind not in TRANSACTION_KINDS:
        raise BadEvent("bad_kind", "kind must be one of " + ", ".join(sorted(TRANSACTION_KINDS)))
    g = d.get
    v = g("event_id")
    event_id = v if type(v) is str and 0 < len(v) <= MAX_ID_LEN else _ref_req_str(d, "event_id")
    v = g("customer_id")
    customer_id = (v if type(v) is str and 0 < len(v) <= MAX_ID_LEN
                   else _ref_req_str(d, "customer_id"))
    v = g("account_id")
    account_id = (v if type(v) is str and 0 < len(v) <= MAX_TEXT_LEN
                  else _ref_opt_str(d, "account_id", "") or "")
    amount = _ref_to_cents(g("amount"))
    v = g("currency")
    currency = (v if type(v) is str and 0 < len(v) <= MAX_TEXT_LEN
                else _ref_opt_str(d, "currency", "CNY") or "CNY").upper()
    v = g("channel")
    channel = (v if type(v) is str and 0 < len(v) <= MAX_TEXT_LEN
               else _ref_opt_str(d, "channel", "") or "")
    bal = g("balance_after")
    balance_after = None if bal is None or bal == "" else _ref_to_cents(
        bal, field="balance_after", allow_zero=True, allow_negative=True)
    v = g("counterparty_bank")
    bank = (v if type(v) is str and 0 < len(v) <= MAX_TEXT_LEN
            else None if v is None else _ref_opt_str(d, "counterparty_bank"))
    return Transaction(event_id, customer_id, account_id, ts, tz, kind, amount, currency, channel,
                       balance_after, bank)


def _ref_complaint(d: dict[str, Any]) -> Complaint:
    ts, tz = _ref_parse_ts(d.get("ts"))
    status = d.get("status")
    if status not in COMPLAINT_STATUSES:
        raise BadEvent("bad_status", "status must be opened, updated or resolved")
    return Complaint(
        event_id=_ref_req_str(d, "event_id"), complaint_id=_ref_req_str(d, "complaint_id"),
        customer_id=_ref_req_str(d, "customer_id"), ts=ts, tz=tz, status=status,
        category=_ref_opt_str(d, "category", "") or "",
        severity=_ref_opt_str(d, "severity", "") or "", text=_ref_opt_str(d, "text"))


def _ref_customer(d: dict[str, Any]) -> CustomerUpdate:
    cid = _ref_req_str(d, "customer_id")
    ts, tz = (0, 0) if d.get("ts") is None else _ref_parse_ts(d.get("ts"))
    fields = {k: v for k, v in d.items() if k not in ("type", "event_id", "ts")}
    return CustomerUpdate(event_id=str(d.get("event_id") or f"customer:{cid}:{ts}"),
                          customer_id=cid, ts=ts, tz=tz, fields=fields)


def _ref_watermark(d: dict[str, Any]) -> Watermark:
    ts, tz = _ref_parse_ts(d.get("ts"))
    return Watermark(ts=ts, tz=tz)


_REF_PARSERS: dict[str, Callable[[dict[str, Any]], Event]] = {
    "transaction": _ref_transaction, "complaint": _ref_complaint, "customer": _ref_customer,
    "watermark": _ref_watermark}


def ref_parse_event(d: Any) -> Event:
    """``models.parse_event`` as it was."""
    if not isinstance(d, dict):
        raise BadEvent("not_an_object", "an event must be a JSON object")
    t = d.get("type")
    parser = _REF_PARSERS.get(t) if isinstance(t, str) else None
    if parser is None:
        raise BadEvent("bad_type", "type must be transaction, complaint, customer or watermark")
    return parser(d)


@dataclass(slots=True)
class RefItem:
    """``shard.Item`` as it was."""

    ts: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    event: Event | None = None
    error: BadEvent | None = None


def ref_parse_item(offset: int, timestamp_ms: int, key: bytes | None,
                   value: bytes | None) -> RefItem:
    """``shard.parse_item`` as it was."""
    try:
        if value is None:
            raise BadEvent("empty_value", "record has no value")
        try:
            obj = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise BadEvent("bad_json", "value is not JSON") from None
        ev = ref_parse_event(obj)
        return RefItem(ev.ts, offset, timestamp_ms, key, value, event=ev)
    except BadEvent as e:
        return RefItem(_NEG_INF, offset, timestamp_ms, key, value, error=e)


# --- the measurement ---------------------------------------------------------------------------

def new_decode(raw: bytes) -> Event:
    """The decode of ``io.read_events``/``backtest.replay`` now (there it is inlined)."""
    try:
        ev: Event | None = fast_transaction(raw)
    except Exception:  # noqa: BLE001 - not the usual shape
        ev = None
    return ev if ev is not None else parse_event(orjson.loads(raw))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=3400)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--limit", type=int, default=0)
    a = ap.parse_args()

    data = generate(a.customers, a.days, seed=11)
    raws = [orjson.dumps(e) for e in data.events()]
    if a.limit:
        raws = raws[:a.limit]
    n = len(raws)
    key = b"C000001"

    # same results first (the timing below would be meaningless otherwise)
    loads = orjson.loads
    for i, raw in enumerate(raws):
        old, new = ref_parse_item(i, 0, key, raw), parse_item(i, 0, key, raw)
        assert (old.ts, old.offset, old.key, old.value, old.event) == (
            new.ts, new.offset, new.key, new.value, new.event), raw
        assert type(old.event) is type(new.event) and old.error is new.error is None, raw
        assert ref_parse_event(loads(raw)) == new_decode(raw), raw
    fast_share = sum(fast_event(r) is not None for r in raws) / n

    def run_loads() -> None:
        for raw in raws:
            loads(raw)

    def run_old_item() -> None:
        for i, raw in enumerate(raws):
            ref_parse_item(i, 0, key, raw)

    def run_new_item() -> None:
        for i, raw in enumerate(raws):
            parse_item(i, 0, key, raw)

    def run_old_decode() -> None:
        for raw in raws:
            ref_parse_event(loads(raw))

    def run_new_decode() -> None:
        for raw in raws:
            new_decode(raw)

    variants = {"(1) orjson.loads": run_loads, "(2) old parse_item": run_old_item,
                "(3) new parse_item": run_new_item, "(4) old decode": run_old_decode,
                "(5) new decode": run_new_decode}
    best = dict.fromkeys(variants, float("inf"))
    for r in range(a.rounds):
        order = list(variants.items())
        if r % 2:
            order.reverse()  # alternate the order: drift in machine load hits all variants
        for name, f in order:
            t0 = time.perf_counter()
            f()
            best[name] = min(best[name], time.perf_counter() - t0)

    us = {k: v / n * 1e6 for k, v in best.items()}
    print(f"{n:,} records ({a.customers} customers x {a.days} days, seed 11), best of "
          f"{a.rounds} alternating rounds; {os.cpu_count()} cores, Python "
          f"{sys.version.split()[0]}; fast path taken by {fast_share:.1%} of records")
    base = us["(1) orjson.loads"]
    for name, v in us.items():
        print(f"  {name:22s} {v:7.3f} us/record  {v / base:5.2f}x orjson.loads")
    print(f"  parse_item: new/old time {us['(3) new parse_item'] / us['(2) old parse_item']:.3f}"
          f" (old/new speed-up {us['(2) old parse_item'] / us['(3) new parse_item']:.2f}x); "
          f"orjson.loads rate / parse_item rate: old "
          f"{base / us['(2) old parse_item']:.1%}, new {base / us['(3) new parse_item']:.1%}")
    print(f"  decode:     new/old time {us['(5) new decode'] / us['(4) old decode']:.3f}"
          f" (old/new speed-up {us['(4) old decode'] / us['(5) new decode']:.2f}x)")


if __name__ == "__main__":
    main()
