"""The outbox, on both stores (in-memory and the real Redis), with real notifiers against a real
local HTTP server. Time is driven through ``run_once(now)``: no waiting for backoffs."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter

from alerting.errors import PermanentNotifierError, RetryableNotifierError, ServiceUnavailable
from alerting.notifiers.base import Notification, RetryPolicy
from alerting.notifiers.config import NotifierConfig
from alerting.notifiers.outbox import Outbox
from alerting.notifiers.outbox_store import MemoryOutboxStore, RedisOutboxStore
from alerting.notifiers.registry import NotifierDeps, build_notifier
from alerting.notifiers.webhook import verify_signature

pytestmark = pytest.mark.integration
CFG: TypeAdapter[NotifierConfig] = TypeAdapter(NotifierConfig)
SECRET = "outbox-secret"
T0 = 1_800_000_000.0


@pytest.fixture(params=["memory", "redis"])
def make_store(request, redis_client, redis_prefix) -> Callable[[], Any]:
    """Factory of stores; for Redis every call shares the test's prefix (one durable outbox)."""
    if request.param == "memory":
        mem = MemoryOutboxStore()
        return lambda: mem
    return lambda: RedisOutboxStore(redis_client, redis_prefix + "outbox:")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as c:
        yield c


def hook(url: str, client: httpx.AsyncClient, **kw: Any):
    raw = {"type": "webhook", "url": url, "secret": SECRET, "timeout": 5,
           "backoff_initial": 10, "backoff_max": 600, **kw}
    return build_notifier(kw.pop("name", "hook"), CFG.validate_python(raw),
                          NotifierDeps(http=client))


def make_outbox(receivers, store, metrics, **kw: Any) -> Outbox:
    return Outbox(receivers, store, metrics=metrics, clock=lambda: T0, rng=random.Random(7), **kw)


def ids(received) -> list[str]:
    return sorted(r.headers["X-Alerting-Notification-Id"] for r in received)


async def test_flaky_webhook_gets_everything_after_recovery(
        http_server, client, make_store, metrics, sample, make_notification):
    state = {"up": False}

    def respond(rec):
        if not state["up"]:
            return 503, {"error": "down"}, {}
        ok = verify_signature(SECRET.encode(), rec.headers["X-Alerting-Timestamp"],
                              rec.headers["X-Alerting-Signature"], rec.body, now=time.time())
        return (200, {}, {}) if ok else (401, {}, {})

    http_server.responder = respond
    outbox = make_outbox({"branch-a": [hook(http_server.base_url, client)]}, make_store(),
                         metrics)
    ns = [make_notification() for _ in range(5)]
    for n in ns:
        assert await outbox.enqueue(n)
    now = T0
    for _ in range(4):  # down: every attempt fails and is rescheduled
        assert await outbox.run_once(now) == 0
        assert await outbox.run_once(now + 1) == 0  # backoff: nothing due one second later
        now += 700  # past backoff_max
    assert len(http_server.received) == 4 * 5
    assert await outbox.depth() == 5
    assert sample(metrics, "alerting_outbox_depth", notifier="hook") == 5
    state["up"] = True
    http_server.received.clear()
    assert await outbox.run_once(now) == 5
    assert ids(http_server.received) == sorted(n.notification_id for n in ns)
    assert await outbox.run_once(now + 10_000) == 0  # delivered once, not again
    assert await outbox.depth() == 0 and await outbox.dead_letters() == []
    assert sample(metrics, "alerting_notifications_total", notifier="hook", result="retry") == 20
    assert sample(metrics, "alerting_notifications_total", notifier="hook", result="ok") == 5
    assert sample(metrics, "alerting_notifier_failures_total", notifier="hook",
                  kind="retryable") == 20
    assert sample(metrics, "alerting_outbox_depth", notifier="hook") == 0


async def test_4xx_is_not_retried_and_dead_lettered_with_reason(
        http_server, client, make_store, metrics, sample, make_notification):
    http_server.responder = lambda rec: (400, {"error": "bad"}, {})
    outbox = make_outbox({"branch-a": [hook(http_server.base_url, client)]}, make_store(),
                         metrics)
    n = make_notification()
    await outbox.enqueue(n)
    assert await outbox.run_once(T0) == 0
    assert await outbox.run_once(T0 + 100_000) == 0
    assert len(http_server.received) == 1
    [dead] = await outbox.dead_letters()
    assert dead["reason"] == "HTTP 400" and dead["notifier"] == "hook"
    assert dead["attempts"] == 1
    assert Notification.from_dict(dead["notification"]) == n
    assert await outbox.depth() == 0
    assert sample(metrics, "alerting_notification_dead_letters_total", notifier="hook") == 1
    assert sample(metrics, "alerting_notifier_failures_total", notifier="hook",
                  kind="permanent") == 1


