"""Cases and case bundles: grouping, golden stability, verification, redaction, matching, atomic export, report."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from conftest import NOW, SAMPLE
from finintel.cases import bundle as bundle_mod
from finintel.cases.build import build_cases
from finintel.cases.bundle import BundleOptions, match_bundle, verify_bundle, write_bundle
from finintel.cases.redact import Redactor, load_profiles
from finintel.ingest import ingest
from finintel.scan import scan

KEY = b"0123456789abcdef-shared-between-fius"
INPUTS = [SAMPLE / "goaml", SAMPLE / "synth" / "goaml"]
LABELS = [SAMPLE / "synth" / "wallet_labels.csv"]


@pytest.fixture(scope="module")
def result():
    return scan(INPUTS, wallet_labels=LABELS)


@pytest.fixture(scope="module")
def cases(result):
    return build_cases(result.store, result.findings)


def test_cases_group_findings_that_share_subjects(result, cases) -> None:
    assert sum(len(c.findings) for c in cases) == len(result.findings)
    ids = [c.case_id for c in cases]
    assert len(set(ids)) == len(ids) and all(i.startswith("C-") for i in ids)
    for c in cases:
        assert 0 < c.risk_score <= 100 and c.risk_explanation and c.subjects and c.totals
        assert c.first_activity <= c.last_activity
    elena = next(c for c in cases if any("Elena" in f.explanation for f in c.findings))
    assert elena.typologies == ["structuring"] and "DE" in elena.jurisdictions
    assert build_cases(result.store, result.findings)[0].case_id == cases[0].case_id  # stable


def _write(result, case, folder: Path, **kw) -> Path:
    opts = BundleOptions(created_at="2026-11-25T00:00:00+00:00", **kw)
    return write_bundle(result.store, case, folder, result.rules, opts)


def _files(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


def test_bundle_is_golden_apart_from_created_at(result, cases, tmp_path: Path) -> None:
    case = cases[0]
    a = _write(result, case, tmp_path / "a", sender="DE")
    again = scan(INPUTS, wallet_labels=LABELS)
    b = write_bundle(
        again.store,
        build_cases(again.store, again.findings)[0],
        tmp_path / "b",
        again.rules,
        BundleOptions(created_at="2030-01-01T00:00:00+00:00", sender="DE"),
    )
    fa, fb = _files(a), _files(b)
    assert set(fa) == {*bundle_mod.DATA_FILES, "manifest.json"}
    for name in bundle_mod.DATA_FILES:
        assert fa[name] == fb[name], name
    ma, mb = json.loads(fa["manifest.json"]), json.loads(fb["manifest.json"])
    assert {k: v for k, v in ma.items() if k != "created_at"} == {k: v for k, v in mb.items() if k != "created_at"}
    assert ma["handling_note"].startswith("CONFIDENTIAL") and "prior consent" in ma["handling_note"]
    assert ma["rule_pack"]["sha256"] and len(ma["rule_pack"]["rules"]) == 12
    assert ma["inputs"] and all(i["sha256"] for i in ma["inputs"])


def test_case_json_matches_the_published_schema(result, cases, tmp_path: Path) -> None:
    import jsonschema

    path = _write(result, cases[0], tmp_path)
    doc = json.loads((path / "case.json").read_text())
    schema = json.loads((Path(__file__).parent.parent / "docs" / "case.schema.json").read_text())
    jsonschema.validate(doc, schema)


@pytest.mark.parametrize("tamper", ["flip", "remove", "add"])
def test_verify_catches_tampering(result, cases, tmp_path: Path, tamper: str, cli) -> None:
    path = _write(result, cases[0], tmp_path)
    assert verify_bundle(path) == []
    cli("cases", "verify", path, code=0)
    if tamper == "flip":
        target = path / "transactions.parquet"
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0x01
        target.write_bytes(bytes(data))
        expected = "transactions.parquet: changed"
    elif tamper == "remove":
        (path / "graph.gexf").unlink()
        expected = "graph.gexf: missing"
    else:
        (path / "notes.txt").write_text("added later")
        expected = "notes.txt: extra file"
    problems = verify_bundle(path)
    assert any(p.startswith(expected) for p in problems), problems
    assert expected.split(":")[0] in cli("cases", "verify", path, code=1).stdout


def _raw_identifiers(result, case) -> set[str]:
    tables = bundle_mod.case_tables(result.store, case)
    raw: set[str] = set()
    for col in (
        "name",
        "first_name",
        "last_name",
        "passport_number",
        "registration_number",
        "address",
        "ssn",
        "tax_number",
        "party_id",
    ):
        raw |= {str(v) for v in tables["parties"][col].drop_nulls() if len(str(v)) >= 5}
    raw |= {str(v) for v in tables["parties"]["birth_date"].drop_nulls()}
    for col in ("number", "iban", "address", "name", "account_id"):
        raw |= {str(v) for v in tables["accounts"][col].drop_nulls() if len(str(v)) >= 5}
    return raw


def test_redacted_bundle_holds_no_raw_identifier(result, cases, tmp_path: Path) -> None:
    redactor = Redactor(KEY, load_profiles()["partner"])
    for case in cases:
        path = _write(result, case, tmp_path / case.case_id, sender="DE", recipient="LT", redactor=redactor)
        raw = _raw_identifiers(result, case)
        assert raw
        blobs = {p.name: p.read_bytes() for p in path.iterdir()}
        for value in raw:
            needle = value.encode("utf-8")
            hits = [name for name, blob in blobs.items() if needle in blob]
            assert not hits, (value, hits)
        manifest = json.loads(blobs["manifest.json"])
        assert manifest["redaction"]["profile"] == "partner" and KEY.decode() not in blobs["manifest.json"].decode()


def test_match_tokens_find_the_same_subject_in_another_store(result, cases, tmp_path: Path, cli) -> None:
    elena_case = next(c for c in cases if any("Elena" in f.explanation for f in c.findings))
    redactor = Redactor(KEY, load_profiles()["partner"])
    path = _write(result, elena_case, tmp_path / "b", recipient="LT", redactor=redactor)
    # the partner's store: only the Lithuanian bank's and the VASP's reports (they know Elena from there)
    partner = ingest(
        [SAMPLE / "goaml" / "nbk_lt_str_2026_0077.xml", SAMPLE / "goaml" / "tdx_ee_str_2026_0019.xml"], now=NOW
    ).store
    matches = match_bundle(path, redactor, partner)
    labels = {m["local_label"] for m in matches}
    assert "Elena Markovic" in labels or "Elena Marković" in labels
    # a store without her: no match; another key: refused
    other = ingest([SAMPLE / "synth" / "goaml" / "7002_SYN-202501-001.xml"], now=NOW).store
    assert match_bundle(path, redactor, other) == []
    store_dir = tmp_path / "partner-store"
    partner.save(store_dir)
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY)
    out = cli("cases", "match", path, store_dir, "--key-file", key_file, code=1).stdout
    assert "Elena" in out
    wrong = tmp_path / "wrong"
    wrong.write_bytes(b"another-key-that-is-long-enough")
    assert "another key" in cli("cases", "match", path, store_dir, "--key-file", wrong, code=2).stderr


def test_interrupted_export_leaves_no_bundle(result, cases, tmp_path: Path, monkeypatch) -> None:
    def boom(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(bundle_mod, "_write_graphs", boom)
    with pytest.raises(KeyboardInterrupt):
        _write(result, cases[0], tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_report_svg_names_every_subject(result, cases, tmp_path: Path) -> None:
    case = cases[0]
    path = _write(result, case, tmp_path)
    page = (path / "report.html").read_text()
    assert page.count("<svg") >= 2 and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "<script" not in page
    chart = page[page.index("<h2>Link chart</h2>") : page.index("<h2>Timeline</h2>")]
    for subject in case.subjects:
        assert f"({subject['id']})" in chart, subject


def test_cli_scan_bundles_and_export(cli, tmp_path: Path) -> None:
    cli(
        "scan",
        *INPUTS,
        "--wallet-labels",
        *LABELS,
        "--bundles",
        tmp_path / "all",
        "-f",
        "json",
        "-o",
        tmp_path / "f.json",
        code=1,
    )
    written = sorted(p.name for p in (tmp_path / "all").iterdir())
    listed = json.loads(cli("cases", "list", *INPUTS, "--wallet-labels", *LABELS, "-f", "json").stdout)
    assert written == sorted(c["case_id"] for c in listed["cases"])
    one = listed["cases"][0]["case_id"]
    out = cli(
        "cases",
        "export",
        *INPUTS,
        "--wallet-labels",
        *LABELS,
        "--case",
        one,
        "--out",
        tmp_path / "x",
        "--recipient",
        "LT",
        env_key=True,
    ).stdout
    assert out.strip().endswith(one)
    shown = json.loads(cli("cases", "show", *INPUTS, "--wallet-labels", *LABELS, "--case", one).stdout)
    assert shown["case_id"] == one
    cli("cases", "export", *INPUTS, "--case", one, "--out", tmp_path / "y", "--recipient", "LT", code=2)


def test_parquet_in_bundle_reads_back(result, cases, tmp_path: Path) -> None:
    path = _write(result, cases[0], tmp_path)
    tx = pl.read_parquet(path / "transactions.parquet")
    assert set(tx["transaction_id"]) == set(cases[0].transactions)


def test_pagerank_ranks_the_hub_first() -> None:
    import networkx as nx

    from finintel.cases.build import pagerank

    star = nx.star_graph(6)
    for u, v in star.edges:
        star.edges[u, v]["weight"] = 1
    rank = pagerank(star)
    assert max(rank, key=rank.__getitem__) == 0 and abs(sum(rank.values()) - 1) < 1e-9


def test_large_case_graph_renders_without_scipy() -> None:
    import networkx as nx

    from finintel.cases.html import link_chart

    g = nx.MultiDiGraph()
    for i in range(450):
        g.add_node(f"n{i}", kind="account", label=f"n{i}")
        g.add_edge("hub", f"n{i}", kind="transaction", amount_local=1.0, transaction_id=f"t{i}")
    g.nodes["hub"].update(kind="person", label="hub")
    assert link_chart(g).count("<rect") >= 450
