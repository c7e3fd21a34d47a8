"""``alerting worker`` as a faust-streaming application.

Faust does what it does well here: the worker lifecycle (``faust.Worker``: start, SIGTERM/SIGINT,
ordered clean shutdown, a crash stops the process with a non-zero code), the web server (faust's
aiohttp driver: our health, metrics, reload, task API and inbox routes are mounted on its
``web_app``), the timers (``@app.timer``: watermark advance for inactivity/SLA timers, the
dispatcher's tick) and the topic declarations (``app.topic(...).maybe_declare()``).

The hot path is not a faust stream: faust spends ~300 µs of event-loop machinery per message
(docs/architecture.md), so the batched aiokafka loop (``streams.worker.Worker.run``) runs inside
a ``mode.Service`` added with ``app.service``. Faust's own Kafka consumer is switched off in the
boot strategy (no agents, no tables): it would only join a consumer group for nothing, and the
batch consumer owns the input topics.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import faust
import mode
from faust.app.base import BootStrategy
from faust.web.drivers.aiohttp import Web as AiohttpWeb

from alerting.directory import Directory
from alerting.errors import ServiceUnavailable, StateError, WorkerStopped
from alerting.kafka_auth import faust_credentials
from alerting.metrics import Metrics, default_metrics
from alerting.models import decoder_text
from alerting.settings import Settings
from alerting.streams.app import (
    Rules,
    WebHook,
    health_hook,
    quiet_kafka_logs,
    task_api_hook,
    tune_gc,
)
from alerting.streams.directory import load_directory
from alerting.streams.dispatch import DispatchSide
from alerting.streams.topics import (
    connect_redis,
    new_producer,
    producer_acks,
    start_kafka,
    topic_specs,
)
from alerting.streams.worker import EngineFactory, Worker

log = logging.getLogger("alerting.worker")
DISPATCH_TICK_S = 1.0
# what the batch loop raises when it must stop (a write never acknowledged, a checkpoint not
# taken): reported as one line and exit code 1, as on the asyncio runner
_STOPS = (ServiceUnavailable, StateError)


class _StopWithoutTraceback(logging.Filter):
    """mode logs a crashed service with the traceback of the exception; for the stops the
    batch loop raises on purpose that traceback is our own ``raise`` and tells an operator
    nothing the reason does not, so the record keeps its message and loses the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], _STOPS):
            record.exc_info = None
            record.exc_text = None
        return True


# mode's services log through their module's logger: this one's (WorkerService)
logging.getLogger(__name__).addFilter(_StopWithoutTraceback())


class NoConsumerBoot(BootStrategy):
    """Faust without its consumer, leader assignor and tables: the batch loop consumes."""

    enable_kafka_consumer = False


class AlertingWeb(AiohttpWeb):
    """Faust's aiohttp server without its index page: ``/`` is the managers' inbox."""

    production_blueprints = ()


class AlertingApp(faust.App):
    """The faust app of a worker process."""

    BootStrategy = NoConsumerBoot

    def _new_web(self) -> AiohttpWeb:
        return AlertingWeb(self)


@dataclass
class Prepared:
    """What a worker needs before faust starts, checked up front so that a missing Redis or
    Kafka or a bad rules file is one line and exit code 2 (not a faust crash)."""

    s: Settings
    rules: Rules
    redis: Any
    directory: Directory
    worker: Worker
    m: Metrics


async def prepare(s: Settings, engine_factory: EngineFactory | None = None,
                  metrics: Metrics | None = None) -> Prepared:
    """Rules, Redis, the directory, a Kafka connection check and the (unstarted) worker.
    Raises ``RulesError`` / ``ServiceUnavailable``."""
    m = metrics or default_metrics()
    lock = asyncio.Lock()
    rules = Rules(s, engine_factory, m, lock)
    redis = await connect_redis(s)
    try:
        directory = await load_directory(redis, s.redis_prefix)
        probe = new_producer(s)
        try:
            with quiet_kafka_logs():
                await start_kafka(probe, s)
        finally:
            await probe.stop()
    except BaseException:
        await redis.aclose()
        raise
    worker = Worker(s, rules.factory, redis, directory, m, lock=lock)
    worker.external_timers = True  # the faust timer calls worker.tick()
    rules.bind(worker)
    return Prepared(s, rules, redis, directory, worker, m)


def faust_settings(s: Settings) -> dict[str, Any]:
    """Faust's configuration from ours (short group timeouts for Tansu: see settings.py)."""
    return {
        "broker": [f"kafka://{h.strip()}" for h in s.kafka_bootstrap.split(",")],
        "broker_credentials": faust_credentials(s),
        "web_enabled": s.web_enabled, "web_port": s.web_port, "web_bind": s.web_host,
        "web_in_thread": False, "web_router_enabled": False, "web_tables_enabled": False,
        "broker_session_timeout": 2.0, "broker_heartbeat_interval": 0.5,
        "broker_rebalance_timeout": 2.0, "broker_request_timeout": 30.0,
        "topic_partitions": s.partitions, "topic_replication_factor": 1,
        # faust's own producer only declares the topics (CreateTopics through its client)
        # and never sends a record, so idempotence would change nothing there; its acks
        # follow ALERTING_KAFKA_ACKS all the same (-1 = all)
        "autodiscover": False, "producer_acks": producer_acks(s),
        # faust creates its data directory at start: keep it out of the working directory
        "datadir": Path(tempfile.gettempdir()) / "alerting-faust",
    }


