"""Dead-letter records: the original bytes, the reason code, a detail without personal data,
and where the record came from. Keyed by ``topic:partition:offset`` so a consumer can drop the
repeats an at-least-once replay may add."""

from __future__ import annotations

import base64

import orjson

from alerting.streams.shard import Rejected


def dead_letter_record(r: Rejected) -> tuple[bytes, bytes]:
    """(key, value) of the dead-letter message for a rejected record."""
    raw = r.item.value or b""
    try:
        text: str | None = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    value = {
        "reason": r.reason,
        "detail": r.detail,
        "source": {"topic": r.topic, "partition": r.partition, "offset": r.item.offset},
        "key": r.item.key.decode("utf-8", "replace") if r.item.key is not None else None,
        "value": text if text is not None else base64.b64encode(raw).decode(),
        "value_encoding": "utf-8" if text is not None else "base64",
    }
    key = f"{r.topic}:{r.partition}:{r.item.offset}".encode()
    return key, orjson.dumps(value)


def original_bytes(dl_value: bytes) -> bytes:
    """The original record value back from a dead-letter message (for replays and tests)."""
    d = orjson.loads(dl_value)
    v = d["value"]
    return base64.b64decode(v) if d["value_encoding"] == "base64" else v.encode()
