"""Hot reload of ``rules.yaml``: validate, then swap; a bad file keeps the last good rules.

Three triggers share one code path (:meth:`RulesReloader.areload`): a polling watcher on the
file (a SHA-256 of its content each interval, so a ``touch`` does not reload), ``SIGHUP`` and
``POST /-/reload`` (``alerting.web.health``). Polling rather than inotify: it needs no extra
dependency and works on the bind mounts and Kubernetes ConfigMap symlink swaps where inotify
events are unreliable; a rules file is read once per interval, which costs nothing.

``apply`` receives the validated rule set and typically calls ``Engine.swap_rules`` on every live
engine (which keeps the state of unchanged rules). It runs on the event loop, under the host's
batch lock when one is given (``lock=``), so a swap always falls between two batches.
``alerting.ops.LiveRules`` is a ready-made ``apply`` + engine factory for hosts with many
engines (one per partition).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alerting.errors import AlertingError, RulesError
from alerting.metrics import Metrics

RuleSet = Any  # alerting.rules.loader.RuleSet; kept loose so this module does not import it
Loader = Callable[[Path], RuleSet]
DEFAULT_INTERVAL_S = 2.0


@dataclass(frozen=True, slots=True)
class ReloadResult:
    """Outcome of one reload attempt. ``rules`` is the size of the active set afterwards."""

    ok: bool
    rules: int
    trigger: str
    problems: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (the ``POST /-/reload`` response body)."""
        return {"ok": self.ok, "rules": self.rules, "trigger": self.trigger,
                "problems": list(self.problems)}


def _default_loader(path: Path) -> RuleSet:
    from alerting.rules.loader import load_rules  # late: the rules package imports a lot

    return load_rules(path)


def count_rules(ruleset: RuleSet) -> int:
    """Number of rules in a rule set (``.rules`` sequence, or the set itself if sized)."""
    rules: Any = getattr(ruleset, "rules", ruleset)
    try:
        return len(rules)
    except TypeError:
        return 0


