"""``alerting backtest`` end to end on generated data: summary, forecast, --out, --against,
--json, determinism."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
from typer.testing import CliRunner

from alerting.cli import app
from alerting.tasks import Task

runner = CliRunner()


def _args(bank: Path, rules: Path, *extra: str) -> list[str]:
    return ["backtest", "--rules", str(rules), "--events", str(bank / "events.jsonl.gz"),
            "--customers", str(bank / "customers.csv"), "--managers", str(bank / "managers.csv"),
            *extra]


def test_backtest_summary_and_tasks(tmp_path: Path, bank: Path, rules_small: Path) -> None:
    out = tmp_path / "tasks.jsonl"
    res = runner.invoke(app, _args(bank, rules_small, "--out", str(out)))
    assert res.exit_code == 0, res.output
    tasks = [Task.from_json(x) for x in out.read_bytes().splitlines()]
    assert tasks and len({t.task_id for t in tasks}) == len(tasks)  # latest revision only
    assert [(t.created_ms, t.task_id) for t in tasks] == sorted(
        (t.created_ms, t.task_id) for t in tasks)
    for title in ("tasks per rule", "tasks per severity", "tasks per manager",
                  "tasks per ISO week", "forecast"):
        assert title in res.output
    assert f"tasks {len(tasks)}" in res.output


def test_backtest_is_byte_identical(tmp_path: Path, bank: Path, rules_small: Path) -> None:
    outs = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.jsonl"
        res = runner.invoke(app, _args(bank, rules_small, "--out", str(out), "--json"))
        assert res.exit_code == 0, res.output
        outs.append((out.read_bytes(), res.output))
    assert outs[0] == outs[1]
    assert outs[0][0].count(b"\n") > 10


def test_backtest_json_counts_agree(tmp_path: Path, bank: Path, rules_small: Path) -> None:
    out = tmp_path / "t.jsonl"
    res = runner.invoke(app, _args(bank, rules_small, "--out", str(out), "--json", "--top", "3"))
    doc = orjson.loads(res.output)
    tasks = [Task.from_json(x) for x in out.read_bytes().splitlines()]
    assert doc["tasks"] == len(tasks) == sum(doc["by_rule"].values())
    assert sum(doc["by_severity"].values()) == sum(doc["by_week"].values()) == len(tasks)
    assert doc["days"] == 90 and doc["dead_letters"] == {}
    fc = doc["forecast"]
    assert len(fc) == 3 and fc[0]["tasks"] >= fc[1]["tasks"] >= fc[2]["tasks"]
    busiest = fc[0]["manager_id"]
    mine = [t for t in tasks if t.assignee_id == busiest]
    assert fc[0]["tasks"] == len(mine)
    assert fc[0]["mean_per_day"] == round(len(mine) / 90, 3)
    per_day: dict[str, int] = {}
    for t in mine:
        per_day[t.created_at[:10]] = per_day.get(t.created_at[:10], 0) + 1
    assert fc[0]["max_per_day"] == max(per_day.values())


def test_backtest_against_reports_the_difference(tmp_path: Path, bank: Path, rules_small: Path,
                                                 rules_loose: Path) -> None:
    out = tmp_path / "a.jsonl"
    res = runner.invoke(app, _args(bank, rules_small, "--against", str(rules_loose), "--json",
                                   "--out", str(out)))
    assert res.exit_code == 0, res.output
    d = orjson.loads(res.output)["against"]
    a = {Task.from_json(x).task_id for x in out.read_bytes().splitlines()}
    b = {Task.from_json(x).task_id for x in
         (tmp_path / "a.against.jsonl").read_bytes().splitlines()}
    assert d["only_a"] == len(a - b) and d["only_b"] == len(b - a) and d["both"] == len(a & b)
    # the looser large-withdrawal limit (20,000 instead of 50,000) adds tasks; a few of A's
    # move (B's earlier, smaller hit opens the task and A's hit becomes its update)
    lw = d["per_rule"]["large-withdrawal"]
    assert lw["only_b"] > lw["only_a"] and lw["both"] > lw["only_a"]
    # the rule renamed dormant-60d -> dormant-45d shows up on both sides
    assert d["per_rule"]["dormant-60d"]["only_a"] > 0
    assert d["per_rule"]["dormant-45d"]["only_b"] > 0
    # the same rules file twice: no difference at all
    res2 = runner.invoke(app, _args(bank, rules_small, "--against", str(rules_small), "--json"))
    d2 = orjson.loads(res2.output)["against"]
    assert d2["only_a"] == d2["only_b"] == 0 and d2["both"] == len(a)
    table = runner.invoke(app, _args(bank, rules_small, "--against", str(rules_loose)))
    assert "only A" in table.output and "large-withdrawal" in table.output


def test_backtest_uncompressed_input_gives_the_same_tasks(tmp_path: Path, bank: Path,
                                                          rules_small: Path) -> None:
    import gzip

    plain = tmp_path / "bank"
    shutil.copytree(bank, plain)
    (plain / "events.jsonl").write_bytes(gzip.decompress((bank / "events.jsonl.gz").read_bytes()))
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    runner.invoke(app, _args(bank, rules_small, "--out", str(a)))
    args = _args(plain, rules_small, "--out", str(b))
    args[args.index("--events") + 1] = str(plain / "events.jsonl")
    assert runner.invoke(app, args).exit_code == 0
    assert a.read_bytes() == b.read_bytes()
