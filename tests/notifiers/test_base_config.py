"""The Notification contract, the config models, secret handling and the registry."""

from __future__ import annotations

import io
import logging

import pytest
from pydantic import TypeAdapter, ValidationError

from alerting.errors import ConfigError, PermanentNotifierError
from alerting.notifiers.base import Notification, Notifier, RetryPolicy
from alerting.notifiers.config import (
    DingtalkConfig,
    NotifierConfig,
    WebhookConfig,
    parse_seconds,
    resolve_secret,
)
from alerting.notifiers.registry import (
    NOTIFIERS,
    NotifierDeps,
    build_notifier,
    build_receivers,
    notifier_names,
)

CFG: TypeAdapter[NotifierConfig] = TypeAdapter(NotifierConfig)


def test_notification_round_trips_through_json(make_notification):
    n = make_notification()
    again = Notification.from_json(n.to_json())
    assert again == n
    assert isinstance(again.tasks, tuple)
    assert n.to_dict()["tasks"] == [dict(t) for t in n.tasks]


def test_notification_from_bad_dict_is_permanent(make_notification):
    d = make_notification().to_dict()
    with pytest.raises(PermanentNotifierError, match="unknown fields"):
        Notification.from_dict({**d, "extra": 1})
    del d["title"]
    with pytest.raises(PermanentNotifierError, match="malformed"):
        Notification.from_dict(d)
    with pytest.raises(PermanentNotifierError):
        Notification.from_json(b"[1]")


def test_retry_policy_grows_exponentially_with_jitter_and_cap():
    p = RetryPolicy(max_retries=5, initial=2.0, maximum=10.0)
    assert p.delay(1, 0.0) == 1.0 and p.delay(1, 0.999) == pytest.approx(2.0, abs=0.01)
    assert p.delay(2, 0.0) == 2.0
    assert p.delay(3, 0.5) == pytest.approx(6.0)
    assert p.delay(10, 0.0) == 5.0 and p.delay(10, 0.999) < 10.0


def test_config_errors_point_at_type_and_field():
    with pytest.raises(ValidationError) as e:
        CFG.validate_python({"type": "webhook", "url": "http://x", "secet": "s"})
    assert "webhook.secet" in str(e.value)
    with pytest.raises(ValidationError) as e:
        CFG.validate_python({"type": "pager"})
    assert "pager" in str(e.value)
    with pytest.raises(ValidationError):
        CFG.validate_python({"type": "webhook", "url": "ftp://x"})


def test_durations_accept_strings():
    cfg = CFG.validate_python({"type": "webhook", "url": "http://x", "timeout": "500ms",
                               "backoff_initial": "30s", "backoff_max": "1h"})
    assert isinstance(cfg, WebhookConfig)
    assert (cfg.timeout, cfg.backoff_initial, cfg.backoff_max) == (0.5, 30.0, 3600.0)
    assert parse_seconds(2) == 2.0
    with pytest.raises(ValueError):
        parse_seconds("soon")


def test_env_secret_is_resolved_and_missing_env_is_a_config_error(monkeypatch):
    cfg = CFG.validate_python({"type": "dingtalk", "url": "env:T_DT_URL", "secret": "env:T_DT"})
    assert isinstance(cfg, DingtalkConfig)
    monkeypatch.setenv("T_DT_URL", "https://robot.example/send?access_token=abc")
    with pytest.raises(ConfigError) as e:
        build_notifier("dt", cfg, NotifierDeps())
    assert "T_DT" in str(e.value) and "abc" not in str(e.value)
    monkeypatch.setenv("T_DT", "SECsupersecret")
    assert resolve_secret(cfg.secret, field="x") == "SECsupersecret"


async def test_secrets_never_in_repr_or_logs(monkeypatch, caplog):
    secret, token = "SEC-very-secret-1234", "tok-5678-robot-key"
    cfgs = [
        {"type": "webhook", "url": "http://127.0.0.1:9/h", "secret": secret},
        {"type": "dingtalk", "url": f"https://r.example/send?access_token={token}",
         "secret": secret},
        {"type": "feishu", "url": f"https://r.example/hook/{token}", "secret": secret},
        {"type": "wecom", "url": f"https://r.example/send?key={token}"},
        {"type": "email", "host": "127.0.0.1", "from": "a@b.example", "username": "u",
         "password": secret},
    ]
    caplog.set_level(logging.DEBUG)
    for raw in cfgs:
        cfg = CFG.validate_python(raw)
        n = build_notifier("x", cfg, NotifierDeps())
        for text in (repr(cfg), str(cfg), repr(n), cfg.model_dump_json()):
            assert secret not in text and token not in text
        await n.aclose()
    assert secret not in caplog.text and token not in caplog.text


async def test_registry_builds_every_type_and_names_are_unique(tmp_path):
    raws = [
        {"type": "console"},
        {"type": "file", "path": str(tmp_path / "n.jsonl")},
        {"type": "kafka", "topic": "t", "bootstrap": "127.0.0.1:9"},
        {"type": "webhook", "url": "http://127.0.0.1:9/"},
        {"type": "wecom", "url": "http://127.0.0.1:9/"},
        {"type": "dingtalk", "url": "http://127.0.0.1:9/"},
        {"type": "feishu", "url": "http://127.0.0.1:9/"},
        {"type": "email", "host": "h", "from": "a@b.example"},
        {"type": "redis_inbox", "url": "redis://127.0.0.1:6379/0"},
    ]
    cfgs = [CFG.validate_python(r) for r in raws]
    assert {c.type for c in cfgs} == set(NOTIFIERS)
    built = build_receivers({"r": cfgs}, NotifierDeps(stream=io.StringIO()))
    assert [n.name for n in built["r"]] == [f"r.{c.type}" for c in cfgs]
    for n in built["r"]:
        assert isinstance(n, Notifier)
        await n.aclose()
    two = [CFG.validate_python({"type": "console"}), CFG.validate_python({"type": "console"})]
    assert notifier_names("r", two) == ["r.console", "r.console.2"]
    named = CFG.validate_python({"type": "console", "name": "same"})
    with pytest.raises(ConfigError, match="used twice"):
        build_receivers({"a": [named], "b": [named]}, NotifierDeps())


def test_kafka_without_bootstrap_or_producer_is_a_config_error():
    cfg = CFG.validate_python({"type": "kafka", "topic": "t"})
    with pytest.raises(ConfigError, match="bootstrap"):
        build_notifier("k", cfg, NotifierDeps())
