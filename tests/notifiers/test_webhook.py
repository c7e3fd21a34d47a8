"""Webhook notifier against a real local aiohttp server that verifies the signature with the
documented verification code (alerting.notifiers.webhook.verify_signature)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter

from alerting.errors import PermanentNotifierError, RetryableNotifierError
from alerting.notifiers._http import RateLimited, parse_retry_after
from alerting.notifiers.config import NotifierConfig
from alerting.notifiers.registry import NotifierDeps, build_notifier
from alerting.notifiers.webhook import sign, verify_signature

pytestmark = pytest.mark.integration
SECRET = "whsec-test-4711"
CFG: TypeAdapter[NotifierConfig] = TypeAdapter(NotifierConfig)


def webhook(url: str, *, clock=time.time, timeout: float = 5.0, client=None):
    cfg = CFG.validate_python({"type": "webhook", "url": url, "secret": SECRET,
                               "timeout": timeout, "headers": {"X-Env": "test"}})
    return build_notifier("hook", cfg, NotifierDeps(http=client, clock=clock))


def verifying(srv):
    """A responder that checks the signature like a receiver would: 401 if it fails."""
    def respond(rec):
        ok = verify_signature(SECRET.encode(), rec.headers.get("X-Alerting-Timestamp"),
                              rec.headers.get("X-Alerting-Signature"), rec.body, now=time.time())
        return (200, {"ok": True}, {}) if ok else (401, {"error": "bad signature"}, {})
    return respond


async def test_signed_post_is_verified_by_receiver(http_server, make_notification):
    http_server.responder = verifying(http_server)
    n = make_notification()
    hook = webhook(http_server.base_url + "/alerts")
    await hook.send(n)
    await hook.aclose()
    [rec] = http_server.received
    assert rec.path == "/alerts"
    assert json.loads(rec.body) == n.to_dict()
    assert rec.headers["X-Alerting-Notification-Id"] == n.notification_id
    assert rec.headers["X-Env"] == "test"
    assert rec.headers["X-Alerting-Signature"].startswith("sha256=")


async def test_wrong_secret_or_old_timestamp_is_rejected_by_receiver(http_server,
                                                                    make_notification):
    http_server.responder = verifying(http_server)
    stale = webhook(http_server.base_url, clock=lambda: time.time() - 3600)
    with pytest.raises(PermanentNotifierError, match="401"):
        await stale.send(make_notification())
    await stale.aclose()
    body, ts = b'{"a":1}', int(time.time())
    good = sign(SECRET.encode(), ts, body)
    assert verify_signature(SECRET.encode(), str(ts), good, body, now=ts + 10)
    assert not verify_signature(b"other", str(ts), good, body, now=ts)
    assert not verify_signature(SECRET.encode(), str(ts), good, body + b" ", now=ts)
    assert not verify_signature(SECRET.encode(), str(ts), good, body, now=ts + 301)
    assert not verify_signature(SECRET.encode(), "x", good, body, now=ts)
    assert not verify_signature(SECRET.encode(), None, good, body, now=ts)


@pytest.mark.parametrize(("status", "error"), [
    (500, RetryableNotifierError), (503, RetryableNotifierError), (408, RetryableNotifierError),
    (400, PermanentNotifierError), (404, PermanentNotifierError), (410, PermanentNotifierError),
])
async def test_status_mapping(http_server, make_notification, status, error):
    http_server.responder = lambda rec: (status, {"error": "x"}, {})
    hook = webhook(http_server.base_url)
    with pytest.raises(error) as e:
        await hook.send(make_notification())
    await hook.aclose()
    assert str(status) in str(e.value)
    assert http_server.base_url not in str(e.value)


async def test_429_is_retryable_with_retry_after(http_server, make_notification):
    http_server.responder = lambda rec: (429, None, {"Retry-After": "42"})
    hook = webhook(http_server.base_url)
    with pytest.raises(RateLimited) as e:
        await hook.send(make_notification())
    await hook.aclose()
    assert e.value.retry_after == 42.0
    assert parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT", now=1792567670.0) == 10.0
    assert parse_retry_after("garbage", now=0) is None


async def test_timeout_and_connection_refused_are_retryable(http_server, make_notification,
                                                            free_port):
    http_server.delay = 0.5
    async with httpx.AsyncClient() as client:
        hook = webhook(http_server.base_url, timeout=0.05, client=client)
        with pytest.raises(RetryableNotifierError, match="timeout"):
            await hook.send(make_notification())
        dead = webhook(f"http://127.0.0.1:{free_port()}/", client=client)
        with pytest.raises(RetryableNotifierError, match="connection"):
            await dead.send(make_notification())
        assert not client.is_closed  # a client passed in is not closed by the notifier
        await dead.aclose()
        assert not client.is_closed


async def test_documented_receiver_code_verifies_a_real_request(http_server, make_notification):
    """The snippet in docs/notifiers.md is what receivers copy: it must accept our requests."""
    doc = (Path(__file__).parents[2] / "docs" / "notifiers.md").read_text(encoding="utf-8")
    snippet = doc.split("```python\n", 1)[1].split("```", 1)[0]
    ns: dict[str, Any] = {}
    exec(compile(snippet, "docs/notifiers.md", "exec"), ns)  # noqa: S102 - our own doc
    hook = webhook(http_server.base_url)
    await hook.send(make_notification())
    await hook.aclose()
    rec = http_server.received[-1]
    args = (rec.headers["X-Alerting-Timestamp"], rec.headers["X-Alerting-Signature"])
    assert ns["verify"](SECRET.encode(), *args, rec.body)
    assert not ns["verify"](SECRET.encode(), *args, rec.body.replace(b"n-", b"x-"))
    assert not ns["verify"](b"wrong", *args, rec.body)