async def test_retries_exhausted_go_to_dead_letter(http_server, client, make_store, metrics,
                                                   make_notification):
    http_server.responder = lambda rec: (502, None, {})
    outbox = make_outbox({"branch-a": [hook(http_server.base_url, client, max_retries=2)]},
                         make_store(), metrics)
    await outbox.enqueue(make_notification())
    for i in range(5):
        await outbox.run_once(T0 + i * 1000)
    assert len(http_server.received) == 3  # first attempt + 2 retries
    [dead] = await outbox.dead_letters()
    assert dead["reason"] == "retries exhausted: HTTP 502" and dead["attempts"] == 3


async def test_retry_after_is_honoured(http_server, client, make_store, metrics,
                                       make_notification):
    answers = iter([(429, None, {"Retry-After": "120"})])
    http_server.responder = lambda rec: next(answers, (200, {}, {}))
    outbox = make_outbox({"branch-a": [hook(http_server.base_url, client, backoff_initial=1)]},
                         make_store(), metrics)
    await outbox.enqueue(make_notification())
    assert await outbox.run_once(T0) == 0
    assert await outbox.run_once(T0 + 60) == 0  # backoff alone (≤ 1 s) would be due
    assert len(http_server.received) == 1
    assert await outbox.run_once(T0 + 121) == 1


async def test_duplicate_notification_id_is_sent_once(http_server, client, make_store, metrics,
                                                      make_notification):
    outbox = make_outbox({"branch-a": [hook(http_server.base_url, client)]}, make_store(),
                         metrics)
    n = make_notification()
    assert await outbox.enqueue(n) is True
    assert await outbox.enqueue(n) is False
    await outbox.run_once(T0)
    assert await outbox.enqueue(n) is False  # also after delivery
    await outbox.run_once(T0 + 1)
    assert len(http_server.received) == 1
    assert outbox.stats["duplicates"] == 2


class Recorder:
    """A notifier double for outbox behaviour (our own Protocol, no external service):
    records what it sent and how many sends overlapped."""

    def __init__(self, name: str, fail: Exception | None = None, concurrency: int = 4) -> None:
        self.name, self.fail, self.concurrency = name, fail, concurrency
        self.retry = RetryPolicy(max_retries=3, initial=10, maximum=60)
        self.sent: list[str] = []
        self.inflight = self.max_inflight = 0

    async def send(self, n: Notification) -> None:
        self.inflight += 1
        self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            for _ in range(3):  # yield to the loop so that unbounded sends would overlap
                await asyncio.sleep(0)
            if self.fail is not None:
                raise self.fail
            self.sent.append(n.notification_id)
        finally:
            self.inflight -= 1

    async def aclose(self) -> None:
        pass


async def test_failing_notifier_does_not_block_the_others(make_store, metrics,
                                                          make_notification):
    bad = Recorder("bad", RetryableNotifierError("HTTP 503"))
    good = Recorder("good")
    outbox = make_outbox({"branch-a": [bad, good]}, make_store(), metrics)
    ns = [make_notification() for _ in range(4)]
    for n in ns:
        await outbox.enqueue(n)
    assert await outbox.run_once(T0) == 4
    assert sorted(good.sent) == sorted(n.notification_id for n in ns)
    assert await outbox.depth() == 4  # the bad notifier's items wait for their retry


async def test_concurrency_is_bounded_per_notifier(make_store, metrics, make_notification):
    slow = Recorder("slow", concurrency=2)
    outbox = make_outbox({"branch-a": [slow]}, make_store(), metrics)
    for _ in range(10):
        await outbox.enqueue(make_notification())
    assert await outbox.run_once(T0) == 10
    assert slow.max_inflight == 2
    unbounded = Recorder("wide", concurrency=100)
    outbox2 = make_outbox({"branch-b": [unbounded]}, MemoryOutboxStore(), metrics)
    for _ in range(10):
        await outbox2.enqueue(make_notification(receiver="branch-b"))
    await outbox2.run_once(T0)
    assert unbounded.max_inflight == 10  # the double does overlap when allowed to


async def test_unknown_receiver_and_unexpected_errors_lose_nothing(make_store, metrics,
                                                                   make_notification):
    buggy = Recorder("buggy", KeyError("bug"))
    outbox = make_outbox({"branch-a": [buggy]}, make_store(), metrics)
    assert await outbox.enqueue(make_notification(receiver="nobody"))
    [dead] = await outbox.dead_letters()
    assert dead["reason"] == "receiver has no notifiers"
    await outbox.enqueue(make_notification())
    assert await outbox.run_once(T0) == 0  # a notifier bug is retried, not fatal
    assert await outbox.depth() == 1
    buggy.fail = PermanentNotifierError("nope")
    await outbox.run_once(T0 + 100)
    assert [d["reason"] for d in await outbox.dead_letters()] == ["nope",
                                                                 "receiver has no notifiers"]


