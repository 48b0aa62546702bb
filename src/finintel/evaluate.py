"""Score findings against ground truth (``labels.parquet`` from ``finintel synth``).

A finding *matches* a planted instance of the same typology when they share transactions: the overlap
``|T_finding ∩ T_instance| / min(|T_finding|, |T_instance|)`` is at least ``min_overlap`` (default 0.5).

- recall(t) = planted instances of typology t matched by a finding of t / planted instances of t
- precision(t) = findings of t matching a planted instance of t / findings of t
- decoy hits: findings whose transactions overlap a decoy instance (legitimate look-alikes) by ``min_overlap``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from finintel.detect.base import Finding
from finintel.errors import InputError


@dataclass
class TypologyScore:
    typology: str
    instances: int
    findings: int
    matched_instances: int
    true_findings: int

    @property
    def recall(self) -> float | None:
        return self.matched_instances / self.instances if self.instances else None

    @property
    def precision(self) -> float | None:
        return self.true_findings / self.findings if self.findings else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "typology": self.typology,
            "instances": self.instances,
            "findings": self.findings,
            "matched_instances": self.matched_instances,
            "true_findings": self.true_findings,
            "recall": None if self.recall is None else round(self.recall, 4),
            "precision": None if self.precision is None else round(self.precision, 4),
        }


@dataclass
class Evaluation:
    scores: list[TypologyScore]
    decoy_hits: list[dict[str, Any]]
    min_overlap: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "min_overlap": self.min_overlap,
            "typologies": [s.to_dict() for s in self.scores],
            "decoy_hits": self.decoy_hits,
        }


def read_labels(path: Path) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(path) if path.suffix == ".parquet" else pl.read_csv(path, infer_schema=False)
    except Exception as exc:  # polars raises several types for broken files
        raise InputError(f"cannot read labels: {str(exc).splitlines()[0][:200]}", file=str(path)) from None
    missing = {"instance_id", "typology", "transaction_id"} - set(frame.columns)
    if missing:
        raise InputError(f"labels lack columns {sorted(missing)}", file=str(path))
    return frame


def _instances(labels: pl.DataFrame) -> dict[str, tuple[str, set[str]]]:
    tx = labels.filter(pl.col("transaction_id").is_not_null())
    out: dict[str, tuple[str, set[str]]] = {}
    for iid, typology, tid in tx.select("instance_id", "typology", "transaction_id").iter_rows():
        out.setdefault(iid, (typology, set()))[1].add(tid)
    return out


def _overlaps(
    findings: list[Finding], instances: dict[str, tuple[str, set[str]]], min_overlap: float
) -> dict[int, set[str]]:
    """finding index -> ids of instances it matches (any typology)."""
    by_tx: dict[str, list[str]] = defaultdict(list)
    for iid, (_, txs) in instances.items():
        for t in txs:
            by_tx[t].append(iid)
    out: dict[int, set[str]] = {}
    for i, f in enumerate(findings):
        counts: dict[str, int] = defaultdict(int)
        for t in set(f.transactions):
            for iid in by_tx.get(t, ()):
                counts[iid] += 1
        size = len(set(f.transactions))
        out[i] = {iid for iid, n in counts.items() if n / min(size, len(instances[iid][1])) >= min_overlap}
    return out


def evaluate(
    findings: list[Finding], labels: pl.DataFrame, decoys: pl.DataFrame | None = None, min_overlap: float = 0.5
) -> Evaluation:
    instances = _instances(labels)
    matches = _overlaps(findings, instances, min_overlap)
    typologies = sorted({t for t, _ in instances.values()} | {f.typology for f in findings})
    scores = []
    for t in typologies:
        inst_t = {iid for iid, (typ, _) in instances.items() if typ == t}
        find_t = [i for i, f in enumerate(findings) if f.typology == t]
        matched = {iid for i in find_t for iid in matches[i] if iid in inst_t}
        true = sum(1 for i in find_t if matches[i] & inst_t)
        scores.append(TypologyScore(t, len(inst_t), len(find_t), len(matched), true))
    hits: list[dict[str, Any]] = []
    if decoys is not None and decoys.height:
        dec = _instances(decoys)
        for i, ids in _overlaps(findings, dec, min_overlap).items():
            for iid in sorted(ids):
                hits.append(
                    {
                        "finding_id": findings[i].finding_id,
                        "rule_id": findings[i].rule_id,
                        "decoy_instance": iid,
                        "decoy": dec[iid][0],
                    }
                )
    return Evaluation(scores, hits, min_overlap)
