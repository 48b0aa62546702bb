"""Every check of the validator, each with a failing and a passing example.

CASES maps a problem code to (bad document, good document). ``test_catalogue_is_covered`` makes sure a new code
cannot be added to the catalogue without an example here (or a stated reason it is tested elsewhere).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import FROM_ACCOUNT, NOW, TO_ACCOUNT, report, transaction
from finintel.codes import load_profile
from finintel.problems import CATALOGUE
from finintel.validate import validate_goaml
from finintel.values import iban_is_valid

PERSON_TO = """
    <t_to>
      <to_funds_code>W</to_funds_code>
      <to_person><first_name>Ann</first_name><last_name>Lee</last_name></to_person>
      <to_country>GB</to_country>
    </t_to>"""


def _swap(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


GOOD = report(transaction())

CASES: dict[str, tuple[str, str]] = {
    "FI-R002": (GOOD[: len(GOOD) // 2], GOOD),
    "FI-R004": ('<?xml version="1.0"?><invoice><n>1</n></invoice>', GOOD),
    "FI-R006": ("", GOOD),
    "FI-S001": (_swap(GOOD, "<report_code>STR</report_code>", ""), GOOD),
    "FI-S002": (_swap(GOOD, "<report_code>STR</report_code>", "<report_code> </report_code>"), GOOD),
    "FI-S003": (report(transaction(extra="<colour>blue</colour>")), GOOD),
    "FI-S004": (report(transaction(date="01/09/2026")), GOOD),
    "FI-S005": (report(transaction(amount="1,000.00")), GOOD),
    "FI-S006": (_swap(GOOD, "<rentity_id>100</rentity_id>", "<rentity_id>A1</rentity_id>"), GOOD),
    "FI-S007": (_swap(GOOD, "<report_code>STR</report_code>", "<report_code>XYZ</report_code>"), GOOD),
    "FI-S008": (report(transaction(), currency="EURO"), GOOD),
    "FI-S009": (_swap(GOOD, "<from_country>DE</from_country>", "<from_country>UK</from_country>"), GOOD),
    "FI-S010": (report(transaction(transmode="ZZ")), GOOD),
    "FI-S011": (
        _swap(
            GOOD,
            "</from_account>",
            "</from_account><from_person><first_name>A</first_name><last_name>B</last_name></from_person>",
        ),
        GOOD,
    ),
    "FI-S012": (
        _swap(GOOD, "<report_code>STR</report_code>", "<report_code>STR</report_code><report_code>STR</report_code>"),
        GOOD,
    ),
    "FI-S013": (
        _swap(
            _swap(GOOD, "<transmode_code>SW</transmode_code>", ""),
            "<amount_local>1000.00</amount_local>",
            "<amount_local>1000.00</amount_local><transmode_code>SW</transmode_code>",
        ),
        GOOD,
    ),
    "FI-S014": (
        report(transaction(extra=f"<comments>{'x' * 5000}</comments>")),
        report(transaction(extra=f"<comments>{'x' * 50}</comments>")),
    ),
    "FI-V001": (report(transaction(amount="0.00")), GOOD),
    "FI-V002": (report(transaction("A"), transaction("A")), report(transaction("A"), transaction("B"))),
    "FI-V003": (report(transaction(sides=FROM_ACCOUNT)), GOOD),
    "FI-V004": (report(transaction(date="2027-06-01T00:00:00")), GOOD),
    "FI-V005": (report(transaction(date="1899-12-31T00:00:00")), GOOD),
    "FI-V006": (
        report(
            transaction(
                sides=_swap(
                    FROM_ACCOUNT,
                    "<from_account>",
                    "<from_foreign_currency>"
                    "<foreign_currency_code>USD</foreign_currency_code>"
                    "<foreign_amount>2000</foreign_amount>"
                    "<foreign_exchange_rate>0.9</foreign_exchange_rate>"
                    "</from_foreign_currency><from_account>",
                )
                + TO_ACCOUNT
            )
        ),
        report(
            transaction(
                sides=_swap(
                    FROM_ACCOUNT,
                    "<from_account>",
                    "<from_foreign_currency>"
                    "<foreign_currency_code>USD</foreign_currency_code>"
                    "<foreign_amount>1100</foreign_amount>"
                    "<foreign_exchange_rate>0.9091</foreign_exchange_rate>"
                    "</from_foreign_currency><from_account>",
                )
                + TO_ACCOUNT
            )
        ),
    ),
    "FI-V008": (report(transaction(date="2026-10-20T00:00:00")), GOOD),
    "FI-V009": (_swap(GOOD, "DE89370400440532013000", "DE00370400440532013000"), GOOD),
    "FI-V010": (_swap(GOOD, transaction(), ""), GOOD),
    "FI-V011": (
        report(
            transaction(
                sides=FROM_ACCOUNT
                + """
    <t_to_my_client>
      <to_funds_code>W</to_funds_code>
      <to_person><first_name>Ann</first_name><last_name>Lee</last_name><birthdate>1990-01-01T00:00:00</birthdate>
        <nationality1>GB</nationality1></to_person>
      <to_country>GB</to_country>
    </t_to_my_client>"""
            )
        ),
        report(
            transaction(
                sides=FROM_ACCOUNT
                + """
    <t_to_my_client>
      <to_funds_code>W</to_funds_code>
      <to_person><first_name>Ann</first_name><last_name>Lee</last_name><birthdate>1990-01-01T00:00:00</birthdate>
        <passport_number>X1</passport_number><passport_country>GB</passport_country>
        <nationality1>GB</nationality1></to_person>
      <to_country>GB</to_country>
    </t_to_my_client>"""
            )
        ),
    ),
}

#: Codes checked in other test modules (the reason says where).
ELSEWHERE = {
    "FI-R001": "test_cli.py: missing and unreadable paths",
    "FI-R003": "test_security.py: DTD, entities, XInclude",
    "FI-R005": "test_security.py: libxml2 size limits",
    "FI-R007": "test_cli.py: a store given to validate",
    "FI-V007": "test_tabular.py: undefined references in datasets",
    "FI-V012": "test_ingest.py: the same report ingested twice",
    "FI-T001": "test_tabular.py",
    "FI-T002": "test_tabular.py",
    "FI-T003": "test_tabular.py",
    "FI-T004": "test_tabular.py",
    "FI-T005": "test_tabular.py",
    "FI-T006": "test_tabular.py",
}


def test_catalogue_is_covered() -> None:
    assert set(CASES) | set(ELSEWHERE) == set(CATALOGUE)


def _codes(path: Path) -> list[str]:
    return [p.code for p in validate_goaml(path, load_profile(None), now=NOW).problems]


@pytest.mark.parametrize("code", sorted(CASES))
def test_check_fails_bad_and_passes_good(code: str, write) -> None:
    bad, good = CASES[code]
    bad_codes = _codes(write("bad.xml", bad))
    assert code in bad_codes, bad_codes
    good_codes = _codes(write("good.xml", good))
    assert code not in good_codes, good_codes


def test_good_document_is_clean(write) -> None:
    assert _codes(write("good.xml", GOOD)) == []


def test_problem_has_file_line_and_path(write) -> None:
    text = report(transaction(date="01/09/2026"))
    path = write("bad.xml", text)
    [problem] = validate_goaml(path, now=NOW).problems
    assert problem.file == str(path)
    assert problem.line == text.splitlines().index("    <date_transaction>01/09/2026</date_transaction>") + 1
    assert problem.path == "/report/transaction[1]/date_transaction"
    assert problem.ref == "TX-1"


def test_profile_can_make_lookup_strict_and_add_mandatory(write, tmp_path: Path) -> None:
    prof = tmp_path / "fiu.toml"
    prof.write_text(
        'name = "fiu-x"\nmandatory = ["transaction.transaction_description"]\n'
        '[codelists.conduction_type]\nmode = "strict"\ncodes = { SW = "wire" }\n'
        '[severity]\n"FI-V009" = "error"\n'
    )
    profile = load_profile(prof)
    path = write("r.xml", report(transaction(transmode="ZZ")))
    codes = [(p.code, p.severity.value) for p in validate_goaml(path, profile, now=NOW).problems]
    assert ("FI-S007", "error") in codes
    assert ("FI-S001", "error") in codes  # transaction_description now mandatory


def test_bad_profile_names_file_and_key(tmp_path: Path) -> None:
    from finintel.errors import ConfigError

    prof = tmp_path / "bad.toml"
    prof.write_text('name = "x"\n[codelists.conduction_type]\nmode = "sometimes"\n')
    with pytest.raises(ConfigError) as err:
        load_profile(prof)
    assert "bad.toml" in str(err.value) and "codelists/conduction_type/mode" in str(err.value)


def test_templates_do_not_shadow_location_arguments() -> None:
    import string

    reserved = {"code", "file", "line", "path", "ref", "severity"}
    for ptype in CATALOGUE.values():
        fields = {name for _, name, _, _ in string.Formatter().parse(ptype.template) if name}
        fields = {f.split("!")[0] for f in fields}
        assert not fields & reserved, (ptype.code, fields & reserved)


IBAN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@given(
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2),
    st.text("0123456789", min_size=2, max_size=2),
    st.text(IBAN_CHARS, min_size=11, max_size=30),
)
def test_iban_check_is_iso_13616_mod_97(country: str, check: str, bban: str) -> None:
    """The IBAN check (FI-V009, and whether an account number is an IBAN) against the standard's own recipe: the
    first four characters moved to the end, letters as 10..35, the number mod 97 is 1; with a check digit that
    makes it so, always valid."""
    iban = country + check + bban
    rearranged = iban[4:] + iban[:4]
    assert iban_is_valid(iban) == (int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1)
    fixed = 98 - int("".join(str(int(ch, 36)) for ch in bban + country + "00")) % 97
    assert iban_is_valid(f"{country}{fixed:02d}{bban}")
    assert iban_is_valid(f"{country.lower()}{fixed:02d} {bban}")  # case and spaces do not matter
