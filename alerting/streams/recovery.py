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

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

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


async def read_range(consumer: AIOKafkaConsumer, topic: str, start: dict[int, int],
                     timeout_s: float = 60.0) -> list[bytes]:
    """The values of ``topic`` from ``start`` offsets (missing partition = 0) to its end."""
    tps = await topic_partitions(consumer, topic)
    consumer.assign(tps)
    pos = {tp: start.get(tp.partition, 0) for tp in tps}
    for tp in tps:
        consumer.seek(tp, pos[tp])
    values: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    todo = set(tps)
    while todo:
        if time.monotonic() > deadline:
            raise ServiceUnavailable(f"kafka: reading {topic!r} back timed out")
        batch = await consumer.getmany(*todo, timeout_ms=100, max_records=10000)
        for tp, records in batch.items():
            values += [r.value for r in records if r.value is not None]
            if records:
                pos[tp] = records[-1].offset + 1
        for tp in list(todo):
            hw = consumer.highwater(tp)
            if hw is not None and pos[tp] >= hw:
                todo.discard(tp)
        await asyncio.sleep(0)
    consumer.assign([])
    return values


def dedup_keys(values: list[bytes]) -> set[str]:
    """``task_id:revision`` of each task message (unparseable messages are skipped)."""
    keys: set[str] = set()
    for v in values:
        try:
            d = orjson.loads(v)
            keys.add(f"{d['task_id']}:{d.get('revision', 0)}")
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue
    return keys
