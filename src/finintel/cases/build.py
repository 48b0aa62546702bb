"""Cases: findings that share accounts or parties (directly or through ownership and control links) are one case.

A case has a stable id (hash of its finding ids), an explained risk score, the jurisdictions involved, totals per
currency, first and last activity, and its subjects ranked by centrality (PageRank) in the case graph.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import polars as pl

from finintel.detect.base import Finding
from finintel.graph import build_graph
from finintel.store import Store

SEVERITY_WEIGHT = {"low": 1.0, "medium": 2.0, "high": 5.0, "critical": 10.0}
LINK_KINDS = ("owns", "controls", "directs", "nominee", "holds", "signatory")


@dataclass
class Case:
    case_id: str
    findings: list[Finding]
    transactions: list[str]
    accounts: list[str]
    parties: list[str]
    risk_score: float
    risk_explanation: list[dict[str, Any]]
    jurisdictions: list[str]
    totals: dict[str, float]
    first_activity: dt.datetime | None
    last_activity: dt.datetime | None
    subjects: list[dict[str, Any]] = field(default_factory=list)

    @property
    def typologies(self) -> list[str]:
        return sorted({f.typology for f in self.findings})

    @property
    def worst_severity(self) -> str:
        return max((f.severity for f in self.findings), key=lambda s: SEVERITY_WEIGHT[s])


def _risk(findings: list[Finding]) -> tuple[float, list[dict[str, Any]]]:
    """0-100: 100 * (1 - exp(-sum(weight(severity) * score) / 10)); each finding's contribution is listed."""
    parts = [
        {
            "finding_id": f.finding_id,
            "rule_id": f.rule_id,
            "typology": f.typology,
            "severity": f.severity,
            "weight": SEVERITY_WEIGHT[f.severity],
            "score": f.score,
            "contribution": round(SEVERITY_WEIGHT[f.severity] * f.score, 4),
        }
        for f in findings
    ]
    raw = sum(SEVERITY_WEIGHT[f.severity] * f.score for f in findings)
    return round(100 * (1 - math.exp(-raw / 10)), 1), parts


def build_cases(store: Store, findings: list[Finding]) -> list[Case]:
    if not findings:
        return []
    # union-find over findings: two findings join when they share an account or party, or when their parties are
    # linked by ownership/control/directorship (a shell network and the account it feeds are one case)
    links: dict[str, set[str]] = defaultdict(set)
    rel = store.relations.filter(pl.col("kind").is_in(LINK_KINDS))
    for src, dst in rel.select("source_id", "target_id").iter_rows():
        links[src].add(dst)
        links[dst].add(src)
    parent = list(range(len(findings)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, f in enumerate(findings):
        nodes = set(f.accounts) | set(f.parties)
        nodes |= {n for p in f.parties for n in links.get(p, ())}
        for node in sorted(nodes):
            if node in owner:
                a, b = find(owner[node]), find(i)
                if a != b:
                    parent[max(a, b)] = min(a, b)
            else:
                owner[node] = i
    groups: dict[int, list[Finding]] = defaultdict(list)
    for i, f in enumerate(findings):
        groups[find(i)].append(f)
    tx = store.transactions
    cases = []
    for members in groups.values():
        cases.append(_case(store, tx, members))
    return sorted(cases, key=lambda c: (-c.risk_score, c.case_id))


def _case(store: Store, tx: pl.DataFrame, findings: list[Finding]) -> Case:
    ids = sorted(f.finding_id for f in findings)
    case_id = "C-" + hashlib.sha256("|".join(ids).encode()).hexdigest()[:12]
    tids = list(dict.fromkeys(t for f in findings for t in f.transactions))
    accounts = list(dict.fromkeys(a for f in findings for a in f.accounts))
    parties = list(dict.fromkeys(p for f in findings for p in f.parties))
    rows = tx.filter(pl.col("transaction_id").is_in(tids))
    money = rows.select(
        pl.coalesce("currency_local", "currency").alias("cur"),
        pl.coalesce("amount_local", "amount").cast(pl.Float64).alias("amt"),
    )
    totals = {c: round(float(a), 2) for c, a in money.group_by("cur").agg(pl.col("amt").sum()).sort("cur").rows()}
    countries = set(rows["from_country"].drop_nulls()) | set(rows["to_country"].drop_nulls())
    acc = store.accounts.filter(pl.col("account_id").is_in(accounts))
    countries |= set(acc["country"].drop_nulls())
    par = store.parties.filter(pl.col("party_id").is_in(parties))
    countries |= set(par["country"].drop_nulls()) | set(par["incorporation_country"].drop_nulls())
    score, explanation = _risk(findings)
    first = rows["timestamp"].min() if rows.height else None
    last = rows["timestamp"].max() if rows.height else None
    case = Case(
        case_id=case_id,
        findings=sorted(findings, key=lambda f: f.finding_id),
        transactions=tids,
        accounts=accounts,
        parties=parties,
        risk_score=score,
        risk_explanation=explanation,
        jurisdictions=sorted(countries),
        totals=totals,
        first_activity=first if isinstance(first, dt.datetime) else None,
        last_activity=last if isinstance(last, dt.datetime) else None,
    )
    case.subjects = rank_subjects(store, case)
    return case


def case_graph(store: Store, case: Case) -> nx.MultiDiGraph:
    return build_graph(store, case.transactions)


def pagerank(g: nx.Graph, damping: float = 0.85, iterations: int = 100, tol: float = 1e-10) -> dict[str, float]:
    """Weighted PageRank by power iteration (networkx's own needs scipy, which finintel does not depend on)."""
    nodes = sorted(g.nodes)
    n = len(nodes)
    if n == 0:
        return {}
    rank = dict.fromkeys(nodes, 1.0 / n)
    strength = {v: sum(d.get("weight", 1) for _, _, d in g.edges(v, data=True)) for v in nodes}
    for _ in range(iterations):
        dangling = sum(rank[v] for v in nodes if strength[v] == 0)
        new = {}
        for v in nodes:
            inflow = sum(
                rank[u] * d.get("weight", 1) / strength[u]
                for u, _, d in ((u, v, g.edges[u, v]) for u in g.neighbors(v))
            )
            new[v] = (1 - damping) / n + damping * (inflow + dangling / n)
        if sum(abs(new[v] - rank[v]) for v in nodes) < tol:
            return new
        rank = new
    return rank


def rank_subjects(store: Store, case: Case) -> list[dict[str, Any]]:
    """Parties and accounts of the case ranked by PageRank on the case graph (money and links, undirected)."""
    g = case_graph(store, case)
    if g.number_of_nodes() == 0:
        return []
    simple = nx.Graph()
    simple.add_nodes_from(g.nodes)
    for u, v in g.edges():
        if u != v:
            simple.add_edge(u, v, weight=simple.get_edge_data(u, v, {"weight": 0})["weight"] + 1)
    rank = pagerank(simple)
    out = []
    for node, value in sorted(rank.items(), key=lambda kv: (-kv[1], kv[0])):
        data = g.nodes[node]
        out.append({"id": node, "kind": data.get("kind"), "label": data.get("label"), "centrality": round(value, 4)})
    return out
