"""The C decoder (``alerting/_speedups.c``) must give exactly what the Python decoder gives,
take the usual records itself, and hand every other one to the Python decoder untouched."""

from __future__ import annotations

import gc
import random
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from typing import Any

import orjson
import pytest

from alerting import models
from alerting.errors import BadEvent
from alerting.models import Transaction, _py_fast_transaction
from tests.test_fastpaths import _variant

DECLINED = object()


def _speedups() -> Any:
    try:
        from alerting import _speedups
    except ImportError:  # pragma: no cover - a build without a C compiler
        pytest.fail("alerting._speedups is not built: install a C compiler and the Python "
                    "headers (gcc, python3-dev) and reinstall (pip install -e .)")
    return _speedups


@contextmanager
def c_only() -> Iterator[Callable[[bytes], Any]]:
    """The C decoder with a fallback that only marks what it declined (restored after)."""
    sp = _speedups()
    names = tuple(f.name for f in fields(Transaction))
    sp.init(Transaction, lambda raw: DECLINED, names)
    try:
        yield sp.transaction
    finally:
        sp.init(Transaction, _py_fast_transaction, names)


def _outcome(decode: Callable[[Any], Any], raw: Any) -> Any:
    """The event, or what ``decode`` raised (the C side must raise the same)."""
    try:
        return decode(raw)
    except BadEvent as exc:
        return ("bad", exc.reason, exc.detail)
    except Exception as exc:  # noqa: BLE001 - any error
        return ("raises", type(exc))


def _python(raw: Any) -> Any:
    return _outcome(_py_fast_transaction, raw)


def _shipped(raw: Any) -> Any:
    return _outcome(models.fast_transaction, raw)


def _bytes_kept(run: Callable[[], None], rounds: int = 500) -> int:
    """Python heap still held after ``rounds`` calls of ``run`` (after 50 warm-up calls that
    fill the caches: parse_ts's, the interpreter's)."""
    for _ in range(50):
        run()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(rounds):
            run()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def test_the_c_decoder_is_built_and_shipped() -> None:
    sp = _speedups()
    assert models.C_DECODER
    assert models.fast_transaction is sp.transaction


USUAL = (b'{"event_id":"E1","type":"transaction","customer_id":"C000631","account_id":"A1",'
         b'"ts":"2025-01-01T00:20:54+08:00","kind":"transfer_out","amount":"402.00",'
         b'"currency":"CNY","channel":"online","balance_after":"105079.61"}')


def test_a_usual_record_is_decoded_in_c() -> None:
    with c_only() as dec:
        ev = dec(USUAL)
    assert ev == Transaction("E1", "C000631", "A1", 1735662054000, 480, "transfer_out", 40200,
                             "CNY", "online", 10507961, None)
    assert type(ev) is Transaction and ev == _py_fast_transaction(USUAL)
    assert ev.kind is "transfer_out"  # noqa: F632 - the interned string the rule index holds


def _with(**changes: Any) -> bytes:
    d = orjson.loads(USUAL)
    for k, v in changes.items():
        if v is ...:
            del d[k]
        else:
            d[k] = v
    return orjson.dumps(d)


TAKEN = [
    _with(ts="2024-02-29T23:59:59-03:30"), _with(ts="0001-01-01T00:00:00+08:00"),
    _with(ts="9999-12-31T23:59:59-23:59"), _with(ts="2025-06-30T12:00:00Z"),
    _with(ts="1969-12-31T23:59:59-00:00"), _with(ts="2000-02-29T00:00:00+00:00"),
    _with(amount="0.01"), _with(amount="007.10"), _with(amount="99999999999999999.99"[-19:]),
    _with(balance_after="0.00"), _with(balance_after=""), _with(balance_after=None),
    _with(balance_after=...), _with(currency="usd"), _with(currency="Cny"), _with(currency=""),
    _with(currency=None), _with(currency=...), _with(account_id=""), _with(account_id=None),
    _with(account_id=...), _with(channel=None), _with(channel="网银"),
    _with(counterparty_bank="ICBC"), _with(counterparty_bank=""),
    _with(counterparty_bank=None), _with(customer_id="客户" * 64), _with(event_id="e" * 128),
    _with(account_id="ü" * 8192), b' \t\r\n' + USUAL + b'\n ', USUAL.replace(b",", b" , "),
    USUAL.replace(b"\":", b"\" :\t"), b'{"type":"transaction","kind":"fee","event_id":"x",'
    b'"customer_id":"y","ts":"2025-01-01T10:00:00Z","amount":"1.00"}',
] + [_with(kind=k) for k in sorted(models.TRANSACTION_KINDS)]

