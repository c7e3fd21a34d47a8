"""``recovery.Delivered``: tasks read back at recovery are skipped when emitted again, hold back
their partition's checkpoints until then, and stop holding them back once the replay is over."""

from __future__ import annotations

import orjson

from alerting.streams.recovery import Delivered


def _task(task_id: str, customer: str, revision: int = 1) -> bytes:
    return orjson.dumps({"task_id": task_id, "revision": revision, "customer_id": customer})


def _delivered() -> Delivered:
    """Partition 0 (customers a*) owes tasks at offsets 5 and 7 of tasks partition 0 and one at
    offset 2 of tasks partition 1; partition 1 (b*) owes one; offset 1 precedes p0's floor."""
    d = Delivered()
    records = [(0, 1, _task("t-old", "a1")), (0, 5, _task("t1", "a1")),
               (0, 7, _task("t2", "a2")), (1, 2, _task("t3", "a3")), (1, 3, _task("t4", "b1"))]
    d.add(records, lambda cid: 0 if cid.startswith("a") else 1,
          {0: {0: 4, 1: 0}, 1: {0: 0, 1: 0}})
    return d


def test_outstanding_tasks_cap_their_partition_until_emitted_again() -> None:
    d = _delivered()
    assert d.outstanding(0) == 3 and d.outstanding(1) == 1
    assert d.cap(0) == {0: 5, 1: 2}
    assert not d.seen_again("t-old:1"), "before the checkpoint's floor: not read back"
    assert d.seen_again("t1:1")
    assert not d.seen_again("t1:1"), "skipped once, then it is a new emission"
    assert d.cap(0) == {0: 7, 1: 2}


def test_the_replay_releases_the_cap_only_at_the_recovery_ends_and_watermark() -> None:
    d = _delivered()
    d.replay_until(0, {"tx": 10, "co": 4}, 1_000)
    assert d.release_replayed(0, {"tx": 9, "co": 4}, 2_000) == 0, "input not replayed yet"
    assert d.release_replayed(0, {"tx": 10, "co": 4}, 999) == 0, "timers not fired yet"
    assert d.cap(0) == {0: 5, 1: 2}
    assert d.release_replayed(0, {"tx": 12, "co": 4}, 1_000) == 3
    assert d.cap(0) == {} and d.outstanding(0) == 0
    assert d.seen_again("t2:1"), "never emitted again by the replay: still not delivered twice"
    assert d.cap(1) == {1: 3}, "other partitions keep their own bound"
    assert d.release_replayed(0, {"tx": 99}, 10**9) == 0, "released once"


def test_a_partition_with_nothing_owed_has_no_replay_bound() -> None:
    d = _delivered()
    for key in ("t1:1", "t2:1", "t3:1"):
        d.seen_again(key)
    d.replay_until(0, {"tx": 10}, 0)
    assert d.release_replayed(0, {"tx": 10}, 0) == 0
    assert d.cap(0) == {}


def test_drop_forgets_a_revoked_partition_entirely() -> None:
    d = _delivered()
    d.replay_until(0, {"tx": 10}, 0)
    d.release_replayed(0, {"tx": 10}, 0)
    d.drop(0)
    d.drop(1)
    assert len(d) == 0
    assert not d.seen_again("t2:1") and not d.seen_again("t4:1")
