"""Reading our own output back, for exactly-once tasks on an at-least-once broker.

Each checkpoint records, per tasks partition, the next offset after the last task this worker
had produced *and seen acknowledged* before the checkpoint. After a crash, the events after the
checkpoint are replayed and the deterministic engine emits the same tasks again; those that had
reached the tasks topic before the crash sit at or after the recorded offsets. Reading the tasks
topic from there to its end, before producing anything for the recovered partitions, yields the
dedup keys (``task_id:revision``) that were already delivered; the worker skips exactly those.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from alerting.errors import ServiceUnavailable


async def topic_partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """The partitions of a topic (forcing a metadata refresh: ``topics()`` does not)."""
    consumer._client.add_topic(topic)  # noqa: SLF001 (documented aiokafka workaround)
    await consumer._client.force_metadata_update()  # noqa: SLF001
    parts = consumer.partitions_for_topic(topic)
    if not parts:
        raise ServiceUnavailable(f"kafka: topic {topic!r} has no partitions")
    return [TopicPartition(topic, p) for p in sorted(parts)]


async def end_offsets(consumer: AIOKafkaConsumer, topic: str,
                      timeout_s: float = 30.0) -> dict[int, int]:
    """{partition: end offset} of a topic, taken from fetch responses' high watermarks.

    Tansu answers ListOffsets(latest) with the last batch's base offset + 1, not the end, so
    the answer is used only as a starting point known to be at or before the end."""
    tps = await topic_partitions(consumer, topic)
    lower = await consumer.end_offsets(tps)
    consumer.assign(tps)
    for tp in tps:
        consumer.seek(tp, max(0, lower[tp] - 1))
    deadline = time.monotonic() + timeout_s
    ends: dict[int, int] = {}
    while len(ends) < len(tps):
        if time.monotonic() > deadline:
            raise ServiceUnavailable(f"kafka: no end offsets for {topic!r}")
        await consumer.getmany(timeout_ms=100)
        for tp in tps:
            hw = consumer.highwater(tp)
            if hw is not None:
                ends[tp.partition] = hw
    consumer.assign([])
    return ends


async def read_records(consumer: AIOKafkaConsumer, topic: str, start: dict[int, int],
                       timeout_s: float = 60.0) -> list[tuple[int, int, bytes]]:
    """(partition, offset, value) of ``topic`` from ``start`` offsets (missing partition = 0)
    to its end, tombstones left out."""
    return [(r.partition, r.offset, r.value)
            for r in await read_topic(consumer, topic, start, timeout_s) if r.value is not None]


async def read_topic(consumer: AIOKafkaConsumer, topic: str, start: dict[int, int],
                     timeout_s: float = 60.0) -> list[ConsumerRecord[bytes, bytes]]:
    """The records of ``topic`` from ``start`` offsets (missing partition = 0) to its end,
    tombstones included, in offset order per partition."""
    tps = await topic_partitions(consumer, topic)
    consumer.assign(tps)
    pos = {tp: start.get(tp.partition, 0) for tp in tps}
    for tp in tps:
        consumer.seek(tp, pos[tp])
    out: list[ConsumerRecord[bytes, bytes]] = []
    deadline = time.monotonic() + timeout_s
    todo = set(tps)
    while todo:
        if time.monotonic() > deadline:
            raise ServiceUnavailable(f"kafka: reading {topic!r} back timed out")
        batch = await consumer.getmany(*todo, timeout_ms=100, max_records=10000)
        for tp, records in batch.items():
            out += records
            if records:
                pos[tp] = records[-1].offset + 1
        for tp in list(todo):
            hw = consumer.highwater(tp)
            if hw is not None and pos[tp] >= hw:
                todo.discard(tp)
        await asyncio.sleep(0)
    consumer.assign([])
    return out


class Delivered:
    """Tasks found on the tasks topic at recovery that the replay will emit again.

    Skipping them is not all: until the replay has emitted a partition's outstanding tasks
    again, it is still inside input that a previous incarnation had processed, and a
    checkpoint taken there must record output offsets no later than those tasks. Otherwise a
    second crash would restart from that checkpoint, read back only from its (later) offsets,
    miss them and deliver them twice. ``cap(p)`` gives those bounds.

    The bound ends with the replay (``replay_until`` / ``release_replayed``): once the
    partition has applied its input up to the ends it had at recovery and fired its timers up
    to the watermark of that moment, everything a previous incarnation could have emitted has
    been emitted again, and tasks still outstanding never will be (the rules changed between
    the two). Those keep being skipped (delivered once is the contract) but no longer hold back
    the partition's checkpoints, which would otherwise read the tasks topic back from the same
    old offset after every restart."""

    def __init__(self) -> None:
        self._key: dict[str, tuple[int, int, int]] = {}  # dedup key -> (input p, tasks q, off)
        self._by_p: dict[int, dict[str, tuple[int, int]]] = {}  # input p -> {key: (q, off)}
        # input p -> ({input topic: end offset at recovery}, watermark at recovery)
        self._until: dict[int, tuple[dict[str, int], int]] = {}

    def __len__(self) -> int:
        return len(self._key)

    def add(self, records: list[tuple[int, int, bytes]], partition_of: Callable[[str], int],
            floors: dict[int, dict[int, int]]) -> None:
        """Remember the tasks of input partitions in ``floors`` ({input p: {tasks q: offset}},
        the restored checkpoint's output offsets: earlier tasks came from events before it)."""
        for q, off, v in records:
            try:
                d = orjson.loads(v)
                key, cid = f"{d['task_id']}:{d.get('revision', 0)}", d["customer_id"]
                p = partition_of(cid)
            except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
                continue
            floor = floors.get(p)
            if floor is None or off < floor.get(q, 0) or key in self._key:
                continue
            self._key[key] = (p, q, off)
            self._by_p.setdefault(p, {})[key] = (q, off)

    def outstanding(self, p: int) -> int:
        """How many of partition p's tasks the replay has yet to emit again (and caps on)."""
        return len(self._by_p.get(p, ()))

    def replay_until(self, p: int, ends: dict[str, int], watermark: int) -> None:
        """Partition p's input end offsets and the watermark at its recovery: the replay is
        over once the partition has applied its input to those ends and fired its timers to
        that watermark."""
        if self._by_p.get(p):
            self._until[p] = (dict(ends), watermark)

    def release_replayed(self, p: int, offsets: dict[str, int], advanced: int) -> int:
        """If partition p's replay is over (``offsets``: its next input offsets; ``advanced``:
        the watermark its timers have fired to), stop capping it; returns how many of its
        tasks were never emitted again (0 when the replay is not over, or emitted them all)."""
        until = self._until.get(p)
        if until is None:
            return 0
        ends, watermark = until
        if advanced < watermark or any(offsets.get(t, 0) < e for t, e in ends.items()):
            return 0
        del self._until[p]
        return len(self._by_p.pop(p, {}))

    def seen_again(self, key: str) -> bool:
        """Was this task delivered already? (then it is no longer outstanding)"""
        hit = self._key.pop(key, None)
        if hit is None:
            return False
        by = self._by_p.get(hit[0])
        if by is not None:
            by.pop(key, None)
        return True

    def cap(self, p: int) -> dict[int, int]:
        """{tasks q: lowest offset of partition p's outstanding tasks}: a checkpoint of p must
        not record output offsets past these."""
        out: dict[int, int] = {}
        for q, off in self._by_p.get(p, {}).values():
            if off < out.get(q, off + 1):
                out[q] = off
        return out

    def drop(self, p: int) -> None:
        """Forget a partition (revoked: its next owner reads back for itself)."""
        self._by_p.pop(p, None)
        self._until.pop(p, None)
        for key in [k for k, hit in self._key.items() if hit[0] == p]:
            del self._key[key]
