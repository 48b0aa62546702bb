"""ingest's fast path for a report too big to hold in columns at once: its transactions (or an activity report's
parties) read in chunks.

The column reader (``colread``) holds a whole file's columns, about 7 bytes of memory per byte of XML, so a file over
``fast.MAX_INGEST_BYTES`` used to be walked (flat memory, a sixth of the speed). Here such a report is cut between
transactions into chunks of about ``CHUNK_BYTES``; each chunk is read as a report of its own -- the report's header
(everything before its first transaction), the chunk's transactions, the report's footer (everything after its last
one) -- by the compiled pass and the column reader, and what the walk carries from one transaction to the next over
the whole report is carried from chunk to chunk (``colread.Carry``): the first occurrence of every subtree (its line,
its path and its directors' lines), the mention made of each subtree in each role, the mention and relation numbers
and the transaction numbers of the paths. Lines are those of the file (each chunk's lines are moved to where its part
of the file starts). Mentions are merged (``add_mentions``' dedup) once every chunk is read, and the header's
mentions are made with the last chunk, numbered after everything, as the walk numbers them. So the frames are the
walk's, row for row (the tests read the reports of the suites in chunks of one transaction, or of a third of
the file, and compare).

A chunk is only cut where the cut cannot change what the file says:

* the report holds no comment, CDATA section, processing instruction or document type declaration from its root
  element on (no ``<!`` and no ``<?``; the prolog may have comments and processing instructions): then every ``<``
  from there on opens or closes a tag, and a ``<transaction`` followed by whitespace, ``/`` or ``>`` is a
  transaction's start tag;
* the header and the footer hold no transaction; each chunk gets a line feed either side of its transactions (where
  the report allows whitespace), so that its parts lie on lines of their own;
* nothing but transactions lies between the first transaction and the last: every chunk has as many elements and
  values outside its transactions as the report with its first transaction alone (its header and footer);
* each chunk is certified as a report (every check of the walk), and the transaction numbers are unique over the
  whole report (FI-V002, checked across chunks).

An activity report (no transactions) is cut between its parties (``report_party``) the same way.

Anything else (a problem in the file, a chunk the builder declines, two copies of an organization laid out on
different lines) leaves the whole file to the walk, which reports what it finds. Memory: one chunk's columns at a
time plus what is carried, which grows with the report's distinct subtrees (a digest, a line, a path each), as the
walk's memo of builds does.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import mmap
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from finintel.formats.goaml import colread, fast
from finintel.formats.goaml.reader import GoamlReader

#: the bytes of XML a chunk holds (its transactions; the report's header and footer come on top)
CHUNK_BYTES = 16 << 20

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class _Unit:
    """The element a report is cut between: its transactions, or an activity report's parties."""

    name: str
    start: re.Pattern[bytes]  # its start tag (the name, then whitespace, / or >)
    end: re.Pattern[bytes]  # its end tag
    close: bytes  # what its end tag starts with (the end tag of a wrapper, </transactions>, too)


def _unit(name: str) -> _Unit:
    tag = name.encode()
    return _Unit(name, re.compile(b"<" + tag + rb"[ \t\r\n/>]"), re.compile(b"</" + tag + rb"[ \t\r\n]*>"), b"</" + tag)


_UNITS = (_unit("transaction"), _unit("report_party"))


def chunks(data: bytes | mmap.mmap, chunk_bytes: int) -> tuple[_Unit, int, int, int, list[int]] | None:
    """What the report is cut between (its transactions, else an activity report's parties), where its root element
    starts, where its first unit starts, where its last one ends and where each chunk starts (at a unit's start tag,
    about ``chunk_bytes`` apart); ``None``: not cut. (That the file holds no ``<!`` and no ``<?`` from its root on
    is checked by the reader, piece by piece.)"""
    root = _root(data)
    if root < 0:
        return None
    for unit in _UNITS:
        first = unit.start.search(data, root)
        if first is not None:
            break
    else:
        return None
    end = None
    before = len(data)
    while end is None:  # the last unit's end tag (not a wrapper's: </transactions>, </report_parties>)
        last = data.rfind(unit.close, first.start(), before)
        if last < 0:
            return None
        end, before = unit.end.match(data, last), last
    if unit.start.search(data, end.end()) is not None:
        return None
    starts = [first.start()]
    while True:
        step = unit.start.search(data, starts[-1] + max(1, chunk_bytes), end.end())
        if step is None:
            break
        starts.append(step.start())
    return unit, root, first.start(), end.end(), starts


