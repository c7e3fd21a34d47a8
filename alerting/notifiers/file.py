"""JSON-lines file notifier: appends one notification per line (optionally fsynced)."""

from __future__ import annotations

import asyncio
import os

from alerting.errors import RetryableNotifierError
from alerting.notifiers.base import Notification, RetryPolicy
from alerting.notifiers.config import FileConfig


class FileNotifier:
    """Appends ``n.to_json()`` plus a newline to the configured path."""

    def __init__(self, name: str, cfg: FileConfig, retry: RetryPolicy) -> None:
        self.name = name
        self.retry = retry
        self.path = cfg.path
        self.fsync = cfg.fsync
        # One writer at a time so concurrent sends never interleave partial lines.
        self._lock = asyncio.Lock()

    def _append(self, line: bytes) -> None:
        # O_APPEND: each write lands at the end even if another process appends too.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, line)
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)

    async def send(self, n: Notification) -> None:
        """Append one line; I/O errors (disk full, missing directory) are retryable."""
        line = (n.to_json() + "\n").encode()
        async with self._lock:
            try:
                await asyncio.to_thread(self._append, line)
            except OSError as exc:
                raise RetryableNotifierError(f"file write failed ({type(exc).__name__})") from None

    async def aclose(self) -> None:
        """Nothing held open between sends."""
