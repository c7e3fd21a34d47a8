"""Worker start-up and shutdown time per runner (a script, not a test).

For ``ALERTING_RUNNER=faust`` and ``=asyncio`` (the baseline), in the same run on a fresh local
Tansu broker: spawn ``alerting worker`` and measure the wall time until ``/readyz`` answers 200
(partitions assigned and restored, Redis reachable), then from SIGTERM to the process exit.

Run:  .venv/bin/python bench/worker_startup.py [--rounds 3]
Needs the machine's Redis at 127.0.0.1:6379 (keys under bench:<uuid>:, deleted at the end).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from alerting.settings import Settings  # noqa: E402
from alerting.streams.topics import ensure_topics  # noqa: E402
from bench.kafka import bench_env  # noqa: E402
from tests.streams.broker import free_port  # noqa: E402

RULES = ROOT / "alerting" / "data" / "rules.yaml"


async def one_round(s: Settings) -> tuple[float, float]:
    """(spawn → ready seconds, SIGTERM → exit seconds)."""
    port = free_port()
    env = {**os.environ, **s.model_copy(update={"web_port": port}).environment()}
    exe = str(Path(sys.executable).parent / "alerting")
    t0 = time.perf_counter()
    proc = subprocess.Popen([exe, "worker"], env=env, stdout=subprocess.DEVNULL)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"worker exited with {proc.returncode}")
                try:
                    if (await c.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.02)  # polling a condition
        ready = time.perf_counter() - t0
    finally:
        t1 = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    if code != 0:
        raise RuntimeError(f"worker exited with {code} after SIGTERM")
    return ready, time.perf_counter() - t1


async def main(a: argparse.Namespace) -> None:
    async with bench_env() as env:
        for runner in ("faust", "asyncio"):
            s = Settings(kafka_bootstrap=env.broker.bootstrap, redis_prefix=env.prefix,
                         group_id=f"start-{runner}", rules_path=RULES, runner=runner,  # type: ignore[call-arg]
                         web_enabled=True, partitions=8)
            await ensure_topics(s)
            rounds = [await one_round(s) for _ in range(a.rounds)]
            ready = [x for x, _ in rounds]
            stop = [y for _, y in rounds]
            print(f"{runner:8s} spawn → ready: median {statistics.median(ready):.2f}s "
                  f"(min {min(ready):.2f}, max {max(ready):.2f}); SIGTERM → exit: median "
                  f"{statistics.median(stop):.2f}s (max {max(stop):.2f})")

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(ap.parse_args()))
