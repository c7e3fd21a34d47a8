"""Event file reading, dead-lettering and directory loading (alerting.io)."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from alerting.errors import BadEvent, ConfigError
from alerting.io import (
    DeadLetter,
    DeadLetterWriter,
    EventSource,
    decode_line,
    load_customers,
    load_directory,
    load_managers,
    read_events,
)
from alerting.models import Complaint, Transaction


def _tx(**kw: object) -> dict[str, object]:
    d: dict[str, object] = {"event_id": "e1", "type": "transaction", "customer_id": "C1",
                            "account_id": "A1", "ts": "2025-01-02T10:00:00+08:00",
                            "kind": "withdrawal", "amount": "200000.00", "channel": "counter"}
    d.update(kw)
    return d


BAD_LINES = [
    (b'{"event_id": "x", "type": "transaction"', "bad_json"),
    (orjson.dumps(_tx(customer_id=None)), "missing_customer_id"),
    (orjson.dumps(_tx(amount="0")), "bad_amount"),
    (orjson.dumps(_tx(amount="-5")), "bad_amount"),
    (b'{"event_id":"e1","type":"transaction","customer_id":"C1","ts":"2025-01-02T10:00:00+08:00",'
     b'"kind":"withdrawal","amount":"NaN"}', "bad_amount"),
    (orjson.dumps(_tx(amount="Infinity")), "bad_amount"),
    (orjson.dumps(_tx(kind="teleport")), "bad_kind"),
    (orjson.dumps(_tx(ts="2025-13-40T10:00:00+08:00")), "bad_ts"),
    (orjson.dumps(_tx(ts="2025-01-02T10:00:00")), "bad_ts"),
    (orjson.dumps(_tx(type="gossip")), "bad_type"),
    (b"[1, 2, 3]", "not_an_object"),
    (b"\xff\xfe not utf-8", "bad_json"),
]


@pytest.mark.parametrize(("raw", "reason"), BAD_LINES)
def test_decode_line_rejects_with_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(BadEvent) as exc:
        decode_line(raw)
    assert exc.value.reason == reason


def test_decode_line_good_events() -> None:
    ev = decode_line(orjson.dumps(_tx(amount=200000)))
    assert isinstance(ev, Transaction) and ev.amount == 20_000_000 and ev.tz == 480
    c = decode_line(orjson.dumps({"event_id": "k1", "type": "complaint", "complaint_id": "K1",
                                  "customer_id": "C1", "ts": "2025-01-02T10:00:00+01:00",
                                  "status": "opened", "category": "Fee problem"}))
    assert isinstance(c, Complaint) and c.tz == 60


def test_bad_json_detail_does_not_quote_the_line() -> None:
    with pytest.raises(BadEvent) as exc:
        decode_line(b'{"name": "Zhang San", "account": 62220001')
    assert "Zhang" not in exc.value.detail and "6222" not in exc.value.detail


def _write_mixed(path: Path, opener=open) -> list[int]:  # type: ignore[no-untyped-def]
    """Good events interleaved with every kind of bad line; returns the bad line numbers."""
    lines: list[bytes] = []
    bad_at: list[int] = []
    for i, (raw, _reason) in enumerate(BAD_LINES):
        lines.append(orjson.dumps(_tx(event_id=f"g{i}")))
        lines.append(raw)
        bad_at.append(len(lines))
    lines.append(b"")  # a blank line is skipped, not an error
    lines.append(orjson.dumps(_tx(event_id="last")))
    with opener(path, "wb") as fh:
        fh.write(b"\n".join(lines) + b"\n")
    return bad_at


@pytest.mark.parametrize("gz", [False, True])
def test_read_events_dead_letters_and_continues(tmp_path: Path, gz: bool) -> None:
    path = tmp_path / ("ev.jsonl.gz" if gz else "ev.jsonl")
    bad_at = _write_mixed(path, gzip.open if gz else open)
    dead: list[DeadLetter] = []
    with EventSource(path) as src:
        good = list(read_events(src.lines(), dead.append))
        assert src.position() == path.stat().st_size
    assert [ev.event_id for _, _, ev in good] == [f"g{i}" for i in range(len(BAD_LINES))] + [
        "last"]
    assert [d.line for d in dead] == bad_at
    assert [d.reason for d in dead] == [r for _, r in BAD_LINES]
    assert dead[0].raw == BAD_LINES[0][0].decode()
    assert good[-1][0] == 2 * len(BAD_LINES) + 2  # line numbers count the blank line


def test_dead_letter_writer_file_and_counts(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "bad.jsonl"
    with DeadLetterWriter(out) as w:
        w(DeadLetter(3, "bad_json", "not valid JSON", "{oops"))
        w(DeadLetter(9, "bad_amount", "amount must be > 0", '{"amount": 0}'))
        w(DeadLetter(11, "bad_json", "not valid JSON", "]"))
    rows = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert rows[0] == {"line": 3, "reason": "bad_json", "detail": "not valid JSON",
                       "raw": "{oops"}
    assert [r["line"] for r in rows] == [3, 9, 11]
    assert w.counts == {"bad_json": 2, "bad_amount": 1} and w.total == 3


def test_dead_letter_writer_makes_no_file_without_bad_events(tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_text('{"line": 1, "reason": "from an earlier run"}\n')
    with DeadLetterWriter(tmp_path / "bad.jsonl"):
        pass
    assert not (tmp_path / "bad.jsonl").exists()


def test_stdin_is_read_line_by_line(tmp_path: Path) -> None:
    """A child process reads stdin through EventSource('-') and echoes each event id as soon
    as it is decoded: the first answer arrives before the second line is written."""
    code = ("import sys\nfrom alerting.io import EventSource, read_events\n"
            "for n, raw, ev in read_events(EventSource('-').lines(), print):\n"
            "    print(n, ev.event_id, flush=True)\n")
    p = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
    assert p.stdin is not None and p.stdout is not None
    p.stdin.write(orjson.dumps(_tx(event_id="first")) + b"\n")
    p.stdin.flush()
    assert p.stdout.readline() == b"1 first\n"  # blocks until the child answered
    p.stdin.write(orjson.dumps(_tx(event_id="second")) + b"\n")
    p.stdin.close()
    assert p.stdout.readline() == b"2 second\n"
    assert p.wait(timeout=30) == 0


def test_missing_events_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot open events file"):
        EventSource(tmp_path / "nope.jsonl")


def test_truncated_gzip_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "ev.jsonl.gz"
    data = gzip.compress(b"\n".join(orjson.dumps(_tx(event_id=f"e{i}")) for i in range(2000)))
    path.write_bytes(data[: len(data) // 2])
    with EventSource(path) as src, pytest.raises(ConfigError, match="unreadable after line"):
        list(src.lines())


def test_load_directory_csv_and_jsonl(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text(
        "customer_id,name,tier,assets,manager_id,branch_id,last_activity_at\n"
        "C1,张三,,200000.00,M1,B1,2024-10-01T00:00:00+08:00\nC2,,,12.5,M1,B1,\n",
        encoding="utf-8")
    (tmp_path / "m.jsonl").write_text(
        '{"manager_id": "M1", "name": "李四", "role": "account_manager", "supervisor_id": "S1"}\n'
        '{"manager_id": "S1", "role": "supervisor"}\n', encoding="utf-8")
    d = load_directory(tmp_path / "c.csv", tmp_path / "m.jsonl")
    c1 = d.customer("C1")
    assert c1 is not None and c1.assets == 20_000_000 and c1.name == "张三"
    assert c1.last_activity_at == 1727712000000
    assert d.customer("C2") is not None and d.customer("C2").assets == 1250  # type: ignore[union-attr]
    assert [m.manager_id for m in d.supervisors_of("M1")] == ["S1"]


def test_bad_directory_row_names_line_not_values(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text("customer_id,name,assets\nC1,王五,100\nC2,赵六,lots\n",
                                    encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_customers(tmp_path / "c.csv")
    assert "c.csv:3" in str(exc.value) and "赵六" not in str(exc.value)
    (tmp_path / "m.csv").write_text("manager_id,role\nM1,janitor\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="m.csv:2"):
        load_managers(tmp_path / "m.csv")
    with pytest.raises(ConfigError, match="not found"):
        load_customers(tmp_path / "absent.csv")


def test_live_lines_mark_each_wait_and_keep_line_numbers() -> None:
    """From a pipe: the lines that have arrived, then IDLE before a read that would wait;
    blank lines are skipped but counted; a last line without a newline still comes."""
    from alerting.io import IDLE, iter_live_lines

    r, w = os.pipe()
    try:
        os.write(w, b'{"a": 1}\n\n{"b": 2}\n{"c"')
        lines = iter_live_lines(r)
        got = [next(lines) for _ in range(3)]
        # the partial line is held until its end arrives; the read for it would wait
        assert got == [(1, b'{"a": 1}\n'), (3, b'{"b": 2}\n'), IDLE]
        os.write(w, b': 3}')
        os.close(w)
        w = -1
        assert list(lines) == [(4, b'{"c": 3}')]
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)
