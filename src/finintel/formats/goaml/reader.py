"""Safe, streaming goAML XML reader.

One pass over the file with ``lxml.etree.iterparse``: every ``transaction`` and ``report_party`` element is checked
against :mod:`~finintel.formats.goaml.schema`, converted to model objects, handed to the caller and then removed
from the tree, so memory stays flat however many transactions a report holds. The report header is checked when the
report ends.

Safety: the prolog is scanned before parsing and any ``<!DOCTYPE``/``<!ENTITY`` is refused (goAML never needs a
DTD), the parser is built with DTD loading, entity resolution and network access off and libxml2's size limits on,
and XInclude elements are refused. Every problem becomes a :class:`~finintel.problems.Problem` with file, line and
element path; the reader raises nothing but :class:`~finintel.errors.FinintelError` subclasses.

The same pass serves ``finintel validate`` (collect the problems) and ``finintel ingest`` (collect the units).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree

from finintel import codes
from finintel.codes import Profile
from finintel.formats.goaml.schema import TYPES, ComplexType, FieldSpec
from finintel.model import (
    Account,
    AccountKind,
    Organization,
    Person,
    Provenance,
    Relation,
    RelationKind,
    Report,
    Transaction,
)
from finintel.model.entities import construct
from finintel.problems import Problem, Severity, make_problem
from finintel.values import (
    MIN_DATE,
    detect_chain,
    iban_is_valid,
    norm_address,
    norm_identifier,
    parse_bool,
    parse_datetime,
    parse_decimal,
    parse_int,
)

XINCLUDE_NS = "http://www.w3.org/2001/XInclude"
ROOTS = frozenset({"report", "reports", "reportdata"})
V5_ELEMENTS = frozenset({"transaction_type", "related_persons", "related_entities", "reportdata"})
PRESCAN_BYTES = 1 << 20
_REPORT_TOKENS = itertools.count(1)
MEMO_LIMIT = 20_000  # distinct subtrees a SubtreeMemo remembers (bounds its memory)
_FORBIDDEN_MARKERS = (b"<!DOCTYPE", b"<!ENTITY")


# -- units handed to the caller -------------------------------------------------------------------------------------


@dataclass(slots=True)
class Mention:
    """A person, organization or account as one report describes it, before entity resolution."""

    entity: Person | Organization | Account
    provenance: Provenance
    role: str  # from / to / conductor / holder / signatory / director / related / report_party / reporting_person
    my_client: bool = False
    jurisdiction: str | None = None  # the reporting jurisdiction, used to scope national identifiers


@dataclass(slots=True)
class TransactionUnit:
    transaction: Transaction
    mentions: list[Mention]
    relations: list[Relation]
    provenance: Provenance


@dataclass(slots=True)
class PartyUnit:
    """A subject of an activity report (``report_party``), with what hangs off it."""

    mentions: list[Mention]
    relations: list[Relation]
    provenance: Provenance


@dataclass(slots=True)
class ReportUnit:
    """Emitted when a report ends; transactions and parties already emitted refer to its ``report_id``."""

    report: Report
    mentions: list[Mention]  # the reporting person, if any
    provenance: Provenance


@dataclass(slots=True)
class RejectedUnit:
    """A transaction or report party that cannot be stored, with the error problems that say why."""

    kind: str
    ref: str | None
    provenance: Provenance
    reasons: list[Problem]


Unit = TransactionUnit | PartyUnit | ReportUnit | RejectedUnit


def _local(tag: str) -> str:
    return tag.rpartition("}")[2] if "}" in tag else tag


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(slots=True)
class _ReportState:
    element: Any
    index: int
    path: str
    #: (subtree key, role, my_client) -> (account id, party id) of the mentions made for a repeated subject
    built: dict[tuple[Any, ...], tuple[str | None, str | None]] = field(default_factory=dict)
    token: int = field(default_factory=lambda: next(_REPORT_TOKENS))  # unique in the process (memo ownership)
    report_id: str | None = None
    local_currency: str | None = None
    submission_date: dt.datetime | None = None
    rentity_id: str | None = None
    jurisdiction: str | None = None
    transactions: int = 0
    parties: int = 0
    numbers: dict[str, int] = field(default_factory=dict)


class GoamlReader:
    """Iterate over the units of one goAML file; problems accumulate in :attr:`problems`.

    ``mention_prefix`` makes the mention ids of this reader unique among several readers of one ingest run.
    ``now`` is the reference time for "date in the future" checks.
    """

    def __init__(
        self,
        path: Path,
        profile: Profile | None = None,
        *,
        display_name: str | None = None,
        mention_prefix: str = "m",
        now: dt.datetime | None = None,
        sha256: str | None = None,
        memo: SubtreeMemo | None = None,
    ) -> None:
        self.path = path
        self.file = display_name or str(path)
        self.profile = profile or codes.default_profile()
        self.problems: list[Problem] = []
        self.stats: dict[str, int] = {"reports": 0, "transactions": 0, "report_parties": 0}
        self.schema_version = "4.x"
        self.sha256 = sha256
        self._prefix = mention_prefix
        self._seq = 0
        self._now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
        self._future_limit = self._now + dt.timedelta(days=1)
        self._report: _ReportState | None = None
        self.fatal = False
        # subtrees (sides, accounts, persons, entities) already walked, by their serialized bytes (see SubtreeMemo)
        self._memo = memo if memo is not None else SubtreeMemo()
        self._v5_seen = 0

    # -- problems --

    def _problem(
        self, code: str, *, line: int | None, path: str | None, ref: str | None = None, **params: Any
    ) -> Problem:
        problem = make_problem(
            code,
            file=self.file,
            line=line,
            path=path,
            ref=ref,
            severity=self.profile.severity_for(code),
            **params,
        )
        self.problems.append(problem)
        if problem.severity is Severity.FATAL:
            self.fatal = True
        return problem

    # -- entry point --

    def __iter__(self) -> Iterator[Unit]:
        try:
            if self.sha256 is None:
                self.sha256 = sha256_file(self.path)
            size = self.path.stat().st_size
            if size == 0:
                self._problem("FI-R006", line=None, path=None)
                return
            if not self._prescan():
                return
        except OSError as exc:
            self._problem("FI-R001", line=None, path=None, reason=exc.strerror or str(exc))
            return
        yield from self._parse()

    def _prescan(self) -> bool:
        with self.path.open("rb") as fh:
            head = fh.read(PRESCAN_BYTES)
        candidates = [head]
        for enc in ("utf-16-le", "utf-16-be"):
            candidates.extend(m.decode("ascii").encode(enc) for m in _FORBIDDEN_MARKERS)
        for marker in (*_FORBIDDEN_MARKERS, *candidates[1:]):
            pos = head.find(marker)
            if pos >= 0:
                line = head[:pos].count(b"\n") + 1 if marker in _FORBIDDEN_MARKERS else None
                self._problem(
                    "FI-R003",
                    line=line,
                    path=None,
                    reason="document type declarations (DTD) and entity declarations are not allowed in goAML reports",
                )
                return False
        return True

    def _parse(self) -> Iterator[Unit]:
        # lxml filters the events: Python sees only reports, streamed units and XInclude elements, not every element
        context = etree.iterparse(
            str(self.path),
            events=("start", "end"),
            tag=["{*}report", "{*}reportdata", "{*}transaction", "{*}report_party", "{" + XINCLUDE_NS + "}*"],
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        report_index = 0
        checked_root = False
        try:
            for event, el in context:
                tag = el.tag
                if tag.startswith("{" + XINCLUDE_NS + "}"):
                    self._problem("FI-R003", line=el.sourceline, path=None, reason="XInclude is not allowed")
                    return
                if not checked_root:
                    checked_root = True
                    if not self._root_ok(el.getroottree()):
                        return
                name = _local(tag)
                report = self._report
                if len(el.attrib) > self.profile.max_attributes:
                    self._too_many_attributes(el)
                    return
                if event == "start":
                    parent = el.getparent()
                    if name == "report" or (name == "reportdata" and parent is None):
                        report_index += 1
                        self.stats["reports"] += 1
                        rpath = f"/{name}" if parent is None else f"/{_local(parent.tag)}/{name}[{report_index}]"
                        self._report = _ReportState(el, report_index, rpath)
                    continue
                if report is None:
                    continue
                if name == "transaction":
                    report.transactions += 1
                    self.stats["transactions"] += 1
                    yield self._transaction(el, self._unit_path(el, report, report.transactions), report)
                    _drop(el)
                elif name == "report_party":
                    report.parties += 1
                    self.stats["report_parties"] += 1
                    yield self._report_party(el, self._unit_path(el, report, report.parties), report)
                    _drop(el)
                elif el is report.element:
                    yield from self._finish_report(report)
                    self._report = None
                    if el.getparent() is not None:
                        _drop(el)
            if not checked_root and not self._root_ok(context.root.getroottree()):
                return
        except etree.XMLSyntaxError as exc:
            msg = str(exc.msg or exc)
            line = exc.lineno if exc.lineno else None
            if "huge" in msg.lower() or "depth" in msg.lower() or "limit" in msg.lower():
                self._problem("FI-R005", line=line, path=None, reason=msg)
            else:
                self._problem("FI-R002", line=line, path=None, reason=msg)
            return
        if report_index == 0 and not self.problems:
            self._problem("FI-R004", line=1, path=None, element="(none)")

    def _too_many_attributes(self, el: Any) -> None:
        self._problem(
            "FI-R005",
            line=el.sourceline,
            path=None,
            reason=f"<{_local(el.tag)}> has {len(el.attrib)} attributes; the limit is {self.profile.max_attributes} "
            "(profile setting max_attributes)",
        )

    def _root_ok(self, tree: Any) -> bool:
        if tree.docinfo.internalDTD is not None:  # belt and braces after the prescan
            self._problem("FI-R003", line=1, path=None, reason="DTD not allowed")
            return False
        root = tree.getroot()
        if len(root.attrib) > self.profile.max_attributes:
            self._too_many_attributes(root)
            return False
        name = _local(root.tag) if isinstance(root.tag, str) else "(none)"
        if name not in ROOTS:
            self._problem("FI-R004", line=root.sourceline, path=f"/{name}", element=name)
            return False
        if name == "reportdata":
            self.schema_version = "5.x"
        return True

    @staticmethod
    def _unit_path(el: Any, report: _ReportState, n: int) -> str:
        """Element path of a streamed unit: the report's path, the wrappers between, the unit with its number."""
        between = []
        node = el.getparent()
        while node is not None and node is not report.element:
            between.append(_local(node.tag))
            node = node.getparent()
        middle = "".join(f"/{x}" for x in reversed(between))
        return f"{report.path}{middle}/{_local(el.tag)}[{n}]"

    # -- the report header --

    def _ensure_report_context(self, report: _ReportState) -> str:
        """The report id and context, from the header elements read so far (they precede all transactions)."""
        if report.report_id is not None:
            return report.report_id
        el = report.element
        values: dict[str, str] = {}
        for child in el:
            if isinstance(child.tag, str) and child.text:
                values[_local(child.tag)] = child.text.strip()
            if isinstance(child.tag, str) and _local(child.tag) == "location":
                for sub in child:
                    if isinstance(sub.tag, str) and _local(sub.tag) == "country_code" and sub.text:
                        values["location_country"] = sub.text.strip()
        return self.set_report_context(report, values)

    def set_report_context(self, report: _ReportState, values: dict[str, str]) -> str:
        """Report id, local currency, submission date and jurisdiction from the header's (stripped) values."""
        report.rentity_id = values.get("rentity_id") or "unknown"
        ref = values.get("entity_reference")
        if ref:
            report.report_id = f"{report.rentity_id}:{ref}"
        else:
            report.report_id = f"{report.rentity_id}:{(self.sha256 or '')[:12]}:{report.index}"
        cur = values.get("currency_code_local")
        report.local_currency = cur if cur and codes.is_currency(cur) else None
        sub = values.get("submission_date")
        report.submission_date = parse_datetime(sub) if sub else None
        country = values.get("location_country")
        if country and codes.is_country(country):
            report.jurisdiction = country
        elif self.profile.jurisdiction:
            report.jurisdiction = self.profile.jurisdiction
        return report.report_id

    def _finish_report(self, report: _ReportState) -> Iterator[Unit]:
        self._ensure_report_context(report)
        d = self._walk(report.element, TYPES["report"], report.path, "report", skip=_REPORT_STREAM_WRAPPERS)
        self._walk_wrappers(report)
        yield self.report_unit(d, report.element.sourceline, report)

    def report_unit(self, d: dict[str, Any], line: int | None, report: _ReportState) -> ReportUnit:
        """The unit of a walked report header ``d`` (the walk's output, or the same built by ``colread``)
        with the reporting person's mention."""
        report_id = report.report_id or ""
        if report.transactions == 0 and report.parties == 0:
            self._problem("FI-V010", line=line, path=report.path)
        indicators = [str(v) for v in (d.get("report_indicators") or {}).get("indicator", []) if v]
        prov = construct(Provenance, report_id=report_id, file=self.file, line=line, path=report.path)
        mentions: list[Mention] = []
        rp = d.get("reporting_person")
        if isinstance(rp, dict):
            person = self._person(rp)
            if person is not None:
                mentions.append(self._mention(person, rp, report, "reporting_person"))
        rentity = d.get("rentity_id")
        report_code = d.get("report_code")
        model = Report(
            report_id=report_id,
            rentity_id=str(rentity) if rentity is not None else (report.rentity_id or "unknown"),
            rentity_branch=d.get("rentity_branch"),
            submission_code=d.get("submission_code"),
            report_code=str(report_code) if report_code else "unknown",
            entity_reference=d.get("entity_reference"),
            fiu_ref_number=d.get("fiu_ref_number"),
            submission_date=d.get("submission_date"),
            currency_code_local=d.get("currency_code_local"),
            jurisdiction=report.jurisdiction,
            reason=d.get("reason"),
            action=d.get("action"),
            indicators=indicators,
            schema_version=self.schema_version,
            source_file=self.file,
            source_sha256=self.sha256,
            transaction_count=report.transactions,
            party_count=report.parties,
        )
        return ReportUnit(report=model, mentions=mentions, provenance=prov)

    def _walk_wrappers(self, report: _ReportState) -> None:
        """Check the wrappers of the streamed units (``transactions``, ``activity`` and its ``report_parties``) and
        what else they hold (an activity's goods and services); the units in them were walked as they ended."""
        for child in report.element:
            if not isinstance(child.tag, str):
                continue
            name = _local(child.tag)
            path = f"{report.path}/{name}"
            if name == "transactions":
                self._walk(child, TYPES["transactions"], path, name, skip=_STREAMED_TRANSACTION)
            elif name == "activity":
                self._walk(child, TYPES["activity"], path, name, skip=_STREAMED_PARTIES)
                for sub in child:
                    if isinstance(sub.tag, str) and _local(sub.tag) == "report_parties":
                        self._walk(
                            sub,
                            TYPES["report_parties"],
                            f"{path}/report_parties",
                            "report_parties",
                            skip=_STREAMED_PARTY,
                            streamed={"report_party": report.parties},
                        )

    # -- generic schema walk --

    def _walk(
        self,
        el: Any,
        ctype: ComplexType,
        path: str,
        typename: str,
        *,
        skip: frozenset[str] = frozenset(),
        ref: str | None = None,
        streamed: dict[str, int] | None = None,
    ) -> dict[str, Any]:
        """Check ``el`` against ``ctype`` and return its values. Children named in ``skip`` are counted, not walked;
        ``streamed`` counts children already walked and removed from the tree (transactions, report parties)."""
        lines: dict[str, int] = {}
        rel: dict[str, Any] = {}
        out: dict[str, Any] = {"_line": el.sourceline, "_path": path, "_lines": lines, "_rel": rel}
        counts: dict[str, int] = {k: n for k, n in (streamed or {}).items() if n}
        last_index = -1
        index = ctype.index
        for child in el:
            tag = child.tag
            if not isinstance(tag, str):
                continue
            if child.attrib and len(child.attrib) > self.profile.max_attributes:
                self._too_many_attributes(child)
                continue
            name = _local(tag)
            if name in skip:
                counts[name] = counts.get(name, 0) + 1
                continue
            if name in V5_ELEMENTS:
                self.schema_version = "5.x"
                self._v5_seen += 1
            entry = index.get(name)
            if entry is None:
                self._problem(
                    "FI-S003",
                    line=child.sourceline,
                    path=f"{path}/{name}",
                    ref=ref,
                    element=name,
                    parent=_last(path),
                )
                continue
            pos, spec = entry
            n = counts.get(name, 0) + 1
            counts[name] = n
            cpath = f"{path}/{name}[{n}]" if spec.max > 1 else f"{path}/{name}"
            if n > spec.max:
                if n == spec.max + 1:
                    self._problem(
                        "FI-S012",
                        line=child.sourceline,
                        path=cpath,
                        ref=ref,
                        element=name,
                        parent=_last(path),
                        max=spec.max,
                        count=n,
                    )
                continue
            if pos < last_index:
                self._problem(
                    "FI-S013",
                    line=child.sourceline,
                    path=cpath,
                    ref=ref,
                    element=name,
                    before=ctype.fields[last_index].name,
                    parent=_last(path),
                )
            else:
                last_index = pos
            if spec.is_leaf:
                value = self._leaf(child, spec, cpath, ref)
                lines[name] = child.sourceline
            else:
                if spec.type in _MEMO_TYPES:
                    value = self._walk_subject(child, spec.type, cpath, ref)
                else:
                    value = self._walk(child, TYPES[spec.type], cpath, spec.type, ref=ref)
                # where the child starts, relative to this element (to copy the walk elsewhere: _rebase)
                offset = (child.sourceline or 0) - (el.sourceline or 0)
                if spec.max > 1:
                    rel.setdefault(name, []).append(offset)
                else:
                    rel[name] = offset
            if spec.max > 1:
                out.setdefault(name, []).append(value)
            else:
                out[name] = value
        extra = self.profile.mandatory_for(typename)
        for spec in ctype.fields:
            if (spec.min > 0 or spec.name in extra) and spec.name not in counts:
                self._problem(
                    "FI-S001",
                    line=el.sourceline,
                    path=f"{path}/{spec.name}",
                    ref=ref,
                    element=spec.name,
                    parent=_last(path),
                )
        for choice in ctype.choices:
            present = [n for n in choice.names if n in counts]
            if not choice.min <= len(present) <= choice.max:
                expected = (
                    "exactly one of "
                    if choice.min == choice.max == 1
                    else "at most one of "
                    if choice.min == 0
                    else "at least one of "
                ) + ", ".join(f"<{n}>" for n in choice.names)
                found = ", ".join(f"<{n}>" for n in present) or "none"
                self._problem(
                    "FI-S011",
                    line=el.sourceline,
                    path=path,
                    ref=ref,
                    parent=_last(path),
                    expected=expected,
                    found=found,
                )
        if typename in _MY_CLIENT_PERSON_TYPES:
            self._check_person_identified(out, path, ref)
        elif typename in _ACCOUNT_TYPES:
            iban = out.get("iban")
            if iban and not iban_is_valid(iban):
                self._problem("FI-V009", line=lines.get("iban"), path=f"{path}/iban", ref=ref, element="iban")
        return out

    def _walk_subject(self, el: Any, typename: str, path: str, ref: str | None) -> dict[str, Any]:
        """Walk a transaction side or an account, person or entity, or copy the walk of a byte-identical one.

        Reports repeat the same subject (the client's account with its holder and directors) in every transaction,
        and reports of one reporting entity repeat it across reports. A subtree that gave no problem gives none
        again, so only its first occurrence is walked. In a report, repeats share the first occurrence's walk (its
        lines and paths are the provenance of the subject's mentions, made once per report: ``_key`` and
        ``_ReportState.built``); another report gets a copy with its own lines and paths.
        """
        key = (typename, etree.tostring(el, with_tail=False))
        token = self._report.token if self._report is not None else 0
        entry = self._memo.get(key)
        if entry is not None:
            cached: dict[str, Any] = entry[0]
            if entry[2]:
                self.schema_version = "5.x"
            if entry[1] != token:  # first time in this report: its own lines and paths
                cached = _rebase(cached, el.sourceline or 0, path)
                entry[0], entry[1] = cached, token
            return cached
        before, v5_before = len(self.problems), self._v5_seen
        value = self._walk(el, TYPES[typename], path, typename, ref=ref)
        # a foreign-currency block is checked against the transaction's amount, which is outside the subtree
        if len(self.problems) == before and not any("foreign_currency" in k for k in value):
            value["_key"] = key
            self._memo.put(key, [value, token, self._v5_seen > v5_before])
        return value

    def _leaf(self, el: Any, spec: FieldSpec, path: str, ref: str | None) -> Any:
        raw = el.text
        text = raw.strip() if raw else ""
        line = el.sourceline
        if len(el):
            # an element child where a value is expected: report the first unknown child
            first = next((c for c in el if isinstance(c.tag, str)), None)
            if first is not None:
                self._problem(
                    "FI-S003",
                    line=first.sourceline,
                    path=f"{path}/{_local(first.tag)}",
                    ref=ref,
                    element=_local(first.tag),
                    parent=spec.name,
                )
        if not text:
            if spec.min > 0:
                self._problem("FI-S002", line=line, path=path, ref=ref, element=spec.name)
            return None
        t = spec.type
        if t == "text":
            if len(text) > self.profile.max_text_length:
                self._problem(
                    "FI-S014",
                    line=line,
                    path=path,
                    ref=ref,
                    element=spec.name,
                    length=len(text),
                    max=self.profile.max_text_length,
                )
                return text[: self.profile.max_text_length]
            return text
        if t == "decimal":
            dec = parse_decimal(text)
            if dec is None:
                self._bad_value("FI-S005", spec, text, line, path, ref)
            return dec
        if t == "datetime":
            value = parse_datetime(text)
            if value is None:
                self._bad_value("FI-S004", spec, text, line, path, ref)
                return None
            if value > self._future_limit:
                self._bad_value("FI-V004", spec, text, line, path, ref)
            elif value < MIN_DATE:
                self._bad_value("FI-V005", spec, text, line, path, ref)
            return value
        if t in _SCALARS:
            parse, kind = _SCALARS[t]
            scalar = parse(text)
            if scalar is None:
                self._bad_value("FI-S006", spec, text, line, path, ref, kind=kind)
            return scalar
        if t == "country":
            if not codes.is_country(text):
                self._bad_value("FI-S009", spec, text, line, path, ref)
                return None
            return text
        if t == "currency" or t == "asset":
            if codes.is_currency(text) or (t == "asset" and codes.is_crypto(text)):
                return text.upper() if t == "asset" else text
            extra = " or a known virtual-asset ticker" if t == "asset" else ""
            self._bad_value("FI-S008", spec, text, line, path, ref, extra=extra)
            return None
        # code:<list>
        listname = t[5:]
        codelist = self.profile.codelists.get(listname)
        if codelist is not None and text not in codelist.codes:
            if codelist.mode == "strict":
                self._bad_value("FI-S007", spec, text, line, path, ref, codelist=listname)
            else:
                self._bad_value("FI-S010", spec, text, line, path, ref, codelist=listname, profile=self.profile.name)
        return text

    def _bad_value(
        self, code: str, spec: FieldSpec, text: str, line: int | None, path: str, ref: str | None, **params: Any
    ) -> None:
        """A problem with a leaf's value: element and value (hidden when personal) named, with the location."""
        self._problem(code, line=line, path=path, ref=ref, element=spec.name, value=_shown(spec.name, text), **params)

    def _check_person_identified(self, d: dict[str, Any], path: str, ref: str | None) -> None:
        if any(d.get(k) for k in ("ssn", "passport_number", "id_number", "identification", "tax_number")):
            return
        self._problem(
            "FI-V011",
            line=d["_line"],
            path=path,
            ref=ref,
            element=_last(path),
            missing="identifier (ssn, passport_number, id_number, identification or tax_number)",
        )

    # -- transactions --

    def _transaction(self, el: Any, path: str, report: _ReportState) -> Unit:
        report_id = self._ensure_report_context(report)
        number_el = next((c for c in el if isinstance(c.tag, str) and _local(c.tag) == "transactionnumber"), None)
        number = (number_el.text or "").strip() if number_el is not None else ""
        ref = number or None
        start = len(self.problems)
        d = self._walk(el, TYPES["transaction"], path, "transaction", ref=ref)
        line = el.sourceline
        prov = construct(Provenance, report_id=report_id, file=self.file, line=line, path=path)

        amount_local: Decimal | None = d.get("amount_local")
        if amount_local is not None and amount_local <= 0:
            self._problem(
                "FI-V001",
                line=d["_lines"].get("amount_local"),
                path=f"{path}/amount_local",
                ref=ref,
                element="amount_local",
                value=amount_local,
            )
        duplicate = False
        if number:
            first = report.numbers.get(number)
            if first is not None:
                duplicate = True
                self._problem(
                    "FI-V002",
                    line=d["_lines"].get("transactionnumber", line),
                    path=f"{path}/transactionnumber",
                    ref=ref,
                    value=number,
                    first=f"line {first}",
                )
            else:
                report.numbers[number] = d["_lines"].get("transactionnumber", line)
        timestamp: dt.datetime | None = d.get("date_transaction")
        if timestamp is not None and report.submission_date is not None and timestamp > report.submission_date:
            self._problem(
                "FI-V008",
                line=d["_lines"].get("date_transaction", line),
                path=f"{path}/date_transaction",
                ref=ref,
                element="date_transaction",
                value=timestamp.isoformat(),
                submitted=report.submission_date.isoformat(),
            )

        mentions: list[Mention] = []
        relations: list[Relation] = []
        sides: dict[str, dict[str, Any]] = {}
        for side in ("from", "to"):
            my = d.get(f"t_{side}_my_client")
            plain = d.get(f"t_{side}")
            block = my if isinstance(my, dict) else plain if isinstance(plain, dict) else None
            if block is not None:
                sides[side] = {"my_client": isinstance(my, dict), "block": block}
        parties_block = d.get("involved_parties")
        if isinstance(parties_block, dict):
            self._multi_party_sides(parties_block, sides)
        for side in ("from", "to"):
            if side not in sides:
                self._problem("FI-V003", line=line, path=path, ref=ref, side=side)

        # the transaction's currency: the foreign-currency block if any, else the local currency
        amount = amount_local
        currency = report.local_currency
        for side in ("from", "to"):
            info = sides.get(side)
            if info is None:
                continue
            fc = info["block"].get(f"{side}_foreign_currency") or info["block"].get("foreign_currency")
            if isinstance(fc, dict):
                self._check_foreign_currency(fc, amount_local, report, ref)
                if fc.get("foreign_amount") is not None and fc.get("foreign_currency_code"):
                    amount = fc["foreign_amount"]
                    currency = fc["foreign_currency_code"]
                break

        if (
            duplicate
            or not number
            or timestamp is None
            or amount is None
            or amount <= 0
            or currency is None
            or amount_local is None
            or amount_local <= 0
            or len(sides) < 2
        ):
            reasons = [p for p in self.problems[start:] if p.severity.rank >= Severity.ERROR.rank]
            if not reasons:  # e.g. the report header has no valid local currency
                reasons = [
                    make_problem(
                        "FI-S001",
                        file=self.file,
                        line=report.element.sourceline,
                        path=f"{report.path}/currency_code_local",
                        ref=ref,
                        element="currency_code_local",
                        parent="report",
                    )
                ]
            return RejectedUnit("transactions", ref, prov, reasons)

        refs: dict[str, tuple[str | None, str | None]] = {}
        for side, info in sides.items():
            refs[side] = self._side_subject(info, side, report, mentions, relations)
        conductor_id = None
        from_block = sides["from"]["block"]
        conductor = from_block.get("t_conductor")
        if isinstance(conductor, dict):

            def conductor_refs() -> tuple[str | None, str | None]:
                person = self._person(conductor)
                if person is None:
                    return None, None
                mentions.append(self._mention(person, conductor, report, "conductor"))
                return None, person.party_id

            conductor_id = self._built_once(report, conductor, "conductor", False, conductor_refs)[1]

        tx = construct(  # values already checked by the schema walk
            Transaction, **transaction_fields(d, number, report, amount, currency, sides, refs, conductor_id)
        )
        return TransactionUnit(transaction=tx, mentions=mentions, relations=relations, provenance=prov)

    def _multi_party_sides(self, block: dict[str, Any], sides: dict[str, dict[str, Any]]) -> None:
        """Map involved_parties to from/to by role: SND/CND -> from, RCV/BEN -> to (first of each)."""
        for party in block.get("party", []):
            if not isinstance(party, dict):
                continue
            role = (party.get("role") or "").upper()
            side = "from" if role in ("SND", "CND") else "to" if role in ("RCV", "BEN") else None
            if side is None or side in sides:
                continue
            sides[side] = {"my_client": any(k.endswith("_my_client") for k in party), "block": party, "multi": True}

    def _check_foreign_currency(
        self, fc: dict[str, Any], amount_local: Decimal | None, report: _ReportState, ref: str | None
    ) -> None:
        code = fc.get("foreign_currency_code")
        amount = fc.get("foreign_amount")
        rate = fc.get("foreign_exchange_rate")
        path = fc["_path"]
        if code and report.local_currency and code == report.local_currency:
            self._problem(
                "FI-V006",
                line=fc["_lines"].get("foreign_currency_code"),
                path=f"{path}/foreign_currency_code",
                ref=ref,
                reason=f"foreign currency {code} is the report's local currency",
            )
        if amount is not None and amount <= 0:
            self._problem(
                "FI-V001",
                line=fc["_lines"].get("foreign_amount"),
                path=f"{path}/foreign_amount",
                ref=ref,
                element="foreign_amount",
                value=amount,
            )
            return
        if amount is None or rate is None or amount_local is None or rate <= 0 or amount_local <= 0:
            return
        tolerance = Decimal("0.01") * amount_local
        if abs(amount * rate - amount_local) > tolerance and abs(amount / rate - amount_local) > tolerance:
            self._problem(
                "FI-V006",
                line=fc["_line"],
                path=path,
                ref=ref,
                reason=(
                    f"foreign_amount {amount} at rate {rate} does not give amount_local {amount_local} (1% tolerance)"
                ),
            )

    def _side_subject(
        self,
        info: dict[str, Any],
        side: str,
        report: _ReportState,
        mentions: list[Mention],
        relations: list[Relation],
    ) -> tuple[str | None, str | None]:
        """Create the mentions for one side; return (account mention id, party mention id)."""
        block = info["block"]
        my_client = bool(info["my_client"])
        suffix = "_my_client" if my_client else ""
        subject = _subject_of(block) if info.get("multi") else _side_subject_of(block, side)
        if subject is None:
            return None, None
        key, value = subject
        kind = key.split("_")[0]

        def build() -> tuple[str | None, str | None]:
            if kind == "account":
                account = self._account_with_holders(value, f"t_account{suffix}", report, mentions, relations, side)
                return (account.account_id if account else None), None
            if kind == "person":
                person = self._person(value)
                if person is None:
                    return None, None
                mentions.append(self._mention(person, value, report, side, my_client))
                return None, person.party_id
            org = self._entity_with_directors(value, report, mentions, relations, side, my_client)
            return None, (org.party_id if org else None)

        return self._built_once(report, value, side, my_client, build)

    @staticmethod
    def _built_once(
        report: _ReportState,
        d: dict[str, Any],
        role: str,
        my_client: bool,
        build: Callable[[], tuple[str | None, str | None]],
    ) -> tuple[str | None, str | None]:
        """(account id, party id) of the mentions for walked subject ``d`` in ``role``: made by ``build`` the first
        time a report meets this subtree (``_key`` from :meth:`_walk_subject`), reused for its repeats."""
        memo_key = (d.get("_key"), role, my_client)
        refs = report.built.get(memo_key)
        if refs is None:
            refs = build()
            if memo_key[0] is not None:
                report.built[memo_key] = refs
        return refs

    # -- report parties (activity reports) --

    def _report_party(self, el: Any, path: str, report: _ReportState) -> Unit:
        report_id = self._ensure_report_context(report)
        start = len(self.problems)
        d = self._walk(el, TYPES["report_party"], path, "report_party")
        prov = construct(Provenance, report_id=report_id, file=self.file, line=el.sourceline, path=path)
        mentions: list[Mention] = []
        relations: list[Relation] = []
        subject = _subject_of(d)
        if subject is None:
            reasons = [p for p in self.problems[start:] if p.severity.rank >= Severity.ERROR.rank]
            return RejectedUnit("report_parties", None, prov, reasons)
        key, value = subject
        my_client = key.endswith("_my_client")
        kind = key.split("_")[0]
        if kind == "account":
            self._account_with_holders(value, f"t_{key}", report, mentions, relations, "report_party")
        elif kind == "person":
            person = self._person(value)
            if person is not None:
                mentions.append(self._mention(person, value, report, "report_party", my_client))
        else:
            self._entity_with_directors(value, report, mentions, relations, "report_party", my_client)
        if not mentions:
            reasons = [p for p in self.problems[start:] if p.severity.rank >= Severity.ERROR.rank]
            return RejectedUnit("report_parties", None, prov, reasons)
        return PartyUnit(mentions=mentions, relations=relations, provenance=prov)

    # -- model builders --

    def _next_id(self) -> str:
        self._seq += 1
        return f"{self._prefix}{self._seq}"

    def _mention(
        self,
        entity: Person | Organization | Account,
        d: dict[str, Any],
        report: _ReportState,
        role: str,
        my_client: bool = False,
    ) -> Mention:
        return Mention(
            entity=entity,
            provenance=construct(
                Provenance, report_id=report.report_id, file=self.file, line=d["_line"], path=d["_path"]
            ),
            role=role,
            my_client=my_client,
            jurisdiction=report.jurisdiction,
        )

    def _person(self, d: dict[str, Any]) -> Person | None:
        first, last = d.get("first_name"), d.get("last_name")
        if not first and not last:
            return None
        middle = d.get("middle_name")
        name = " ".join(x for x in (first, middle, last) if x)
        idents = d.get("identification") or []
        ident = idents[0] if idents and isinstance(idents[0], dict) else {}
        address = _first_address(d)
        phone = _first_phone(d)
        emails = d.get("email") or []
        birth = d.get("birthdate")
        return construct(  # values already checked by the schema walk
            Person,
            party_id=self._next_id(),
            name=name,
            first_name=first,
            middle_name=middle,
            last_name=last,
            gender=d.get("gender"),
            birth_date=birth.date() if isinstance(birth, dt.datetime) else None,
            birth_place=d.get("birth_place"),
            nationality=d.get("nationality1"),
            nationality2=d.get("nationality2"),
            residence=d.get("residence"),
            ssn=d.get("ssn"),
            passport_number=d.get("passport_number"),
            passport_country=d.get("passport_country"),
            id_type=ident.get("type"),
            id_number=ident.get("number") or d.get("id_number"),
            id_country=ident.get("issue_country"),
            tax_number=d.get("tax_number"),
            occupation=d.get("occupation"),
            employer_name=d.get("employer_name"),
            email=emails[0] if emails else None,
            phone=phone,
            address=address.get("address"),
            city=address.get("city"),
            zip=address.get("zip"),
            state=address.get("state"),
            country=address.get("country_code"),
            deceased=d.get("deceased"),
            comments=d.get("comments"),
        )

    def _organization(self, d: dict[str, Any]) -> Organization | None:
        name = d.get("name")
        if not name:
            return None
        address = _first_address(d)
        inc = d.get("incorporation_date")
        closed = d.get("date_business_closed")
        return construct(  # values already checked by the schema walk
            Organization,
            party_id=self._next_id(),
            name=name,
            commercial_name=d.get("commercial_name"),
            legal_form=d.get("incorporation_legal_form"),
            registration_number=d.get("incorporation_number"),
            incorporation_country=d.get("incorporation_country_code"),
            incorporation_state=d.get("incorporation_state"),
            incorporation_date=inc.date() if isinstance(inc, dt.datetime) else None,
            business=d.get("business"),
            tax_number=d.get("tax_number"),
            url=d.get("url"),
            email=d.get("email"),
            phone=_first_phone(d),
            address=address.get("address"),
            city=address.get("city"),
            zip=address.get("zip"),
            state=address.get("state"),
            country=address.get("country_code"),
            closed=d.get("business_closed"),
            closed_date=closed.date() if isinstance(closed, dt.datetime) else None,
            comments=d.get("comments"),
        )

    def _entity_with_directors(
        self,
        d: dict[str, Any],
        report: _ReportState,
        mentions: list[Mention],
        relations: list[Relation],
        role: str,
        my_client: bool,
    ) -> Organization | None:
        org = self._organization(d)
        if org is None:
            return None
        mentions.append(self._mention(org, d, report, role, my_client))
        for director in d.get("director_id") or []:
            if not isinstance(director, dict):
                continue
            person = self._person(director)
            if person is None:
                continue
            mentions.append(self._mention(person, director, report, "director"))
            code = (director.get("role") or "").upper()
            kind = _DIRECTOR_ROLE.get(code, RelationKind.DIRECTS)
            relations.append(self._relation(kind, person.party_id, org.party_id, "party", report, role=code or None))
        related = d.get("related_entities")
        if isinstance(related, dict):
            for item in related.get("related_entity", []):
                if not isinstance(item, dict) or not isinstance(item.get("entity"), dict):
                    continue
                other = self._organization(item["entity"])
                if other is None:
                    continue
                mentions.append(self._mention(other, item["entity"], report, "related"))
                code = (item.get("entity_entity_relation") or "").upper()
                share = item.get("share_percentage")
                if code == "SUB":  # the related entity is a subsidiary: the main entity owns it
                    src, dst, kind = org.party_id, other.party_id, RelationKind.OWNS
                else:
                    src, dst = other.party_id, org.party_id
                    kind = _ENTITY_RELATION.get(code, RelationKind.CONTROLS)
                relations.append(
                    self._relation(
                        kind,
                        src,
                        dst,
                        "party",
                        report,
                        role=code or None,
                        share=share if isinstance(share, Decimal) and 0 <= share <= 100 else None,
                    )
                )
        return org

    def _account_with_holders(
        self,
        d: dict[str, Any],
        typename: str,
        report: _ReportState,
        mentions: list[Mention],
        relations: list[Relation],
        role: str,
    ) -> Account | None:
        account = self._account(d)
        if account is None:
            return None
        my_client = typename.endswith("_my_client")
        mentions.append(self._mention(account, d, report, role, my_client))
        owner = d.get("t_entity")
        if isinstance(owner, dict):
            org = self._entity_with_directors(owner, report, mentions, relations, "holder", my_client)
            if org is not None:
                relations.append(
                    self._relation(RelationKind.HOLDS, org.party_id, account.account_id, "account", report)
                )
        signatories = list(d.get("signatory") or [])
        related = d.get("related_persons")
        if isinstance(related, dict):
            signatories.extend(related.get("account_related_person", []))
        for sig in signatories:
            if not isinstance(sig, dict) or not isinstance(sig.get("t_person"), dict):
                continue
            person = self._person(sig["t_person"])
            if person is None:
                continue
            mentions.append(self._mention(person, sig["t_person"], report, "signatory", my_client))
            code = (sig.get("role") or "").upper()
            primary = sig.get("is_primary")
            if code == "NOM":
                kind = RelationKind.NOMINEE
            elif code == "OWN" or (primary is True and not isinstance(owner, dict)):
                kind = RelationKind.HOLDS
            else:
                kind = RelationKind.SIGNATORY
            relations.append(
                self._relation(
                    kind,
                    person.party_id,
                    account.account_id,
                    "account",
                    report,
                    role=code or None,
                    is_primary=primary if isinstance(primary, bool) else None,
                )
            )
        return account

    def _account(self, d: dict[str, Any]) -> Account | None:
        number = d.get("account")
        if not number:
            return None
        currency = d.get("currency_code")
        swift = d.get("swift")
        kind, chain, address, iban, country = account_identity(
            number, d.get("iban"), currency, d.get("non_bank_institution") is True, swift
        )
        return construct(  # values already checked by the schema walk
            Account,
            account_id=self._next_id(),
            kind=kind,
            institution_name=d.get("institution_name"),
            institution_code=d.get("institution_code"),
            swift=swift,
            branch=d.get("branch"),
            number=number,
            iban=iban,
            name=d.get("account_name"),
            client_number=d.get("client_number"),
            account_type=d.get("personal_account_type"),
            currency=currency,
            country=country,
            opened=d.get("opened"),
            closed=d.get("closed"),
            balance=d.get("balance"),
            balance_date=d.get("date_balance"),
            status=d.get("status_code"),
            chain=chain,
            address=address,
            comments=d.get("comments"),
        )

    def _relation(
        self,
        kind: RelationKind,
        source: str,
        target: str,
        target_type: str,
        report: _ReportState,
        *,
        role: str | None = None,
        share: Decimal | None = None,
        is_primary: bool | None = None,
    ) -> Relation:
        return construct(  # values already checked by the schema walk
            Relation,
            relation_id=self._next_id(),
            kind=kind,
            source_id=source,
            target_id=target,
            target_type="account" if target_type == "account" else "party",
            share=share,
            role=role,
            is_primary=is_primary,
            report_id=report.report_id,
        )


