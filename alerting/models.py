"""Wire events and their parsing. Events are small slotted objects built by hand-written parsers
(not pydantic) because they sit on the hot path: a backtest parses every line of history.

Money is integer cents, time is epoch milliseconds plus the event's UTC offset in minutes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, TypeVar

import msgspec

from alerting.errors import BadEvent
from alerting.money import to_cents
from alerting.timeutil import _HOURS as _TS_HOURS
from alerting.timeutil import _RESTS as _TS_RESTS
from alerting.timeutil import parse_ts

TRANSACTION_KINDS = frozenset(
    {"deposit", "withdrawal", "transfer_in", "transfer_out", "fee", "interest"}
)
COMPLAINT_STATUSES = frozenset({"opened", "updated", "resolved"})
MANAGER_ROLES = ("account_manager", "supervisor", "branch_vp", "branch_president")
MAX_ID_LEN = 128
MAX_TEXT_LEN = 8192
_T = TypeVar("_T")


@dataclass(slots=True)
class Transaction:
    """A money movement on one of the customer's accounts."""

    type: ClassVar[str] = "transaction"
    event_id: str
    customer_id: str
    account_id: str
    ts: int  # epoch ms, UTC
    tz: int  # offset of the original timestamp, minutes
    kind: str
    amount: int  # cents, > 0
    currency: str = "CNY"
    channel: str = ""
    balance_after: int | None = None  # cents, may be negative (overdraft)
    counterparty_bank: str | None = None


@dataclass(slots=True)
class Complaint:
    """A complaint lifecycle event (opened, updated, resolved)."""

    type: ClassVar[str] = "complaint"
    event_id: str
    complaint_id: str
    customer_id: str
    ts: int
    tz: int
    status: str
    category: str = ""
    severity: str = ""
    text: str | None = None


@dataclass(slots=True)
class CustomerUpdate:
    """A customer profile update arriving on the event stream (takes effect for later events)."""

    type: ClassVar[str] = "customer"
    event_id: str
    customer_id: str
    ts: int
    tz: int
    fields: dict[str, Any]


@dataclass(slots=True)
class Watermark:
    """A control record that advances event time without being a customer event (used to
    fire inactivity and SLA timers on a quiet stream)."""

    type: ClassVar[str] = "watermark"
    ts: int
    tz: int = 0
    event_id: str = ""
    customer_id: str = ""


Event = Transaction | Complaint | CustomerUpdate | Watermark

# Events of one instant (equal ``ts``) are applied in this order, whatever order they came in:
# profile updates, then transactions, then complaints, then watermarks; within a type, as they
# came. A worker cannot tell how events on different topics interleaved, so it merges its input
# topics by (ts, this rank) (``Settings.input_topics`` lists them in it); the file runs (``run``,
# ``backtest``, the rules file's tests) apply the same order, so that all give the same tasks
# (a same-second complaint and transfer would otherwise make a sequence rule match differently).
INSTANT_RANK: dict[str, int] = {"customer": 0, "transaction": 1, "complaint": 2, "watermark": 3}


def in_instant_order(items: list[_T], event_of: Callable[[_T], Event]) -> list[_T]:
    """``items`` (in the order they came) with each run of equal ``ts`` in ``INSTANT_RANK``
    order (a stable sort: one type keeps its order). Runs are consecutive items, so input in
    time order, as history exports and topics are, is covered whole."""
    out: list[_T] = []
    i, n = 0, len(items)
    while i < n:
        ts = event_of(items[i]).ts
        j = i + 1
        while j < n and event_of(items[j]).ts == ts:
            j += 1
        group = items[i:j]
        if j - i > 1:
            group.sort(key=lambda x: INSTANT_RANK[event_of(x).type])
        out += group
        i = j
    return out


def _req_str(d: dict[str, Any], key: str) -> str:
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


def _opt_str(d: dict[str, Any], key: str, default: str | None = None) -> str | None:
    v = d.get(key)
    if v is None or v == "":
        return default
    if isinstance(v, int | float) and not isinstance(v, bool):
        return str(v)
    if not isinstance(v, str):
        raise BadEvent(f"bad_{key}", f"{key} must be a string")
    return v[:MAX_TEXT_LEN]


