"""The compiled fast path of `validate` (formats/goaml/fast.py, _scan.c) against the walk it shortcuts.

Soundness is one-directional: a file the fast path certifies is one the walk finds no problem in, with the same
counts and schema version. Every other file goes to the walk. These tests run both on the same files: real samples,
synth output, targeted edge cases, and hypothesis-mutated reports (structure, values and raw bytes).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from lxml import etree
from polars.testing import assert_frame_equal

from conftest import FROM_ACCOUNT, NOW, SAMPLE, TO_ACCOUNT, report, transaction
from finintel import codes
from finintel.formats.goaml import bigread, colread, fast
from finintel.formats.goaml.reader import GoamlReader
from finintel.ingest import FileRead
from finintel.problems import FileReport
from finintel.synth.config import SynthConfig
from finintel.synth.generate import generate, write_goaml
from finintel.validate import validate_goaml
from finintel.values import iban_is_valid, parse_datetime
from test_properties import FUZZ, mutated_xml

pytestmark = pytest.mark.skipif(not fast.available(), reason="the compiled pass is not built")


def walk(path: Path, profile: codes.Profile | None = None) -> FileReport:
    return validate_goaml(path, profile, now=NOW, fast_path=False)


def assert_sound(path: Path, profile: codes.Profile | None = None) -> FileReport | None:
    """certify(path) is None, or the walk agrees the file is clean with the same counts and version."""
    certified = fast.certify(path, profile, now=NOW)
    if certified is not None:
        walked = walk(path, profile)
        assert [p.code for p in walked.problems] == [], f"certified, but the walk finds {walked.problems[:3]}"
        assert certified.stats == walked.stats
        assert list(certified.stats) == list(walked.stats)  # same order in the JSON output
        assert certified.schema_version == walked.schema_version
        assert certified.file == walked.file and certified.kind == walked.kind
    return certified


def test_the_strip_set_is_pythons() -> None:
    assert set(fast.PY_SPACES) == {c for c in range(0x110000) if chr(c).isspace()}


@pytest.mark.parametrize("path", sorted((SAMPLE / "goaml").glob("*.xml")), ids=lambda p: p.name)
def test_clean_samples_are_certified(path: Path) -> None:
    assert assert_sound(path) is not None


def test_invalid_sample_goes_to_the_walk() -> None:
    path = SAMPLE / "invalid" / "INVALID_demo_str_with_errors.xml"
    assert fast.certify(path, now=NOW) is None
    assert validate_goaml(path, now=NOW).problems == walk(path).problems != []


@pytest.fixture(scope="module")
def synth_goaml(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("synth") / "goaml"
    # half of the reporting entities in the multi-party form (involved_parties), the others with t_from/t_to
    files = sorted(write_goaml(generate(SynthConfig(transactions=3000, seed=7)), out, multi_party=0.5, seed=7))
    assert any("<involved_parties>" in f.read_text() for f in files)
    assert files
    return files


def test_synth_reports_are_certified_and_agree_with_the_walk(synth_goaml: list[Path]) -> None:
    for path in synth_goaml:
        assert assert_sound(path) is not None, path.name


def test_validate_cli_output_is_the_same_either_way(synth_goaml: list[Path], cli, monkeypatch) -> None:
    folder = synth_goaml[0].parent
    assert any(fast.worthwhile(p) for p in synth_goaml)  # the CLI takes the fast path for some of them
    fast_run = json.loads(cli("validate", folder, "--format", "json", "--jobs", "2").stdout)
    monkeypatch.setattr(fast, "certify", lambda *a, **k: None)  # every file through the walk
    walk_run = json.loads(cli("validate", folder, "--format", "json", "--jobs", "1").stdout)
    assert fast_run == walk_run  # the same files in the same order, whatever the path and the threads
    assert sum(f["stats"]["transactions"] for f in fast_run["files"]) == 3000


MY_CLIENT_FROM = """
    <t_from_my_client>
      <from_funds_code>K</from_funds_code>
      <from_person>
        <first_name>Ann</first_name><last_name>Lee</last_name><birthdate>1990-01-01T00:00:00</birthdate>
        {ident}<nationality1>GB</nationality1>
      </from_person>
      <from_country>GB</from_country>
    </t_from_my_client>"""
TO_ENTITY = """
    <t_to><to_funds_code>W</to_funds_code>
      <to_entity><name>North Ltd</name><incorporation_country_code>GB</incorporation_country_code></to_entity>
      <to_country>GB</to_country></t_to>"""
CONDUCTOR = (
    "<t_conductor><first_name>Cy</first_name><last_name>Do</last_name><birthdate>1970-01-01T00:00:00</birthdate>"
    "<ssn>9</ssn><nationality1>GB</nationality1></t_conductor>"
)
CONDUCTED = """
    <t_from><from_funds_code>K</from_funds_code>
      <t_conductor><first_name>Cy</first_name><last_name>Do</last_name></t_conductor>
      <from_person><first_name>Al</first_name><last_name>Bo</last_name></from_person><from_country>GB</from_country>
    </t_from>"""
TO_PERSON = """
    <t_to><to_funds_code>W</to_funds_code>
      <to_person><first_name>Bo</first_name><last_name>Ek</last_name></to_person><to_country>SE</to_country></t_to>"""
FOREIGN = (
    """
    <t_from><from_funds_code>W</from_funds_code>
      <from_foreign_currency><foreign_currency_code>USD</foreign_currency_code>
        <foreign_amount>1100</foreign_amount><foreign_exchange_rate>1.1</foreign_exchange_rate></from_foreign_currency>
      <from_person><first_name>A</first_name><last_name>B</last_name></from_person><from_country>US</from_country>
    </t_from>"""
    + TO_PERSON
)
# a block on the to side too: the walk checks only the first side's (from, then to)
FOREIGN_BOTH = FOREIGN.replace(
    "<to_funds_code>W</to_funds_code>",
    "<to_funds_code>W</to_funds_code><to_foreign_currency><foreign_currency_code>GBP</foreign_currency_code>"
    "<foreign_amount>5</foreign_amount><foreign_exchange_rate>7</foreign_exchange_rate></to_foreign_currency>",
)
FOREIGN_TO_ONLY = FOREIGN_BOTH.replace(
    FOREIGN_BOTH[: FOREIGN_BOTH.index("<from_person>")], "\n    <t_from><from_funds_code>W</from_funds_code>"
)
CLEAN = report(transaction())
DECL = '<?xml version="1.0" encoding="UTF-8"?>'


def as_parties(
    text: str, roles: Sequence[tuple[str, str]] = (("SND", "RCV"),), *, keep: str = "", extra: str = ""
) -> str:
    """``text`` with its transactions' sides moved into involved_parties, goAML's multi-party form: per side a party
    in the role (``roles`` per transaction, cycled; the from side's party first) with the side's subject
    (``from_account`` -> ``account``, ``account_my_client`` for a client's side), funds code, foreign-currency block
    and country; a conductor is dropped (a party has none). ``keep``: a side left as it is; ``extra``: parties added
    after those."""
    tree = etree.fromstring(text.encode())
    for n, tx in enumerate(tree.iter("transaction")):
        block = etree.Element("involved_parties")
        at = None
        for side, role in zip(("from", "to"), roles[n % len(roles)], strict=True):
            el = next((c for c in tx if c.tag in (f"t_{side}", f"t_{side}_my_client")), None)
            if el is None or side == keep:
                continue
            at = tx.index(el) if at is None else at
            party = etree.SubElement(block, "party")
            etree.SubElement(party, "role").text = role
            suffix = "_my_client" if el.tag.endswith("_my_client") else ""
            for kind in ("account", "person", "entity"):
                for subject in el.findall(f"{side}_{kind}"):
                    subject.tag = kind + suffix
                    party.append(subject)
            for name in ("funds_code", "funds_comment", "foreign_currency", "country"):
                for child in el.findall(f"{side}_{name}"):
                    child.tag = name
                    party.append(child)
            tx.remove(el)
        for extra_party in etree.fromstring(f"<x>{extra}</x>") if extra else ():
            block.append(extra_party)
        kept = [i for i, c in enumerate(tx) if c.tag.startswith(("t_from", "t_to"))]  # the schema: sides first
        if len(block):
            tx.insert(kept[-1] + 1 if kept else at if at is not None else len(tx), block)
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8").decode()


def as_activity(text: str) -> str:
    """``text`` as an activity report (SAR): its transactions' side subjects, in document order, become the report's
    parties (``report_party``, a client's subject as ``<kind>_my_client``; every other one with a reason), and the
    transactions are dropped."""
    tree = etree.fromstring(text.encode())
    parties = etree.Element("report_parties")
    at = None
    for tx in list(tree.iter("transaction")):
        for side in tx:
            if not side.tag.startswith(("t_from", "t_to")):
                continue
            name = side.tag.removeprefix("t_").removesuffix("_my_client")
            suffix = "_my_client" if side.tag.endswith("_my_client") else ""
            for kind in ("account", "person", "entity"):
                for subject in side.findall(f"{name}_{kind}"):
                    party = etree.SubElement(parties, "report_party")
                    subject.tag = kind + suffix
                    party.append(subject)
                    if len(parties) % 2:
                        etree.SubElement(party, "reason").text = f"party {len(parties)}"
        holder = tx.getparent()
        at = holder.index(tx) if at is None else at
        holder.remove(tx)
    for wrapper in tree.findall("transactions"):
        at = tree.index(wrapper)
        tree.remove(wrapper)
    for code in tree.findall("report_code"):
        code.text = "SAR"
    activity = etree.Element("activity")
    activity.append(parties)
    tree.insert(at if at is not None else len(tree), activity)
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8").decode()


# parties that are no side: an intermediary with a foreign-currency block no check looks at, a second sender
INTERMEDIARY = """<party><role>INT</role><person><first_name>Ian</first_name><last_name>Mid</last_name></person>
  <foreign_currency><foreign_currency_code>EUR</foreign_currency_code><foreign_amount>1</foreign_amount>
  <foreign_exchange_rate>9</foreign_exchange_rate></foreign_currency><country>FR</country></party>"""
SECOND_SENDER = """<party><role>SND</role><account><institution_name>Bank Z</institution_name><account>9</account>
  </account><funds_code>K</funds_code></party>"""

# (case, file text, the walk's problem code or None for a clean file, certified?)
CASES: list[tuple[str, str | bytes, str | None, bool]] = [
    ("clean", CLEAN, None, True),
    ("crlf", CLEAN.replace("\n", "\r\n"), None, True),
    ("bom, no declaration", b"\xef\xbb\xbf" + CLEAN.replace(DECL, "").encode(), None, True),
    ("comments", CLEAN.replace("<transaction>", "<!-- a -- b? no --><transaction>"), "FI-R002", False),
    ("comment between elements", CLEAN.replace("<transaction>", "<!-- note --><transaction>"), None, True),
    ("unicode spaces stripped", CLEAN.replace(">DE<", ">\u00a0DE\u3000\u2028<"), None, True),
    ("reference to a stripped CR", CLEAN.replace(">EUR<", ">EUR&#13;<"), None, True),
    ("offset datetime", CLEAN.replace("2026-09-01T10:00:00", "2026-09-01T10:00:00+02:00"), None, True),
    ("date only", CLEAN.replace("2026-09-01T10:00:00", "2026-09-01"), None, True),
    ("fraction of seconds", CLEAN.replace("2026-09-01T10:00:00", "2026-09-01T10:00:00.123456789Z"), None, True),
    ("entity in text", CLEAN.replace("Bank A", "Bank &amp; A &#x4E2D;"), None, True),
    ("standalone in capitals", CLEAN.replace(DECL, DECL.replace("?>", ' standalone="YES"?>')), "FI-R002", False),
    ("declaration without spaces", CLEAN.replace(DECL, '<?xml version="1.0"encoding="UTF-8"?>'), "FI-R002", False),
    ("doctype in a comment", CLEAN.replace("<report>", "<!-- <!DOCTYPE x> --><report>"), "FI-R003", False),
    ("duplicate number", report(transaction("A"), transaction("A")), "FI-V002", False),
    ("after submission", report(transaction(date="2026-10-02T00:00:00")), "FI-V008", False),
    ("in the future", CLEAN.replace("2026-10-01T09:00:00", "2027-10-01T09:00:00"), "FI-V004", False),
    ("before 1900", report(transaction(date="1899-12-31T00:00:00")), "FI-V005", False),
    ("impossible date", report(transaction(date="2026-02-30T00:00:00")), "FI-S004", False),
    ("leap day", report(transaction(date="2024-02-29T23:59:59")), None, True),
    ("zero amount", report(transaction(amount="0.00")), "FI-V001", False),
    ("negative amount", report(transaction(amount="-5")), "FI-V001", False),
    ("thousands separator", report(transaction(amount="1,000.00")), "FI-S005", False),
    ("invalid IBAN", CLEAN.replace("DE89370400440532013000", "DE00370400440532013000"), "FI-V009", False),
    ("unknown element", CLEAN.replace("<swift>", "<bogus>x</bogus><swift>"), "FI-S003", False),
    (
        "out of order",
        CLEAN.replace("<swift>BANKDEFF</swift>", "").replace("</iban>", "</iban><swift>X</swift>"),
        "FI-S013",
        False,
    ),
    ("strict code", CLEAN.replace(">STR<", ">XYZ<"), "FI-S007", False),
    ("lenient code", report(transaction(transmode="ZZ")), "FI-S010", False),
    ("bad country", CLEAN.replace(">DE<", ">DE\u200b<"), "FI-S009", False),
    ("bad currency", CLEAN.replace(">EUR<", ">eur<"), "FI-S008", False),
    ("empty required value", CLEAN.replace(">111<", ">  <"), "FI-S002", False),
    ("missing side", report(transaction(sides=TO_PERSON)), "FI-V003", False),
    (
        "identified my-client person",
        report(transaction(sides=MY_CLIENT_FROM.format(ident="<ssn>1</ssn>") + TO_PERSON)),
        None,
        True,
    ),
    (
        "unidentified my-client person",
        report(transaction(sides=MY_CLIENT_FROM.format(ident="") + TO_PERSON)),
        "FI-V011",
        False,
    ),
    (
        "profile-mandatory element",
        report(
            transaction(
                sides=MY_CLIENT_FROM.format(ident="<ssn>1</ssn>").replace(
                    "<birthdate>1990-01-01T00:00:00</birthdate>", ""
                )
                + TO_PERSON
            )
        ),
        "FI-S001",
        False,
    ),
    ("no transactions", CLEAN.replace(transaction(), ""), "FI-V010", False),
    ("foreign currency", report(transaction(sides=FOREIGN)), None, True),
    ("foreign rate inverted", report(transaction(sides=FOREIGN.replace(">1.1<", ">0.90909<"))), None, True),
    ("foreign off by 2%", report(transaction(sides=FOREIGN.replace(">1100<", ">1122<"))), "FI-V006", False),
    ("foreign is local", report(transaction(sides=FOREIGN.replace(">USD<", ">EUR<"))), "FI-V006", False),
    ("foreign amount zero", report(transaction(sides=FOREIGN.replace(">1100<", ">0<"))), "FI-V001", False),
    ("foreign rate zero: not checked further", report(transaction(sides=FOREIGN.replace(">1.1<", ">0<"))), None, True),
    ("foreign on both sides: to unchecked", report(transaction(sides=FOREIGN_BOTH)), None, True),
    ("foreign on the to side only", report(transaction(sides=FOREIGN_TO_ONLY)), "FI-V006", False),
    ("parties", as_parties(CLEAN), None, True),
    ("parties conductor and beneficiary", as_parties(CLEAN, [("CND", "BEN")]), None, True),
    ("parties receiver first", as_parties(CLEAN, [("RCV", "SND")]), None, True),
    ("parties that are no side", as_parties(CLEAN, extra=INTERMEDIARY + SECOND_SENDER), None, True),
    ("parties with a sender and a bi-party receiver", as_parties(CLEAN, keep="to"), None, True),
    ("parties without a receiver", as_parties(CLEAN, [("SND", "OTH")]), "FI-V003", False),
    ("party role in lower case", as_parties(CLEAN, [("snd", "RCV")]), "FI-S010", False),
    ("foreign currency on a party", as_parties(report(transaction(sides=FOREIGN))), None, True),
    (
        "foreign on a party off by 2%",
        as_parties(report(transaction(sides=FOREIGN.replace(">1100<", ">1122<")))),
        "FI-V006",
        False,
    ),
    ("foreign on a receiving party only", as_parties(report(transaction(sides=FOREIGN_TO_ONLY))), "FI-V006", False),
    ("activity report", as_activity(CLEAN), None, True),
    ("CDATA", CLEAN.replace(">Bank A<", "><![CDATA[Bank A]]><"), None, False),
    ("namespace", CLEAN.replace("<report>", '<report xmlns="urn:x">'), None, False),
    (
        "5.x element",
        report(
            transaction(extra="").replace("<transmode_code>", "<transaction_type>X</transaction_type><transmode_code>")
        ),
        None,
        True,
    ),
]


@pytest.mark.parametrize(("name", "text", "code", "certified"), CASES, ids=[c[0] for c in CASES])
def test_edge_cases(write, name: str, text: str | bytes, code: str | None, certified: bool) -> None:
    path = write("r.xml", text)
    walked = walk(path)
    if code is None:
        assert walked.problems == [], walked.problems
    else:
        assert code in {p.code for p in walked.problems}
    assert (assert_sound(path) is not None) is certified
    assert validate_goaml(path, now=NOW) == walked


def test_profile_text_limit(write) -> None:
    profile = codes.default_profile().model_copy(update={"max_text_length": 5})
    path = write("r.xml", CLEAN)
    assert fast.certify(path, profile, now=NOW) is None
    assert "FI-S014" in {p.code for p in walk(path, profile).problems}


# -- properties ------------------------------------------------------------------------------------------------------

SEEDS = [p.read_bytes().decode() for p in sorted((SAMPLE / "goaml").glob("*.xml"))] + [
    CLEAN,
    report(transaction(sides=MY_CLIENT_FROM.format(ident="<passport_number>P</passport_number>") + TO_PERSON)),
    report(transaction("F1", sides=FOREIGN), transaction("F2", sides=FOREIGN_BOTH)),
    as_parties(report(transaction("P1", sides=FOREIGN), transaction("P2")), extra=INTERMEDIARY),
]
VALUE = re.compile(r"<([a-z_0-9]+)>([^<]*)</\1>")
tricky = st.sampled_from(
    [
        "",
        " ",
        "0",
        "-0",
        "+1",
        ".5",
        "1.",
        "1e3",
        "١٢٣",
        "NaN",
        "0.0000001",
        "12345678901234567890",
        "2026-02-29",
        "2024-02-29T00:00:00",
        "2026-09-01T24:00:00",
        "2026-09-01 10:00",
        "2026-09-01T10:00:00Z",
        "2026-09-01T10:00:00-23:59",
        "9999-12-31",
        "0001-01-01",
        "2026-10-01T09:00:01",
        "\uff11\uff19\uff19\uff10-01-01"  # fullwidth digits,
        "true",
        "TRUE",
        "y",
        "EUR",
        "eur",
        "BTC",
        "btc",
        "DE",
        "XK",
        "GB29NWBK60161331926819",
        "GB29 NWBK",
        "\u00a0X\u00a0",
        "\u2000",
        "\u200b",
        "a\nb",
        "&amp;",
        "&#13;",
        "&#x85;",
        "&#xA0;1&#xA0;",
        "x" * 4001,
    ]
)


def xml_text(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;") if "&#" not in s and s != "&amp;" else s


@st.composite
def mutated_report(draw: st.DrawFn) -> str:
    """A seed report with some values replaced and some lines deleted, swapped or repeated."""
    text = draw(st.sampled_from(SEEDS))
    spans = [m.span(2) for m in VALUE.finditer(text)]
    for _ in range(draw(st.integers(1, 4))):
        if not spans:
            break
        start, end = draw(st.sampled_from(spans))
        new = xml_text(draw(st.one_of(tricky, st.text(max_size=12))))
        text = text[:start] + new + text[end:]
        spans = [m.span(2) for m in VALUE.finditer(text)]
    lines = text.split("\n")
    for _ in range(draw(st.integers(0, 2))):
        i = draw(st.integers(1, len(lines) - 2))
        op = draw(st.sampled_from(["delete", "repeat", "swap"]))
        if op == "delete":
            del lines[i]
        elif op == "repeat":
            lines.insert(i, lines[i])
        else:
            lines[i], lines[i + 1] = lines[i + 1], lines[i]
    return "\n".join(lines)


@FUZZ
@given(mutated_report())
def test_a_certified_mutated_report_is_clean_for_the_walk(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.xml"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        event("certified" if assert_sound(path) else "walked")


@FUZZ
@given(mutated_xml(), st.integers(1, 1 << 13))
def test_mutated_bytes_never_crash_the_compiled_pass(data: bytes, chunk_bytes: int) -> None:
    """... nor the reading of a big report in chunks (which gives the walk's rows or leaves the file to it)."""
    from finintel.ingest import read_goaml_file

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.xml"
        path.write_bytes(data)
        event("certified" if assert_sound(path) else "walked")
        read, took = read_in_chunks(path, chunk_bytes)
        if took:
            event("read in chunks")
            walked = read_goaml_file(
                path, codes.default_profile(), mention_prefix="m.", now=NOW, sha256="0" * 64, fast_path=False
            )
            assert_same_buffer(read, buffered(walked))


# -- ingest from the columns -----------------------------------------------------------------------------------------


_TABLES = ("transactions", "party_mentions", "account_mentions", "relations")
_BUFFERED = ("reports", "rejects", "alias", "parties_by_report", "rejected_parties_by_report")


def buffered(read: FileRead) -> tuple[tuple[Any, ...], dict[str, pl.DataFrame]]:
    """What a read leaves in its buffer (the frames are taken out of it: Buffer.frame releases them)."""
    meta = (read.problems, read.stats, read.fatal, *(getattr(read.buf, attr) for attr in _BUFFERED))
    return meta, {table: read.buf.frame(table) for table in _TABLES}


def assert_same_buffer(read: FileRead, walked: tuple[tuple[Any, ...], dict[str, pl.DataFrame]]) -> None:
    meta, frames = buffered(read)
    assert meta == walked[0]
    for table in _TABLES:
        assert_frame_equal(frames[table], walked[1][table])


def read_in_chunks(path: Path, chunk_bytes: int) -> tuple[FileRead, bool]:
    """read_goaml_file with ``path`` taken for a big file (read in chunks of ``chunk_bytes``), and whether the
    chunks were read from the columns (else it was walked)."""
    from finintel.ingest import read_goaml_file

    profile = codes.default_profile()
    saved = fast.MAX_INGEST_BYTES, bigread.CHUNK_BYTES, bigread.read_big
    taken: list[bool] = []

    def recorded(*args: Any, **kwargs: Any) -> colread.ColumnRead | None:  # (what ingest got from it)
        out = saved[2](*args, **kwargs)
        taken.append(out is not None)
        return out

    fast.MAX_INGEST_BYTES, bigread.CHUNK_BYTES, bigread.read_big = 0, chunk_bytes, recorded
    try:
        read = read_goaml_file(path, profile, mention_prefix="m.", now=NOW, sha256="0" * 64)
    finally:
        fast.MAX_INGEST_BYTES, bigread.CHUNK_BYTES, bigread.read_big = saved
    return read, taken == [True]


def assert_same_read(path: Path, chunks: Sequence[int] = (1,)) -> bool:
    """read_goaml_file through the columns (when it takes the file) gives exactly the walk's buffer; and so does
    the file read as a big one in chunks of each size of ``chunks`` (bytes; 1: one transaction a chunk)."""
    from finintel.ingest import read_goaml_file

    profile = codes.default_profile()
    columns = read_goaml_file(path, profile, mention_prefix="m.", now=NOW, sha256="0" * 64)
    walked = buffered(read_goaml_file(path, profile, mention_prefix="m.", now=NOW, sha256="0" * 64, fast_path=False))
    assert_same_buffer(columns, walked)
    taken = colread.read_columns(path, GoamlReader(path, profile, sha256="0" * 64), now=NOW) is not None
    for size in chunks:
        read, took = read_in_chunks(path, size)
        assert_same_buffer(read, walked)
        if took and currently_in_test_context():
            event("read in chunks")
    return taken


def test_ingest_reads_account_reports_from_the_columns_exactly_as_the_walk(synth_goaml: list[Path]) -> None:
    taken = [assert_same_read(p, chunks=()) for p in [*synth_goaml, *sorted((SAMPLE / "goaml").glob("*.xml"))]]
    assert sum(taken) >= len(synth_goaml) // 2  # most synthetic reports are account to account


def test_big_reports_read_in_chunks_are_the_walks(synth_goaml: list[Path]) -> None:
    """A report over fast.MAX_INGEST_BYTES is read in chunks (bigread), carrying from chunk to chunk what the walk
    carries over the whole report: its rows are the walk's whatever the chunks' size (one transaction a chunk, a
    few, a third of the file)."""
    picked = [*synth_goaml[::50], *sorted((SAMPLE / "goaml").glob("*.xml"))]
    for path in picked:
        size = path.stat().st_size
        assert_same_read(path, chunks=(1, size // 3))
        _, took = read_in_chunks(path, 1)
        assert took  # an activity report too: cut between its parties


def test_the_column_reader_takes_every_element_type_of_the_schema() -> None:
    """No shape of report is left to the walk for want of a builder (a type added to the schema would be)."""
    assert set(fast.compiled(codes.default_profile()).type_names) <= colread.INGEST_TYPES


def test_synth_reports_in_the_multi_party_form_are_read_from_the_columns_as_the_walk(synth_goaml, write) -> None:
    for i, path in enumerate(synth_goaml[:3]):
        assert assert_same_read(write(f"p{i}.xml", as_parties(path.read_text(), _SWAPPED)))


def test_the_multi_party_form_of_a_report_gives_its_graph(synth_goaml: list[Path], tmp_path: Path) -> None:
    """The synthetic reports with their sides as senders and receivers in involved_parties ingest into the same
    transactions, parties, accounts and relations as the originals; only where a row was read (its path) differs."""
    from finintel.ingest import ingest

    parties = tmp_path / "parties"
    parties.mkdir()
    for path in synth_goaml:
        (parties / path.name).write_text(as_parties(path.read_text()), encoding="utf-8")
    both = [ingest([folder], now=NOW, jobs=1) for folder in (synth_goaml[0].parent, parties)]
    assert both[0].counts == both[1].counts and both[1].counts.reconciles()
    for table, key in (
        ("transactions", "transaction_id"),
        ("parties", "party_id"),
        ("accounts", "account_id"),
        ("relations", "relation_id"),
    ):
        bi, multi = (r.store.tables[table].sort(key) for r in both)
        assert bi.height > 0
        assert_frame_equal(bi.drop("source_file", strict=False), multi.drop("source_file", strict=False))
    mentions = [r.store.tables["account_mentions"].drop("path", "file", "mention_id", "line") for r in both]
    assert_frame_equal(*(m.sort(m.columns) for m in mentions))


@pytest.mark.parametrize(
    "text",
    [
        CLEAN,
        CLEAN.replace("<transaction>", "<transactions><transaction>", 1).replace(
            "</transaction>\n</report>", "</transaction></transactions>\n</report>"
        ),
        report(transaction("A"), transaction("B"), transaction("C", amount="5")),  # repeated subjects
        report(transaction(sides=FOREIGN)),  # a foreign-currency block
        report(transaction(sides=MY_CLIENT_FROM.format(ident="<ssn>1</ssn>") + TO_PERSON)),  # person sides
        report(transaction("A"), transaction("B", sides=MY_CLIENT_FROM.format(ident="") + TO_ENTITY)),  # walked
        # a lone CR is a line end in the text but not a line for libxml2 (the walk's lines): in a header value, a
        # transaction's value and a comment, before the rows whose lines are taken
        CLEAN.replace(">100<", ">100\r<")
        .replace(">Bank A<", ">Bank\rA<")
        .replace("<transaction>", "<!-- a\rb --><transaction>"),
        # a header date with a time zone: the walk's leaf gives it naive in UTC (not the string for the model)
        CLEAN.replace("</submission_date>", "Z</submission_date>", 1),
        CLEAN.replace("</submission_date>", "+02:00</submission_date>", 1),
    ],
    ids=["plain", "wrapped", "repeated", "foreign", "persons", "entity", "lone CR", "Z date", "offset date"],
)
def test_ingest_from_the_columns_edge_cases(write, text: str) -> None:
    assert_same_read(write("r.xml", text))


# a valid block on the to side only: GBP 800 at 1.25 is the local 1000
FOREIGN_TO_VALID = FOREIGN_TO_ONLY.replace(">5<", ">800<").replace(">7<", ">1.25<")


@pytest.mark.parametrize(
    ("text", "amounts"),
    [
        (report(transaction(sides=FOREIGN)), [("1100", "USD")]),
        (report(transaction(sides=FOREIGN.replace(">1.1<", ">0.90909<"))), [("1100", "USD")]),  # either way
        (report(transaction(sides=FOREIGN.replace(">1.1<", ">0<"))), [("1100", "USD")]),  # not checked further
        (report(transaction(sides=FOREIGN_BOTH)), [("1100", "USD")]),  # the from side's block wins
        (report(transaction(sides=FOREIGN_TO_VALID)), [("800", "GBP")]),
        # repeated sides with a block (the walk never reuses them), around a transaction without one
        (
            report(transaction("A", sides=FOREIGN), transaction("B"), transaction("C", sides=FOREIGN)),
            [("1100", "USD"), ("1000", "EUR"), ("1100", "USD")],
        ),
    ],
    ids=["from", "inverted", "zero-rate", "both", "to", "repeated"],
)
def test_foreign_currency_is_read_from_the_columns(write, text: str, amounts: list[tuple[str, str]]) -> None:
    """The transaction's amount and currency come from the first side's block (from, then to), as the walk takes
    them; the file is read from the columns, not walked."""
    path = write("fc.xml", text)
    assert assert_same_read(path)
    read = colread.read_columns(path, GoamlReader(path, codes.default_profile(), sha256="0" * 64), now=NOW)
    assert read is not None
    tx = read.frames["transactions"]
    assert [(f"{a.normalize():f}", c) for a, c in tx.select("amount", "currency").iter_rows()] == amounts
    assert set(tx["amount_local"].cast(pl.Float64).to_list()) == {1000.0}


HELD = """
    <t_from_my_client>
      <from_funds_code>K</from_funds_code>
      <from_account>
        <institution_name>Bank A</institution_name><swift>BANKDEFF</swift><account>DE89370400440532013000</account>
        <currency_code>EUR</currency_code><account_name>Acme GmbH</account_name><iban>DE89370400440532013000</iban>
        <t_entity><name>Acme GmbH</name><incorporation_legal_form>GMBH</incorporation_legal_form>
          <incorporation_number>HRB 1</incorporation_number>
          <addresses><address><address_type>R</address_type><address>1 Road</address><city>Köln</city>
            <country_code>DE</country_code></address></addresses>
          <incorporation_country_code>DE</incorporation_country_code>
          <incorporation_date>2001-02-03T00:00:00</incorporation_date></t_entity>
        <opened>2015-01-26T00:00:00</opened>
      </from_account>
      <from_country>DE</from_country>
    </t_from_my_client>"""
SIGNED = """
    <t_to>
      <to_funds_code>A</to_funds_code>
      <to_account>
        <institution_name>Bank B</institution_name><account>222</account><currency_code>BTC</currency_code>
        <signatory><is_primary>true</is_primary><t_person><gender>F</gender><first_name>Eva</first_name>
          <last_name>Lind</last_name><birthdate>1980-01-01T00:00:00</birthdate><passport_number>P1</passport_number>
          <passport_country>SE</passport_country><residence>SE</residence></t_person><role>OWN</role></signatory>
        <signatory><t_person><first_name>Ola</first_name><last_name>Berg</last_name></t_person></signatory>
      </to_account>
      <to_country>SE</to_country>
    </t_to>"""
# a holder with directors (roles mapped, unknown, none) and related entities (subsidiary, owner, unknown code, share
# out of range); the same entity repeated as holder of another account and as a related entity elsewhere
BOARD = """<director_id><first_name>Kim</first_name><last_name>Park</last_name><ssn>1</ssn>
            <phones><phone><tph_contact_type>B</tph_contact_type><tph_communication_type>L</tph_communication_type>
              <tph_country_prefix>+49</tph_country_prefix><tph_number>555</tph_number></phone></phones>
            <role>NOM</role></director_id>
          <director_id><first_name>Lou</first_name><last_name>Roe</last_name></director_id>
          <director_id><first_name>Max</first_name><last_name>Doe</last_name><role>UBO</role></director_id>
          <incorporation_date>2001-02-03T00:00:00</incorporation_date>
          <related_entities>
            <related_entity><entity_entity_relation>SUB</entity_entity_relation><share_percentage>60</share_percentage>
              <entity><name>Sub Ltd</name><incorporation_country_code>CY</incorporation_country_code></entity>
            </related_entity>
            <related_entity><entity_entity_relation>OWN</entity_entity_relation><share_percentage>150</share_percentage>
              <entity><name>Top SA</name></entity></related_entity>
            <related_entity><entity><name>Other AG</name></entity></related_entity>
          </related_entities>"""
NOMINEE = SIGNED.replace("</t_person></signatory>", "</t_person><role>NOM</role></signatory>")
# a related entity nested in another one's entity, repeated later as a holder's own related entity: the walk's first
# occurrence (its line and path) is the nested one
NESTED = HELD.replace(
    "<incorporation_date>2001-02-03T00:00:00</incorporation_date>",
    """<incorporation_date>2001-02-03T00:00:00</incorporation_date><related_entities><related_entity>
      <entity><name>Mid</name><related_entities><related_entity><entity><name>Deep</name></entity></related_entity>
      </related_entities></entity></related_entity></related_entities>""",
)
REPEATED_DEEP = HELD.replace("Acme GmbH</name>", "Beta BV</name>", 1).replace(
    "<incorporation_date>2001-02-03T00:00:00</incorporation_date>",
    """<incorporation_date>2001-02-03T00:00:00</incorporation_date><related_entities><related_entity>
      <entity><name>Deep</name></entity></related_entity></related_entities>""",
)
DIRECTED = HELD.replace("<incorporation_date>2001-02-03T00:00:00</incorporation_date>", BOARD)
ENTITY_FROM = (
    """
    <t_from_my_client><from_funds_code>W</from_funds_code>
      <from_entity><name>Acme GmbH</name><incorporation_number>HRB 2</incorporation_number>
      <incorporation_country_code>DE</incorporation_country_code>"""
    + BOARD.replace("<incorporation_date>2001-02-03T00:00:00</incorporation_date>", "")
    + """
      </from_entity><from_country>DE</from_country></t_from_my_client>"""
)
# goAML 5 related persons of an account: after its signatories, or alone; roles OWN (holds), NOM, none; primary
RELATED = SIGNED.replace(
    "</signatory>\n      </to_account>",
    """</signatory>
        <related_persons>
          <account_related_person><is_primary>true</is_primary><t_person><first_name>Ida</first_name>
            <last_name>Holm</last_name></t_person><role>OWN</role><comments>co-owner</comments></account_related_person>
          <account_related_person><t_person><first_name>Ola</first_name><last_name>Berg</last_name></t_person>
            <role>NOM</role></account_related_person>
          <account_related_person><t_person><first_name>Per</first_name><last_name>Ek</last_name></t_person>
          </account_related_person>
        </related_persons>
      </to_account>""",
)
RELATED_ONLY = HELD.replace(
    "<opened>",
    """<related_persons><account_related_person><is_primary>true</is_primary><t_person><first_name>Ida</first_name>
      <last_name>Holm</last_name></t_person></account_related_person></related_persons><opened>""",
)
ACCOUNT_SEEDS = [
    report(
        transaction("A", sides=DIRECTED + SIGNED),
        transaction("B", sides=DIRECTED.replace("Bank A", "Bank C") + SIGNED),
        transaction("C", sides=HELD + NOMINEE),
    ),
    report(transaction("A", sides=NESTED + SIGNED), transaction("B", sides=REPEATED_DEEP + SIGNED)),
    report(  # conductors: repeated, on a person side and on an account side, a conductor also a sender elsewhere
        transaction("A", sides=CONDUCTED + TO_ENTITY),
        transaction("B", sides=CONDUCTED.replace("Al<", "Ed<") + SIGNED),
        transaction("C", sides=HELD.replace("<from_account>", CONDUCTOR + "<from_account>") + TO_PERSON),
        transaction("D", sides=CONDUCTED.replace("<first_name>Al<", "<first_name>Cy<") + TO_PERSON),
    ),
    report(  # entity sides (with a board and related entities, repeated) and an account side
        transaction("A", sides=ENTITY_FROM + TO_ENTITY),
        transaction("B", sides=ENTITY_FROM + SIGNED),
        transaction("C", sides=HELD + TO_ENTITY.replace("North Ltd", "South Ltd")),
    ),
    report(  # person sides: cash paid in by a client, repeated; a person receiving from a held account
        transaction("A", sides=MY_CLIENT_FROM.format(ident="<ssn>1</ssn>") + SIGNED),
        transaction("B", sides=MY_CLIENT_FROM.format(ident="<ssn>1</ssn>") + SIGNED),
        transaction("C", sides=HELD + TO_PERSON),
    ),
    report(
        transaction("A", sides=HELD + SIGNED),
        transaction("B", sides=HELD + SIGNED.replace(">Ola<", ">Olaf<")),
        transaction("C", sides=HELD.replace("t_from_my_client", "t_from") + SIGNED, amount="12.5"),
        transaction("D"),
    ),
    report(  # related persons: with signatories, alone on a held account, repeated; a related person also a signatory
        transaction("A", sides=HELD + RELATED),
        transaction("B", sides=RELATED_ONLY + SIGNED),
        transaction("C", sides=RELATED_ONLY + RELATED),
        transaction("D", sides=RELATED_ONLY.replace("t_from_my_client", "t_from") + TO_PERSON),
    ),
    CLEAN,
]
# the same reports in goAML's multi-party form: a party's subject has the same tag in every role, so an account, a
# person or an organization that sends in one transaction and receives in another is one subtree in two roles (the
# walk builds it again, from its first occurrence); parties listed receiver first; a client's parties; parties that
# are no side; a side left bi-party; foreign-currency blocks on parties
_SWAPPED = [("SND", "RCV"), ("RCV", "SND"), ("CND", "BEN")]
# subjects written without whitespace, so that the same subtree in another place has the same bytes
_HOLDCO = "<t_entity><name>Holdco</name></t_entity>"
_SIGNER = "<signatory><t_person><first_name>Sig</first_name><last_name>Ned</last_name></t_person></signatory>"


def _entity(name: str) -> str:
    return f"<entity><name>{name}</name><incorporation_country_code>CY</incorporation_country_code></entity>"


def _held(number: str, related: str) -> str:
    """An account held by an organization with a subsidiary ``related``."""
    return (
        f"<account><institution_name>Bank X</institution_name><account>{number}</account><t_entity><name>Top</name>"
        "<related_entities><related_entity><entity_entity_relation>SUB</entity_entity_relation>"
        f"{_entity(related)}</related_entity></related_entities></t_entity></account>"
    )


_ACC_X = _held("1", "Sub")
_ACC_Y = f"<account><institution_name>Bank Y</institution_name><account>555</account>{_HOLDCO}{_SIGNER}</account>"


def _party(role: str, subject: str) -> str:
    return f"<party><role>{role}</role>{subject}<funds_code>K</funds_code><country>DE</country></party>"


ACCOUNT_SEEDS += [
    as_parties(ACCOUNT_SEEDS[0], _SWAPPED),
    as_parties(ACCOUNT_SEEDS[1], _SWAPPED[1:]),
    as_parties(ACCOUNT_SEEDS[2], _SWAPPED, extra=INTERMEDIARY),
    as_parties(ACCOUNT_SEEDS[3], _SWAPPED),
    as_parties(ACCOUNT_SEEDS[4], _SWAPPED),
    as_parties(ACCOUNT_SEEDS[5], keep="to", extra=SECOND_SENDER),
    as_parties(ACCOUNT_SEEDS[6], _SWAPPED[::-1]),
    as_parties(report(transaction("A", sides=FOREIGN), transaction("B", sides=FOREIGN_TO_VALID)), _SWAPPED),
    # parties that are no side but hold the first occurrence of a subtree a side has later (the walk's dict of it):
    # the same account as a later receiver, a holder, a signatory, an organization that is also a related entity
    *(
        report(
            transaction(
                "A",
                sides=f"<involved_parties>{_party('SND', _ACC_X)}{_party('INT', first)}"
                f"{_party('RCV', later)}</involved_parties>",
            ),
            transaction(
                "B", sides=f"<involved_parties>{_party('SND', later)}{_party('RCV', _ACC_X)}</involved_parties>"
            ),
        )
        for first, later in [
            (_ACC_Y, _ACC_Y),
            (_ACC_Y, _ACC_Y.replace(">555<", ">556<")),  # another account: the same holder and signatory
            (_held("2", "Rel3"), _entity("Rel3")),  # a related entity first, then a subject
            (_entity("Rel4"), _held("3", "Rel4")),  # a subject first, then a related entity
        ]
    ),
    # activity reports: every party is built (repeats become aliases), whatever its subject
    *(as_activity(ACCOUNT_SEEDS[i]) for i in range(7)),
    # two accounts with signatories that swap roles: the second builds of both come after the first builds
    as_parties(
        report(
            *(
                transaction(n, sides=SIGNED.replace("to_", "from_").replace("t_to", "t_from") + RELATED)
                for n in ("A", "B", "C")
            )
        ),
        _SWAPPED,
    ),
]


@st.composite
def mutated_account_report(draw: st.DrawFn) -> str:
    """An account-to-account report with one or two values replaced or a line repeated or deleted."""
    text = draw(st.sampled_from(ACCOUNT_SEEDS))
    for _ in range(draw(st.integers(1, 2))):
        spans = [m.span(2) for m in VALUE.finditer(text)]
        start, end = draw(st.sampled_from(spans))
        new = draw(st.one_of(st.sampled_from(["", " x ", "1", "DE", "true", "2020-01-01", "Acme GmbH"]), tricky))
        text = text[:start] + xml_text(new) + text[end:]
    lines = text.split("\n")
    if draw(st.booleans()):
        i = draw(st.integers(1, len(lines) - 2))
        if draw(st.booleans()):
            lines.insert(i, lines[i])
        else:
            del lines[i]
    return "\n".join(lines)


# subjects for arrangements of parties: repeated in any role, by a party that is a side or not, as an organization
# and as a related entity, a client's account (its holder a client's organization)
_PARTY_SUBJECTS = [
    _ACC_X,
    _ACC_Y,
    _ACC_Y.replace(">555<", ">556<"),
    _held("2", "Rel3"),
    _entity("Rel3"),
    _entity("Sub"),
    "<person><first_name>Pia</first_name><last_name>Sol</last_name></person>",
    "<account_my_client><institution_name>Bank Y</institution_name><account>557</account>"  # a client's
    "<t_entity><name>Holdco</name><incorporation_number>H1</incorporation_number>"
    "<incorporation_country_code>DE</incorporation_country_code></t_entity><signatory><t_person>"
    "<first_name>Sig</first_name><last_name>Ned</last_name><birthdate>1990-01-01T00:00:00</birthdate><ssn>7</ssn>"
    "<nationality1>DE</nationality1></t_person></signatory></account_my_client>",
]
_ROLE_CODES = ["SND", "RCV", "CND", "BEN", "INT", "OTH"]


@st.composite
def arranged_parties(draw: st.DrawFn) -> str:
    """A report whose transactions have a sender, a receiver and up to two more parties in any roles, in any order,
    their subjects drawn (with repeats) from a small pool; some keep a bi-party side."""
    subject = st.sampled_from(_PARTY_SUBJECTS)
    transactions = []
    for n in range(draw(st.integers(1, 4))):
        parties = [
            (draw(st.sampled_from(["SND", "CND"])), draw(subject)),
            (draw(st.sampled_from(["RCV", "BEN"])), draw(subject)),
            *draw(st.lists(st.tuples(st.sampled_from(_ROLE_CODES), subject), max_size=2)),
        ]
        block = "".join(_party(role, subject) for role, subject in draw(st.permutations(parties)))
        bi = draw(st.sampled_from(["", FROM_ACCOUNT, TO_ACCOUNT]))
        transactions.append(transaction(f"P{n}", sides=f"{bi}<involved_parties>{block}</involved_parties>"))
    return report(*transactions)


@FUZZ
@given(arranged_parties(), st.booleans())
def test_any_arrangement_of_parties_is_read_from_the_columns_as_the_walk(text: str, chunked: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.xml"
        path.write_text(text, encoding="utf-8")
        chunks = (path.stat().st_size // 3,) if chunked else ()  # (half the examples: a chunked read costs two)
        event("columns" if assert_same_read(path, chunks=chunks) else "walked")


def test_ingest_reads_big_reports_in_chunks_into_the_same_store(
    synth_goaml: list[Path], tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through ingest and the CLI: reports over fast.MAX_INGEST_BYTES are read in chunks (not walked) and give the
    store that reading them whole gives, row for row (lines and paths included)."""
    from finintel.ingest import ingest

    folder = tmp_path / "reports"
    folder.mkdir()
    for path in synth_goaml[::10]:
        (folder / path.name).write_bytes(path.read_bytes())
    whole = ingest([folder], now=NOW, jobs=1)
    args = ("--format", "json", "-j", "1")
    reference = json.loads(cli("ingest", folder, "--out", tmp_path / "whole", *args, code=None).stdout)
    taken: list[bool] = []
    real = bigread.read_big

    def counted(*args: Any, **kwargs: Any) -> colread.ColumnRead | None:
        out = real(*args, **kwargs)
        taken.append(out is not None)
        return out

    monkeypatch.setattr(bigread, "read_big", counted)
    monkeypatch.setattr(fast, "MAX_INGEST_BYTES", 0)
    monkeypatch.setattr(bigread, "CHUNK_BYTES", 16 << 10)
    chunked = ingest([folder], now=NOW, jobs=1)
    assert len(taken) == len(list(folder.iterdir())) and all(taken)
    assert chunked.counts == whole.counts and chunked.counts.reconciles()
    for table, frame in whole.store.tables.items():
        assert_frame_equal(chunked.store.tables[table], frame, check_row_order=False)
    taken.clear()
    out = cli("ingest", folder, "--out", tmp_path / "store", *args, code=None)
    assert all(taken) and len(taken) == len(list(folder.iterdir()))
    assert {**json.loads(out.stdout), "store": None} == {**reference, "store": None}


# reports whose chunks could not stand for the whole file: read_big declines and the file is walked
_DOC = '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE report>\n'
_KIM = "<director_id><first_name>Kim</first_name><last_name>Park</last_name></director_id>"
_BOARDED = f"<entity><name>A\nB</name>{_KIM}</entity>"
_BOARDED_REF = f"<entity><name>A&#10;B</name>{_KIM}</entity>"
NOT_CUT = [
    ("comment between transactions", report(transaction("A"), "<!-- a note -->", transaction("B"))),
    ("comment in a transaction", report(transaction("A", extra="<!-- a note -->"), transaction("B"))),
    ("CDATA in a transaction", report(transaction("A"), transaction("B").replace("SW<", "<![CDATA[SW]]><"))),
    (
        "document type",
        report(transaction("A"), transaction("B")).replace('<?xml version="1.0" encoding="UTF-8"?>\n', _DOC),
    ),
    ("an element between transactions", report(transaction("A"), "<reason>late</reason>", transaction("B"))),
    ("a transaction after the footer", report(transaction("A"), tail="<action>x</action>" + transaction("B"))),
    ("a number repeated in another chunk", report(transaction("A"), transaction("B"), transaction("A"))),
    # an organization built in a later chunk from its first occurrence (a party that is no side), whose copy there
    # has its directors on other lines (a line feed written as a reference in one, as it is in the other)
    (
        "a copy laid out on other lines",
        report(
            transaction(
                "A",
                sides=f"<involved_parties>{_party('SND', _ACC_X)}{_party('INT', _BOARDED)}"
                f"{_party('RCV', _ACC_Y)}</involved_parties>",
            ),
            transaction(
                "B",
                sides=f"<involved_parties>{_party('SND', _BOARDED_REF)}{_party('RCV', _ACC_X)}</involved_parties>",
            ),
        ),
    ),
]


@pytest.mark.parametrize(("name", "text"), NOT_CUT, ids=[c[0] for c in NOT_CUT])
def test_a_big_report_its_chunks_cannot_stand_for_is_walked(write, name: str, text: str) -> None:
    from finintel.ingest import read_goaml_file

    path = write("big.xml", text)
    read, took = read_in_chunks(path, 1)
    assert not took
    walked = read_goaml_file(
        path, codes.default_profile(), mention_prefix="m.", now=NOW, sha256="0" * 64, fast_path=False
    )
    assert_same_buffer(read, buffered(walked))
    if name == "a copy laid out on other lines":  # read whole, the column reader takes it (one chunk: no copy)
        whole, took = read_in_chunks(path, path.stat().st_size)
        assert took
        assert_same_buffer(
            whole,
            buffered(
                read_goaml_file(
                    path, codes.default_profile(), mention_prefix="m.", now=NOW, sha256="0" * 64, fast_path=False
                )
            ),
        )


# reports cut although not written like the synthetic ones
CUT = [
    # exporters often open a report with a comment: the prolog is not cut, so it does not keep the file whole
    (
        "a comment before the root",
        report(transaction("A"), transaction("B")).replace("<report>", "<!-- x -->\n<report>"),
    ),
    # goAML 5 may wrap the transactions: the wrapper's tags are in the header and the footer
    ("transactions wrapped", report("<transactions>" + transaction("A") + transaction("B") + "</transactions>")),
    ("CR LF line ends", report(transaction("A"), transaction("B")).replace("\n", "\r\n")),
    # an activity report (no transactions) is cut between its parties, built every time (no memo of builds)
    ("an activity report", as_activity(ACCOUNT_SEEDS[3])),
]


@pytest.mark.parametrize(("name", "text"), CUT, ids=[c[0] for c in CUT])
def test_a_big_report_is_cut(write, name: str, text: str) -> None:
    from finintel.ingest import read_goaml_file

    path = write("big.xml", text)
    read, took = read_in_chunks(path, 1)
    assert took
    walked = read_goaml_file(
        path, codes.default_profile(), mention_prefix="m.", now=NOW, sha256="0" * 64, fast_path=False
    )
    assert_same_buffer(read, buffered(walked))


def test_account_seeds_are_read_from_the_columns(write) -> None:
    for i, text in enumerate(ACCOUNT_SEEDS):
        assert assert_same_read(write(f"s{i}.xml", text))


@FUZZ
@given(st.one_of(mutated_account_report(), mutated_report()), st.integers(1, 1 << 13))
def test_a_mutated_report_read_from_the_columns_is_the_walks(text: str, chunk_bytes: int) -> None:
    """... and read as a big report in chunks of any size (a cut anywhere between transactions)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.xml"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        event("columns" if assert_same_read(path, chunks=(chunk_bytes,)) else "walked")


def test_a_batch_reads_every_file_as_the_walk_reads_it_alone(synth_goaml: list[Path], write) -> None:
    """Files read together (one compiled pass per file, certified and built as one batch) give each file's own
    buffer, numbering, aliases and counts; a file that is not taken, not clean or not readable changes nothing for
    the others."""
    from polars.testing import assert_frame_equal

    from finintel.ingest import read_goaml_file, read_goaml_files

    profile = codes.default_profile()
    seeds = [write(f"seed{i}.xml", text) for i, text in enumerate(ACCOUNT_SEEDS)]
    broken = write("broken.xml", CLEAN.replace("<amount_local>", "<amount_local>-", 1))
    persons = write("persons.xml", report(transaction(sides=MY_CLIENT_FROM.format(ident="<ssn>1</ssn>") + TO_PERSON)))
    foreign = write("foreign.xml", report(transaction(sides=FOREIGN)))
    files = [
        *synth_goaml[:6],
        seeds[0],
        broken,
        *seeds[1:],
        persons,
        foreign,
        *sorted((SAMPLE / "goaml").glob("*.xml")),
    ]
    missing = write("gone.xml", CLEAN)
    missing.unlink()
    items = [(p, f"m{i}.") for i, p in enumerate([*files[:3], missing, *files[3:]])]
    read = read_goaml_files(items, profile, now=NOW)
    assert [r.path for r in read] == [p for p, _ in items]
    gone = read[3]
    assert (gone.digest, gone.read, gone.error) == (None, None, "No such file or directory")
    for (path, prefix), got in zip(items, read, strict=True):
        if path == missing:
            continue
        alone = read_goaml_file(path, profile, mention_prefix=prefix, now=NOW, sha256=got.digest, fast_path=False)
        assert got.read is not None
        assert (got.read.problems, got.read.stats, got.read.fatal) == (alone.problems, alone.stats, alone.fatal)
        for attr in ("reports", "rejects", "alias", "parties_by_report", "rejected_parties_by_report"):
            assert getattr(got.read.buf, attr) == getattr(alone.buf, attr), (path.name, attr)
        for table in ("transactions", "party_mentions", "account_mentions", "relations"):
            assert_frame_equal(got.read.buf.frame(table), alone.buf.frame(table))
    taken = colread.read_batch([(p.read_bytes(), GoamlReader(p, profile, sha256="0" * 64)) for p in files], now=NOW)
    assert [r is not None for r in taken].count(True) >= 8  # most are read from the columns, in one batch
    assert taken[files.index(broken)] is None  # invalid
    assert taken[files.index(foreign)] is not None  # a foreign-currency block: read from the columns
    assert taken[files.index(persons)] is not None


def test_the_typed_value_sources_are_one_chunk(synth_goaml: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Every row of a batch is gathered from these columns; polars gathers from a column of several chunks (the
    values and the null appended for "no value") several times slower, so each is built as one chunk."""
    built: list[tuple[str, int]] = []
    real = colread._FrameReader.source

    def source(self: colread._FrameReader, kind: str) -> pl.Series:
        out = real(self, kind)
        built.append((kind, out.n_chunks()))
        return out

    monkeypatch.setattr(colread._FrameReader, "source", source)
    profile = codes.default_profile()
    taken = colread.read_batch([(p.read_bytes(), GoamlReader(p, profile, sha256="0" * 64)) for p in synth_goaml[:8]])
    assert any(r is not None for r in taken)
    assert {kind for kind, _ in built} >= {"text", "datetime", "decimal"}
    assert all(chunks == 1 for _, chunks in built), built


# -- the C helpers of the column reader, against plain Python ------------------------------------------------------


@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.sampled_from([b"", b"a", b"ab", b"b", b"<x>1</x>", b"ab\x00"])), max_size=60
    )
)
def test_first_same_is_the_first_equal_subtree(entries: list[tuple[int, bytes]]) -> None:
    canon = b"".join(text for _, text in entries)
    ends = np.cumsum([len(text) for _, text in entries], dtype=np.int64)
    starts = ends - np.array([len(text) for _, text in entries], dtype=np.int64)
    keys = np.array([key for key, _ in entries], dtype=np.int64)
    seen: dict[tuple[int, bytes], int] = {}
    expected = [seen.setdefault(entry, i) for i, entry in enumerate(entries)]
    assert fast.first_same(canon, keys, starts, ends).tolist() == expected
    # the same entries, each in a buffer of its own (a batch's files are not joined)
    alone = tuple(text for _, text in entries)
    sizes = np.array([len(text) for text in alone], dtype=np.int64)
    whose = np.arange(len(alone), dtype=np.int64)
    assert fast.first_same(alone, keys, np.zeros_like(sizes), sizes, which=whose).tolist() == expected


def test_first_same_refuses_extents_outside_the_bytes() -> None:
    one = np.zeros(1, dtype=np.int64)
    with pytest.raises(ValueError):
        fast.first_same(b"abc", one, one, np.array([4], dtype=np.int64))
    with pytest.raises(ValueError):
        fast.first_same(b"abc", one, np.array([2], dtype=np.int64), np.array([1], dtype=np.int64))
    with pytest.raises(ValueError):
        fast.first_same(b"abc", np.zeros(2, dtype=np.int64), one, one)
    with pytest.raises(ValueError):  # an extent in a buffer that is not there
        fast.first_same((b"abc",), one, one, one, which=np.ones(1, dtype=np.int64))
    with pytest.raises(ValueError):  # within the first buffer's size, not the second's
        fast.first_same((b"abc", b"a"), one, one, np.array([2], dtype=np.int64), which=np.ones(1, dtype=np.int64))


@given(
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 4)), max_size=80),
    st.lists(st.integers(-1, 6), max_size=20),
    st.integers(1, 4),
    st.randoms(use_true_random=False),
)
def test_value_groups_find_the_first_value(values: list[tuple[int, int]], elements: list[int], cols: int, rnd) -> None:
    owner = np.array([o for o, _ in values], dtype=np.int64)
    field = np.array([f for _, f in values], dtype=np.int32)
    groups = fast.ValueGroups(owner, field, 7)
    gids = np.array([[rnd.randint(-1, 4) for _ in range(cols)] for _ in elements], dtype=np.int64).reshape(-1, cols)
    rows = np.array(elements, dtype=np.int64)
    got = groups.first_values(rows, gids, 999)
    for r, e in enumerate(elements):
        for j in range(cols):
            want = next((i for i, v in enumerate(values) if e >= 0 and gids[r, j] >= 0 and v == (e, gids[r, j])), 999)
            assert got[r, j] == want


def test_value_groups_refuse_owners_out_of_range() -> None:
    with pytest.raises(ValueError):
        fast.ValueGroups(np.array([3], dtype=np.int64), np.zeros(1, dtype=np.int32), 3)
    with pytest.raises(ValueError):
        fast.ValueGroups(np.array([-1], dtype=np.int64), np.zeros(1, dtype=np.int32), 3)


def _value_column(texts: list[str]) -> fast._Values:
    """A batch's value column holding ``texts`` (one field, one owner)."""
    data = [t.encode() for t in texts]
    offsets = np.concatenate([[0], np.cumsum([len(d) for d in data])]).astype("<i8")
    zeros = np.zeros(len(texts), dtype=np.int64)
    return fast._Values(zeros, zeros, offsets.tobytes(), b"".join(data), 1)


_DATE_LIKE = st.one_of(
    st.datetimes(dt.datetime(1000, 1, 1), dt.datetime(9999, 12, 31)).map(lambda d: d.isoformat(timespec="seconds")),
    st.dates(dt.date(1000, 1, 1)).map(dt.date.isoformat),
    st.builds(  # days a month does not have (29 February in years that are no leap years), hours 24, seconds 60
        lambda y, m, d, t: f"{y:04d}-{m:02d}-{d:02d}{t}",
        st.one_of(st.integers(0, 9999), st.sampled_from([1000, 1600, 1900, 2000, 2023, 2024, 2100])),
        st.integers(0, 13),
        st.integers(0, 32),
        st.sampled_from(["", "T00:00:00", "T23:59:59", "T24:00:00", "T12:60:00", "T12:00:60"]),
    ),
    # impossible months, days and times, years below 1000, fractions, zones, spaces
    st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2})?", fullmatch=True),
    st.from_regex(
        r"\s?[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9](\.[0-9]{1,9})?(Z|[+-]0[0-9]:00)?\s?",
        fullmatch=True,
    ),
    st.text(max_size=24),
)


@given(st.lists(_DATE_LIKE, max_size=30))
def test_the_compiled_dates_are_parse_datetimes(texts: list[str]) -> None:
    """The batch's dates (quick forms in C, the rest with parse_datetime) are what parse_datetime gives every value."""
    at = np.arange(len(texts), dtype=np.int64)
    assert _value_column(texts).datetimes(at).to_list() == [parse_datetime(t) for t in texts]


def test_the_compiled_dates_know_the_calendar() -> None:
    """Every month and day number (and a few times) of leap years, common years and century years."""
    texts = [
        f"{y:04d}-{m:02d}-{d:02d}{t}"
        for y in (999, 1000, 1600, 1900, 2000, 2023, 2024, 2100, 9999)
        for m in range(14)
        for d in range(33)
        for t in ("", "T00:00:00", "T23:59:59", "T24:00:00", "T00:60:00", "T00:00:60")
    ]
    at = np.arange(len(texts), dtype=np.int64)
    assert _value_column(texts).datetimes(at).to_list() == [parse_datetime(t) for t in texts]


def test_the_usual_dates_take_the_quick_form() -> None:
    texts = ["2024-02-29", "2024-02-29T23:59:59", "1000-01-01", "9999-12-31T23:59:59", "1970-01-01T00:00:00"]
    texts += ["2023-02-29", "0999-01-01", "2024-01-01T24:00:00", " 2024-01-01", "2024-01-01T00:00:00Z", "2024-1-01"]
    values = _value_column(texts)
    assert fast._scan is not None
    micros, quick = fast._scan.iso_datetimes(values._offsets, values._text, np.arange(len(texts), dtype=np.int64))
    assert np.frombuffer(quick, dtype=np.uint8).tolist() == [1] * 5 + [0] * 6
    assert np.frombuffer(micros, dtype=np.int64)[4] == 0  # (the epoch)


def _iban(country: str, bban: str) -> str:
    """An IBAN with correct check digits."""
    digits = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    return f"{country}{98 - int(digits) % 97:02d}{bban}"


def _remainder_one(head: str, body: str) -> str:
    """``head + body`` and one more character that makes its ISO 7064 remainder 1, whatever its shape (letters where
    the check digits go, digits for the country, any length), when one does."""
    for last in _ALNUM:
        text = head + body + last
        if int("".join(str(int(ch, 36)) for ch in text[4:] + text[:4])) % 97 == 1:
            return text
    return head + body


_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_IBAN_LIKE = st.one_of(
    st.builds(_remainder_one, st.text(_ALNUM, min_size=4, max_size=4), st.text(_ALNUM, min_size=8, max_size=32)),
    st.builds(_iban, st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2), st.text(_ALNUM, max_size=34)),
    st.builds(  # written with spaces, dashes, lower case, other characters
        lambda iban, seps: "".join(ch.lower() if i in seps else ch for i, ch in enumerate(iban)) + " -ü"[len(seps) % 3],
        st.builds(_iban, st.sampled_from(["DE", "GB", "FR"]), st.text(_ALNUM, min_size=9, max_size=32)),
        st.sets(st.integers(0, 40)),
    ),
    st.from_regex(r"[A-Za-z]{2}[0-9]{2}[ A-Za-z0-9-]{9,34}", fullmatch=True),
    st.text(max_size=40),
)


@given(st.lists(_IBAN_LIKE, max_size=30))
def test_the_compiled_iban_check_is_iban_is_valid(texts: list[str]) -> None:
    at = np.arange(len(texts), dtype=np.int64)
    assert _value_column(texts).ibans_valid(at).tolist() == [iban_is_valid(t) for t in texts]


def test_the_typed_value_functions_refuse_values_outside_the_column() -> None:
    assert fast._scan is not None
    offsets, one = np.array([0, 3], dtype="<i8").tobytes(), np.zeros(1, dtype=np.int64).tobytes()
    for function in (fast._scan.iso_datetimes, fast._scan.iban_valid):
        with pytest.raises(ValueError):  # past the last value
            function(offsets, b"abc", np.ones(1, dtype=np.int64).tobytes())
        with pytest.raises(ValueError):
            function(offsets, b"abc", np.full(1, -1, dtype=np.int64).tobytes())
        with pytest.raises(ValueError):  # past the text
            function(offsets, b"ab", one)
        with pytest.raises(ValueError):  # offsets going back
            function(np.array([2, 1], dtype="<i8").tobytes(), b"abc", one)
        with pytest.raises(ValueError):  # no offsets
            function(b"", b"", b"")
        with pytest.raises(ValueError):  # not int64 indices
            function(offsets, b"abc", b"\x00" * 3)


@given(st.lists(st.integers(-1, 9)), st.lists(st.integers(0, 9)))
def test_among_is_isin(values: list[int], members: list[int]) -> None:
    array = np.array(values, dtype=np.int32)
    assert fast.among(array, members, 10).tolist() == np.isin(array, members).tolist()


# -- raw extents: a plainly written report is its own canonical form ---------------------------------------------

#: ways of writing the same content differently (each one keeps what lxml serialises: the walk's memo key)
REWRITES = [
    ("Ola", "&#79;la"),  # a character reference
    ("Ola", "O&#x6C;a"),
    (">", " >"),  # whitespace in a start tag
    ("</name>", "</name >"),  # in an end tag
    ("\n", "\r\n"),  # a CR LF line end
    ("<t_person>", "<t_person><!-- seen -->"),  # a comment
    ("<first_name>", "<!-- a --><first_name>"),
]


def _scan_modes(text: str) -> tuple[tuple, tuple, np.ndarray, np.ndarray]:
    """The pass with the canonical form written out (1) and with raw extents (2), and per element of each the first
    element of its type with the same canonical subtree."""
    compiled = fast.compiled(codes.default_profile())
    data = text.encode("utf-8", "surrogatepass")
    written = fast._scan.scan(compiled.capsule, data, 1)
    raw = fast._scan.scan(compiled.capsule, data, 2)
    firsts = []
    for result in (written, raw):
        if not result[0]:
            return written, raw, np.zeros(0), np.zeros(0)
        cols = fast.Columns.of(result, data)
        firsts.append(fast.first_same(cols.canon, cols.e_type.astype(np.int64), cols.e_cstart, cols.e_cend))
    return written, raw, firsts[0], firsts[1]


@FUZZ
@given(st.sampled_from(ACCOUNT_SEEDS), st.lists(st.tuples(st.sampled_from(REWRITES), st.integers(0, 40)), max_size=3))
def test_raw_extents_find_the_same_repeats_as_the_canonical_form(seed: str, rewrites: list) -> None:
    """The same repeats (the walk's memo) whether subtrees are compared as written out canonically or, for a plainly
    written report, as its own bytes; a report that is not plain is written out."""
    text = seed
    for (old, new), k in rewrites:  # rewrite the k-th occurrence (of those there are)
        at = [m.start() for m in re.finditer(re.escape(old), text)]
        if at:
            i = at[k % len(at)]
            text = text[:i] + new + text[i + len(old) :]
    written, raw, first_written, first_raw = _scan_modes(text)
    assert written[0] == raw[0]
    if not written[0]:
        assert written == raw  # the same give-up, reason and line
        return
    assert written[:14] == raw[:14]  # every column but the extents in the canonical form
    assert written[17] is False
    plain = text == seed or all(old == new for (old, new), _ in rewrites)
    event("raw" if raw[17] else "written out")
    if plain:
        assert raw[17] is True and raw[16] == b""
    assert first_raw.tolist() == first_written.tolist()


def test_raw_extents_tell_apart_subtrees_that_differ() -> None:
    """In a plain report two subjects that differ in one character are two; written alike they are one."""
    seed = max(ACCOUNT_SEEDS, key=lambda text: text.count(">Ola<"))
    assert seed.count(">Ola<") >= 2
    i = seed.index(">Ola<")
    changed = seed[:i] + ">Olb<" + seed[i + 5 :]
    for text in (seed, changed):
        _, raw, first_written, first_raw = _scan_modes(text)
        assert raw[17] is True
        assert first_raw.tolist() == first_written.tolist()
    assert _scan_modes(seed)[3].tolist() != _scan_modes(changed)[3].tolist()


def test_the_floor_benchmark_counts_what_a_report_repeats() -> None:
    """``benchmarks/goaml_floor.repetition`` (the share of the compiled pass's output inside a subtree equal to an
    earlier one) on a report whose second transaction has the first one's sides: elements report, 2 x (transaction,
    t_from, t_account, t_to, t_account); the second pair of sides (4 elements, 6 + 5 values) repeats."""
    from benchmarks.goaml_floor import repetition

    profile = codes.default_profile()
    once = report(transaction("TX-1"))
    assert repetition([(Path("once.xml"), once.encode())], profile) == (0.0, 0.0, [])
    twice = report(transaction("TX-1"), transaction("TX-2", amount="5.00"))
    share_e, share_v, by_type = repetition([(Path("twice.xml"), twice.encode())], profile)
    assert (share_e, share_v) == (4 / 11, 11 / 36)
    assert by_type == [("t_from", 2 / 11), ("t_to", 2 / 11)]
    # as ingest reads it: the repeated accounts are stubs (their 7 values gone); the repeated sides keep their funds
    # code and country (4 values of 29), and a side with its stub is 2 repeated elements still
    assert repetition([(Path("twice.xml"), twice.encode())], profile, collapse=True)[:2] == (4 / 11, 4 / 29)
    other = report(transaction("TX-1"), transaction("TX-2", sides=FROM_ACCOUNT + TO_ACCOUNT.replace("222", "333")))
    assert repetition([(Path("other.xml"), other.encode())], profile)[2] == [("t_from", 2 / 11)]


# -- repeated sides' subjects left as stubs --------------------------------------------------------------------------


def _collapsed_by_hand(cols: fast.Columns, compiled: fast.Compiled) -> dict[str, list[Any]]:
    """What the collapsing pass must give, derived from the full columns: every subtree of a ``fast.COLLAPSED`` field
    equal (type and canonical bytes) to an earlier one of those is a stub, its descendants and values taken out and
    every index renumbered; the stubs' first occurrences listed."""
    gids = [compiled.gid[p] for p in fast.COLLAPSED if p in compiled.gid]
    candidates = np.flatnonzero(fast.among(cols.e_field, gids, len(compiled.name)))
    extents = cols.e_cstart[candidates], cols.e_cend[candidates]
    first = candidates[fast.first_same(cols.canon, cols.e_type[candidates], *extents)]
    stub, of = candidates[first != candidates], first[first != candidates]
    keep_e, keep_v = np.ones(len(cols.e_type), dtype=bool), np.ones(len(cols.v_field), dtype=bool)
    for s in stub.tolist():
        keep_e[s + 1 : cols.e_end[s]] = False
        keep_v[cols.e_vstart[s] : cols.e_vend[s]] = False
    before_e = np.concatenate([[0], np.cumsum(keep_e)])  # kept elements before an index: its new index
    before_v = np.concatenate([[0], np.cumsum(keep_v)])
    texts = _texts(cols)
    parent = cols.e_parent[keep_e]
    return {
        "e_type": cols.e_type[keep_e].tolist(),
        "e_parent": np.where(parent >= 0, before_e[np.maximum(parent, 0)], -1).tolist(),
        "e_field": cols.e_field[keep_e].tolist(),
        "e_line": cols.e_line[keep_e].tolist(),
        "e_end": before_e[cols.e_end[keep_e]].tolist(),
        "e_vstart": before_v[cols.e_vstart[keep_e]].tolist(),
        "e_vend": before_v[cols.e_vend[keep_e]].tolist(),
        "e_cstart": cols.e_cstart[keep_e].tolist(),
        "e_cend": cols.e_cend[keep_e].tolist(),
        "v_field": cols.v_field[keep_v].tolist(),
        "v_owner": before_e[cols.v_owner[keep_v]].tolist(),
        "v_line": cols.v_line[keep_v].tolist(),
        "text": [t for t, k in zip(texts, keep_v.tolist(), strict=True) if k],
        "r_stub": before_e[stub].tolist(),
        "r_first": before_e[of].tolist(),
    }


def _texts(cols: fast.Columns) -> list[bytes]:
    """Each value's text."""
    offsets = np.frombuffer(cols.v_offsets, dtype="<i8")
    return [cols.text[a:b] for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)]


def _collapsed_as_scanned(cols: fast.Columns) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {
        name: getattr(cols, name).tolist()
        for name in ("e_type", "e_parent", "e_field", "e_line", "e_end", "e_vstart", "e_vend", "e_cstart", "e_cend")
    }
    out |= {name: getattr(cols, name).tolist() for name in ("v_field", "v_owner", "v_line", "r_stub", "r_first")}
    out["text"] = _texts(cols)
    return out


def assert_collapses_as_by_hand(data: bytes) -> int:
    """The collapsing pass (raw extents and written out) against :func:`_collapsed_by_hand`; the stubs' count."""
    compiled = fast.compiled(codes.default_profile())
    stubs = 0
    for raw in (True, False):
        full = fast.scan(data, compiled, extents=True, raw=raw)
        collapsed = fast.scan(data, compiled, extents=True, raw=raw, collapse=True)
        assert (full is None) == (collapsed is None)
        if full is None or collapsed is None:
            continue
        assert not len(full.r_stub)  # (only when asked)
        assert collapsed.canon == full.canon and collapsed.v5 == full.v5
        assert _collapsed_as_scanned(collapsed) == _collapsed_by_hand(full, compiled)
        stubs = len(collapsed.r_stub)
    return stubs


def test_the_pass_leaves_repeated_sides_subjects_as_stubs(synth_goaml: list[Path]) -> None:
    """A report whose second transaction repeats the first one's accounts: each is a stub (the element, its line
    and its extents; no descendant, no value) naming its first occurrence; the synthetic reports likewise."""
    twice = report(transaction("TX-1"), transaction("TX-2", amount="5.00")).encode()
    compiled = fast.compiled(codes.default_profile())
    cols = fast.scan(twice, compiled, extents=True, collapse=True)
    assert cols is not None
    names = [compiled.type_names[t] for t in cols.e_type.tolist()]
    # report, (transaction, t_from, t_account + its 4 values, t_to, t_account + 5), then the second's stubs
    assert names[:6] == ["report", "transaction", "t_from", "t_account", "t_to", "t_account"]
    assert names[6:] == ["transaction", "t_from", "t_account", "t_to", "t_account"]
    assert cols.r_stub.tolist() == [8, 10] and cols.r_first.tolist() == [3, 5]
    assert (cols.e_end[[8, 10]] == [9, 11]).all() and (cols.e_vstart[[8, 10]] == cols.e_vend[[8, 10]]).all()
    assert not np.isin(cols.v_owner, [8, 10]).any()
    assert assert_collapses_as_by_hand(twice) == 2
    assert sum(assert_collapses_as_by_hand(p.read_bytes()) for p in synth_goaml[::3]) > 200


@FUZZ
@given(st.sampled_from(ACCOUNT_SEEDS), st.lists(st.tuples(st.sampled_from(REWRITES), st.integers(0, 40)), max_size=3))
def test_collapsed_columns_are_the_full_ones_without_the_repeats(seed: str, rewrites: list) -> None:
    text = seed
    for (old, new), k in rewrites:
        at = [m.start() for m in re.finditer(re.escape(old), text)]
        if at:
            i = at[k % len(at)]
            text = text[:i] + new + text[i + len(old) :]
    event(f"stubs: {min(assert_collapses_as_by_hand(text.encode('utf-8', 'surrogatepass')), 3)}")


def test_ingest_reads_the_same_rows_with_repeats_collapsed_or_not(
    synth_goaml: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The column reader reads a stub as its first occurrence: the same buffers as with every repeat in full (and,
    by the tests above, as the walk's), whole and in chunks."""
    picked = [*synth_goaml[::25], *sorted((SAMPLE / "goaml").glob("*.xml"))]
    profile = codes.default_profile()
    reads = {}
    for collapse in (True, False):
        monkeypatch.setattr(colread, "COLLAPSE", collapse)
        reads[collapse] = [
            colread.read_batch([(p.read_bytes(), GoamlReader(p, profile, sha256="0" * 64)) for p in picked], now=NOW)
        ]
        reads[collapse].append([read_in_chunks(p, p.stat().st_size // 3)[0] for p in picked[:4]])
    for a, b in zip(reads[True][0], reads[False][0], strict=True):
        assert (a is None) == (b is None)
        if a is not None and b is not None:
            assert a.alias == b.alias and a.report == b.report and a.parties == b.parties
            for table in a.frames:
                assert_frame_equal(a.frames[table], b.frames[table])
    for a, b in zip(reads[True][1], reads[False][1], strict=True):
        assert_same_buffer(a, buffered(b))


def _subtree_hash(data: bytes, seed: int) -> int:
    """``subtree_hash`` of _scan.c, in Python (to aim subtrees at one slot of the pass's table)."""
    mask = (1 << 64) - 1
    h = (((seed + 1) * 0x9E3779B97F4A7C15) & mask) ^ len(data)
    whole = len(data) // 8 * 8
    for i in range(0, whole, 8):
        h = ((h ^ int.from_bytes(data[i : i + 8], "little")) * 0xFF51AFD7ED558CCD) & mask
        h ^= h >> 32
    rest = len(data) - whole
    h = ((h ^ int.from_bytes(data[whole:], "little") ^ (rest << 56)) * 0xC4CEB9FE1A85EC53) & mask
    return h ^ (h >> 29)


def test_subjects_colliding_in_the_pass_table_past_its_probe_limit_stay_whole(write) -> None:
    """Twenty distinct accounts crafted onto one slot of the pass's table (plain report: the raw bytes are hashed),
    each repeated once: the first 16 fill the slot's probe chain and their repeats are stubs; the other four are not
    entered, so their repeats stay whole (crafted collisions cost 16 probes, never a wrong stub); the rows are the
    walk's either way."""
    compiled = fast.compiled(codes.default_profile())
    seed = compiled.type_index["t_account"]

    def slot_of(subtree: str) -> int:  # its home slot while the table has 1,024 (fewer than 512 entries)
        h = _subtree_hash(subtree.encode(), seed)
        return (h ^ (h >> 31)) & 1023

    start = FROM_ACCOUNT.index("<from_account>")
    end = FROM_ACCOUNT.index("</from_account>") + len("</from_account>")
    to_start = TO_ACCOUNT.index("<to_account>")
    to_slot = slot_of(TO_ACCOUNT[to_start : TO_ACCOUNT.index("</to_account>") + len("</to_account>")])
    target = (to_slot + 512) % 1024  # (away from the other side's entry)
    numbers: list[str] = []
    k = 0
    while len(numbers) < 20:
        side = FROM_ACCOUNT.replace("<account>111</account>", f"<account>A{k}</account>")
        if slot_of(side[start : end + len(f"A{k}") - 3]) == target:
            numbers.append(f"A{k}")
        k += 1
    sides = [FROM_ACCOUNT.replace("<account>111</account>", f"<account>{n}</account>") + TO_ACCOUNT for n in numbers]
    text = report(*(transaction(f"TX-{i}", sides=sides[i % 20]) for i in range(40)))
    data = text.encode()
    cols = fast.scan(data, compiled, extents=True, collapse=True)
    assert cols is not None and cols.canon is data  # (raw: the plain report's own bytes)
    accounts = [compiled.gid[("t_from", "from_account")]]
    full = fast.scan(data, compiled, extents=True)
    assert full is not None
    from_accounts = np.flatnonzero(np.isin(full.e_field, accounts))
    assert len(from_accounts) == 40
    stubbed_from = np.isin(cols.e_field[cols.r_stub], accounts)
    assert int(stubbed_from.sum()) == 16  # the repeats of the 16 entered ones; 39 to-side repeats besides
    assert int((~stubbed_from).sum()) == 39
    assert assert_same_read(write("collide.xml", text), chunks=())
