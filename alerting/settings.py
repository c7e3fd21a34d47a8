"""Worker settings from the environment (prefix ``ALERTING_``), e.g. ``ALERTING_KAFKA_BOOTSTRAP``.

The consumer-group timeouts default to short values because the Tansu broker answers a JoinGroup
only after ``session_timeout / 2``: with Kafka's usual 10 s a join would take 5 s. On a real
Kafka cluster raise them (e.g. session 10000 ms, heartbeat 3000 ms).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from alerting.errors import ConfigError
from alerting.redis_client import has_hash_tag, parse_sentinels


class Settings(BaseSettings):
    """Everything ``alerting worker`` and ``alerting directory load`` read from the environment."""

    model_config = SettingsConfigDict(env_prefix="ALERTING_", extra="ignore", frozen=True)

    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, "
                                 "comma separated host:port")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="How every Kafka client connects: PLAINTEXT, SSL (TLS), "
        "SASL_PLAINTEXT or SASL_SSL (SASL over TLS)")
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "SCRAM-SHA-512", description="SASL mechanism (with SASL_*)")
    kafka_sasl_username: str | None = Field(None, description="SASL user (with SASL_*)")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password (with "
                                                  "SASL_*; never logged)")
    kafka_ssl_cafile: Path | None = Field(None, description="PEM file of the CA(s) that signed "
                                          "the brokers' certificates (SSL, SASL_SSL; default: "
                                          "the system's CAs)")
    kafka_ssl_certfile: Path | None = Field(None, description="PEM client certificate, for "
                                            "brokers that require mutual TLS")
    kafka_ssl_keyfile: Path | None = Field(None, description="PEM private key of the client "
                                           "certificate")
    kafka_ssl_key_password: SecretStr | None = Field(None, description="Password of the "
                                                     "client key, if encrypted")
    kafka_ssl_check_hostname: bool = Field(True, description="Check that the broker's "
                                           "certificate names the host connected to")
    kafka_acks: Literal["all", "1"] = Field(
        "all", description="What every producer of the worker waits for before a send counts "
        "as written: all (every in-sync replica; an acknowledged task survives the loss of "
        "the partition leader) or 1 (the leader only; lost if the leader fails before its "
        "followers copied it)")
    kafka_idempotence: bool = Field(
        False, description="Idempotent producers (with ALERTING_KAFKA_ACKS=all): a batch "
        "the client sends again after a dropped connection is written once, not twice. Set "
        "true on a real Kafka cluster; off by default because the test broker (Tansu) has "
        "no idempotent producer (the worker then stops at start naming this setting)")
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Redis URL (checkpoints, "
                           "directory, watermark)")
    redis_sentinels: str | None = Field(None, description="Redis Sentinel addresses, comma "
                                        "separated host:port: the client asks them for the "
                                        "master (again after a failover); ALERTING_REDIS_URL "
                                        "then gives only password, database and TLS")
    redis_sentinel_master: str = Field("mymaster", description="The master's name in Sentinel")
    redis_cluster: bool = Field(False, description="ALERTING_REDIS_URL names a node of a Redis "
                                "Cluster; ALERTING_REDIS_PREFIX must then carry a hash tag, "
                                "e.g. {alerting}: (all keys in one slot)")
    redis_prefix: str = Field("alerting:", description="Prefix of every Redis key written")
    group_id: str = Field("alerting", description="Kafka consumer group of the workers")
    topic_transactions: str = Field("transactions", description="Input topic: transactions")
    topic_complaints: str = Field("complaints", description="Input topic: complaints")
    topic_customers: str = Field("customers", description="Input topic: customer profile "
                                 "updates (compacted)")
    topic_managers: str = Field("managers", description="Managers directory topic (compacted)")
    topic_tasks: str = Field("tasks", description="Output topic: tasks (key task_id)")
    topic_dead_letter: str = Field("dead-letter", description="Output topic: rejected events")
    partitions: int = Field(8, ge=1, description="Partitions of topics created if absent")
    rules_path: Path = Field(Path("rules.yaml"), description="The rules file")
    web_host: str = Field("127.0.0.1", description="Address of the worker's web server")
    web_port: int = Field(6066, ge=0, le=65535, description="Port of the worker's web server "
                          "(0 = pick a free port)")
    web_enabled: bool = Field(True, description="Serve health, metrics and the task API")
    checkpoint_events: int = Field(5000, ge=1, description="Checkpoint a partition after this "
                                   "many of its events")
    checkpoint_ms: int = Field(1000, ge=10, description="... or this many milliseconds after "
                               "its last checkpoint")
    watermark: Literal["event", "wall"] = Field("event", description="Timer clock: 'event' = "
                                                "highest event time seen by any worker, "
                                                "'wall' = the wall clock (live)")
    watermark_interval_ms: int = Field(1000, ge=10, description="How often timers are advanced")
    max_batch: int = Field(2000, ge=1, description="Max records per consume batch (bounds the "
                           "time the loop holds the GIL)")
    fetch_max_wait_ms: int = Field(20, ge=1, description="How long the broker may hold a "
                                   "fetch when no data is ready (Kafka answers as soon as data "
                                   "arrives; Tansu polls, so there a record may wait ~half of "
                                   "this, and 20 ms keeps its p99 under 35 ms at 3,000 events/s:"
                                   " see architecture.md)")
    decoder: Literal["c", "python"] = Field("c", description="How the worker decodes records: "
                                            "c (the C decoder, ~2x faster; the Python one when "
                                            "it is not built) or python (same results; to rule "
                                            "the C one out)")
    session_timeout_ms: int = Field(2000, ge=500, description="Consumer group session timeout "
                                    "(Tansu: join takes session/2)")
    heartbeat_interval_ms: int = Field(500, ge=100, description="Consumer heartbeat interval")
    rebalance_timeout_ms: int = Field(2000, ge=500, description="Consumer rebalance timeout")
    request_timeout_ms: int = Field(30000, ge=1000, description="Kafka request timeout")
    connect_timeout_s: float = Field(10.0, gt=0, description="Give up connecting to Kafka or "
                                     "Redis at start after this many seconds")
    dispatch: bool = Field(False, description="Also run the task dispatcher (routing, "
                           "notifications) on the tasks topic in its own consumer group")
    runner: Literal["faust", "asyncio"] = Field("faust", description="What runs the worker "
                                                "process: 'faust' (faust-streaming app: "
                                                "lifecycle, web server, timers, topics) or "
                                                "'asyncio' (the plain fallback); the batch "
                                                "loop is the same")
    log_level: str = Field("warning", description="Log level of the worker")
    log_json: bool = Field(False, description="Write logs as JSON lines (else text); personal "
                           "data and secrets are masked either way")
    rules_watch_interval_s: float = Field(2.0, ge=0, description="How often the rules file is "
                                          "checked for changes (hot reload; 0 = only SIGHUP "
                                          "and POST /-/reload)")

    @field_validator("kafka_bootstrap")
    @classmethod
    def _bootstrap(cls, v: str) -> str:
        for part in v.split(","):
            host, sep, port = part.strip().rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError("must be host:port[,host:port...]")
        return v

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, v: str) -> str:
        if not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return v

    @model_validator(mode="after")
    def _cross_checks(self) -> Settings:
        if self.kafka_security_protocol.startswith("SASL_") and not (
                self.kafka_sasl_username and self.kafka_sasl_password):
            raise ValueError("ALERTING_KAFKA_SASL_USERNAME and ALERTING_KAFKA_SASL_PASSWORD are "
                             "required with ALERTING_KAFKA_SECURITY_PROTOCOL="
                             f"{self.kafka_security_protocol}")
        if self.kafka_idempotence and self.kafka_acks != "all":
            raise ValueError("ALERTING_KAFKA_IDEMPOTENCE=true needs ALERTING_KAFKA_ACKS=all (an "
                             f"idempotent producer waits for every in-sync replica), not "
                             f"{self.kafka_acks}")
        if (self.kafka_ssl_certfile is None) != (self.kafka_ssl_keyfile is None):
            raise ValueError("ALERTING_KAFKA_SSL_CERTFILE and ALERTING_KAFKA_SSL_KEYFILE go "
                             "together")
        if self.redis_cluster and self.redis_sentinels:
            raise ValueError("ALERTING_REDIS_CLUSTER and ALERTING_REDIS_SENTINELS exclude each "
                             "other")
        if self.redis_cluster and not has_hash_tag(self.redis_prefix):
            raise ValueError("ALERTING_REDIS_PREFIX needs a hash tag with ALERTING_REDIS_CLUSTER,"
                             " e.g. {alerting}: (a checkpoint writes several keys in one "
                             "transaction, which a cluster allows only within one slot)")
        for name in ("kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"ALERTING_{name.upper()}: no such file {path}")
        return self

    @field_validator("redis_sentinels")
    @classmethod
    def _sentinels(cls, v: str | None) -> str | None:
        if v:
            parse_sentinels(v)
        return v or None

    def environment(self) -> dict[str, str]:
        """The ``ALERTING_*`` variables that give these settings (to start a worker process
        with them); unset optional ones are left out, secrets are included as they are."""
        out = {}
        for name, value in self.model_dump().items():
            if value is not None:
                if isinstance(value, SecretStr):
                    value = value.get_secret_value()
                out[f"ALERTING_{name.upper()}"] = str(value)
        return out

    def input_topics(self) -> tuple[str, ...]:
        """The co-partitioned input topics, in merge tie-break order."""
        return (self.topic_customers, self.topic_transactions, self.topic_complaints)


def load_settings(**overrides: object) -> Settings:
    """Read the settings from the environment; a bad value raises ``ConfigError`` naming it."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(x) for x in err["loc"])
        if not field:  # a check across settings: its message names them
            raise ConfigError(f"settings: {err['msg'].removeprefix('Value error, ')}") from None
        raise ConfigError(f"setting ALERTING_{field.upper()}: {err['msg']}") from None


def describe_settings() -> str:
    """One line per setting: environment name, default, description (for ``--help``)."""
    lines = []
    for name, f in Settings.model_fields.items():
        lines.append(f"ALERTING_{name.upper()} (default {f.default!s}): {f.description}")
    return "\n".join(lines)
