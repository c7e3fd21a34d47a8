"""``alerting run`` end to end: bundled defaults, files, stdin (streaming), dead letters."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from alerting.cli import app
from alerting.tasks import Task

runner = CliRunner()


def _bad_lines() -> list[tuple[bytes, str]]:
    tx = {"event_id": "bad", "type": "transaction", "customer_id": "C000001", "account_id": "A",
          "ts": "2025-02-01T10:00:00+08:00", "kind": "withdrawal", "amount": "10.00"}
    return [
        (b'{"event_id": "x", "type": ', "bad_json"),
        (orjson.dumps({**tx, "customer_id": ""}), "missing_customer_id"),
        (orjson.dumps({**tx, "amount": "0"}), "bad_amount"),
        (orjson.dumps({**tx, "amount": "-Infinity"}), "bad_amount"),
        (orjson.dumps({**tx, "kind": "lottery"}), "bad_kind"),
        (orjson.dumps({**tx, "ts": "yesterday"}), "bad_ts"),
    ]


def _with_bad_lines(bank: Path, dst: Path) -> dict[int, str]:
    """Copy the bank's events uncompressed, inserting bad lines; return {line: reason}."""
    lines = gzip.decompress((bank / "events.jsonl.gz").read_bytes()).splitlines()
    out: list[bytes] = []
    expected: dict[int, str] = {}
    bad = _bad_lines()
    step = len(lines) // (len(bad) + 1)
    for i, line in enumerate(lines):
        out.append(line)
        if i and i % step == 0 and bad:
            raw, reason = bad.pop(0)
            out.append(raw)
            expected[len(out)] = reason
    dst.write_bytes(b"\n".join(out) + b"\n")
    return expected


def test_run_defaults_to_the_bundled_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            ) -> None:
    monkeypatch.chdir(tmp_path)  # no rules.yaml here: the packaged copy is used
    res = runner.invoke(app, ["run", "--quiet"])
    assert res.exit_code == 0, res.output
    bundled = Path(__file__).parents[2] / "alerting" / "data" / "events.jsonl.gz"
    n = len(gzip.decompress(bundled.read_bytes()).splitlines())
    assert n > 10_000 and f"events read {n}  processed {n}" in res.output
    assert "dead-lettered 0" in res.output
    for rule in ("dormant-90d", "dormant-wakes-up", "complaint-sla", "large-withdrawal",
                 "atm-burst", "assets-leaving-7d", "repeated-complaints",
                 "complaint-then-transfer-out", "withdrawal-vs-baseline"):
        assert rule in res.output  # every rule kind fires on the bundled sample


