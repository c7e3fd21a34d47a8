"""Redis Cluster (how many banks run Redis): a real three-node cluster of ``redis-server``
processes, created here with ``redis-cli --cluster create``. With ``ALERTING_REDIS_CLUSTER``
and a hash-tagged key prefix the worker, its checkpoints, the dispatcher's task store and the
``alerting tasks`` command all work on it."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio.cluster import RedisCluster

from alerting.errors import ConfigError
from alerting.settings import Settings, load_settings
from alerting.store.redis import RedisTaskStore

from .broker import free_port
from .conftest import produce_events
from .redis_server import run_until_checkpointed, start_redis_server
from .test_cli import run
from .test_kafka_tls import RULE, withdrawal

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Three masters covering the 16384 slots; yields the URL of one node."""
    cli = shutil.which("redis-cli")
    if cli is None:
        pytest.fail("redis-cli not found (Debian package redis-tools)")
    ports = [free_port() for _ in range(3)]
    procs = []
    try:
        for p in ports:
            d = tmp_path_factory.mktemp(f"node{p}")
            # the bus port defaults to port + 10000, which a free port may overflow (> 65535)
            procs.append(start_redis_server(
                ["--port", str(p), "--cluster-port", str(free_port()),
                 "--cluster-enabled", "yes", "--cluster-config-file",
                 str(d / "nodes.conf"), "--save", "", "--appendonly", "no", "--dir", str(d)],
                p))
        out = subprocess.run([cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
                              "--cluster-replicas", "0", "--cluster-yes"],
                             capture_output=True, text=True, timeout=60)
        assert "All 16384 slots covered" in out.stdout, out.stdout + out.stderr
        yield f"redis://127.0.0.1:{ports[0]}/0"
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)


@pytest.fixture
async def client(cluster: str) -> AsyncIterator[RedisCluster]:
    c = RedisCluster.from_url(cluster)
    await c.ping()  # also waits for the cluster to agree on its slots
    yield c
    await c.aclose()


async def test_a_worker_and_its_dispatcher_on_a_redis_cluster(
        settings: Settings, cluster: str, client: RedisCluster, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE, encoding="utf-8")
    prefix = "{" + settings.redis_prefix.strip(":") + "}:"
    s = settings.model_copy(update={
        "redis_url": cluster, "redis_cluster": True, "redis_prefix": prefix, "dispatch": True,
        "rules_path": rules, "runner": "asyncio", "web_enabled": False})
    await produce_events(s, [withdrawal(1)])
    await run_until_checkpointed(s, client, 1)  # type: ignore[arg-type]
    store = RedisTaskStore(client, prefix=prefix)  # type: ignore[arg-type]
    (task,) = await store.list()
    assert task.customer_id == "C1" and task.rule_id == "big"
    p = run(["tasks", "list", "--json", "--redis-url", cluster, "--prefix", prefix],
            {"ALERTING_REDIS_CLUSTER": "true"})
    assert p.returncode == 0, p.stderr
    assert [t["task_id"] for t in json.loads(p.stdout)] == [task.task_id]


def test_a_cluster_needs_a_hash_tagged_prefix() -> None:
    with pytest.raises(ConfigError, match="ALERTING_REDIS_PREFIX needs a hash tag"):
        load_settings(redis_cluster=True, redis_prefix="alerting:")
    with pytest.raises(ConfigError, match="exclude each other"):
        load_settings(redis_cluster=True, redis_prefix="{a}:", redis_sentinels="h:26379")
    assert load_settings(redis_cluster=True, redis_prefix="{alerting}:").redis_cluster
