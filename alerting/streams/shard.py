"""One partition shard: the engine of partition number p and the ordered merge of its input
topic-partitions (customers-p, transactions-p, complaints-p: co-partitioned by customer_id).

Events from the different topics of a shard are merged by event time, Kafka Streams style: the
head with the lowest ``ts`` is applied next (ties: topic order), and the merge waits while a topic
of the shard has nothing buffered but is not yet read to its end. When all input is present the
order therefore depends only on the data, not on how fetches were batched, so a replay after a
crash, a rebalance or a backtest sees the same order.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec
import orjson

from alerting.errors import AlertingError, BadEvent
from alerting.models import (
    CustomerUpdate,
    Event,
    _py_fast_transaction,
    _speedups,
    fast_transaction,
    parse_event,
)
from alerting.tasks import Task

NEG_INF = -(2**62)


class EngineLike(Protocol):
    """The part of ``alerting.engine.Engine`` a shard uses (see docs/DESIGN.md)."""

    def process(self, event: Any) -> list[Task]: ...

    def advance(self, watermark_ms: int) -> list[Task]: ...

    def export_state(self, customer_ids: Any = None) -> dict[str, bytes]: ...

    def import_state(self, state: dict[str, bytes]) -> None: ...

    def dirty_customers(self) -> Any: ...

    def clear_dirty(self) -> None: ...

    def export_meta(self) -> bytes: ...

    def import_meta(self, meta: bytes) -> None: ...


class Item(msgspec.Struct):
    """A fetched record, parsed (``event``) or rejected (``error``).

    A msgspec Struct rather than a dataclass: one is built per record on the worker's hot path
    and a Struct is built about twice as fast (same fields, attributes, equality and defaults).
    GC-tracked as a dataclass is: an error's traceback can lead back to the Item's buffer.
    """

    ts: int
    offset: int
    timestamp_ms: int  # Kafka record timestamp (produce time): latency metric
    key: bytes | None
    value: bytes | None
    event: Event | None = None
    error: BadEvent | None = None


@dataclass(slots=True)
class Rejected:
    """A record for the dead-letter topic."""

    topic: str
    partition: int
    item: Item
    reason: str
    detail: str


@dataclass(slots=True)
class Outcome:
    """What applying a shard's ready events produced."""

    tasks: list[tuple[Task, int]] = field(default_factory=list)  # (task, record timestamp ms)
    rejected: list[Rejected] = field(default_factory=list)
    applied: int = 0
    by_topic: dict[tuple[str, str], int] = field(default_factory=dict)  # (topic, outcome) -> n

    def merge(self, part: Outcome) -> None:
        """Add another shard's outcome to this one."""
        self.tasks.extend(part.tasks)
        self.rejected.extend(part.rejected)
        self.applied += part.applied
        for k, n in part.by_topic.items():
            self.by_topic[k] = self.by_topic.get(k, 0) + n


def parse_item(offset: int, timestamp_ms: int, key: bytes | None, value: bytes | None,
               fast: Callable[[bytes], Event] = fast_transaction) -> Item:
    """Decode and validate one record; a bad one keeps its error and sorts first."""
    # The usual well-formed transaction (models.fast_event, inlined: hot path); anything else
    # is decided, and reported, by the reference decode below.
    if value is not None:
        try:
            ev: Event = fast(value)
        except Exception:  # noqa: BLE001 - not the usual shape (bad JSON, bad value...)
            pass
        else:
            return Item(ev.ts, offset, timestamp_ms, key, value, ev)
    try:
        if value is None:
            raise BadEvent("empty_value", "record has no value")
        try:
            obj = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise BadEvent("bad_json", "value is not JSON") from None
        ev = parse_event(obj)
        return Item(ev.ts, offset, timestamp_ms, key, value, ev)
    except BadEvent as e:
        return Item(NEG_INF, offset, timestamp_ms, key, value, None, e)


RecordParser = Callable[[Any], list[Item]]


def py_parse_records(records: Any) -> list[Item]:
    """``parse_item`` over a batch of Kafka records (anything with offset, timestamp, key and
    value), all in Python (no C decoder)."""
    fast = _py_fast_transaction
    return [parse_item(r.offset, r.timestamp, r.key, r.value, fast) for r in records]


if _speedups is not None:
    # the same list, built in C for the usual transactions (one call per batch instead of two
    # Python calls per record); every other record goes through parse_item
    _speedups.init_items(Item, parse_item)


def record_parser(decoder: str) -> RecordParser:
    """The worker's batch decoder for ``Settings.decoder``: the C one when asked for and
    built, else ``py_parse_records`` (same items)."""
    if decoder == "c" and _speedups is not None:
        return _speedups.items
    return py_parse_records