_REPORT_STREAM_WRAPPERS = frozenset({"transaction", "transactions", "activity"})
_STREAMED_TRANSACTION = frozenset({"transaction"})
_STREAMED_PARTIES = frozenset({"report_parties"})
_STREAMED_PARTY = frozenset({"report_party"})
_MY_CLIENT_PERSON_TYPES = frozenset({"t_person_my_client"})
_ACCOUNT_TYPES = frozenset({"t_account", "t_account_my_client"})
_MEMO_TYPES = frozenset(
    {
        *("t_account", "t_account_my_client", "t_person", "t_person_my_client", "t_entity", "t_entity_my_client"),
        *("t_from", "t_from_my_client", "t_to", "t_to_my_client"),
    }
)

_DIRECTOR_ROLE = {
    "DIR": RelationKind.DIRECTS,
    "CEO": RelationKind.DIRECTS,
    "CHAIR": RelationKind.DIRECTS,
    "SEC": RelationKind.DIRECTS,
    "NOM": RelationKind.NOMINEE,
    "SHR": RelationKind.OWNS,
    "UBO": RelationKind.CONTROLS,
    "AUT": RelationKind.CONTROLS,
}
_ENTITY_RELATION = {
    "OWN": RelationKind.OWNS,
    "CTRL": RelationKind.CONTROLS,
    "DIR": RelationKind.DIRECTS,
    "NOM": RelationKind.NOMINEE,
}


