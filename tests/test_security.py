"""Hostile XML is refused before it can do harm: a clear problem, exit 2, no expansion, no file or network access."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from conftest import NOW, report, transaction
from finintel.validate import validate_goaml

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<report><reason>&lol9;</reason></report>
"""

EXTERNAL_FILE = """<?xml version="1.0"?>
<!DOCTYPE report [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<report><reason>&secret;</reason></report>
"""

EXTERNAL_URL = """<?xml version="1.0"?>
<!DOCTYPE report [<!ENTITY remote SYSTEM "http://127.0.0.1:9/evil">]>
<report><reason>&remote;</reason></report>
"""

EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE report SYSTEM "http://127.0.0.1:9/goaml.dtd">
<report><rentity_id>1</rentity_id></report>
"""

QUADRATIC = (
    '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY a "'
    + "x" * 50_000
    + '">]>\n<report><reason>'
    + ("&a;" * 1000)
    + "</reason></report>\n"
)

XINCLUDE = """<?xml version="1.0"?>
<report xmlns:xi="http://www.w3.org/2001/XInclude"><reason><xi:include href="/etc/passwd" parse="text"/></reason>
</report>
"""


@pytest.mark.parametrize(
    "name,text",
    [
        ("billion_laughs", BILLION_LAUGHS),
        ("external_file", EXTERNAL_FILE),
        ("external_url", EXTERNAL_URL),
        ("external_dtd", EXTERNAL_DTD),
        ("quadratic", QUADRATIC),
        ("xinclude", XINCLUDE),
    ],
)
def test_attack_refused_fast(name: str, text: str, write) -> None:
    path = write(f"{name}.xml", text)
    start = time.monotonic()
    rep = validate_goaml(path, now=NOW)
    assert time.monotonic() - start < 5  # generous: refusal happens before any expansion
    assert rep.fatal
    assert [p.code for p in rep.problems] == ["FI-R003"]
    assert "passwd" not in rep.problems[0].message and "root:" not in rep.problems[0].message


def test_utf16_doctype_refused(write) -> None:
    path = write("u16.xml", EXTERNAL_FILE.replace('version="1.0"', 'version="1.0" encoding="UTF-16"').encode("utf-16"))
    assert [p.code for p in validate_goaml(path, now=NOW).problems] == ["FI-R003"]


def test_attack_through_cli_exits_2(write, cli) -> None:
    path = write("lol.xml", BILLION_LAUGHS)
    result = cli("validate", path, code=2)
    assert "FI-R003" in result.stdout
    cli("ingest", path, "--out", Path(path).parent / "store", code=2)


def test_huge_text_node_is_refused(write) -> None:
    text = report(transaction(extra="<comments>" + "x" * 11_000_000 + "</comments>"))
    rep = validate_goaml(write("huge.xml", text), now=NOW)
    assert rep.fatal and rep.problems[-1].code == "FI-R005"


def test_deep_nesting_is_refused(write) -> None:
    text = '<?xml version="1.0"?>\n<report>' + "<a>" * 300 + "</a>" * 300 + "</report>"
    rep = validate_goaml(write("deep.xml", text), now=NOW)
    assert rep.fatal and rep.problems[-1].code == "FI-R005"
