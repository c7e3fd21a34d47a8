"""What the engine holds per customer (``CustomerState``) and its counters (``EngineStats``).
The codec (``alerting.state.codec``) turns a ``CustomerState`` into bytes and back."""

from __future__ import annotations

from array import array
from collections import defaultdict
from typing import Any

_NO = -(2**63)  # no last activity / not filed in the wheel
_NEVER = 2**63 - 1  # no timer due


class CustomerState:
    """Everything the engine remembers about one customer. The scalars live in one int64 array
    ``t`` = [latest ts, last activity, next timer due, wheel bucket, ring position, crc32 of the
    last 4 event ids ×4]: 136 bytes instead of ~330 as separate objects."""

    __slots__ = ("cid", "t", "rs", "cool", "dirty")

    def __init__(self, cid: str, n_rules: int, last_act: int | None) -> None:
        self.cid = cid
        self.t = array("q", (_NO, _NO if last_act is None else last_act, _NEVER, _NO, 0,
                             -1, -1, -1, -1))
        self.rs: list[Any] = [None] * n_rules
        # rule id → [cooldown_until, task_id, revision, created_ms, created_tz, event_ids]
        self.cool: dict[str, list[Any]] | None = None
        # changed since the engine's last ``clear_dirty`` (a flag, not a set of ids: one
        # attribute test per event instead of a hashed set insert)
        self.dirty = False

    @property
    def last_ts(self) -> int:
        """Epoch ms of the customer's latest event."""
        return self.t[0]

    @last_ts.setter
    def last_ts(self, v: int) -> None:
        self.t[0] = v

    @property
    def last_act(self) -> int | None:
        """Epoch ms of the last customer-initiated activity, or None."""
        v = self.t[1]
        return None if v == _NO else v

    @last_act.setter
    def last_act(self, v: int | None) -> None:
        self.t[1] = _NO if v is None else v

    @property
    def due(self) -> int | None:
        """Epoch ms of the next timer (may be early: it then fires as a no-op), or None."""
        v = self.t[2]
        return None if v == _NEVER else v

    @due.setter
    def due(self, v: int | None) -> None:
        self.t[2] = _NEVER if v is None else v

    @property
    def wb(self) -> int | None:
        """The timer-wheel bucket the customer is filed under, or None."""
        v = self.t[3]
        return None if v == _NO else v

    @wb.setter
    def wb(self, v: int | None) -> None:
        self.t[3] = _NO if v is None else v


class EngineStats:
    """Counters since the engine started (``stats.events`` or ``stats["events"]``)."""

    def __init__(self) -> None:
        self.events = 0
        self.late = 0
        self.duplicates = 0
        self.profile_updates = 0
        self.tasks_created = 0
        self.tasks_updated = 0
        self.timers_fired = 0
        self.fired: dict[str, int] = defaultdict(int)  # rule hits (new or updated task)
        self.suppressed: dict[str, int] = defaultdict(int)  # hits inside the cooldown

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-safe snapshot."""
        d = {k: v for k, v in vars(self).items() if not isinstance(v, dict)}
        d["fired"] = dict(self.fired)
        d["suppressed"] = dict(self.suppressed)
        return d
