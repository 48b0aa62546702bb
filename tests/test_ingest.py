"""Ingest: entity resolution across reports, reconciled counts, rejects, duplicates, the store and the graph."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import polars as pl
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import NOW, SAMPLE, report, transaction
from finintel.errors import StoreError
from finintel.graph import build_graph, write_graph
from finintel.ingest import _merge_entities, ingest
from finintel.resolve import _strength, account_key, organization_keys, person_keys, resolve_parties
from finintel.scan import scan
from finintel.store import MENTION_CODES, TX_CODES, Store, null_columns


@pytest.fixture(scope="module")
def sample():
    return ingest([SAMPLE / "goaml"], now=NOW)


def party(store: Store, name: str) -> dict:
    rows = store.parties.filter(pl.col("name") == name).to_dicts()
    assert len(rows) == 1, rows
    return rows[0]


def test_same_customer_in_three_reports_is_one_person(sample) -> None:
    elena = party(sample.store, "Elena Marković")  # also spelt "Markovic" and passport "117 204 318"
    assert elena["report_count"] == 3 and elena["match_basis"] == "strong"
    mentions = sample.store.tables["party_mentions"].filter(pl.col("party_id") == elena["party_id"])
    assert sorted(set(mentions["report_id"])) == [
        "1042:RHB-STR-2026-0142",
        "3307:NB-2026-STR-0077",
        "7781:TDX-2026-0019",
    ]
    assert set(mentions["file"]) == {
        str(SAMPLE / "goaml" / f)
        for f in ("rhb_de_str_2026_0142.xml", "nbk_lt_str_2026_0077.xml", "tdx_ee_str_2026_0019.xml")
    }


def test_company_variants_resolve_by_registration_number(sample) -> None:
    kestrel = sample.store.parties.filter(pl.col("registration_number") == "HE398877")
    assert kestrel.height == 1 and kestrel["report_count"][0] == 2


def test_account_written_three_ways_is_one_account(sample) -> None:
    acct = sample.store.accounts.filter(pl.col("iban") == "DE44500105175407324931")
    assert acct.height == 1 and acct["report_count"][0] == 3
    tx_ids = sample.store.transactions.filter(
        (pl.col("from_account_id") == acct["account_id"][0]) | (pl.col("to_account_id") == acct["account_id"][0])
    )["transaction_id"].to_list()
    assert "7781:TDX-D-1001" in tx_ids and "1042:T-2026-88102" in tx_ids


def test_different_people_stay_apart() -> None:
    base = {"kind": "person", "report_id": "r1", "jurisdiction": "DE"}
    mentions = [
        {**base, "mention_id": "a", "name": "Ann Lee", "passport_number": "P1", "passport_country": "GB"},
        {
            **base,
            "mention_id": "b",
            "name": "Ann Lee",
            "passport_number": "P2",
            "passport_country": "GB",
            "report_id": "r2",
        },
        {**base, "mention_id": "c", "name": "Ann Lee", "birth_date": "1990-01-01", "report_id": "r3"},
        {**base, "mention_id": "d", "name": "Ann  LEE", "birth_date": "1990-01-01", "report_id": "r4"},
    ]
    res = resolve_parties(mentions)
    assert res.entity_of["a"] != res.entity_of["b"]  # same name, different passports, different reports
    assert res.entity_of["c"] == res.entity_of["d"]  # weak key: name + birth date
    assert res.basis[res.entity_of["c"]] == "weak"


def test_every_key_says_its_strength() -> None:
    """Resolution reads a key's strength from its prefix (no dict of millions of keys): it must agree with the
    strength the key functions declare."""
    person = {
        "kind": "person",
        "report_id": "r1",
        "jurisdiction": "DE",
        "name": "Ann Lee",
        "birth_date": "1990-01-01",
        "passport_number": "P1",
        "passport_country": "GB",
        "id_number": "X1",
        "id_type": "A",
        "ssn": "123",
        "tax_number": "T9",
    }
    org = {"kind": "organization", "report_id": "r1", "name": "Acme Ltd", "registration_number": "R1"}
    org |= {"incorporation_country": "CY", "tax_number": "T1"}
    declared = person_keys(person) + organization_keys(org)
    assert len({k.split(":")[0] for k, _ in declared}) == 9  # every kind of party key is exercised
    for key, strength in declared:
        assert _strength(key) == strength, key


def test_keys_are_normalised() -> None:
    assert (
        person_keys({"passport_number": "117 204-318", "passport_country": "HR", "name": "x"})[0][0]
        == "passport:HR:117204318"
    )
    assert (
        organization_keys({"registration_number": "he 398877", "incorporation_country": "CY", "name": "x"})[0][0]
        == "reg:CY:HE398877"
    )
    assert account_key({"iban": "de44 5001 0517 5407 3249 31"}) == "iban:DE44500105175407324931"
    assert account_key({"kind": "wallet", "chain": "ETH", "address": "0xABC"}) == "wallet:ETH:0xabc"


def test_ids_are_stable_across_runs(sample) -> None:
    again = ingest([SAMPLE / "goaml"], now=NOW)
    for table in ("parties", "accounts", "transactions", "relations"):
        assert again.store.tables[table].equals(sample.store.tables[table]), table


def test_counts_reconcile_with_rejects(write, tmp_path: Path) -> None:
    write("a.xml", report(transaction("1"), transaction("2", amount="-1"), transaction("3", date="bad"), reference="A"))
    write("b.xml", report(transaction("1"), transaction("4"), reference="B"))  # "1" again: duplicate number
    result = ingest([tmp_path], now=NOW)
    c = result.counts
    assert c.read["transactions"] == 5 and c.stored["transactions"] == 2 and c.rejected["transactions"] == 3
    assert c.reconciles()
    rejects = result.store.tables["rejects"]
    assert rejects.height == 3
    assert sorted(rejects["ref"].to_list()) == ["1", "2", "3"]
    dup = rejects.filter(pl.col("ref") == "1").to_dicts()[0]
    assert dup["codes"] == ["FI-V002"] and "a.xml" in dup["reasons"]


def test_duplicate_transactions_name_where_they_were_first_read(write, tmp_path: Path, cli) -> None:
    """Inside one report, across files and against the base store of --append: each repeat is rejected (FI-V002)
    with the file and line of the copy kept."""
    a = write("in/a.xml", report(transaction("1"), transaction("2"), transaction("1"), reference="A"))
    b = write("in/b.xml", report(transaction("2"), transaction("3"), reference="B"))
    result = ingest([a, b], now=NOW)
    rejects = result.store.tables["rejects"].sort("file", "line")
    assert rejects.select("file", "ref").rows() == [(str(a), "1"), (str(b), "2")]
    kept = dict(result.store.transactions.select("transaction_id", "source_line").rows())
    in_report, across = rejects["reasons"].to_list()
    assert in_report.startswith("transaction number '1' already used at line ")  # found by the reader
    assert across == f"transaction number '2' already used at {a}:{kept['100:2']}"
    assert result.counts.stored["transactions"] == 3 and result.counts.reconciles()

    store = tmp_path / "st"
    cli("ingest", a, "--out", store, code=1)
    c = write("in/c.xml", report(transaction("1"), transaction("4"), reference="C"))
    out = json.loads(cli("ingest", c, "--out", store, "--append", "-f", "json", code=1).stdout)
    assert out["counts"]["transactions"] == {"read": 2, "stored": 1, "rejected": 1}
    [reason] = Store.load(store).tables["rejects"].filter(pl.col("file") == str(c))["reasons"].to_list()
    assert f"{a}:" in reason and "(store)" in reason


def test_truncated_file_is_rejected_whole(write, tmp_path: Path) -> None:
    text = report(transaction("1"), transaction("2"), transaction("3"))
    write("broken.xml", text[: text.index("<transactionnumber>3")])
    write("ok.xml", report(transaction("9"), reference="OK"))
    result = ingest([tmp_path], now=NOW)
    assert result.store.transactions["transaction_number"].to_list() == ["9"]
    assert result.counts.rejected["transactions"] == 2 and result.counts.reconciles()
    [row] = result.store.tables["rejects"].filter(pl.col("kind") == "transactions").to_dicts()
    assert "file rejected whole" in row["reasons"] and row["codes"] == ["FI-R002"]
    assert [f.status for f in result.files] == ["rejected", "ingested"]


def test_same_file_twice_is_idempotent(write, tmp_path: Path) -> None:
    a = write("a.xml", report(transaction("1"), reference="A"))
    b = write("copy/a.xml", a.read_text())
    result = ingest([a, b], now=NOW)
    assert result.store.transactions.height == 1
    assert result.files[1].status.startswith("duplicate-file")
    assert result.counts.reconciles()


def test_same_report_refiled_is_stored_once(write, tmp_path: Path) -> None:
    write("a.xml", report(transaction("1"), reference="A"))
    write("b.xml", report(transaction("1"), transaction("2"), reference="A"))  # same report id, other content
    result = ingest([tmp_path], now=NOW)
    assert result.store.reports.height == 1
    assert result.counts.rejected["reports"] == 1 and result.counts.reconciles()
    assert "FI-V012" in {p.code for p in result.problems}


def test_store_roundtrip_and_atomic_replace(sample, tmp_path: Path) -> None:
    target = tmp_path / "store"
    sample.store.save(target)
    loaded = Store.load(target)
    for name, frame in sample.store.tables.items():
        assert loaded.tables[name].equals(frame), name
    assert (target / "rejects.csv").exists()
    # all-null columns are not decoded (row-group statistics) and come back as constant columns: same table
    empty = null_columns(pq.read_metadata(target / "transactions.parquet"))
    assert {"comments", "late_deposit"} <= empty and "amount" not in empty
    assert all(loaded.transactions[c].null_count() == loaded.transactions.height for c in empty)
    sample.store.save(target)  # replace in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]  # no temp folders left behind


def test_a_store_loaded_with_some_columns_reads_the_rest_when_asked(sample, tmp_path: Path) -> None:
    """Store.load(columns=...) reads only those columns of a table (an all-null one among them is a null column);
    asking for them reads nothing more, asking for the whole table reads the rest, and the table is then the one a
    full load gives. Saving such a store writes whole tables."""
    target = tmp_path / "store"
    sample.store.save(target)
    full = Store.load(target)
    wanted = ["transaction_id", "timestamp", "comments", "amount"]  # (comments: no value in the sample)
    some = Store.load(target, columns={"transactions": wanted})
    assert some.tables["transactions"].columns == ["transaction_id", "timestamp", "amount", "comments"]  # schema order
    assert some.height("transactions") == full.transactions.height
    assert some.columns("transactions", ["amount", "comments"]).equals(full.transactions.select("amount", "comments"))
    assert "transactions" in some.deferred  # nothing more was read
    assert some.parties.equals(full.parties)  # the other tables are whole
    assert some.columns("transactions", ["description", "transaction_id"]).equals(
        full.transactions.select("description", "transaction_id")
    )
    assert some.deferred == {} and some.transactions.equals(full.transactions)
    empty = Store.load(target, columns={"transactions": ["comments"]})  # a column without a value, and no other
    assert empty.height("transactions") == full.transactions.height
    assert empty.columns("transactions", ["comments"]).equals(full.transactions.select("comments"))
    again = Store.load(target, columns={"transactions": ["transaction_id"]})
    assert again.transactions.equals(full.transactions)
    resaved = Store.load(target, columns={"transactions": ["transaction_id"]})
    resaved.save(tmp_path / "copy")
    assert pl.read_parquet(tmp_path / "copy" / "transactions.parquet").equals(
        pl.read_parquet(target / "transactions.parquet")
    )
    with pytest.raises(ValueError, match="no such column of transactions: nope"):
        Store.load(target, columns={"transactions": ["nope"]})
    gone = Store.load(target, columns={"transactions": ["transaction_id"]})
    (target / "transactions.parquet").write_bytes(b"not parquet")
    with pytest.raises(StoreError, match="table transactions unreadable"):
        gone.table("transactions")


def test_a_scan_of_a_store_writes_whole_transactions_into_bundles(sample, cli, tmp_path: Path) -> None:
    """scan loads a store's transaction columns the detectors read; a bundle still gets every column."""
    sample.store.save(tmp_path / "store")
    assert "transactions" in scan([tmp_path / "store"]).store.deferred  # findings alone read no more
    cli("scan", tmp_path / "store", "--bundles", tmp_path / "b", "-f", "json", "-o", tmp_path / "f.json", code=None)
    bundles = sorted((tmp_path / "b").glob("*/transactions.parquet"))
    assert bundles
    stored = pl.read_parquet(tmp_path / "store" / "transactions.parquet")
    for path in bundles:
        got = pl.read_parquet(path)
        assert got.columns == stored.columns
        assert got.equals(stored.filter(pl.col("transaction_id").is_in(got["transaction_id"].implode())))


