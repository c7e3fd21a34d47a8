"""E-mail notifier against a real SMTP server (aiosmtpd) on a free port: plain, STARTTLS with a
self-signed certificate generated in the test (and AUTH over it), implicit TLS, error mapping."""

from __future__ import annotations

import email
import email.policy
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from pydantic import TypeAdapter

from alerting.errors import PermanentNotifierError, RetryableNotifierError
from alerting.notifiers.config import NotifierConfig
from alerting.notifiers.registry import NotifierDeps, build_notifier

pytestmark = pytest.mark.integration
CFG: TypeAdapter[NotifierConfig] = TypeAdapter(NotifierConfig)


class Mailbox:
    """aiosmtpd handler: keeps messages; refuses addresses starting with 'bad' (550) or
    'later' (451)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], email.message.EmailMessage]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.startswith("bad"):
            return "550 5.1.1 mailbox unavailable"
        if address.startswith("later"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 Message accepted"


def authenticator(server, session, envelope, mechanism, auth_data: Any) -> AuthResult:
    def text(v: Any) -> str:
        return v.decode() if isinstance(v, bytes) else str(v)

    ok = (isinstance(auth_data, LoginPassword) and text(auth_data.login) == "robot"
          and text(auth_data.password) == "s3cret-pw")
    return AuthResult(success=ok, handled=False)


def mailer(port: int, **kw: Any):
    raw = {"type": "email", "host": "127.0.0.1", "port": port, "security": "none",
           "from": "alerts@bank.example", "timeout": 5, **kw}
    return build_notifier("mail", CFG.validate_python(raw), NotifierDeps())


def parts(msg):
    text = msg.get_body(preferencelist=("plain",)).get_content()
    html = msg.get_body(preferencelist=("html",)).get_content()
    return text, html


async def test_plain_smtp_text_and_html(smtp_factory, make_notification):
    box = Mailbox()
    _, port = smtp_factory(box)
    n = make_notification()
    await mailer(port, cc=["desk@bank.example"]).send(n)
    [(sender, rcpts, msg)] = box.messages
    assert sender == "alerts@bank.example"
    assert rcpts == ["wang@bank.example", "desk@bank.example"]
    assert msg["Subject"] == n.title and msg["To"] == "wang@bank.example"
    assert msg["Cc"] == "desk@bank.example"
    assert msg.get_content_type() == "multipart/alternative"
    text, html = parts(msg)
    assert "200000.00" in text and "<客户>" in text
    assert "&lt;客户&gt;" in html and "<客户>" not in html  # body is escaped in HTML


async def test_starttls_with_auth_and_override(smtp_factory, make_notification, tls_files,
                                              server_tls_context):
    box = Mailbox()
    _, port = smtp_factory(box, tls_context=server_tls_context, require_starttls=True,
                           authenticator=authenticator, auth_required=True)
    m = mailer(port, security="starttls", ca_file=tls_files[0], username="robot",
               password="s3cret-pw", to_override=["ops@bank.example"])
    await m.send(make_notification(recipient_email=None))
    [(_, rcpts, _msg)] = box.messages
    assert rcpts == ["ops@bank.example"]
    wrong = mailer(port, security="starttls", ca_file=tls_files[0], username="robot",
                   password="nope", to_override=["ops@bank.example"])
    with pytest.raises(PermanentNotifierError, match="535"):
        await wrong.send(make_notification())
    untrusted = mailer(port, security="starttls")  # system CAs do not trust the test cert
    with pytest.raises(PermanentNotifierError, match="certificate"):
        await untrusted.send(make_notification())


async def test_implicit_tls(smtp_factory, make_notification, tls_files, server_tls_context):
    box = Mailbox()
    _, port = smtp_factory(box, ssl_context=server_tls_context)
    await mailer(port, security="ssl", ca_file=tls_files[0]).send(make_notification())
    assert len(box.messages) == 1


async def test_smtp_error_mapping(smtp_factory, make_notification, free_port):
    box = Mailbox()
    _, port = smtp_factory(box)
    m = mailer(port)
    with pytest.raises(PermanentNotifierError, match="550") as e:
        await m.send(make_notification(recipient_email="bad@bank.example"))
    assert "bad@bank.example" not in str(e.value)
    with pytest.raises(RetryableNotifierError, match="451"):
        await m.send(make_notification(recipient_email="later@bank.example"))
    with pytest.raises(PermanentNotifierError, match="no e-mail"):
        await m.send(make_notification(recipient_email=None))
    with pytest.raises(RetryableNotifierError, match="connection"):
        await mailer(free_port()).send(make_notification())
    assert box.messages == []