class SubtreeMemo:
    """Walks of subtrees that gave no problem, by serialized bytes, shared by the readers of one ingest run.

    Reports repeat the same account (with its holder and directors) in every transaction, and a reporting entity
    repeats it across reports. Share one memo only among readers with the same profile and reference time.
    """

    def __init__(self, limit: int = MEMO_LIMIT) -> None:
        self.limit = limit
        self._entries: dict[tuple[str, bytes], list[Any]] = {}  # [walk, owning report token, saw 5.x elements]
        self.hits = 0

    def get(self, key: tuple[str, bytes]) -> list[Any] | None:
        entry = self._entries.get(key)
        if entry is not None:
            self.hits += 1
        return entry

    def put(self, key: tuple[str, bytes], entry: list[Any]) -> None:
        if self.limit <= 0:
            return
        if len(self._entries) >= self.limit:
            self._entries.clear()
        self._entries[key] = entry


def _rebase(d: dict[str, Any], line: int, path: str) -> dict[str, Any]:
    """A copy of a walked subtree read again at ``line``/``path``: children placed by their offsets and names
    (as :meth:`GoamlReader._walk` names them), leaf lines shifted."""
    shift = line - (d["_line"] or 0)
    rel = d["_rel"]
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and "_path" in v:
            v = _rebase(v, line + rel[k], f"{path}/{k}")
        elif isinstance(v, list) and k in rel:
            v = [_rebase(x, line + rel[k][i], f"{path}/{k}[{i + 1}]") for i, x in enumerate(v)]
        out[k] = v
    out["_line"] = line
    out["_path"] = path
    out["_lines"] = {k: n + shift for k, n in d["_lines"].items()}
    return out


