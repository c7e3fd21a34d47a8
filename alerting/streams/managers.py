"""The managers directory on its compacted topic, followed while the worker runs.

A worker reads the whole topic at its start (``load``), then keeps one consumer on it outside
the consumer group (every worker needs every manager) and applies each later record to its
``Directory`` between two awaits of the batch loop, never while the engine works through a
fetched batch's events (``ManagerFollower``): a manager marked absent, a new delegate or
supervisor, a new manager takes effect for the tasks assigned after it arrives, in the engine
(owner and tier role) and in the dispatcher (absence handover) alike, without a restart.

Manager records carry no event time, so they apply when they arrive (owner assignment is about
who acts now), not at a position in the event stream: a backtest assigns with the directory it
is given.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from alerting.directory import Directory, manager_from_dict
from alerting.errors import ConfigError
from alerting.metrics import Metrics
from alerting.settings import Settings
from alerting.streams import recovery
from alerting.streams.topics import new_consumer, start_kafka

log = logging.getLogger("alerting.worker")
RETRY_S = 1.0  # after an unexpected error in the follow loop
# The fetch wait of the follower: a manager change may wait this long, which is nothing for who
# acts on a task; the worker's own (latency-bound) wait, 20 ms, would make the broker serve an
# idle fetch 50 times a second for a topic that changes a few times a day (on Tansu an idle
# fetch costs broker CPU: architecture.md, run I)
FETCH_WAIT_MS = 500


def apply_manager(directory: Directory, key: bytes | None, value: bytes | None) -> str:
    """Apply one record of the managers topic: "applied", "removed" (a tombstone: the key's
    manager leaves the directory) or "malformed" (skipped, the directory unchanged)."""
    if value is None:
        if key is None:
            return "malformed"
        directory.managers.pop(key.decode("utf-8", "replace"), None)
        return "removed"
    try:
        directory.put_manager(manager_from_dict(orjson.loads(value)))
    except (ConfigError, ValueError, TypeError, AttributeError):
        # no field values in the log: a manager record holds names and contacts
        log.warning("skipping a malformed manager record")
        return "malformed"
    return "applied"


async def load(consumer: AIOKafkaConsumer, topic: str, directory: Directory,
               m: Metrics) -> dict[int, int]:
    """Read the whole topic into the directory, tombstones included (a manager removed on the
    topic leaves a directory that Redis gave it, as it does from a running worker's); returns
    the position after it per partition (where ``ManagerFollower`` goes on)."""
    records = await recovery.read_topic(consumer, topic, {})
    apply_records(directory, m, records)
    positions: dict[int, int] = {}
    for r in records:
        positions[r.partition] = max(positions.get(r.partition, 0), r.offset + 1)
    return positions


def apply_records(directory: Directory, m: Metrics, records: list[Any]) -> None:
    """Apply records of the managers topic in order, each counted by its outcome."""
    for r in records:
        m.directory_updates.labels("manager", apply_manager(directory, r.key, r.value)).inc()


class ManagerFollower:
    """One consumer, outside the group, on every partition of the managers topic."""

    def __init__(self, s: Settings, directory: Directory, m: Metrics) -> None:
        self.s = s
        self.directory = directory
        self.m = m
        self.consumer: AIOKafkaConsumer | None = None
        self.task: asyncio.Task[None] | None = None
        self.applied = 0  # records applied since start (tests wait on it)

    async def start(self, positions: dict[int, int]) -> None:
        """Connect and follow the topic from ``positions`` (missing partition: from 0; a
        record read twice is applied twice, to the same result)."""
        self.consumer = new_consumer(self.s, None, fetch_max_wait_ms=FETCH_WAIT_MS)
        await start_kafka(self.consumer, self.s)
        tps = await recovery.topic_partitions(self.consumer, self.s.topic_managers)
        self.consumer.assign(tps)
        for tp in tps:
            self.consumer.seek(tp, positions.get(tp.partition, 0))
        self.task = asyncio.create_task(self._follow(), name="alerting-managers")

    async def stop(self) -> None:
        """Stop following and disconnect."""
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        if self.consumer is not None:
            await self.consumer.stop()

    async def _follow(self) -> None:
        assert self.consumer is not None
        while True:
            try:
                batch = await self.consumer.getmany(timeout_ms=1000, max_records=1000)
                self.apply(batch)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - Kafka errors: aiokafka reconnects
                log.warning("following the managers topic: %s; retrying", type(e).__name__)
                await asyncio.sleep(RETRY_S)

    def apply(self, batch: dict[TopicPartition, list[Any]]) -> None:
        """Apply fetched records, in order per partition (synchronous: between two awaits of
        the worker's loop, so never in the middle of a batch of events)."""
        for records in batch.values():
            apply_records(self.directory, self.m, records)
            self.applied += len(records)
