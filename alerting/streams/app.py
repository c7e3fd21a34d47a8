"""Running a worker process: connect Redis and Kafka (one clear error if either is missing),
create the topics, load the directory, build one engine per partition from the rules file, serve
health/metrics (and whatever the web hooks mount) on the web port, stop cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterator, Sequence

from aiohttp import web

from alerting.directory import Directory
from alerting.metrics import Metrics, default_metrics
from alerting.settings import Settings
from alerting.streams.directory import load_directory
from alerting.streams.shard import EngineLike
from alerting.streams.topics import connect_redis, ensure_topics
from alerting.streams.worker import EngineFactory, Worker

log = logging.getLogger("alerting.worker")
WebHook = Callable[[web.Application, Worker], None]


@contextlib.contextmanager
def quiet_kafka_logs() -> Iterator[None]:
    """aiokafka logs each failed connection attempt; at start the caller reports one clear
    line instead."""
    lg = logging.getLogger("aiokafka")
    old = lg.level
    lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        lg.setLevel(old)


def rules_engine_factory(s: Settings) -> EngineFactory:
    """Engines built from the rules file (loaded and validated once, here)."""
    from alerting.engine import Engine
    from alerting.rules.loader import load_rules

    ruleset = load_rules(s.rules_path)

    def make(directory: Directory) -> EngineLike:
        return Engine(ruleset, directory)  # type: ignore[return-value]
    return make


def health_hook(app: web.Application, worker: Worker) -> None:
    """/healthz, /readyz (partitions assigned and restored) and /metrics."""
    from alerting.web.health import add_health_routes

    async def ready() -> bool:
        return worker.ready.is_set()
    add_health_routes(app, metrics_registry=worker.m.registry, ready_check=ready)


async def start_web(s: Settings, worker: Worker, hooks: Sequence[WebHook]
                    ) -> web.AppRunner | None:
    """The worker's aiohttp server; each hook mounts routes on the application."""
    if not s.web_enabled:
        return None
    app = web.Application()
    for hook in hooks:
        hook(app, worker)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, s.web_host, s.web_port)
    await site.start()
    return runner


async def run_worker(s: Settings, engine_factory: EngineFactory | None = None,
                     web_hooks: Sequence[WebHook] = (health_hook,),
                     metrics: Metrics | None = None) -> None:
    """Run until SIGTERM/SIGINT. Raises ``ServiceUnavailable`` / ``ConfigError`` at start."""
    factory = engine_factory or rules_engine_factory(s)
    redis = await connect_redis(s)
    worker: Worker | None = None
    runner = None
    try:
        directory = await load_directory(redis, s.redis_prefix)
        worker = Worker(s, factory, redis, directory, metrics or default_metrics())
        with quiet_kafka_logs():
            await ensure_topics(s)
            await worker.start()
        runner = await start_web(s, worker, web_hooks)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        log.warning("worker started: group %s, %d customers, %d managers", s.group_id,
                    len(directory.customers), len(directory.managers))
        await worker.run(stop)
    finally:
        if worker is not None:
            await worker.stop()
        if runner is not None:
            await runner.cleanup()
        await redis.aclose()
