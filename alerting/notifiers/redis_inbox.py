"""Redis inbox: a capped list per manager, ``{prefix}inbox:{manager_id}``, newest first.

The web inbox page reads it with ``LRANGE key 0 N``. Each entry is the notification JSON.
"""

from __future__ import annotations

from typing import Any

from redis import exceptions as redis_exc

from alerting.errors import PermanentNotifierError, RetryableNotifierError
from alerting.notifiers.base import Notification, RetryPolicy
from alerting.notifiers.config import RedisInboxConfig


def inbox_key(prefix: str, manager_id: str) -> str:
    """The list key of ``manager_id``'s inbox."""
    return f"{prefix}inbox:{manager_id}"


class RedisInboxNotifier:
    """LPUSH + LTRIM in one transaction."""

    def __init__(self, name: str, cfg: RedisInboxConfig, *, client: Any, own_client: bool,
                 retry: RetryPolicy) -> None:
        self.name = name
        self.retry = retry
        self._prefix = cfg.prefix
        self._max_len = cfg.max_len
        self._redis = client
        self._own = own_client

    def __repr__(self) -> str:
        return f"RedisInboxNotifier(name={self.name!r})"

    async def send(self, n: Notification) -> None:
        """Push to the recipient's inbox; Permanent if the notification has no recipient id."""
        if not n.recipient_id:
            raise PermanentNotifierError("notification has no recipient_id for the inbox")
        key = inbox_key(self._prefix, n.recipient_id)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.lpush(key, n.to_json())
                pipe.ltrim(key, 0, self._max_len - 1)
                await pipe.execute()
        except (redis_exc.ConnectionError, redis_exc.TimeoutError) as exc:
            raise RetryableNotifierError(f"redis unavailable ({type(exc).__name__})") from None
        except redis_exc.RedisError as exc:
            raise RetryableNotifierError(f"redis error ({type(exc).__name__})") from None

    async def aclose(self) -> None:
        """Close the client if this notifier created it."""
        if self._own:
            await self._redis.aclose()
