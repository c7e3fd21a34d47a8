"""Signed tokens and CSRF tokens."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from alerting.errors import ConfigError
from alerting.web.auth import (
    AuthError,
    check_csrf,
    csrf_token,
    issue_token,
    secret_from_env,
    verify_token,
)

S = SecretStr("s" * 32)


def test_round_trip_and_expiry() -> None:
    tok = issue_token(S, "mgr.001@branch-7", now=1000, ttl_s=60)
    assert tok.startswith("mgr.001@branch-7.1060.")
    assert verify_token(S, tok, now=1059) == "mgr.001@branch-7"
    with pytest.raises(AuthError, match="expired"):
        verify_token(S, tok, now=1060)


@pytest.mark.parametrize("bad", ["", "m1", "m1.123", "m1.abc.sig", "m1.99999999999.AAAA"])
def test_malformed_or_unsigned_tokens_are_refused(bad: str) -> None:
    with pytest.raises(AuthError):
        verify_token(S, bad, now=0)


def test_tampering_with_id_or_expiry_breaks_the_signature() -> None:
    tok = issue_token(S, "m1", now=0, ttl_s=60)
    _, expiry, sig = tok.split(".")
    with pytest.raises(AuthError, match="signature"):
        verify_token(S, f"m2.{expiry}.{sig}", now=0)
    with pytest.raises(AuthError, match="signature"):
        verify_token(S, f"m1.{int(expiry) + 10**6}.{sig}", now=0)
    with pytest.raises(AuthError, match="signature"):
        verify_token(SecretStr("t" * 32), tok, now=0)


def test_error_messages_never_echo_the_token() -> None:
    tok = issue_token(S, "m1", now=0, ttl_s=60)
    with pytest.raises(AuthError) as e:
        verify_token(SecretStr("t" * 32), tok, now=0)
    assert tok.rsplit(".", 1)[1] not in str(e.value)


@pytest.mark.parametrize("manager_id", ["", "a b", "x" * 129, "m1\n"])
def test_issue_refuses_odd_ids_and_lifetimes(manager_id: str) -> None:
    with pytest.raises(ConfigError):
        issue_token(S, manager_id, now=0)
    with pytest.raises(ConfigError):
        issue_token(S, "m1", now=0, ttl_s=0)


def test_csrf_is_bound_to_the_session() -> None:
    a, b = issue_token(S, "m1", now=0), issue_token(S, "m1", now=1)
    assert check_csrf(S, a, csrf_token(S, a))
    assert not check_csrf(S, b, csrf_token(S, a))
    assert not check_csrf(S, a, "")


def test_secret_from_env() -> None:
    assert secret_from_env({"ALERTING_API_SECRET": "k" * 16}).get_secret_value() == "k" * 16
    with pytest.raises(ConfigError):
        secret_from_env({"ALERTING_API_SECRET": "short"})
    with pytest.raises(ConfigError):
        secret_from_env({})
