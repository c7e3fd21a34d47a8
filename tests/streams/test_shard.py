"""The event-time merge of a shard: the applied order depends on the data only, not on how the
records were split into fetches (pure, no broker)."""

from __future__ import annotations

import random
from typing import Any

import orjson

from alerting.directory import Directory
from alerting.streams.shard import Shard, parse_item

from .events import make_events
from .stub_engine import StubEngine

TOPICS = ("cu", "tx", "co")


class Recorder(StubEngine):
    def __init__(self) -> None:
        super().__init__(Directory())
        self.order: list[str] = []

    def process(self, ev: Any) -> list[Any]:
        self.order.append(ev.event_id)
        return super().process(ev)


def records() -> dict[str, list[bytes]]:
    by: dict[str, list[bytes]] = {t: [] for t in TOPICS}
    for e in make_events(customers=6, per_customer=30, seed=3):
        t = {"customer": "cu", "transaction": "tx", "complaint": "co"}[e["type"]]
        by[t].append(orjson.dumps(e))
    return by


def run(split_seed: int) -> tuple[list[str], dict[str, int]]:
    """Feed each topic in random-sized fetches, interleaved randomly, draining after each."""
    rng = random.Random(split_seed)
    by = records()
    eng = Recorder()
    shard = Shard(0, TOPICS, eng, dict.fromkeys(TOPICS, 0))
    pos = dict.fromkeys(TOPICS, 0)
    ends = {t: len(v) for t, v in by.items()}
    while any(pos[t] < ends[t] for t in TOPICS):
        t = rng.choice([t for t in TOPICS if pos[t] < ends[t]])
        n = rng.randint(1, 25)
        chunk = by[t][pos[t]:pos[t] + n]
        shard.add(t, [parse_item(pos[t] + i, 0, None, v) for i, v in enumerate(chunk)])
        pos[t] += len(chunk)
        shard.drain(lambda topic: pos[topic] >= ends[topic])
    return eng.order, shard.offsets


def test_order_independent_of_fetch_boundaries() -> None:
    first, offsets = run(1)
    assert len(first) == sum(len(v) for v in records().values())
    for seed in (2, 3, 4, 5):
        assert run(seed) == (first, offsets)


def test_waits_for_a_topic_that_is_not_caught_up() -> None:
    by = records()
    shard = Shard(0, TOPICS, Recorder(), dict.fromkeys(TOPICS, 0))
    shard.add("tx", [parse_item(i, 0, None, v) for i, v in enumerate(by["tx"][:5])])
    out = shard.drain(lambda topic: topic != "co")  # complaints not read to its end yet
    assert out.applied == 0 and shard.offsets["tx"] == 0


def test_refetched_offsets_are_kept_once() -> None:
    by = records()
    shard = Shard(0, TOPICS, Recorder(), dict.fromkeys(TOPICS, 0))
    items = [parse_item(i, 0, None, v) for i, v in enumerate(by["tx"][:10])]
    shard.add("tx", items[:6])
    shard.add("tx", items[3:])  # a broker batch returned again from its base offset
    assert [i.offset for i in shard.buffers["tx"]] == list(range(10))


def test_parse_item_gives_the_reference_item_for_every_record_kind() -> None:
    """Fast path (usual transactions) or not: the event parse_event gives, or the rejection
    with its reason and detail; Items compare and read as before (fields, defaults)."""
    from alerting.errors import BadEvent
    from alerting.models import parse_event
    from alerting.streams.shard import NEG_INF, Item

    by = records()
    for raw in by["cu"][:3] + by["tx"][:20] + by["co"][:3]:
        ev = parse_event(orjson.loads(raw))
        item = parse_item(7, 9, b"k", raw)
        assert item == Item(ts=ev.ts, offset=7, timestamp_ms=9, key=b"k", value=raw, event=ev)
        assert type(item.event) is type(ev) and item.error is None
    tx = orjson.loads(by["tx"][0])
    cases = [(None, "empty_value", "record has no value"),
             (b"{nope", "bad_json", "value is not JSON"),
             (orjson.dumps({**tx, "kind": "steal"}), "bad_kind", None),
             (orjson.dumps({**tx, "amount": "0.00"}), "bad_amount", "amount must be > 0"),
             (orjson.dumps({**tx, "customer_id": "", "amount": "0.00"}), "missing_customer_id",
              "customer_id is required"),  # the first error, as before
             (orjson.dumps({**tx, "ts": "2025-01-01T10:00:00"}), "bad_ts", None)]
    for raw, reason, detail in cases:
        item = parse_item(3, 0, None, raw)
        assert item.ts == NEG_INF and item.event is None and isinstance(item.error, BadEvent)
        assert item.error.reason == reason and (detail is None or item.error.detail == detail)


def test_records_with_odd_values_become_dead_letters_not_exceptions() -> None:
    """A worker never dies of one record: values Python cannot hash or convert are errors."""
    base = {"type": "transaction", "event_id": "e1", "customer_id": "c1",
            "ts": "2025-01-01T10:00:00+08:00", "kind": "deposit", "amount": "1.00"}
    for patch, reason in [({"kind": ["deposit"]}, "bad_kind"),
                          ({"amount": "1" * 5000}, "bad_amount"),
                          ({"type": "complaint", "complaint_id": "k", "status": {}},
                           "bad_status")]:
        item = parse_item(7, 0, None, orjson.dumps({**base, **patch}))
        assert item.event is None and item.error is not None
        assert item.error.reason == reason
