"""DingTalk (钉钉) custom group robot.

Followed: DingTalk open platform docs, "自定义机器人发送群消息" and "自定义机器人安全设置 / 加签".
Markdown payload ``{"msgtype": "markdown", "markdown": {"title": ..., "text": ...}}``. With the
signing ("加签") security setting the URL gets ``&timestamp=<ms>&sign=<s>`` where
``s = urlencode(base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")))`` and the
timestamp (milliseconds) must be within one hour of DingTalk's clock. The answer is HTTP 200 with
``{"errcode": 0, "errmsg": "ok"}``; 130101 ("send too fast", more than 20 messages a minute) is
retryable, anything else (310000 sign/keyword/IP check failed, 300001 bad token…) is permanent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse
from typing import Any

from alerting.notifiers._http import RobotNotifier, check_code, truncate_utf8
from alerting.notifiers.base import Notification

MAX_TEXT_BYTES = 20000
RATE_LIMIT_CODES = frozenset({130101})


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """The (not yet URL-encoded) ``sign`` value for ``timestamp_ms``."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    return base64.b64encode(hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()).decode()


def signed_url(url: str, secret: str | None, timestamp_ms: int) -> str:
    """``url`` with ``timestamp`` and ``sign`` query parameters when a secret is set."""
    if not secret:
        return url
    sep = "&" if "?" in url else "?"
    sig = urllib.parse.quote_plus(dingtalk_sign(secret, timestamp_ms))
    return f"{url}{sep}timestamp={timestamp_ms}&sign={sig}"


def build_payload(n: Notification) -> dict[str, Any]:
    """The DingTalk markdown message for ``n``."""
    text = truncate_utf8(f"#### {n.title}\n\n{n.text}", MAX_TEXT_BYTES)
    return {"msgtype": "markdown", "markdown": {"title": n.title, "text": text}}


class DingtalkNotifier(RobotNotifier):
    """Posts markdown to a DingTalk robot, signing the URL when a secret is configured."""

    def __init__(self, name: str, *, secret: str | None, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self._secret = secret

    def payload(self, n: Notification, now: float) -> dict[str, Any]:
        """See :func:`build_payload`."""
        return build_payload(n)

    def target_url(self, now: float) -> str:
        """The robot URL, signed for this moment."""
        return signed_url(self._url, self._secret, int(now * 1000))

    def check(self, data: dict[str, Any]) -> None:
        """``errcode`` 0 is success."""
        check_code(data.get("errcode"), vendor="dingtalk", rate_limit=RATE_LIMIT_CODES)
