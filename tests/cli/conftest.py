"""Fixtures for the CLI tests: a small generated bank written once per session."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from alerting.sample import generate

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """events.jsonl.gz, customers.csv and managers.csv of 300 customers over 90 days."""
    out = tmp_path_factory.mktemp("bank")
    generate(customers=300, days=90, seed=5, start=date(2025, 1, 1)).write(out)
    return out


@pytest.fixture(scope="session")
def rules_small() -> Path:
    return DATA / "rules_small.yaml"


@pytest.fixture(scope="session")
def rules_loose() -> Path:
    return DATA / "rules_loose.yaml"
