"""WeCom (企业微信) group robot.

Followed: WeCom developer docs, "群机器人配置说明" (group robot configuration). The robot URL is
``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY`` (the key is the credential, so the
URL is a secret). Markdown payload ``{"msgtype": "markdown", "markdown": {"content": ...}}``,
content at most 4096 UTF-8 bytes. The answer is HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}``;
a non-zero ``errcode`` is a failure: 45009 (API frequency limit: 20 messages per minute per robot)
is retryable, anything else (93000 invalid webhook URL, 40008 bad message type…) is permanent.
"""

from __future__ import annotations

from typing import Any

from alerting.notifiers._http import RobotNotifier, check_code, truncate_utf8
from alerting.notifiers.base import Notification

MAX_CONTENT_BYTES = 4096
RATE_LIMIT_CODES = frozenset({45009})


def build_payload(n: Notification) -> dict[str, Any]:
    """The WeCom markdown message for ``n``."""
    content = truncate_utf8(f"**{n.title}**\n{n.text}", MAX_CONTENT_BYTES)
    return {"msgtype": "markdown", "markdown": {"content": content}}


class WecomNotifier(RobotNotifier):
    """Posts markdown to a WeCom group robot."""

    def payload(self, n: Notification, now: float) -> dict[str, Any]:
        """See :func:`build_payload`."""
        return build_payload(n)

    def check(self, data: dict[str, Any]) -> None:
        """``errcode`` 0 is success."""
        check_code(data.get("errcode"), vendor="wecom", rate_limit=RATE_LIMIT_CODES)
