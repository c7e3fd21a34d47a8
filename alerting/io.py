"""File adapters around the engine: events from JSONL / JSONL.gz / stdin with line numbers, the
dead-letter file, and the customer/manager directory loaders (CSV or JSONL).

Nothing here decides anything: a bad line becomes a ``DeadLetter`` (line, reason, detail, raw)
and reading continues, so one bad event never stops a run.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import select
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import orjson

from alerting.directory import Customer, Directory, Manager, customer_from_dict, manager_from_dict
from alerting.errors import AlertingError, BadEvent, ConfigError
from alerting.models import Event, fast_event, fast_transaction, parse_event

STDIN = "-"
# what a live source (stdin) yields when it has handed out every line that has arrived and
# would now wait: the replay then applies the instant it holds (see ``backtest.replay``)
IDLE = (0, b"")
MAX_LINE_BYTES = 1 << 20  # a single event above 1 MiB is certainly not one of ours
_READ_BUFFER = 1 << 20


@dataclass(slots=True, frozen=True)
class DeadLetter:
    """One rejected input line: where it was, why, and the original text."""

    line: int
    reason: str
    detail: str
    raw: str

    def to_json(self) -> bytes:
        """One JSON line (without the newline)."""
        return orjson.dumps({"line": self.line, "reason": self.reason, "detail": self.detail,
                             "raw": self.raw})


def raw_text(raw: bytes) -> str:
    """A rejected line as text for its dead letter (without the newline)."""
    return raw.rstrip(b"\r\n").decode("utf-8", errors="replace")


def open_binary(source: str | Path) -> IO[bytes]:
    """Open an event source for binary line reading: ``-`` is stdin, ``*.gz`` is gunzipped.

    Raises ``ConfigError`` (naming the path) when the file cannot be opened.
    """
    if str(source) == STDIN:
        return sys.stdin.buffer
    path = Path(source)
    try:
        if path.suffix == ".gz":
            return io.BufferedReader(gzip.GzipFile(path, "rb"), buffer_size=_READ_BUFFER)
        return open(path, "rb", buffering=_READ_BUFFER)  # noqa: SIM115 - caller closes
    except OSError as exc:
        raise ConfigError(f"cannot open events file {path}: {exc.strerror or exc}") from None


class EventSource:
    """An opened events input: the line stream plus how far through the file we are (for a
    progress bar; compressed position for ``.gz``). Close it when done (stdin stays open)."""

    def __init__(self, source: str | Path) -> None:
        self.name = str(source)
        self.is_stdin = self.name == STDIN
        self.size: int | None = None
        self._raw: IO[bytes] | None = None
        if self.is_stdin:
            self.stream: IO[bytes] = sys.stdin.buffer
            return
        path = Path(source)
        try:
            self._raw = open(path, "rb", buffering=_READ_BUFFER)  # noqa: SIM115
            self.size = path.stat().st_size
        except OSError as exc:
            raise ConfigError(f"cannot open events file {path}: {exc.strerror or exc}") from None
        self.stream = (io.BufferedReader(gzip.GzipFile(fileobj=self._raw, mode="rb"),
                                         buffer_size=_READ_BUFFER)
                       if path.suffix == ".gz" else self._raw)

    def position(self) -> int:
        """Bytes of the file consumed so far (0 for stdin)."""
        return self._raw.tell() if self._raw is not None else 0

    def lines(self) -> Iterator[tuple[int, bytes]]:
        """Numbered non-blank lines (see ``iter_lines``); from stdin with ``IDLE`` marks."""
        if self.is_stdin:
            try:
                return iter_live_lines(self.stream.fileno())
            except (OSError, ValueError):  # io.UnsupportedOperation: stdin replaced in memory
                pass
        return iter_lines(self.stream)

    def close(self) -> None:
        """Close the file (never stdin)."""
        if not self.is_stdin:
            self.stream.close()
            if self._raw is not None:
                self._raw.close()

    def __enter__(self) -> EventSource:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def iter_lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """Yield (line_number, raw_line) for non-blank lines, numbering from 1 like an editor.

    Works on pipes line by line, so ``alerting run --events -`` reacts as events arrive.
    """
    lineno = 0
    try:
        for raw in stream:
            lineno += 1
            if raw[0] == 123 or raw.strip():  # 123 is "{": skip strip() for the usual line
                yield lineno, raw
    except (OSError, EOFError) as exc:
        # A truncated .gz stops the input with a clear error instead of a traceback.
        raise ConfigError(f"events input unreadable after line {lineno}: {exc}") from None


def iter_live_lines(fd: int, chunk: int = 1 << 16) -> Iterator[tuple[int, bytes]]:
    """``iter_lines`` for a pipe or terminal (``--events -``), read straight from the file
    descriptor: before each read that would wait, it yields ``IDLE``, so that events which
    have arrived are applied now rather than when the next line comes (a live feed)."""
    lineno = 0
    rest = b""
    try:
        while True:
            if not select.select([fd], [], [], 0)[0]:
                yield IDLE
            data = os.read(fd, chunk)
            if not data:
                break
            *complete, rest = (rest + data).split(b"\n")
            for raw in complete:
                lineno += 1
                if raw.strip():
                    yield lineno, raw + b"\n"
    except OSError as exc:
        raise ConfigError(f"events input unreadable after line {lineno}: {exc}") from None
    if rest.strip():
        yield lineno + 1, rest


def decode_line(raw: bytes) -> Event:
    """Decode one JSON line into an event or raise ``BadEvent`` with a bounded reason."""
    if len(raw) > MAX_LINE_BYTES:
        raise BadEvent("line_too_long", f"line longer than {MAX_LINE_BYTES} bytes")
    ev = fast_event(raw)
    if ev is not None:
        return ev
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadEvent("bad_json", json_error_detail(exc)) from None
    return parse_event(obj)


def json_error_detail(exc: orjson.JSONDecodeError) -> str:
    """The dead-letter detail of a line that is not JSON."""
    # orjson's message names the position, never quotes the content (no personal data leaks).
    return f"not valid JSON ({exc.msg} at column {exc.colno})"


def read_events(lines: Iterable[tuple[int, bytes]], on_bad: Callable[[DeadLetter], None],
                ) -> Iterator[tuple[int, bytes, Event]]:
    """Decode numbered lines; good ones are yielded as (line, raw, event), bad ones go to
    ``on_bad`` and reading continues. (``backtest.replay`` has this loop inlined: keep the
    two alike.)"""
    # decode_line, inlined (hot loop): the fast path for the usual well-formed transaction;
    # anything else (it raises) is decided and reported by the reference decode
    loads, json_error, fast = orjson.loads, orjson.JSONDecodeError, fast_transaction
    for lineno, raw in lines:
        if not raw:  # IDLE: nothing to decode
            continue
        try:
            if len(raw) > MAX_LINE_BYTES:
                raise BadEvent("line_too_long", f"line longer than {MAX_LINE_BYTES} bytes")
            try:
                ev: Event | None = fast(raw)
            except Exception:  # noqa: BLE001 - not the usual shape
                ev = None
            if ev is None:  # (outside the handler: no exception chained to its errors)
                ev = parse_event(loads(raw))
        except json_error as exc:
            on_bad(DeadLetter(lineno, "bad_json", json_error_detail(exc), raw_text(raw)))
            continue
        except BadEvent as exc:
            on_bad(DeadLetter(lineno, exc.reason, exc.detail, raw_text(raw)))
            continue
        yield lineno, raw, ev


def dead_letter_for(lineno: int, raw: bytes, exc: BadEvent) -> DeadLetter:
    """A dead letter for an event the engine rejected (e.g. ``late_event``)."""
    return DeadLetter(lineno, exc.reason, exc.detail, raw_text(raw))


class DeadLetterWriter:
    """Writes one JSON line per bad event to a file (opened lazily: no bad line, no file; a
    stale file from an earlier run is removed) and counts them by reason. ``path=None`` only
    counts."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path is not None else None
        self.counts: Counter[str] = Counter()
        self._fh: IO[bytes] | None = None
        if self.path is not None:
            # A previous run's file must not pass for this run's dead letters.
            self.path.unlink(missing_ok=True)

    def __call__(self, dl: DeadLetter) -> None:
        self.write(dl)

    def write(self, dl: DeadLetter) -> None:
        """Record one dead letter."""
        self.counts[dl.reason] += 1
        if self.path is None:
            return
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        self._fh.write(dl.to_json() + b"\n")
        self._fh.flush()

    @property
    def total(self) -> int:
        """Number of dead letters written."""
        return sum(self.counts.values())

    def close(self) -> None:
        """Close the file if one was opened."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> DeadLetterWriter:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


# --- directory files -----------------------------------------------------------------------

def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) from a CSV (header line 1) or JSONL file."""
    if path.suffix in (".jsonl", ".json") or path.name.endswith(".jsonl.gz"):
        with open_binary(path) as fh:
            for lineno, raw in iter_lines(fh):
                try:
                    obj = orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    raise ConfigError(f"{path}:{lineno}: {json_error_detail(exc)}") from None
                if not isinstance(obj, dict):
                    raise ConfigError(f"{path}:{lineno}: a row must be a JSON object")
                yield lineno, obj
        return
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:  # type: ignore[operator]
        reader = csv.DictReader(fh)
        for row in reader:
            yield reader.line_num, row