def _plain(piece: bytes) -> bool:
    """No comment, CDATA section, processing instruction or declaration in ``piece``: every ``<`` is a tag's."""
    # (one byte is found at memchr's speed; the pair only where the byte occurs: text may have "!" or "?")
    return (piece.find(b"!") < 0 or piece.find(b"<!") < 0) and (piece.find(b"?") < 0 or piece.find(b"<?") < 0)


def _root(data: bytes | mmap.mmap) -> int:
    """Where the root element's start tag is, after the prolog's XML declaration, comments and processing
    instructions and the whitespace between them; -1 for a document type declaration or anything unexpected."""
    at = len(_BOM) if data[: len(_BOM)] == _BOM else 0
    while True:
        while data[at : at + 1] in (b" ", b"\t", b"\r", b"\n"):
            at += 1
        if data[at : at + 4] == b"<!--":
            end = data.find(b"-->", at + 4)
            at = end + 3 if end >= 0 else -1
        elif data[at : at + 2] == b"<?":
            end = data.find(b"?>", at + 2)
            at = end + 2 if end >= 0 else -1
        elif data[at : at + 1] == b"<" and data[at + 1 : at + 2] not in (b"!", b"?", b"/", b""):
            return at
        else:
            return -1
        if at < 0:
            return -1


def read_big(
    path: Path,
    reader: GoamlReader,
    *,
    now: dt.datetime | None = None,
    finish: Callable[[str, pl.DataFrame], pl.DataFrame] | None = None,
    chunk_bytes: int | None = None,
) -> colread.ColumnRead | None:
    """What ``ingest`` would buffer from ``iter(reader)`` for the big report ``path``, read in chunks; ``None``: walk
    it (not cut, not certified, or declined). ``reader`` must be fresh; its stats and schema version are set as the
    walk sets them. ``finish`` as in ``colread.read_batch``."""
    if not fast.available():
        return None
    size = chunk_bytes if chunk_bytes is not None else CHUNK_BYTES
    try:
        with path.open("rb") as fh:
            data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):  # unreadable, or empty (mmap refuses an empty file): the walk reports it
        return None
    with data:  # (anything the reading itself raises is a bug: not taken for a reason to walk)
        return _read(data, reader, now, finish, size)


def _read(
    data: mmap.mmap,
    reader: GoamlReader,
    now: dt.datetime | None,
    finish: Callable[[str, pl.DataFrame], pl.DataFrame] | None,
    chunk_bytes: int,
) -> colread.ColumnRead | None:
    cut = chunks(data, chunk_bytes)
    if cut is None:
        return None
    unit, root, head_end, foot_start, starts = cut
    head, foot = data[:head_end], data[foot_start:]
    if not (_plain(head[root:]) and _plain(foot)):
        return None
    compiled = fast.compiled(reader.profile)
    first_end = unit.end.search(data, head_end)
    assert first_end is not None  # (the last unit's end tag is one)
    alone = head + b"\n" + data[head_end : first_end.end()] + b"\n" + foot  # the report with its first unit alone
    kind = compiled.type_index[unit.name]
    outside = _outside(fast.scan(alone, compiled, extents=True), kind)
    if outside is None:
        return None
    carry = colread.Carry()
    head_line = 1 + head.count(b"\n")  # the line a chunk's transactions start on is the next
    bounds = [*starts, foot_start]

    def scanned(k: int) -> tuple[fast.Columns, int] | None:
        """Chunk ``k`` through the compiled pass (in the canonical form: its subtrees are compared with other
        chunks', whose raw bytes may be written otherwise), and its line count; ``None``: not cut, walk the file."""
        body = data[bounds[k] : bounds[k + 1]]
        if not _plain(body):
            return None
        columns = fast.scan(
            head + b"\n" + body + b"\n" + foot, compiled, extents=True, raw=False, collapse=colread.COLLAPSE
        )
        _release(data, bounds[k], bounds[k + 1])
        if columns is None or not colread._takes(compiled, columns) or _outside(columns, kind) != outside:
            return None
        return columns, body.count(b"\n")

    line = head_line  # the line of the file the next chunk starts on
    numbers: list[np.ndarray] = []
    parts: list[colread.ColumnRead] = []
    # the next chunk is scanned on a thread while this one is built (the compiled pass runs without the GIL): a big
    # file is one worker's job, and the pass is about a third of a chunk's time
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="bigread") as ahead:
        pending = ahead.submit(scanned, 0)
        for k in range(len(starts)):
            got = pending.result()
            if got is None:
                return None
            if k + 1 < len(starts):
                pending = ahead.submit(scanned, k + 1)
            columns, newlines = got
            # the chunk's lines as the file's: its transactions from where they start, the footer from where it
            # starts
            foot_line = line + newlines
            columns.e_line = _moved(columns.e_line, head_line, newlines, line, foot_line)
            columns.v_line = _moved(columns.v_line, head_line, newlines, line, foot_line)
            batch = fast.Batch.of(compiled, [columns])
            ok, _stats = fast.check(batch, reader.profile, now)
            if not ok[0]:
                return None
            carry.last = k + 1 == len(starts)
            frames = colread._FrameReader(batch, [reader])
            frames.carry = carry
            try:
                read = frames.read(finish)[0]
            except fast.Decline:
                return None
            carry.v5 |= bool(batch.v5[0])
            del frames, batch, columns, got
            read.frames = {table: _owned(frame) for table, frame in read.frames.items()}
            transactions = read.frames["transactions"]
            numbers.append(transactions["transaction_id"].cast(pl.String).hash(seed=0).to_numpy())
            carry.tx_base += transactions.height
            carry.party_base += read.parties
            carry.num_base = reader._seq
            parts.append(read)
            line += newlines
    every = np.concatenate(numbers)
    if len(np.unique(every)) != len(every):  # FI-V002 across chunks (or a 64-bit collision: walk it either way)
        return None
    return _joined(parts, finish)