def parse_transaction(d: dict[str, Any]) -> Transaction:
    """Validate a transaction dict from the wire."""
    ts, tz = parse_ts(d.get("ts"))
    kind = d.get("kind")
    if type(kind) is not str or kind not in TRANSACTION_KINDS:  # a list is not hashable
        raise BadEvent("bad_kind", "kind must be one of " + ", ".join(sorted(TRANSACTION_KINDS)))
    # Hot path (every line of a backtest): plain non-empty strings are taken as they are; any
    # other value goes through _req_str/_opt_str, which decide and raise exactly as before.
    # Fields are checked in the same order as before, so the first error reported is the same.
    g = d.get
    v = g("event_id")
    event_id = v if type(v) is str and 0 < len(v) <= MAX_ID_LEN else _req_str(d, "event_id")
    v = g("customer_id")
    customer_id = (v if type(v) is str and 0 < len(v) <= MAX_ID_LEN
                   else _req_str(d, "customer_id"))
    v = g("account_id")
    account_id = (v if type(v) is str and 0 < len(v) <= MAX_TEXT_LEN
                  else _opt_str(d, "account_id", "") or "")
    amount = to_cents(g("amount"))
    v = g("currency")
    currency = (v if type(v) is str and 0 < len(v) <= MAX_TEXT_LEN
                else _opt_str(d, "currency", "CNY") or "CNY").upper()
    v = g("channel")
    channel = (v if type(v) is str and 0 < len(v) <= MAX_TEXT_LEN
               else _opt_str(d, "channel", "") or "")
    bal = g("balance_after")
    balance_after = None if bal is None or bal == "" else to_cents(
        bal, field="balance_after", allow_zero=True, allow_negative=True)
    v = g("counterparty_bank")
    bank = (v if type(v) is str and 0 < len(v) <= MAX_TEXT_LEN
            else None if v is None else _opt_str(d, "counterparty_bank"))
    return Transaction(event_id, customer_id, account_id, ts, tz, kind, amount, currency, channel,
                       balance_after, bank)


def parse_complaint(d: dict[str, Any]) -> Complaint:
    """Validate a complaint dict from the wire."""
    ts, tz = parse_ts(d.get("ts"))
    status = d.get("status")
    if type(status) is not str or status not in COMPLAINT_STATUSES:
        raise BadEvent("bad_status", "status must be opened, updated or resolved")
    return Complaint(
        event_id=_req_str(d, "event_id"),
        complaint_id=_req_str(d, "complaint_id"),
        customer_id=_req_str(d, "customer_id"),
        ts=ts,
        tz=tz,
        status=status,
        category=_opt_str(d, "category", "") or "",
        severity=_opt_str(d, "severity", "") or "",
        text=_opt_str(d, "text"),
    )


def parse_customer_update(d: dict[str, Any]) -> CustomerUpdate:
    """A profile update: the customer fields of the directory, with an optional ts."""
    cid = _req_str(d, "customer_id")
    if d.get("ts") is None:
        ts, tz = 0, 0
    else:
        ts, tz = parse_ts(d.get("ts"))
    fields = {k: v for k, v in d.items() if k not in ("type", "event_id", "ts")}
    return CustomerUpdate(event_id=str(d.get("event_id") or f"customer:{cid}:{ts}"),
                          customer_id=cid, ts=ts, tz=tz, fields=fields)


def parse_watermark(d: dict[str, Any]) -> Watermark:
    """A control record carrying only a ts."""
    ts, tz = parse_ts(d.get("ts"))
    return Watermark(ts=ts, tz=tz)


_PARSERS: dict[str, Callable[[dict[str, Any]], Event]] = {
    "transaction": parse_transaction,
    "complaint": parse_complaint,
    "customer": parse_customer_update,
    "watermark": parse_watermark,
}


def parse_event(d: Any) -> Event:
    """Validate one decoded JSON object into an event, or raise ``BadEvent`` with a reason code."""
    if not isinstance(d, dict):
        raise BadEvent("not_an_object", "an event must be a JSON object")
    t = d.get("type")
    parser = _PARSERS.get(t) if isinstance(t, str) else None
    if parser is None:
        raise BadEvent("bad_type", "type must be transaction, complaint, customer or watermark")
    return parser(d)


_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_LEN)]
_Text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT_LEN)]


