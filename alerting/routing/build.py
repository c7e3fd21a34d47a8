"""One call for the worker and the embedded run: the outbox with every receiver's notifiers,
and the dispatcher in front of it, from the ``routing:``/``calendar:`` sections of rules.yaml.

    dispatcher, outbox = build_dispatch(ruleset.routing, ruleset.calendar, directory, store,
                                        NotifierDeps(http=client, redis=redis))
    await dispatcher.handle(tasks)            # after each engine batch / tasks-topic batch
    await dispatcher.tick(); await outbox.run_once()   # or dispatcher.run(stop), outbox.run(stop)
"""

from __future__ import annotations

import time
from collections.abc import Callable

from alerting.directory import DirectoryReader
from alerting.metrics import Metrics
from alerting.notifiers.outbox import Outbox
from alerting.notifiers.outbox_store import OutboxStore
from alerting.notifiers.registry import NotifierDeps, build_receivers
from alerting.routing.dispatch import Dispatcher
from alerting.routing.spec import CalendarSpec, RoutingSpec
from alerting.store.base import TaskStore


def build_dispatch(routing: RoutingSpec, calendar: CalendarSpec | None,
                   directory: DirectoryReader, store: TaskStore, deps: NotifierDeps, *,
                   outbox_store: OutboxStore | None = None, metrics: Metrics | None = None,
                   clock: Callable[[], float] = time.time,
                   default_locale: str = "zh") -> tuple[Dispatcher, Outbox]:
    """Build the receivers' notifiers (ConfigError on a missing secret), the outbox (memory
    unless ``outbox_store`` is given, e.g. the Redis one) and the dispatcher."""
    receivers = build_receivers(routing.notifier_configs(), deps)
    outbox = Outbox(receivers, outbox_store, metrics=metrics, clock=clock)
    dispatcher = Dispatcher(routing, calendar, directory, store, outbox, clock, metrics,
                            default_locale=default_locale)
    return dispatcher, outbox
