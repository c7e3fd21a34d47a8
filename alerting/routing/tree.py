"""The routing tree, in the spirit of Alertmanager's ``dispatch/route.go``.

The root always matches. A node that matches tries its children depth-first; if a child matches,
the children's results are used, else the node itself is the result. Among siblings, matching
stops at the first that matches unless it has ``continue: true``. Settings (receiver, grouping,
repeat interval) are inherited from the parent when unset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from alerting.routing.spec import Route
from alerting.tasks import Task
from alerting.timeutil import HOUR, MINUTE, SECOND

DEFAULT_GROUP_BY = ("assignee",)
DEFAULT_GROUP_WAIT = 30 * SECOND
DEFAULT_GROUP_INTERVAL = 5 * MINUTE
DEFAULT_REPEAT_INTERVAL = 4 * HOUR


@dataclass(frozen=True, slots=True)
class RouteOpts:
    """The effective settings of a matched route."""

    receiver: str | None
    group_by: tuple[str, ...]
    group_wait_ms: int
    group_interval_ms: int
    repeat_interval_ms: int
    path: str  # e.g. "root/1/0": which node matched (debugging, `alerting rules` explain)


def task_value(task: Task, key: str) -> str | None:
    """The value a matcher or ``group_by`` key reads from a task."""
    if key == "rule":
        return task.rule_id
    if key == "severity":
        return task.severity
    if key == "tier":
        return task.customer_tier
    if key == "branch":
        return task.branch_id
    if key == "assignee":
        return task.assignee_id
    if key == "assignee_role":
        return task.assignee_role
    if key == "customer":
        return task.customer_id
    return task.labels.get(key)


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> re.Pattern[str]:
    # Anchored like Alertmanager's match_re: the whole value must match.
    return re.compile(f"^(?:{pattern})$")


def route_matches(route: Route, task: Task) -> bool:
    """Whether every ``match`` equality and ``match_re`` regex holds for the task."""
    for key, want in route.match.items():
        if task_value(task, key) != want:
            return False
    for key, pattern in route.match_re.items():
        v = task_value(task, key)
        if v is None or not _regex(pattern).match(v):
            return False
    return True


def _opts(route: Route, parent: RouteOpts | None, path: str) -> RouteOpts:
    def pick(own: int | None, inherited: int | None, default: int) -> int:
        if own is not None:
            return own
        return inherited if inherited is not None else default

    return RouteOpts(
        receiver=route.receiver if route.receiver is not None else
        (parent.receiver if parent else None),
        group_by=tuple(route.group_by) if route.group_by is not None else
        (parent.group_by if parent else DEFAULT_GROUP_BY),
        group_wait_ms=pick(route.group_wait, parent.group_wait_ms if parent else None,
                           DEFAULT_GROUP_WAIT),
        group_interval_ms=pick(route.group_interval,
                               parent.group_interval_ms if parent else None,
                               DEFAULT_GROUP_INTERVAL),
        repeat_interval_ms=pick(route.repeat_interval,
                                parent.repeat_interval_ms if parent else None,
                                DEFAULT_REPEAT_INTERVAL),
        path=path)


def _match(route: Route, task: Task, parent: RouteOpts | None, path: str) -> list[RouteOpts]:
    if not route_matches(route, task):
        return []
    opts = _opts(route, parent, path)
    out: list[RouteOpts] = []
    for i, child in enumerate(route.routes):
        got = _match(child, task, opts, f"{path}/{i}")
        if got:
            out.extend(got)
            if not child.continue_:
                break
    return out or [opts]


def match_routes(root: Route, task: Task) -> list[RouteOpts]:
    """The matched routes for a task, in tree order, without duplicate receivers; routes
    without a receiver are dropped (nowhere to send)."""
    seen: set[str] = set()
    out: list[RouteOpts] = []
    for r in _match(root, task, None, "root") or [_opts(root, None, "root")]:
        if r.receiver is None or r.receiver in seen:
            continue
        seen.add(r.receiver)
        out.append(r)
    return out


def group_key(opts: RouteOpts, task: Task) -> tuple[str, ...]:
    """The group a task falls in on a route: the receiver plus the ``group_by`` values."""
    return (opts.receiver or "",) + tuple(f"{k}={task_value(task, k) or ''}"
                                          for k in opts.group_by)
