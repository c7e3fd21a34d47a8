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
