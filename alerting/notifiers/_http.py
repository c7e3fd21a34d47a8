"""HTTP plumbing shared by the webhook and chat-robot notifiers.

httpx errors are translated here, where the library is called: timeouts, connection errors,
5xx and 429 are retryable (429 carries ``Retry-After``); other 4xx and 3xx are permanent. Error
messages name the status or the exception type only: URLs may carry tokens and bodies may carry
personal data, so neither goes into an error or a log.
"""

from __future__ import annotations

import json
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from alerting.errors import PermanentNotifierError, RetryableNotifierError


class RateLimited(RetryableNotifierError):
    """The receiver asked us to slow down; ``retry_after`` seconds if it said how long."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, IndexError):
        return None


async def post(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    *,
    headers: dict[str, str],
    timeout: float,
    now: float,
) -> httpx.Response:
    """POST ``body``; return the 2xx response or raise Retryable/Permanent notifier errors."""
    try:
        resp = await client.post(url, content=body, headers=headers, timeout=timeout)
    except httpx.TimeoutException as exc:
        raise RetryableNotifierError(f"timeout ({type(exc).__name__})") from None
    except httpx.TransportError as exc:
        raise RetryableNotifierError(f"connection error ({type(exc).__name__})") from None
    except httpx.HTTPError as exc:
        raise PermanentNotifierError(f"http error ({type(exc).__name__})") from None
    status = resp.status_code
    if status == 429:
        raise RateLimited("HTTP 429", parse_retry_after(resp.headers.get("retry-after"), now))
    if status >= 500 or status == 408:
        raise RetryableNotifierError(f"HTTP {status}")
    if status >= 300:
        raise PermanentNotifierError(f"HTTP {status}")
    return resp


def json_body(resp: httpx.Response) -> dict[str, Any]:
    """The response's JSON object; PermanentNotifierError if it is not one (a robot endpoint
    that answers 200 with something else is misconfigured, retrying won't fix it)."""
    try:
        data = json.loads(resp.content or b"{}")
    except ValueError:
        raise PermanentNotifierError("robot answered with non-JSON body") from None
    if not isinstance(data, dict):
        raise PermanentNotifierError("robot answered with a non-object JSON body")
    return data


def check_code(code: object, *, vendor: str, rate_limit: frozenset[int]) -> None:
    """Vendors answer HTTP 200 with an error code; 0 is success, rate-limit codes are
    retryable, anything else permanent."""
    if code in (0, None):
        return
    if isinstance(code, int) and code in rate_limit:
        raise RateLimited(f"{vendor} rate limited (code {code})")
    raise PermanentNotifierError(f"{vendor} rejected the message (code {code})")


def truncate_utf8(text: str, max_bytes: int) -> str:
    """Cut ``text`` so that its UTF-8 encoding fits ``max_bytes`` (vendors count bytes)."""
    raw = text.encode()
    if len(raw) <= max_bytes:
        return text
    marker = "\n…"
    cut = raw[: max_bytes - len(marker.encode())].decode(errors="ignore")
    return cut + marker


class RobotNotifier:
    """Base of the chat-robot notifiers: build a JSON payload, POST it to a (possibly signed)
    URL, check the vendor's error code. Subclasses define ``payload``, ``target_url`` and
    ``check``."""

    def __init__(
        self,
        name: str,
        *,
        url: str,
        timeout: float,
        client: httpx.AsyncClient | None,
        clock: Any,
        retry: Any,
    ) -> None:
        self.name = name
        self.retry = retry
        self._url = url
        self._timeout = timeout
        self._own_client = client is None
        self._client = client if client is not None else httpx.AsyncClient()
        self._clock = clock

    def __repr__(self) -> str:
        # The URL carries the robot's access token: never shown.
        return f"{type(self).__name__}(name={self.name!r})"

    def payload(self, n: Any, now: float) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def target_url(self, now: float) -> str:
        """The URL to POST to (signed robots add query parameters)."""
        return self._url

    def check(self, data: dict[str, Any]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    async def send(self, n: Any) -> None:
        """POST the payload and check the vendor's answer."""
        now = self._clock()
        body = json.dumps(self.payload(n, now), ensure_ascii=False).encode()
        resp = await post(self._client, self.target_url(now), body,
                          headers={"Content-Type": "application/json; charset=utf-8"},
                          timeout=self._timeout, now=now)
        self.check(json_body(resp))

    async def aclose(self) -> None:
        """Close the HTTP client if this notifier created it."""
        if self._own_client:
            await self._client.aclose()
