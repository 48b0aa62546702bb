"""The CLI as users run it: real files, exit codes, stdout carries only the requested format."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import polars as pl

from conftest import SAMPLE, report, transaction
from finintel.validate import validate_paths

INVALID = SAMPLE / "invalid" / "INVALID_demo_str_with_errors.xml"


def test_validate_sample_data_reports_the_invalid_file(cli) -> None:
    result = cli("validate", SAMPLE, code=1)
    out = result.stdout
    assert f"{INVALID}:14: error FI-V001" in out
    assert "/report/transaction[1]/amount_local" in out
    for name in ("rhb_de_str_2026_0142", "nbk_lt_str_2026_0077", "tdx_ee_str_2026_0019", "nbk_lt_sar_2026_0080"):
        assert f"ok    {SAMPLE / 'goaml' / name}.xml" in out


def test_validate_valid_files_exit_0(cli) -> None:
    cli("validate", SAMPLE / "goaml", code=0)
    cli("validate", str(SAMPLE / "goaml" / "*.xml"), code=0)  # glob


def test_validate_json_matches_library(cli) -> None:
    result = cli("validate", SAMPLE, "--format", "json", code=1)
    data = json.loads(result.stdout)  # nothing but JSON on stdout
    assert data == json.loads(json.dumps(validate_paths([str(SAMPLE)]).to_dict()))
    assert data["summary"]["invalid_files"] == 1
    bad = next(f for f in data["files"] if f["file"] == str(INVALID))
    codes = {p["code"] for p in bad["problems"]}
    assert {
        "FI-S001",
        "FI-S007",
        "FI-S008",
        "FI-S004",
        "FI-V001",
        "FI-V002",
        "FI-V003",
        "FI-V004",
        "FI-S013",
        "FI-S011",
        "FI-V006",
        "FI-S009",
        "FI-V009",
        "FI-S003",
    } <= codes
    assert all({"file", "line", "path", "code", "severity", "message"} <= set(p) for p in bad["problems"])


def test_validate_junit_is_valid_junit(cli, tmp_path: Path) -> None:
    result = cli("validate", SAMPLE, "--format", "junit", code=1)
    root = ET.fromstring(result.stdout)
    n_files = len(list(SAMPLE.rglob("*.xml"))) + 1  # + the synthetic tabular dataset
    assert root.tag == "testsuites" and root.get("tests") == str(n_files) and root.get("failures") == "1"
    [suite] = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == n_files and all(c.get("name") and c.get("classname") for c in cases)
    failed = [c for c in cases if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == [str(INVALID)]
    assert "FI-V001" in failed[0].find("failure").text
    # --output writes the same document to a file and leaves stdout empty
    out = tmp_path / "junit.xml"
    result = cli("validate", SAMPLE, "-f", "junit", "-o", out, code=1)
    assert result.stdout == "" and ET.parse(out).getroot().tag == "testsuites"


def test_validate_strict_fails_on_warnings(cli, write) -> None:
    path = write("w.xml", report(transaction(transmode="ZZ")))  # FI-S010 is a warning
    cli("validate", path, code=0)
    cli("validate", path, "--strict", code=1)


def test_ingest_strict_fails_on_warnings(cli, write, tmp_path: Path) -> None:
    path = write("w.xml", report(transaction(transmode="ZZ")))  # FI-S010 is a warning: nothing rejected
    cli("ingest", path, "--out", tmp_path / "a", code=0)
    cli("ingest", path, "--out", tmp_path / "b", "--strict", code=1)


def test_validate_missing_path_exits_2(cli, tmp_path: Path) -> None:
    result = cli("validate", tmp_path / "nope.xml", code=2)
    assert "FI-R001" in result.stdout


def test_validate_store_is_not_a_report(cli, tmp_path: Path) -> None:
    cli("ingest", SAMPLE / "goaml", "--out", tmp_path / "st", code=0)
    assert "FI-R007" in cli("validate", tmp_path / "st", code=2).stdout


def test_usage_errors_exit_2(cli) -> None:
    cli("validate", code=2)
    cli("validate", SAMPLE, "--format", "yaml", code=2)
    cli("ingest", SAMPLE, code=2)  # --out missing
    cli("frobnicate", code=2)


def test_bad_profile_is_a_clear_error(tmp_path: Path) -> None:
    prof = tmp_path / "p.toml"
    prof.write_text("name = [")
    proc = subprocess.run(
        [sys.executable, "-m", "finintel", "validate", str(SAMPLE), "--goaml-profile", str(prof)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "p.toml" in proc.stderr and "invalid TOML" in proc.stderr and "Traceback" not in proc.stderr


def test_ingest_sample_data(cli, tmp_path: Path) -> None:
    store = tmp_path / "store"
    result = cli(
        "ingest",
        SAMPLE / "goaml",
        "--out",
        store,
        "--graphml",
        tmp_path / "g.graphml",
        "--gexf",
        tmp_path / "g.gexf",
        "--dataset",
        tmp_path / "ds",
        code=0,
    )
    assert "transactions" in result.stdout and "store written to" in result.stdout
    assert (store / "store.json").is_file() and (store / "transactions.parquet").is_file()
    assert (tmp_path / "g.graphml").is_file() and (tmp_path / "g.gexf").is_file()
    assert (tmp_path / "ds" / "transactions.parquet").is_file()


def test_ingest_json_counts_reconcile_and_rejects_exit_1(cli, tmp_path: Path) -> None:
    store = tmp_path / "store"
    result = cli("ingest", SAMPLE / "goaml", SAMPLE / "invalid", "--out", store, "--format", "json", code=1)
    data = json.loads(result.stdout)
    assert data["reconciled"] is True
    tx = data["counts"]["transactions"]
    assert tx == {"read": 16, "stored": 14, "rejected": 2}
    rejects = pl.read_csv(store / "rejects.csv")
    assert rejects.height == 2 and set(rejects["ref"]) == {"BRK-1"}
    assert rejects["file"].str.contains("INVALID_demo").all()


def test_ingest_unreadable_input_exit_2_rest_ingested(cli, write, tmp_path: Path) -> None:
    write("in/good.xml", report(transaction()))
    write("in/bad.xml", '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><report/>')
    result = cli("ingest", tmp_path / "in", "--out", tmp_path / "st", "-f", "json", code=2)
    data = json.loads(result.stdout)
    assert data["counts"]["transactions"]["stored"] == 1
    assert [f["status"] for f in data["files"]] == ["unreadable", "ingested"]


def test_module_entry_point_and_version() -> None:
    proc = subprocess.run([sys.executable, "-m", "finintel", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("finintel ")


def test_entry_point_ends_without_teardown_but_with_its_output_code_and_exit_handlers() -> None:
    """The entry point skips freeing objects at exit: the output written to a pipe (block-buffered) is whole, the
    exit code is the command's, and exit handlers still run."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # (block-buffered, as usual)
    script = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('exit handler ran', file=sys.stderr))\n"
        "sys.argv = ['finintel', *sys.argv[1:]]\n"
        "from finintel.cli.app import main\n"
        "main()\n"
        "print('not reached', file=sys.stderr)\n"
    )
    for args, code in ((["validate", str(SAMPLE), "-f", "json"], 1), (["rules", "list", "-f", "json"], 0)):
        proc = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=env)
        assert proc.returncode == code, proc.stderr
        assert json.loads(proc.stdout)  # (all of it, flushed before the process ended)
        assert "exit handler ran" in proc.stderr and "not reached" not in proc.stderr
    version = subprocess.run([sys.executable, "-c", script, "--version"], capture_output=True, text=True, env=env)
    assert version.returncode == 0 and version.stdout.startswith("finintel ")  # (written without a flush of its own)
    usage = subprocess.run([sys.executable, "-c", script, "no-such-verb"], capture_output=True, text=True, env=env)
    assert usage.returncode == 2 and "No such command" in usage.stderr and "exit handler ran" in usage.stderr


def test_no_colour_codes_when_not_a_tty(cli) -> None:
    result = cli("validate", SAMPLE, code=1)
    assert "\x1b[" not in result.stdout
