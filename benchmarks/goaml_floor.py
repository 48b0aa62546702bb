"""How fast goAML XML can be read at all on this machine: the floor under ``finintel ingest``.

Issue 6 asks for 50,000 transactions per second of goAML intake on 2 cores. This script measures, on one core and
the same synthetic reports, what libxml2 (through lxml) costs before finintel's own work, and what a C-level
extraction (XSLT flattening of the transactions into columns, read by polars) would cost, next to finintel's own
compiled pass, the fast and walking paths of ``validate`` and the reader that ``ingest`` runs.
It writes the "goAML intake floor" section of BENCHMARKS.md.

    PYTHONPATH=. python -m benchmarks.goaml_floor [--size 100000] [--files 60] [--validate-sizes 100000,1000000]
"""

from __future__ import annotations

import argparse
import gc
import io
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
from lxml import etree

from benchmarks.quality import machine, write_section
from benchmarks.run import finintel, measure, synth
from finintel.codes import Profile, default_profile
from finintel.formats.goaml import fast
from finintel.formats.goaml.reader import SubtreeMemo, sha256_file
from finintel.ingest import BATCH_BYTES, BATCH_FILES, read_goaml_file, read_goaml_files
from finintel.validate import validate_goaml

# The transaction table's core columns, flattened by libxslt (no Python per element). A prototype of the extraction
# docs/scaling.md describes: it does no checking and no subjects, so it is a floor, not a reader.
FLATTEN = b"""<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
<xsl:output method="text" encoding="UTF-8"/>
<xsl:template match="/">
<xsl:for-each select="/report/transaction">
<xsl:value-of select="transactionnumber"/><xsl:text>&#9;</xsl:text>
<xsl:value-of select="date_transaction"/><xsl:text>&#9;</xsl:text>
<xsl:value-of select="amount_local"/><xsl:text>&#9;</xsl:text>
<xsl:value-of select="transmode_code"/><xsl:text>&#9;</xsl:text>
<xsl:value-of select="translate(transaction_description, '&#9;&#10;', '  ')"/><xsl:text>&#9;</xsl:text>
<xsl:for-each select="t_from_my_client|t_from|t_to_my_client|t_to">
<xsl:value-of select="*[1]"/><xsl:text>&#9;</xsl:text>
<xsl:value-of select="*/account"/><xsl:text>&#9;</xsl:text>
<xsl:value-of select="*/iban"/><xsl:text>&#9;</xsl:text>
<xsl:value-of select="*/swift"/><xsl:text>&#9;</xsl:text>
<xsl:value-of select="*/t_entity/name|*/signatory/t_person/last_name"/><xsl:text>&#9;</xsl:text>
</xsl:for-each>
<xsl:text>&#10;</xsl:text>
</xsl:for-each>
</xsl:template>
</xsl:stylesheet>"""
COLUMNS = [
    "number",
    "date",
    "amount",
    "transmode",
    "description",
    *(f"{side}_{c}" for side in ("from", "to") for c in ("funds", "account", "iban", "swift", "holder")),
]


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _tree(_path: Path, data: bytes) -> int:
    return len(etree.fromstring(data, _parser()))


def _iterparse(_path: Path, data: bytes) -> int:
    n = 0
    for _event, el in etree.iterparse(
        io.BytesIO(data), events=("start", "end"), tag=["{*}report", "{*}transaction", "{*}report_party"]
    ):
        if _event == "end" and el.tag == "transaction":
            n += 1
            el.clear()
    return n


_XSLT = etree.XSLT(etree.XML(FLATTEN))


def _flatten(_path: Path, data: bytes) -> int:
    text = bytes(_XSLT(etree.fromstring(data, _parser()).getroottree()))
    frame = pl.read_csv(
        text,
        separator="\t",
        has_header=False,
        new_columns=[*COLUMNS, "_end"],  # every row ends with a tab,
        schema_overrides={c: pl.String for c in COLUMNS},
        quote_char=None,
    ).with_columns(pl.col("amount").str.to_decimal(scale=2), pl.col("date").str.to_datetime("%Y-%m-%dT%H:%M:%S"))
    return frame.height


