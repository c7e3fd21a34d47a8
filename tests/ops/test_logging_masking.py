"""Structured logs: JSON lines, a line per task and escalation with ids, PII and secrets masked."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import orjson
import pytest

from alerting.logs import (
    LIBRARY_LOGGERS,
    configure_logging,
    log_escalation,
    log_task_created,
    mask_text,
)
from alerting.tasks import Task


@pytest.fixture
def json_log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger writing JSON lines to a buffer through the project's handler."""
    buf = io.StringIO()
    root = logging.getLogger()
    old_level = root.level
    handler = configure_logging("DEBUG", json=True, stream=buf)
    try:
        yield logging.getLogger("alerting.test"), buf
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def lines(buf: io.StringIO) -> list[dict]:
    return [orjson.loads(x) for x in buf.getvalue().splitlines()]


@pytest.fixture
def task() -> Task:
    return Task(
        task_id="t-0123456789abcdef0123", rule_id="large_withdrawal", severity="high",
        customer_id="C000042", title="张三 大额取款 6222021234567890123",
        body="客户 张三 账户 6222021234567890123 取款 250000.00", evidence={"amount": "250000.00"},
        event_ids=["e1", "e2"], created_at="2024-03-01T10:00:00+08:00",
        due_at="2024-03-01T14:00:00+08:00", assignee_id="M007", assignee_role="account_manager",
    )


def test_json_line_has_standard_and_extra_fields(json_log) -> None:
    log, buf = json_log
    log.warning("consumer lag %d on %s", 17, "transactions", extra={"partition": 3})
    [rec] = lines(buf)
    assert rec["level"] == "warning"
    assert rec["logger"] == "alerting.test"
    assert rec["msg"] == "consumer lag 17 on transactions"
    assert rec["partition"] == 3
    assert rec["ts"].endswith("Z") and "T" in rec["ts"]


def test_task_created_line_has_ids_and_no_personal_data(json_log, task: Task) -> None:
    log, buf = json_log
    log_task_created(log, task)
    [rec] = lines(buf)
    assert rec["event"] == "task_created"
    assert (rec["task_id"], rec["rule_id"], rec["customer_id"], rec["assignee_id"]) == (
        "t-0123456789abcdef0123", "large_withdrawal", "C000042", "M007")
    raw = buf.getvalue()
    assert "张三" not in raw and "6222021234567890123" not in raw and "250000" not in raw


def test_task_update_and_escalation_lines(json_log, task: Task) -> None:
    log, buf = json_log
    task.revision = 2
    log_task_created(log, task)
    log_escalation(log, task, level=1, from_id="M007", to_id="S001")
    upd, esc = lines(buf)
    assert upd["event"] == "task_updated" and upd["revision"] == 2
    assert esc["event"] == "task_escalated"
    assert (esc["escalation_level"], esc["from_assignee_id"], esc["assignee_id"]) == (1, "M007",
                                                                                     "S001")


def test_message_masking_of_names_numbers_and_secrets(json_log) -> None:
    log, buf = json_log
    log.info("lookup name=张三 account 6222 0212 3456 7890 password=hunter2 "
             "url=redis://admin:s3cr3t@redis:6379/0 customer_id=C000042 amount=250000.00")
    msg = lines(buf)[0]["msg"]
    for secret in ("张三", "6222 0212 3456 7890", "hunter2", "s3cr3t"):
        assert secret not in msg
    assert "***7890" in msg  # last four digits kept so an operator can correlate
    assert "customer_id=C000042" in msg and "amount=250000.00" in msg


def test_extra_fields_masked_by_key_and_pattern(json_log) -> None:
    log, buf = json_log
    log.info("notifier configured", extra={
        "token": "abc", "customer_name": "李四", "note": "called 13800138000",
        "target": "acct 6222021234567890123", "config": {"smtp_password": "pw", "host": "mx"},
        "customer_id": "C1", "count": 1234567890123,
    })
    rec = lines(buf)[0]
    assert rec["token"] == "***" and rec["customer_name"] == "***" and rec["note"] == "***"
    assert rec["target"] == "acct ***0123"
    assert rec["config"] == {"smtp_password": "***", "host": "mx"}
    assert rec["customer_id"] == "C1" and rec["count"] == 1234567890123


def test_exception_text_is_masked(json_log) -> None:
    log, buf = json_log
    try:
        raise ValueError("bad account 6222021234567890123 for name=王五")
    except ValueError:
        log.exception("failed")
    rec = lines(buf)[0]
    assert "ValueError" in rec["exc"]
    assert "6222021234567890123" not in rec["exc"] and "王五" not in rec["exc"]


def test_ids_timestamps_and_amounts_survive_masking() -> None:
    text = ("task t-0123456789abcdef0123 rule r1 customer C000042 at 2024-03-01T10:00:00+08:00 "
            "amount 250000.00 event e-20240301-000123")
    assert mask_text(text) == text


def test_chinese_id_card_number_masked() -> None:
    assert mask_text("id 11010519491231002X ok") == "id ***002X ok"


def test_text_mode_and_library_levels() -> None:
    buf = io.StringIO()
    root = logging.getLogger()
    old_level = root.level
    handler = configure_logging("info", json=False, stream=buf, library_level="WARNING")
    try:
        logging.getLogger("alerting.x").info("hello secret=xyz", extra={"rule_id": "r1"})
        logging.getLogger("aiokafka.consumer").info("noisy")
        out = buf.getvalue()
        assert "hello secret=***" in out and "rule_id=r1" in out and "xyz" not in out
        assert "noisy" not in out
        for name in LIBRARY_LOGGERS:
            assert logging.getLogger(name).level == logging.WARNING
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def test_configure_twice_keeps_one_handler_and_rejects_bad_level() -> None:
    root = logging.getLogger()
    old_level = root.level
    h1 = configure_logging("INFO", json=True, stream=io.StringIO())
    h2 = configure_logging("INFO", json=True, stream=io.StringIO())
    try:
        assert h1 not in root.handlers and h2 in root.handlers
        with pytest.raises(ValueError, match="unknown log level"):
            configure_logging("LOUD")
        assert h2 in root.handlers  # a rejected call changes nothing
    finally:
        root.removeHandler(h2)
        root.setLevel(old_level)