async def test_restart_and_removed_notifier(make_store, metrics, make_notification, caplog):
    first = Recorder("a", RetryableNotifierError("down"))
    store = make_store()
    await make_outbox({"branch-a": [first]}, store, metrics).enqueue(make_notification())
    await make_outbox({"branch-a": [first]}, store, metrics).run_once(T0)
    again = Recorder("a")  # a new process: same store, notifier recovered
    assert await make_outbox({"branch-a": [again]}, make_store(), metrics).run_once(T0) == 0
    assert await make_outbox({"branch-a": [again]}, make_store(), metrics).run_once(T0 + 60) == 1
    assert len(again.sent) == 1
    # a worker whose config lacks notifier "a" leaves its items queued (and says so)
    await make_outbox({"branch-a": [again]}, store, metrics).enqueue(make_notification())
    other = make_outbox({"branch-a": [Recorder("b")]}, make_store(), metrics)
    assert await other.run_once(T0 + 100) == 0
    assert await other.depth() == 1 and await other.dead_letters() == []
    assert "not configured here: a" in caplog.text
    assert await make_outbox({"branch-a": [again]}, make_store(), metrics).run_once(T0 + 100) == 1


class Gate:
    """A notifier double that blocks until released (a receiver hanging until its timeout)."""

    def __init__(self, name: str) -> None:
        self.name, self.concurrency = name, 4
        self.release = asyncio.Event()
        self.started = 0

    async def send(self, n: Notification) -> None:
        self.started += 1
        await self.release.wait()

    async def aclose(self) -> None:
        pass


async def wait_for(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)  # polling a condition with a deadline


async def test_a_hanging_notifier_does_not_delay_the_others(make_store, metrics,
                                                            make_notification):
    slow, fast = Gate("slow"), Recorder("fast")
    outbox = Outbox({"branch-a": [slow, fast]}, make_store(), metrics=metrics)
    stop = asyncio.Event()
    task = asyncio.create_task(outbox.run(stop, interval=0.01))
    await outbox.enqueue(make_notification())
    await wait_for(lambda: len(fast.sent) == 1 and slow.started == 1)
    await outbox.enqueue(make_notification())  # slow is still stuck on the first one
    await wait_for(lambda: len(fast.sent) == 2)
    assert slow.started == 1
    slow.release.set()
    await wait_for(lambda: slow.started == 2)
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_claimed_item_of_a_dead_worker_comes_back_after_the_lease(
        make_store, metrics, make_notification):
    rec = Recorder("r")
    store = make_store()
    outbox = make_outbox({"branch-a": [rec]}, store, metrics, lease=30)
    await outbox.enqueue(make_notification())
    assert len(await store.claim("r", T0, 10, 30)) == 1  # a worker claims it and dies
    assert await outbox.run_once(T0 + 10) == 0
    assert await outbox.run_once(T0 + 31) == 1


async def test_two_workers_on_redis_never_double_send(redis_client, redis_prefix, metrics,
                                                      make_notification):
    rec = Recorder("r", concurrency=50)
    workers = [make_outbox({"branch-a": [rec]}, RedisOutboxStore(redis_client, redis_prefix),
                           metrics, batch=7) for _ in range(3)]
    for _ in range(60):
        await workers[0].enqueue(make_notification())
    sent = await asyncio.gather(*(w.run_once(T0) for w in workers))
    assert sum(sent) == 60
    assert len(rec.sent) == len(set(rec.sent)) == 60


async def test_run_loop_delivers_until_stopped(make_notification, metrics):
    rec = Recorder("r")
    outbox = Outbox({"branch-a": [rec]}, metrics=metrics)
    stop = asyncio.Event()
    task = asyncio.create_task(outbox.run(stop, interval=0.01))
    await outbox.enqueue(make_notification())
    await wait_for(lambda: len(rec.sent) == 1)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert len(rec.sent) == 1


async def test_store_outage_does_not_raise(make_notification, metrics, free_port):
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    # no client-side reconnect retries: the outage must show at once
    broken = aioredis.Redis(host="127.0.0.1", port=free_port(), retry=Retry(NoBackoff(), 0))
    outbox = make_outbox({"branch-a": [Recorder("r")]}, RedisOutboxStore(broken, "x:"), metrics)
    assert await outbox.run_once(T0) == 0
    assert outbox.stats["store_errors"] >= 1
    with pytest.raises(ServiceUnavailable, match="outbox store"):
        await outbox.enqueue(make_notification())
    await broken.aclose()


