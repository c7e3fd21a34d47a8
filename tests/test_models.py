import pytest

from alerting.errors import BadEvent
from alerting.models import Complaint, Transaction, event_to_dict, parse_event


def _tx(**kw):
    d = {"type": "transaction", "event_id": "e1", "customer_id": "c1", "account_id": "a1",
         "ts": "2024-01-01T09:00:00+08:00", "kind": "withdrawal", "amount": "200000.00"}
    d.update(kw)
    return d


def test_parse_transaction_round_trip():
    ev = parse_event(_tx(counterparty_bank="ICBC", balance_after="-12.30", channel="atm"))
    assert isinstance(ev, Transaction)
    assert ev.amount == 20_000_000 and ev.balance_after == -1230 and ev.tz == 480
    assert parse_event(event_to_dict(ev)) == ev


def test_parse_complaint():
    ev = parse_event({"type": "complaint", "event_id": "e2", "complaint_id": "k1",
                      "customer_id": "c1", "ts": "2024-01-01T09:00:00Z", "status": "opened",
                      "category": "fees", "severity": "high", "text": "too expensive"})
    assert isinstance(ev, Complaint)
    assert parse_event(event_to_dict(ev)) == ev


@pytest.mark.parametrize(
    ("patch", "reason"),
    [({"kind": "steal"}, "bad_kind"), ({"amount": "-1"}, "bad_amount"),
     ({"amount": "0"}, "bad_amount"), ({"amount": "NaN"}, "bad_amount"),
     ({"ts": "2024-01-01"}, "bad_ts"), ({"customer_id": None}, "missing_customer_id"),
     ({"event_id": ""}, "missing_event_id"), ({"type": "wire"}, "bad_type"),
     ({"customer_id": ["x"]}, "bad_customer_id"),
     # unhashable or oversized values: a BadEvent (dead letter), never a TypeError/ValueError
     # that would escape the worker's per-record handling
     ({"kind": ["withdrawal"]}, "bad_kind"), ({"kind": {"a": 1}}, "bad_kind"),
     ({"amount": "1" * 5000}, "bad_amount"), ({"amount": "1" * 4000 + ".00"}, "bad_amount"),
     ({"balance_after": "9" * 5000}, "bad_balance_after")],
)
def test_bad_events_have_reasons(patch, reason):
    with pytest.raises(BadEvent) as ei:
        parse_event(_tx(**patch))
    assert ei.value.reason == reason


def test_error_message_carries_no_values():
    with pytest.raises(BadEvent) as ei:
        parse_event(_tx(amount="6222021234567890.123"))
    assert "6222021234567890" not in str(ei.value)


def test_not_an_object():
    with pytest.raises(BadEvent) as ei:
        parse_event([1, 2])
    assert ei.value.reason == "not_an_object"


@pytest.mark.parametrize("status", [["opened"], {"s": "opened"}])
def test_unhashable_complaint_status_is_a_bad_event(status):
    with pytest.raises(BadEvent) as ei:
        parse_event({"type": "complaint", "event_id": "e2", "complaint_id": "k1",
                     "customer_id": "c1", "ts": "2024-01-01T09:00:00Z", "status": status})
    assert ei.value.reason == "bad_status"


def test_in_instant_order_sorts_each_instant_by_type_and_keeps_the_rest():
    from alerting.models import in_instant_order

    def ev(eid, typ, ts):
        base = {"event_id": eid, "customer_id": "c1", "ts": ts}
        if typ == "transaction":
            return parse_event({**base, "type": typ, "kind": "deposit", "amount": "1.00"})
        if typ == "complaint":
            return parse_event({**base, "type": typ, "complaint_id": "k", "status": "opened"})
        return parse_event({**base, "type": typ})

    t1, t2, t0 = "2024-03-01T10:00:00+08:00", "2024-03-01T10:00:01+08:00", "2024-03-01T09:00:00Z"
    items = [(1, ev("k1", "complaint", t1)), (2, ev("x1", "transaction", t1)),
             (3, ev("u1", "customer", t1)), (4, ev("x2", "transaction", t1)),
             (5, ev("k2", "complaint", t2)), (6, ev("x3", "transaction", t2)),
             (7, ev("x4", "transaction", t0))]  # 09:00Z is 17:00+08:00: a later instant
    got = in_instant_order(items, lambda i: i[1])
    assert [i for i, _ in got] == [3, 2, 4, 1, 6, 5, 7]
    assert in_instant_order([], lambda i: i) == []


def test_the_workers_topic_merge_order_is_the_instant_order():
    # a worker breaks ties between its input topics by their position in input_topics();
    # the file runs use INSTANT_RANK: the two must agree
    from alerting.models import INSTANT_RANK
    from alerting.settings import Settings

    s = Settings(kafka_bootstrap="x:1", topic_customers="cu", topic_transactions="tx",
                 topic_complaints="co")
    by_topic = {"cu": "customer", "tx": "transaction", "co": "complaint"}
    ranks = [INSTANT_RANK[by_topic[t]] for t in s.input_topics()]
    assert ranks == sorted(ranks)