def test_run_prints_tasks_and_dead_letters_bad_lines(tmp_path: Path, bank: Path,
                                                      rules_small: Path) -> None:
    events = tmp_path / "events.jsonl"
    expected = _with_bad_lines(bank, events)
    out = tmp_path / "out" / "tasks.jsonl"
    res = runner.invoke(app, ["run", "--rules", str(rules_small), "--events", str(events),
                              "--customers", str(bank / "customers.csv"),
                              "--managers", str(bank / "managers.csv"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    dead = [orjson.loads(x) for x in (out.parent / "dead-letter.jsonl").read_bytes().splitlines()]
    assert {d["line"]: d["reason"] for d in dead} == expected
    raw_by_line = events.read_bytes().splitlines()
    assert all(d["raw"].encode() == raw_by_line[d["line"] - 1] for d in dead)
    tasks = [Task.from_json(x) for x in out.read_bytes().splitlines()]
    assert {t.rule_id for t in tasks} >= {"large-withdrawal", "dormant-60d", "complaint-sla"}
    first = next(t for t in tasks if t.rule_id == "large-withdrawal")
    assert first.title in res.output and first.customer_id in res.output
    assert "dead-lettered 6" in res.output
    for reason in ("bad_json", "bad_amount 2", "bad_kind", "bad_ts", "missing_customer_id"):
        assert reason in res.output
    good = len(raw_by_line) - len(expected)
    assert f"events read {len(raw_by_line)}  processed {good}" in res.output


def test_run_reads_stdin(bank: Path, rules_small: Path) -> None:
    data = gzip.decompress((bank / "events.jsonl.gz").read_bytes())
    res = runner.invoke(app, ["run", "--rules", str(rules_small), "--events", "-", "--quiet",
                              "--customers", str(bank / "customers.csv")], input=data)
    assert res.exit_code == 0, res.output
    n = len(data.splitlines())
    assert f"events read {n}" in res.output


def test_run_streams_tasks_as_events_arrive(rules_small: Path, tmp_path: Path) -> None:
    """The task for the first event is printed before stdin is closed."""
    env = {**os.environ, "COLUMNS": "200"}
    p = subprocess.Popen([sys.executable, "-c", "from alerting.cli import main; main()", "run",
                          "--rules",
                          str(rules_small), "--events", "-"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    assert p.stdin is not None and p.stdout is not None
    ev = {"event_id": "s1", "type": "transaction", "customer_id": "C9", "account_id": "A9",
          "ts": "2025-03-01T10:00:00+08:00", "kind": "withdrawal", "amount": "50000.00"}
    p.stdin.write(orjson.dumps(ev) + b"\n")
    p.stdin.flush()
    first = p.stdout.readline()  # blocks until the engine has printed the task
    assert b"large-withdrawal" in first and b"C9" in first
    p.stdin.close()
    rest = p.stdout.read()
    assert p.wait(timeout=60) == 0
    assert b"events read 1" in rest


def test_run_bad_rules_file_is_a_clean_error(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("version: 1\nrules:\n  - id: x\n    kind: nonsense\n", encoding="utf-8")
    res = runner.invoke(app, ["run", "--rules", str(bad), "--events", str(bad)])
    assert res.exit_code == 1
    assert "Traceback" not in res.output


def test_run_missing_events_file(tmp_path: Path, rules_small: Path) -> None:
    res = runner.invoke(app, ["run", "--rules", str(rules_small), "--events",
                              str(tmp_path / "nope.jsonl")])
    assert res.exit_code == 1 and "cannot open events file" in res.output


@pytest.mark.integration
def test_run_serve_shows_the_tasks_on_the_api(tmp_path: Path, bank: Path,
                                              rules_small: Path) -> None:
    """``run --serve 0`` serves the run's tasks over a real HTTP socket; a manager's token
    lists their tasks; the server stops when we terminate the process we started."""
    import time

    import httpx
    from pydantic import SecretStr

    from alerting.web.auth import issue_token

    secret = "test-secret-" + "x" * 20
    env = {**os.environ, "ALERTING_API_SECRET": secret, "COLUMNS": "300"}
    out = tmp_path / "tasks.jsonl"
    p = subprocess.Popen([sys.executable, "-c", "from alerting.cli import main; main()", "run",
                          "--rules", str(rules_small), "--events", str(bank / "events.jsonl.gz"),
                          "--customers", str(bank / "customers.csv"), "--managers",
                          str(bank / "managers.csv"), "--quiet", "--out", str(out),
                          "--serve", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=env, cwd=tmp_path)
    try:
        assert p.stdout is not None
        url = None
        deadline = time.monotonic() + 120
        while url is None and time.monotonic() < deadline:
            line = p.stdout.readline().decode()
            assert line, "run --serve exited early"
            if line.startswith("serving "):
                url = line.split()[3].removesuffix("/login")
        assert url is not None
        tasks = [Task.from_json(x) for x in out.read_bytes().splitlines()]
        who = tasks[0].assignee_id
        assert who is not None
        token = issue_token(SecretStr(secret), who, now=time.time())
        r = httpx.get(f"{url}/api/tasks", headers={"Authorization": f"Bearer {token}"},
                      timeout=30)
        assert r.status_code == 200, r.text
        body = r.json()
        listed = body["tasks"] if isinstance(body, dict) else body
        assert tasks[0].task_id in {t["task_id"] for t in listed}
    finally:
        p.terminate()
        p.wait(timeout=30)


def test_run_serve_without_secret_fails_before_reading(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALERTING_API_SECRET", raising=False)
    res = runner.invoke(app, ["run", "--serve", "0", "--quiet"])
    assert res.exit_code == 1 and "ALERTING_API_SECRET" in res.output