@lru_cache(maxsize=65536)
def account_identity(
    number: str, iban: str | None, currency: str | None, non_bank: bool, swift: str | None
) -> tuple[AccountKind, str | None, str | None, str | None, str | None]:
    """(kind, chain, on-chain address, normalised IBAN, country) of an account as reported: a wallet when the number
    is an address of a chain (strongly recognised, or a non-bank institution, or a virtual-asset currency), a VASP
    account for a non-bank institution or a virtual-asset currency otherwise, else a bank account; the IBAN is
    dropped when invalid (the walk reports FI-V009) and taken from the number when that is one; the country from the
    IBAN, else from the SWIFT/BIC. Both the walk and ``colread`` build accounts with it."""
    if iban and not iban_is_valid(iban):
        iban = None  # reported as FI-V009 by the walk; not used as an identifier
    elif not iban and iban_is_valid(number):
        iban = norm_identifier(number)
    asset = codes.crypto_assets().get(currency or "")
    chain, strong = detect_chain(number, asset.chain if asset else None)
    kind = AccountKind.BANK
    address = None
    if chain is not None and (strong or non_bank or asset is not None):
        kind = AccountKind.WALLET
        address = norm_address(chain, number)
    elif non_bank or asset is not None:
        kind = AccountKind.VASP
        chain = None
    else:
        chain = None
    country = None
    if iban:
        country = norm_identifier(iban)[:2]
    elif swift and len(swift) >= 6:
        country = swift[4:6].upper()
    if country is not None and not codes.is_country(country):
        country = None
    return kind, chain, address, (norm_identifier(iban) if iban else None), country


