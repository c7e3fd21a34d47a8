"""Every Prometheus metric the project exports, in one place. Prefix ``alerting_``, base units,
bounded labels (topic, rule, severity, reason, notifier, partition: never customer or task ids).

Modules import the objects from here; tests may pass their own ``CollectorRegistry`` through
``Metrics(registry)`` to assert values without global state.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
ACK_BUCKETS = (60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 604800)


class Metrics:
    """The project's metric family objects bound to one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = registry if registry is not None else REGISTRY
        self.registry = r
        self.events = Counter("alerting_events_total", "Events processed, by source topic "
                              "(or 'file') and outcome (ok, dead_letter, late, duplicate)",
                              ["topic", "outcome"], registry=r)
        self.tasks_created = Counter("alerting_tasks_created_total", "Tasks created (revision "
                                     "0), by rule and severity", ["rule", "severity"], registry=r)
        self.tasks_updated = Counter("alerting_tasks_updated_total", "Open tasks updated with "
                                     "new evidence inside the cooldown", ["rule"], registry=r)
        self.suppressed = Counter("alerting_suppressed_total", "Rule hits that made no new task",
                                  ["rule", "reason"], registry=r)  # reason: cooldown, dedup
        self.directory_updates = Counter(
            "alerting_directory_updates_total", "Directory records applied from the managers "
            "topic (at start and while running), by kind and outcome (applied, removed, "
            "malformed)", ["kind", "outcome"], registry=r)
        self.dead_letters = Counter("alerting_dead_letters_total", "Events sent to the "
                                    "dead-letter output, by reason", ["reason"], registry=r)
        self.notifications = Counter("alerting_notifications_total", "Notification attempts by "
                                     "notifier and result (ok, retry, failed)",
                                     ["notifier", "result"], registry=r)
        self.notifier_failures = Counter("alerting_notifier_failures_total", "Failed notifier "
                                         "sends, by notifier and kind (retryable, permanent)",
                                         ["notifier", "kind"], registry=r)
        self.outbox_depth = Gauge("alerting_outbox_depth", "Notifications waiting in the outbox",
                                  ["notifier"], registry=r)
        self.notification_dead_letters = Counter(
            "alerting_notification_dead_letters_total",
            "Notifications given up after permanent failure or retries exhausted",
            ["notifier"], registry=r)
        self.event_task_latency = Histogram(
            "alerting_event_to_task_latency_seconds", "Wall time from event arrival (or "
            "produce timestamp) to task emission", buckets=LATENCY_BUCKETS, registry=r)
        self.rule_eval = Histogram("alerting_rule_evaluation_seconds", "Engine time per "
                                   "batch of events", buckets=LATENCY_BUCKETS, registry=r)
        self.consumer_lag = Gauge("alerting_consumer_lag_messages", "Messages behind the "
                                  "partition end", ["topic", "partition"], registry=r)
        self.rules_loaded = Gauge("alerting_rules_loaded", "Rules in the active rule set",
                                  registry=r)
        self.reload_success = Gauge("alerting_rules_last_reload_success", "1 if the last "
                                    "rules reload succeeded, 0 if it was rejected", registry=r)
        self.reload_timestamp = Gauge("alerting_rules_last_reload_timestamp_seconds",
                                      "Unix time of the last reload attempt", registry=r)
        self.calendar_holidays_until = Gauge(
            "alerting_calendar_holidays_until_timestamp_seconds", "Unix time at which the "
            "business calendar's holiday list runs out (the end of the last year it lists; 0 if "
            "it lists none)", registry=r)
        self.reloads = Counter("alerting_rules_reloads_total", "Rules reload attempts by "
                               "result (ok, rejected) and trigger (startup, file, sighup, "
                               "http, manual)", ["result", "trigger"], registry=r)
        self.ack_latency = Histogram("alerting_task_ack_latency_seconds", "Time from task "
                                     "creation to acknowledgement", ["rule"],
                                     buckets=ACK_BUCKETS, registry=r)
        self.escalations = Counter("alerting_escalations_total", "Task escalations by level "
                                   "reached", ["level"], registry=r)
        self.checkpoint_seconds = Histogram("alerting_checkpoint_seconds", "Time to write a "
                                            "state checkpoint", buckets=LATENCY_BUCKETS,
                                            registry=r)
        self.state_customers = Gauge("alerting_state_customers", "Customers held in engine "
                                     "state", registry=r)
        self.watermark = Gauge("alerting_watermark_timestamp_seconds", "Event-time watermark",
                               registry=r)
        self.rule_outcomes = Gauge("alerting_rule_outcome_share", "Share of resolved tasks by "
                                   "outcome, per rule", ["rule", "outcome"], registry=r)
        self.rule_ack_quantile = Gauge("alerting_rule_ack_time_seconds", "Time to acknowledge "
                                       "per rule over the effectiveness window (quantile 0.5 "
                                       "or 0.9)", ["rule", "quantile"], registry=r)
        self.rule_flagged = Gauge("alerting_rule_false_alarm_flagged", "1 if the rule's "
                                  "false-alarm share is above the threshold", ["rule"],
                                  registry=r)


_default: Metrics | None = None


def default_metrics() -> Metrics:
    """The process-wide metrics on the global registry (created once)."""
    global _default
    if _default is None:
        _default = Metrics()
    return _default
