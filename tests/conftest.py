"""Shared test helpers: a small goAML report builder and a CLI runner that checks exit codes."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from typer.testing import CliRunner

from finintel.cli.app import app

# `long`: the fuzzing profile of benchmarks/fuzz.py (not the normal suite); select with --hypothesis-profile=long
settings.register_profile(
    "long",
    max_examples=int(os.environ.get("FININTEL_FUZZ_EXAMPLES", "5000")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
NOW = dt.datetime(2026, 11, 25, 12, 0, 0)

FROM_ACCOUNT = """
    <t_from>
      <from_funds_code>W</from_funds_code>
      <from_account>
        <institution_name>Bank A</institution_name>
        <swift>BANKDEFF</swift>
        <account>111</account>
        <iban>DE89370400440532013000</iban>
      </from_account>
      <from_country>DE</from_country>
    </t_from>"""

TO_ACCOUNT = """
    <t_to>
      <to_funds_code>W</to_funds_code>
      <to_account>
        <institution_name>Bank B</institution_name>
        <account>222</account>
        <iban>GB29NWBK60161331926819</iban>
      </to_account>
      <to_country>GB</to_country>
    </t_to>"""


def transaction(
    number: str = "TX-1",
    *,
    date: str = "2026-09-01T10:00:00",
    amount: str = "1000.00",
    transmode: str = "SW",
    sides: str | None = None,
    extra: str = "",
) -> str:
    body = FROM_ACCOUNT + TO_ACCOUNT if sides is None else sides
    return f"""
  <transaction>
    <transactionnumber>{number}</transactionnumber>
    <date_transaction>{date}</date_transaction>
    <transmode_code>{transmode}</transmode_code>
    <amount_local>{amount}</amount_local>{body}{extra}
  </transaction>"""


def report(
    *transactions: str,
    rentity: str = "100",
    reference: str = "REF-1",
    header: str | None = None,
    tail: str = "",
    currency: str = "EUR",
) -> str:
    head = (
        header
        if header is not None
        else f"""
  <rentity_id>{rentity}</rentity_id>
  <submission_code>E</submission_code>
  <report_code>STR</report_code>
  <entity_reference>{reference}</entity_reference>
  <submission_date>2026-10-01T09:00:00</submission_date>
  <currency_code_local>{currency}</currency_code_local>"""
    )
    txs = "".join(transactions) if transactions else transaction()
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<report>{head}{txs}{tail}
</report>
"""


@pytest.fixture
def write(tmp_path: Path):
    """write(name, text) -> Path in a fresh folder."""

    def _write(name: str, text: str | bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    return _write


class Cli:
    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int | None = 0, env_key: bool = False):
        env = {"FININTEL_MATCH_KEY": "test-key-shared-by-two-fius"} if env_key else None
        result = self.runner.invoke(app, [str(a) for a in args], catch_exceptions=False, env=env)
        if code is not None:
            assert result.exit_code == code, (
                f"exit {result.exit_code} != {code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result


@pytest.fixture
def cli() -> Cli:
    return Cli()
