"""Redis behind Sentinel (how banks run it for high availability): real ``redis-server``
processes started here, a master with a password, a replica and one sentinel. The worker finds
the master through ``ALERTING_REDIS_SENTINELS``, and its client follows a failover to the
promoted replica."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from alerting.redis_client import open_redis
from alerting.settings import Settings

from .broker import free_port
from .conftest import produce_events, wait_for
from .redis_server import run_until_checkpointed, start_redis_server
from .test_cli import DATA, run
from .test_kafka_tls import RULE, withdrawal

pytestmark = pytest.mark.integration
PASSWORD = "sentinel-group-pw"


@dataclass
class Group:
    master: int
    replica: int
    sentinel: int
    procs: dict[str, subprocess.Popen[bytes]]

    @property
    def sentinels(self) -> str:
        return f"127.0.0.1:{self.sentinel}"


@pytest.fixture
def group(tmp_path: Path) -> Iterator[Group]:
    m, r, s = free_port(), free_port(), free_port()
    common = ["--save", "", "--appendonly", "no", "--requirepass", PASSWORD,
              "--masterauth", PASSWORD, "--dir", str(tmp_path)]
    procs = {"master": start_redis_server(["--port", str(m), *common], m),
             "replica": start_redis_server(["--port", str(r), "--replicaof", "127.0.0.1", str(m),
                                *common], r)}
    conf = tmp_path / "sentinel.conf"  # sentinel rewrites its file: one per test
    conf.write_text(f"port {s}\nsentinel monitor mymaster 127.0.0.1 {m} 1\n"
                    f"sentinel auth-pass mymaster {PASSWORD}\n"
                    "sentinel down-after-milliseconds mymaster 1000\n"
                    "sentinel failover-timeout mymaster 5000\n")
    procs["sentinel"] = start_redis_server([str(conf), "--sentinel"], s)
    try:
        yield Group(m, r, s, procs)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.terminate()
                p.wait(10)


async def test_a_worker_finds_the_master_through_sentinel(
        settings: Settings, group: Group, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE, encoding="utf-8")
    s = settings.model_copy(update={
        "redis_url": f"redis://:{PASSWORD}@unused:1/0", "redis_sentinels": group.sentinels,
        "rules_path": rules, "runner": "asyncio", "web_enabled": False})
    await produce_events(s, [withdrawal(1)])
    master = aioredis.Redis(port=group.master, password=PASSWORD)
    try:
        await run_until_checkpointed(s, master, 1)
    finally:
        await master.aclose()


async def test_the_client_follows_a_failover_to_the_promoted_replica(group: Group) -> None:
    master = aioredis.Redis(port=group.master, password=PASSWORD)
    try:
        async def replica_online() -> bool:
            info = await master.info("replication")
            return "online" in str(info.get("slave0", ""))
        await wait_for(replica_online, 30, "the replica in sync with the master")
    finally:
        await master.aclose()
    client = open_redis(f"redis://:{PASSWORD}@unused:1/0", group.sentinels)
    try:
        await client.set("k", "before")
        assert await client.wait(1, 2000) == 1  # the replica has it before the master goes
        group.procs["master"].kill()
        group.procs["master"].wait(10)

        async def promoted() -> bool:
            with_new = aioredis.Redis(port=group.replica, password=PASSWORD)
            try:
                role = await with_new.execute_command("ROLE")
            finally:
                await with_new.aclose()
            return role[0] == b"master"
        await wait_for(promoted, 30, "the sentinel to promote the replica")

        async def answers() -> bool:
            try:
                return await client.get("k") == b"before"
            except (ConnectionError, OSError, aioredis.ConnectionError):
                return False  # the old master's connection: the pool asks the sentinel again
        await wait_for(answers, 30, "the same client on the new master")
        await client.set("k", "after")
    finally:
        await client.aclose()


def test_no_master_behind_the_sentinels_is_one_line(group: Group) -> None:
    p = run(["worker"], {"ALERTING_REDIS_URL": f"redis://:{PASSWORD}@unused:1/0",
                         "ALERTING_REDIS_SENTINELS": group.sentinels,
                         "ALERTING_REDIS_SENTINEL_MASTER": "nosuchgroup",
                         "ALERTING_RULES_PATH": str(DATA / "rules.yaml")})
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == [
        "alerting worker: redis unreachable (master 'nosuchgroup' of sentinels "
        f"{group.sentinels}): MasterNotFoundError"]
    assert PASSWORD not in p.stderr
