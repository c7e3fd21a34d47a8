"""The worker's output bookkeeping and its background checkpoint writer.

A checkpoint is *taken* synchronously between two batches (the worker exports the dirty
customers' states, the engine meta and the input offsets: exactly the input applied so far) and
*written* here in the background: wait for the acknowledgement of every send made before it was
taken, then one Redis MULTI. Waiting for acks and Redis inside the batch loop put a produce round
trip into every checkpointing batch: the latency tail at a steady rate and idle time at full
speed. At most one checkpoint is being written at a time, so a partition's checkpoints land in
the order they were taken.

Exactly-once: the output offsets a checkpoint records are those of the sends made before it was
taken (the acked high-water marks at that moment, raised by the sends still in flight then).
Later sends are ordered after them in their partitions, so after a crash the read-back of our
own output (``recovery``) starts at or before any task of a replayed event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiokafka.errors import KafkaError

from alerting.errors import ServiceUnavailable
from alerting.metrics import Metrics
from alerting.state.redis_checkpoint import CheckpointStore, PartitionCheckpoint

Pending = list[tuple["asyncio.Future[Any]", bool]]  # (send future, is a task)


class CheckpointWriter:
    """Tracks sends and writes checkpoints in the background, one at a time."""

    def __init__(self, store: CheckpointStore, metrics: Metrics, stats: dict[str, int],
                 on_written: Callable[[], None] = lambda: None) -> None:
        self.store = store
        self.m = metrics
        self.stats = stats
        self.on_written = on_written
        self.out_hw: dict[int, int] = {}  # tasks partition -> next offset after our acked sends
        self._pending: Pending = []
        self._writing: asyncio.Task[None] | None = None

    def track(self, fut: asyncio.Future[Any], is_task: bool) -> None:
        """Remember a send until it is known to be acknowledged."""
        if is_task:
            fut.add_done_callback(self._acked)
        self._pending.append((fut, is_task))

    @property
    def in_flight(self) -> int:
        """Sends not yet handed to a checkpoint or a flush."""
        return len(self._pending)

    def _acked(self, fut: asyncio.Future[Any]) -> None:
        if fut.cancelled() or fut.exception() is not None:
            return  # the flush or checkpoint awaiting it raises
        _raise_hw(self.out_hw, fut.result())

    async def flush(self) -> None:
        """Wait until every send so far is acknowledged (raises if one failed: the worker then
        stops without checkpointing past it, and a restart replays)."""
        pending, self._pending = self._pending, []
        await acknowledged(pending)

    @property
    def busy(self) -> bool:
        """A checkpoint is being written."""
        return self._writing is not None and not self._writing.done()

    def write(self, cps: list[PartitionCheckpoint], side: dict[str, dict[str, bytes]],
              t0: float) -> None:
        """Write checkpoints just taken, in the background (call only when not ``busy``).
        A checkpoint's ``out_offsets``, if set, caps the output offsets recorded for it."""
        assert not self.busy
        pending, self._pending = self._pending, []
        self._writing = asyncio.create_task(self._write(cps, side, dict(self.out_hw), pending,
                                                        t0))

    async def _write(self, cps: list[PartitionCheckpoint], side: dict[str, dict[str, bytes]],
                     out_hw: dict[int, int], pending: Pending, t0: float) -> None:
        await acknowledged(pending)
        for fut, is_task in pending:
            if is_task:
                _raise_hw(out_hw, fut.result())
        if cps:
            for cp in cps:
                # a partition still replaying what an earlier incarnation had processed
                # arrives with a cap (``recovery.Delivered.cap``): its offsets bound ours
                cap = cp.out_offsets
                cp.out_offsets = {q: min(o, cap[q]) if q in cap else o
                                  for q, o in out_hw.items()}
            await self.store.save(cps, side)
            self.m.checkpoint_seconds.observe(time.perf_counter() - t0)
            self.stats["checkpoints"] += 1
        self.on_written()

    async def wait(self) -> None:
        """Wait for the checkpoint being written, if any (a failure is kept for ``error``)."""
        if self._writing is not None:
            await asyncio.wait([self._writing])

    def error(self) -> BaseException | None:
        """Why the last checkpoint write failed, if it did."""
        w = self._writing
        if w is None or not w.done():
            return None
        return asyncio.CancelledError() if w.cancelled() else w.exception()


def _raise_hw(hw: dict[int, int], md: Any) -> None:
    """Raise a tasks partition's high-water mark to just after an acknowledged send."""
    if md.offset + 1 > hw.get(md.partition, 0):
        hw[md.partition] = md.offset + 1


async def acknowledged(pending: Pending) -> None:
    """Wait for sends; a failed one becomes ``ServiceUnavailable`` (one line, no traceback)."""
    if pending:
        try:
            await asyncio.gather(*(f for f, _ in pending))
        except KafkaError as e:
            raise ServiceUnavailable(f"kafka: producing output failed: "
                                     f"{type(e).__name__}") from None
