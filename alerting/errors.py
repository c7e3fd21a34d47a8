"""Typed exceptions. Everything the project raises on purpose derives from AlertingError."""

from __future__ import annotations


class AlertingError(Exception):
    """Root of every error raised by alerting on purpose."""


class ConfigError(AlertingError):
    """Bad configuration (settings, rules file, directory files)."""


class RulesError(ConfigError):
    """A rules file failed validation. ``problems`` lists (rule_id, field, line, message)."""

    def __init__(self, problems: list[RuleProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(p.render() for p in problems))


class RuleProblem:
    """One validation problem of a rules file, located by rule id, field path and line."""

    __slots__ = ("rule_id", "field", "line", "message", "path")

    def __init__(
        self,
        message: str,
        *,
        rule_id: str | None = None,
        field: str | None = None,
        line: int | None = None,
        path: str | None = None,
    ) -> None:
        self.message = message
        self.rule_id = rule_id
        self.field = field
        self.line = line
        self.path = path

    def render(self) -> str:
        where = self.path or "rules"
        if self.line is not None:
            where += f":{self.line}"
        rule = f" rule {self.rule_id!r}" if self.rule_id else ""
        field = f" field {self.field!r}" if self.field else ""
        if rule or field:
            where += ":" + rule + field
        return f"{where}: {self.message}"

    def __repr__(self) -> str:
        return f"RuleProblem({self.render()!r})"


class ExpressionError(ConfigError):
    """A condition in the expression language could not be parsed or type-checked."""

    def __init__(self, message: str, *, source: str = "", col: int | None = None) -> None:
        self.source = source
        self.col = col
        super().__init__(message)


class BadEvent(AlertingError):
    """An input event is malformed. ``reason`` is a short, bounded code used as a metric label;
    ``detail`` is a human message that never contains personal data or field values."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class StateError(AlertingError):
    """Engine state could not be encoded, decoded or restored."""


class NotifierError(AlertingError):
    """A notifier failed to deliver."""


class RetryableNotifierError(NotifierError):
    """Delivery failed in a way that may succeed later (timeout, 5xx, connection refused)."""


class PermanentNotifierError(NotifierError):
    """Delivery failed for good (4xx, bad address); retrying will not help."""


class TaskNotFound(AlertingError):
    """No task with that id."""


class Forbidden(AlertingError):
    """The caller may not see or change this object."""


class ServiceUnavailable(AlertingError):
    """A required external service (Kafka, Redis, SMTP…) is unreachable."""


class WorkerStopped(AlertingError):
    """A running worker stopped on a failure it cannot ride out (a task send never
    acknowledged, a checkpoint not written): nothing is checkpointed past it, and a restart
    resumes from the last checkpoint. ``alerting worker`` exits 1 with it, as a crash."""
