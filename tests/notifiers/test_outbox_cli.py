"""``alerting outbox status|dead|requeue`` against the real Redis (unique prefix)."""

from __future__ import annotations

import asyncio
import json
import random
import uuid

import pytest
import redis
import redis.asyncio as aioredis
from typer.testing import CliRunner

from alerting.cli import app
from alerting.errors import PermanentNotifierError
from alerting.notifiers.base import Notification
from alerting.notifiers.outbox import Outbox
from alerting.notifiers.outbox_store import OUTBOX_KEYSPACE, RedisOutboxStore

pytestmark = pytest.mark.integration


class Refusing:
    name = "branch-a.webhook"

    async def send(self, n: Notification) -> None:
        raise PermanentNotifierError("HTTP 404")

    async def aclose(self) -> None:
        pass


async def _fill(prefix: str, notifications: list[Notification], metrics) -> None:
    client = aioredis.Redis(host="127.0.0.1", port=6379)
    store = RedisOutboxStore(client, prefix + OUTBOX_KEYSPACE)
    outbox = Outbox({"branch-a": [Refusing()]}, store, metrics=metrics, rng=random.Random(1))
    for n in notifications:
        await outbox.enqueue(n)
    await outbox.run_once(1_800_000_000.0)
    await client.aclose()


def test_status_dead_and_requeue(make_notification, metrics):
    prefix = f"test:{uuid.uuid4().hex}:"
    sync = redis.Redis(host="127.0.0.1", port=6379)
    try:
        ns = [make_notification() for _ in range(2)]
        asyncio.run(_fill(prefix, ns, metrics))
        runner = CliRunner()
        common = ["--redis-url", "redis://127.0.0.1:6379/0", "--prefix", prefix]
        out = runner.invoke(app, ["outbox", "dead", "--json", *common])
        assert out.exit_code == 0, out.output
        records = json.loads(out.output)
        assert {r["notification_id"] for r in records} == {n.notification_id for n in ns}
        assert {r["reason"] for r in records} == {"HTTP 404"}
        assert "王经理" not in out.output and "200000.00" not in out.output  # no message text
        out = runner.invoke(app, ["outbox", "requeue", *common])
        assert out.exit_code == 0 and "requeued 2" in out.output
        out = runner.invoke(app, ["outbox", "status", "--json", *common])
        assert json.loads(out.output) == {"waiting": {"branch-a.webhook": 2}, "dead_letters": 0}
        bad = runner.invoke(app, ["outbox", "status", "--redis-url", "redis://127.0.0.1:1/0"])
        assert bad.exit_code == 4
    finally:
        keys = list(sync.scan_iter(match=prefix + "*"))
        if keys:
            sync.delete(*keys)
        sync.close()
