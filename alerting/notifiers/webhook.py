"""Generic signed webhook: POST the notification as JSON.

Headers sent:

- ``X-Alerting-Timestamp``: Unix time in whole seconds when the request was signed;
- ``X-Alerting-Signature``: ``sha256=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>``
  where ``body`` is the exact request body bytes (UTF-8 JSON);
- ``X-Alerting-Notification-Id``: the notification id (idempotency key: a retry after a timeout
  may deliver the same notification twice; receivers drop ids they have already seen).

How a receiver verifies a request (this is :func:`verify_signature`, usable as-is):

1. read the raw body bytes (before any JSON parsing) and both headers;
2. reject if ``|now - timestamp| > 300`` seconds (replay window; keep clocks NTP-synced);
3. compute ``hmac.new(secret, f"{timestamp}.".encode() + body, sha256).hexdigest()`` and compare
   with the header value after ``sha256=`` using ``hmac.compare_digest`` (constant time);
4. within the window, remember notification ids already processed to drop replays and retries.

Failures: timeouts, connection errors, 5xx and 429 (``Retry-After`` honoured) are retried by the
outbox with exponential backoff and jitter; other 4xx are permanent (dead-letter).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

import httpx

from alerting.notifiers._http import post
from alerting.notifiers.base import Notification, RetryPolicy
from alerting.notifiers.config import WebhookConfig

REPLAY_WINDOW_SECONDS = 300


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The ``X-Alerting-Signature`` header value for ``body`` signed at ``timestamp``."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def verify_signature(
    secret: bytes,
    timestamp_header: str | None,
    signature_header: str | None,
    body: bytes,
    *,
    now: float,
    window: float = REPLAY_WINDOW_SECONDS,
) -> bool:
    """True if the request was signed with ``secret`` within ``window`` seconds of ``now``."""
    if not timestamp_header or not signature_header:
        return False
    try:
        ts = int(timestamp_header)
    except ValueError:
        return False
    if abs(now - ts) > window:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature_header)


class WebhookNotifier:
    """POSTs ``n.to_json()`` to the configured URL with timestamp and signature headers."""

    def __init__(
        self,
        name: str,
        cfg: WebhookConfig,
        *,
        secret: str | None,
        client: httpx.AsyncClient | None,
        clock: Callable[[], float],
        retry: RetryPolicy,
    ) -> None:
        self.name = name
        self.retry = retry
        self._url = cfg.url
        self._timeout = cfg.timeout
        self._extra_headers = dict(cfg.headers)
        self._secret = secret.encode() if secret else None
        self._own_client = client is None
        self._client = client if client is not None else httpx.AsyncClient()
        self._clock = clock

    def __repr__(self) -> str:
        return f"WebhookNotifier(name={self.name!r})"

    def build_request(self, n: Notification) -> tuple[bytes, dict[str, str]]:
        """Body bytes and headers (signed when a secret is configured)."""
        body = n.to_json().encode()
        now = int(self._clock())
        headers = {
            **self._extra_headers,
            "Content-Type": "application/json; charset=utf-8",
            "X-Alerting-Timestamp": str(now),
            "X-Alerting-Notification-Id": n.notification_id,
        }
        if self._secret is not None:
            headers["X-Alerting-Signature"] = sign(self._secret, now, body)
        return body, headers

    async def send(self, n: Notification) -> None:
        """One POST; raises Retryable/Permanent notifier errors (see module doc)."""
        body, headers = self.build_request(n)
        await post(self._client, self._url, body, headers=headers, timeout=self._timeout,
                   now=self._clock())

    async def aclose(self) -> None:
        """Close the HTTP client if this notifier created it."""
        if self._own_client:
            await self._client.aclose()
