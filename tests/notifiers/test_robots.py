"""WeCom, DingTalk and Feishu robots against a real local HTTP server that checks payloads and
signatures the way the vendors document it. The vendor endpoints themselves are on the internet
and cannot be reached from here, so this local emulation is what is tested."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from pydantic import TypeAdapter

from alerting.errors import PermanentNotifierError
from alerting.notifiers._http import RateLimited
from alerting.notifiers.config import NotifierConfig
from alerting.notifiers.registry import NotifierDeps, build_notifier

pytestmark = pytest.mark.integration
CFG: TypeAdapter[NotifierConfig] = TypeAdapter(NotifierConfig)
SECRET = "SEC0123456789abcdef"
KEY = "robot-key-693a"


def wecom_vendor(rec):
    """WeCom group robot: key in the query, markdown content ≤ 4096 bytes."""
    if rec.query.get("key") != KEY:
        return 200, {"errcode": 93000, "errmsg": "invalid webhook url"}, {}
    body = json.loads(rec.body)
    content = body.get("markdown", {}).get("content")
    if body.get("msgtype") != "markdown" or not isinstance(content, str):
        return 200, {"errcode": 40008, "errmsg": "invalid message type"}, {}
    if len(content.encode()) > 4096:
        return 200, {"errcode": 40058, "errmsg": "content exceed max length"}, {}
    return 200, {"errcode": 0, "errmsg": "ok"}, {}


def dingtalk_vendor(rec):
    """DingTalk robot with 加签: timestamp (ms, ±1 h) and sign in the query."""
    ts = rec.query.get("timestamp", "")
    expected = base64.b64encode(hmac.new(SECRET.encode(), f"{ts}\n{SECRET}".encode(),
                                         hashlib.sha256).digest()).decode()
    fresh = ts.isdigit() and abs(int(ts) - time.time() * 1000) < 3600_000
    if rec.query.get("access_token") != KEY or not fresh or rec.query.get("sign") != expected:
        return 200, {"errcode": 310000, "errmsg": "sign not match"}, {}
    body = json.loads(rec.body)
    md = body.get("markdown", {})
    if body.get("msgtype") != "markdown" or not md.get("title") or not md.get("text"):
        return 200, {"errcode": 40035, "errmsg": "missing parameter"}, {}
    return 200, {"errcode": 0, "errmsg": "ok"}, {}


def feishu_vendor(rec):
    """Feishu custom bot with signature verification: timestamp (s) and sign in the body."""
    body = json.loads(rec.body)
    ts = body.get("timestamp", "")
    key = f"{ts}\n{SECRET}".encode()
    expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    fresh = ts.isdigit() and abs(int(ts) - time.time()) < 3600
    if not rec.path.endswith(KEY) or not fresh or body.get("sign") != expected:
        return 200, {"code": 19021, "msg": "sign match fail or timestamp out of range"}, {}
    if body.get("msg_type") == "text" and isinstance(body.get("content", {}).get("text"), str):
        return 200, {"code": 0, "msg": "success", "data": {}}, {}
    card = body.get("card", {})
    if body.get("msg_type") == "interactive" and card.get("elements"):
        return 200, {"code": 0, "msg": "success", "data": {}}, {}
    return 200, {"code": 9499, "msg": "Bad Request"}, {}


async def build(raw):
    return build_notifier("robot", CFG.validate_python(raw), NotifierDeps())


async def test_wecom_markdown_accepted_and_long_text_truncated(http_server, make_notification):
    http_server.responder = wecom_vendor
    bot = await build({"type": "wecom", "url": f"{http_server.base_url}/cgi-bin/webhook/send"
                                               f"?key={KEY}"})
    await bot.send(make_notification(text="很长的内容" * 2000))
    body = json.loads(http_server.received[-1].body)
    assert body["markdown"]["content"].startswith("**大额取款提醒")
    wrong = await build({"type": "wecom", "url": f"{http_server.base_url}/send?key=nope"})
    with pytest.raises(PermanentNotifierError, match="93000"):
        await wrong.send(make_notification())
    for b in (bot, wrong):
        await b.aclose()


async def test_dingtalk_signed_url_is_accepted_and_wrong_secret_rejected(http_server,
                                                                        make_notification):
    http_server.responder = dingtalk_vendor
    url = f"{http_server.base_url}/robot/send?access_token={KEY}"
    bot = await build({"type": "dingtalk", "url": url, "secret": SECRET})
    n = make_notification()
    await bot.send(n)
    body = json.loads(http_server.received[-1].body)
    assert body["markdown"]["title"] == n.title and n.text in body["markdown"]["text"]
    bad = await build({"type": "dingtalk", "url": url, "secret": "SECwrong"})
    with pytest.raises(PermanentNotifierError, match="310000"):
        await bad.send(n)
    for b in (bot, bad):
        await b.aclose()


@pytest.mark.parametrize("fmt", ["text", "interactive"])
async def test_feishu_signed_body_is_accepted(http_server, make_notification, fmt):
    http_server.responder = feishu_vendor
    url = f"{http_server.base_url}/open-apis/bot/v2/hook/{KEY}"
    bot = await build({"type": "feishu", "url": url, "secret": SECRET, "format": fmt})
    await bot.send(make_notification())
    bad = await build({"type": "feishu", "url": url, "secret": "other", "format": fmt})
    with pytest.raises(PermanentNotifierError, match="19021"):
        await bad.send(make_notification())
    for b in (bot, bad):
        await b.aclose()


@pytest.mark.parametrize(("kind", "answer"), [
    ("wecom", {"errcode": 45009, "errmsg": "api freq out of limit"}),
    ("dingtalk", {"errcode": 130101, "errmsg": "send too fast"}),
    ("feishu", {"code": 11232, "msg": "frequency limited"}),
])
async def test_vendor_rate_limit_codes_are_retryable(http_server, make_notification, kind,
                                                     answer):
    http_server.responder = lambda rec: (200, answer, {})
    bot = await build({"type": kind, "url": f"{http_server.base_url}/x"})
    with pytest.raises(RateLimited):
        await bot.send(make_notification())
    await bot.aclose()


async def test_robot_non_json_answer_is_permanent(http_server, make_notification):
    http_server.responder = lambda rec: (200, None, {})
    bot = await build({"type": "dingtalk", "url": f"{http_server.base_url}/x"})
    await bot.send(make_notification())  # empty body counts as {} (no error code)
    http_server.responder = lambda rec: (200, ["x"], {})
    with pytest.raises(PermanentNotifierError, match="non-object"):
        await bot.send(make_notification())
    await bot.aclose()
