"""Console notifier: the notification as plain text on a stream (standard output by default)."""

from __future__ import annotations

import sys
from typing import TextIO

from alerting.errors import RetryableNotifierError
from alerting.notifiers.base import Notification, RetryPolicy
from alerting.notifiers.config import ConsoleConfig


def render_plain(n: Notification) -> str:
    """Title, recipient and Markdown body as a block of text."""
    who = n.recipient_name or n.recipient_id or "-"
    return f"== [{n.kind}] {n.title} -> {who} ({n.receiver})\n{n.text}\n"


class ConsoleNotifier:
    """Writes each notification to ``stream``."""

    def __init__(self, name: str, cfg: ConsoleConfig, stream: TextIO | None, retry: RetryPolicy):
        self.name = name
        self.retry = retry
        self._stream = stream

    async def send(self, n: Notification) -> None:
        """Write and flush; an I/O error (closed pipe) is retryable."""
        stream = self._stream if self._stream is not None else sys.stdout
        try:
            stream.write(render_plain(n))
            stream.flush()
        except (OSError, ValueError) as exc:
            raise RetryableNotifierError(f"console write failed ({type(exc).__name__})") from None

    async def aclose(self) -> None:
        """Nothing to release: the stream belongs to the caller."""
