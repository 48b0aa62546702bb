"""Property tests: no input crashes a reader, counts always reconcile, the store round-trips the model."""

from __future__ import annotations

import datetime as dt
import tempfile
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import NOW, SAMPLE
from finintel.errors import FinintelError
from finintel.formats.goaml.reader import GoamlReader
from finintel.ingest import ingest
from finintel.model import Transaction
from finintel.store import Store, frame_from_rows

SEEDS = [p.read_bytes() for p in sorted((SAMPLE / "goaml").glob("*.xml"))] + [
    (SAMPLE / "invalid" / "INVALID_demo_str_with_errors.xml").read_bytes()
]
# 150 examples in the normal suite; benchmarks/fuzz.py runs the "long" profile (settings() reads the active profile)
FUZZ = settings(
    max_examples=settings().max_examples if settings().max_examples > 1000 else 150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@st.composite
def mutated_xml(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "duplicate", "tag"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "truncate":
            del data[pos:]
        elif op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=20))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 200))]
        elif op == "duplicate":
            end = pos + draw(st.integers(1, 400))
            data[end:end] = data[pos:end]
        else:
            data[pos:pos] = draw(
                st.sampled_from(
                    [
                        b"<transaction>",
                        b"</report>",
                        b"<amount_local>x",
                        b"&amp;",
                        b"&bogus;",
                        b"<![CDATA[x]]>",
                        b"\xff\xfe",
                        b"<?pi?>",
                    ]
                )
            )
    return bytes(data)


@FUZZ
@given(mutated_xml())
def test_mutated_goaml_never_crashes_the_reader(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.xml"
        path.write_bytes(data)
        try:
            reader = GoamlReader(path, now=NOW)
            for _ in reader:
                pass
            result = ingest([path], now=NOW)
        except FinintelError:
            return
        assert result.counts.reconciles(), result.counts.to_dict()
        for p in reader.problems:
            assert p.file == str(path) and p.code and p.message


csv_cell = st.one_of(
    st.just(""), st.text(max_size=12), st.sampled_from(["2026-01-01", "2026-01-01T10:00:00", "1.5", "-1", "EUR", "a1"])
)


@FUZZ
@given(
    header=st.lists(
        st.sampled_from(
            [
                "transaction_id",
                "timestamp",
                "amount",
                "currency",
                "from_account_id",
                "to_account_id",
                "from_party_id",
                "transmode_code",
                "bogus",
            ]
        ),
        min_size=1,
        max_size=8,
        unique=True,
    ),
    rows=st.lists(st.lists(csv_cell, min_size=8, max_size=8), max_size=15),
)
def test_random_csv_never_crashes_and_reconciles(header: list[str], rows: list[list[str]]) -> None:
    import csv

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "ds"
        folder.mkdir()
        with (folder / "transactions.csv").open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            for row in rows:
                w.writerow(row[: len(header)])
        try:
            result = ingest([folder], now=NOW)
        except FinintelError:
            return
        assert result.counts.reconciles(), result.counts.to_dict()
        assert result.counts.read["transactions"] == len(rows)


money = st.decimals(
    min_value=Decimal("0.000000000000000001"),
    max_value=Decimal("10") ** 18,
    places=18,
    allow_nan=False,
    allow_infinity=False,
)
ident = st.text(alphabet="ABCDEFGHJK0123456789-:", min_size=1, max_size=16)
stamp = st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.builds(
            Transaction,
            transaction_id=ident,
            transaction_number=ident,
            timestamp=stamp,
            amount=money,
            currency=st.sampled_from(["EUR", "USD", "BTC"]),
            amount_local=st.none() | money,
            from_account_id=st.none() | ident,
            to_party_id=st.none() | ident,
            description=st.none() | st.text(max_size=30),
            late_deposit=st.none() | st.booleans(),
        ),
        max_size=8,
        unique_by=lambda t: t.transaction_id,
    )
)
def test_model_store_round_trip(txs: list[Transaction]) -> None:
    rows = [dict(t.__dict__) for t in txs]
    store = Store(tables={"transactions": frame_from_rows("transactions", rows)})
    with tempfile.TemporaryDirectory() as tmp:
        store.save(Path(tmp) / "s")
        loaded = Store.load(Path(tmp) / "s", tables=("transactions",))
    back = [
        Transaction.model_validate({k: v for k, v in r.items() if k in Transaction.model_fields})
        for r in loaded.transactions.to_dicts()
    ]
    assert back == txs
