"""``alerting run --metrics-port``: the embedded run serves Prometheus metrics while it reads
standard input, and the counts match what it did."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson

TX = {"type": "transaction", "customer_id": "c1", "account_id": "a1", "kind": "withdrawal",
      "amount": "900000.00", "channel": "counter"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _scrape(port: int, deadline: float) -> str:
    while True:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).text
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)  # polling a server that is starting, with a deadline


def _wait_for(port: int, deadline: float, name: str, **labels: str) -> str:
    text = _scrape(port, deadline)
    while _value(text, name, **labels) < 1:
        assert time.monotonic() < deadline, text[-2000:]
        time.sleep(0.05)  # polling a live endpoint, with a deadline
        text = _scrape(port, deadline)
    return text


def _value(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_port_counts_events_tasks_and_dead_letters(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "alerting.cli", "run", "--rules", str(root / "rules.yaml"),
         "--events", "-", "--quiet", "--metrics-port", str(port),
         "--dead-letter", str(tmp_path / "bad.jsonl")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        cwd=tmp_path, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdin is not None
    lines = [orjson.dumps({**TX, "event_id": f"e{i}", "ts": f"2025-01-0{i + 1}T10:00:00+08:00"})
             for i in range(3)]
    proc.stdin.write(b"\n".join(lines) + b"\n{not json\n")
    proc.stdin.flush()
    deadline = time.monotonic() + 30
    # the task for the first large withdrawal and the bad line's dead letter are visible while
    # stdin is still open
    text = _wait_for(port, deadline, "alerting_tasks_created_total", rule="large-withdrawal")
    text = _wait_for(port, deadline, "alerting_dead_letters_total", reason="bad_json")
    assert _value(text, "alerting_dead_letters_total", reason="bad_json") == 1
    proc.stdin.close()
    proc.wait(timeout=30)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    out = proc.stdout.read().decode() if proc.stdout else ""
    assert re.search(r"dead-lettered 1", out), out


def test_engine_counters_are_published_during_the_run() -> None:
    """Cooldown suppressions reach the registry every STEP lines, not only at the end."""
    from prometheus_client import CollectorRegistry

    from alerting.backtest import build_engine
    from alerting.cli.run_metrics import STEP, RunMetrics
    from alerting.directory import Directory
    from alerting.metrics import Metrics
    from alerting.models import parse_event

    root = Path(__file__).resolve().parents[2]
    engine = build_engine(root / "rules.yaml", Directory())
    live = RunMetrics(Metrics(CollectorRegistry()), None, engine)
    # two large withdrawals an hour apart: the second falls inside the rule's cooldown
    for i, hour in enumerate((10, 11)):
        engine.process(parse_event({**TX, "event_id": f"e{i}",
                                    "ts": f"2025-01-01T{hour}:00:00+08:00"}))
    assert engine.stats.suppressed.get("large-withdrawal") == 1
    lines = ((n, b"{}") for n in range(STEP))
    for _ in live.count_lines(lines):
        pass
    sample = live.m.registry.get_sample_value(
        "alerting_suppressed_total", {"rule": "large-withdrawal", "reason": "cooldown"})
    assert sample == 1
    assert live.m.registry.get_sample_value(
        "alerting_events_total", {"topic": "file", "outcome": "ok"}) == STEP
