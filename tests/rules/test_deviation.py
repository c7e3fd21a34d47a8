"""deviation: min_history, factor boundary (exact), z-score, baseline updated after evaluation,
decayed baseline."""

from __future__ import annotations

import pytest
from factories import run

DEV = {"id": "dev", "kind": "deviation", "where": 'event.kind == "withdrawal"', "factor": 3,
       "min_history": 3, "cooldown": "0s"}


def _history(txn, amounts, customer="c1"):
    return [txn(customer=customer, amount=a, ts=f"2024-03-{i + 1:02d}T10:00:00+08:00")
            for i, a in enumerate(amounts)]


def test_needs_min_history(rules, engine, txn):
    eng = engine(rules(DEV))
    # the second event is 100x the first, but only one event of history exists
    assert run(eng, _history(txn, ["100", "10000", "100"])) == []


@pytest.mark.parametrize(("amount", "fires"), [("599.99", False), ("600.00", True),
                                               ("600.01", True)])
def test_factor_boundary_is_exact(rules, engine, txn, amount, fires):
    eng = engine(rules(DEV))
    # mean of 100, 200, 300 = 200 → 3 × 200 = 600.00
    run(eng, _history(txn, ["100", "200", "300"]))
    tasks = eng.process(txn(amount=amount, ts="2024-03-10T10:00:00+08:00"))
    assert bool(tasks) is fires
    if fires:
        ev = tasks[0].evidence
        assert ev["baseline_mean"] == "200.00" and ev["baseline_count"] == 3
        assert ev["factor"] == 3.0


def test_outlier_does_not_dilute_its_own_baseline_but_later_ones(rules, engine, txn):
    eng = engine(rules(DEV))
    run(eng, _history(txn, ["100", "100", "100"]))
    assert len(eng.process(txn(amount="300", ts="2024-03-10T10:00:00+08:00"))) == 1
    # the baseline now includes 300: mean 150 → 450 needed
    assert eng.process(txn(amount="449.99", ts="2024-03-11T10:00:00+08:00")) == []


def test_zscore(rules, engine, txn):
    r = {**DEV, "factor": None, "z": 3}
    eng = engine(rules(r))
    run(eng, _history(txn, ["100", "110", "90", "100"]))  # mean 100, std ≈ 7.07
    assert eng.process(txn(amount="121", ts="2024-03-10T10:00:00+08:00")) == []  # z ≈ 2.97
    t = eng.process(txn(amount="150", ts="2024-03-11T10:00:00+08:00"))
    assert t and t[0].evidence["zscore"] >= 3


def test_zero_std_never_fires_z(rules, engine, txn):
    eng = engine(rules({**DEV, "factor": None, "z": 1}))
    run(eng, _history(txn, ["100", "100", "100"]))
    assert eng.process(txn(amount="100000", ts="2024-03-10T10:00:00+08:00")) == []


def test_half_life_forgets_old_behaviour(rules, engine, txn):
    r = {**DEV, "half_life": "7d"}
    eng = engine(rules(r))
    old = [txn(amount="10000", ts=f"2023-01-0{i + 1}T10:00:00+08:00") for i in range(3)]
    recent = [txn(amount="100", ts=f"2024-03-0{i + 1}T10:00:00+08:00") for i in range(3)]
    run(eng, old + recent)
    # recent behaviour dominates: 3 × ≈100 is exceeded by 400
    assert len(eng.process(txn(amount="400", ts="2024-03-05T10:00:00+08:00"))) == 1


def test_needs_factor_or_z(rules):
    from alerting.errors import RulesError

    with pytest.raises(RulesError, match="factor"):
        rules({**DEV, "factor": None})
