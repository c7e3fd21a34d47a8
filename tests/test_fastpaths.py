"""The hot-path rewrites of ``to_cents``, ``parse_ts`` and ``parse_transaction`` (for backtest
speed) must give exactly what the general paths give, and reject exactly what they reject."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from alerting.errors import BadEvent
from alerting.money import to_cents
from alerting.timeutil import parse_ts


def _slow_cents(v: str, allow_zero: bool = False) -> int | str:
    try:  # a leading space skips the fast path; the general path strips it
        return to_cents(" " + v, allow_zero=allow_zero)
    except BadEvent as exc:
        return exc.reason


def _cents(v: str, allow_zero: bool = False) -> int | str:
    try:
        return to_cents(v, allow_zero=allow_zero)
    except BadEvent as exc:
        return exc.reason


MONEY = ["0", "0.00", "00", "1", "1.", ".5", "1.5", "1.50", "1.505", "007.10", "12345678901234.99",
         "١٢٣", "1.٥", "²", "1_000", "1e3", "-0", "-1.00", "+5", "NaN", "Infinity", "0.01",
         "200000.00", "200000", "0.1", "99999.99"]


@pytest.mark.parametrize("v", MONEY)
@pytest.mark.parametrize("allow_zero", [False, True])
def test_money_fast_path_equals_general_path(v: str, allow_zero: bool) -> None:
    assert _cents(v, allow_zero=allow_zero) == _slow_cents(v, allow_zero=allow_zero)


def test_money_fast_path_random() -> None:
    rng = random.Random(5)
    for _ in range(5000):
        v = f"{rng.randint(0, 10**9)}" + rng.choice(["", ".", f".{rng.randint(0, 9)}",
                                                      f".{rng.randint(0, 99):02d}",
                                                      f".{rng.randint(0, 999):03d}"])
        assert _cents(v) == _slow_cents(v)


def _ref_ts(v: str) -> tuple[int, int] | str:
    try:
        dt = datetime.fromisoformat(v)
    except ValueError:
        return "bad_ts"
    off = dt.utcoffset()
    if off is None:
        return "bad_ts"
    ms = round((dt - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1000)
    return ms, int(off.total_seconds() // 60)


def _ts(v: str) -> tuple[int, int] | str:
    try:
        return parse_ts(v)
    except BadEvent as exc:
        return exc.reason


TS = ["2025-01-01T10:00:00+08:00", "2025-01-01T10:00:00Z", "1993-01-01T12:00:00+01:00",
      "2024-02-29T23:59:59-03:30", "2023-02-29T10:00:00+08:00", "2025-13-01T10:00:00+08:00",
      "2025-01-01T24:00:00+08:00", "2025-01-01T10:60:00+08:00", "2025-01-01T10:00:60+08:00",
      "2025-01-01T10:00:00+24:00", "2025-01-01T10:00:00.12345", "2025-01-01 10:00:00+08:00",
      "2025-01-01T1٠:00:00+08:00", "2025-W01-1T10:00:00+08:00", "20250101T100000+08:00",
      "2025-01-01T10:00:00+0800", "2025-01-01T10:00:00", "1969-12-31T23:59:59+00:00",
      "2025-01-01T10:00:00+08:00:00", "2025-01-01T10:00:00.5+08:00"]


@pytest.mark.parametrize("v", TS)
def test_ts_fast_path_equals_general_path(v: str) -> None:
    assert _ts(v) == _ref_ts(v)
    assert _ts(v) == _ts(v)  # second call goes through the caches


def test_ts_fast_path_random() -> None:
    rng = random.Random(9)
    for _ in range(3000):
        v = (f"{rng.randint(1900, 2100):04d}-{rng.randint(0, 13):02d}-{rng.randint(0, 32):02d}"
             f"T{rng.randint(0, 24):02d}:{rng.randint(0, 60):02d}:{rng.randint(0, 60):02d}"
             + rng.choice(["Z", "+08:00", "-05:00", "+05:45", "+00:00", "+14:00", "-12:00"]))
        assert _ts(v) == _ref_ts(v), v


def _reference_transaction(d: dict) -> object:
    """parse_transaction as it was before the hot-path rewrite (kept here as the oracle)."""
    from alerting.models import (
        TRANSACTION_KINDS,
        Transaction,
        _opt_str,
        _req_str,
    )

    ts, tz = parse_ts(d.get("ts"))
    kind = d.get("kind")
    if kind not in TRANSACTION_KINDS:
        raise BadEvent("bad_kind", "kind")
    bal = d.get("balance_after")
    return Transaction(
        event_id=_req_str(d, "event_id"), customer_id=_req_str(d, "customer_id"),
        account_id=_opt_str(d, "account_id", "") or "", ts=ts, tz=tz, kind=kind,
        amount=to_cents(d.get("amount")),
        currency=(_opt_str(d, "currency", "CNY") or "CNY").upper(),
        channel=_opt_str(d, "channel", "") or "",
        balance_after=None if bal is None or bal == "" else to_cents(
            bal, field="balance_after", allow_zero=True, allow_negative=True),
        counterparty_bank=_opt_str(d, "counterparty_bank"))


def _outcome(f, d):  # type: ignore[no-untyped-def]
    try:
        return f(d)
    except BadEvent as exc:
        return exc.reason


VALUES = [None, "", "x", "C1", 7, 7.5, True, ["a"], {"a": 1}, "y" * 129, "z" * 9000, "cny",
          "12.30", "-4.00", 0]


def test_parse_transaction_hot_path_equals_reference() -> None:
    from alerting.models import parse_transaction

    base = {"event_id": "e1", "type": "transaction", "customer_id": "C1", "account_id": "A1",
            "ts": "2025-01-02T10:00:00+08:00", "kind": "deposit", "amount": "5.00",
            "currency": "cny", "channel": "atm", "balance_after": "1.00",
            "counterparty_bank": "ICBC"}
    for key in ("event_id", "customer_id", "account_id", "amount", "currency", "channel",
                "balance_after", "counterparty_bank"):
        for v in VALUES:
            d = {**base, key: v}
            assert _outcome(parse_transaction, d) == _outcome(_reference_transaction, d), (key, v)
        d = {k: x for k, x in base.items() if k != key}
        assert _outcome(parse_transaction, d) == _outcome(_reference_transaction, d), key
    two_bad = {**base, "customer_id": None, "amount": "0"}
    assert _outcome(parse_transaction, two_bad) == "missing_customer_id"


@pytest.mark.parametrize("v", ["1.5.00", "+1.00", "1_0.00", "١.00", "1.0٠", " 1.00", "1.00 ",
                               "00.00", "0.01", "12.345", "1..00", "-0.00", "9" * 20 + ".99"])
@pytest.mark.parametrize("allow_zero", [False, True])
def test_money_two_decimals_fast_path_equals_general_path(v: str, allow_zero: bool) -> None:
    assert _cents(v, allow_zero=allow_zero) == _slow_cents(v, allow_zero=allow_zero)


def test_ts_offset_cache_keeps_offsets_apart() -> None:
    for v in ["2025-01-01T10:00:00+08:00", "2025-01-01T10:00:00+05:45", "2025-01-01T10:00:00Z",
              "2025-01-01T10:00:00-03:30", "2025-01-01T10:00:00+08:00"]:
        assert _ts(v) == _ref_ts(v)


# --- the msgspec fast path of whole records (models.fast_event) -------------------------------
# fast_event(raw) must be None or exactly what the reference decode gives; every consumer
# (shard.parse_item, io.decode_line/read_events, backtest.replay) then falls back to the
# reference for None, so results and errors (reason and detail) are the reference's.

def _reference(raw: bytes) -> tuple[object, ...]:
    """What the reference decode, ``parse_event(orjson.loads(raw))``, does with a record."""
    import orjson

    from alerting.models import parse_event

    try:
        ev = parse_event(orjson.loads(raw))
    except orjson.JSONDecodeError:
        return ("bad_json",)
    except BadEvent as exc:
        return ("bad", exc.reason, exc.detail)
    except Exception as exc:  # noqa: BLE001 - whatever it is, the new path must do the same
        return ("raises", type(exc))
    return ("ok", type(ev), ev)


_KINDS = ["deposit", "withdrawal", "transfer_in", "transfer_out", "fee", "interest"]
_ODD = [None, "", 0, 7, -3, 7.5, 1e400, True, False, [], ["a"], {}, {"a": 1}, "x", "C 1",
        "y" * 128, "y" * 129, "z" * 8192, "z" * 8193, "cny", "Usd", "ß", "ü", "\u0000", "\ud7ff",
        "12.30", "-4.00", "0.00", "0", "1e3", "١٢.٠٠", " 1.00", "1.00 ", "+1.00", "1_0.00",
        "1.005", "NaN", "-0.00", "12", "12.3", "9" * 30 + ".99", "Deposit", "transaction",
        "2025-01-01T10:00:00Z", "2025-01-01T10:00:00", "2025-01-01T10:00:00.123+08:00",
        "2025-02-29T10:00:00+08:00", "2024-02-29T23:59:59-03:30", "2025-01-01T10:00:00+24:00",
        "2025-01-01 10:00:00+08:00", "2025-01-01T10:00:60+08:00", "2025-01-01T10:00:00+05:45"]
_FIELDS = ["type", "event_id", "customer_id", "account_id", "ts", "kind", "amount", "currency",
           "channel", "balance_after", "counterparty_bank"]


def _valid_tx(rng: random.Random) -> dict[str, object]:
    d: dict[str, object] = {
        "event_id": f"E{rng.randint(1, 10**6)}", "type": "transaction",
        "customer_id": rng.choice(["C1", "C000631", "客户7", "c" * 128]),
        "account_id": rng.choice(["A1", "", None, "ü" * 40]),
        "ts": (f"{rng.randint(1969, 2031):04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
               f"T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
               + rng.choice(["+08:00", "+08:00", "-05:00", "+05:45", "Z", "+00:00"])),
        "kind": rng.choice(_KINDS),
        "amount": rng.choice([f"{rng.randint(0, 10**7)}.{rng.randint(0, 99):02d}",
                              f"{rng.randint(1, 999)}", f"{rng.randint(1, 999)}.5"]),
        "currency": rng.choice(["CNY", "cny", "USD", "", None]),
        "channel": rng.choice(["online", "atm", "", None]),
        "balance_after": rng.choice([f"{rng.randint(0, 10**8)}.{rng.randint(0, 99):02d}",
                                     f"-{rng.randint(0, 999)}.{rng.randint(0, 99):02d}", "",
                                     None, "0.00"]),
    }
    if rng.random() < 0.3:
        d["counterparty_bank"] = rng.choice(["ICBC", "", None])
    for k in [k for k in d if d[k] is None and rng.random() < 0.5]:
        del d[k]  # absent and null alike
    return d


def _variant(rng: random.Random) -> bytes:
    """A valid transaction record, or one with one to three things wrong or unusual."""
    import orjson

    d = _valid_tx(rng)
    if rng.random() < 0.3:
        return orjson.dumps(d)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(4)
        if op == 0:
            d[rng.choice(_FIELDS)] = rng.choice(_ODD)
        elif op == 1:
            d.pop(rng.choice(_FIELDS), None)
        elif op == 2:
            d[rng.choice(["note", "Type", "status", "complaint_id", "fields"])] = rng.choice(_ODD)
        else:
            d["type"] = rng.choice(["complaint", "customer", "watermark", "Transaction", 3])
    try:
        raw = orjson.dumps(d)
    except TypeError:  # e.g. a lone surrogate: send the escaped form
        raw = orjson.dumps({k: (v.encode("utf-8", "surrogatepass").decode("latin-1")
                                if isinstance(v, str) else v) for k, v in d.items()})
    op = rng.randrange(12)
    key = rng.choice(_FIELDS).encode()
    if op == 0:  # a duplicate key (the last one wins in both decoders)
        raw = raw[:-1] + b',"' + key + b'":' + orjson.dumps(rng.choice(_ODD)) + b"}"
    elif op == 1:  # broken JSON
        cut = rng.randrange(len(raw))
        raw = raw[:cut] + rng.choice([b"", b"\xff", b"\x00", b",", b"\\", b'"', b"}"]) \
            + raw[cut + rng.randint(0, 1):]
    elif op == 2:  # escapes, invalid and valid, inside a value and a key
        raw = raw.replace(b'"' + key + b'":"', b'"' + key + b'":"' + rng.choice(
            [b"\\ud800", b"\\udc00x", b"\\u00fc", b"\\ud83d\\ude00", b"\\n", b"\\x",
             b"\xed\xa0\x80", b"\xc3\xbc", b"\x01"]), 1)
    elif op == 3:
        raw = raw.replace(b'"type"', b'"ty\\u0070e"', 1)
    elif op == 4:  # whitespace and trailing bytes
        raw = rng.choice([b" ", b"\n", b"\t", b"\xef\xbb\xbf", b""]) + raw + rng.choice(
            [b"\n", b"\r\n", b" ", b" x", b"\x00", b"{}", b""])
    return raw


def test_fast_event_agrees_with_reference_on_random_variants() -> None:
    from alerting.models import fast_event

    rng = random.Random(20261122)
    taken = 0
    for _ in range(20000):
        raw = _variant(rng)
        ref = _reference(raw)
        ev = fast_event(raw)
        if ev is not None:
            taken += 1
            assert ref == ("ok", type(ev), ev), raw
    assert taken > 3000  # the fast path is exercised, not bypassed


def test_fast_event_sample_data_all_fast_and_equal() -> None:
    import orjson

    from alerting.models import Transaction, fast_event, parse_event
    from alerting.sample import generate

    for e in generate(40, 30, seed=3).events():
        raw = orjson.dumps(e)
        ev = fast_event(raw)
        if e["type"] == "transaction":
            assert type(ev) is Transaction and ev == parse_event(orjson.loads(raw))
        else:
            assert ev is None  # complaints take the reference path


def test_consumers_give_reference_results_and_errors() -> None:
    """parse_item, io.decode_line and io.read_events on random variants: the event, or the
    reason and detail, the reference decode gives (fast path or not)."""
    from alerting.io import DeadLetter, decode_line, json_error_detail, read_events
    from alerting.streams.shard import NEG_INF, parse_item

    rng = random.Random(7)
    # a record on which the reference raises something else than BadEvent (e.g. TypeError for
    # an unhashable "kind") propagates from both paths alike: left out here
    raws = [r for r in (_variant(rng) for _ in range(4000)) if _reference(r)[0] != "raises"]
    bad: list[DeadLetter] = []
    good = {n: ev for n, _, ev in read_events(enumerate(raws), bad.append)}
    bad_by_line = {dl.line: dl for dl in bad}
    for n, raw in enumerate(raws):
        ref = _reference(raw)
        item = parse_item(n, 5, b"k", raw)
        assert (item.offset, item.timestamp_ms, item.key, item.value) == (n, 5, b"k", raw)
        if ref[0] == "ok":
            assert (item.ts, item.event, item.error) == (ref[2].ts, ref[2], None)  # type: ignore[union-attr]
            assert type(item.event) is ref[1] and decode_line(raw) == ref[2]
            assert good[n] == ref[2] and type(good[n]) is ref[1]
            continue
        assert item.ts == NEG_INF and item.event is None and item.error is not None
        with pytest.raises(BadEvent) as ei:
            decode_line(raw)
        if ref[0] == "bad_json":
            assert (item.error.reason, item.error.detail) == ("bad_json", "value is not JSON")
            assert ei.value.reason == "bad_json" and bad_by_line[n].reason == "bad_json"
            import orjson

            with pytest.raises(orjson.JSONDecodeError) as je:
                orjson.loads(raw)
            assert ei.value.detail == bad_by_line[n].detail == json_error_detail(je.value)
        else:
            assert (item.error.reason, item.error.detail) == ref[1:]
            assert (ei.value.reason, ei.value.detail) == ref[1:]
            assert (bad_by_line[n].reason, bad_by_line[n].detail) == ref[1:]


def test_wire_kinds_are_the_transaction_kinds() -> None:
    """The msgspec shape lists the kinds again (a Literal): it must be the same set."""
    import typing

    from alerting.models import TRANSACTION_KINDS, _WireTransaction

    hints = typing.get_type_hints(_WireTransaction, include_extras=True)
    assert set(typing.get_args(hints["kind"])) == TRANSACTION_KINDS
    assert typing.get_args(hints["type"]) == ("transaction",)


def test_ts_caches_never_accept_what_the_general_path_rejects() -> None:
    """Pieces of accepted timestamps, recombined, stay exactly as the general path says."""
    rng = random.Random(11)
    hours = [f"{y}-{m:02d}-{d:02d}T{h:02d}" for y in (2023, 2024) for m in (2, 12)
             for d in (28, 29, 30, 31) for h in (0, 23, 24)]
    rests = [f":{m:02d}:{s:02d}{z}" for m in (0, 59, 60) for s in (0, 59, 60)
             for z in ("+08:00", "-03:30", "Z", "+24:00", "+08:60", "-00:00", "+0800")]
    for _ in range(4000):
        v = rng.choice(hours) + rng.choice(rests)
        assert _ts(v) == _ref_ts(v), v


def test_ts_caches_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from alerting import timeutil

    monkeypatch.setattr(timeutil, "_HOURS", {})
    monkeypatch.setattr(timeutil, "_RESTS", {})
    monkeypatch.setattr(timeutil, "_MAX_HOURS", 5)
    monkeypatch.setattr(timeutil, "_MAX_RESTS", 7)
    for h in range(24):
        for m in range(10):
            v = f"2025-03-01T{h:02d}:{m:02d}:00+08:00"
            assert _ts(v) == _ref_ts(v)
    assert len(timeutil._HOURS) == 5 and len(timeutil._RESTS) == 7
