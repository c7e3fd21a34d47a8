"""The Berka importer on a tiny fixture cut from the real files (/work/shared/data/berka):
accounts 1539, 2099 and 3050 with all their transactions of 1993-01 … 1994-03, their
dispositions (two DISPONENTs), clients, accounts and districts."""

from __future__ import annotations

import gzip
from collections import Counter
from datetime import date
from pathlib import Path

import orjson
import pytest

from alerting.errors import ConfigError
from alerting.importers.berka import (
    birthday,
    convert,
    map_kind,
    select_accounts,
    trailing_average,
)
from alerting.io import load_directory
from alerting.models import Transaction, parse_event

TINY = Path(__file__).parent / "data" / "berka_tiny"


@pytest.fixture(scope="module")
def data():  # type: ignore[no-untyped-def]
    return convert(TINY)


def test_every_row_converts_to_a_valid_event(data) -> None:  # type: ignore[no-untyped-def]
    rows = (TINY / "trans_prefix.asc").read_text("latin-1").splitlines()[1:]
    assert len(data.events) == len(rows) and not data.skipped
    evs = [parse_event(e) for e in data.events]
    assert all(isinstance(e, Transaction) and e.currency == "CZK" and e.tz == 60 for e in evs)
    assert [e.ts for e in evs] == sorted(e.ts for e in evs)
    assert len({e.event_id for e in evs}) == len(evs)


def test_kind_mapping_on_real_rows(data) -> None:  # type: ignore[no-untyped-def]
    kinds = Counter(e["kind"] for e in data.events)
    assert set(kinds) == {"deposit", "withdrawal", "transfer_in", "transfer_out", "fee",
                          "interest"}
    first = data.events[0]  # 1539's first row: 930103 PRIJEM VKLAD 600.00
    assert first == {"event_id": "berka-452728", "type": "transaction", "customer_id": "C1866",
                     "account_id": "A1539", "ts": "1993-01-03T12:00:00+01:00",
                     "kind": "deposit", "amount": "600.00", "currency": "CZK",
                     "channel": "counter", "balance_after": "600.00"}
    card = [e for e in data.events if e["channel"] == "card"]
    assert card and all(e["kind"] == "withdrawal" for e in card)
    out = [e for e in data.events if e["kind"] == "transfer_out"]
    assert any(e.get("counterparty_bank") for e in out)


@pytest.mark.parametrize(("row", "expected"), [
    (("PRIJEM", "VKLAD", ""), ("deposit", "counter")),
    (("PRIJEM", "PREVOD Z UCTU", "DUCHOD"), ("transfer_in", "transfer")),
    (("PRIJEM", "", "UROK"), ("interest", "system")),
    (("VYDAJ", "VYBER", "SLUZBY"), ("fee", "system")),
    (("VYDAJ", "VYBER", "SANKC. UROK"), ("fee", "system")),
    (("VYDAJ", "VYBER", ""), ("withdrawal", "counter")),
    (("VYBER", "VYBER", ""), ("withdrawal", "counter")),
    (("VYDAJ", "VYBER KARTOU", ""), ("withdrawal", "card")),
    (("VYDAJ", "PREVOD NA UCET", "SIPO"), ("transfer_out", "transfer")),
    (("???", "", ""), None),
])
def test_map_kind(row: tuple[str, str, str], expected: tuple[str, str] | None) -> None:
    assert map_kind(*row) == expected


def test_customer_is_the_owner_not_the_disponent(data) -> None:  # type: ignore[no-untyped-def]
    owners = {e["account_id"]: e["customer_id"] for e in data.events}
    assert owners == {"A1539": "C1866", "A2099": "C2542", "A3050": "C3687"}
    assert sorted(c["customer_id"] for c in data.customers) == ["C1866", "C2542", "C3687"]


def test_directory_files_load_and_route(tmp_path: Path, data) -> None:  # type: ignore[no-untyped-def]
    counts = data.write(tmp_path)
    assert counts["events"] == len(data.events)
    d = load_directory(tmp_path / "customers.csv", tmp_path / "managers.csv")
    c = d.customer("C1866")
    assert c is not None and c.assets > 0 and c.birthday and c.last_activity_at
    chain = [m.role for m in d.supervisors_of(c.manager_id)]  # type: ignore[arg-type]
    assert chain == ["supervisor", "branch_vp", "branch_president"]
    with gzip.open(tmp_path / "events.jsonl.gz") as fh:
        assert [orjson.loads(x) for x in fh] == data.events


def test_same_input_same_bytes(tmp_path: Path) -> None:
    convert(TINY).write(tmp_path / "a")
    convert(TINY).write(tmp_path / "b")
    for n in ("events.jsonl.gz", "customers.csv", "managers.csv"):
        assert (tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes()


def test_trailing_average_is_time_weighted() -> None:
    last = date(1994, 3, 31)
    # 100.00 from before the window all the way through: the average is exactly 100.00
    assert trailing_average([(date(1993, 1, 1), 10_000)], last) == 10_000
    # 0 for the first 60 days of the window, then 300.00 for the last 30: average 100.00
    pts = [(date(1993, 1, 1), 0), (date(1994, 3, 2), 300_00)]
    assert trailing_average(pts, last) == 100_00
    # the day's closing balance is its last posting
    assert trailing_average([(last, 500), (last, 9000)], last, days=1) == 9000


def test_birthday_decodes_women() -> None:
    assert birthday("706213") == "1970-12-13"
    assert birthday("450204") == "1945-02-04"


def test_select_accounts_is_even_and_deterministic() -> None:
    trans = [{"account_id": str(i)} for i in range(1, 101)]
    picked = select_accounts(trans, 10)
    assert picked == select_accounts(trans, 10) and picked is not None and len(picked) == 10
    assert "1" in picked and "91" in picked
    assert select_accounts(trans, None) is None


def test_missing_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        convert(tmp_path)
