"""``alerting run --notify``: the embedded run pushes its tasks through the routing tree of the
rules file to a real local webhook server, signed, grouped per assignee, and retried when the
receiver fails for a while."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import sys
from pathlib import Path

import orjson
import pytest
from aiohttp import web
from local_http import serve

from alerting.tasks import Task

SECRET = "a-webhook-secret-of-some-length"
ROUTING = """
routing:
  route:
    receiver: managers
    group_by: [assignee]
    group_wait: 30s
  receivers:
    - name: managers
      notifiers:
        - {type: webhook, url: "URL", secret: "env:HOOK_SECRET", backoff_initial: 0.2,
           backoff_max: 0.5, max_retries: 10}
"""


class Hook:
    """A webhook receiver that verifies the signature; fails the first ``fail`` requests."""

    def __init__(self, fail: int) -> None:
        self.fail = fail
        self.bodies: list[dict] = []
        self.bad_signatures = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        ts = request.headers["X-Alerting-Timestamp"]
        sig = request.headers["X-Alerting-Signature"].removeprefix("sha256=")
        mac = hmac.new(SECRET.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mac, sig):
            self.bad_signatures += 1
            return web.Response(status=401)
        if self.fail > 0:
            self.fail -= 1
            return web.Response(status=503)
        self.bodies.append(orjson.loads(body))
        return web.Response(text="ok")


@pytest.mark.integration
async def test_run_notify_delivers_grouped_signed_tasks(bank: Path, rules_small: Path,
                                                        tmp_path: Path) -> None:
    hook = Hook(fail=2)
    app = web.Application()
    app.router.add_post("/hook", hook.handle)
    async with serve(app) as url:
        rules = tmp_path / "rules.yaml"
        rules.write_text(rules_small.read_text(encoding="utf-8")
                         + ROUTING.replace("URL", f"{url}/hook"),
                         encoding="utf-8")
        out = tmp_path / "tasks.jsonl"
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "alerting.cli", "run", "--rules", str(rules),
            "--events", str(bank / "events.jsonl.gz"), "--customers", str(bank / "customers.csv"),
            "--managers", str(bank / "managers.csv"), "--out", str(out), "--quiet", "--notify",
            env={"HOOK_SECRET": SECRET, "PATH": "/usr/bin:/bin"},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=120)
        assert proc.returncode == 0, stderr.decode()
    final = {}
    for line in out.read_bytes().splitlines():
        t = Task.from_json(line)
        final[t.task_id] = t
    assert hook.bad_signatures == 0
    delivered = [t["task_id"] for body in hook.bodies for t in body["tasks"]]
    # every task reached the webhook exactly once, despite the two 503s at the start
    assert sorted(delivered) == sorted(final)
    # grouped: one notification per assignee
    recipients = [body["recipient_id"] for body in hook.bodies]
    assert len(recipients) == len(set(recipients)) < len(delivered)
    assert b"retried 2" in stdout and b"queued 0" in stdout