def _owned(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with strings of its own: a string column gathered from the chunk's values shares their buffers
    (polars' string views), so every chunk read would keep its whole value column alive until the file is done."""
    strings = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    return frame.with_columns(pl.concat_str(pl.col(c), pl.lit("")).alias(c) for c in strings) if strings else frame


def _release(data: mmap.mmap, start: int, stop: int) -> None:
    """The file's pages of ``start:stop`` are read: out of the process's memory (they stay in the page cache)."""
    page = mmap.PAGESIZE
    lo, hi = -(-start // page) * page, stop // page * page
    if hi > lo:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            data.madvise(mmap.MADV_DONTNEED, lo, hi - lo)


def _outside(columns: fast.Columns | None, kind: int) -> tuple[int, int] | None:
    """The elements and values of a report outside its units (elements of type ``kind``: its header and footer),
    counted."""
    if columns is None:
        return None
    tx = np.flatnonzero(columns.e_type == kind)
    inside = int((columns.e_end[tx].astype(np.int64) - tx).sum())
    inside_values = int((columns.e_vend[tx].astype(np.int64) - columns.e_vstart[tx]).sum())
    return len(columns.e_type) - inside, len(columns.v_field) - inside_values


def _moved(lines: np.ndarray, head_line: int, newlines: int, start: int, foot: int) -> np.ndarray:
    """A chunk's lines as the file's: the header's stay, the transactions' (on lines ``head_line`` + 1 ..
    ``head_line`` + 1 + ``newlines`` of the chunk) start at line ``start``, the footer's at line ``foot`` (where the
    next chunk starts: the footer's lines are the file's in the last chunk, the only one that reads them)."""
    out = lines.astype(np.int32, copy=True)
    body = (lines > head_line) & (lines <= head_line + 1 + newlines)
    after = lines > head_line + 1 + newlines
    out[body] += start - head_line - 1
    out[after] += foot - head_line - 2 - newlines
    return out


def _joined(
    parts: list[colread.ColumnRead], finish: Callable[[str, pl.DataFrame], pl.DataFrame] | None
) -> colread.ColumnRead:
    """The chunks' reads as one: mentions merged over the whole report (the same role, client flag and attributes
    are one mention; repeats alias the first), then finished like the other tables."""
    aliases: list[dict[str, str]] = [{}]
    frames: dict[str, pl.DataFrame] = {}
    for table in parts[0].frames:
        # (a chunk without rows of the table is left out: its frame is not finished like the others, with
        # categoricals, and would make a relaxed concatenation turn theirs into strings)
        given = [p.frames[table] for p in parts if p.frames[table].height] or [parts[0].frames[table]]
        frame = pl.concat(given, how="diagonal_relaxed", rechunk=False)
        if table.endswith("_mentions"):
            frame = frame.with_columns(pl.lit(0, dtype=pl.Int64).alias("_file"))
            frame = colread._dedup(frame, "account_id" if table == "account_mentions" else "party_id", aliases)
            frame = (finish(table, frame) if finish is not None else frame).drop("_file")
        frames[table] = frame
    return colread.ColumnRead(frames, aliases[0], parts[-1].report, sum(p.parties for p in parts))