def _xml2arrow_step() -> Callable[[Path, bytes], int] | None:
    """The same columns through xml2arrow (Rust, quick-xml; ``pip install -e '.[bench]'``), or None."""
    try:
        from xml2arrow import XmlToArrowParser
    except ImportError:
        return None
    paths = {
        "number": "transactionnumber",
        "date": "date_transaction",
        "amount": "amount_local",
        "transmode": "transmode_code",
        "description": "transaction_description",
    }
    for side, block in (("from", "t_from_my_client/from"), ("to", "t_to/to")):
        paths |= {
            f"{side}_funds": f"{block.split('/')[0]}/{side}_funds_code",
            f"{side}_account": f"{block}_account/account",
            f"{side}_iban": f"{block}_account/iban",
            f"{side}_swift": f"{block}_account/swift",
            f"{side}_holder": f"{block}_account/t_entity/name",
        }
    fields = "\n".join(
        f"      - {{name: {name}, xml_path: /report/transaction/{path}, data_type: Utf8, nullable: true}}"
        for name, path in paths.items()
    )
    config = Path(tempfile.mkdtemp()) / "xml2arrow.yaml"
    config.write_text(
        "parser_options:\n  trim_text: true\ntables:\n  - name: transactions\n    xml_path: /report\n"
        f"    levels: [transaction]\n    fields:\n{fields}\n"
    )
    parser = XmlToArrowParser(str(config))

    def step(_path: Path, data: bytes) -> int:
        table = parser.parse(io.BytesIO(data))["transactions"]
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        return frame.with_columns(
            pl.col("amount").str.to_decimal(scale=2), pl.col("date").str.to_datetime("%Y-%m-%dT%H:%M:%S")
        ).height

    return step


def _compiled_pass(profile: Profile) -> Callable[[Path, bytes], int]:
    capsule = fast._compile(frozenset(profile.mandatory)).capsule
    scan = fast._scan.scan if fast._scan is not None else None

    def step(_path: Path, data: bytes) -> int:
        assert scan is not None
        result = scan(capsule, data)
        assert result[0], result
        return len(result[2]) // 4

    return step


def _certified(path: Path, profile: Profile) -> int:
    report = fast.certify(path, profile)
    assert report is not None, f"{path} was not certified"
    return report.stats["transactions"]


def _walked(path: Path, profile: Profile) -> int:
    return validate_goaml(path, profile, fast_path=False).stats["transactions"]


def repetition(
    files: list[tuple[Path, bytes]], profile: Profile, *, collapse: bool = False
) -> tuple[float, float, list[tuple[str, float]]]:
    """How much of the compiled pass's output repeats within a file: the share of elements and of values inside a
    subtree equal (same type, same canonical bytes) to an earlier one of the same file -- the walk's memo key, which
    the column build honours by building a subject once but which every per-element and per-value step of the
    check and the build still pays for -- and the element share by the repeated subtree's type. ``collapse``: of the
    columns ingest reads, where the pass has left repeated subjects as stubs (what repeats after that)."""
    compiled = fast.compiled(profile)
    elements = values = repeated_elements = repeated_values = 0
    by_type: dict[str, int] = {}
    for _path, data in files:
        cols = fast.scan(data, compiled, extents=True, collapse=collapse)
        if cols is None:
            continue
        n = len(cols.e_type)
        index = np.arange(n)
        again = fast.first_same(cols.canon, cols.e_type, cols.e_cstart, cols.e_cend) != index
        parent = cols.e_parent.astype(np.int64)
        top = np.flatnonzero(again & ~np.where(parent >= 0, again[np.maximum(parent, 0)], False))
        cover = np.zeros(n + 1, dtype=np.int64)  # +1 at a repeated subtree's first element, -1 after its last
        np.add.at(cover, top, 1)
        np.add.at(cover, cols.e_end[top].astype(np.int64), -1)
        inside = np.cumsum(cover[:n]) > 0
        elements += n
        values += len(cols.v_owner)
        repeated_elements += int(inside.sum())
        repeated_values += int(inside[cols.v_owner].sum())
        for t, size in zip(cols.e_type[top].tolist(), (cols.e_end[top] - top).tolist(), strict=True):
            name = compiled.type_names[t]
            by_type[name] = by_type.get(name, 0) + size
    shares = sorted(((name, size / elements) for name, size in by_type.items()), key=lambda x: -x[1])
    return repeated_elements / max(elements, 1), repeated_values / max(values, 1), shares


