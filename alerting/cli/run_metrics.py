"""Prometheus metrics for the embedded run (``alerting run --metrics-port``): tasks and dead
letters as they happen, events in steps of ``STEP`` lines (exact at the end), engine counters
(late, duplicates, cooldown suppressions) at each step."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from rich.console import Console

from alerting.metrics import Metrics, default_metrics
from alerting.ops import EngineStatsRecorder, MetricsServer, record_tasks, start_metrics_server
from alerting.tasks import Task

TOPIC = "file"
STEP = 1000


class RunMetrics:
    """Live metrics of one embedded run."""

    def __init__(self, metrics: Metrics, server: MetricsServer | None, engine: Any) -> None:
        self.m = metrics
        self.server = server
        self.stats = EngineStatsRecorder(metrics, TOPIC)
        self.engine = engine
        self._read = 0
        self._bad = 0
        self._pushed_ok = 0

    @classmethod
    def start(cls, port: int, engine: Any, host: str = "127.0.0.1") -> RunMetrics:
        """Serve the default registry on ``host:port`` from a daemon thread."""
        m = default_metrics()
        server = start_metrics_server(port, m.registry, host=host)
        Console(stderr=True).print(f"metrics on http://{host}:{server.port}/metrics",
                                   highlight=False)
        return cls(m, server, engine)

    def count_lines(self, lines: Iterable[tuple[int, bytes]]) -> Iterator[tuple[int, bytes]]:
        """Pass the input lines through, publishing the count every ``STEP`` lines."""
        for item in lines:
            if item[1]:  # not io.IDLE (lines are never empty)
                self._read += 1
                if self._read % STEP == 0:
                    self._push()
            yield item

    def task(self, t: Task) -> None:
        """One task emission (created or updated)."""
        record_tasks(self.m, (t,))

    def dead_letter(self, reason: str) -> None:
        """One bad line or rejected event."""
        self._bad += 1
        self.m.dead_letters.labels(reason=reason).inc()
        self.m.events.labels(topic=TOPIC, outcome="dead_letter").inc()

    def finish(self, replay: Any) -> None:
        """Exact totals at the end of the input."""
        self._push()
        self.m.state_customers.set(len(self.engine))
        if getattr(replay, "last_ts", None):
            self.m.watermark.set(replay.last_ts / 1000)

    def _push(self) -> None:
        ok = max(self._read - self._bad, 0)
        if ok > self._pushed_ok:
            self.m.events.labels(topic=TOPIC, outcome="ok").inc(ok - self._pushed_ok)
            self._pushed_ok = ok
        self.stats.record(self.engine.stats)