#: Transaction columns that are one of the transaction element's own leaves, as the walk typed it (column, element):
#: :func:`transaction_fields` and the column reader (``colread._TX``) both read them from here
TRANSACTION_LEAVES: tuple[tuple[str, str], ...] = (
    ("timestamp", "date_transaction"),
    ("value_date", "value_date"),
    ("posting_date", "date_posting"),
    ("amount_local", "amount_local"),
    ("transmode_code", "transmode_code"),
    ("transmode_comment", "transmode_comment"),
    ("transaction_type", "transaction_type"),
    ("description", "transaction_description"),
    ("location", "transaction_location"),
    ("internal_ref", "internal_ref_number"),
    ("late_deposit", "late_deposit"),
    ("comments", "comments"),
)


def transaction_fields(
    d: dict[str, Any],
    number: str,
    report: _ReportState,
    amount: Decimal | None,
    currency: str | None,
    sides: dict[str, dict[str, Any]],
    refs: dict[str, tuple[str | None, str | None]],
    conductor_id: str | None,
) -> dict[str, Any]:
    """The :class:`Transaction` fields of a walked transaction ``d`` with its sides (``{"my_client", "block"}`` per
    side) and their (account, party) mention ids. The transaction's own leaves are :data:`TRANSACTION_LEAVES`, which
    ``colread`` reads column-wise; the differential tests hold the two to the same rows."""
    from_block, to_block = sides["from"]["block"], sides["to"]["block"]
    return {
        "transaction_id": f"{report.rentity_id}:{number}",
        "transaction_number": number,
        "report_id": report.report_id,
        "amount": amount,
        "currency": currency,
        "currency_local": report.local_currency,
        **{column: d.get(name) for column, name in TRANSACTION_LEAVES},
        "from_account_id": refs["from"][0],
        "from_party_id": refs["from"][1],
        "from_funds_code": from_block.get("from_funds_code") or from_block.get("funds_code"),
        "from_country": from_block.get("from_country") or from_block.get("country"),
        "from_my_client": bool(sides["from"]["my_client"]),
        "to_account_id": refs["to"][0],
        "to_party_id": refs["to"][1],
        "to_funds_code": to_block.get("to_funds_code") or to_block.get("funds_code"),
        "to_country": to_block.get("to_country") or to_block.get("country"),
        "to_my_client": bool(sides["to"]["my_client"]),
        "conductor_party_id": conductor_id,
    }


