"""Generate the parts of ``docs/`` that must match the code: table columns and the problem catalogue.

``python -m finintel.docgen`` rewrites the generated blocks in place; ``--check`` exits 1 when they are stale
(the test suite runs the check, so the docs cannot drift from the code).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import polars as pl

from finintel.formats.tabular import REQUIRED_VALUES, dataset_columns
from finintel.model import Account, BusinessType, Organization, Person, Relation, Report, Transaction
from finintel.problems import CATALOGUE
from finintel.store import DATASET_TABLES, MONEY

_MODELS = {
    "parties": (Person, Organization),
    "accounts": (Account,),
    "transactions": (Transaction,),
    "relations": (Relation,),
    "reports": (Report,),
}

_EXTRA_DOC = {
    ("parties", "kind"): "`person` or `organization`",
    ("accounts", "kind"): "`bank`, `vasp` (custodial account at a VASP) or `wallet` (on-chain address)",
    ("relations", "kind"): "`owns`, `directs`, `controls`, `signatory`, `nominee`, `holds`",
    ("relations", "target_type"): "`party` or `account`; inferred from the ids when empty",
    ("reports", "indicators"): "indicator texts; CSV: separated by `|`",
    ("parties", "party_id"): "unique id (resolved goAML parties: `per_`/`org_` + 16 hex digits)",
    ("parties", "address"): "first address given (persons: as reported; organizations: registered address)",
    ("parties", "business_type"): "organizations: " + ", ".join(f"`{b.value}`" for b in BusinessType),
    ("parties", "nationality"): "ISO 3166-1 alpha-2 (goAML `nationality1`)",
    ("parties", "ssn"): "national identity number (goAML `ssn`)",
    ("parties", "employee_count"): "organizations: number of employees, when known",
    ("accounts", "account_id"): "unique id (resolved goAML accounts: `acc_`/`wal_` + 16 hex digits)",
    ("accounts", "currency"): "ISO 4217, or a virtual-asset ticker",
    ("accounts", "country"): "from the IBAN or SWIFT/BIC",
    ("relations", "relation_id"): "unique id; generated as `rel_<kind>:<source>><target>` when empty",
    ("reports", "jurisdiction"): "ISO 3166-1 alpha-2 of the reporting jurisdiction",
}


def _type_name(dtype: pl.DataType) -> str:
    if dtype == MONEY:
        return "decimal"
    if isinstance(dtype, pl.Datetime):
        return "datetime"
    if dtype == pl.Date():
        return "date"
    if dtype == pl.Boolean():
        return "bool"
    if dtype == pl.Int64():
        return "int"
    if isinstance(dtype, pl.List):
        return "list[str]"
    return "str"


def _description(table: str, column: str) -> str:
    if (table, column) in _EXTRA_DOC:
        return _EXTRA_DOC[(table, column)]
    for model in _MODELS[table]:
        info = model.model_fields.get(column)
        if info is not None and info.description:
            return info.description
    return ""


def tables_markdown() -> str:
    out: list[str] = []
    for table in DATASET_TABLES:
        out.append(f"### `{table}`\n")
        out.append("| column | type | required | description |")
        out.append("|---|---|---|---|")
        required = set(REQUIRED_VALUES[table])
        if table == "transactions":
            required_note = {
                "from_account_id": "one of from_account_id / from_party_id",
                "from_party_id": "one of from_account_id / from_party_id",
                "to_account_id": "one of to_account_id / to_party_id",
                "to_party_id": "one of to_account_id / to_party_id",
            }
        else:
            required_note = {}
        for column, dtype in dataset_columns(table).items():
            req = "yes" if column in required else required_note.get(column, "")
            out.append(f"| `{column}` | {_type_name(dtype)} | {req} | {_description(table, column)} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def catalogue_markdown() -> str:
    out = ["| code | name | default severity | title | meaning |", "|---|---|---|---|---|"]
    for p in CATALOGUE.values():
        out.append(f"| `{p.code}` | `{p.name}` | {p.severity.value} | {p.title} | {p.description} |")
    return "\n".join(out) + "\n"


BLOCKS = {
    ("formats.md", "tables"): tables_markdown,
    ("validation.md", "catalogue"): catalogue_markdown,
}


def render(text: str, name: str, content: str) -> str:
    pattern = re.compile(rf"(<!-- BEGIN GENERATED: {name} .*?-->\n)(.*?)(<!-- END GENERATED: {name} -->)", re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"no generated block {name!r}")
    return pattern.sub(lambda m: m.group(1) + content + m.group(3), text)


def case_schema_json() -> str:
    import json

    from finintel.cases.schema import json_schema

    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


WHOLE_FILES = {"case.schema.json": case_schema_json}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    check = "--check" in args
    docs = Path(next((a for a in args if not a.startswith("--")), "docs"))
    stale = []
    for (file, block), make in BLOCKS.items():
        path = docs / file
        text = path.read_text(encoding="utf-8")
        new = render(text, block, make())
        if new != text:
            stale.append(str(path))
            if not check:
                path.write_text(new, encoding="utf-8")
    for file, make_file in WHOLE_FILES.items():
        path = docs / file
        new = make_file()
        if not path.exists() or path.read_text(encoding="utf-8") != new:
            stale.append(str(path))
            if not check:
                path.write_text(new, encoding="utf-8")
    if check and stale:
        print("stale generated docs: " + ", ".join(stale) + " (run: python -m finintel.docgen)")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
