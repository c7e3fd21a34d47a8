"""How every Kafka client of a worker authenticates: the ``ALERTING_KAFKA_SECURITY_PROTOCOL``,
``..._SASL_*`` and ``..._SSL_*`` settings turned into aiokafka's keyword arguments (the consumer,
the producer, the admin client) and into faust's ``broker_credentials``, in one place so that
no client is left on plaintext. Bank clusters usually require SASL_SSL (SCRAM) or mutual TLS.
"""

from __future__ import annotations

import ssl
from typing import Any

from aiokafka.helpers import create_ssl_context

from alerting.errors import ConfigError
from alerting.settings import Settings


def ssl_context(s: Settings) -> ssl.SSLContext | None:
    """The TLS context of SSL / SASL_SSL (None for the plaintext protocols); ConfigError naming
    the setting when a file cannot be used (no secret in the message)."""
    if not s.kafka_security_protocol.endswith("SSL"):
        return None
    key_password = s.kafka_ssl_key_password
    try:
        ctx = create_ssl_context(
            cafile=str(s.kafka_ssl_cafile) if s.kafka_ssl_cafile else None,
            certfile=str(s.kafka_ssl_certfile) if s.kafka_ssl_certfile else None,
            keyfile=str(s.kafka_ssl_keyfile) if s.kafka_ssl_keyfile else None,
            password=key_password.get_secret_value() if key_password else None)
    except (ssl.SSLError, OSError) as e:
        raise ConfigError("setting ALERTING_KAFKA_SSL_CAFILE / _CERTFILE / _KEYFILE: "
                          f"cannot be used ({type(e).__name__}: {e.strerror or e.args[0]})"
                          ) from None
    ctx.check_hostname = s.kafka_ssl_check_hostname
    return ctx


def client_auth(s: Settings) -> dict[str, Any]:
    """aiokafka keyword arguments for ``s``'s security protocol."""
    kw: dict[str, Any] = {"security_protocol": s.kafka_security_protocol}
    ctx = ssl_context(s)
    if ctx is not None:
        kw["ssl_context"] = ctx
    if s.kafka_security_protocol.startswith("SASL_"):
        assert s.kafka_sasl_password is not None  # checked by Settings
        kw.update(sasl_mechanism=s.kafka_sasl_mechanism,
                  sasl_plain_username=s.kafka_sasl_username,
                  sasl_plain_password=s.kafka_sasl_password.get_secret_value())
    return kw


def faust_credentials(s: Settings) -> Any:
    """faust's ``broker_credentials`` for ``s`` (None for PLAINTEXT)."""
    import faust

    if s.kafka_security_protocol == "PLAINTEXT":
        return None
    ctx = ssl_context(s)
    if s.kafka_security_protocol == "SSL":
        return faust.SSLCredentials(ctx)
    assert s.kafka_sasl_password is not None  # checked by Settings
    return faust.SASLCredentials(username=s.kafka_sasl_username,
                                 password=s.kafka_sasl_password.get_secret_value(),
                                 ssl_context=ctx, mechanism=s.kafka_sasl_mechanism)