DECLINED_RECORDS = [  # the Python decoder decides these (accepts some, rejects others)
    _with(ts="2025-02-29T10:00:00+08:00"), _with(ts="0000-01-01T00:00:00Z"),
    _with(ts="2025-01-01T24:00:00Z"), _with(ts="2025-01-01T10:60:00Z"),
    _with(ts="2025-01-01T10:00:60Z"), _with(ts="2025-01-01T10:00:00+24:00"),
    _with(ts="2025-01-01T10:00:00+05:60"), _with(ts="2025-01-01T10:00:00.123+08:00"),
    _with(ts="2025-01-01 10:00:00+08:00"), _with(ts="2025-01-01T10:00:00"),
    _with(ts="2025-13-01T10:00:00Z"), _with(ts="2025-04-31T10:00:00Z"),
    _with(ts="２０２５-01-01T10:00:00Z"), _with(ts=None), _with(ts=...),
    _with(amount="0.00"), _with(amount="12"), _with(amount="12.5"), _with(amount=".50"),
    _with(amount="1000000000000000000.00"), _with(amount="-1.00"), _with(amount="1,00.00"),
    _with(amount="١٢.٠٠"), _with(amount=12.5), _with(amount=None), _with(amount=...),
    _with(balance_after="-4.00"), _with(balance_after="12.3"), _with(balance_after=5),
    _with(currency="ß"), _with(currency=1), _with(kind="Deposit"), _with(kind=None),
    _with(type="complaint"), _with(type=None), _with(event_id=""), _with(event_id="e" * 129),
    _with(customer_id="客户" * 64 + "x"), _with(account_id="ü" * 8193), _with(note="x"),
    USUAL[:-1] + b',"amount":"1.00"}', USUAL.replace(b'"E1"', b'"E\\u0031"'),
    USUAL.replace(b'"type"', b'"ty\\u0070e"'), USUAL.replace(b'"A1"', b'"A\xed\xa0\x80"'),
    USUAL.replace(b'"A1"', b'"A\xff"'), USUAL.replace(b'"A1"', b'"A\x01"'),
    b"\xef\xbb\xbf" + USUAL, USUAL + b" x", USUAL + b"\x00", USUAL[:-1], USUAL[:40], b"",
    b"{}", b"[]", b"null", USUAL.replace(b'"currency":"CNY",', b'"currency":"CNY",,'),
    USUAL.replace(b"}", b",}"), USUAL.replace(b'"A1"', b"nul"), USUAL.replace(b'"A1"', b"true"),
]


@pytest.mark.parametrize("raw", TAKEN, ids=range(len(TAKEN)))
def test_taken_in_c_and_equal_to_the_python_decoder(raw: bytes) -> None:
    with c_only() as dec:
        ev = dec(raw)
    assert ev is not DECLINED
    assert type(ev) is Transaction and ev == _py_fast_transaction(raw)


@pytest.mark.parametrize("raw", DECLINED_RECORDS, ids=range(len(DECLINED_RECORDS)))
def test_unusual_records_go_to_the_python_decoder(raw: bytes) -> None:
    with c_only() as dec:
        assert dec(raw) is DECLINED
    assert _shipped(raw) == _python(raw)


def test_not_bytes_goes_to_the_python_decoder() -> None:
    with c_only() as dec:
        assert dec(bytearray(USUAL)) is DECLINED
        assert dec(memoryview(USUAL)) is DECLINED
    assert _shipped(bytearray(USUAL)) == _python(bytearray(USUAL))


