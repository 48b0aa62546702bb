"""The canonical tabular dataset: a folder with ``parties``, ``accounts``, ``transactions``, ``relations`` and
``reports`` tables as CSV (UTF-8, header row) or Parquet. Columns, types and required columns: ``docs/formats.md``.

Reading checks every cell: a row whose required cell is missing or unparseable, whose id repeats, or whose amount is
not positive is rejected (listed, never dropped silently); a bad optional cell is set to null with a problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from finintel.inputs import find_table_file
from finintel.problems import Problem, Severity, make_problem
from finintel.store import DATASET_TABLES, MONEY, SCHEMAS, columns_with_values, conform

#: Columns a table must have (one of each tuple's alternatives).
REQUIRED_COLUMNS: dict[str, tuple[tuple[str, ...], ...]] = {
    "parties": (("party_id",), ("kind",), ("name",)),
    "accounts": (("account_id",), ("kind",)),
    "transactions": (
        ("transaction_id",),
        ("timestamp",),
        ("amount",),
        ("currency",),
        ("from_account_id", "from_party_id"),
        ("to_account_id", "to_party_id"),
    ),
    "relations": (("kind",), ("source_id",), ("target_id",)),
    "reports": (("report_id",), ("rentity_id",), ("report_code",)),
}

#: Cells that must not be empty (a row with an empty one is rejected).
REQUIRED_VALUES: dict[str, tuple[str, ...]] = {
    "parties": ("party_id", "kind", "name"),
    "accounts": ("account_id", "kind"),
    "transactions": ("transaction_id", "timestamp", "amount", "currency"),
    "relations": ("kind", "source_id", "target_id"),
    "reports": ("report_id", "rentity_id", "report_code"),
}

ID_COLUMN = {
    "parties": "party_id",
    "accounts": "account_id",
    "transactions": "transaction_id",
    "relations": "relation_id",
    "reports": "report_id",
}

ENUMS: dict[tuple[str, str], frozenset[str]] = {
    ("parties", "kind"): frozenset({"person", "organization"}),
    ("accounts", "kind"): frozenset({"bank", "vasp", "wallet"}),
    ("relations", "kind"): frozenset({"owns", "directs", "controls", "signatory", "nominee", "holds"}),
    ("relations", "target_type"): frozenset({"party", "account"}),
}

#: Columns whose values identify a person or an account: never echoed in problem messages.
PERSONAL_COLUMNS = frozenset(
    {
        "name",
        "first_name",
        "middle_name",
        "last_name",
        "birth_date",
        "birth_place",
        "ssn",
        "passport_number",
        "id_number",
        "tax_number",
        "email",
        "phone",
        "address",
        "number",
        "iban",
        "client_number",
        "registration_number",
    }
)

#: Store-only columns that a dataset does not carry.
_STORE_ONLY = {"mention_count", "report_count", "match_basis", "source_file", "source_line"}

_DATETIME_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d")
_TRUE = ("true", "1", "yes", "y", "t")
_FALSE = ("false", "0", "no", "n", "f")


def dataset_columns(table: str) -> dict[str, pl.DataType]:
    """The columns of a dataset table and their types; a column the store holds as a categorical is text here."""
    return {
        k: pl.String() if isinstance(v, pl.Categorical) else v
        for k, v in SCHEMAS[table].items()
        if k not in _STORE_ONLY
    }


@dataclass
class TableResult:
    frame: pl.DataFrame
    read: int
    rejects: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class DatasetResult:
    tables: dict[str, pl.DataFrame]
    problems: list[Problem]
    rejects: list[dict[str, Any]]
    read: dict[str, int]


def _parse_column(name: str, dtype: pl.DataType) -> pl.Expr:
    """Expression turning a String column into ``dtype`` (null where unparseable)."""
    c = pl.col(name).str.strip_chars()
    c = pl.when(c == "").then(None).otherwise(c)
    if dtype == pl.String():
        return c.alias(name)
    if dtype == pl.Boolean():
        low = c.str.to_lowercase()
        return pl.when(low.is_in(_TRUE)).then(True).when(low.is_in(_FALSE)).then(False).otherwise(None).alias(name)
    if dtype == pl.Int64():
        return c.cast(pl.Int64, strict=False).alias(name)
    if dtype == MONEY:
        ok = c.str.contains(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
        return pl.when(ok).then(c).otherwise(None).cast(MONEY, strict=False).alias(name)
    if dtype == pl.Date():
        return c.str.slice(0, 10).str.strptime(pl.Date, "%Y-%m-%d", strict=False).alias(name)
    if isinstance(dtype, pl.Datetime):
        stripped = c.str.replace(r"(Z|[+-]\d{2}:?\d{2})$", "")
        return pl.coalesce(
            [stripped.str.strptime(pl.Datetime("us"), fmt, strict=False) for fmt in _DATETIME_FORMATS]
        ).alias(name)
    if isinstance(dtype, pl.List):
        return c.str.split("|").alias(name)
    raise TypeError(f"unsupported column type {dtype}")  # pragma: no cover


def _columns_to_read(path: Path, table: str) -> list[str] | None:
    """The columns of a Parquet table to decode: not the known, optional ones that hold only nulls (they become
    null columns of the store anyway; decoding them costs 16 bytes a row each). Required and unknown columns are
    always read, so that their problems are reported."""
    required = set(REQUIRED_VALUES[table]) | {c for alts in REQUIRED_COLUMNS[table] for c in alts}
    return columns_with_values(path, skippable=set(dataset_columns(table)) - required)


def _clean_text_columns(raw: pl.DataFrame, names: list[str]) -> set[str]:
    """The columns of ``names`` with no value to strip and no empty value (one pass, no strings copied)."""
    if not names or raw.height == 0:
        return set(names)
    dirty = raw.select((pl.col(c).str.contains(r"^\s|\s$") | (pl.col(c) == "")).any().alias(c) for c in names).row(0)
    return {c for c, d in zip(names, dirty, strict=True) if not d}


def _as_strings(frame: pl.DataFrame) -> pl.DataFrame:
    cols = []
    for name, dtype in frame.schema.items():
        if dtype == pl.String():
            cols.append(pl.col(name))
        elif isinstance(dtype, pl.List):
            cols.append(pl.col(name).cast(pl.List(pl.String)).list.join("|").alias(name))
        elif isinstance(dtype, pl.Datetime):
            cols.append(pl.col(name).dt.strftime("%Y-%m-%dT%H:%M:%S%.f").alias(name))
        else:
            cols.append(pl.col(name).cast(pl.String).alias(name))
    return frame.select(cols)


def read_table(path: Path, table: str, problems: list[Problem]) -> TableResult | None:
    """Read and check one table; ``None`` when the file itself cannot be read (a fatal problem is added)."""
    file = str(path)
    typed = pl.DataFrame()  # Parquet columns that already have the right type: no parsing needed
    try:
        if path.suffix == ".parquet":
            columns = dataset_columns(table)
            frame = pl.read_parquet(path, columns=_columns_to_read(path, table))
            keep = [c for c, t in frame.schema.items() if c in columns and t == columns[c] and t != pl.String()]
            typed = frame.select(keep)
            raw = _as_strings(frame.drop(keep))
            first_line = 1  # parquet rows are numbered from 1
        else:
            raw = pl.read_csv(path, infer_schema=False, encoding="utf8", raise_if_empty=False)
            first_line = 2  # header is line 1
    except Exception as exc:  # polars/arrow raise several types for broken files
        problems.append(make_problem("FI-R001", file=file, reason=_short(exc)))
        return None
    columns = dataset_columns(table)
    all_columns = [*raw.columns, *typed.columns]
    missing = [alts for alts in REQUIRED_COLUMNS[table] if not any(a in all_columns for a in alts)]
    for alts in missing:
        problems.append(make_problem("FI-T001", file=file, line=1, path=table, table=table, column=" or ".join(alts)))
    if missing:
        return TableResult(
            frame=conform(table, pl.DataFrame()),
            read=raw.height,
            rejects=[
                {
                    "kind": table,
                    "ref": None,
                    "file": file,
                    "line": None,
                    "path": table,
                    "codes": ["FI-T001"],
                    "reasons": f"table {table} lacks required columns; all {raw.height} rows rejected",
                }
            ]
            if raw.height
            else [],
        )
    for col in raw.columns:
        if col not in columns and col not in _STORE_ONLY:
            problems.append(make_problem("FI-T002", file=file, line=1, path=f"{table}.{col}", table=table, column=col))
    present = [c for c in columns if c in all_columns]
    textual = [c for c in present if c in raw.columns]
    raw = raw.select(textual).with_row_index("_row", offset=first_line)
    # a text column with nothing to strip and no empty value is taken as it is (no copy of every string)
    as_is = _clean_text_columns(raw, [c for c in textual if columns[c] == pl.String()])
    parsed = raw.select(["_row", *[pl.col(c) if c in as_is else _parse_column(c, columns[c]) for c in textual]]).hstack(
        typed.select([c for c in present if c in typed.columns])
    )
    bad: dict[int, list[Problem]] = {}
    required = set(REQUIRED_VALUES[table])

    def flag(rows: pl.DataFrame, code: str, column: str, reject: bool, **params: Any) -> None:
        for row, value in rows.select(["_row", "_v"]).iter_rows():
            p = make_problem(
                code,
                file=file,
                line=row,
                path=f"{table}.{column}",
                table=table,
                column=column,
                value="(hidden: personal data)" if column in PERSONAL_COLUMNS else _short_value(value),
                **params,
            )
            problems.append(p)
            if reject:
                bad.setdefault(row, []).append(p)

    for col in present:
        if col in typed.columns:
            empty = typed[col].is_null()
            failed = pl.repeat(False, typed.height, eager=True)
        elif columns[col] == pl.String():  # parsing text only strips it and makes "" null: it cannot fail
            empty = parsed[col].is_null()
            failed = pl.repeat(False, parsed.height, eager=True)
        else:
            raw_col = raw[col].str.strip_chars()
            empty = raw_col.is_null() | (raw_col == "")
            failed = parsed[col].is_null() & ~empty
        if failed.any():
            flag(
                raw.filter(failed).select(["_row", pl.col(col).alias("_v")]),
                "FI-T003",
                col,
                col in required,
                kind=_kind(columns[col]),
            )
        if col in required and empty.any():
            flag(raw.filter(empty).select(["_row", pl.lit("").alias("_v")]), "FI-T004", col, True)
        allowed = ENUMS.get((table, col))
        if allowed is not None:
            wrong = parsed[col].is_not_null() & ~parsed[col].is_in(sorted(allowed))
            if wrong.any():
                flag(
                    parsed.filter(wrong).select(["_row", pl.col(col).alias("_v")]),
                    "FI-T003",
                    col,
                    col in required,
                    kind=f"value ({', '.join(sorted(allowed))})",
                )
                parsed = parsed.with_columns(pl.when(wrong).then(None).otherwise(pl.col(col)).alias(col))
    if table == "transactions" and "amount" in parsed.columns:
        nonpos = parsed["amount"].is_not_null() & (parsed["amount"] <= 0)
        if nonpos.any():
            for row, value in parsed.filter(nonpos).select(["_row", "amount"]).iter_rows():
                p = make_problem(
                    "FI-V001", file=file, line=row, path="transactions.amount", element="amount", value=value
                )
                problems.append(p)
                bad.setdefault(row, []).append(p)
    if table == "transactions":
        for side in ("from", "to"):
            cols = [c for c in (f"{side}_account_id", f"{side}_party_id") if c in parsed.columns]
            none = pl.all_horizontal([pl.col(c).is_null() for c in cols])
            for (row,) in parsed.filter(none).select("_row").iter_rows():
                p = make_problem("FI-V003", file=file, line=row, path=f"transactions.{side}_account_id", side=side)
                problems.append(p)
                bad.setdefault(row, []).append(p)
    id_col = ID_COLUMN[table]
    if id_col in parsed.columns:
        ids = parsed.select(["_row", id_col]).filter(pl.col(id_col).is_not_null())
        dup = ids.filter(pl.col(id_col).is_duplicated())
        if dup.height:
            first = dup.group_by(id_col).agg(pl.col("_row").min().alias("_first"))
            later = dup.join(first, on=id_col).filter(pl.col("_row") != pl.col("_first"))
            for row, value, first_row in later.select(["_row", id_col, "_first"]).iter_rows():
                p = make_problem(
                    "FI-T005",
                    file=file,
                    line=row,
                    path=f"{table}.{id_col}",
                    table=table,
                    column=id_col,
                    value=value,
                    first_row=first_row,
                )
                problems.append(p)
                bad.setdefault(row, []).append(p)
    rejects = [
        {
            "kind": table,
            "ref": _ref(raw, row, id_col, first_line),
            "file": file,
            "line": row,
            "path": table,
            "codes": sorted({p.code for p in ps}),
            "reasons": "; ".join(p.message for p in ps),
        }
        for row, ps in sorted(bad.items())
    ]
    kept = parsed.filter(~pl.col("_row").is_in(list(bad))) if bad else parsed
    if table == "transactions" and "transaction_number" not in kept.columns:
        kept = kept.with_columns(pl.col("transaction_id").alias("transaction_number"))
    elif table == "transactions" and kept["transaction_number"].null_count():
        kept = kept.with_columns(pl.col("transaction_number").fill_null(pl.col("transaction_id")))
    if table == "transactions":
        kept = kept.with_columns(pl.lit(file).alias("source_file"), pl.col("_row").cast(pl.Int64).alias("source_line"))
    read = raw.height
    del raw, parsed, typed  # only ``kept`` is needed from here on
    return TableResult(frame=conform(table, kept.drop("_row")), read=read, rejects=rejects)


def read_dataset(folder: Path) -> DatasetResult:
    problems: list[Problem] = []
    rejects: list[dict[str, Any]] = []
    tables: dict[str, pl.DataFrame] = {}
    read: dict[str, int] = {}
    for table in DATASET_TABLES:
        path = find_table_file(folder, table)
        if path is None:
            if table == "transactions":
                problems.append(make_problem("FI-T006", file=str(folder), table=table))
            tables[table] = conform(table, pl.DataFrame())
            read[table] = 0
            continue
        result = read_table(path, table, problems)
        if result is None:
            tables[table] = conform(table, pl.DataFrame())
            read[table] = 0
            continue
        tables[table] = result.frame
        read[table] = result.read
        rejects.extend(result.rejects)
    _check_references(folder, tables, problems)
    if tables["relations"].height:
        rel = tables["relations"]
        account_ids = tables["accounts"]["account_id"]
        rel = rel.with_columns(
            pl.col("target_type").fill_null(
                pl.when(pl.col("target_id").is_in(account_ids.implode()))
                .then(pl.lit("account"))
                .otherwise(pl.lit("party"))
            ),
            pl.col("relation_id").fill_null(
                pl.concat_str(
                    [pl.lit("rel_"), pl.col("kind"), pl.lit(":"), pl.col("source_id"), pl.lit(">"), pl.col("target_id")]
                )
            ),
        )
        tables["relations"] = rel
    return DatasetResult(tables=tables, problems=problems, rejects=rejects, read=read)


def _check_references(folder: Path, tables: dict[str, pl.DataFrame], problems: list[Problem]) -> None:
    """FI-V007: transactions and relations must refer to defined accounts, parties and reports (when those tables
    exist in the dataset)."""
    tx = tables["transactions"]
    checks = [
        ("transactions", tx, "from_account_id", "accounts", "account_id"),
        ("transactions", tx, "to_account_id", "accounts", "account_id"),
        ("transactions", tx, "from_party_id", "parties", "party_id"),
        ("transactions", tx, "to_party_id", "parties", "party_id"),
        ("transactions", tx, "report_id", "reports", "report_id"),
        ("relations", tables["relations"], "source_id", "parties", "party_id"),
    ]
    for table, frame, col, target, target_col in checks:
        if find_table_file(folder, target) is None or frame.height == 0:
            continue
        known = tables[target][target_col]
        missing = frame.filter(pl.col(col).is_not_null() & ~pl.col(col).is_in(known.implode()))
        line_col = "source_line" if "source_line" in frame.columns else None
        for row in missing.iter_rows(named=True):
            problems.append(
                make_problem(
                    "FI-V007",
                    file=str(find_table_file(folder, table)),
                    line=row.get(line_col) if line_col else None,
                    path=f"{table}.{col}",
                    field=f"{table}.{col}",
                    value=row[col],
                    table=target,
                    severity=Severity.ERROR,
                )
            )


def write_dataset(tables: dict[str, pl.DataFrame], folder: Path, fmt: str = "parquet") -> list[Path]:
    """Write the canonical dataset tables of a store (CSV lists are written ``a|b|c``)."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for table in DATASET_TABLES:
        columns = dataset_columns(table)
        # plain text, not the store's categoricals: a dataset is for any Parquet reader
        frame = tables[table].select(pl.col(c).cast(t) for c, t in columns.items())
        path = folder / f"{table}.{fmt}"
        if fmt == "csv":
            _as_strings(frame).write_csv(path)
        else:
            frame.write_parquet(path, compression="zstd")
        written.append(path)
    return written


def _kind(dtype: pl.DataType) -> str:
    if dtype == MONEY:
        return "decimal number"
    if isinstance(dtype, pl.Datetime):
        return "date-time (YYYY-MM-DDThh:mm:ss)"
    if dtype == pl.Date():
        return "date (YYYY-MM-DD)"
    if dtype == pl.Boolean():
        return "boolean (true/false)"
    if dtype == pl.Int64():
        return "integer"
    return str(dtype)


def _ref(raw: pl.DataFrame, row: int, id_col: str, first_line: int) -> str | None:
    if id_col not in raw.columns:
        return None
    value = raw[id_col][row - first_line]
    return None if value is None else str(value)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def _short_value(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= 40 else text[:39] + "…"
