from alerting.tasks import Task, make_task_id


def test_task_id_is_deterministic_and_distinct():
    a = make_task_id("large_withdrawal", "c1", "e1")
    assert a == make_task_id("large_withdrawal", "c1", "e1")
    assert a != make_task_id("large_withdrawal", "c1", "e2")
    assert a != make_task_id("large_withdrawal", "c2", "e1")
    # the separator keeps ("a", "bc") and ("ab", "c") apart
    assert make_task_id("a", "bc", "x") != make_task_id("ab", "c", "x")


def test_json_round_trip_and_canonical_bytes():
    t = Task(task_id="t-1", rule_id="r", severity="high", customer_id="c", title="大额取款",
             body="b", evidence={"amount": "1.00"}, event_ids=["e1"], created_at="x",
             due_at="y", revision=2)
    assert Task.from_json(t.to_json()) == t
    assert t.to_json() == Task.from_json(t.to_json()).to_json()
    assert t.dedup_key == "t-1:2"
    assert Task.from_dict({**t.to_dict(), "future_field": 1}) == t