def test_random_variants_equal_to_the_python_decoder() -> None:
    rng = random.Random(20261123)
    taken = 0
    with c_only() as dec:
        for _ in range(20000):
            raw = _variant(rng)
            ev = dec(raw)
            if ev is not DECLINED:
                taken += 1
                assert type(ev) is Transaction and ev == _py_fast_transaction(raw), raw
    assert taken > 1000  # the C path is exercised, not bypassed (it declines "12", "12.5"...)
    for _ in range(5000):  # and the shipped chain (C, then Python) as a whole
        raw = _variant(rng)
        assert _shipped(raw) == _python(raw), raw


def test_sample_data_is_all_decoded_in_c() -> None:
    from alerting.sample import generate

    with c_only() as dec:
        for e in generate(40, 30, seed=5).events():
            if e["type"] == "transaction" and not str(e.get("balance_after", "")).startswith("-"):
                raw = orjson.dumps(e)
                ev = dec(raw)
                assert ev is not DECLINED, raw
                assert ev == _py_fast_transaction(raw)


def test_init_refuses_a_class_it_cannot_fill() -> None:
    sp = _speedups()
    names = tuple(f.name for f in fields(Transaction))
    with pytest.raises(TypeError, match="field 1 must be customer_id"):
        sp.init(Transaction, _py_fast_transaction, (names[0], names[2]) + names[2:])
    with pytest.raises(TypeError):
        sp.init(Transaction, _py_fast_transaction, names[:-1])

    class NotSlots:  # attributes in a __dict__, not slots
        event_id = None

    with pytest.raises(TypeError, match="not a slot"):
        sp.init(NotSlots, _py_fast_transaction, names)
    assert models.fast_transaction(USUAL) == _py_fast_transaction(USUAL)  # still set up


def test_no_memory_kept_per_record() -> None:
    """Reference counting: 50,000 decoded or declined records leave nothing behind (a missed
    decref of one field per record fails this)."""
    raws = TAKEN + DECLINED_RECORDS

    def run() -> None:
        for raw in raws:
            _shipped(raw)

    grown = _bytes_kept(run)
    assert grown < 64_000, f"{grown} bytes kept after {500 * len(raws):,} records"


def _records(raws: list[Any]) -> list[Any]:
    from aiokafka.structs import ConsumerRecord

    return [ConsumerRecord("t", 0, i, 1_700_000_000_000 + i, 0, b"k%d" % i if i % 3 else None,
                           raw, None, 0, len(raw or b""), ()) for i, raw in enumerate(raws)]


def test_batch_items_equal_to_parse_item() -> None:
    """The worker's C batch decoder gives what the Python one (parse_item record by record)
    gives, errors included."""
    from alerting.streams.shard import py_parse_records, record_parser

    parse_records = record_parser("c")
    assert parse_records is _speedups().items
    assert record_parser("python") is py_parse_records
    rng = random.Random(11)
    raws: list[Any] = [_variant(rng) for _ in range(3000)] + TAKEN + DECLINED_RECORDS
    raws += [None, bytearray(USUAL), b""]
    rng.shuffle(raws)
    records = _records(raws)
    got, want = parse_records(records), py_parse_records(records)
    assert len(got) == len(want) == len(raws)
    for g, w in zip(got, want, strict=True):
        assert (g.ts, g.offset, g.timestamp_ms, g.key, g.value, g.event) == (
            w.ts, w.offset, w.timestamp_ms, w.key, w.value, w.event)
        assert (type(g.error), getattr(g.error, "reason", None)) == (
            type(w.error), getattr(w.error, "reason", None))
    assert parse_records([]) == []
    assert [i.event for i in parse_records(tuple(records[:9]))] == [i.event for i in want[:9]]


def test_batch_items_propagate_a_broken_record() -> None:
    from alerting.streams.shard import record_parser

    parse_records = record_parser("c")

    with pytest.raises(AttributeError):
        parse_records([object()])
    with pytest.raises(TypeError):
        parse_records(5)


def test_batch_items_keep_no_memory() -> None:
    from alerting.streams.shard import record_parser

    parse_records = record_parser("c")

    records = _records(TAKEN + DECLINED_RECORDS)
    grown = _bytes_kept(lambda: parse_records(records))
    assert grown < 64_000, f"{grown} bytes kept"
