"""Ingest: inputs (goAML files, tabular datasets) -> resolved :class:`~finintel.store.Store`.

Counts always reconcile: for reports, transactions and report parties, ``read = stored + rejected``; every rejected
record is a row of the ``rejects`` table naming file, line, element path and the reasons. Party and account
*mentions* of stored records are all kept (``party_mentions``/``account_mentions``) and resolve to fewer entities.

A goAML file that is not well-formed, or is refused for safety, is rejected whole: storing the first half of a
truncated report would make an incomplete report look complete.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import hashlib
import itertools
import os
import pickle
import tempfile
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from finintel import codes
from finintel.codes import Profile
from finintel.formats import tabular
from finintel.formats.goaml import bigread, colread, fast
from finintel.formats.goaml.reader import (
    GoamlReader,
    Mention,
    PartyUnit,
    RejectedUnit,
    ReportUnit,
    SubtreeMemo,
    TransactionUnit,
    sha256_file,
)
from finintel.inputs import Input, discover
from finintel.model import Account
from finintel.problems import Problem, Severity, make_problem
from finintel.resolve import FrameResolution, resolve_account_frame, resolve_party_frame
from finintel.store import SCHEMAS, Store, conform, empty_frame, frame_from_rows, in_time_order
from finintel.workers import PARALLEL_MIN_BYTES, default_jobs, start_pool

RECORD_KINDS = ("reports", "transactions", "report_parties")
FLUSH_ROWS = 20_000  # transaction, mention or relation rows held as Python dicts before they become a frame
_TX_REF_COLUMNS = ("from_account_id", "to_account_id", "from_party_id", "to_party_id", "conductor_party_id")


@dataclass
class Counts:
    read: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RECORD_KINDS, 0))
    stored: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RECORD_KINDS, 0))
    rejected: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RECORD_KINDS, 0))

    def add(self, bucket: str, kind: str, n: int = 1) -> None:
        target = getattr(self, bucket)
        target[kind] = target.get(kind, 0) + n

    def reconciles(self) -> bool:
        kinds = set(self.read) | set(self.stored) | set(self.rejected)
        return all(self.read.get(k, 0) == self.stored.get(k, 0) + self.rejected.get(k, 0) for k in kinds)

    def to_dict(self) -> dict[str, dict[str, int]]:
        kinds = sorted(set(self.read) | set(self.stored) | set(self.rejected), key=_kind_order)
        return {
            k: {"read": self.read.get(k, 0), "stored": self.stored.get(k, 0), "rejected": self.rejected.get(k, 0)}
            for k in kinds
        }


def _kind_order(kind: str) -> tuple[int, str]:
    order = ["reports", "transactions", "report_parties", "parties", "accounts", "relations"]
    return (order.index(kind) if kind in order else len(order), kind)


@dataclass
class FileSummary:
    file: str
    kind: str
    sha256: str | None
    status: str  # ingested | rejected | unreadable | duplicate-file
    reports: int = 0
    transactions: int = 0
    problems: int = 0


@dataclass
class IngestResult:
    store: Store
    counts: Counts
    problems: list[Problem]
    files: list[FileSummary]
    entities: dict[str, int]

    @property
    def unreadable(self) -> list[FileSummary]:
        return [f for f in self.files if f.status == "unreadable"]

    @property
    def rejected_total(self) -> int:
        return sum(self.counts.rejected.values())


def _model_row(model: Any) -> dict[str, Any]:
    return dict(model.__dict__)


_FRAMED = ("transactions", "party_mentions", "account_mentions", "relations")


#: string columns with a handful of values per file, held as categoricals until the store is built
_REPEATED = ("file", "source_file", "report_id")


def _compact(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` as held until the store is built: without the columns that hold no value (most optional goAML
    fields, in most files; a string column costs 16 bytes a row even when null) and with the repeated strings as
    categoricals. :meth:`_Buffer.frame` restores the table's schema."""
    if not frame.height:
        return frame
    empty = [
        name for name, nulls in zip(frame.columns, frame.null_count().row(0), strict=True) if nulls == frame.height
    ]
    schema = frame.schema
    repeated = [c for c in _REPEATED if c in schema and c not in empty and schema[c] != pl.Categorical]
    if empty:
        frame = frame.drop(empty)
    return frame.with_columns(pl.col(c).cast(pl.Categorical) for c in repeated) if repeated else frame


@dataclass
class _Buffer:
    """What one goAML file contributed; committed to the builder only if the file is readable to the end."""

    reports: list[dict[str, Any]] = field(default_factory=list)
    # rows while one file is read, then typed frames (a tenth of the memory of Python dicts)
    transactions: list[dict[str, Any]] = field(default_factory=list)
    party_mentions: list[dict[str, Any]] = field(default_factory=list)
    account_mentions: list[dict[str, Any]] = field(default_factory=list)
    relations: list[dict[str, Any]] = field(default_factory=list)
    #: each part compact (:func:`_compact`) as it is added: the parts differ in the columns they hold
    frames: dict[str, list[pl.DataFrame]] = field(default_factory=lambda: {t: [] for t in _FRAMED})
    rejects: list[dict[str, Any]] = field(default_factory=list)
    parties_by_report: dict[str | None, int] = field(default_factory=dict)
    rejected_parties_by_report: dict[str | None, int] = field(default_factory=dict)
    #: mention id -> the id of an identical earlier mention in the same report (same role and attributes)
    alias: dict[str, str] = field(default_factory=dict)
    _seen: dict[tuple[Any, ...], str] = field(default_factory=dict)

    def flush(self) -> None:
        """Turn the rows read so far into typed frames."""
        for table in _FRAMED:
            rows: list[dict[str, Any]] = getattr(self, table)
            if rows:
                self.frames[table].append(_compact(frame_from_rows(table, rows)))
                setattr(self, table, [])

    def pending(self) -> int:
        """Rows not yet in frames."""
        return sum(len(getattr(self, table)) for table in _FRAMED)

    def seal(self) -> None:
        """The file is read: its rows become one frame per table, the per-report mention index is dropped."""
        self.flush()
        for table, parts in self.frames.items():
            if len(parts) > 1:  # (parts compacted alike or not: a column only some give a value is in only those)
                self.frames[table] = [_compact(pl.concat(parts, how="diagonal", rechunk=True))]
        self._seen = {}

    def drop_reports(self, reports: set[str], tables: tuple[str, ...] = _FRAMED) -> None:
        """Remove the rows of ``reports`` from ``tables``."""
        if reports:
            keep = ~pl.col("report_id").is_in(list(reports)).fill_null(False)
            for table in tables:
                self.frames[table] = [f.filter(keep) for f in self.frames[table]]

    def frame(self, table: str) -> pl.DataFrame:
        """All rows of ``table`` as one frame (the parts are released)."""
        self.flush()
        # every part is compact already (flushed, sealed, read from the columns or taken from a base store): compacting
        # the 576 parts of each table again at 1M cost 0.24 s
        parts = [f for f in self.frames[table] if f.height]
        self.frames[table] = []
        if not parts:
            return empty_frame(table)
        # each part holds only the columns its file gave values: concatenated diagonally, a column no file gave a
        # value stays out until conform() adds it as a constant column (materialised per part it cost 16 bytes a
        # row per column: about a third of party-mention columns are null in every file)
        return conform(table, pl.concat(parts, how="diagonal", rechunk=True))

    def add_mentions(self, mentions: list[Mention]) -> None:
        """Keep one row per distinct mention in a report: the same account with the same holder is usually repeated
        in every transaction of a report; repeats become aliases of the first (whose line is the provenance)."""
        for m in mentions:
            entity = m.entity
            own = entity.account_id if isinstance(entity, Account) else entity.party_id
            attrs = tuple(v for k, v in entity.__dict__.items() if k not in ("party_id", "account_id"))
            key = (m.provenance.report_id, m.role, m.my_client, type(entity).__name__, attrs)
            first = self._seen.get(key)
            if first is not None:
                self.alias[own] = first
                continue
            self._seen[key] = own
            row = _model_row(entity)
            row.update(
                mention_id=row.get("party_id") or row.get("account_id"),
                report_id=m.provenance.report_id,
                file=m.provenance.file,
                line=m.provenance.line,
                path=m.provenance.path,
                role=m.role,
                my_client=m.my_client,
                jurisdiction=m.jurisdiction,
            )
            if isinstance(m.entity, Account):
                self.account_mentions.append(row)
            else:
                self.party_mentions.append(row)