def file_digest(path: Path) -> str | None:
    """sha256 of the file's bytes, or None if it cannot be read right now."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


class RulesReloader:
    """Validates and applies a rules file on demand, on change and on SIGHUP."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        apply: Callable[[RuleSet], None],
        metrics: Metrics,
        log: logging.Logger | None = None,
        *,
        loader: Loader | None = None,
        clock: Callable[[], float] = time.time,
        lock: asyncio.Lock | None = None,
    ) -> None:
        self.path = Path(path)
        self._apply = apply
        self._metrics = metrics
        self._log = log or logging.getLogger("alerting.reload")
        self._loader = loader or _default_loader
        self._clock = clock
        self._apply_lock = lock  # the host's batch lock: apply only between two batches
        self._alock = asyncio.Lock()
        self._tlock = threading.Lock()
        self._active = 0
        self._digest: str | None = None  # content last attempted (applied or rejected)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._watcher: asyncio.Task[None] | None = None
        self._sighup_loop: asyncio.AbstractEventLoop | None = None
        self.last: ReloadResult | None = None

    # -- loading ---------------------------------------------------------------------------
    def load_initial(self) -> RuleSet:
        """Load the file at start-up: raises ``RulesError`` (a bad file must stop the start),
        otherwise records the metrics and returns the rule set for the caller's engine."""
        digest = file_digest(self.path)
        ruleset = self._loader(self.path)
        self._digest = digest
        self._succeeded(ruleset, "startup")
        return ruleset

    def reload(self, trigger: str = "manual") -> ReloadResult:
        """Synchronous reload (for callers without an event loop): validate, apply, record."""
        with self._tlock:
            digest = file_digest(self.path)
            try:
                ruleset = self._loader(self.path)
            except Exception as exc:  # noqa: BLE001 - a reload must never kill the worker
                return self._failed(exc, trigger, digest)
            return self._apply_checked(ruleset, trigger, digest)

    async def areload(self, trigger: str = "manual") -> ReloadResult:
        """Reload from the event loop: the file is parsed in a thread, ``apply`` runs on the
        loop (so between batches); concurrent triggers are serialised."""
        async with self._alock:
            digest = file_digest(self.path)
            try:
                ruleset = await asyncio.to_thread(self._loader, self.path)
            except Exception as exc:  # noqa: BLE001 - a reload must never kill the worker
                return self._failed(exc, trigger, digest)
            if self._apply_lock is None:
                return self._apply_checked(ruleset, trigger, digest)
            async with self._apply_lock:
                return self._apply_checked(ruleset, trigger, digest)

    def _apply_checked(self, ruleset: RuleSet, trigger: str, digest: str | None) -> ReloadResult:
        try:
            self._apply(ruleset)
        except Exception as exc:  # noqa: BLE001 - the engine refused: keep the old rules
            return self._failed(exc, trigger, digest)
        self._digest = digest
        return self._succeeded(ruleset, trigger)

    def _succeeded(self, ruleset: RuleSet, trigger: str) -> ReloadResult:
        self._active = count_rules(ruleset)
        m = self._metrics
        m.rules_loaded.set(self._active)
        m.reload_success.set(1)
        m.reload_timestamp.set(self._clock())
        m.reloads.labels(result="ok", trigger=trigger).inc()
        self._log.info("rules loaded", extra={"event": "rules_reloaded", "trigger": trigger,
                                              "rules": self._active, "path": str(self.path)})
        self._check_calendar(ruleset)
        self.last = ReloadResult(ok=True, rules=self._active, trigger=trigger)
        return self.last

    def _check_calendar(self, ruleset: RuleSet) -> None:
        """Export when the holiday list runs out, and warn when that is near: past it,
        business-time deadlines would silently count public holidays as working days."""
        from alerting.routing.calendar import coverage_warning, holidays_end_timestamp
        from alerting.routing.spec import CalendarSpec

        cal = getattr(ruleset, "calendar", None)
        if not isinstance(cal, CalendarSpec):
            return
        self._metrics.calendar_holidays_until.set(holidays_end_timestamp(cal))
        warning = coverage_warning(cal, self._clock())
        if warning is not None:
            self._log.warning(warning, extra={"event": "calendar_ends", "path": str(self.path)})

    def _failed(self, exc: Exception, trigger: str, digest: str | None) -> ReloadResult:
        self._digest = digest  # do not retry the same bad content on every poll
        m = self._metrics
        m.reload_success.set(0)
        m.reload_timestamp.set(self._clock())
        m.reloads.labels(result="rejected", trigger=trigger).inc()
        problems = self._log_problems(exc, trigger)
        self.last = ReloadResult(ok=False, rules=self._active, trigger=trigger,
                                 problems=tuple(problems))
        return self.last

    def _log_problems(self, exc: Exception, trigger: str) -> list[str]:
        base = {"event": "rules_reload_rejected", "trigger": trigger, "path": str(self.path)}
        if isinstance(exc, RulesError):
            for p in exc.problems:
                self._log.error("rules reload rejected: %s", p.render(), extra={
                    **base, "rule_id": p.rule_id, "field": p.field, "line": p.line})
            self._log.error("rules reload rejected: keeping the last good rules (%d problems)",
                            len(exc.problems), extra={**base, "rules": self._active})
            return [p.render() for p in exc.problems]
        text = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, AlertingError | OSError):
            self._log.error("rules reload rejected: %s; keeping the last good rules", text,
                            extra={**base, "rules": self._active})
        else:
            self._log.exception("rules reload failed unexpectedly; keeping the last good rules",
                                extra={**base, "rules": self._active})
        return [text]

    # -- triggers --------------------------------------------------------------------------
    async def poll_once(self) -> ReloadResult | None:
        """Reload if the file's content differs from the last attempt; None otherwise. The
        content is hashed on every poll rather than trusting mtime and size: an edit that keeps
        the size within the file system's timestamp granularity would otherwise be missed, and
        hashing a rules file costs microseconds. A missing file (mid-rename) is skipped."""
        digest = await asyncio.to_thread(file_digest, self.path)
        if digest is None or digest == self._digest:
            return None  # unreadable right now, unchanged, or only touched
        return await self.areload("file")

    async def watch(self, interval: float = DEFAULT_INTERVAL_S) -> None:
        """Poll the file forever (run as a task; cancel to stop). Errors are logged, never
        raised: the watcher outlives a bad edit."""
        while True:
            await asyncio.sleep(interval)  # the polling period itself, not a synchronisation
            try:
                await self.poll_once()
            except Exception:  # noqa: BLE001
                self._log.exception("rules file watcher error")

    def start_watching(self, interval: float = DEFAULT_INTERVAL_S) -> asyncio.Task[None]:
        """Start :meth:`watch` as a task on the running loop (idempotent)."""
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.get_running_loop().create_task(self.watch(interval))
        return self._watcher

    def install_sighup(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Reload on SIGHUP, handled on ``loop`` (default: the running loop)."""
        loop = loop or asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, self._spawn, "sighup")
        self._sighup_loop = loop

    def _spawn(self, trigger: str) -> None:
        task = asyncio.get_running_loop().create_task(self.areload(trigger))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def start(self, interval: float = DEFAULT_INTERVAL_S, *, sighup: bool = True) -> None:
        """Start every automatic trigger on the running loop: the file watcher (``interval``
        seconds; 0 disables it) and, unless ``sighup`` is false, the SIGHUP handler."""
        if interval > 0:
            self.start_watching(interval)
        if sighup:
            self.install_sighup()

    async def stop(self) -> None:
        """Stop the watcher, remove the SIGHUP handler and wait for reloads in flight."""
        if self._sighup_loop is not None:
            self._sighup_loop.remove_signal_handler(signal.SIGHUP)
            self._sighup_loop = None
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
