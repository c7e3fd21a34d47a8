"""The notifier registry: one explicit dict from config ``type`` to factory.

rules.yaml never names an import path; adding a notifier means adding a module and a line here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import httpx

from alerting.errors import ConfigError
from alerting.notifiers.base import Notifier, RetryPolicy
from alerting.notifiers.config import (
    ConsoleConfig,
    DingtalkConfig,
    EmailConfig,
    FeishuConfig,
    FileConfig,
    KafkaConfig,
    NotifierConfig,
    RedisInboxConfig,
    WebhookConfig,
    WecomConfig,
    notifier_names,
    resolve_secret,
)
from alerting.notifiers.console import ConsoleNotifier
from alerting.notifiers.dingtalk import DingtalkNotifier
from alerting.notifiers.email import EmailNotifier
from alerting.notifiers.feishu import FeishuNotifier
from alerting.notifiers.file import FileNotifier
from alerting.notifiers.kafka import KafkaNotifier
from alerting.notifiers.redis_inbox import RedisInboxNotifier
from alerting.notifiers.webhook import WebhookNotifier
from alerting.notifiers.wecom import WecomNotifier


@dataclass(frozen=True, slots=True)
class NotifierDeps:
    """I/O passed in by the worker (tests pass real local servers' clients). ``None`` means
    the notifier creates its own from its config and closes it in ``aclose``."""

    http: httpx.AsyncClient | None = None
    redis: Any | None = None  # redis.asyncio.Redis
    kafka_producer: Any | None = None  # a started aiokafka.AIOKafkaProducer
    # makes an unstarted producer on the worker's own cluster, with its security settings: for
    # kafka notifiers without a ``bootstrap`` of their own (started on first send, theirs)
    kafka_client: Callable[[], Any] | None = None
    stream: TextIO | None = None  # console output (default: sys.stdout)
    clock: Callable[[], float] = time.time  # wall clock for signatures and timestamps


def retry_policy(cfg: Any) -> RetryPolicy:
    """The outbox retry policy configured on a notifier."""
    return RetryPolicy(max_retries=cfg.max_retries, initial=cfg.backoff_initial,
                       maximum=max(cfg.backoff_max, cfg.backoff_initial))


def _console(name: str, cfg: Any, deps: NotifierDeps) -> Notifier:
    assert isinstance(cfg, ConsoleConfig)
    return ConsoleNotifier(name, cfg, deps.stream, retry_policy(cfg))


def _file(name: str, cfg: Any, deps: NotifierDeps) -> Notifier:
    assert isinstance(cfg, FileConfig)
    return FileNotifier(name, cfg, retry_policy(cfg))


def _kafka(name: str, cfg: Any, deps: NotifierDeps) -> Notifier:
    assert isinstance(cfg, KafkaConfig)
    if cfg.bootstrap:  # a cluster of its own: never the worker's producer
        return KafkaNotifier(name, cfg, producer=None, retry=retry_policy(cfg))
    return KafkaNotifier(name, cfg, producer=deps.kafka_producer, retry=retry_policy(cfg),
                         factory=deps.kafka_client)


def _webhook(name: str, cfg: Any, deps: NotifierDeps) -> Notifier:
    assert isinstance(cfg, WebhookConfig)
    return WebhookNotifier(name, cfg, secret=resolve_secret(cfg.secret, field=f"{name}.secret"),
                           client=deps.http, clock=deps.clock, retry=retry_policy(cfg))


def _robot_kwargs(name: str, cfg: Any, deps: NotifierDeps) -> dict[str, Any]:
    url = resolve_secret(cfg.url, field=f"{name}.url")
    if not url or not url.startswith(("http://", "https://")):
        raise ConfigError(f"notifier {name!r}: url must start with http:// or https://")
    return {"url": url, "timeout": cfg.timeout, "client": deps.http, "clock": deps.clock,
            "retry": retry_policy(cfg)}


def _wecom(name: str, cfg: Any, deps: NotifierDeps) -> Notifier:
    assert isinstance(cfg, WecomConfig)
    return WecomNotifier(name, **_robot_kwargs(name, cfg, deps))


def _dingtalk(name: str, cfg: Any, deps: NotifierDeps) -> Notifier:
    assert isinstance(cfg, DingtalkConfig)
    return DingtalkNotifier(name, secret=resolve_secret(cfg.secret, field=f"{name}.secret"),
                            **_robot_kwargs(name, cfg, deps))


def _feishu(name: str, cfg: Any, deps: NotifierDeps) -> Notifier:
    assert isinstance(cfg, FeishuConfig)
    return FeishuNotifier(name, secret=resolve_secret(cfg.secret, field=f"{name}.secret"),
                          fmt=cfg.format, **_robot_kwargs(name, cfg, deps))


def _email(name: str, cfg: Any, deps: NotifierDeps) -> Notifier:
    assert isinstance(cfg, EmailConfig)
    return EmailNotifier(name, cfg, password=resolve_secret(cfg.password, field=f"{name}.password"),
                         retry=retry_policy(cfg))


def _redis_inbox(name: str, cfg: Any, deps: NotifierDeps) -> Notifier:
    assert isinstance(cfg, RedisInboxConfig)
    client, own = deps.redis, False
    if client is None:
        if not cfg.url:
            raise ConfigError(f"notifier {name!r}: redis_inbox needs 'url' (no client given)")
        import redis.asyncio as aioredis

        client, own = aioredis.Redis.from_url(cfg.url), True
    return RedisInboxNotifier(name, cfg, client=client, own_client=own, retry=retry_policy(cfg))


NOTIFIERS: dict[str, Callable[[str, Any, NotifierDeps], Notifier]] = {
    "console": _console,
    "file": _file,
    "kafka": _kafka,
    "webhook": _webhook,
    "wecom": _wecom,
    "dingtalk": _dingtalk,
    "feishu": _feishu,
    "email": _email,
    "redis_inbox": _redis_inbox,
}


def build_notifier(name: str, cfg: NotifierConfig, deps: NotifierDeps) -> Notifier:
    """Build the notifier for ``cfg`` named ``name``; ConfigError on a missing secret/setting."""
    factory = NOTIFIERS.get(cfg.type)
    if factory is None:
        raise ConfigError(f"notifier {name!r}: unknown type {cfg.type!r}")
    notifier = factory(name, cfg, deps)
    # Read by the Outbox (per-notifier bound on sends in flight); not part of the Protocol.
    setattr(notifier, "concurrency", cfg.concurrency)  # noqa: B010
    return notifier




def build_receivers(
    receivers: Mapping[str, Sequence[NotifierConfig]], deps: NotifierDeps
) -> dict[str, list[Notifier]]:
    """Build every receiver's notifiers: ``{receiver: [Notifier...]}`` (input for the Outbox).
    Names are unique across receivers (ConfigError otherwise: they key the outbox items)."""
    out: dict[str, list[Notifier]] = {}
    seen: set[str] = set()
    for receiver, cfgs in receivers.items():
        built = []
        for name, cfg in zip(notifier_names(receiver, cfgs), cfgs, strict=True):
            if name in seen:
                raise ConfigError(f"receiver {receiver!r}: notifier name {name!r} is used twice")
            seen.add(name)
            built.append(build_notifier(name, cfg, deps))
        out[receiver] = built
    return out
