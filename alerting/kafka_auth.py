"""How a Kafka client authenticates: the worker's ``ALERTING_KAFKA_SECURITY_PROTOCOL``,
``..._SASL_*`` and ``..._SSL_*`` settings, or a kafka notifier's own ``security_protocol``,
``sasl_*`` and ``ssl_*`` fields, turned into aiokafka's keyword arguments (consumer, producer,
admin client) and into faust's ``broker_credentials``, in one place so that no client is left
on plaintext. Bank clusters usually require SASL_SSL (SCRAM) or mutual TLS.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiokafka.helpers import create_ssl_context

from alerting.errors import ConfigError

if TYPE_CHECKING:
    from alerting.settings import Settings


@dataclass(frozen=True)
class KafkaSecurity:
    """One client's security, whatever configured it. ``files`` names the settings or fields
    of the TLS files, for the error message."""

    protocol: str = "PLAINTEXT"
    mechanism: str = "SCRAM-SHA-512"
    username: str | None = None
    password: str | None = None
    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    key_password: str | None = None
    check_hostname: bool = True
    files: str = "ALERTING_KAFKA_SSL_CAFILE / _CERTFILE / _KEYFILE"

    @classmethod
    def of(cls, s: Settings) -> KafkaSecurity:
        """The worker's security from its settings (already checked by ``Settings``)."""
        def text(v: Any) -> str | None:
            return None if v is None else str(v)
        return cls(s.kafka_security_protocol, s.kafka_sasl_mechanism, s.kafka_sasl_username,
                   s.kafka_sasl_password.get_secret_value() if s.kafka_sasl_password else None,
                   text(s.kafka_ssl_cafile), text(s.kafka_ssl_certfile),
                   text(s.kafka_ssl_keyfile),
                   s.kafka_ssl_key_password.get_secret_value() if s.kafka_ssl_key_password
                   else None, s.kafka_ssl_check_hostname)


def _security(s: Settings | KafkaSecurity) -> KafkaSecurity:
    return s if isinstance(s, KafkaSecurity) else KafkaSecurity.of(s)


def ssl_context(s: Settings | KafkaSecurity) -> ssl.SSLContext | None:
    """The TLS context of SSL / SASL_SSL (None for the plaintext protocols); ConfigError naming
    the settings when a file cannot be used (no secret in the message)."""
    sec = _security(s)
    if not sec.protocol.endswith("SSL"):
        return None
    try:
        ctx = create_ssl_context(cafile=sec.cafile, certfile=sec.certfile, keyfile=sec.keyfile,
                                 password=sec.key_password)
    except (ssl.SSLError, OSError) as e:
        raise ConfigError(f"{sec.files}: cannot be used "
                          f"({type(e).__name__}: {e.strerror or e.args[0]})") from None
    ctx.check_hostname = sec.check_hostname
    return ctx


def client_auth(s: Settings | KafkaSecurity) -> dict[str, Any]:
    """aiokafka keyword arguments for the security protocol."""
    sec = _security(s)
    kw: dict[str, Any] = {"security_protocol": sec.protocol}
    ctx = ssl_context(sec)
    if ctx is not None:
        kw["ssl_context"] = ctx
    if sec.protocol.startswith("SASL_"):
        kw.update(sasl_mechanism=sec.mechanism, sasl_plain_username=sec.username,
                  sasl_plain_password=sec.password)
    return kw


def faust_credentials(s: Settings) -> Any:
    """faust's ``broker_credentials`` for the worker (None for PLAINTEXT)."""
    import faust

    sec = KafkaSecurity.of(s)
    if sec.protocol == "PLAINTEXT":
        return None
    ctx = ssl_context(sec)
    if sec.protocol == "SSL":
        return faust.SSLCredentials(ctx)
    return faust.SASLCredentials(username=sec.username, password=sec.password,
                                 ssl_context=ctx, mechanism=sec.mechanism)
