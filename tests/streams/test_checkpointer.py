"""The background checkpoint writer against the machine's Redis: which output offsets a
checkpoint records (the exactly-once argument in docs/architecture.md rests on them)."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from aiokafka import TopicPartition
from aiokafka.structs import RecordMetadata
from prometheus_client import CollectorRegistry

from alerting.errors import ServiceUnavailable
from alerting.metrics import Metrics
from alerting.state.redis_checkpoint import CheckpointStore, PartitionCheckpoint
from alerting.streams.checkpointer import CheckpointWriter

pytestmark = pytest.mark.integration


def _md(partition: int, offset: int, topic: str = "tasks") -> RecordMetadata:
    return RecordMetadata(topic, partition, TopicPartition(topic, partition), offset, -1, 0, 0)


@pytest.fixture
def writer(redis: aioredis.Redis, redis_prefix: str) -> CheckpointWriter:
    return CheckpointWriter(CheckpointStore(redis, redis_prefix, "g"),
                            Metrics(CollectorRegistry()), {"checkpoints": 0})


async def test_records_the_offsets_of_sends_made_before_it_was_taken(
        writer: CheckpointWriter, redis: aioredis.Redis, redis_prefix: str) -> None:
    loop = asyncio.get_running_loop()
    writer.out_hw = {0: 5, 1: 3, 2: 7}
    before_task, before_dead_letter = loop.create_future(), loop.create_future()
    writer.track(before_task, True)
    writer.track(before_dead_letter, False)
    # partition 1 is capped (a replay still owes tasks from offset 2 on: recovery.Delivered)
    writer.write([PartitionCheckpoint(partition=4, offsets={"tx": 10}, meta=b"m",
                                      out_offsets={1: 2})], {}, 0.0)
    after_task = loop.create_future()
    writer.track(after_task, True)
    # the later send is acknowledged first and far ahead: it must not count
    after_task.set_result(_md(0, 50))
    before_dead_letter.set_result(_md(0, 900, "dlq"))  # not a task: never an output offset
    await asyncio.sleep(0)
    assert writer.busy, "written only once the sends before it are acknowledged"
    before_task.set_result(_md(2, 9))
    await writer.wait()
    assert writer.error() is None
    cp = await CheckpointStore(redis, redis_prefix, "g").load(4)
    assert cp is not None
    assert cp.out_offsets == {0: 5, 1: 2, 2: 10}
    assert cp.offsets == {"tx": 10} and cp.meta == b"m"
    assert writer.out_hw[0] == 51, "the acks still raise the running high-water marks"


async def test_a_failed_send_fails_the_checkpoint_and_nothing_is_written(
        writer: CheckpointWriter, redis: aioredis.Redis, redis_prefix: str) -> None:
    from aiokafka.errors import KafkaTimeoutError

    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    writer.track(fut, True)
    writer.write([PartitionCheckpoint(partition=1, offsets={"tx": 3})], {}, 0.0)
    fut.set_exception(KafkaTimeoutError())
    await writer.wait()
    assert isinstance(writer.error(), ServiceUnavailable)
    assert await CheckpointStore(redis, redis_prefix, "g").load(1) is None
