"""Run rules over a store: each enabled rule's detector with its parameters and filters -> findings."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from finintel.detect import DETECTORS
from finintel.detect.base import Context, Finding, Hit
from finintel.rules.spec import SEVERITY_RANK, Rule

#: Most specific first. A finding most of whose transactions are also in a finding of a more specific typology is
#: folded into it (a fan-out that is the first half of a scatter-gather, the pass-through legs of a shell chain).
SPECIFICITY = (
    "shell_chain",
    "va_mixer",
    "va_chain_hop",
    "va_peel_chain",
    "va_hop_chain",
    "structuring",
    "cycle",
    "scatter_gather",
    "gather_scatter",
    "pass_through",
    "fan_in",
    "fan_out",
)
RANK = {t: i for i, t in enumerate(SPECIFICITY)}


@dataclass
class RunResult:
    findings: list[Finding]
    timings: dict[str, float] = field(default_factory=dict)  # rule id -> seconds
    consolidated: int = 0  # findings folded into more specific ones


def run_rule(ctx: Context, rule: Rule) -> list[Finding]:
    """One rule's findings, with their evidence."""
    hits = DETECTORS[rule.spec.detector].run(ctx, rule.params, rule.spec.filters)
    return findings_of(ctx, rule, hits, ctx.tx_index(t for hit in hits for t in hit.transactions))


def findings_of(
    ctx: Context, rule: Rule, hits: list[Hit], tx_index: dict[str, tuple[dt.datetime, float, str]]
) -> list[Finding]:
    """A rule's hits as findings, their times and amounts from ``tx_index`` (:meth:`Context.tx_index` of at least
    the hits' transactions)."""
    findings = []
    for hit in hits:
        rows = [tx_index[t] for t in hit.transactions if t in tx_index]
        start = min((r[0] for r in rows), default=None)
        end = max((r[0] for r in rows), default=None)
        currency = rows[0][2] if rows else None
        accounts = [n for n in dict.fromkeys(hit.nodes) if ctx.node_kind.get(n) in ("bank", "vasp", "wallet")]
        findings.append(
            Finding(
                rule_id=rule.id,
                rule_version=rule.spec.version,
                typology=rule.spec.typology,
                severity=rule.spec.severity,
                score=round(hit.score, 4),
                explanation=hit.explanation,
                transactions=list(dict.fromkeys(hit.transactions)),
                accounts=accounts,
                parties=ctx.parties_of(hit.nodes),
                path=hit.path,
                start=start,
                end=end,
                total_amount=sum(r[1] for r in rows),
                currency=currency,
                details=hit.details,
            )
        )
    return findings


def order_key(f: Finding) -> tuple[int, float, str, str]:
    return (-SEVERITY_RANK[f.severity], -f.score, f.start.isoformat() if f.start else "", f.finding_id)


def run_rules(
    ctx: Context, rules: list[Rule], progress: Callable[[Rule], None] | None = None, *, min_overlap: float = 0.5
) -> RunResult:
    """Run every enabled rule; ``min_overlap`` >= 1 turns consolidation off."""
    timings: dict[str, float] = {}
    hits: list[tuple[Rule, list[Hit]]] = []
    for rule in rules:
        if not rule.spec.enabled:
            continue
        if progress is not None:
            progress(rule)
        t0 = time.perf_counter()
        hits.append((rule, DETECTORS[rule.spec.detector].run(ctx, rule.params, rule.spec.filters)))
        timings[rule.id] = round(time.perf_counter() - t0, 4)
    # the evidence of every rule's hits from one lookup in the transaction table (one per rule took 0.1 s each at
    # 10M transactions: every lookup hashes every transaction id)
    t0 = time.perf_counter()
    tx_index = ctx.tx_index(t for _, found in hits for hit in found for t in hit.transactions)
    findings = [f for rule, found in hits for f in findings_of(ctx, rule, found, tx_index)]
    timings["evidence"] = round(time.perf_counter() - t0, 4)
    unique = list({f.finding_id: f for f in findings}.values())
    kept = consolidate(unique, min_overlap) if min_overlap < 1 else unique
    return RunResult(findings=sorted(kept, key=order_key), timings=timings, consolidated=len(unique) - len(kept))


def consolidate(findings: list[Finding], min_overlap: float = 0.5) -> list[Finding]:
    """Fold each finding into the most specific other finding that holds at least ``min_overlap`` of its
    transactions; the kept finding lists what it absorbed in ``details['also_matches']``."""
    order = sorted(findings, key=lambda f: (RANK.get(f.typology, len(RANK)), -len(f.transactions), f.finding_id))
    by_tx: dict[str, list[int]] = {}
    kept: list[Finding] = []
    for f in order:
        txs = set(f.transactions)
        counts: dict[int, int] = {}
        for t in txs:
            for k in by_tx.get(t, ()):
                counts[k] = counts.get(k, 0) + 1
        owner = next(
            (
                k
                for k, n in sorted(counts.items())
                if n >= min_overlap * len(txs) and RANK.get(kept[k].typology, 99) < RANK.get(f.typology, 99)
            ),
            None,
        )
        if owner is not None:
            kept[owner].details.setdefault("also_matches", []).append(
                {"rule_id": f.rule_id, "typology": f.typology, "finding_id": f.finding_id}
            )
            continue
        kept.append(f)
        for t in txs:
            by_tx.setdefault(t, []).append(len(kept) - 1)
    return kept