class _WireTransaction(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """The usual, valid shape of a transaction on the wire, for ``fast_transaction``: every
    value a JSON string (optional ones may be null or absent) that ``parse_transaction`` takes
    as it is, and no other keys, so that msgspec decodes and checks every value in C (nothing is
    skipped unvalidated). A record that does not fit is decoded by the reference path."""

    type: Literal["transaction"]
    event_id: _Id
    customer_id: _Id
    ts: str
    kind: Literal["deposit", "withdrawal", "transfer_in", "transfer_out", "fee", "interest"]
    amount: str
    account_id: _Text | None = None
    currency: _Text | None = None
    channel: _Text | None = None
    balance_after: str | None = None
    counterparty_bank: _Text | None = None


_decode_wire = msgspec.json.Decoder(_WireTransaction).decode


def _py_fast_transaction(raw: bytes) -> Transaction:
    """The transaction of a record of the usual, valid shape, straight from its JSON bytes
    (the Python path; ``fast_transaction`` is the C decoder in front of it when built).

    Raises (anything: a JSON or msgspec error, ``BadEvent``...) when the record is anything
    else; the caller then decodes it the reference way, ``parse_event(orjson.loads(raw))``,
    which decides and reports it, so results and the first error reported stay the same
    (``fast_event`` is the wrapper that returns None instead). Values are checked as
    ``parse_transaction`` and the fast paths of ``parse_ts`` and ``to_cents`` check them,
    written out because calls cost here."""
    w = _decode_wire(raw)
    # parse_ts's cached fast path, inlined (its caches, filled by parse_ts only, with pieces of
    # timestamps its general path accepted); anything it would not hit goes through parse_ts.
    s = w.ts
    hour = _TS_HOURS.get(s[:13])
    rest = _TS_RESTS.get(s[13:])
    if hour is None or rest is None:
        ts, tz = parse_ts(s)
    else:
        ts, tz = hour + rest[0], rest[1]
    # to_cents's fast path for "1234.56" (digits, a dot, two digits), inlined.
    v = w.amount
    digits = v.replace(".", "", 1)
    if len(v) > 3 and v[-3] == "." and digits.isascii() and digits.isdigit() and int(digits) > 0:
        amount = int(digits)
    else:
        amount = to_cents(v)
    bal = w.balance_after
    if not bal:
        balance_after = None
    else:
        digits = bal.replace(".", "", 1)
        if len(bal) > 3 and bal[-3] == "." and digits.isascii() and digits.isdigit():
            balance_after = int(digits)
        else:
            balance_after = to_cents(bal, field="balance_after", allow_zero=True,
                                     allow_negative=True)
    currency = w.currency
    # null and "" mean the default, as in parse_transaction
    return Transaction(w.event_id, w.customer_id, w.account_id or "", ts, tz, w.kind, amount,
                       currency.upper() if currency else "CNY", w.channel or "", balance_after,
                       w.counterparty_bank or None)


try:
    from alerting import _speedups
except ImportError:  # installed without a C compiler: the Python path alone, slower
    _speedups = None  # type: ignore[assignment]
C_DECODER = _speedups is not None
if _speedups is not None:
    # The C decoder takes the strictest usual records itself and hands every other one to
    # ``_py_fast_transaction`` (so the results and errors are the same): see _speedups.c.
    _speedups.init(Transaction, _py_fast_transaction,
                   tuple(f.name for f in dataclasses.fields(Transaction)))
    fast_transaction: Callable[[bytes], Transaction] = _speedups.transaction
else:
    fast_transaction = _py_fast_transaction


def decoder_text(asked: str) -> str:
    """For the worker's start line: which decoder runs (a build without a C compiler runs,
    more slowly, and says so)."""
    if asked == "python":
        return "Python decoder (ALERTING_DECODER=python)"
    return ("C decoder" if C_DECODER else
            "Python decoder (the C one is not built: no C compiler at install; slower)")


def fast_event(raw: bytes) -> Event | None:
    """The event of a well-formed record of the common shape, or None: then (and only then) the
    caller must decode it the reference way, ``parse_event(orjson.loads(raw))``, which gives
    the same result for everything this accepts and decides and reports all the rest."""
    try:
        return fast_transaction(raw)
    except Exception:  # noqa: BLE001 - anything unusual (bad JSON, other shape, bad value)
        return None


def event_to_dict(ev: Event) -> dict[str, Any]:
    """Back to the wire format (used by the sample generator, the inbox page and tests)."""
    from alerting.money import format_money
    from alerting.timeutil import format_ts

    if isinstance(ev, Transaction):
        d: dict[str, Any] = {
            "event_id": ev.event_id, "type": "transaction", "customer_id": ev.customer_id,
            "account_id": ev.account_id, "ts": format_ts(ev.ts, ev.tz), "kind": ev.kind,
            "amount": format_money(ev.amount), "currency": ev.currency, "channel": ev.channel,
        }
        if ev.balance_after is not None:
            d["balance_after"] = format_money(ev.balance_after)
        if ev.counterparty_bank:
            d["counterparty_bank"] = ev.counterparty_bank
        return d
    if isinstance(ev, Complaint):
        d = {
            "event_id": ev.event_id, "type": "complaint", "complaint_id": ev.complaint_id,
            "customer_id": ev.customer_id, "ts": format_ts(ev.ts, ev.tz), "status": ev.status,
            "category": ev.category, "severity": ev.severity,
        }
        if ev.text:
            d["text"] = ev.text
        return d
    if isinstance(ev, CustomerUpdate):
        return {"type": "customer", "event_id": ev.event_id, **ev.fields,
                **({"ts": format_ts(ev.ts, ev.tz)} if ev.ts else {})}
    return {"type": "watermark", "ts": format_ts(ev.ts, ev.tz)}
