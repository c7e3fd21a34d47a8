"""``alerting sample`` and ``alerting import berka`` from the command line."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from alerting.cli import app
from alerting.io import load_directory

runner = CliRunner()
BERKA_TINY = Path(__file__).parents[1] / "importers" / "data" / "berka_tiny"


def test_sample_cli_is_deterministic(tmp_path: Path) -> None:
    for name in ("a", "b"):
        res = runner.invoke(app, ["sample", "--out", str(tmp_path / name), "--customers", "80",
                                  "--days", "30", "--seed", "9", "--start", "2025-03-01"])
        assert res.exit_code == 0, res.output
        assert "80 customers" in res.output
    for f in ("events.jsonl.gz", "customers.csv", "managers.csv"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
    assert len(load_directory(tmp_path / "a/customers.csv").customers) == 80


def test_sample_cli_rejects_a_bad_start(tmp_path: Path) -> None:
    res = runner.invoke(app, ["sample", "--out", str(tmp_path), "--start", "March"])
    assert res.exit_code == 2


def test_import_berka_cli(tmp_path: Path) -> None:
    res = runner.invoke(app, ["import", "berka", str(BERKA_TINY), "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "3 customers" in res.output and "skipped: none" in res.output
    d = load_directory(tmp_path / "customers.csv", tmp_path / "managers.csv")
    assert set(d.customers) == {"C1866", "C2542", "C3687"}
    res = runner.invoke(app, ["import", "berka", str(tmp_path / "nowhere"), "--out",
                              str(tmp_path / "x")])
    assert res.exit_code == 1 and "not found" in res.output


def test_backtest_runs_on_the_berka_example(tmp_path: Path) -> None:
    ex = Path(__file__).parents[2] / "examples" / "berka"
    out = tmp_path / "t.jsonl"
    res = runner.invoke(app, ["backtest", "--rules", str(ex / "rules.yaml"), "--events",
                              str(ex / "events.jsonl.gz"), "--customers",
                              str(ex / "customers.csv"), "--managers", str(ex / "managers.csv"),
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "large-withdrawal" in res.output and out.stat().st_size > 0