def _load(path: str | Path, build: Callable[[dict[str, Any]], Any], what: str) -> list[Any]:
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"{what} file not found: {p}")
    out = []
    for lineno, row in _rows(p):
        try:
            out.append(build(row))
        except (AlertingError, ValueError, TypeError) as exc:
            # The message names the line and the problem, never the row's values (names, ids).
            msg = exc.detail if isinstance(exc, BadEvent) else _safe_msg(exc)
            raise ConfigError(f"{p}:{lineno}: bad {what} row: {msg}") from None
    return out


def _safe_msg(exc: Exception) -> str:
    return str(exc) if isinstance(exc, ConfigError) else type(exc).__name__


def load_customers(path: str | Path) -> list[Customer]:
    """Customers from CSV (header: customer_id,name,tier,assets,manager_id,branch_id,…) or JSONL."""
    return _load(path, customer_from_dict, "customer")


def load_managers(path: str | Path) -> list[Manager]:
    """Managers from CSV (manager_id,name,role,supervisor_id,branch_id,email,…) or JSONL."""
    return _load(path, manager_from_dict, "manager")


def load_directory(customers: str | Path | None = None,
                   managers: str | Path | None = None) -> Directory:
    """An in-memory directory from optional customer and manager files."""
    d = Directory()
    for c in load_customers(customers) if customers is not None else []:
        d.put_customer(c)
    for m in load_managers(managers) if managers is not None else []:
        d.put_manager(m)
    return d