@dataclass
class FileRead:
    """One goAML file read into a buffer, in this process or in a worker process."""

    buf: _Buffer
    problems: list[Problem]
    stats: dict[str, int]
    fatal: bool


def read_goaml_file(
    path: Path,
    profile: Profile,
    *,
    mention_prefix: str,
    now: dt.datetime | None,
    sha256: str,
    memo: SubtreeMemo | None = None,
    fast_path: bool = True,
) -> FileRead:
    """Read one goAML file into a buffer (nothing is resolved or committed yet).

    A file the compiled fast path certifies clean and whose sides are accounts, persons or organizations is read from
    its columns (``colread.read_batch``: the same frames, built column-wise without the lxml walk; a file over
    ``fast.MAX_INGEST_BYTES`` in chunks, ``bigread``); any other file is walked. ``fast_path=False`` always walks.
    """
    data: bytes | None = b""  # empty: walk it (a file that cannot be read is reported by the walk); None: big
    if fast_path and fast.available():
        with contextlib.suppress(OSError):
            data = path.read_bytes() if path.stat().st_size <= fast.MAX_INGEST_BYTES else None
    return _read_files([(path, mention_prefix, sha256, data)], profile, now=now, memo=memo)[0]


def _finish_frame(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """A column-read table as buffers hold it: the store's schema (plus the batch's file index), compacted."""
    return _compact(conform(table, frame).with_columns(frame["_file"]))


def _column_file_read(read: colread.ColumnRead, reader: GoamlReader) -> FileRead:
    buf = _Buffer()
    for table, frame in read.frames.items():
        buf.frames[table] = [frame]
    buf.alias = read.alias
    buf.reports.append(read.report)
    if read.parties:
        buf.parties_by_report[read.report["report_id"]] = read.parties
    return FileRead(buf, reader.problems, reader.stats, reader.fatal)


#: goAML files read together by :func:`read_goaml_files`: the column reader's fixed cost per call (tens of polars
#: and numpy calls of tens of microseconds each) is paid once per batch; a batch is cut at this many bytes or files
BATCH_BYTES = 24 << 20
BATCH_FILES = 32
#: how far ahead of the batches sent to the workers their files are handed to the kernel's readahead. Files out of
#: the page cache read at 40-115 MB/s at times on the benchmark machine: advised a batch at a time, as it was sent,
#: the 100k ingest (213 MB) took 7.4 s from a cold cache and 4.5 s from a warm one, nothing being read while the
#: workers started (see docs/scaling.md)
PREFETCH_BYTES = 8 * BATCH_BYTES


@dataclass
class GoamlRead:
    """One goAML file of a batch: its SHA-256 and its read, or why it could not be read at all."""

    path: Path
    digest: str | None
    read: FileRead | None
    error: str | None = None


def read_goaml_files(
    items: list[tuple[Path, str]],
    profile: Profile,
    *,
    now: dt.datetime | None,
    memo: SubtreeMemo | None = None,
    fast_path: bool = True,
) -> list[GoamlRead]:
    """Hash and read several goAML files (each with its mention prefix), as :func:`read_goaml_file` reads one.

    Each file's bytes are read once: hashed and, when small enough for the column reader, scanned; the files the
    fast path takes are read together (:func:`colread.read_batch`), a big one in chunks (``bigread``), the others
    walked one by one."""
    out: list[GoamlRead] = []
    readable: list[tuple[Path, str, str, bytes | None]] = []
    for path, prefix in items:
        try:
            data: bytes | None
            if fast_path and fast.available() and path.stat().st_size <= fast.MAX_INGEST_BYTES:
                data = path.read_bytes()
                digest = hashlib.sha256(data).hexdigest()
            else:  # streamed: a big file is read in chunks (bigread) or walked, never held in memory
                data = None if fast_path and fast.available() else b""
                digest = sha256_file(path)
        except OSError as exc:
            out.append(GoamlRead(path, None, None, exc.strerror or str(exc)))
            continue
        out.append(GoamlRead(path, digest, None))
        readable.append((path, prefix, digest, data))
    reads = iter(_read_files(readable, profile, now=now, memo=memo))
    for item in out:
        if item.digest is not None:
            item.read = next(reads)
    return out


def _read_files(
    files: list[tuple[Path, str, str, bytes | None]],
    profile: Profile,
    *,
    now: dt.datetime | None,
    memo: SubtreeMemo | None,
) -> list[FileRead]:
    """Each file (path, mention prefix, SHA-256, bytes; empty: walk it; ``None``: a big file, read in chunks when
    the fast path takes it) read from the columns, together with the others, when the fast path takes it; else
    walked."""
    scanned = [
        (i, data, GoamlReader(path, profile, mention_prefix=prefix, now=now, sha256=digest, memo=memo))
        for i, (path, prefix, digest, data) in enumerate(files)
        if data
    ]
    reads: list[FileRead | None] = [None] * len(files)
    if scanned:
        columns = colread.read_batch([(data, reader) for _, data, reader in scanned], now=now, finish=_finish_frame)
        for (i, _data, reader), read in zip(scanned, columns, strict=True):
            if read is not None and not reader.problems:  # certified files give none; if one did, walk it
                reads[i] = _column_file_read(read, reader)
    for i, (path, prefix, digest, data) in enumerate(files):
        if data is None:
            reader = GoamlReader(path, profile, mention_prefix=prefix, now=now, sha256=digest, memo=memo)
            big = bigread.read_big(path, reader, now=now, finish=_finish_frame)
            if big is not None and not reader.problems:
                reads[i] = _column_file_read(big, reader)
    return [
        read
        if read is not None
        else _walk_goaml_file(path, profile, mention_prefix=prefix, now=now, sha256=digest, memo=memo)
        for read, (path, prefix, digest, _data) in zip(reads, files, strict=True)
    ]


def _walk_goaml_file(
    path: Path,
    profile: Profile,
    *,
    mention_prefix: str,
    now: dt.datetime | None,
    sha256: str,
    memo: SubtreeMemo | None,
) -> FileRead:
    """Read one goAML file with the reader's walk."""
    reader = GoamlReader(path, profile, mention_prefix=mention_prefix, now=now, sha256=sha256, memo=memo)
    buf = _Buffer()
    for unit in reader:
        if isinstance(unit, TransactionUnit):
            tx = _model_row(unit.transaction)
            tx["source_file"] = unit.provenance.file
            tx["source_line"] = unit.provenance.line
            buf.transactions.append(tx)
            buf.add_mentions(unit.mentions)
            buf.relations.extend(_model_row(r) for r in unit.relations)
        elif isinstance(unit, PartyUnit):
            buf.add_mentions(unit.mentions)
            buf.relations.extend(_model_row(r) for r in unit.relations)
            rid = unit.provenance.report_id
            buf.parties_by_report[rid] = buf.parties_by_report.get(rid, 0) + 1
        elif isinstance(unit, ReportUnit):
            buf.reports.append(_model_row(unit.report))
            buf.add_mentions(unit.mentions)
        elif isinstance(unit, RejectedUnit):
            buf.rejects.append(_reject_row(unit))
            if unit.kind == "report_parties":
                rid = unit.provenance.report_id
                buf.rejected_parties_by_report[rid] = buf.rejected_parties_by_report.get(rid, 0) + 1
        if buf.pending() >= FLUSH_ROWS:  # a single huge report does not pile up Python rows
            buf.flush()
    buf.seal()
    return FileRead(buf, reader.problems, reader.stats, reader.fatal)


#: per worker process: the subtree memo of the ingest run it serves (see SubtreeMemo)
_WORKER_MEMO: dict[str, SubtreeMemo] = {}


def _read_in_worker(
    run: str, items: list[tuple[Path, str]], profile: Profile, now: dt.datetime | None, spool: str | None = None
) -> _Packed | str:
    """A batch read in a worker process, packed (:func:`_pack`); with ``spool`` (a folder), the file it is pickled
    to."""
    gc.disable()  # as in ingest(): the worker only builds acyclic rows
    if run not in _WORKER_MEMO:
        _WORKER_MEMO.clear()
        _WORKER_MEMO[run] = SubtreeMemo()
    packed = _pack(read_goaml_files(items, profile, now=now, memo=_WORKER_MEMO[run]))
    return packed if spool is None else _spool(packed, Path(spool))


@dataclass
class _Packed:
    """A worker's batch as it is handed over: its reads without their frames, each table's frames of every read end
    to end in one frame, and the height of each read's frames per table (:func:`_unpack` slices them back).

    Twelve files' four tables are 48 frames, each pickled with its own schema and its own strings of every
    categorical (a file's element paths repeat in the next file); as four frames, a batch of 12 files of the 1M set
    pickles to 16.1 instead of 18.4 MB, in 3 + 26 ms instead of 33 ms (the concatenation, then the pickle), and the
    main process unpickles it in 12.7 instead of 27.6 ms (slicing it back costs 0.3 ms)."""

    reads: list[GoamlRead]
    tables: dict[str, pl.DataFrame]
    heights: list[dict[str, list[int]]]


def _pack(reads: list[GoamlRead]) -> _Packed:
    """``reads`` with their frames moved into one frame per table (the parts conform to the table's schema, less the
    columns a part gives no value: concatenated diagonally, a part's missing column is null in its rows; an empty
    part is left out)."""
    parts: dict[str, list[pl.DataFrame]] = {}
    heights: list[dict[str, list[int]]] = []
    for item in reads:
        own: dict[str, list[int]] = {}
        if item.read is not None:
            for table, frames in item.read.buf.frames.items():
                kept = [frame for frame in frames if frame.height]  # (an empty part is no part: frame() skips it)
                own[table] = [frame.height for frame in kept]
                parts.setdefault(table, []).extend(kept)
                item.read.buf.frames[table] = []
        heights.append(own)
    tables = {table: pl.concat(frames, how="diagonal", rechunk=True) for table, frames in parts.items() if frames}
    return _Packed(reads, tables, heights)


def _unpack(packed: _Packed) -> list[GoamlRead]:
    """The reads of a packed batch with their frames back, as slices of the batch's tables (no copy)."""
    at = dict.fromkeys(packed.tables, 0)
    for item, own in zip(packed.reads, packed.heights, strict=True):
        if item.read is None:
            continue
        for table, sizes in own.items():
            frames = []
            for size in sizes:
                frames.append(packed.tables[table].slice(at[table], size))
                at[table] += size
            item.read.buf.frames[table] = frames
    return packed.reads


#: where the workers' batches are handed over (:func:`_spool`): a file system in memory, so that the reports' personal
#: data is never written to a disk on its way from a worker to the main process
SPOOL_ROOT = Path("/dev/shm")


@contextlib.contextmanager
def _spool_folder() -> Iterator[str | None]:
    """A private folder (mode 0700) of :data:`SPOOL_ROOT` for the ingest's workers to hand their batches over
    through, removed with what is left in it afterwards; ``None`` where there is no such file system (the batches
    then go through the pool's pipe)."""
    try:
        folder = tempfile.TemporaryDirectory(prefix="finintel-ingest-", dir=SPOOL_ROOT, ignore_cleanup_errors=True)
    except OSError:  # (no such folder, or not ours to write in)
        yield None
        return
    with folder as path:
        yield path


#: numbers the files a worker process spools batches to
_SPOOLED = itertools.count()


def _spool(batch: _Packed, folder: Path) -> _Packed | str:
    """A worker's ``batch`` pickled into a new file of ``folder``, and its path; the batch itself (handed back
    through the pool's pipe) if the file cannot be written.

    A batch is most of a kilobyte a transaction (16 MB packed for 12 files of the synthetic reports; the figures
    below were measured with the 21 MB the same files took before batches were packed). The pool's pipe carries
    them in 64 KiB pieces, each read into a fresh buffer of the whole message's size and copied on: 48 messages of
    21 MB between two processes cost the receiver 2.5-2.8 s of CPU, mostly the kernel's (0.16-0.43 M page faults),
    and the sender 1.6-2.0 s; as files in memory, read at once into one buffer, 0.5 s and 0.8 s. With the pickled
    reads of a real batch, 48 times through a pool of two workers: the main process 2.94-2.98 s -> 2.05-2.09 s of
    CPU (unpickling included), the workers 4.0-4.3 s -> 3.5-3.6 s. The file is only ever loaded from the private
    folder this ingest made (:func:`_spool_folder`)."""
    path = folder / f"{os.getpid()}-{next(_SPOOLED)}.pickle"
    try:
        with path.open("xb") as fh:
            pickle.dump(batch, fh, protocol=pickle.HIGHEST_PROTOCOL)
    except OSError:  # (a full or missing folder: the pipe still works)
        path.unlink(missing_ok=True)
        return batch
    return str(path)


def _unspool(path: str) -> _Packed:
    """The batch a worker spooled to ``path`` (:func:`_spool`); the file is removed."""
    try:
        with open(path, "rb") as fh:
            batch: _Packed = pickle.load(fh)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
    return batch


def _unspooled(future: Future[_Packed | str]) -> Future[list[GoamlRead]]:
    """The reads of a worker's batch as a future of their own: read back from the file the worker spooled them to
    and unpacked, by the thread that completes the worker's future (the pool's, which unpickled them from the pipe
    before)."""
    out: Future[list[GoamlRead]] = Future()

    def settle(done: Future[_Packed | str]) -> None:
        try:
            result = done.result()
            out.set_result(_unpack(_unspool(result) if isinstance(result, str) else result))
        except BaseException as exc:  # (handed on to whoever waits for the batch)
            out.set_exception(exc)

    future.add_done_callback(settle)
    return out


def _reject_row(unit: RejectedUnit) -> dict[str, Any]:
    return {
        "kind": unit.kind,
        "ref": unit.ref,
        "file": unit.provenance.file,
        "line": unit.provenance.line,
        "path": unit.provenance.path,
        "report_id": unit.provenance.report_id,
        "codes": sorted({p.code for p in unit.reasons}),
        "reasons": "; ".join(p.message for p in unit.reasons),
    }


class Ingestor:
    """Accumulates inputs; :meth:`finish` resolves entities and returns the store."""

    def __init__(self, profile: Profile | None = None, *, now: dt.datetime | None = None) -> None:
        self.profile = profile or codes.default_profile()
        self.now = now
        self.counts = Counts()
        self.problems: list[Problem] = []
        self.files: list[FileSummary] = []
        self._buf = _Buffer()
        self._tabular: list[dict[str, pl.DataFrame]] = []
        self._tx_ids: set[str] = set()  # ids of the goAML (and base store) transactions held, for duplicates
        self._tx_seen_frames: list[pl.DataFrame] = []  # tabular transactions, kept as frames
        self._history: dict[str, list[pl.DataFrame]] = {"rejects": [], "problems": []}  # from a base store
        self._superseded: list[dict[str, Any]] = []
        self._base_inputs: list[dict[str, Any]] = []
        self._reports_seen: dict[str, str] = {}
        self._hashes: dict[str, str] = {}
        self._file_index = 0
        self._memo = SubtreeMemo()  # shared by this run's readers (same profile, same reference time)
        self.run_id = uuid.uuid4().hex  # names this run's memo in worker processes

    # -- goAML ----------------------------------------------------------------------------------------------------

    def number_goaml(self) -> str:
        """The mention prefix of the next goAML file (every input file is numbered, read or not)."""
        self._file_index += 1
        return f"m{self._file_index}."

    def add_goaml(self, path: Path) -> FileSummary:
        item = read_goaml_files([(path, self.number_goaml())], self.profile, now=self.now, memo=self._memo)[0]
        return self.commit_goaml(item)

    def commit_goaml(self, item: GoamlRead) -> FileSummary:
        """Count and commit one read file, in input order: an unreadable file is reported (FI-R001), a file whose
        content was already ingested (same SHA-256) is skipped."""
        path = item.path
        if item.digest is None or item.read is None:
            p = make_problem("FI-R001", file=str(path), reason=item.error or "unreadable")
            self.problems.append(p)
            summary = FileSummary(str(path), "goaml", None, "unreadable", problems=1)
            self.files.append(summary)
            return summary
        if item.digest in self._hashes:
            summary = FileSummary(str(path), "goaml", item.digest, f"duplicate-file of {self._hashes[item.digest]}")
            self.files.append(summary)
            return summary
        self._hashes[item.digest] = str(path)
        return self.absorb_goaml(path, item.digest, item.read)

    def absorb_goaml(self, path: Path, digest: str, read: FileRead) -> FileSummary:
        """Count a read file and commit its records (or reject it whole when it is not readable to the end)."""
        buf = read.buf
        self.problems.extend(read.problems)
        read_reports = read.stats["reports"]
        read_tx = read.stats["transactions"]
        read_parties = read.stats["report_parties"]
        self.counts.add("read", "reports", read_reports)
        self.counts.add("read", "transactions", read_tx)
        self.counts.add("read", "report_parties", read_parties)
        broken = read.fatal or any(p.code in ("FI-R002", "FI-R004", "FI-R006") for p in read.problems)
        if broken:
            reason = next(p for p in read.problems if p.code.startswith("FI-R"))
            self._reject_file(path, reason, read_reports, read_tx, read_parties)
            summary = FileSummary(
                str(path),
                "goaml",
                digest,
                "unreadable" if read.fatal else "rejected",
                read_reports,
                read_tx,
                len(read.problems),
            )
            self.files.append(summary)
            return summary
        self._commit(buf)
        summary = FileSummary(str(path), "goaml", digest, "ingested", read_reports, read_tx, len(read.problems))
        self.files.append(summary)
        return summary

    def _reject_file(self, path: Path, reason: Problem, reports: int, txs: int, parties: int) -> None:
        base = {
            "file": str(path),
            "line": reason.line,
            "path": None,
            "report_id": None,
            "codes": [reason.code],
            "reasons": f"file rejected whole: {reason.message}",
        }
        rows = []
        for kind, n in (("reports", reports), ("transactions", txs), ("report_parties", parties)):
            if n:
                rows.append({**base, "kind": kind, "ref": f"{n} {kind} in this file"})
                self.counts.add("rejected", kind, n)
        if not rows:
            rows.append({**base, "kind": "file", "ref": None})
        self._buf.rejects.extend(rows)

    def _commit(self, buf: _Buffer) -> None:
        main = self._buf
        duplicate_reports: set[str] = set()
        for rep in buf.reports:
            rid = rep["report_id"]
            if rid in self._reports_seen and self._supersedes(rep):
                self._drop_report(rid, rep)
            if rid in self._reports_seen:
                duplicate_reports.add(rid)
                p = make_problem(
                    "FI-V012",
                    file=rep["source_file"],
                    path="/report",
                    ref=rid,
                    report=rid,
                    first=self._reports_seen[rid],
                )
                self.problems.append(p)
                main.rejects.append(
                    {
                        "kind": "reports",
                        "ref": rid,
                        "file": rep["source_file"],
                        "line": None,
                        "path": "/report",
                        "report_id": rid,
                        "codes": [p.code],
                        "reasons": p.message,
                    }
                )
                self.counts.add("rejected", "reports")
            else:
                self._reports_seen[rid] = rep["source_file"]
                main.reports.append(rep)
                self.counts.add("stored", "reports")
        buf.drop_reports(duplicate_reports, ("party_mentions", "account_mentions", "relations"))
        for frame in buf.frames["transactions"]:
            in_tabular = self._tabular_firsts(frame)
            ids = frame["transaction_id"].to_list()
            fresh = set(ids)
            if (
                not in_tabular
                and len(fresh) == len(ids)
                and self._tx_ids.isdisjoint(fresh)
                and not (duplicate_reports and frame["report_id"].is_in(list(duplicate_reports)).any())
            ):  # the usual case, without a Python step per transaction
                self._tx_ids |= fresh
                self.counts.add("stored", "transactions", frame.height)
                main.frames["transactions"].append(frame)
                continue
            keep: list[bool] = []
            known = self._goaml_firsts([t for t in fresh if t in self._tx_ids])
            columns = ("transaction_id", "report_id", "transaction_number", "source_file", "source_line")
            for tid, rid, number, file, line in frame.select(columns).iter_rows():
                tx = {"transaction_number": number, "source_file": file, "source_line": line, "report_id": rid}
                if rid in duplicate_reports:
                    main.rejects.append(self._dup_row(tx, "report already ingested"))
                    self.counts.add("rejected", "transactions")
                    keep.append(False)
                    continue
                first = known.get(tid) or in_tabular.get(tid)
                if first is not None:
                    p = make_problem(
                        "FI-V002",
                        file=file,
                        line=line,
                        path="transactionnumber",
                        ref=number,
                        value=number,
                        first=first,
                    )
                    self.problems.append(p)
                    main.rejects.append(self._dup_row(tx, p.message, p.code))
                    self.counts.add("rejected", "transactions")
                    keep.append(False)
                    continue
                known[tid] = f"{file}:{line}"
                self._tx_ids.add(tid)
                keep.append(True)
                self.counts.add("stored", "transactions")
            main.frames["transactions"].append(frame if all(keep) else frame.filter(pl.Series(keep, dtype=pl.Boolean)))
        for reject in buf.rejects:
            main.rejects.append(reject)
            self.counts.add("rejected", reject["kind"])
        for rid, n in buf.parties_by_report.items():
            if rid in duplicate_reports:
                main.rejects.append(
                    {
                        "kind": "report_parties",
                        "ref": f"{n} parties",
                        "file": None,
                        "line": None,
                        "path": None,
                        "report_id": rid,
                        "codes": ["FI-V012"],
                        "reasons": "report already ingested",
                    }
                )
                self.counts.add("rejected", "report_parties", n)
            else:
                self.counts.add("stored", "report_parties", n)
        for table in ("party_mentions", "account_mentions", "relations"):
            main.frames[table].extend(buf.frames[table])
        main.alias.update(buf.alias)

    def _supersedes(self, rep: dict[str, Any]) -> bool:
        """A report with an id already stored replaces it when it is a different file submitted strictly later."""
        old = next((r for r in self._buf.reports if r["report_id"] == rep["report_id"]), None)
        if old is None or old.get("source_sha256") == rep.get("source_sha256"):
            return False
        new_date, old_date = rep.get("submission_date"), old.get("submission_date")
        return new_date is not None and (old_date is None or new_date > old_date)

    def _drop_report(self, rid: str, new: dict[str, Any]) -> None:
        """Remove every row of the stored version of ``rid`` and record the replacement (provenance)."""
        buf = self._buf
        old = next(r for r in buf.reports if r["report_id"] == rid)
        gone = [
            tid for f in buf.frames["transactions"] for tid in f.filter(pl.col("report_id") == rid)["transaction_id"]
        ]
        self._tx_ids.difference_update(gone)
        buf.reports = [r for r in buf.reports if r["report_id"] != rid]
        buf.drop_reports({rid})
        del self._reports_seen[rid]
        self._superseded.append(
            {
                "report_id": rid,
                "old_file": old.get("source_file"),
                "old_sha256": old.get("source_sha256"),
                "old_submission_date": str(old.get("submission_date")),
                "new_file": new.get("source_file"),
                "new_sha256": new.get("source_sha256"),
                "new_submission_date": str(new.get("submission_date")),
                "transactions_replaced": len(gone),
            }
        )

    def _goaml_firsts(self, ids: list[str]) -> dict[str, str]:
        """Where the goAML (or base store) transactions held first gave ``ids`` (only asked for duplicates)."""
        firsts: dict[str, str] = {}
        if ids:
            for frame in self._buf.frames["transactions"]:
                hits = _where_read(frame.filter(pl.col("transaction_id").is_in(ids)))
                for tid, first in hits.iter_rows():
                    firsts.setdefault(tid, first)
        return firsts

    def _tabular_firsts(self, tx: pl.DataFrame) -> dict[str, str]:
        """Where tabular inputs first gave the ids of ``tx``: one join, not a scan per transaction."""
        firsts: dict[str, str] = {}
        for frame in self._tx_seen_frames:
            hits = tx.select("transaction_id").join(frame, on="transaction_id", how="inner")
            for tid, first in hits.select("transaction_id", "first").iter_rows():
                firsts.setdefault(tid, first)
        return firsts

    @staticmethod
    def _dup_row(tx: dict[str, Any], reason: str, code: str = "FI-V012") -> dict[str, Any]:
        return {
            "kind": "transactions",
            "ref": tx["transaction_number"],
            "file": tx["source_file"],
            "line": tx["source_line"],
            "path": None,
            "report_id": tx["report_id"],
            "codes": [code],
            "reasons": reason,
        }

    # -- tabular ---------------------------------------------------------------------------------------------------

    def add_tabular(self, folder: Path) -> FileSummary:
        result = tabular.read_dataset(folder)
        self._reject_known_transactions(result)
        self.problems.extend(result.problems)
        for table, n in result.read.items():
            self.counts.add("read", table, n)
        rejected: dict[str, int] = {}
        for r in result.rejects:
            n = 1
            if r["line"] is None and r["codes"] == ["FI-T001"]:
                n = result.read.get(r["kind"], 0)
            rejected[r["kind"]] = rejected.get(r["kind"], 0) + n
        for table in result.read:
            self.counts.add("rejected", table, rejected.get(table, 0))
            self.counts.add("stored", table, result.tables[table].height)
        self._buf.rejects.extend(result.rejects)
        self._tabular.append(result.tables)
        fatal = any(p.severity is Severity.FATAL for p in result.problems)
        summary = FileSummary(
            str(folder),
            "tabular",
            None,
            "unreadable" if fatal else "ingested",
            result.tables["reports"].height,
            result.tables["transactions"].height,
            len(result.problems),
        )
        self.files.append(summary)
        return summary

    def _reject_known_transactions(self, result: tabular.DatasetResult) -> None:
        """Transactions whose id an earlier input already gave are rejected (FI-V002), like goAML duplicates."""
        tx = result.tables["transactions"]
        if tx.height == 0:
            return
        seen = self._seen_frame()
        if seen.height:
            dup = tx.join(seen, on="transaction_id", how="inner")
            for tid, number, file, line, first in dup.select(
                "transaction_id", "transaction_number", "source_file", "source_line", "first"
            ).rows():
                p = make_problem(
                    "FI-V002",
                    file=file,
                    line=line,
                    path="transactions.transaction_id",
                    ref=tid,
                    value=number,
                    first=first,
                )
                result.problems.append(p)
                result.rejects.append(
                    {
                        "kind": "transactions",
                        "ref": tid,
                        "file": file,
                        "line": line,
                        "path": "transactions",
                        "report_id": None,
                        "codes": [p.code],
                        "reasons": p.message,
                    }
                )
            if dup.height:
                tx = tx.join(dup.select("transaction_id"), on="transaction_id", how="anti")
        kept = tx
        result.tables["transactions"] = kept
        self._tx_seen_frames.append(
            kept.select(
                "transaction_id",
                pl.format("{}:{}", pl.col("source_file"), pl.col("source_line")).alias("first"),
            )
        )

    def _seen_frame(self) -> pl.DataFrame:
        """Every transaction id read so far with where it was first read (goAML, base store and tabular frames)."""
        parts = [f for f in self._tx_seen_frames if f.height]
        parts.extend(_where_read(f) for f in self._buf.frames["transactions"] if f.height)
        if not parts:
            return pl.DataFrame(schema={"transaction_id": pl.String, "first": pl.String})
        return pl.concat(parts, how="vertical")

    def add_store(self, folder: Path) -> FileSummary:
        """Start from an existing store: its mentions are resolved again together with the new inputs, files it
        already holds (same SHA-256) are skipped, and a later version of one of its reports supersedes it."""
        store = Store.load(folder)
        buf = self._buf
        # each stored entity is represented by its first mention until everything is resolved again
        entity_ids: list[pl.Series] = []
        mention_ids: list[pl.Series] = []
        for table, id_col in (("party_mentions", "party_id"), ("account_mentions", "account_id")):
            # "s." never collides with this run's m<n>.<k> mention ids
            mentions = store.tables[table].with_columns(
                pl.concat_str(pl.lit("s."), pl.col("mention_id")).alias("mention_id")
            )
            buf.frames[table].append(_compact(mentions))
            first = mentions.group_by(id_col, maintain_order=True).agg(pl.col("mention_id").first())
            entity_ids.append(first[id_col])
            mention_ids.append(first["mention_id"])
        old = pl.concat(entity_ids)
        new = pl.concat(mention_ids)
        stored = store.transactions.with_columns(
            *(pl.col(c).replace(old, new) for c in _TX_REF_COLUMNS),
            pl.lit(True).alias(_FROM_STORE),  # for messages; not a store column, dropped when the store is built
        )
        buf.frames["transactions"].append(_compact(stored))
        self._tx_ids.update(stored["transaction_id"].to_list())
        buf.frames["relations"].append(
            _compact(store.relations.with_columns(pl.col(c).replace(old, new) for c in ("source_id", "target_id")))
        )
        for row in store.reports.to_dicts():
            buf.reports.append(row)
            self._reports_seen[row["report_id"]] = f"{row.get('source_file')} (store)"
        # parties and accounts that no mention describes (tabular inputs) are carried as they are
        no_mention = {
            "parties": store.parties.filter(~pl.col("party_id").is_in(old.implode())),
            "accounts": store.accounts.filter(~pl.col("account_id").is_in(old.implode())),
        }
        self._tabular.append(no_mention)
        self._history["rejects"].append(store.tables["rejects"])
        self._history["problems"].append(store.tables["problems"])
        self._superseded.extend(store.meta.get("superseded", []))
        for item in store.meta.get("inputs", []):
            if item.get("sha256") and item.get("status") == "ingested":
                self._hashes.setdefault(item["sha256"], f"{item['file']} (store)")
                self._base_inputs.append(item)
        summary = FileSummary(str(folder), "store", None, "base", store.reports.height, store.transactions.height)
        self.files.append(summary)
        return summary

    def add(self, item: Input) -> FileSummary:
        if item.kind == "goaml":
            return self.add_goaml(item.path)
        if item.kind == "tabular":
            return self.add_tabular(item.path)
        return self.add_store(item.path)

    # -- resolution --------------------------------------------------------------------------------------------------

    def finish(self) -> IngestResult:
        buf = self._buf
        # polars releases the GIL: independent steps run side by side (the two resolutions, then the merges and
        # the mirror links), so the single-threaded stretches of one overlap with the other's
        with ThreadPoolExecutor(2) as pool:
            # the accounts are resolved and their mention ids replaced (each kind through one hash table of its own
            # mention ids) on the pool's thread while the parties, the longer resolution, are resolved on this one
            aliases = pl.DataFrame(
                {"mention": list(buf.alias), "first": list(buf.alias.values())},
                schema={"mention": pl.String, "first": pl.String},
            )
            # (the account side's three tables are gathered from the files' parts on that thread too, while this one
            # gathers the party mentions: a second of concatenation at 1M, no longer before either side starts; the
            # rows are flushed first, so the two threads only take frames, each its own tables)
            buf.flush()

            def account_side(
                aliases: pl.DataFrame,
            ) -> tuple[pl.DataFrame, FrameResolution, pl.DataFrame, pl.DataFrame]:
                tables = ("account_mentions", "transactions", "relations")
                mentions, tx, rel = (buf.frame(t) for t in tables)
                return _resolve_accounts(mentions, aliases, tx, rel)

            accounts_job = pool.submit(account_side, aliases)
            party_mentions, parties_res = _resolved(buf.frame("party_mentions"), "party_id")
            party_old, party_new = _id_map(party_mentions, "party_id", aliases)
            account_mentions, accounts_res, transactions, relations = accounts_job.result()
            del aliases
            if party_old.len():  # a relation's source is a party, its target a party or an account
                transactions, relations = _replace_ids(
                    [(transactions, _TX_PARTY_COLUMNS), (relations, ("source_id", "target_id"))], party_old, party_new
                )
            del party_old, party_new
            for extra in self._tabular:
                if "transactions" in extra:
                    transactions = _appended(transactions, conform("transactions", extra["transactions"]))
            mirrored = pool.submit(lambda tx: sort_transactions(link_mirrors(tx)), transactions)
            del transactions

            order = _report_order(buf.reports)
            parties_job = pool.submit(_merge_entities, party_mentions, "party_id", "parties", parties_res.basis, order)
            accounts = _merge_entities(account_mentions, "account_id", "accounts", accounts_res.basis, order)
            relations = _dedupe_relations(relations)
            tables = {
                "parties": parties_job.result(),
                "accounts": accounts,
                "relations": relations,
                "reports": frame_from_rows("reports", buf.reports),
            }
            for extra in self._tabular:
                for name, frame in extra.items():
                    if name != "transactions":
                        tables[name] = _appended(tables[name], conform(name, frame))
            for name, id_col in (
                ("parties", "party_id"),
                ("accounts", "account_id"),
                ("reports", "report_id"),
                ("relations", "relation_id"),
            ):
                tables[name] = _merge_same_id(tables[name], id_col)
            tables["transactions"] = mirrored.result()
        tables["party_mentions"] = party_mentions
        tables["account_mentions"] = account_mentions
        tables["rejects"] = pl.concat(
            [*self._history["rejects"], frame_from_rows("rejects", buf.rejects)], how="vertical"
        )
        tables["problems"] = pl.concat(
            [*self._history["problems"], frame_from_rows("problems", [p.to_dict() for p in self.problems])],
            how="vertical",
        )
        meta = {
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "profile": self.profile.name,
            "inputs": self._base_inputs
            + [
                {"file": f.file, "kind": f.kind, "sha256": f.sha256, "status": f.status}
                for f in self.files
                if f.kind != "store"
            ],
            "superseded": self._superseded,
            "ingest_counts": self.counts.to_dict(),
        }
        store = Store(tables=tables, meta=meta)
        entities = {
            "party_mentions": party_mentions.height,
            "parties": tables["parties"].height,
            "account_mentions": account_mentions.height,
            "accounts": tables["accounts"].height,
            "relations": tables["relations"].height,
        }
        meta["entities"] = entities
        return IngestResult(
            store=store, counts=self.counts, problems=self.problems, files=self.files, entities=entities
        )


_RESOLVERS = {"party_id": resolve_party_frame, "account_id": resolve_account_frame}
_TX_ACCOUNT_COLUMNS = ("from_account_id", "to_account_id")
_TX_PARTY_COLUMNS = ("from_party_id", "to_party_id", "conductor_party_id")
assert set(_TX_ACCOUNT_COLUMNS + _TX_PARTY_COLUMNS) == set(_TX_REF_COLUMNS)


def _id_map(mentions: pl.DataFrame, id_col: str, aliases: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    """Mention id -> entity id for resolved ``mentions``, as two Series (a dict is converted again for every column
    replaced); repeated mentions (``aliases``: mention, first) resolve like the first one. (Tabular inputs have no
    mentions: their ids are the entities' already.)"""
    old, new = mentions["mention_id"], mentions[id_col]
    if aliases.height:
        aliased = aliases.join(pl.DataFrame({"first": old, "entity": new}), on="first", how="inner")
        old, new = pl.concat([old, aliased["mention"]]), pl.concat([new, aliased["entity"]])
    return old, new


def _resolved(mentions: pl.DataFrame, id_col: str) -> tuple[pl.DataFrame, FrameResolution]:
    """Resolve a mention frame: ``id_col`` becomes the entity id and ``match_keys`` the mention's keys."""
    res = _RESOLVERS[id_col](mentions)
    resolved = mentions.with_columns(res.entities.alias(id_col), res.keys.alias("match_keys"))
    return resolved, res


def _replace_ids(
    frames: list[tuple[pl.DataFrame, tuple[str, ...]]], old: pl.Series, new: pl.Series
) -> list[pl.DataFrame]:
    """Each frame with ``old`` ids replaced by ``new`` ones in its columns: every column end to end through one
    lookup (the mapping's hash table, 1.8M mention ids at 1M transactions, is built once instead of per column:
    2.4 s -> 0.6 s), columns without a value left as they are. The lookup is a left join that refuses a repeated
    old id, as ``Series.replace`` does, at two thirds of its time (0.36-0.48 -> 0.25-0.30 s for 2M ids at 1M)."""
    parts = [
        (i, c) for i, (frame, columns) in enumerate(frames) for c in columns if frame[c].null_count() < frame.height
    ]
    out = [frame for frame, _ in frames]
    if not parts:
        return out
    ids = pl.concat([out[i][c].cast(pl.String).alias("id") for i, c in parts], rechunk=True)
    mapping = pl.DataFrame({"id": old.cast(pl.String), "_new": new.cast(pl.String)})
    replaced = (
        ids.to_frame()
        .join(mapping, on="id", how="left", maintain_order="left", validate="m:1")
        .select(pl.coalesce("_new", "id").alias("id"))
        .to_series()
    )
    at = 0
    for i, c in parts:
        n = out[i].height
        out[i] = out[i].with_columns(replaced.slice(at, n).alias(c))
        at += n
    return out


def _resolve_accounts(
    mentions: pl.DataFrame, aliases: pl.DataFrame, transactions: pl.DataFrame, relations: pl.DataFrame
) -> tuple[pl.DataFrame, FrameResolution, pl.DataFrame, pl.DataFrame]:
    """The account mentions resolved, and the transactions' account columns and the relations' targets with account
    mention ids replaced by account ids. (A relation target that is a party keeps its mention id: mention ids,
    ``m<file>.<n>``, are never entity ids, ``acc_``/``per_``/``org_`` and a hash, so the party ids replaced afterwards
    cannot meet an account id.)"""
    resolved, res = _resolved(mentions, "account_id")
    old, new = _id_map(resolved, "account_id", aliases)
    if old.len():
        transactions, relations = _replace_ids(
            [(transactions, _TX_ACCOUNT_COLUMNS), (relations, ("target_id",))], old, new
        )
    return resolved, res, transactions, relations


_FROM_STORE = "_from_store"


def _where_read(tx: pl.DataFrame) -> pl.DataFrame:
    """transaction_id, and ``first``: file:line where it was read (and "(store)" when it came from a base store)."""
    where = pl.format("{}:{}", pl.col("source_file"), pl.col("source_line"))
    if _FROM_STORE in tx.columns:
        where = pl.concat_str([where, pl.lit(" (store)")])
    return tx.select("transaction_id", where.alias("first"))


def _appended(frame: pl.DataFrame, more: pl.DataFrame) -> pl.DataFrame:
    """``frame`` then ``more`` (same schema); an empty side is not concatenated, so a column without values in the
    other stays a constant column instead of being written out row by row."""
    if frame.height == 0:
        return more
    if more.height == 0:
        return frame
    return pl.concat([frame, more], how="vertical")


def _merge_same_id(frame: pl.DataFrame, id_col: str) -> pl.DataFrame:
    """Rows of several inputs with the same id are one entity: first non-null value per column, in input order."""
    if frame.height == 0 or not frame[id_col].is_duplicated().any():
        return frame
    others = [c for c in frame.columns if c != id_col]
    merged = frame.group_by(id_col, maintain_order=True).agg([pl.col(c).drop_nulls().first() for c in others])
    return merged.select(frame.columns)


def _report_order(reports: list[dict[str, Any]]) -> dict[str, int]:
    ranked = sorted(reports, key=lambda r: (r.get("submission_date") or dt.datetime.max, r["report_id"]))
    return {r["report_id"]: i for i, r in enumerate(ranked)}


def _merge_entities(
    mentions: pl.DataFrame, id_col: str, table: str, basis: dict[str, str], order: dict[str, int]
) -> pl.DataFrame:
    """One row per entity: for each attribute the value of the earliest report that gives one."""
    if mentions.height == 0:
        return conform(table, pl.DataFrame())
    columns = [c for c in SCHEMAS[table] if c in mentions.columns and c != id_col]
    # the order mentions are merged in: earliest report first, then file and line, then as read (ties: a file on
    # one line); only the sort keys are sorted, and each attribute is taken from the row where its entity's first
    # value is (sorting the whole frame copied every column: at 4M transactions 3.6 s and 2 GB of the peak)
    ranks = mentions.select(
        pl.col("report_id").replace_strict(order, default=len(order), return_dtype=pl.Int64)
    ).to_series()
    ordered_rows = mentions.select(
        pl.arg_sort_by([ranks, pl.col("file"), pl.col("line")], maintain_order=True)
    ).to_series()
    position = np.empty(mentions.height, dtype=np.int64)  # each row's place in that order
    position[ordered_rows.to_numpy()] = np.arange(mentions.height, dtype=np.int64)
    nulls = {c: mentions[c].null_count() for c in columns}
    some = [c for c in columns if 0 < nulls[c] < mentions.height]  # else: every row's value, or none
    given = [f"_given{i}" for i in range(len(some))]
    # reports counted by their rank when every report has one of its own (integers, not strings)
    own_rank = bool((ranks < len(order)).all())  # else a report without a rank (or none): count the ids
    report = pl.Series("_report", ranks) if own_rank else mentions["report_id"].alias("_report")
    firsts = (
        mentions.select(
            id_col,
            report,
            pl.Series("_pos", position),
            *(pl.col(c).is_not_null().alias(g) for c, g in zip(some, given, strict=True)),
        )
        .group_by(id_col)
        .agg(
            pl.col("_pos").min().alias("_first"),
            *(pl.col("_pos").filter(pl.col(g)).min().alias(c) for c, g in zip(some, given, strict=True)),
            pl.len().cast(pl.Int64).alias("mention_count"),
            pl.col("_report").n_unique().cast(pl.Int64).alias("report_count"),
        )
    )
    merged = firsts.select(id_col, "mention_count", "report_count").with_columns(
        mentions[c].gather(ordered_rows.gather(firsts[c if c in some else "_first"])).alias(c)
        if nulls[c] < mentions.height
        else pl.lit(None, dtype=mentions.schema[c]).alias(c)
        for c in columns
    )
    merged = merged.with_columns(
        pl.col(id_col).replace_strict(basis, default="single", return_dtype=pl.String).alias("match_basis")
    )
    return conform(table, merged).sort(id_col)


def _dedupe_relations(relations: pl.DataFrame) -> pl.DataFrame:
    """The same link stated by several reports is one relation (first non-null share/role kept)."""
    if relations.height == 0:
        return relations.with_columns(pl.lit(None, dtype=pl.Int64).alias("report_count")).pipe(
            lambda f: conform("relations", f)
        )
    keys = ["kind", "source_id", "target_id"]
    other = [c for c in SCHEMAS["relations"] if c not in (*keys, "relation_id", "report_count")]
    merged = relations.group_by(keys, maintain_order=True).agg(
        [pl.col(c).drop_nulls().first().alias(c) for c in other]
        + [pl.col("report_id").n_unique().cast(pl.Int64).alias("report_count")]
    )
    merged = merged.with_columns(
        pl.concat_str(
            [pl.lit("rel_"), pl.col("kind"), pl.lit(":"), pl.col("source_id"), pl.lit(">"), pl.col("target_id")]
        ).alias("relation_id")
    )
    return conform("relations", merged).sort("relation_id")


MIRROR_WINDOW = dt.timedelta(days=3)


def link_mirrors(tx: pl.DataFrame, window: dt.timedelta = MIRROR_WINDOW) -> pl.DataFrame:
    """Mark transfers reported by both the sending and the receiving institution.

    Two transactions are the same transfer when different reporting entities report them with the same resolved
    from and to accounts, the same local amount and currency, and timestamps at most ``window`` apart. The copy with
    the larger ``transaction_id`` gets ``mirror_of`` = the other's id. Exact amounts only: a transfer whose fees
    make the two reports differ is not linked.
    """
    if tx.height == 0:
        return tx
    keys = ["from_account_id", "to_account_id", "amount_local", "currency_local"]
    entity = pl.col("transaction_id").str.splitn(":", 2).struct.field("field_0")
    base = (
        tx.lazy()
        .select("transaction_id", "timestamp", *keys)
        .filter(pl.all_horizontal([pl.col(k).is_not_null() for k in keys]))
        .with_columns(entity.alias("_entity"), pl.struct(keys).hash().alias("_group"))
        # only transfers that two reporting entities could both report (a hash of the keys narrows, the join on
        # the keys decides): the self-join stays small. The entities compared by their codes (one per distinct
        # reporting entity, a few hundred at most) instead of as strings: 0.43 -> 0.10 s at 1M transactions
        .with_columns(pl.col("_entity").cast(pl.Categorical).to_physical().alias("_code"))
        .filter(pl.col("_code").min().over("_group") != pl.col("_code").max().over("_group"))
        .drop("_group", "_code")
        .collect()
    )
    pairs = base.join(base, on=keys, suffix="_o").filter(
        (pl.col("_entity") != pl.col("_entity_o"))
        & (pl.col("transaction_id_o") < pl.col("transaction_id"))
        & ((pl.col("timestamp") - pl.col("timestamp_o")).abs() <= window)
    )
    mirrors = pairs.group_by("transaction_id").agg(pl.col("transaction_id_o").min().alias("_mirror"))
    if mirrors.height == 0:
        return tx
    # one new column, not a join of the whole table (which would copy every column)
    found = tx.select("transaction_id").join(mirrors, on="transaction_id", how="left", maintain_order="left")
    return tx.with_columns(pl.coalesce(pl.col("mirror_of"), found["_mirror"]).alias("mirror_of"))


def sort_transactions(tx: pl.DataFrame) -> pl.DataFrame:
    """Transactions by time, then id; a table already in that order is not copied (nor sorted)."""
    return tx if in_time_order(tx) else tx.sort("timestamp", "transaction_id")


def ingest(
    paths: Iterable[str | Path],
    profile: Profile | None = None,
    *,
    now: dt.datetime | None = None,
    progress: Callable[[Input], None] | None = None,
    base: Path | None = None,
    jobs: int | None = None,
    pool: ProcessPoolExecutor | None = None,
) -> IngestResult:
    """Read every input and return the resolved store with reconciled counts (nothing is written).

    With ``base`` (an existing store), its content is kept and re-resolved with the new inputs. goAML files are
    read by ``jobs`` worker processes (default: one per CPU) when there are enough of them to pay for the workers;
    the result does not depend on ``jobs``: files are committed in input order. Workers are started the
    ``spawn`` way (polars' threads do not survive ``fork``): a script calling this needs the
    ``if __name__ == "__main__":`` guard, or ``jobs=1``. ``pool``: reader processes started earlier
    (:func:`finintel.workers.early_pool`), used instead of new ones when workers pay; the caller shuts it down."""
    inputs = discover(paths)
    ingestor = Ingestor(profile, now=now)
    # millions of small acyclic objects (rows, walks): the cycle collector would rescan them over and over
    # (about a quarter of the time of resolving and framing the mentions); nothing here builds reference cycles
    collecting = gc.isenabled()
    gc.disable()
    try:
        if base is not None:
            ingestor.add_store(base)
        jobs = default_jobs() if jobs is None else max(1, jobs)
        goaml = [item for item in inputs if item.kind == "goaml"]
        # each goAML file's size, looked at once: whether workers pay, the batches, the readahead window
        sizes = {item.path: _file_size(item.path) for item in goaml}
        if jobs > 1 and len(goaml) > 1 and sum(sizes[item.path] for item in goaml) >= PARALLEL_MIN_BYTES:
            # (the workers hand their batches over through files of a private folder in memory: see _spool)
            # (a pool is a context: shut down at the end of the block; one given is the caller's to shut down)
            readers = contextlib.nullcontext(pool) if pool is not None else start_pool(min(jobs, len(goaml)))
            with _spool_folder() as spool, readers as running:
                _ingest_batches(ingestor, inputs, sizes, progress, running, 2 * jobs, spool)
        else:
            _ingest_batches(ingestor, inputs, sizes, progress, None, 0)
        return ingestor.finish()
    finally:
        if collecting:
            gc.enable()


def _file_size(path: Path) -> int:
    """The file's size, 0 when it cannot be looked at (an unreadable file is reported when it is read)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _prefetch(paths: Iterable[Path]) -> None:
    """Ask the kernel to start reading these files into the page cache (asynchronous readahead), so that the worker
    that reads them later does not wait for the disk: reading from disk overlaps with the work on earlier batches.
    Nothing happens where ``posix_fadvise`` is not available or a file cannot be opened (that is reported when the
    file is read)."""
    advise = getattr(os, "posix_fadvise", None)
    if advise is None:  # pragma: no cover - not on Linux
        return
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            advise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
        except OSError:  # pragma: no cover - an advice the file system does not take
            pass
        finally:
            os.close(fd)


def _ingest_batches(
    ingestor: Ingestor,
    inputs: list[Input],
    sizes: Mapping[Path, int],
    progress: Callable[[Input], None] | None,
    pool: ProcessPoolExecutor | None,
    ahead: int,
    spool: str | None = None,
) -> None:
    """Inputs in order; consecutive goAML files go in batches (:data:`BATCH_BYTES`, :data:`BATCH_FILES`), read in
    this process or by ``pool`` with at most ``ahead`` batches in flight, and are committed in input order. The
    workers hand their reads over through files in ``spool`` (a folder) when it is given (:func:`_spool`)."""
    pending: deque[Future[list[GoamlRead]] | list[GoamlRead]] = deque()
    batch: list[tuple[Path, str]] = []
    size = 0
    # readahead for the workers: the goAML files up to PREFETCH_BYTES beyond those sent, from the start on (the
    # disk reads while the workers start and while the batches before are worked on)
    ahead_paths = [item.path for item in inputs if item.kind == "goaml"] if pool is not None else []
    advised = advised_bytes = sent_bytes = 0

    def advise() -> None:
        nonlocal advised, advised_bytes
        while advised < len(ahead_paths) and advised_bytes < sent_bytes + PREFETCH_BYTES:
            path = ahead_paths[advised]
            _prefetch([path])
            advised_bytes += sizes[path]
            advised += 1

    def commit_one() -> None:
        done = pending.popleft()
        for item in done if isinstance(done, list) else done.result():
            ingestor.commit_goaml(item)

    def send() -> None:
        nonlocal batch, size, sent_bytes
        if not batch:
            return
        if pool is None:
            pending.append(read_goaml_files(batch, ingestor.profile, now=ingestor.now, memo=ingestor._memo))
        else:
            sent_bytes += size
            advise()  # every file of the batch is advised by now: the window runs ahead of what is sent
            future = pool.submit(_read_in_worker, ingestor.run_id, batch, ingestor.profile, ingestor.now, spool)
            pending.append(_unspooled(future))
        batch, size = [], 0
        while len(pending) > ahead:
            commit_one()

    advise()
    for item in inputs:
        if progress is not None:
            progress(item)
        if item.kind != "goaml":
            send()
            while pending:
                commit_one()
            ingestor.add(item)
            continue
        batch.append((item.path, ingestor.number_goaml()))
        size += sizes[item.path]
        if size >= BATCH_BYTES or len(batch) >= BATCH_FILES:
            send()
    send()
    while pending:
        commit_one()
