"""Notifier configuration: one pydantic model per notifier type, discriminated by ``type``.

Used inside ``routing.receivers[].notifiers`` of rules.yaml. Secrets (passwords, HMAC keys, robot
URLs that carry an access token) are ``SecretStr`` and may be written as ``env:VAR_NAME`` so the
rules file holds no secret; :func:`resolve_secret` reads the variable when the notifier is built.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from alerting.durations import parse_seconds
from alerting.errors import ConfigError

Seconds = Annotated[float, Field(ge=0)]


class _Base(BaseModel):
    """Fields every notifier has: an optional instance name and the outbox retry policy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(None, pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    max_retries: int = Field(8, ge=0, le=100)  # after the first attempt; then dead-letter
    backoff_initial: Annotated[float, Field(gt=0)] = 5.0  # > 0: a retry is never due at once
    backoff_max: Seconds = 900.0
    concurrency: int = Field(4, ge=1, le=256)  # sends in flight at once for this notifier

    @field_validator("backoff_initial", "backoff_max", mode="before")
    @classmethod
    def _duration(cls, v: object) -> float:
        return parse_seconds(v)


class _HttpBase(_Base):
    timeout: Seconds = 10.0

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout(cls, v: object) -> float:
        return parse_seconds(v)


class ConsoleConfig(_Base):
    """Print to standard output (or the stream passed in)."""

    type: Literal["console"]
    max_retries: int = Field(0, ge=0, le=100)


class FileConfig(_Base):
    """Append one JSON object per line to ``path``."""

    type: Literal["file"]
    path: str = Field(min_length=1)
    fsync: bool = False


class KafkaConfig(_Base):
    """Produce the notification JSON to a Kafka topic (key = recipient id or first task id).
    Without ``bootstrap``: the worker's own cluster and security settings; with one: that
    cluster, with the security fields below (as the worker's ``ALERTING_KAFKA_*`` settings)."""

    type: Literal["kafka"]
    topic: str = Field(min_length=1)
    bootstrap: str | None = None  # needed unless the worker lends its cluster
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_key_password: SecretStr | None = None
    ssl_check_hostname: bool = True

    @model_validator(mode="after")
    def _security(self) -> KafkaConfig:
        secured = (self.security_protocol != "PLAINTEXT" or self.sasl_username is not None
                   or self.ssl_cafile is not None or self.ssl_certfile is not None)
        if secured and not self.bootstrap:
            raise ValueError("security settings need a bootstrap of the notifier's own (without "
                             "one it uses the worker's cluster and security)")
        if self.security_protocol.startswith("SASL_") and not (
                self.sasl_username and self.sasl_password):
            raise ValueError(f"sasl_username and sasl_password are required with "
                             f"security_protocol {self.security_protocol}")
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError("ssl_certfile and ssl_keyfile go together")
        return self


class WebhookConfig(_HttpBase):
    """POST the notification JSON, signed with HMAC-SHA256 (see alerting.notifiers.webhook)."""

    type: Literal["webhook"]
    url: str = Field(pattern=r"^https?://")
    secret: SecretStr | None = None
    headers: dict[str, str] = Field(default_factory=dict)


class WecomConfig(_HttpBase):
    """WeCom (企业微信) group robot. ``url`` carries the robot key, hence a secret."""

    type: Literal["wecom"]
    url: SecretStr


class DingtalkConfig(_HttpBase):
    """DingTalk (钉钉) custom robot; ``secret`` is the 加签 key (SEC…)."""

    type: Literal["dingtalk"]
    url: SecretStr
    secret: SecretStr | None = None


class FeishuConfig(_HttpBase):
    """Feishu / Lark custom bot; ``secret`` is the signature-verification key."""

    type: Literal["feishu"]
    url: SecretStr
    secret: SecretStr | None = None
    format: Literal["text", "interactive"] = "interactive"


class EmailConfig(_HttpBase):
    """E-mail over SMTP, text + HTML."""

    type: Literal["email"]
    host: str = Field(min_length=1)
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    from_: str = Field(alias="from", min_length=3)
    to_override: list[str] | None = None  # send here instead of the recipient's address
    cc: list[str] = Field(default_factory=list)
    ca_file: str | None = None  # extra CA bundle (a private relay's self-signed certificate)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class RedisInboxConfig(_Base):
    """A capped Redis list per manager: ``{prefix}inbox:{manager_id}``, newest first."""

    type: Literal["redis_inbox"]
    url: str | None = None  # needed unless the worker passes its Redis client in
    prefix: str = "alerting:"
    max_len: int = Field(500, ge=1, le=100_000)


NotifierConfig = Annotated[
    ConsoleConfig
    | FileConfig
    | KafkaConfig
    | WebhookConfig
    | WecomConfig
    | DingtalkConfig
    | FeishuConfig
    | EmailConfig
    | RedisInboxConfig,
    Field(discriminator="type"),
]


def resolve_secret(value: SecretStr | None, *, field: str) -> str | None:
    """The secret's value; ``env:NAME`` reads environment variable NAME (ConfigError if unset).
    The error names the field and the variable, never a value."""
    if value is None:
        return None
    raw = value.get_secret_value()
    if raw.startswith("env:"):
        var = raw[4:]
        got = os.environ.get(var)
        if not got:
            raise ConfigError(f"{field}: environment variable {var!r} is not set")
        return got
    return raw


def notifier_names(receiver: str, cfgs: Sequence[NotifierConfig]) -> list[str]:
    """Instance names for a receiver's notifiers: ``cfg.name`` or ``{receiver}.{type}``
    (``.2``, ``.3``… appended for repeated types). Bounded: they come from the config."""
    names: list[str] = []
    for cfg in cfgs:
        base = cfg.name or f"{receiver}.{cfg.type}"
        name, i = base, 1
        while name in names:
            i += 1
            name = f"{base}.{i}"
        names.append(name)
    return names
