"""Structured logging with masking of personal data and secrets.

``configure_logging(level, json=True)`` installs one handler on the root logger that writes JSON
lines (``ts``, ``level``, ``logger``, ``msg`` and every ``extra=`` field) or plain text, and a
:class:`MaskingFilter` on that handler so that nothing the project (or a library) logs carries a
customer name, an account or card number, or a secret. Ids are allowed: ``customer_id``,
``task_id``, ``rule_id``, ``assignee_id`` are pseudonymous keys that operators need to trace a task.

``log_task_created`` and ``log_escalation`` write the one line per task and per escalation that
the issue asks for, with ids only (never the rendered title or body: they contain names and
amounts).
"""

from __future__ import annotations

import datetime as _dt
import logging
import re
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import orjson

from alerting.tasks import Task

MASK = "***"

# Keys whose values are secrets: masked completely, wherever they appear (extra fields, nested
# dicts, ``key=value`` text in a message).
SECRET_KEYS = frozenset({
    "password", "passwd", "pwd", "secret", "token", "api_key", "apikey", "access_token",
    "refresh_token", "authorization", "auth", "signing_key", "hmac_key", "smtp_password",
    "webhook_secret", "private_key", "cookie", "session",
})
# Keys whose values are personal data or free text that may contain it.
PII_KEYS = frozenset({
    "name", "customer_name", "manager_name", "full_name", "account_id", "account",
    "account_number", "account_no", "card", "card_number", "card_no", "phone", "mobile",
    "email", "id_number", "id_card", "address", "text", "note", "title", "body",
    "counterparty", "counterparty_account", "birthday",
})

# A run of 12 or more digits, possibly grouped by single spaces or dashes (card numbers are
# printed in groups of four): account, card and ID-card numbers. Ids, amounts and ISO
# timestamps are shorter or interrupted by other characters, so they survive.
_LONG_DIGITS = re.compile(r"(?<![\w-])\d(?:[ -]?\d){10,}[\dXx](?![\w-])")
_KEY_VALUE = re.compile(
    r"(?P<key>\b[A-Za-z_][A-Za-z0-9_]*)(?P<sep>\s*[=:：]\s*)"
    r"(?P<value>\"[^\"]*\"|'[^']*'|[^\s,;&)}\]]+)"
)
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@")

_STD_ATTRS = frozenset(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {
    "message", "asctime", "taskName",
}
# Loggers of the Kafka libraries: set explicitly, because ``faust worker -l warn`` left them at
# DEBUG, which cost a quarter of the throughput (shared/KAFKA-NOTES.md).
LIBRARY_LOGGERS = ("faust", "aiokafka", "kafka", "mode", "aiohttp.access", "redis")


def mask_digits(text: str) -> str:
    """Replace every long digit run (account/card/ID number) by ``***`` + its last 4 digits."""
    return _LONG_DIGITS.sub(lambda m: MASK + re.sub(r"[ -]", "", m.group(0))[-4:], text)


def _mask_key_values(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        key = m.group("key").lower()
        if key in SECRET_KEYS or key in PII_KEYS:
            return f"{m.group('key')}{m.group('sep')}{MASK}"
        return m.group(0)

    return _KEY_VALUE.sub(repl, text)


def mask_text(text: str) -> str:
    """Mask secrets and personal data in free text: ``key=value`` pairs under sensitive keys
    (``name=张三``, ``password: x``), credentials in URLs, and long digit runs."""
    text = _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
    return mask_digits(_mask_key_values(text))


def mask_value(key: str, value: Any) -> Any:
    """Mask one structured field: sensitive keys entirely, other strings by pattern, containers
    recursively. Numbers under non-sensitive keys are left alone (counts, cents, ms)."""
    k = key.lower()
    if k in SECRET_KEYS or k in PII_KEYS:
        return MASK if value is not None else None
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {str(k2): mask_value(str(k2), v) for k2, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [mask_value(key, v) for v in value]
    return value


class MaskingFilter(logging.Filter):
    """Rewrites each record in place: the message is formatted and masked, extra fields are
    masked by key and pattern, and exception text is masked when it is rendered."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the record; never drops it."""
        if getattr(record, "_alerting_masked", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad %-format must not lose the line
            message = f"{record.msg!r} {record.args!r}"
        record.msg = mask_text(message)
        record.args = None
        for key, value in extra_fields(record).items():
            setattr(record, key, mask_value(key, value))
        if record.exc_info and not record.exc_text:
            record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        record._alerting_masked = True
        return True


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra=`` fields of a record (attributes that are not standard LogRecord ones)."""
    return {k: v for k, v in vars(record).items()
            if k not in _STD_ATTRS and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (ISO-8601 UTC, ms), level, logger, msg, then extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as a single JSON line."""
        ts = _dt.datetime.fromtimestamp(record.created, tz=_dt.UTC)
        out: dict[str, Any] = {
            "ts": ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in extra_fields(record).items():
            out.setdefault(key, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exc"] = record.exc_text
        return orjson.dumps(out, default=str).decode()


class TextFormatter(logging.Formatter):
    """Human-readable line with the extra fields appended as ``key=value``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """Render the standard line plus extra fields."""
        line = super().format(record)
        extras = extra_fields(record)
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        return line


def configure_logging(
    level: str | int = "INFO",
    json: bool = False,
    *,
    stream: TextIO | None = None,
    library_level: str | int = "WARNING",
) -> logging.Handler:
    """Install the project's handler (JSON or text, with masking) on the root logger, replacing
    handlers a previous call installed, and set the Kafka libraries' loggers to
    ``library_level`` explicitly. Returns the handler (tests attach it to their own stream)."""
    root_level, lib_level = _level(level), _level(library_level)  # fail before changing anything
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_alerting_handler", False):
            root.removeHandler(old)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if json else TextFormatter())
    handler.addFilter(MaskingFilter())
    handler._alerting_handler = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(root_level)
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(lib_level)
    return handler


def _level(level: str | int) -> int:
    if isinstance(level, int):
        return level
    value = logging.getLevelName(level.upper())
    if not isinstance(value, int):
        raise ValueError(f"unknown log level {level!r}")
    return value


def task_fields(task: Task) -> dict[str, Any]:
    """The ids and codes of a task that may be logged (no title, body, evidence or names)."""
    return {
        "task_id": task.task_id, "rule_id": task.rule_id, "severity": task.severity,
        "customer_id": task.customer_id, "assignee_id": task.assignee_id,
        "assignee_role": task.assignee_role, "escalation_level": task.escalation_level,
        "branch_id": task.branch_id, "revision": task.revision,
        "created_at": task.created_at, "due_at": task.due_at,
        "event_count": len(task.event_ids),
    }


def log_task_created(log: logging.Logger, task: Task) -> None:
    """One INFO line per task emission: ``task created`` (revision 0) or ``task updated``."""
    event = "task_created" if task.revision == 0 else "task_updated"
    log.info(event.replace("_", " "), extra={"event": event, **task_fields(task)})


def log_escalation(
    log: logging.Logger, task: Task, *, level: int, from_id: str | None, to_id: str | None
) -> None:
    """One INFO line per escalation step, with the old and new assignee ids."""
    fields = task_fields(task)
    fields.update(escalation_level=level, from_assignee_id=from_id, assignee_id=to_id)
    log.info("task escalated", extra={"event": "task_escalated", **fields})
