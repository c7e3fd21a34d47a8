"""Feishu / Lark custom bot (自定义机器人).

Followed: Feishu open platform docs, "自定义机器人使用指南" (custom bot guide). Payloads:
``{"msg_type": "text", "content": {"text": ...}}`` or an interactive card
``{"msg_type": "interactive", "card": {"header": {...}, "elements": [{"tag": "markdown", ...}]}}``.
With signature verification on, the body also carries ``"timestamp"`` (seconds, string) and
``"sign" = base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b""))``; the timestamp must be
within one hour of Feishu's clock. The answer is HTTP 200 with ``{"code": 0, "msg": "success"}``
(older deployments answer ``{"StatusCode": 0}``); a non-zero code is a failure: 11232 (frequency
limited: 100 a minute / 5 a second per bot) is retryable, anything else (19021 sign mismatch,
19024 keyword mismatch, 9499 bad request…) is permanent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from alerting.notifiers._http import RobotNotifier, check_code, truncate_utf8
from alerting.notifiers.base import Notification

MAX_TEXT_BYTES = 20000  # Feishu's limit is 20 KB per request body
RATE_LIMIT_CODES = frozenset({11232})


def feishu_sign(secret: str, timestamp: int) -> str:
    """The ``sign`` body field for ``timestamp`` (seconds)."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def build_payload(n: Notification, fmt: str, secret: str | None, timestamp: int) -> dict[str, Any]:
    """The Feishu message for ``n`` (``fmt`` "text" or "interactive"), signed if ``secret``."""
    body = truncate_utf8(n.text, MAX_TEXT_BYTES)
    payload: dict[str, Any]
    if fmt == "text":
        payload = {"msg_type": "text", "content": {"text": f"{n.title}\n{body}"}}
    else:
        payload = {
            "msg_type": "interactive",
            "card": {
                "header": {"title": {"tag": "plain_text", "content": n.title}},
                "elements": [{"tag": "markdown", "content": body}],
            },
        }
    if secret:
        payload = {"timestamp": str(timestamp), "sign": feishu_sign(secret, timestamp), **payload}
    return payload


class FeishuNotifier(RobotNotifier):
    """Posts a text message or a markdown card to a Feishu/Lark bot."""

    def __init__(self, name: str, *, secret: str | None, fmt: str, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self._secret = secret
        self._fmt = fmt

    def payload(self, n: Notification, now: float) -> dict[str, Any]:
        """See :func:`build_payload`."""
        return build_payload(n, self._fmt, self._secret, int(now))

    def check(self, data: dict[str, Any]) -> None:
        """``code`` (or legacy ``StatusCode``) 0 is success."""
        code = data.get("code", data.get("StatusCode"))
        check_code(code, vendor="feishu", rate_limit=RATE_LIMIT_CODES)