class WorkerService(mode.Service):
    """The batch loop (and the dispatcher's consumer) under faust's lifecycle."""

    def __init__(self, app: faust.App, p: Prepared, **kw: Any) -> None:
        super().__init__(**kw)
        self.app, self.p = app, p
        self.halt = asyncio.Event()
        self.side = (DispatchSide(p.s, p.rules.ruleset, p.directory, p.redis, p.m)
                     if p.s.dispatch else None)
        if self.side is not None:
            p.rules.live.on_apply(self.side.prepare_rules)  # reloads reach the routing
        self._done: list[asyncio.Event] = []

    async def on_start(self) -> None:
        """Declare the topics through faust, then join the group and start the triggers."""
        await declare_topics(self.app, self.p.s)
        with quiet_kafka_logs():
            await self.p.worker.start()
        tune_gc()
        if self.p.rules.reloader is not None:
            self.p.rules.reloader.start(self.p.s.rules_watch_interval_s)  # file + SIGHUP
        if self.side is not None:
            await self.side.start()
        log.warning("worker started on faust: group %s, %d customers, %d managers, %s",
                    self.p.s.group_id, len(self.p.directory.customers),
                    len(self.p.directory.managers), decoder_text(self.p.s.decoder))

    @mode.Service.task
    async def _consume(self) -> None:
        await self._until_halt(self.p.worker.run(self.halt))

    @mode.Service.task
    async def _dispatch(self) -> None:
        if self.side is not None:
            await self._until_halt(self.side.run(self.halt, ticks=False))

    async def _until_halt(self, loop: Any) -> None:
        done = asyncio.Event()
        self._done.append(done)
        try:
            await loop
        finally:
            done.set()

    async def on_stop(self) -> None:
        """Finish the current batch, checkpoint, leave the group, close everything."""
        self.halt.set()
        for done in self._done:
            await done.wait()
        try:
            if self.p.rules.reloader is not None:
                await self.p.rules.reloader.stop()
            if self.side is not None:
                await self.side.close()
            await self.p.worker.stop()
        finally:
            await self.p.redis.aclose()


async def declare_topics(app: faust.App, s: Settings) -> None:
    """Create the worker's topics if absent (compacted directories) through faust."""
    for name, cfg in topic_specs(s).items():
        await app.topic(name, partitions=s.partitions, config=dict(cfg) or None,
                        internal=False).maybe_declare()


def build_app(p: Prepared, web_hooks: Sequence[WebHook] = (health_hook,)) -> faust.App:
    """The faust app: web routes on faust's aiohttp application, the timers, the service."""
    s = p.s
    app = AlertingApp(f"{s.group_id}-faust", **faust_settings(s))
    if s.web_enabled:
        hooks = [*web_hooks, task_api_hook] if s.dispatch else list(web_hooks)
        web_app = cast(AiohttpWeb, app.web).web_app  # frozen when faust starts the server
        for hook in hooks:
            hook(web_app, p.worker)
    service = WorkerService(app, p)
    app.service(service)  # type: ignore[arg-type]  # an instance is accepted (faust starts it)

    @app.timer(s.watermark_interval_ms / 1000)
    async def advance_watermark() -> None:
        await p.worker.tick()

    if service.side is not None:
        side = service.side

        @app.timer(DISPATCH_TICK_S)
        async def dispatcher_tick() -> None:
            await side.tick()
    return app


class _Worker(faust.Worker):
    """``faust.Worker`` without mode's fixed one-second wait at shutdown (its "sentinel task"
    sleeps 1 s so that stray loop callbacks run before the loop closes). By then our service
    has stopped, checkpointed and closed its clients; a few loop turns are enough."""

    async def _sentinel_task(self) -> None:
        await asyncio.sleep(0.05)


def run_faust_worker(s: Settings, engine_factory: EngineFactory | None = None,
                     web_hooks: Sequence[WebHook] = (health_hook,),
                     metrics: Metrics | None = None) -> None:
    """``alerting worker``: prepare (one clear error), then ``faust.Worker`` runs the app until
    SIGTERM/SIGINT. Raises ``WorkerStopped`` when the batch loop stops on a failed write (as
    ``run_worker`` does), else ``SystemExit`` (0 on a clean stop, 1 after another crash)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        p = loop.run_until_complete(prepare(s, engine_factory, metrics))
    except BaseException:
        loop.close()
        raise
    app = build_app(p, web_hooks)
    worker = _Worker(app, loop=loop, quiet=True, override_logging=False,
                     redirect_stdouts=False, loglevel=None)
    worker.spinner = None  # a terminal spinner on stdout: not for a service's logs
    try:
        worker.execute_from_commandline()
    except SystemExit as e:
        reason = worker.crash_reason
        if e.code not in (0, None) and isinstance(reason, _STOPS):
            raise WorkerStopped(f"stopped: {reason}") from None
        raise


async def serve(s: Settings, stop: asyncio.Event, engine_factory: EngineFactory | None = None,
                web_hooks: Sequence[WebHook] = (health_hook,),
                metrics: Metrics | None = None) -> None:
    """The same app in process (tests, embedding): start, run until ``stop`` or a crash,
    stop cleanly; re-raises the crash."""
    p = await prepare(s, engine_factory, metrics)
    app = build_app(p, web_hooks)
    try:
        await app.start()
        await app.wait_for_stopped(stop.wait())
    finally:
        await app.stop()
    if app.crash_reason is not None:
        raise app.crash_reason
