"""Bearer tokens and CSRF tokens for the web app.

A token is ``<manager_id>.<expiry>.<signature>`` where the signature is the base64url
HMAC-SHA256 of ``<manager_id>.<expiry>`` under the server secret (``ALERTING_API_SECRET``).
It is stateless: any worker holding the secret verifies it, and rotating the secret revokes
every token. Signatures are compared in constant time. The browser keeps the token in an
HttpOnly, SameSite=Strict cookie; forms carry a CSRF token derived from the session token, so
a page that cannot read the cookie cannot forge a POST.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re

from pydantic import SecretStr

from alerting.errors import AlertingError, ConfigError

SECRET_ENV = "ALERTING_API_SECRET"
DEFAULT_TTL_S = 30 * 86400
MIN_SECRET_LEN = 16
_ID_RE = re.compile(r"[A-Za-z0-9_.:@-]{1,128}")


class AuthError(AlertingError):
    """A token is missing, malformed, badly signed or expired. The message never echoes it."""


def secret_from_env(env: dict[str, str] | None = None) -> SecretStr:
    """The server secret from ``ALERTING_API_SECRET``; ConfigError if missing or too short."""
    raw = (env if env is not None else os.environ).get(SECRET_ENV, "")
    if len(raw) < MIN_SECRET_LEN:
        raise ConfigError(f"{SECRET_ENV} must be set to a secret of at least "
                          f"{MIN_SECRET_LEN} characters")
    return SecretStr(raw)


def _sign(secret: SecretStr, message: str) -> str:
    mac = hmac.new(secret.get_secret_value().encode(), message.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def issue_token(secret: SecretStr, manager_id: str, *, now: float,
                ttl_s: int = DEFAULT_TTL_S) -> str:
    """A signed token for ``manager_id`` valid until ``now + ttl_s`` (unix seconds)."""
    if not _ID_RE.fullmatch(manager_id):
        raise ConfigError("manager id must be 1-128 characters of letters, digits or _.:@-")
    if ttl_s <= 0:
        raise ConfigError("token lifetime must be positive")
    payload = f"{manager_id}.{int(now) + ttl_s}"
    return f"{payload}.{_sign(secret, payload)}"


def verify_token(secret: SecretStr, token: str, *, now: float) -> str:
    """The manager id of a valid token; raises ``AuthError`` otherwise."""
    parts = token.strip().rsplit(".", 2) if token else []
    if len(parts) != 3 or not parts[1].isdigit():
        raise AuthError("malformed token")
    manager_id, expiry, sig = parts
    expected = _sign(secret, f"{manager_id}.{expiry}")
    if not hmac.compare_digest(expected.encode(), sig.encode()):
        raise AuthError("bad token signature")
    if int(expiry) <= now:
        raise AuthError("token expired")
    return manager_id


def csrf_token(secret: SecretStr, session_token: str) -> str:
    """The CSRF token bound to one session token (stateless, not guessable without both)."""
    return _sign(secret, "csrf\x1f" + session_token)


def check_csrf(secret: SecretStr, session_token: str, submitted: str) -> bool:
    """True when ``submitted`` is the CSRF token of this session (constant-time)."""
    return hmac.compare_digest(csrf_token(secret, session_token).encode(),
                               (submitted or "").encode())
