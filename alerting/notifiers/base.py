"""The contract between routing (which produces notifications) and notifiers (which deliver them).

The dispatcher builds :class:`Notification` objects and hands them to the outbox
(:mod:`alerting.notifiers.outbox`); the outbox calls :meth:`Notifier.send` on every notifier
of the notification's receiver. A notifier signals failure only by raising
:class:`~alerting.errors.RetryableNotifierError` (try again later) or
:class:`~alerting.errors.PermanentNotifierError` (dead-letter it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from alerting.errors import PermanentNotifierError

NOTIFICATION_KINDS = frozenset({"task", "update", "escalation", "repeat", "digest"})

_FIELDS = (
    "notification_id",
    "receiver",
    "kind",
    "recipient_id",
    "recipient_name",
    "recipient_email",
    "locale",
    "title",
    "text",
    "tasks",
    "created_at",
)


@dataclass(frozen=True, slots=True)
class Notification:
    """One message for one receiver, covering one or more tasks (grouped)."""

    notification_id: str  # deterministic (receiver + task dedup keys, or digest key): dedup
    receiver: str  # receiver name from the routing config
    kind: str  # "task" | "update" | "escalation" | "repeat" | "digest"
    recipient_id: str | None  # manager_id it is for
    recipient_name: str
    recipient_email: str | None
    locale: str  # "zh" | "en"
    title: str  # short plain text
    text: str  # body in Markdown; plain-text friendly
    tasks: tuple[dict[str, Any], ...] = field(default_factory=tuple)  # Task.to_dict() each
    created_at: str = ""  # ISO time (clock of the dispatcher)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tasks as a list)."""
        d = {name: getattr(self, name) for name in _FIELDS}
        d["tasks"] = [dict(t) for t in self.tasks]
        return d

    def to_json(self) -> str:
        """Compact, key-sorted JSON of :meth:`to_dict` (stable bytes for signatures and dedup)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Notification:
        """Rebuild from :meth:`to_dict` output; PermanentNotifierError if malformed."""
        unknown = set(d) - set(_FIELDS)
        if unknown:
            raise PermanentNotifierError(f"notification has unknown fields: {sorted(unknown)}")
        try:
            kwargs = {name: d[name] for name in _FIELDS if name in d}
            kwargs["tasks"] = tuple(dict(t) for t in d.get("tasks", ()))
            return cls(**kwargs)
        except (TypeError, ValueError) as exc:
            raise PermanentNotifierError(f"malformed notification: {type(exc).__name__}") from None

    @classmethod
    def from_json(cls, s: str | bytes) -> Notification:
        """Inverse of :meth:`to_json`."""
        try:
            d = json.loads(s)
        except ValueError:
            raise PermanentNotifierError("notification is not valid JSON") from None
        if not isinstance(d, dict):
            raise PermanentNotifierError("notification JSON is not an object")
        return cls.from_dict(d)


@runtime_checkable
class Notifier(Protocol):
    """Delivers notifications to one channel. ``name`` is the configured instance name
    (bounded; used as a metric label)."""

    name: str

    async def send(self, n: Notification) -> None:
        """Deliver ``n``; raise RetryableNotifierError or PermanentNotifierError on failure."""
        ...

    async def aclose(self) -> None:
        """Release clients this notifier created itself (not the ones passed in)."""
        ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How the outbox retries one notifier: exponential backoff with jitter, then dead-letter."""

    max_retries: int = 8
    initial: float = 5.0  # seconds before the first retry
    maximum: float = 900.0
    factor: float = 2.0

    def delay(self, attempt: int, rand: float) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based). ``rand`` in [0, 1)
        spreads retries ("equal jitter": half fixed, half random) so that a recovered receiver
        is not hit by every sender in the same second."""
        base = min(self.maximum, self.initial * self.factor ** max(0, attempt - 1))
        return base / 2 + base / 2 * rand
