"""Kafka security settings: checked at load with one line naming the settings (no secret in it),
and turned into the same aiokafka arguments for every client. The real TLS and SASL
connections to the broker: ``streams/test_kafka_tls.py``, ``streams/test_kafka_sasl.py``."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from alerting.errors import ConfigError
from alerting.kafka_auth import client_auth
from alerting.settings import load_settings
from alerting.streams.faust_app import faust_settings

PASSWORD = "s3cr3t-pa55"


def test_sasl_needs_a_user_and_password_and_never_shows_the_password() -> None:
    with pytest.raises(ConfigError) as e:
        load_settings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="alerting")
    assert str(e.value) == ("settings: ALERTING_KAFKA_SASL_USERNAME and "
                            "ALERTING_KAFKA_SASL_PASSWORD are required with "
                            "ALERTING_KAFKA_SECURITY_PROTOCOL=SASL_SSL")
    s = load_settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="alerting",
                      kafka_sasl_password=PASSWORD)
    assert PASSWORD not in repr(s) and PASSWORD not in str(s.model_dump())
    kw = client_auth(s)
    assert kw == {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
                  "sasl_plain_username": "alerting", "sasl_plain_password": PASSWORD}


def test_tls_files_are_checked_and_make_one_context(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ALERTING_KAFKA_SSL_CAFILE: no such file"):
        load_settings(kafka_security_protocol="SSL", kafka_ssl_cafile=tmp_path / "ca.pem")
    with pytest.raises(ConfigError, match="_CERTFILE and ALERTING_KAFKA_SSL_KEYFILE go"):
        load_settings(kafka_security_protocol="SSL", kafka_ssl_certfile=__file__)
    garbage = tmp_path / "ca.pem"
    garbage.write_text("not a certificate")
    s = load_settings(kafka_security_protocol="SSL", kafka_ssl_cafile=garbage)
    with pytest.raises(ConfigError, match="cannot be used"):
        client_auth(s)
    s = load_settings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="u",
                      kafka_sasl_password=PASSWORD, kafka_sasl_mechanism="PLAIN",
                      kafka_ssl_check_hostname=False)
    kw = client_auth(s)
    assert kw["security_protocol"] == "SASL_SSL" and kw["sasl_mechanism"] == "PLAIN"
    ctx = kw["ssl_context"]
    assert isinstance(ctx, ssl.SSLContext) and not ctx.check_hostname
    creds = faust_settings(s)["broker_credentials"]
    assert (creds.protocol.value, creds.mechanism.value) == ("SASL_SSL", "PLAIN")
    assert faust_settings(load_settings())["broker_credentials"] is None
    assert client_auth(load_settings()) == {"security_protocol": "PLAINTEXT"}


def test_environment_gives_back_the_same_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    s = load_settings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="alerting",
                      kafka_sasl_password=PASSWORD, redis_prefix="{alerting}:",
                      redis_cluster=True)
    env = s.environment()
    assert "ALERTING_KAFKA_SSL_CAFILE" not in env  # unset stays unset, not the text "None"
    assert env["ALERTING_KAFKA_SASL_PASSWORD"] == PASSWORD
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert load_settings() == s