def test_store_written_with_text_codes_loads_as_categoricals(sample, tmp_path: Path) -> None:
    """Stores written before codes and file names became categoricals hold them as strings: loaded, they have the
    current schema and the same values (transactions, and the mentions' code columns)."""
    target = tmp_path / "store"
    sample.store.save(target)
    tx = pl.read_parquet(target / "transactions.parquet")
    cats = [c for c, t in tx.schema.items() if isinstance(t, pl.Categorical)]
    assert set(TX_CODES) | {"source_file"} <= set(cats)
    tx.with_columns(pl.col(cats).cast(pl.String)).write_parquet(target / "transactions.parquet")
    for table in ("party_mentions", "account_mentions"):  # (their code columns and paths, since the same change)
        mentions = pl.read_parquet(target / f"{table}.parquet")
        cats = [c for c, t in mentions.schema.items() if isinstance(t, pl.Categorical)]
        assert {"report_id", "role", "kind", "country"} <= set(cats) - {"file", "path"} <= MENTION_CODES
        assert {"file", "path"} <= set(cats)
        mentions.with_columns(pl.col(cats).cast(pl.String)).write_parquet(target / f"{table}.parquet")
    loaded = Store.load(target)
    for table in ("transactions", "party_mentions", "account_mentions"):
        assert loaded.tables[table].schema == sample.store.tables[table].schema
        assert loaded.tables[table].equals(sample.store.tables[table])


