"""The canonical tabular dataset: round trips, and every tabular check with a failing and a passing example."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import NOW, SAMPLE
from finintel.formats.tabular import dataset_columns, read_dataset, write_dataset
from finintel.ingest import ingest
from finintel.store import DATASET_TABLES, TX_CODES
from finintel.validate import validate_dataset


@pytest.fixture(scope="module")
def sample_store():
    return ingest([SAMPLE / "goaml"], now=NOW).store


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_dataset_round_trip(sample_store, tmp_path: Path, fmt: str) -> None:
    write_dataset(sample_store.tables, tmp_path / "ds", fmt)
    result = ingest([tmp_path / "ds"], now=NOW)
    assert result.counts.reconciles() and result.rejected_total == 0
    for table in DATASET_TABLES:
        cols = list(dataset_columns(table))
        expected = sample_store.tables[table].select(cols)
        got = result.store.tables[table].select(cols)
        if table == "transactions":
            expected = expected.drop("source_file", "source_line", strict=False)
            got = got.drop("source_file", "source_line", strict=False)
        assert got.equals(expected), table
    assert validate_dataset(tmp_path / "ds").problems == []
    # the store holds codes as categoricals; the exchanged dataset has plain text for any Parquet reader
    assert all(isinstance(result.store.transactions.schema[c], pl.Categorical) for c in TX_CODES)
    if fmt == "parquet":
        schema = pq.read_schema(tmp_path / "ds" / "transactions.parquet")
        assert not [f.name for f in schema if pa.types.is_dictionary(f.type)]
        assert all(pa.types.is_large_string(schema.field(c).type) for c in TX_CODES)


def _minimal(tmp_path: Path, tx_rows: str, accounts: str | None = None) -> Path:
    folder = tmp_path / "ds"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "transactions.csv").write_text(tx_rows)
    if accounts is not None:
        (folder / "accounts.csv").write_text(accounts)
    return folder


HEAD = "transaction_id,timestamp,amount,currency,from_account_id,to_account_id\n"
OK_ROW = "t1,2026-01-01T10:00:00,100.50,EUR,a1,a2\n"
ACCOUNTS = "account_id,kind\na1,bank\na2,wallet\n"

CASES = {
    "FI-T001": ("transaction_id,timestamp,amount\nt1,2026-01-01,5\n", None),
    "FI-T002": (HEAD.replace("\n", ",colour\n") + OK_ROW.replace("\n", ",blue\n"), ACCOUNTS),
    "FI-T003": (HEAD + "t1,yesterday,100,EUR,a1,a2\n", ACCOUNTS),
    "FI-T004": (HEAD + "t1,2026-01-01,,EUR,a1,a2\n", ACCOUNTS),
    "FI-T005": (HEAD + OK_ROW + OK_ROW, ACCOUNTS),
    "FI-V001": (HEAD + "t1,2026-01-01,-3,EUR,a1,a2\n", ACCOUNTS),
    "FI-V003": (HEAD + "t1,2026-01-01,3,EUR,a1,\n", ACCOUNTS),
    "FI-V007": (HEAD + "t1,2026-01-01,3,EUR,a1,a9\n", ACCOUNTS),
}


@pytest.mark.parametrize("code", sorted(CASES))
def test_tabular_check(code: str, tmp_path: Path) -> None:
    rows, accounts = CASES[code]
    folder = _minimal(tmp_path / "bad", rows, accounts)
    report = validate_dataset(folder)
    assert code in [p.code for p in report.problems]
    good = _minimal(tmp_path / "good", HEAD + OK_ROW, ACCOUNTS)
    assert validate_dataset(good).problems == []


def test_missing_transactions_table(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    folder.mkdir()
    (folder / "accounts.csv").write_text(ACCOUNTS)
    result = read_dataset(folder)
    assert [p.code for p in result.problems] == ["FI-T006"]


def test_bad_rows_are_rejected_and_counted(tmp_path: Path) -> None:
    folder = _minimal(tmp_path, HEAD + OK_ROW + "t2,nope,1,EUR,a1,a2\nt3,2026-01-02,0,EUR,a1,a2\n" + OK_ROW, ACCOUNTS)
    result = ingest([folder], now=NOW)
    c = result.counts
    assert (c.read["transactions"], c.stored["transactions"], c.rejected["transactions"]) == (4, 1, 3)
    assert c.reconciles()
    rejects = result.store.tables["rejects"]
    assert rejects["line"].to_list() == [3, 4, 5]  # CSV lines, header is line 1
    assert rejects.filter(pl.col("line") == 3)["codes"].to_list() == [["FI-T003"]]


def test_missing_column_rejects_all_rows_counted(tmp_path: Path) -> None:
    folder = _minimal(tmp_path, "transaction_id,timestamp,amount\nt1,2026-01-01,5\nt2,2026-01-01,6\n")
    result = ingest([folder], now=NOW)
    assert result.counts.rejected["transactions"] == 2 and result.counts.reconciles()


def test_parquet_with_wrong_types(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    folder.mkdir()
    pl.DataFrame(
        {
            "transaction_id": ["t1", "t2"],
            "timestamp": ["2026-01-01", "not a date"],
            "amount": [1.5, 2.0],
            "currency": ["EUR", "EUR"],
            "from_account_id": ["a", "a"],
            "to_account_id": ["b", "b"],
        }
    ).write_parquet(folder / "transactions.parquet")
    result = ingest([folder], now=NOW)
    assert result.store.transactions["transaction_id"].to_list() == ["t1"]
    assert result.counts.rejected["transactions"] == 1


def test_unreadable_table_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    folder.mkdir()
    (folder / "transactions.parquet").write_bytes(b"PAR1 this is not parquet")
    report = validate_dataset(folder)
    assert report.fatal and report.problems[0].code == "FI-R001"


def test_text_is_stripped_and_empty_text_is_null(tmp_path: Path) -> None:
    """Columns with padded or empty values are cleaned; columns without any are taken as they are."""
    rows = HEAD.replace("\n", ",description,location\n") + (
        "t1,2026-01-01T10:00:00,100.50,EUR, a1 ,a2,rent,\nt2,2026-01-02T10:00:00,7,EUR,a1,a2,  ,Riga\n"
    )
    folder = _minimal(tmp_path, rows, ACCOUNTS)
    tx = ingest([folder], now=NOW).store.transactions.sort("transaction_id")
    assert tx["from_account_id"].to_list() == ["a1", "a1"]
    assert tx["description"].to_list() == ["rent", None]
    assert tx["location"].to_list() == [None, "Riga"]
    assert tx["to_account_id"].to_list() == ["a2", "a2"]


def test_parquet_columns_without_values(tmp_path: Path) -> None:
    """An optional column with no value is not decoded (null in the store, as if absent); a required column with
    no value is still a problem on every row."""
    folder = tmp_path / "ds"
    folder.mkdir()
    base = {
        "transaction_id": ["t1", "t2"],
        "timestamp": ["2026-01-01T10:00:00", "2026-01-02T10:00:00"],
        "currency": ["EUR", "EUR"],
        "from_account_id": ["a1", "a1"],
        "to_account_id": ["a2", "a2"],
        "comments": [None, None],
    }
    pl.DataFrame({**base, "amount": ["5", "6"]}, schema_overrides={"comments": pl.String}).write_parquet(
        folder / "transactions.parquet"
    )
    result = ingest([folder], now=NOW)
    assert result.rejected_total == 0 and result.store.transactions["comments"].null_count() == 2
    pl.DataFrame(
        {**base, "amount": [None, None]}, schema_overrides={"comments": pl.String, "amount": pl.String}
    ).write_parquet(folder / "transactions.parquet")
    result = ingest([folder], now=NOW)
    assert [p.code for p in result.problems].count("FI-T004") == 2
    assert result.counts.to_dict()["transactions"]["rejected"] == 2
