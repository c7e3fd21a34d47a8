"""The per-customer state codec: versioned bytes, compact, restored per rule fingerprint."""

from __future__ import annotations

import orjson
import pytest
from factories import build_rules, make_directory, make_txn

from alerting.engine import Engine
from alerting.errors import StateError
from alerting.state.codec import VERSION, decode_customer, encode_customer

WIN = {"id": "w", "kind": "window", "where": "true", "window": "7d", "having": "agg.sum >= 1"}
DEV = {"id": "d", "kind": "deviation", "where": "true", "factor": 3, "min_history": 2,
       "half_life": "30d"}


def _engine(*rules):
    eng = Engine(build_rules(*rules), make_directory())
    for i in range(5):
        eng.process(make_txn(amount=f"{100 + i}.01", ts=f"2024-03-0{i + 1}T10:00:00+08:00",
                             event_id=f"x{i}"))
    return eng


def test_round_trip_is_exact():
    eng = _engine(WIN, DEV)
    raw = eng.export_state()["c1"]
    d = orjson.loads(raw)
    assert d["v"] == VERSION and set(d["r"]) == {"w", "d"}
    cs = decode_customer("c1", raw, eng.rules)
    assert encode_customer(cs, eng.rules) == raw
    assert len(raw) < 600


def test_changed_rule_state_is_not_restored():
    eng = _engine(WIN, DEV)
    raw = eng.export_state()["c1"]
    other = build_rules({**WIN, "having": "agg.sum >= 2"}, DEV)
    cs = decode_customer("c1", raw, other.rules)
    by_id = {r.id: r.index for r in other.rules}
    assert cs.rs[by_id["w"]] is None and cs.rs[by_id["d"]] is not None


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b'{"v": 2}', b'{"v": 1}',
                                 b'{"v": 1, "t": "x", "a": null, "s": []}'])
def test_bad_bytes_raise_state_error(raw):
    with pytest.raises(StateError):
        decode_customer("c1", raw, [])


def test_duplicates_are_still_detected_after_restore():
    eng = _engine(WIN)
    other = Engine(eng.ruleset, make_directory())
    other.import_state(eng.export_state())
    # x4 was the latest event: a replay of it is a duplicate
    assert other.process(make_txn(amount="104.01", ts="2024-03-05T10:00:00+08:00",
                                  event_id="x4")) == []
    assert other.stats.duplicates == 1
