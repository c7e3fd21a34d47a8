"""The Kafka worker's hot path: an aiokafka consumer-group member that consumes the co-partitioned
input topics in bounded batches, runs one engine per assigned partition number, produces tasks and
dead letters in batches and checkpoints each partition's state with its offsets to Redis.

Per-message Faust streams cost ~300 µs of event-loop machinery per message here (see
docs/architecture.md), so the hot path is this batch loop; all I/O per batch is a handful of
awaits, never one per event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor

from alerting.directory import Directory
from alerting.errors import StateError
from alerting.metrics import Metrics, default_metrics
from alerting.ops import EngineStatsRecorder, record_tasks
from alerting.settings import Settings
from alerting.state.redis_checkpoint import CheckpointStore, PartitionCheckpoint
from alerting.streams import managers, recovery
from alerting.streams.checkpointer import CheckpointWriter
from alerting.streams.deadletter import dead_letter_record
from alerting.streams.directory import customers_key, decode_customer, encode_customer
from alerting.streams.shard import NEG_INF, EngineLike, Outcome, Shard, record_parser
from alerting.streams.topics import new_consumer, new_producer, partition_of, start_kafka
from alerting.streams.watermark import SharedWatermark

log = logging.getLogger("alerting.worker")
task_log = logging.getLogger("alerting.tasks")
ENGINE_TOPIC = "engine"  # label of engine-side outcomes (duplicate) that are not per topic
EngineFactory = Callable[[Directory], EngineLike]


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self.worker.on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self.worker.on_assigned(assigned)


class Worker:
    """One worker process's consume → engine → produce → checkpoint loop."""

    def __init__(self, settings: Settings, engine_factory: EngineFactory, redis: object,
                 directory: Directory, metrics: Metrics | None = None,
                 lock: asyncio.Lock | None = None) -> None:
        self.s = settings
        self.engine_factory = engine_factory
        self.redis = redis
        self.directory = directory
        self.m = metrics or default_metrics()
        self.store = CheckpointStore(redis, settings.redis_prefix, settings.group_id)  # type: ignore[arg-type]
        self.wm = SharedWatermark(redis, f"{settings.redis_prefix}watermark:{settings.group_id}")  # type: ignore[arg-type]
        self.topics = settings.input_topics()
        self.shards: dict[int, Shard] = {}
        self.delivered = recovery.Delivered()  # tasks found on the tasks topic on recovery
        self.lock = lock or asyncio.Lock()  # held per batch: a rules swap lands between two
        self.ready = asyncio.Event()
        self.stats = {"events": 0, "tasks": 0, "skipped": 0, "dead_letters": 0,
                      "checkpoints": 0, "recoveries": 0}
        self._last_tick = 0.0
        self._advanced: dict[int, int] = {}
        self._pausing = False  # some input partition may be paused (_flow_control)
        self._recorders: dict[int, EngineStatsRecorder] = {}  # per shard: engine stats → metrics
        self.consumer: AIOKafkaConsumer | None = None
        self.side: AIOKafkaConsumer | None = None
        self.follower: managers.ManagerFollower | None = None
        self.producer: AIOKafkaProducer | None = None
        self.n_partitions = settings.partitions
        self.output = CheckpointWriter(self.store, self.m, self.stats, self._update_lag)
        self.reloader: Any = None  # alerting.reload.RulesReloader when rules hot-reload
        self.closed = False
        self.failed = False  # a batch raised half-way: stop() must not checkpoint
        self.external_timers = False  # True: the host calls tick() (faust timer), run() doesn't
        self.parse_records = record_parser(settings.decoder)

    async def start(self) -> None:
        """Connect the producer, the side reader and the group consumer."""
        self.producer = new_producer(self.s)
        await start_kafka(self.producer, self.s)
        self.side = new_consumer(self.s, None)
        await start_kafka(self.side, self.s)
        self.output.out_hw = await recovery.end_offsets(self.side, self.s.topic_tasks)
        self.n_partitions = len(await recovery.topic_partitions(self.side, self.topics[1]))
        positions = await managers.load(self.side, self.s.topic_managers, self.directory,
                                        self.m)
        self.follower = managers.ManagerFollower(self.s, self.directory, self.m)
        await self.follower.start(positions)
        self.consumer = new_consumer(self.s, self.s.group_id,
                                     partition_assignment_strategy=(RangePartitionAssignor,))
        await start_kafka(self.consumer, self.s)
        self.consumer.subscribe(list(self.topics), listener=_Listener(self))

    async def stop(self) -> None:
        """Checkpoint what was applied and leave the group."""
        try:
            async with self.lock:
                self.closed = True  # a late timer tick must not produce any more
                await self.output.wait()
                if self.output.error() is not None:
                    self.failed = True  # the worker stops with what was last written
                if self.shards and not self.failed:
                    await self.checkpoint(force=True)
        finally:
            if self.follower is not None:
                await self.follower.stop()
            for c in (self.consumer, self.side, self.producer):
                if c is not None:
                    await c.stop()

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set."""
        assert self.consumer is not None
        while not stop.is_set():
            batch = await self.consumer.getmany(timeout_ms=50, max_records=self.s.max_batch)
            async with self.lock:
                try:
                    await self.step(batch)
                except BaseException:
                    # a half-applied batch: its state must never be checkpointed (its tasks
                    # were not produced); a restart replays from the last checkpoint
                    self.failed = True
                    raise

    async def step(self, batch: dict[TopicPartition, list]) -> None:  # type: ignore[type-arg]
        """Apply one fetched batch, fire due timers, produce, checkpoint when due."""
        self._raise_if_checkpoint_failed()
        t0 = time.perf_counter()
        out = Outcome()
        parse = self.parse_records
        for tp, records in batch.items():
            shard = self.shards.get(tp.partition)
            if shard is not None and tp.topic in shard.buffers:
                shard.add(tp.topic, parse(records))
        for shard in self.shards.values():
            part = shard.drain(self._caught_up_fn(shard))
            shard.since += part.applied
            out.merge(part)
        self._flow_control()
        await self._advance(out)
        self.m.rule_eval.observe(time.perf_counter() - t0)
        await self._emit(out)
        self.stats["events"] += out.applied
        self._record_engine_stats()
        if not self.output.busy:
            self._raise_if_checkpoint_failed()
            due = self._most_overdue()
            if due is not None:
                self._take_checkpoint(only={due})

    def _most_overdue(self) -> int | None:
        """The one shard to checkpoint now, if any is due. One shard per batch: the pause a
        checkpoint makes (export + Redis write) stays an eighth of a full one, which keeps
        the latency tail short; each shard still checkpoints every N events / T ms."""
        now = time.monotonic()
        best, best_age = None, -1.0
        for p, sh in self.shards.items():
            age = now - sh.last_ckpt
            if sh.changed and (sh.since >= self.s.checkpoint_events
                               or age * 1000 >= self.s.checkpoint_ms) and age > best_age:
                best, best_age = p, age
        return best

    def _record_engine_stats(self) -> None:
        """Duplicates and cooldown suppressions from each engine's counters, and the number
        of customers held in state (late events are counted by the shard, per topic)."""
        held = 0
        for p, shard in self.shards.items():
            eng = shard.engine
            stats = getattr(eng, "stats", None)
            if stats is not None:
                rec = self._recorders.get(p)
                if rec is None:
                    rec = self._recorders[p] = EngineStatsRecorder(self.m, ENGINE_TOPIC,
                                                                  count_late=False)
                rec.record(stats)
            with contextlib.suppress(TypeError):
                held += len(eng)  # type: ignore[arg-type]
        self.m.state_customers.set(held)

    def _caught_up_fn(self, shard: Shard) -> Callable[[str], bool]:
        assert self.consumer is not None
        consumer = self.consumer

        def caught_up(topic: str) -> bool:
            hw = consumer.highwater(TopicPartition(topic, shard.partition))
            return hw is not None and shard.fetched[topic] >= hw
        return caught_up

    def _flow_control(self) -> None:
        """Pause topic-partitions that run ahead in the merge so buffers stay bounded, and
        resume them once drained. ``paused()`` walks every assigned partition, so it is read
        once per batch and only while something is, or must be, paused (the worker is the only
        one to pause; a rebalance clears pauses, which at worst makes this read it once more)."""
        assert self.consumer is not None
        limit = 4 * self.s.max_batch
        over = {TopicPartition(t, p) for p, shard in self.shards.items()
                for t, buf in shard.buffers.items() if len(buf) > limit}
        if not over and not self._pausing:
            return
        paused = self.consumer.paused()
        for tp in paused - over:
            self.consumer.resume(tp)
        for tp in over - paused:
            self.consumer.pause(tp)
        self._pausing = bool(over)

    async def _advance(self, out: Outcome) -> None:
        """Fire timers: each shard up to its own event time; idle shards up to the shared
        watermark (event mode) or the wall clock (wall mode), at most every interval."""
        for shard in self.shards.values():
            if shard.watermark > self._advanced.get(shard.partition, NEG_INF):
                self._fire(shard, shard.watermark, out)
        if not self.external_timers:
            await self._tick(out)

    async def tick(self) -> None:
        """Advance idle shards to the shared watermark (or the wall clock) and produce what
        fires: a host's timer calls this every ``watermark_interval_ms`` (the faust app's
        ``@app.timer``) when ``external_timers`` is set. Between two batches (batch lock)."""
        async with self.lock:
            if self.consumer is None or self.closed or not self.shards:
                return
            out = Outcome()
            await self._tick(out, force=True)
            if out.tasks:
                await self._emit(out)

    async def _tick(self, out: Outcome, force: bool = False) -> None:
        now = time.monotonic()
        if not self.shards or (
                not force and (now - self._last_tick) * 1000 < self.s.watermark_interval_ms):
            return
        self._last_tick = now
        if self.s.watermark == "wall":
            wm = int(time.time() * 1000)
        else:
            wm = await self.wm.offer(max(s.watermark for s in self.shards.values()))
        self.m.watermark.set(max(wm, 0) / 1000)
        for shard in self.shards.values():
            idle = shard.buffered() == 0 and all(
                self._caught_up_fn(shard)(t) for t in shard.topics)
            if (idle or self.s.watermark == "wall") and wm > self._advanced.get(
                    shard.partition, NEG_INF):
                self._fire(shard, wm, out)

    def _fire(self, shard: Shard, wm: int, out: Outcome) -> None:
        self._advanced[shard.partition] = wm
        tasks = shard.engine.advance(wm)
        if tasks:
            shard.changed = True
            now_ms = int(time.time() * 1000)
            out.tasks.extend((t, now_ms) for t in tasks)

    async def _emit(self, out: Outcome) -> None:
        """Send the batch's tasks (minus those already delivered) and dead letters. The loop does
        not wait for the acknowledgements (that would add the broker's produce latency to every
        batch); a checkpoint is written only once the sends made before it are acknowledged
        (``CheckpointWriter``), so it never gets ahead of the output."""
        assert self.producer is not None
        p = self.producer
        now = time.time()
        for task, ts_ms in out.tasks:
            if self.delivered.seen_again(task.dedup_key):
                self.stats["skipped"] += 1
                continue
            self.output.track(await p.send(self.s.topic_tasks, task.to_json(),
                                           key=task.task_id.encode()), True)
            record_tasks(self.m, (task,), task_log, latency_s=now - ts_ms / 1000)
            self.stats["tasks"] += 1
        for r in out.rejected:
            k, v = dead_letter_record(r)
            self.output.track(await p.send(self.s.topic_dead_letter, v, key=k), False)
            self.m.dead_letters.labels(r.reason).inc()
        self.stats["dead_letters"] += len(out.rejected)
        self._count(out)
        if self.output.in_flight > 4 * self.s.max_batch:
            await self.output.flush()

    def _count(self, out: Outcome) -> None:
        for (topic, outcome), n in out.by_topic.items():
            self.m.events.labels(topic, outcome).inc(n)

    async def checkpoint(self, force: bool = False, only: set[int] | None = None) -> None:
        """Save every changed shard (state of dirty customers + offsets + output offsets) and
        wait until it is written (stop, revoke, tests). The batch loop does not wait."""
        await self.wait_checkpoint()
        self._raise_if_checkpoint_failed()
        self._take_checkpoint(force, only)
        await self.wait_checkpoint()
        self._raise_if_checkpoint_failed()

    async def wait_checkpoint(self) -> None:
        """Wait for the checkpoint being written, if any."""
        await self.output.wait()

    def _raise_if_checkpoint_failed(self) -> None:
        e = self.output.error()
        if e is not None:
            # dirty customers were cleared when that checkpoint was taken: a later incremental
            # checkpoint would record offsets past states that were never written
            self.failed = True
            raise e

    def _take_checkpoint(self, force: bool = False, only: set[int] | None = None) -> None:
        """Export the changed shards now, between two batches, and hand them to the background
        writer (``alerting.streams.checkpointer``)."""
        t0 = time.perf_counter()
        cps: list[PartitionCheckpoint] = []
        profiles: dict[str, bytes] = {}
        now = time.monotonic()
        for p, shard in self.shards.items():
            if (only is not None and p not in only) or not (shard.changed or force):
                continue
            eng = shard.engine
            never = self.delivered.release_replayed(p, shard.offsets,
                                                    self._advanced.get(p, NEG_INF))
            if never:
                log.warning("partition %d: %d tasks delivered before a restart were not emitted "
                            "again by its replay (rules changed?); still skipped, no longer "
                            "replayed from", p, never)
            dirty = list(eng.dirty_customers())
            changed = {cid: encode_customer(c) for cid in shard.dirty_profiles
                       if (c := self.directory.customer(cid)) is not None}
            cps.append(PartitionCheckpoint(
                partition=p, offsets=dict(shard.offsets), meta=eng.export_meta(),
                out_offsets=self.delivered.cap(p),
                states=eng.export_state(dirty) if dirty else {}, profiles=changed))
            profiles.update(changed)
            eng.clear_dirty()
            shard.dirty_profiles.clear()
            shard.changed = False
            shard.since, shard.last_ckpt = 0, now
        self.output.write(cps, {customers_key(self.s.redis_prefix): profiles}, t0)

    def _update_lag(self) -> None:
        if self.consumer is None:
            return
        for p, shard in self.shards.items():
            for t in shard.topics:
                hw = self.consumer.highwater(TopicPartition(t, p))
                if hw is not None:
                    self.m.consumer_lag.labels(t, str(p)).set(max(0, hw - shard.offsets[t]))

    async def on_revoked(self, revoked: list[TopicPartition]) -> None:
        """Checkpoint, then drop the shards of revoked partitions."""
        parts = {tp.partition for tp in revoked} & set(self.shards)
        self.ready.clear()
        async with self.lock:
            if parts and not self.failed:
                await self.checkpoint(force=True, only=parts)
            for p in parts:
                del self.shards[p]
                self.delivered.drop(p)
                self._advanced.pop(p, None)
                self._recorders.pop(p, None)

    async def on_assigned(self, assigned: list[TopicPartition]) -> None:
        """Restore each new partition from its checkpoint, learn which tasks were already
        delivered after those checkpoints, and seek the inputs to the checkpointed offsets."""
        assert self.consumer is not None and self.side is not None
        new = sorted({tp.partition for tp in assigned} - set(self.shards))
        async with self.lock:
            cps = {p: await self.store.load(p) for p in new}
            start: dict[int, int] = {}  # empty = from the beginning (a partition without a
            # checkpoint may have produced tasks anywhere before it crashed)
            if cps and all(cp is not None for cp in cps.values()):
                for q in self.output.out_hw:
                    start[q] = min(cp.out_offsets.get(q, 0) for cp in cps.values()
                                   if cp is not None)
            if new:
                records = await recovery.read_records(self.side, self.s.topic_tasks, start)
                n = self.n_partitions
                self.delivered.add(records, lambda cid: partition_of(cid, n),
                                   {p: cp.out_offsets if cp is not None else {}
                                    for p, cp in cps.items()})
            for p in new:
                self.shards[p] = self._restore(p, cps[p])
            await self._bound_replay(new)
            self.stats["recoveries"] += len(new)
        self.ready.set()

    async def _bound_replay(self, new: list[int]) -> None:
        """Where the replay of each new partition that owes delivered tasks ends: its input
        end offsets and the watermark now (``recovery.Delivered.replay_until``)."""
        assert self.side is not None
        owing = [p for p in new if self.delivered.outstanding(p)]
        if not owing:
            return
        ends = {t: await recovery.end_offsets(self.side, t) for t in self.topics}
        # every timer a previous incarnation fired was due at or before the shared watermark
        # (or, in wall mode, the clock) as it stands now
        wm = (int(time.time() * 1000) if self.s.watermark == "wall"
              else await self.wm.offer(NEG_INF))
        for p in owing:
            self.delivered.replay_until(p, {t: e.get(p, 0) for t, e in ends.items()}, wm)

    def _restore(self, p: int, cp: PartitionCheckpoint | None) -> Shard:
        assert self.consumer is not None
        self._recorders.pop(p, None)  # a new engine counts from zero
        engine = self.engine_factory(self.directory)
        offsets = dict.fromkeys(self.topics, 0)
        if cp is not None:
            # profiles changed by this partition's events up to its checkpoint: the directory
            # this worker loaded at its start may predate them (another worker applied them)
            try:
                for raw in cp.profiles.values():
                    self.directory.put_customer(decode_customer(raw))
            except (ValueError, TypeError):
                raise StateError(f"checkpoint of partition {p}: a profile is corrupt") from None
            if cp.states:
                engine.import_state(cp.states)
            if cp.meta:
                engine.import_meta(cp.meta)
            offsets.update({t: o for t, o in cp.offsets.items() if t in offsets})
        seed = getattr(engine, "seed", None)
        if seed is not None:  # inactivity timers also run for this shard's silent customers
            n = self.n_partitions
            seed(sorted((c for c in self.directory.customers.values()
                         if partition_of(c.customer_id, n) == p), key=lambda c: c.customer_id))
        for t, off in offsets.items():
            self.consumer.seek(TopicPartition(t, p), off)
        return Shard(p, self.topics, engine, offsets)

