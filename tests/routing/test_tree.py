"""The routing tree: matching, nesting, continue, inheritance, regexes, validation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from alerting.routing.spec import RoutingSpec
from alerting.routing.tree import group_key, match_routes
from alerting.tasks import Task


def spec(route: dict[str, Any], receivers: tuple[str, ...] = ("a", "b", "c", "d")) -> RoutingSpec:
    return RoutingSpec.model_validate({"route": route,
                                       "receivers": [{"name": n} for n in receivers]})


TREE = {
    "receiver": "a", "group_wait": "10s", "repeat_interval": "1h",
    "routes": [
        {"match": {"severity": "critical"}, "receiver": "b", "continue": True},
        {"match": {"branch": "B1"}, "receiver": "c", "group_by": ["assignee", "rule"],
         "routes": [{"match_re": {"rule": "complaint_.*"}, "receiver": "d",
                     "group_wait": "0s"}]},
        {"match": {"tier": "vip"}, "receiver": "d"},
    ],
}


def receivers(task: Task, route: dict[str, Any] = TREE) -> list[str]:
    return [r.receiver or "" for r in match_routes(spec(route).route, task)]


def test_first_matching_sibling_wins(make_task: Callable[..., Task]) -> None:
    assert receivers(make_task(severity="low", branch_id="B1", customer_tier="vip")) == ["c"]


def test_continue_keeps_matching(make_task: Callable[..., Task]) -> None:
    assert receivers(make_task(severity="critical", branch_id="B1")) == ["b", "c"]


def test_nested_child_replaces_parent(make_task: Callable[..., Task]) -> None:
    routes = match_routes(spec(TREE).route, make_task(rule_id="complaint_sla", branch_id="B1"))
    assert [(r.receiver, r.path) for r in routes] == [("d", "root/1/0")]
    r = routes[0]
    # inherited: group_by from its parent, repeat from the root; own group_wait
    assert (r.group_by, r.group_wait_ms, r.repeat_interval_ms) == (("assignee", "rule"), 0,
                                                                   3_600_000)


def test_regex_is_anchored(make_task: Callable[..., Task]) -> None:
    assert receivers(make_task(rule_id="x_complaint_sla", branch_id="B1")) == ["c"]


def test_no_match_falls_back_to_root(make_task: Callable[..., Task]) -> None:
    routes = match_routes(spec(TREE).route, make_task(severity="low", branch_id="B9"))
    assert [(r.receiver, r.group_wait_ms, r.group_interval_ms, r.group_by)
            for r in routes] == [("a", 10_000, 300_000, ("assignee",))]


def test_labels_and_missing_values(make_task: Callable[..., Task]) -> None:
    route = {"receiver": "a", "routes": [{"match": {"segment": "retail"}, "receiver": "b"},
                                         {"match_re": {"tier": ".*"}, "receiver": "c"}]}
    assert receivers(make_task(labels={"segment": "retail"}), route) == ["b"]
    assert receivers(make_task(customer_tier=None), route) == ["a"]


def test_duplicate_receivers_collapse(make_task: Callable[..., Task]) -> None:
    route = {"receiver": "a", "routes": [{"match": {"severity": "high"}, "continue": True},
                                         {"match": {"rule": "large_withdrawal"}}]}
    assert receivers(make_task(), route) == ["a"]


def test_no_receiver_anywhere_sends_nothing(make_task: Callable[..., Task]) -> None:
    assert match_routes(RoutingSpec().route, make_task()) == []


def test_group_key(make_task: Callable[..., Task]) -> None:
    (r,) = match_routes(spec(TREE).route, make_task(branch_id="B1"))
    assert group_key(r, make_task()) == ("c", "assignee=m1", "rule=large_withdrawal")


@pytest.mark.parametrize(("bad", "needle"), [
    ({"route": {"receiver": "nope"}}, "undefined receiver"),
    ({"route": {"routes": [{"match_re": {"rule": "("}}]}}, "bad regular expression"),
    ({"route": {"group_wait": "soon"}}, "bad duration"),
    ({"route": {"recevier": "a"}}, "Extra inputs"),
    ({"receivers": [{"name": "a"}, {"name": "a"}]}, "duplicate"),
    ({"receivers": [{"name": "a", "notifiers": [{"type": "pager"}]}]}, "type"),
    ({"escalation": {"ack_deadline": {"urgent": "1h"}}}, "unknown severity"),
    ({"digest": {"at": "8:30", "receiver": "a"}, "receivers": [{"name": "a"}]}, "HH:MM"),
    ({"workload": {"max_per_day": 0}}, "greater than or equal"),
    ({"receivers": [{"name": "a", "notifiers": [{"type": "console", "name": "x"}]},
                    {"name": "b", "notifiers": [{"type": "console", "name": "x"}]}]},
     "used twice"),
])
def test_bad_routing_rejected_with_field(bad: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValidationError) as e:
        RoutingSpec.model_validate(bad)
    assert needle in str(e.value)


def test_full_example_parses() -> None:
    s = RoutingSpec.model_validate({
        "route": {"receiver": "managers", "routes": [{"match": {"severity": "critical"},
                                                      "receiver": "desk", "continue": True}]},
        "receivers": [{"name": "managers", "notifiers": [{"type": "console"}]},
                      {"name": "desk", "notifiers": [
                          {"type": "webhook", "url": "http://x", "secret": "env:HOOK"}]}],
        "escalation": {"business_time": True}, "workload": {"max_per_day": 20},
        "digest": {"at": "08:30", "receiver": "managers"}})
    assert s.escalation is not None and s.escalation.ack_deadline["critical"] == 1_800_000
    assert s.receiver("desk") is not None and s.receiver("zzz") is None
