"""Generate the corpus of broken and hostile inputs (run by the tests into a temporary folder; add cases here).

    python tests/corpus/make_corpus.py OUT_DIR

Each case is (file name, bytes, expected outcome): the exit code of `finintel validate` and the problem code that
must be reported. Keeping it a script means the corpus can grow without committing binary files.
"""

from __future__ import annotations

import sys
from pathlib import Path

GOOD = """<?xml version="1.0" encoding="UTF-8"?>
<report>
  <rentity_id>100</rentity_id>
  <submission_code>E</submission_code>
  <report_code>STR</report_code>
  <entity_reference>CORPUS-1</entity_reference>
  <submission_date>2026-10-01T09:00:00</submission_date>
  <currency_code_local>EUR</currency_code_local>
  <transaction>
    <transactionnumber>T1</transactionnumber>
    <date_transaction>2026-09-01T10:00:00</date_transaction>
    <transmode_code>SW</transmode_code>
    <amount_local>1000.00</amount_local>
    <t_from><from_funds_code>W</from_funds_code>
      <from_person><first_name>Jörg</first_name><last_name>Müller</last_name></from_person>
      <from_country>DE</from_country></t_from>
    <t_to><to_funds_code>W</to_funds_code>
      <to_account><institution_name>Bank</institution_name><account>12345678</account></to_account>
      <to_country>FR</to_country></t_to>
  </transaction>
</report>
"""

# (name, content, validate exit code, problem code that must appear or None)
CASES: list[tuple[str, bytes, int, str | None]] = [
    ("good_utf8.xml", GOOD.encode("utf-8"), 0, None),
    ("good_utf8_bom.xml", b"\xef\xbb\xbf" + GOOD.encode("utf-8"), 0, None),
    ("good_utf16_bom.xml", GOOD.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16"), 0, None),
    ("latin1_declared.xml", GOOD.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').encode("latin-1"), 0, None),
    ("latin1_undeclared.xml", GOOD.encode("latin-1"), 1, "FI-R002"),
    ("utf16_no_bom_autodetected.xml", GOOD.encode("utf-16-le"), 0, None),  # XML 1.0 appendix F detection
    ("truncated.xml", GOOD.encode("utf-8")[: len(GOOD) // 2], 1, "FI-R002"),
    ("empty.xml", b"", 1, "FI-R006"),
    ("only_whitespace.xml", b"   \n\n  ", 1, "FI-R002"),
    ("binary_garbage.xml", bytes(range(256)) * 4, 1, "FI-R002"),
    ("not_goaml.xml", b'<?xml version="1.0"?><invoice><total>5</total></invoice>', 1, "FI-R004"),
    ("bad_amount.xml", GOOD.replace("1000.00", "1.000,00").encode(), 1, "FI-S005"),
    ("bad_date.xml", GOOD.replace("2026-09-01T10:00:00", "2026-13-45T99:00:00").encode(), 1, "FI-S004"),
    ("bad_currency.xml", GOOD.replace("<currency_code_local>EUR", "<currency_code_local>EURO").encode(), 1, "FI-S008"),
    (
        "duplicate_numbers.xml",
        GOOD.replace("</report>", GOOD[GOOD.index("  <transaction>") : GOOD.index("</report>")] + "</report>").encode(),
        1,
        "FI-V002",
    ),
    (
        "doctype.xml",
        GOOD.replace("<report>", '<!DOCTYPE report [<!ENTITY x "y">]>\n<report>', 1).encode(),
        2,
        "FI-R003",
    ),
    (
        "external_entity.xml",
        GOOD.replace("<report>", '<!DOCTYPE report [<!ENTITY x SYSTEM "file:///etc/hostname">]>\n<report>', 1)
        .replace("Müller", "&x;")
        .encode(),
        2,
        "FI-R003",
    ),
    ("deep.xml", b'<?xml version="1.0"?><report>' + b"<a>" * 5000 + b"</a>" * 5000 + b"</report>", 2, "FI-R005"),
    (
        "many_attributes.xml",
        b'<?xml version="1.0"?><report '
        + b" ".join(f'a{i}="1"'.encode() for i in range(200_000))
        + b"><rentity_id>1</rentity_id></report>",
        2,
        "FI-R005",
    ),
]


def write(out: Path) -> list[tuple[Path, int, str | None]]:
    out.mkdir(parents=True, exist_ok=True)
    made = []
    for name, content, code, problem in CASES:
        path = out / name
        path.write_bytes(content)
        made.append((path, code, problem))
    return made


if __name__ == "__main__":
    for path, code, problem in write(Path(sys.argv[1])):
        print(path, code, problem or "")