def _timed(files: list[tuple[Path, bytes]], step: Callable[[Path, bytes], int]) -> float:
    gc.collect()
    start = time.perf_counter()
    for path, data in files:
        step(path, data)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=100_000, help="synth dataset (cached by benchmarks.run)")
    ap.add_argument("--files", type=int, default=60, help="goAML files of that dataset to read")
    ap.add_argument(
        "--validate-sizes",
        type=lambda text: [int(x) for x in text.split(",")],
        default=[100_000, 1_000_000],
        help="synth datasets `finintel validate` runs on as a whole process (comma-separated sizes)",
    )
    args = ap.parse_args()
    paths = sorted((synth(args.size) / "goaml").glob("*.xml"))[: args.files]
    files = [(p, p.read_bytes()) for p in paths]
    megabytes = sum(len(d) for _p, d in files) / 1e6
    transactions = sum(d.count(b"<transaction>") for _p, d in files)
    profile = default_profile()
    memo = SubtreeMemo()  # one per run, as in a worker process

    def reader(path: Path, _data: bytes) -> int:  # reads the file itself (cached by the OS after the first run)
        read = read_goaml_file(path, profile, mention_prefix="m.", now=None, sha256=sha256_file(path), memo=memo)
        return read.stats["transactions"]

    batch: list[tuple[Path, str]] = []
    size = 0

    def batched(path: Path, data: bytes) -> int:  # as ingest's workers read: batches of BATCH_BYTES / BATCH_FILES
        nonlocal batch, size
        batch.append((path, "m."))
        size += len(data)
        if size < BATCH_BYTES and len(batch) < BATCH_FILES and path != files[-1][0]:
            return 0
        done = read_goaml_files(batch, profile, now=None, memo=memo)
        batch, size = [], 0
        return sum(r.read.stats["transactions"] for r in done if r.read is not None)

    gc.disable()  # as ingest does
    steps = [
        ("libxml2 tree parse (lxml `fromstring`)", _tree),
        ("libxml2 `iterparse`, the reader's event filter, nothing else", _iterparse),
        ("tree parse + XSLT flattening of 15 transaction columns + polars typing", _flatten),
        *(
            [("xml2arrow (Rust) extraction of the same columns (own-client senders only) + polars typing", rust)]
            if (rust := _xml2arrow_step()) is not None
            else []
        ),
        *(
            [
                (
                    "finintel compiled pass alone (`_scan.c`: well-formedness, schema structure, values as columns)",
                    _compiled_pass(profile),
                ),
                (
                    "finintel `validate` fast path (compiled pass + every value and cross check: certifies clean)",
                    lambda path, _data: _certified(path, profile),
                ),
            ]
            if fast.available()
            else []
        ),
        (
            "finintel `validate` walk (the reader's checks without building subjects)",
            lambda path, _data: _walked(path, profile),
        ),
        ("finintel `ingest` reader, one file at a time (fast path or walk, subjects, mentions, frames)", reader),
        ("finintel `ingest` reader in batches, as its workers read (hash, pass, checks, column build)", batched),
    ]
    rows = []
    for label, step in steps:
        best = min(_timed(files, step) for _ in range(3))
        rows.append(
            f"| {label} | {megabytes / best:,.0f} MB/s | {transactions / best:,.0f} tx/s | "
            f"{2 * transactions / best:,.0f} tx/s |"
        )
        print(rows[-1], flush=True)
    gc.enable()
    repeats = []
    if fast.available():
        for size in sorted({args.size, *args.validate_sizes}):
            sample = [(p, p.read_bytes()) for p in sorted((synth(size) / "goaml").glob("*.xml"))[: args.files]]
            for collapse in (False, True):
                share_e, share_v, by_type = repetition(sample, profile, collapse=collapse)
                top = ", ".join(f"`{name}` {share:.0%}" for name, share in by_type[:4])
                form = "as ingest reads them (repeated subjects collapsed)" if collapse else "every element"
                repeats.append(f"| {size:,} | {len(sample)} | {form} | {share_e:.0%} | {share_v:.0%} | {top} |")
                print(repeats[-1], flush=True)
    # `finintel validate` as a whole process over whole datasets (start-up included), by threads
    whole = []
    for size in args.validate_sizes:
        folder = synth(size) / "goaml"
        all_paths = sorted(folder.glob("*.xml"))
        all_mb = sum(p.stat().st_size for p in all_paths) / 1e6
        uncertified = [p.name for p in all_paths if fast.certify(p, profile) is None]
        assert not uncertified, f"not certified by the fast path: {uncertified[:5]}"
        for jobs in (1, 2):
            wall, peak = measure(finintel("validate", str(folder), "--format", "json", "--jobs", str(jobs)), 3)
            whole.append(
                f"| {size:,} | {len(all_paths)} files, {all_mb:,.0f} MB | `--jobs {jobs}` | {wall:.2f} s | "
                f"{size / wall:,.0f} tx/s | {peak:,.0f} MiB |"
            )
            print(whole[-1], flush=True)
    body = "\n".join(
        [
            f"Measured {time.strftime('%Y-%m-%d')} on {machine()}: {len(files)} goAML files of the "
            f"{args.size:,}-transaction synth dataset ({megabytes:,.0f} MB, {transactions:,} transactions, "
            f"{1000 * megabytes / transactions:,.1f} KB per transaction), one process, best of 3, files in memory.",
            "",
            "| step | one core | transactions/s, one core | two cores, if it parallelised perfectly |",
            "|---|---|---|---|",
            *rows,
            "",
            "The 50,000 transactions/s target is "
            f"{50_000 * megabytes / transactions:,.0f} MB/s of XML on 2 cores at this size per transaction. The "
            "flattening row is a prototype (`benchmarks/goaml_floor.py`) that checks nothing and builds no "
            "subjects; it shows what a C-level extraction leaves for checks, entity resolution and the store. "
            "The compiled-pass rows are finintel's own extraction (docs/scaling.md): `validate` and `ingest` take it "
            "for every file it can certify clean and walk the rest; `ingest` then builds the store's rows from the "
            "same columns (`formats/goaml/colread.py`), several files per batch.",
            "",
            "Repetition within a file: the share of the compiled pass's elements and values inside a subtree equal "
            "to an earlier one of the same file (same type and canonical bytes: the walk's memo key), in the columns "
            "of every element and in those ingest reads, where the pass leaves a repeated side's or party's subject "
            "as a stub without its contents (a stub and its side still count as repeated elements; docs/scaling.md, "
            '"Repetition, collapsed in the compiled pass"):',
            "",
            "| synth dataset | files | columns | elements repeated | values repeated | largest repeated subtrees "
            "(of elements) |",
            "|---|---|---|---|---|---|",
            *repeats,
            "",
            "`finintel validate --format json` on whole synth datasets (every file certified clean by the fast "
            "path), whole process including start-up, median of 3; `--jobs` files at once in threads:",
            "",
            "| transactions | input | threads | wall | transactions/s | peak RSS |",
            "|---|---|---|---|---|---|",
            *whole,
        ]
    )
    write_section("goAML intake floor", body)


if __name__ == "__main__":
    main()