def test_store_refuses_to_overwrite_other_folders(sample, tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "important.txt").write_text("keep me")
    with pytest.raises(StoreError):
        sample.store.save(tmp_path / "docs")
    assert (tmp_path / "docs" / "important.txt").read_text() == "keep me"


def test_load_rejects_non_store(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        Store.load(tmp_path)


def test_graph_is_typed_and_exports(sample, tmp_path: Path) -> None:
    g = build_graph(sample.store)
    kinds = {d["kind"] for _, d in g.nodes(data=True)}
    assert kinds == {"person", "organization", "account", "wallet"}
    edge_kinds = {d["kind"] for _, _, d in g.edges(data=True)}
    assert {"transaction", "holds", "nominee", "owns", "signatory"} <= edge_kinds
    tx_edges = [d for _, _, d in g.edges(data=True) if d["kind"] == "transaction"]
    assert len(tx_edges) == sample.store.transactions.height
    write_graph(g, tmp_path / "g.graphml")
    write_graph(g, tmp_path / "g.gexf")
    back = nx.read_graphml(tmp_path / "g.graphml")
    assert back.number_of_nodes() == g.number_of_nodes() and back.number_of_edges() == g.number_of_edges()
    nx.read_gexf(tmp_path / "g.gexf")


def test_subgraph_of_some_transactions(sample) -> None:
    g = build_graph(sample.store, ["1042:T-2026-88102"])
    tx = [d for _, _, d in g.edges(data=True) if d["kind"] == "transaction"]
    assert len(tx) == 1
    names = {d.get("name") for _, d in g.nodes(data=True)}
    assert "Elena Marković" in names and "Kestrel Maritime Holdings Ltd" in names


def test_append_resolves_across_runs_and_is_idempotent(tmp_path: Path, cli) -> None:
    store = tmp_path / "st"
    goaml = SAMPLE / "goaml"
    cli("ingest", goaml / "rhb_de_str_2026_0142.xml", "--out", store)
    first = Store.load(store)
    cli("ingest", goaml / "nbk_lt_str_2026_0077.xml", "--out", store, "--append")
    both = Store.load(store)
    assert both.transactions.height == first.transactions.height + 3
    elena = both.parties.filter(pl.col("name") == "Elena Marković")
    assert elena.height == 1 and elena["report_count"][0] == 2  # resolved across the two runs
    assert not both.transactions["transaction_id"].is_duplicated().any()
    assert both.transactions.filter(pl.col("mirror_of").is_not_null()).height == 1  # linked across runs too
    again = cli("ingest", goaml / "rhb_de_str_2026_0142.xml", "--out", store, "--append", "-f", "json")
    data = json.loads(again.stdout)
    assert [f["status"] for f in data["files"]][-1].startswith("duplicate-file")
    after = Store.load(store)
    assert after.transactions.sort("transaction_id").equals(both.transactions.sort("transaction_id"))


def test_later_version_of_a_report_supersedes_it(tmp_path: Path, cli) -> None:
    store = tmp_path / "st"
    original = SAMPLE / "goaml" / "rhb_de_str_2026_0142.xml"
    cli("ingest", original, "--out", store)
    text = original.read_text(encoding="utf-8")
    updated = text.replace(
        "<submission_date>2026-10-15T09:30:00</submission_date>",
        "<submission_date>2026-10-18T09:30:00</submission_date>",
    ).replace("<amount_local>47900.00</amount_local>", "<amount_local>47950.00</amount_local>")
    path = tmp_path / "rhb_de_str_2026_0142_v2.xml"
    path.write_text(updated, encoding="utf-8")
    cli("ingest", path, "--out", store, "--append")
    st = Store.load(store)
    tx = st.transactions.filter(pl.col("transaction_id") == "1042:T-2026-88102")
    assert tx.height == 1 and float(tx["amount_local"][0]) == 47950.0
    assert st.reports.height == 1 and st.reports["source_file"][0] == str(path)
    [record] = st.meta["superseded"]
    assert record["report_id"] == "1042:RHB-STR-2026-0142" and record["transactions_replaced"] == 6
    assert record["old_file"] == str(original)
    # the same content with the old submission date is not a newer version: refused as a duplicate report
    older = tmp_path / "older.xml"
    older.write_text(text.replace("47900.00", "1.00"), encoding="utf-8")
    result = cli("ingest", older, "--out", store, "--append", "-f", "json", code=1)
    assert json.loads(result.stdout)["counts"]["reports"]["rejected"] == 1


def test_transfer_reported_by_both_banks_is_linked(sample) -> None:
    tx = sample.store.transactions
    mirrored = tx.filter(pl.col("mirror_of").is_not_null()).select("transaction_id", "mirror_of").rows()
    assert mirrored == [("3307:NB-TX-551044", "1042:T-2026-88101")]  # LT bank's copy of the DE bank's record


def test_mirror_needs_different_reporters_and_close_times(write, tmp_path: Path) -> None:
    write("a.xml", report(transaction("1"), transaction("2", date="2026-09-20T10:00:00"), rentity="100", reference="A"))
    write("b.xml", report(transaction("9"), rentity="200", reference="B"))  # same accounts/amount/time as "1"
    write("c.xml", report(transaction("5", date="2026-09-01T11:00:00"), rentity="100", reference="C"))
    tx = ingest([tmp_path], now=NOW).store.transactions
    links = dict(tx.select("transaction_id", "mirror_of").rows())
    assert links == {"100:1": None, "200:9": "100:1", "100:2": None, "100:5": None}


def test_goaml_and_tabular_twins_merge_without_duplicates() -> None:
    """sample_data/synth holds the same transactions as goAML and as a dataset: ingesting both keeps one copy."""
    result = ingest([SAMPLE / "synth" / "goaml", SAMPLE / "synth" / "tabular"], now=NOW)
    tx = result.store.transactions
    assert not tx["transaction_id"].is_duplicated().any()
    assert result.counts.rejected["transactions"] == tx.height  # every tabular row was already read from goAML
    assert result.counts.reconciles()
    for table, key in (("parties", "party_id"), ("accounts", "account_id"), ("reports", "report_id")):
        assert not result.store.tables[table][key].is_duplicated().any(), table


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["per_a", "per_b", "org_c"]),  # entity
            st.sampled_from(["r1", "r2", "r3", "r9"]),  # report (r9: not among the ingested reports)
            st.sampled_from(["f1.xml", "f2.xml"]),
            st.integers(1, 3),  # line (mentions on one line: a file written on one line)
            st.one_of(st.none(), st.sampled_from(["Ann", "Bo"])),
            st.one_of(st.none(), st.sampled_from(["DE", "LT"])),
            st.none(),  # an attribute no mention gives
        ),
        max_size=30,
    ),
    st.booleans(),
)
def test_an_entity_takes_each_attribute_from_its_earliest_mention_that_gives_one(
    rows: list[tuple[str, str, str, int, str | None, str | None, None]], every_report_ranked: bool
) -> None:
    """Earliest report (submission order), then file, then line, then the order mentions were read in; the count of
    mentions and of distinct reports -- compared with a plain sort and scan."""
    if every_report_ranked:
        rows = [(e, r if r != "r9" else "r3", *rest) for e, r, *rest in rows]
    order = {"r2": 0, "r1": 1, "r3": 2}
    names = ["party_id", "report_id", "file", "line", "name", "nationality", "occupation"]
    mentions = pl.DataFrame(
        rows,
        schema={
            "party_id": pl.String,
            "report_id": pl.String,
            "file": pl.Categorical,
            "line": pl.Int64,
            "name": pl.String,
            "nationality": pl.String,
            "occupation": pl.String,
        },
        orient="row",
    )
    merged = _merge_entities(mentions, "party_id", "parties", {"per_a": "strong"}, order)
    expected = []
    for entity in sorted({r[0] for r in rows}):
        mine = sorted(
            (i for i, r in enumerate(rows) if r[0] == entity),
            key=lambda i: (order.get(rows[i][1], len(order)), rows[i][2], rows[i][3], i),
        )
        values = {
            c: next((rows[i][k] for i in mine if rows[i][k] is not None), None)
            for k, c in enumerate(names)
            if c in ("name", "nationality", "occupation")
        }
        expected.append(
            {
                "party_id": entity,
                **values,
                "mention_count": len(mine),
                "report_count": len({rows[i][1] for i in mine}),
                "match_basis": "strong" if entity == "per_a" else "single",
            }
        )
    if not expected:
        assert merged.height == 0
        return
    assert merged.select(*expected[0]).to_dicts() == expected
