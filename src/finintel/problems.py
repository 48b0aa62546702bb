"""Validation problems as records, not strings.

Every check in finintel reports a :class:`Problem`: a catalogue code (``FI-S001``), a severity, the file, line and
element path it concerns, and a message rendered from the code's template. The same object feeds the rich table,
JSON and JUnit renderers, and ingest uses the same problems to decide which records it rejects.

Personal data never goes into a message: templates name elements and codes, never the values of identifying fields.
(Values of code lists, dates and amounts are shown because the reporter needs them to find the error.)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """How bad a problem is. ``fatal`` means the file could not be read at all (exit 2)."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    FATAL = "fatal"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2, Severity.FATAL: 3}


@dataclass(frozen=True, slots=True)
class ProblemType:
    """One entry of the problem catalogue (see ``docs/validation.md``, generated from :data:`CATALOGUE`)."""

    code: str
    name: str
    severity: Severity
    title: str
    template: str
    description: str


def _t(code: str, name: str, severity: Severity, title: str, template: str, description: str) -> ProblemType:
    return ProblemType(code, name, severity, title, template, description)


_E, _W, _F = Severity.ERROR, Severity.WARNING, Severity.FATAL

CATALOGUE: dict[str, ProblemType] = {
    p.code: p
    for p in [
        # -- reading ------------------------------------------------------------------------------------------
        _t(
            "FI-R001",
            "unreadable-file",
            _F,
            "Unreadable file",
            "cannot read file: {reason}",
            "The file does not exist, is a directory where a file was expected, or cannot be opened.",
        ),
        _t(
            "FI-R002",
            "xml-syntax",
            _E,
            "XML not well-formed",
            "XML is not well-formed: {reason}",
            "The XML parser stopped here (truncated file, bad character, unclosed element, wrong encoding). "
            "Nothing after this point was read.",
        ),
        _t(
            "FI-R003",
            "forbidden-xml-construct",
            _F,
            "Forbidden XML construct",
            "refused: {reason}",
            "DTDs, entity declarations, external entities and XInclude are never needed by goAML reports and are "
            "refused before parsing, so entity-expansion and external-entity attacks cannot run.",
        ),
        _t(
            "FI-R004",
            "unexpected-root",
            _E,
            "Not a goAML report",
            "root element <{element}> is not a goAML report (expected <report>, <reports> or <reportdata>)",
            "The file is well-formed XML but not a goAML report.",
        ),
        _t(
            "FI-R005",
            "limit-exceeded",
            _F,
            "Size limit exceeded",
            "refused: {reason}",
            "A configured safety limit (element depth, text node size, attribute count) was exceeded.",
        ),
        _t("FI-R006", "empty-file", _E, "Empty file", "file is empty", "The file has no content."),
        _t(
            "FI-R007",
            "unsupported-input",
            _F,
            "Unsupported input",
            "cannot tell what this input is: {reason}",
            "The path is neither a goAML XML file, a CSV/Parquet table of the canonical dataset, nor a folder of them.",
        ),
        # -- schema -------------------------------------------------------------------------------------------
        _t(
            "FI-S001",
            "missing-element",
            _E,
            "Required element missing",
            "<{element}> is required in <{parent}>",
            "The goAML schema (or the active profile) makes this element mandatory here.",
        ),
        _t(
            "FI-S002",
            "empty-element",
            _E,
            "Required element empty",
            "<{element}> is empty",
            "A mandatory element is present but has no value.",
        ),
        _t(
            "FI-S003",
            "unknown-element",
            _W,
            "Unknown element",
            "<{element}> is not a known child of <{parent}>",
            "Not part of the goAML 4.x/5.x structure finintel knows; country profiles may add elements. It is ignored.",
        ),
        _t(
            "FI-S004",
            "invalid-date",
            _E,
            "Invalid date",
            "<{element}> value {value!r} is not a date (expected YYYY-MM-DDThh:mm:ss)",
            "Dates must be ISO 8601 as goAML requires.",
        ),
        _t(
            "FI-S005",
            "invalid-decimal",
            _E,
            "Invalid amount",
            "<{element}> value {value!r} is not a decimal number",
            "Amounts and rates are plain decimals with a dot: 1234.56, no thousands separators or currency signs.",
        ),
        _t(
            "FI-S006",
            "invalid-value",
            _E,
            "Invalid value",
            "<{element}> value {value!r} is not a valid {kind}",
            "Booleans are true/false/1/0, integers are whole numbers.",
        ),
        _t(
            "FI-S007",
            "invalid-code",
            _E,
            "Invalid code",
            "<{element}> value {value!r} is not in the {codelist} code list",
            "Report and submission codes must come from the profile's code lists.",
        ),
        _t(
            "FI-S008",
            "invalid-currency",
            _E,
            "Invalid currency",
            "<{element}> value {value!r} is not an ISO 4217 currency code{extra}",
            "Currencies are ISO 4217 alpha-3; account currencies may also be a known virtual-asset ticker.",
        ),
        _t(
            "FI-S009",
            "invalid-country",
            _E,
            "Invalid country",
            "<{element}> value {value!r} is not an ISO 3166-1 alpha-2 country code",
            "Countries are ISO 3166-1 alpha-2 (XK accepted for Kosovo).",
        ),
        _t(
            "FI-S010",
            "unknown-lookup",
            _W,
            "Value not in lookup",
            "<{element}> value {value!r} is not in the {codelist} lookup of profile {profile}",
            "FIU-defined lookups (transmode, funds type, roles, ...) vary "
            "by country; load your FIU's profile with --goaml-profile to make these errors.",
        ),
        _t(
            "FI-S011",
            "choice-violation",
            _E,
            "Conflicting elements",
            "<{parent}> must contain {expected}, found {found}",
            "goAML allows exactly one of these alternatives here.",
        ),
        _t(
            "FI-S012",
            "too-many",
            _E,
            "Element repeated",
            "<{element}> may occur at most {max} time(s) in <{parent}>, found {count}",
            "The element occurs more often than the schema allows.",
        ),
        _t(
            "FI-S013",
            "element-order",
            _E,
            "Element out of order",
            "<{element}> must come before <{before}> in <{parent}>",
            "goAML's XSD is a sequence: element order matters to the FIU's schema validation.",
        ),
        _t(
            "FI-S014",
            "value-too-long",
            _E,
            "Value too long",
            "<{element}> is {length} characters, at most {max} allowed",
            "The value is longer than the schema allows.",
        ),
        # -- semantics ----------------------------------------------------------------------------------------
        _t(
            "FI-V001",
            "non-positive-amount",
            _E,
            "Amount not positive",
            "<{element}> must be greater than 0, got {value}",
            "Transaction amounts are positive; direction is given by the from/to sides.",
        ),
        _t(
            "FI-V002",
            "duplicate-transaction",
            _E,
            "Duplicate transaction number",
            "transaction number {value!r} already used at {first}",
            "Transaction numbers identify transactions within a report entity's filings and must be unique.",
        ),
        _t(
            "FI-V003",
            "missing-side",
            _E,
            "Transaction side missing",
            "transaction has no {side} side (t_{side}_my_client or t_{side}) and no involved_parties",
            "A bi-party transaction needs both a from and a to side.",
        ),
        _t(
            "FI-V004",
            "future-date",
            _E,
            "Date in the future",
            "<{element}> {value} is in the future",
            "Dates after the validation time are impossible for reported events.",
        ),
        _t(
            "FI-V005",
            "date-before-1900",
            _E,
            "Date before 1900",
            "<{element}> {value} is before 1900-01-01",
            "goAML requires dates on or after 1900-01-01.",
        ),
        _t(
            "FI-V006",
            "currency-inconsistent",
            _E,
            "Currency inconsistent",
            "{reason}",
            "Foreign-currency blocks must name a currency other than the local one, and foreign amount times "
            "exchange rate must match the local amount (1% tolerance).",
        ),
        _t(
            "FI-V007",
            "undefined-reference",
            _E,
            "Undefined reference",
            "{field} {value!r} does not exist in {table}",
            "A record refers to a party, account or report that is not defined.",
        ),
        _t(
            "FI-V008",
            "after-submission",
            _W,
            "Transaction after submission",
            "<{element}> {value} is after the report's submission date {submitted}",
            "Reported transactions should precede the report.",
        ),
        _t(
            "FI-V009",
            "invalid-iban",
            _W,
            "IBAN check failed",
            "<{element}> fails the IBAN checksum or format",
            "IBANs carry a mod-97 checksum (ISO 13616).",
        ),
        _t(
            "FI-V010",
            "empty-report",
            _W,
            "Report has no content",
            "report has no transactions and no report parties",
            "A report should describe at least one transaction or subject.",
        ),
        _t(
            "FI-V012",
            "duplicate-report",
            _E,
            "Report already ingested",
            "report {report!r} was already ingested from {first}; this copy is not stored",
            "Re-filed reports with the same reporting entity and entity_reference are stored once.",
        ),
        _t(
            "FI-V011",
            "my-client-incomplete",
            _W,
            "Own client poorly identified",
            "<{element}> is the reporting entity's own client but has no {missing}",
            "Reporting entities must fully identify their own clients.",
        ),
        # -- tabular ------------------------------------------------------------------------------------------
        _t(
            "FI-T001",
            "missing-column",
            _E,
            "Required column missing",
            "table {table} has no column {column!r}",
            "See docs/formats.md for the canonical dataset's columns.",
        ),
        _t(
            "FI-T002",
            "extra-column",
            _W,
            "Unknown column",
            "table {table} has an unknown column {column!r}; it is ignored",
            "Columns not in the canonical dataset are ignored.",
        ),
        _t(
            "FI-T003",
            "invalid-cell",
            _E,
            "Invalid cell",
            "{table}.{column} value {value!r} is not a valid {kind}",
            "The cell could not be converted to the column's type.",
        ),
        _t(
            "FI-T004",
            "missing-value",
            _E,
            "Required value missing",
            "{table}.{column} is empty",
            "A required column has an empty cell.",
        ),
        _t(
            "FI-T005",
            "duplicate-id",
            _E,
            "Duplicate id",
            "{table}.{column} {value!r} already used at row {first_row}",
            "Ids must be unique within a table.",
        ),
        _t(
            "FI-T006",
            "missing-table",
            _E,
            "Table missing",
            "dataset has no {table} table",
            "A canonical dataset needs at least transactions.",
        ),
    ]
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem found at one place. ``line`` is 1-based; ``path`` is an element path or ``table.column``."""

    code: str
    message: str
    severity: Severity
    file: str
    line: int | None = None
    path: str | None = None
    ref: str | None = None  # transaction number / record id the problem concerns, when there is one

    @property
    def name(self) -> str:
        return CATALOGUE[self.code].name

    def location(self) -> str:
        loc = self.file
        if self.line is not None:
            loc += f":{self.line}"
        return loc

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "severity": self.severity.value,
            "file": self.file,
            "line": self.line,
            "path": self.path,
            "ref": self.ref,
            "message": self.message,
        }


def make_problem(
    code: str,
    *,
    file: str,
    line: int | None = None,
    path: str | None = None,
    ref: str | None = None,
    severity: Severity | None = None,
    **params: Any,
) -> Problem:
    """Render a catalogue entry into a :class:`Problem`."""
    ptype = CATALOGUE[code]
    return Problem(
        code=code,
        message=ptype.template.format(**params),
        severity=severity or ptype.severity,
        file=file,
        line=line,
        path=path,
        ref=ref,
    )


@dataclass(slots=True)
class FileReport:
    """Everything validation found in one input (a goAML file or a tabular dataset)."""

    file: str
    kind: str  # "goaml" | "tabular" | "unknown"
    problems: list[Problem] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    schema_version: str | None = None

    @property
    def worst(self) -> Severity | None:
        if not self.problems:
            return None
        return max((p.severity for p in self.problems), key=lambda s: s.rank)

    def failed(self, threshold: Severity) -> bool:
        worst = self.worst
        return worst is not None and worst.rank >= threshold.rank

    @property
    def fatal(self) -> bool:
        return any(p.severity is Severity.FATAL for p in self.problems)

    def counts(self) -> dict[str, int]:
        c = Counter(p.severity.value for p in self.problems)
        return {s.value: c.get(s.value, 0) for s in Severity}

    def to_dict(self, threshold: Severity = Severity.ERROR) -> dict[str, Any]:
        return {
            "file": self.file,
            "kind": self.kind,
            "schema_version": self.schema_version,
            "valid": not self.failed(threshold),
            "counts": self.counts(),
            "stats": dict(self.stats),
            "problems": [p.to_dict() for p in self.problems],
        }


@dataclass(slots=True)
class ValidationReport:
    """The result of validating several inputs."""

    files: list[FileReport]
    threshold: Severity = Severity.ERROR

    @property
    def valid(self) -> bool:
        return not any(f.failed(self.threshold) for f in self.files)

    @property
    def fatal(self) -> bool:
        return any(f.fatal for f in self.files)

    def summary(self) -> dict[str, Any]:
        totals: Counter[str] = Counter()
        for f in self.files:
            totals.update(f.counts())
        return {
            "files": len(self.files),
            "valid_files": sum(1 for f in self.files if not f.failed(self.threshold)),
            "invalid_files": sum(1 for f in self.files if f.failed(self.threshold)),
            "unreadable_files": sum(1 for f in self.files if f.fatal),
            "threshold": self.threshold.value,
            "problems": {s.value: totals.get(s.value, 0) for s in Severity},
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "summary": self.summary(),
            "files": [f.to_dict(self.threshold) for f in self.files],
        }