def _subject_of(d: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    for key in ("account_my_client", "account", "person_my_client", "person", "entity_my_client", "entity"):
        value = d.get(key)
        if isinstance(value, dict):
            return key, value
    return None


def _side_subject_of(block: dict[str, Any], side: str) -> tuple[str, dict[str, Any]] | None:
    for kind in ("account", "person", "entity"):
        value = block.get(f"{side}_{kind}")
        if isinstance(value, dict):
            return kind, value
    return None


def _first_address(d: dict[str, Any]) -> dict[str, Any]:
    block = d.get("addresses")
    if isinstance(block, dict):
        items = block.get("address") or []
        if items and isinstance(items[0], dict):
            return items[0]
    return {}


def _first_phone(d: dict[str, Any]) -> str | None:
    block = d.get("phones")
    if isinstance(block, dict):
        items = block.get("phone") or []
        if items and isinstance(items[0], dict):
            prefix = items[0].get("tph_country_prefix")
            number = items[0].get("tph_number")
            if number:
                return f"+{prefix.lstrip('+')} {number}" if prefix else str(number)
    return None


def _drop(el: Any) -> None:
    """Free a processed element: clear it and remove it from its parent."""
    parent = el.getparent()
    el.clear(keep_tail=False)
    if parent is not None:
        parent.remove(el)


def _last(path: str) -> str:
    name = path.rpartition("/")[2]
    return name.partition("[")[0]


#: Integer and boolean leaves: parser and the word problem messages use for the expected kind.
_SCALARS: dict[str, tuple[Callable[[str], Any], str]] = {"int": (parse_int, "integer"), "bool": (parse_bool, "boolean")}

#: Elements whose values identify a person or an account: never echoed in problem messages.
PERSONAL_ELEMENTS = frozenset(
    {
        "first_name",
        "middle_name",
        "last_name",
        "birthdate",
        "birth_place",
        "mothers_name",
        "alias",
        "ssn",
        "passport_number",
        "id_number",
        "number",
        "tax_number",
        "tax_reg_number",
        "email",
        "tph_number",
        "address",
        "account",
        "iban",
        "account_name",
        "client_number",
        "name",
        "incorporation_number",
        "date_deceased",
    }
)


def _shown(element: str, text: str) -> str:
    """What a problem message may show of a value: nothing personal (the location is enough to find it)."""
    return "(hidden: personal data)" if element in PERSONAL_ELEMENTS else _clip(text)


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _unique(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[str, str | None, int | None]] = set()
    out: list[Problem] = []
    for p in problems:
        key = (p.code, p.path, p.line)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def read_goaml(
    path: str | Path, profile: Profile | None = None, *, on_problem: Callable[[Problem], None] | None = None
) -> Iterator[Unit]:
    """Convenience: iterate the units of one file; problems go to ``on_problem`` (if given) when the file ends."""
    reader = GoamlReader(Path(path), profile)
    yield from reader
    if on_problem is not None:
        for p in reader.problems:
            on_problem(p)
