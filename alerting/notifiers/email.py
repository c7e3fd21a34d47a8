"""E-mail over SMTP: multipart/alternative with a plain-text and an (escaped) HTML part.

Uses the standard library's ``smtplib`` in a worker thread (``asyncio.to_thread``) so no extra
dependency is needed. Security: ``starttls`` (submission, port 587), ``ssl`` (implicit TLS, port
465) or ``none`` (local relays and tests only). Errors are translated here: connection errors,
timeouts and SMTP 4xx replies are retryable; 5xx replies (bad address, auth refused) are permanent.
Messages carry only the reply code, never the server's text (it may echo an address).
"""

from __future__ import annotations

import asyncio
import html
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from alerting.errors import ConfigError, PermanentNotifierError, RetryableNotifierError
from alerting.notifiers.base import Notification, RetryPolicy
from alerting.notifiers.config import EmailConfig


def build_message(n: Notification, *, sender: str, to: list[str], cc: list[str]) -> EmailMessage:
    """The MIME message: subject = title, text part = Markdown text, HTML part = escaped text."""
    msg = EmailMessage()
    msg["Subject"] = n.title
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    msg["X-Alerting-Notification-Id"] = n.notification_id
    msg.set_content(n.text)
    lang = "zh-CN" if n.locale == "zh" else "en"
    body = "<br>\n".join(html.escape(line) for line in n.text.splitlines())
    msg.add_alternative(
        f'<!doctype html><html lang="{lang}"><body>'
        f"<h3>{html.escape(n.title)}</h3><p>{body}</p></body></html>",
        subtype="html",
    )
    return msg


def _smtp_error(exc: smtplib.SMTPException | OSError) -> Exception:
    code = getattr(exc, "smtp_code", None)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [c for c, _ in exc.recipients.values()]
        code = min(codes) if codes else None
    if isinstance(code, int) and 500 <= code < 600:
        return PermanentNotifierError(f"smtp refused ({code})")
    if isinstance(code, int):
        return RetryableNotifierError(f"smtp temporary failure ({code})")
    return RetryableNotifierError(f"smtp connection error ({type(exc).__name__})")


class EmailNotifier:
    """Sends each notification as one e-mail to the recipient (or the configured override)."""

    def __init__(self, name: str, cfg: EmailConfig, *, password: str | None,
                 retry: RetryPolicy) -> None:
        self.name = name
        self.retry = retry
        self._cfg = cfg
        self._password = password
        try:
            self._ssl = ssl.create_default_context(cafile=cfg.ca_file)
        except (OSError, ssl.SSLError) as exc:
            why = type(exc).__name__
            raise ConfigError(f"notifier {name!r}: ca_file unusable ({why})") from None

    def __repr__(self) -> str:
        return f"EmailNotifier(name={self.name!r}, host={self._cfg.host!r})"

    def recipients(self, n: Notification) -> list[str]:
        """``to_override`` if configured, else the recipient's address; Permanent if none."""
        if self._cfg.to_override:
            return list(self._cfg.to_override)
        if not n.recipient_email:
            raise PermanentNotifierError("recipient has no e-mail address")
        return [n.recipient_email]

    def _connect(self) -> smtplib.SMTP:
        c = self._cfg
        if c.security == "ssl":
            return smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=self._ssl)
        smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
        if c.security == "starttls":
            smtp.starttls(context=self._ssl)
        return smtp

    def _send_sync(self, msg: EmailMessage, rcpts: list[str]) -> None:
        with self._connect() as smtp:
            if self._cfg.username:
                smtp.login(self._cfg.username, self._password or "")
            smtp.send_message(msg, from_addr=self._cfg.from_, to_addrs=rcpts)

    async def send(self, n: Notification) -> None:
        """Build and send the message; raises Retryable/Permanent notifier errors."""
        to = self.recipients(n)
        msg = build_message(n, sender=self._cfg.from_, to=to, cc=list(self._cfg.cc))
        try:
            await asyncio.to_thread(self._send_sync, msg, to + list(self._cfg.cc))
        except ssl.SSLCertVerificationError:
            raise PermanentNotifierError("smtp TLS certificate not trusted") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise _smtp_error(exc) from None

    async def aclose(self) -> None:
        """One connection per send: nothing held open."""
