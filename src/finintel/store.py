"""The columnar store: resolved tables as polars frames, persisted as Parquet.

Table schemas are derived from the pydantic model (:mod:`finintel.model`) plus a few store-only columns, so the
model, the store, the tabular format and ``docs/formats.md`` cannot drift apart (a test compares them).

A store folder holds one Parquet file per table and ``store.json`` (format version, finintel version, inputs with
their SHA-256, counts). :meth:`Store.save` writes to a temporary sibling folder and renames it into place, so an
interrupted write leaves the previous store intact.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import errno
import json
import os
import shutil
import sys
import tempfile
import types
import typing
from collections.abc import Collection, Container, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel

from finintel import __version__
from finintel.errors import StoreError
from finintel.model import Account, Organization, Person, Relation, Report, Transaction

STORE_FORMAT_VERSION = 1
#: the store's Parquet compression level: zstd's level 1 instead of polars' default 3. Writing the 1M goAML store took
#: 2.04-2.18 s instead of 2.22-2.39 s (4 runs each, alternated), its files 88 MiB instead of 86 MiB, and loading it
#: took as long (0.6-0.8 s both ways; measured 2026-12-02)
ZSTD_LEVEL = 1
MONEY = pl.Decimal(38, 18)


def _dtype(annotation: Any) -> pl.DataType:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _dtype(args[0])
    if origin is typing.Literal:
        return pl.String()
    if origin is list:
        return pl.List(_dtype(typing.get_args(annotation)[0]))
    if origin is typing.Annotated:
        return _dtype(typing.get_args(annotation)[0])
    if annotation is str:
        return pl.String()
    if annotation is bool:
        return pl.Boolean()
    if annotation is int:
        return pl.Int64()
    if annotation is Decimal:
        return MONEY
    if annotation is dt.datetime:
        return pl.Datetime("us")
    if annotation is dt.date:
        return pl.Date()
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return pl.String()
    raise TypeError(f"no column type for {annotation!r}")


def model_schema(*models: type[BaseModel]) -> dict[str, pl.DataType]:
    schema: dict[str, pl.DataType] = {}
    for model in models:
        for name, info in model.model_fields.items():
            if name not in schema:
                schema[name] = _dtype(info.annotation)
    return schema


_PARTY_EXTRA = {"mention_count": pl.Int64(), "report_count": pl.Int64(), "match_basis": pl.String()}
_ACCOUNT_EXTRA = {"mention_count": pl.Int64(), "report_count": pl.Int64(), "match_basis": pl.String()}
# file names repeat on every row read from one file: categoricals (4 bytes a row instead of 16 + the name)
_TX_EXTRA = {"source_file": pl.Categorical(), "source_line": pl.Int64()}
#: Transaction columns held as categoricals: codes and report ids repeat across millions of rows, and a string
#: column costs a 16-byte view a row even for "EUR" (10M transactions: 160 MB a column, 40 MB as a categorical).
TX_CODES = frozenset(
    {
        "report_id",
        "currency",
        "currency_local",
        "transmode_code",
        "from_funds_code",
        "to_funds_code",
        "from_country",
        "to_country",
    }
)
_REL_EXTRA = {"report_count": pl.Int64()}
#: Mention columns held as categoricals, for the same reason: each is a code (a goAML lookup list, a country, a
#: currency, a role or kind of finintel's) repeated on most of the million rows of the mention tables. Measured on
#: the 1M goAML ingest (three alternated runs each): peak RSS 2.57-2.75 GB -> 2.24-2.35 GB, system time 0.3-1.7 s
#: less (fewer pages faulted in for the batches handed over and the tables concatenated); free text and identifiers
#: (names, addresses, numbers, BICs) stay strings.
MENTION_CODES = frozenset(
    {
        "report_id",
        "role",
        "jurisdiction",
        "kind",
        "gender",
        "nationality",
        "nationality2",
        "residence",
        "passport_country",
        "id_type",
        "id_country",
        "country",
        "incorporation_country",
        "legal_form",
        "business_type",
        "account_type",
        "currency",
        "chain",
    }
)
_MENTION_EXTRA = {  # (its codes, as the models', become categoricals: MENTION_CODES)
    "mention_id": pl.String(),
    "report_id": pl.String(),
    "file": pl.Categorical(),
    "line": pl.Int64(),
    # element paths repeat from report to report (the sides of the n-th transaction): a categorical, as the file is
    "path": pl.Categorical(),
    "role": pl.String(),
    "my_client": pl.Boolean(),
    "jurisdiction": pl.String(),
    "match_keys": pl.List(pl.String()),
}


def _coded(schema: dict[str, pl.DataType], codes: frozenset[str]) -> dict[str, pl.DataType]:
    """``schema`` with its ``codes`` columns as categoricals (:data:`TX_CODES`, :data:`MENTION_CODES`)."""
    return {name: pl.Categorical() if name in codes else t for name, t in schema.items()}


#: Table name -> polars schema of the stored table.
SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "parties": {**model_schema(Person, Organization), **_PARTY_EXTRA},
    "accounts": {**model_schema(Account), **_ACCOUNT_EXTRA},
    "transactions": {**_coded(model_schema(Transaction), TX_CODES), **_TX_EXTRA},
    "relations": {**model_schema(Relation), **_REL_EXTRA},
    "reports": model_schema(Report),
    "party_mentions": _coded({**_MENTION_EXTRA, **model_schema(Person, Organization)}, MENTION_CODES),
    "account_mentions": _coded({**_MENTION_EXTRA, **model_schema(Account)}, MENTION_CODES),
    "rejects": {
        "kind": pl.String(),
        "ref": pl.String(),
        "file": pl.String(),
        "line": pl.Int64(),
        "path": pl.String(),
        "report_id": pl.String(),
        "codes": pl.List(pl.String()),
        "reasons": pl.String(),
    },
    "problems": {
        "code": pl.String(),
        "name": pl.String(),
        "severity": pl.String(),
        "file": pl.String(),
        "line": pl.Int64(),
        "path": pl.String(),
        "ref": pl.String(),
        "message": pl.String(),
    },
}

#: The tables of the canonical dataset (what users exchange); the others are the store's own bookkeeping.
DATASET_TABLES = ("parties", "accounts", "transactions", "relations", "reports")


def empty_frame(table: str) -> pl.DataFrame:
    return pl.DataFrame(schema=SCHEMAS[table])


def conform(
    table: str, frame: pl.DataFrame, columns: Collection[str] | None = None, height: int | None = None
) -> pl.DataFrame:
    """Add missing columns as nulls, cast to the table schema, order columns as the schema does. ``columns``: only
    these of the table's columns (a table read with some of them); ``height``: its rows, when ``frame`` holds none
    of those columns (read with none: every one wanted holds only nulls)."""
    have = frame.schema
    cols = []
    for name, dtype in SCHEMAS[table].items():
        if columns is not None and name not in columns:
            continue
        if name in have:  # a cast to the type a column already has can still copy it (string views): skipped
            cols.append(pl.col(name) if have[name] == dtype else pl.col(name).cast(dtype, strict=True))
        else:
            cols.append(pl.lit(None, dtype=dtype).alias(name))
    if not any(name in have for name in (SCHEMAS[table] if columns is None else columns)):
        # selecting only literals would give one row: added to a frame of the right height instead
        rows = frame.height if height is None else height
        carrier = pl.DataFrame({"_": pl.repeat(None, rows, dtype=pl.Boolean, eager=True)})
        return carrier.with_columns(cols).drop("_")
    return frame.select(cols)


def frame_from_rows(table: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    if not rows:
        return empty_frame(table)
    schema = SCHEMAS[table]
    data: dict[str, Any] = {}
    for name, dtype in schema.items():
        values = [r.get(name) for r in rows]
        data[name] = string_list_series(values) if dtype == pl.List(pl.String) else values
    return pl.DataFrame(data, schema=schema, strict=False)


def string_list_series(values: list[Any]) -> pl.Series:
    """A List(String) column from Python lists via Arrow offsets (polars builds one Series per row otherwise: about
    a second per 100,000 rows)."""
    offsets = [0]
    flat: list[Any] = []
    valid: list[bool] = []
    for v in values:
        if v is not None:
            flat.extend(v)
        offsets.append(len(flat))
        valid.append(v is not None)
    array = pa.ListArray.from_arrays(
        pa.array(offsets, type=pa.int32()),
        pa.array(flat, type=pa.string()),
        mask=pa.array([not ok for ok in valid], type=pa.bool_()),
    )
    return pl.Series(array).cast(pl.List(pl.String))


@dataclass
class Store:
    """All tables of one analysis, plus metadata (``store.json``)."""

    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    #: tables loaded with some of their columns only (:meth:`load`'s ``columns``): table -> its Parquet file, from
    #: which the rest is read when the whole table is first asked for
    deferred: dict[str, Path] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for name in SCHEMAS:
            if name not in self.tables:
                self.tables[name] = empty_frame(name)

    # convenient accessors (whole tables)
    @property
    def parties(self) -> pl.DataFrame:
        return self.table("parties")

    @property
    def accounts(self) -> pl.DataFrame:
        return self.table("accounts")

    @property
    def transactions(self) -> pl.DataFrame:
        return self.table("transactions")

    @property
    def relations(self) -> pl.DataFrame:
        return self.table("relations")

    @property
    def reports(self) -> pl.DataFrame:
        return self.table("reports")

    def table(self, name: str) -> pl.DataFrame:
        """The whole table: a table loaded with some of its columns gets the rest from its file now."""
        path = self.deferred.pop(name, None)
        if path is not None:
            have = self.tables[name]
            try:
                rest = [c for c in _value_columns(pq.read_metadata(path)) if c not in have.columns]
                more = pl.read_parquet(path, columns=rest) if rest else None
            except Exception as exc:  # polars/arrow raise many types for corrupt files
                raise StoreError(f"table {name} unreadable: {exc}", file=str(path)) from None
            if more is not None and more.height != have.height:
                raise StoreError(f"table {name} changed since the store was loaded", file=str(path))
            self.tables[name] = conform(name, have if more is None else pl.concat([have, more], how="horizontal"))
        return self.tables[name]

    def columns(self, name: str, columns: list[str]) -> pl.DataFrame:
        """These columns of a table, in this order, without reading the table's other columns if they were left
        out when it was loaded."""
        frame = self.tables[name]
        if not all(c in frame.columns for c in columns):
            frame = self.table(name)
        return frame.select(columns)

    def height(self, name: str) -> int:
        """A table's rows (a table loaded with some of its columns has them all)."""
        return self.tables[name].height

    def counts(self) -> dict[str, int]:
        return {name: frame.height for name, frame in self.tables.items()}

    # -- persistence ----------------------------------------------------------------------------------------------

    def save(self, path: Path, *, csv_tables: tuple[str, ...] = ("rejects", "problems")) -> None:
        """Write atomically: a temporary sibling folder renamed into place; the old store survives a crash.

        ``csv_tables`` are also written as CSV for people to read (lists joined with ``|``)."""
        for name in list(self.deferred):
            self.table(name)
        path = Path(path)
        parent = path.resolve().parent
        parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and not (path / "store.json").exists():
            raise StoreError("refusing to overwrite a folder that is not a finintel store", file=str(path))
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=parent))
        try:
            for name, frame in self.tables.items():
                frame.write_parquet(
                    tmp / f"{name}.parquet", compression="zstd", compression_level=ZSTD_LEVEL, statistics=True
                )
                if name in csv_tables:
                    frame.with_columns(
                        [pl.col(c).list.join("|") for c, t in frame.schema.items() if isinstance(t, pl.List)]
                    ).write_csv(tmp / f"{name}.csv")
            meta = {
                **self.meta,
                "format": "finintel-store",
                "format_version": STORE_FORMAT_VERSION,
                "finintel_version": __version__,
                "counts": self.counts(),
            }
            (tmp / "store.json").write_text(json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n")
            swap_in(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    @classmethod
    def load(
        cls, path: Path, tables: tuple[str, ...] | None = None, columns: Mapping[str, Sequence[str]] | None = None
    ) -> Store:
        """The store at ``path`` (``tables``: only these). ``columns``: per table, the only columns to read now (the
        scan's, say); the table's other columns are read from its file when the whole table is first asked for
        (:meth:`table`; :meth:`columns` reads no more than it is asked for)."""
        path = Path(path)
        meta_file = path / "store.json"
        if not meta_file.is_file():
            raise StoreError("not a finintel store (no store.json)", file=str(path))
        try:
            meta = json.loads(meta_file.read_text())
        except (OSError, ValueError) as exc:
            raise StoreError(f"store.json unreadable: {exc}", file=str(meta_file)) from None
        if meta.get("format_version") != STORE_FORMAT_VERSION:
            raise StoreError(
                f"store format version {meta.get('format_version')} is not supported (expected "
                f"{STORE_FORMAT_VERSION}); re-ingest the inputs",
                file=str(path),
            )
        frames: dict[str, pl.DataFrame] = {}
        deferred: dict[str, Path] = {}
        for name, names in (columns or {}).items():
            unknown = [c for c in names if c not in SCHEMAS[name]]
            if unknown:
                raise ValueError(f"no such column of {name}: {', '.join(unknown)}")
        for name in tables or tuple(SCHEMAS):
            f = path / f"{name}.parquet"
            if not f.is_file():
                raise StoreError(f"table {name} missing", file=str(path))
            wanted = (columns or {}).get(name)
            try:
                # a column of nulls read from Parquet costs 16 bytes a row (string views); left out, conform()
                # gives it back as a constant column that takes no memory (10M transactions: 1.3 GB less)
                if wanted is None:
                    frames[name] = conform(name, pl.read_parquet(f, columns=columns_with_values(f)))
                else:
                    described = pq.read_metadata(f)
                    read = [c for c in wanted if c in _value_columns(described)]
                    frames[name] = conform(name, pl.read_parquet(f, columns=read), wanted, described.num_rows)
                    deferred[name] = f
            except Exception as exc:  # polars/arrow raise many types for corrupt files
                raise StoreError(f"table {name} unreadable: {exc}", file=str(f)) from None
        return cls(tables=frames, meta=meta, deferred=deferred)


def in_time_order(tx: pl.DataFrame) -> bool:
    """Whether transactions are ordered by time, then id (as ingest stores them): one pass, no sort."""
    ts, tid = pl.col("timestamp"), pl.col("transaction_id")
    later = (ts > ts.shift()) | ((ts == ts.shift()) & (tid >= tid.shift()))
    return bool(tx.select(later.fill_null(True).all()).item())


def null_columns(meta: pq.FileMetaData) -> set[str]:
    """Columns of a Parquet file that hold only nulls, from the row-group statistics (nothing is decoded); a column
    without statistics in some row group is not one of them."""
    if meta.num_rows == 0:
        return set()
    all_null: dict[str, bool] = {}
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        for j in range(group.num_columns):
            column = group.column(j)
            stats = column.statistics
            full = stats is not None and stats.has_null_count and stats.null_count == group.num_rows
            all_null[column.path_in_schema] = all_null.get(column.path_in_schema, True) and full
    return {name for name, yes in all_null.items() if yes}


def _value_columns(meta: pq.FileMetaData) -> list[str]:
    """Every column of a Parquet file that holds a value, from its metadata (:func:`null_columns`)."""
    empty = null_columns(meta)
    return [c for c in meta.schema.to_arrow_schema().names if c not in empty]


def columns_with_values(path: Path, skippable: Container[str] | None = None) -> list[str] | None:
    """The columns of a Parquet file to decode: all but those holding only nulls, or only those of them in
    ``skippable`` (None: all of them)."""
    meta = pq.read_metadata(path)
    empty = {c for c in null_columns(meta) if skippable is None or c in skippable}
    return [c for c in meta.schema.to_arrow_schema().names if c not in empty] if empty else None


def swap_in(tmp: Path, target: Path) -> None:
    """Put a completely written folder in place: fsync it, then exchange it with any old ``target`` and delete the
    old one.

    At every moment ``target`` is the old folder or the new one, never a mix (used by stores and bundles). On Linux
    the two folders are exchanged in one step (``renameat2`` with ``RENAME_EXCHANGE``), so ``target`` never
    disappears; elsewhere the old folder is moved aside first, and a crash between the two renames leaves it at
    ``.NAME.old-PID`` beside the target."""
    _fsync_dir(tmp)
    if not target.exists():
        os.replace(tmp, target)
        return
    if exchange(tmp, target):
        shutil.rmtree(tmp, ignore_errors=True)  # holds the old folder now
        return
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``). False where the system or the
    file system cannot; then nothing has changed."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):  # no glibc 2.28+ (musl has it too, older C libraries do not)
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):  # kernel or file system without the flag
        return False
    raise OSError(err, os.strerror(err), str(b))


def _fsync_dir(path: Path) -> None:
    for f in path.iterdir():
        with f.open("rb") as fh:
            os.fsync(fh.fileno())
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