class Shard:
    """The engine and input buffers of one partition number."""

    def __init__(self, partition: int, topics: tuple[str, ...], engine: EngineLike,
                 offsets: dict[str, int]) -> None:
        self.partition = partition
        self.topics = topics
        self.engine = engine
        self.buffers: dict[str, deque[Item]] = {t: deque() for t in topics}
        self.offsets = dict(offsets)  # topic -> next offset after the last applied record
        self.fetched = dict(offsets)  # topic -> next offset after the last buffered record
        self.watermark = NEG_INF  # highest event time applied on this shard
        self.dirty_profiles: set[str] = set()
        self.changed = False  # anything applied since the last checkpoint
        self.dropped = 0  # fetches that repeated buffered offsets
        self.since = 0  # events applied since this shard's last checkpoint
        self.last_ckpt = time.monotonic()

    def add(self, topic: str, items: list[Item]) -> None:
        """Buffer fetched records of one topic (in offset order)."""
        nxt = self.fetched[topic]
        if items and items[0].offset < nxt:
            # a fetch can hand back records already buffered (a whole broker batch is
            # returned from its base offset); keep each offset once
            items = [i for i in items if i.offset >= nxt]
            self.dropped += 1
        if items:
            self.buffers[topic].extend(items)
            self.fetched[topic] = items[-1].offset + 1

    def buffered(self) -> int:
        """Records waiting in the merge."""
        return sum(len(b) for b in self.buffers.values())

    def drain(self, caught_up: Callable[[str], bool]) -> Outcome:
        """Apply every event whose turn in the merge has come."""
        out = Outcome()
        known: dict[str, bool] = {}  # high watermarks do not move during a drain
        bufs = self.buffers
        while True:
            heads: list[tuple[int, int, str]] = []
            for i, t in enumerate(self.topics):
                if bufs[t]:
                    heads.append((bufs[t][0].ts, i, t))
                else:
                    ok = known.get(t)
                    if ok is None:
                        ok = known[t] = caught_up(t)
                    if not ok:
                        return out
            if not heads:
                return out
            heads.sort()
            _, i, t = heads[0]
            # a run: keep taking from this topic while its head sorts before the next topic's
            self._run(t, i, bufs[t], heads[1][0] if len(heads) > 1 else None,
                      heads[1][1] if len(heads) > 1 else 0, out)

    def _run(self, topic: str, i: int, buf: deque[Item], limit_ts: int | None, limit_i: int,
             out: Outcome) -> None:
        """Apply the head items of one topic while they sort before (``limit_ts``,
        ``limit_i``), the next topic's head. One loop per run rather than a call per item
        (this runs once per event): counters, offset and watermark are updated once per run."""
        process = self.engine.process
        tasks_out = out.tasks
        wm = self.watermark
        n = ok = 0
        last = -1
        while buf:
            item = buf[0]
            if limit_ts is not None and (item.ts > limit_ts or (
                    item.ts == limit_ts and i >= limit_i)):
                break
            buf.popleft()
            n += 1
            last = item.offset
            if item.error is not None:
                self._reject(topic, item, item.error, out, "dead_letter")
                continue
            ev = item.event
            try:
                tasks = process(ev)
            except BadEvent as e:
                self._reject(topic, item, e, out, "late" if e.reason == "late_event"
                             else "dead_letter")
                continue
            except (AlertingError, ValueError, KeyError, TypeError, ArithmeticError) as e:
                # an engine bug on one event must not stop the stream; the record is kept
                self._reject(topic, item, BadEvent("engine_error", type(e).__name__), out,
                             "dead_letter")
                continue
            if type(ev) is CustomerUpdate:
                self.dirty_profiles.add(ev.customer_id)
            ts = ev.ts  # type: ignore[union-attr]
            if ts and ts > wm:
                wm = ts
            if tasks:
                stamp = item.timestamp_ms
                for task in tasks:
                    tasks_out.append((task, stamp))
            ok += 1
        if n:
            self.offsets[topic] = last + 1
            self.changed = True
            out.applied += n
            self.watermark = wm
            if ok:
                k = (topic, "ok")
                out.by_topic[k] = out.by_topic.get(k, 0) + ok

    def _reject(self, topic: str, item: Item, e: BadEvent, out: Outcome, outcome: str) -> None:
        out.rejected.append(Rejected(topic, self.partition, item, e.reason, e.detail))
        k = (topic, outcome)
        out.by_topic[k] = out.by_topic.get(k, 0) + 1
