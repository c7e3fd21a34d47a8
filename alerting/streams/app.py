"""Running a worker process: connect Redis and Kafka (one clear error if either is missing),
create the topics, load the directory, build one engine per partition from the rules file, serve
health/metrics (and whatever the web hooks mount) on the web port, stop cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from aiohttp import web

from alerting.directory import Directory
from alerting.errors import ServiceUnavailable, StateError, WorkerStopped
from alerting.metrics import Metrics, default_metrics
from alerting.models import decoder_text
from alerting.ops import LiveRules
from alerting.reload import RulesReloader
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


def rules_engine_factory(s: Settings, ruleset: Any = None) -> EngineFactory:
    """Engines built from the rules file (loaded and validated once, here)."""
    from alerting.engine import Engine
    from alerting.rules.loader import load_rules

    rules = ruleset if ruleset is not None else load_rules(s.rules_path)

    def make(directory: Directory) -> EngineLike:
        return Engine(rules, directory)  # type: ignore[return-value]
    return make


def health_hook(app: web.Application, worker: Worker) -> None:
    """/healthz, /readyz (partitions assigned and restored, and Redis answering), /metrics and,
    when the worker hot-reloads its rules, ``POST /-/reload``."""
    from alerting.ops import all_ready, redis_ready
    from alerting.web.health import add_health_routes

    def consuming() -> bool:
        return worker.ready.is_set()
    add_health_routes(app, metrics_registry=worker.m.registry,
                      ready_check=all_ready(consuming, redis_ready(worker.redis)),
                      reloader=worker.reloader)


def task_api_hook(app: web.Application, worker: Worker) -> None:
    """The task API and the managers' inbox pages over the Redis task store (mounted when the
    worker dispatches; needs ``ALERTING_API_SECRET``, else it is skipped with a warning)."""
    from alerting.errors import ConfigError
    from alerting.store.redis import RedisTaskStore
    from alerting.web.app import add_routes, make_services

    store = RedisTaskStore(worker.redis, prefix=worker.s.redis_prefix)  # type: ignore[arg-type]
    try:
        services = make_services(store, worker.directory, metrics=worker.m)
    except ConfigError as e:
        log.warning("task API not mounted: %s", e)
        return
    add_routes(app, services)


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


def tune_gc() -> None:
    """Engine state is long-lived and large: with the default thresholds the collector keeps
    re-walking it and a full pass grows with the state (hundreds of ms on 100k customers).
    Freeze what exists after start and collect the young generation less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def _report_failure(t: asyncio.Task[None]) -> None:
    if not t.cancelled() and t.exception() is not None:
        e = t.exception()
        log.error("dispatcher stopped with %s: %s", type(e).__name__, e)


class Rules:
    """The worker's rules: the live rule set behind the engine factory, and its reloader
    (file watch, SIGHUP, ``POST /-/reload``) when the engines come from the rules file."""

    def __init__(self, s: Settings, engine_factory: EngineFactory | None, m: Metrics,
                 lock: asyncio.Lock) -> None:
        self.live = LiveRules(None)
        self.reloader: RulesReloader | None = None
        self.ruleset: Any = None
        if engine_factory is None:
            self.reloader = RulesReloader(s.rules_path, self.live.apply, m, lock=lock)
            # a bad file at start raises RulesError: one line, exit 2 (worker_cmd)
            self.ruleset = self.live.ruleset = self.reloader.load_initial()
            self.factory: EngineFactory = self.live.factory
        else:
            self.factory = engine_factory
            if s.dispatch:
                from alerting.rules.loader import load_rules

                self.ruleset = load_rules(s.rules_path)

    def bind(self, worker: Worker) -> None:
        """Swaps reach the engines of the partitions the worker owns at that moment."""
        self.live.bind(lambda: [sh.engine for sh in worker.shards.values()])
        worker.reloader = self.reloader


async def run_worker(s: Settings, engine_factory: EngineFactory | None = None,
                     web_hooks: Sequence[WebHook] = (health_hook,),
                     metrics: Metrics | None = None, stop: asyncio.Event | None = None
                     ) -> None:
    """Run until SIGTERM/SIGINT (or ``stop`` is set). Raises ``ServiceUnavailable`` /
    ``ConfigError`` / ``RulesError`` at start, ``WorkerStopped`` when the running loop stops on
    a failed write.

    ``web_hooks`` mount routes on the worker's aiohttp application (``hook(app, worker)``).
    With the default ``engine_factory`` the rules file is hot-reloaded (``Rules``)."""
    m = metrics or default_metrics()
    lock = asyncio.Lock()
    rules = Rules(s, engine_factory, m, lock)
    redis = await connect_redis(s)
    worker: Worker | None = None
    runner = None
    side: list[asyncio.Task[None]] = []
    stop = stop or asyncio.Event()
    try:
        directory = await load_directory(redis, s.redis_prefix)
        worker = Worker(s, rules.factory, redis, directory, m, lock=lock)
        rules.bind(worker)
        with quiet_kafka_logs():
            await ensure_topics(s)
            await worker.start()
        hooks = [*web_hooks, task_api_hook] if s.dispatch else list(web_hooks)
        runner = await start_web(s, worker, hooks)
        tune_gc()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if rules.reloader is not None:
            rules.reloader.start(s.rules_watch_interval_s)  # file watch + SIGHUP
        if s.dispatch:
            side.append(start_dispatch(s, rules, directory, redis, stop, m))
        log.warning("worker started: group %s, %d customers, %d managers, %s", s.group_id,
                    len(directory.customers), len(directory.managers), decoder_text(s.decoder))
        try:
            await worker.run(stop)
        except (ServiceUnavailable, StateError) as e:
            # after the start, unreachable is no longer a setup problem (exit 2) but a crash
            raise WorkerStopped(f"stopped: {e}") from None
    finally:
        stop.set()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().remove_signal_handler(sig)
        if rules.reloader is not None:
            await rules.reloader.stop()
        for t in side:
            with contextlib.suppress(Exception):  # already reported by _report_failure
                await t
        if worker is not None:
            await worker.stop()
        if runner is not None:
            await runner.cleanup()
        await redis.aclose()


def start_dispatch(s: Settings, rules: Rules, directory: Directory, redis: Any,
                   stop: asyncio.Event, m: Metrics) -> asyncio.Task[None]:
    """The dispatcher beside the worker; rules reloads reach its routing and calendar."""
    from alerting.streams.dispatch import run_dispatch

    t = asyncio.create_task(run_dispatch(s, rules.ruleset, directory, redis, stop, m,
                                         live=rules.live))
    t.add_done_callback(_report_failure)
    return t
