"""The rule engine: rule files, their validation, their own test cases, scan and evaluate through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT, SAMPLE
from finintel.detect import DETECTORS, Context
from finintel.errors import ConfigError
from finintel.rules.engine import consolidate, run_rules
from finintel.rules.spec import default_rules_dir, load_rule, load_rules
from finintel.rules.testing import run_rule_tests
from finintel.store import Store, frame_from_rows
from finintel.synth.config import TYPOLOGIES

RULES = default_rules_dir()


def test_default_pack_covers_every_typology_and_detector() -> None:
    rules = load_rules()
    assert {r.spec.typology for r in rules} == set(TYPOLOGIES)
    assert {r.spec.detector for r in rules} == set(DETECTORS)
    assert RULES == ROOT / "rules"


@pytest.mark.parametrize("path", sorted(RULES.glob("*.toml")), ids=lambda p: p.stem)
def test_every_rule_documents_itself(path: Path) -> None:
    spec = load_rule(path).spec
    assert spec.description and spec.references and spec.false_positives
    assert {t.expect for t in spec.tests} == {"fire", "quiet"}
    detector_fields = set(DETECTORS[spec.detector].params.model_fields)
    assert set(spec.params) == detector_fields, "every threshold is written in the rule file"


def test_every_rule_passes_its_own_cases() -> None:
    failed = [r for r in run_rule_tests(load_rules()) if not r.passed]
    assert not failed, [(r.rule_id, r.case, r.message) for r in failed]


def _bad_rule(tmp_path: Path, old: str, new: str) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    text = (RULES / "lay_cycle.toml").read_text()
    assert old in text
    path = folder / "bad.toml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    "old,new,key",
    [
        ("window_hours = 168", "window_hours = -1", "params/window_hours"),
        ("window_hours = 168", "window_hourz = 168", "params/window_hourz"),
        ('typology = "cycle"', 'typology = "cycles"', "typology"),
        ('severity = "high"', 'severity = "severe"', "severity"),
        ('detector = "temporal_cycle"', 'detector = "magic"', "detector"),
        ('expect = "quiet"', 'expect = "fire"', "(top level)"),
    ],
)
def test_bad_rule_names_file_key_and_line(tmp_path: Path, old: str, new: str, key: str) -> None:
    path = _bad_rule(tmp_path, old, new)
    with pytest.raises(ConfigError) as err:
        load_rule(path)
    text = str(err.value)
    assert str(path) in text and f"at key '{key}'" in text
    if key.startswith("params/"):
        assert err.value.line == next(
            i for i, line in enumerate(path.read_text().splitlines(), 1) if line.startswith(key.split("/")[1])
        )


def test_bad_rule_through_the_cli_exits_2(tmp_path: Path, cli) -> None:
    path = _bad_rule(tmp_path, "window_hours = 168", "window_hours = 0")
    result = cli("scan", SAMPLE / "goaml", "--rules", path.parent, code=2)
    assert "bad.toml" in result.stderr and "params/window_hours" in result.stderr
    cli("rules", "test", path.parent, code=2)


def test_rules_layer_and_replace_by_id(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    text = (RULES / "lay_cycle.toml").read_text().replace("min_length = 2", "min_length = 3")
    (folder / "cycle.toml").write_text(text)
    rules = {r.id: r for r in load_rules([folder])}
    assert rules["FI-LAY-001"].params.min_length == 3 and len(rules) == 12
    (folder / "extra.toml").write_text(text.replace('id = "FI-LAY-001"', 'id = "ACME-LAY-001"'))
    assert len(load_rules([folder])) == 13


def test_rules_cli(cli) -> None:
    listed = json.loads(cli("rules", "list", "--format", "json").stdout)
    assert len(listed["rules"]) == 12 and len(listed["rule_pack_sha256"]) == 64
    shown = cli("rules", "show", "FI-SHELL-001").stdout
    assert "nominee_director" in shown and "FATF and Egmont Group (2018)" in shown
    assert "24 passed, 0 failed" in cli("rules", "test").stdout
    cli("rules", "show", "NOPE-1", code=2)


def test_scan_sample_json_is_complete_and_stable(cli, tmp_path: Path) -> None:
    out = tmp_path / "findings.json"
    result = cli("scan", SAMPLE / "goaml", "--format", "json", "--out", out, code=1)
    assert result.stdout == ""
    data = json.loads(out.read_text())
    [finding] = data["findings"]
    assert finding["typology"] == "structuring" and finding["rule_id"] == "FI-LAY-007"
    assert finding["transactions"] == ["1042:T-2026-88105", "1042:T-2026-88106", "1042:T-2026-88107"]
    assert finding["parties"] and finding["accounts"] and "EUR 29,450" in finding["explanation"]
    assert data["summary"]["by_typology"] == {"structuring": 1}
    again = json.loads(cli("scan", SAMPLE / "goaml", "--format", "json", code=1).stdout)
    assert again["findings"] == data["findings"]


def test_fail_on_threshold(cli) -> None:
    cli("scan", SAMPLE / "goaml", "--fail-on", "critical", code=0)
    cli("scan", SAMPLE / "goaml", "--fail-on", "high", code=1)
    cli("scan", SAMPLE / "goaml", "--fail-on", "none", code=0)


def test_scan_a_stored_store_with_timings(cli, tmp_path: Path) -> None:
    cli("ingest", SAMPLE / "goaml", "--out", tmp_path / "st")
    data = json.loads(cli("scan", tmp_path / "st", "-f", "json", "--profile", code=1).stdout)
    assert set(data["timings_seconds"]) >= {"load", "total", "FI-LAY-001", "FI-SHELL-001"}


def test_evaluate_on_the_sample_synth_data(cli) -> None:
    synth = SAMPLE / "synth"
    result = cli(
        "evaluate",
        synth / "tabular",
        "--labels",
        synth / "labels.parquet",
        "--decoys",
        synth / "decoys.parquet",
        "--format",
        "json",
        "--min-recall",
        "0.95",
        "--min-precision",
        "0.9",
    )
    data = json.loads(result.stdout)
    assert {s["typology"] for s in data["typologies"]} == set(TYPOLOGIES)
    assert data["below_target"] == [] and data["decoy_hits"] == []


def test_evaluate_gates_fail_when_rules_are_switched_off(cli, tmp_path: Path) -> None:
    folder = tmp_path / "off"
    folder.mkdir()
    (folder / "off.toml").write_text(
        (RULES / "lay_structuring.toml")
        .read_text()
        .replace('name = "Structuring', 'enabled = false\nname = "Structuring')
    )
    synth = SAMPLE / "synth"
    result = cli(
        "evaluate",
        synth / "tabular",
        "--labels",
        synth / "labels.parquet",
        "--rules",
        folder,
        "--min-recall",
        "0.95",
        "--format",
        "json",
        code=1,
    )
    assert json.loads(result.stdout)["below_target"] == ["structuring"]


def test_consolidation_folds_less_specific_findings() -> None:
    from finintel.detect.base import Finding

    def f(typology: str, txs: list[str]) -> Finding:
        return Finding("R", 1, typology, "high", 0.5, typology, txs, [], [])

    fan = f("fan_out", ["a", "b", "c", "d"])
    sg = f("scatter_gather", ["a", "b", "c", "d", "e", "f", "g", "h"])
    other = f("fan_out", ["x", "y", "z"])
    kept = consolidate([fan, sg, other])
    assert [k.typology for k in kept] == ["scatter_gather", "fan_out"]
    assert kept[0].details["also_matches"][0]["typology"] == "fan_out"


# -- a planted pattern is always found -------------------------------------------------------------------------------


@st.composite
def background_with_cycle(draw: st.DrawFn) -> tuple[list[dict], list[str]]:
    n_accounts = draw(st.integers(6, 30))
    rng_rows = draw(
        st.lists(
            st.tuples(
                st.integers(0, n_accounts - 1),
                st.integers(0, n_accounts - 1),
                st.integers(0, 24 * 30),
                st.floats(10, 5000),
            ),
            max_size=120,
        )
    )
    rows = [
        {
            "transaction_id": f"b{i}",
            "timestamp": _ts(h),
            "amount": round(a, 2),
            "currency": "EUR",
            "from_account_id": f"A{s}",
            "to_account_id": f"A{d}",
        }
        for i, (s, d, h, a) in enumerate(rng_rows)
        if s != d
    ]
    length = draw(st.integers(2, 6))
    members = [f"C{i}" for i in range(length)]
    start = draw(st.integers(0, 24 * 20))
    amount = draw(st.floats(12_000, 500_000))
    gaps = draw(st.lists(st.integers(0, 24), min_size=length, max_size=length))
    ids, t = [], start
    for i in range(length):
        t += gaps[i]
        rows.append(
            {
                "transaction_id": f"c{i}",
                "timestamp": _ts(t),
                "amount": round(amount, 2),
                "currency": "EUR",
                "from_account_id": members[i],
                "to_account_id": members[(i + 1) % length],
            }
        )
        ids.append(f"c{i}")
        amount *= draw(st.floats(0.85, 1.0))
    return rows, ids


def _ts(hours: int) -> object:
    import datetime as dt

    return dt.datetime(2025, 1, 1) + dt.timedelta(hours=hours)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(background_with_cycle())
def test_a_planted_cycle_is_always_found(case: tuple[list[dict], list[str]]) -> None:
    _assert_found(case, "cycle")


def _assert_found(case: tuple[list[dict], list[str]], typology: str) -> None:
    """The default rule of ``typology`` has a finding holding every one of the planted transactions."""
    rows, ids = case
    store = Store(tables={"transactions": frame_from_rows("transactions", rows)})
    rule = next(r for r in load_rules() if r.spec.typology == typology)
    findings = run_rules(Context(store), [rule]).findings
    assert any(set(ids) <= set(f.transactions) for f in findings), ids


def test_rule_pack_is_package_data() -> None:
    """Installed (non-editable) copies find the pack as package data: src/finintel/data/rules links to rules/."""
    from importlib import resources

    packaged = Path(str(resources.files("finintel").joinpath("data", "rules")))
    assert sorted(p.name for p in packaged.glob("*.toml")) == sorted(p.name for p in RULES.glob("*.toml"))


def test_findings_are_sorted_by_severity_then_score() -> None:
    from finintel.scan import scan

    result = scan([SAMPLE / "synth" / "tabular"], wallet_labels=[SAMPLE / "synth" / "wallet_labels.csv"])
    keys = [(("low", "medium", "high", "critical").index(f.severity), f.score) for f in result.findings]
    assert len(keys) >= 12 and keys == sorted(keys, key=lambda k: (-k[0], -k[1]))


@st.composite
def background_with_gather_scatter(draw: st.DrawFn) -> tuple[list[dict], list[str]]:
    """Random background flows, and a hub that collects from 4-7 sources within two days and then pays 81-99% of it
    to 4-7 others within two more days."""
    rows = draw(background_with_cycle())[0]
    rows = [r for r in rows if r["transaction_id"].startswith("b")]
    start = draw(st.integers(0, 24 * 20))
    ins = draw(st.lists(st.tuples(st.integers(0, 48), st.floats(5_000, 50_000)), min_size=4, max_size=7))
    last_in = start + max(h for h, _ in ins)
    outs = draw(st.lists(st.tuples(st.integers(1, 48), st.floats(1, 2)), min_size=4, max_size=7))
    total_out = sum(round(a, 2) for _, a in ins) * draw(st.floats(0.81, 0.99))
    weights = sum(w for _, w in outs)
    legs = [(f"g{i}", start + h, round(a, 2), f"S{i}", "H") for i, (h, a) in enumerate(ins)]
    legs += [(f"s{i}", last_in + h, round(total_out * w / weights, 2), "H", f"K{i}") for i, (h, w) in enumerate(outs)]
    for tid, hours, amount, src, dst in legs:
        rows.append(
            {
                "transaction_id": tid,
                "timestamp": _ts(hours),
                "amount": amount,
                "currency": "EUR",
                "from_account_id": src,
                "to_account_id": dst,
            }
        )
    return rows, [leg[0] for leg in legs]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(background_with_gather_scatter())
def test_a_planted_gather_scatter_is_always_found(case: tuple[list[dict], list[str]]) -> None:
    _assert_found(case, "gather_scatter")