async def test_requeue_dead_letters_after_a_fix(make_store, metrics, make_notification):
    rec = Recorder("r", PermanentNotifierError("HTTP 404"))
    store = make_store()
    outbox = make_outbox({"branch-a": [rec]}, store, metrics)
    ns = [make_notification() for _ in range(3)]
    for n in ns:
        await outbox.enqueue(n)
    await outbox.enqueue(make_notification(receiver="nobody"))
    await outbox.run_once(T0)
    assert len(await outbox.dead_letters()) == 4
    rec.fail = None  # the receiver's URL was fixed
    assert await outbox.requeue_dead(limit=10, now=T0 + 5) == 3
    [left] = await outbox.dead_letters()
    assert left["reason"] == "receiver has no notifiers"
    assert await outbox.run_once(T0 + 5) == 3
    assert sorted(rec.sent) == sorted(n.notification_id for n in ns)
    # after a config change the unrouted one finds a notifier of its receiver
    moved = make_outbox({"nobody": [Recorder("new")]}, store, metrics)
    assert await moved.requeue_dead(now=T0 + 6) == 1
    assert await moved.run_once(T0 + 6) == 1
    assert await moved.dead_letters() == [] and await moved.depth() == 0


async def test_big_batches_fit_a_small_redis_connection_pool(redis_prefix, metrics,
                                                             make_notification):
    client = aioredis_small_pool()
    flaky = Recorder("r", RetryableNotifierError("HTTP 503"), concurrency=200)
    outbox = make_outbox({"branch-a": [flaky]}, RedisOutboxStore(client, redis_prefix),
                         metrics, batch=300)
    for _ in range(300):
        await outbox.enqueue(make_notification())
    assert await outbox.run_once(T0) == 0
    assert outbox.stats["store_errors"] == 0 and outbox.stats["retried"] == 300
    flaky.fail = None
    assert await outbox.run_once(T0 + 10_000) == 300
    assert outbox.stats["store_errors"] == 0 and await outbox.depth() == 0
    await client.aclose()


def aioredis_small_pool():
    import redis.asyncio as aioredis

    return aioredis.Redis(host="127.0.0.1", port=6379, max_connections=10)


async def test_a_send_that_hangs_is_cut_off_and_retried(make_store, metrics, make_notification):
    stuck = Gate("stuck")
    outbox = make_outbox({"branch-a": [stuck]}, make_store(), metrics, send_timeout=0.05)
    await outbox.enqueue(make_notification())
    assert await outbox.run_once(T0) == 0
    assert outbox.stats["retried"] == 1 and await outbox.depth() == 1
    stuck.release.set()
    assert await outbox.run_once(T0 + 1000) == 1


class Closable(Recorder):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True


async def test_swapped_receivers_take_over_a_running_outbox(make_store, metrics,
                                                            make_notification, caplog):
    """A routing reload while ``run`` delivers: a new notifier gets its own loop, the items of
    a removed one stay queued (not dead-lettered), and the replaced ones are closed at the
    end."""
    old_a, b = Closable("a"), Closable("b")
    outbox = make_outbox({"branch-a": [old_a]}, make_store(), metrics)
    stop = asyncio.Event()
    task = asyncio.create_task(outbox.run(stop, interval=0.01))
    await outbox.enqueue(make_notification())
    await wait_for(lambda: len(old_a.sent) == 1)
    new_a = Closable("a")
    outbox.swap_receivers({"branch-a": [new_a], "branch-b": [b]})
    await outbox.enqueue(make_notification())
    await outbox.enqueue(make_notification(receiver="branch-b"))
    await wait_for(lambda: len(new_a.sent) == 1 and len(b.sent) == 1)
    assert len(old_a.sent) == 1  # the replaced notifier sends no more
    new_a.fail = RetryableNotifierError("HTTP 503")
    await outbox.enqueue(make_notification())
    await wait_for(lambda: outbox.stats["retried"] == 1)  # queued again for a later retry
    outbox.swap_receivers({"branch-b": [b]})  # "a" removed: its item waits for a config
    await outbox.enqueue(make_notification(receiver="branch-b"))
    await wait_for(lambda: len(b.sent) == 2)
    assert await outbox.depth() == 1 and await outbox.dead_letters() == []
    stop.set()
    await asyncio.wait_for(task, 5)
    await outbox.aclose()
    assert old_a.closed and new_a.closed and b.closed
