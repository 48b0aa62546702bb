"""Run the test cases that rules carry (``[[tests]]``): real tables through the real tabular reader and detector.

Also usable by rule authors for their own packs: ``finintel rules test DIR``.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from finintel.detect.base import Context
from finintel.formats.tabular import read_dataset
from finintel.rules.engine import run_rule
from finintel.rules.spec import Rule, RuleTest
from finintel.store import Store


@dataclass
class CaseResult:
    rule_id: str
    case: str
    expect: str
    passed: bool
    message: str
    source: str


def store_from_case(case: RuleTest, folder: Path) -> tuple[Store, list[str]]:
    """Write the case's tables as CSV and read them back like any dataset; returns problems as text."""
    for table in ("transactions", "accounts", "parties", "relations"):
        text = getattr(case, table)
        if text:
            (folder / f"{table}.csv").write_text(text.strip() + "\n", encoding="utf-8")
    result = read_dataset(folder)
    problems = [f"{p.location()}: {p.code} {p.message}" for p in result.problems if p.severity.rank >= 2]
    return Store(tables=dict(result.tables)), problems


def run_case(rule: Rule, case: RuleTest) -> CaseResult:
    with tempfile.TemporaryDirectory(prefix="finintel-rule-test-") as tmp:
        store, problems = store_from_case(case, Path(tmp))
    if problems:
        return CaseResult(
            rule.id, case.name, case.expect, False, "fixture has errors: " + "; ".join(problems[:3]), str(rule.source)
        )
    findings = run_rule(Context(store), rule)
    if case.expect == "quiet":
        ok = not findings
        msg = "quiet" if ok else f"fired {len(findings)} finding(s): {findings[0].explanation}"
        return CaseResult(rule.id, case.name, case.expect, ok, msg, str(rule.source))
    if not findings:
        return CaseResult(rule.id, case.name, case.expect, False, "did not fire", str(rule.source))
    if case.expect_transactions:
        want = set(case.expect_transactions)
        if not any(want <= set(f.transactions) for f in findings):
            got = sorted(set(findings[0].transactions))
            return CaseResult(
                rule.id,
                case.name,
                case.expect,
                False,
                f"fired, but no finding holds {sorted(want)} (first has {got})",
                str(rule.source),
            )
    return CaseResult(rule.id, case.name, case.expect, True, f"fired: {findings[0].explanation}", str(rule.source))


def run_rule_tests(rules: list[Rule]) -> list[CaseResult]:
    return [run_case(rule, case) for rule in rules for case in rule.spec.tests]
