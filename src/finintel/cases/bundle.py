"""Case bundles: one folder per case that one FIU can send to another (format: ``docs/bundles.md``).

Written atomically (a temporary sibling folder renamed into place), verifiable (``manifest.json`` holds the SHA-256
of every other file), readable (``report.html``), machine-usable (Parquet, GraphML, GEXF, ``case.json`` with a
published JSON Schema) and, with a recipient, privacy-preserving (:mod:`finintel.cases.redact`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import polars as pl

from finintel import __version__
from finintel.cases import html
from finintel.cases.build import Case
from finintel.cases.redact import Redactor, key_id
from finintel.errors import InputError
from finintel.graph import build_graph
from finintel.rules.spec import Rule, pack_hash
from finintel.store import Store, swap_in

BUNDLE_FORMAT = "finintel-case-bundle"
BUNDLE_FORMAT_VERSION = 1
HANDLING_NOTE = (
    "CONFIDENTIAL - financial intelligence exchanged between FIUs. For intelligence purposes only, not evidence. "
    "No further dissemination or use beyond the purpose stated in the request without the prior consent of the "
    "sending FIU (Egmont Group Principles for Information Exchange between Financial Intelligence Units)."
)
DATA_FILES = (
    "case.json",
    "transactions.parquet",
    "parties.parquet",
    "accounts.parquet",
    "relations.parquet",
    "graph.graphml",
    "graph.gexf",
    "report.html",
)


def case_tables(store: Store, case: Case) -> dict[str, pl.DataFrame]:
    """The case's subgraph as tables: its transactions, every account and party they or the findings touch, the
    holders of those accounts and the links among all of them."""
    tx = store.transactions.filter(pl.col("transaction_id").is_in(case.transactions)).sort(
        "timestamp", "transaction_id"
    )
    accounts = set(case.accounts) | set(tx["from_account_id"].drop_nulls()) | set(tx["to_account_id"].drop_nulls())
    parties = set(case.parties) | set(tx["from_party_id"].drop_nulls()) | set(tx["to_party_id"].drop_nulls())
    rel = store.relations
    holders = rel.filter((pl.col("target_type") == "account") & pl.col("target_id").is_in(list(accounts)))
    parties |= set(holders["source_id"])
    links = rel.filter(
        pl.col("source_id").is_in(list(parties | accounts)) & pl.col("target_id").is_in(list(parties | accounts))
    )
    return {
        "transactions": tx,
        "accounts": store.accounts.filter(pl.col("account_id").is_in(list(accounts))).sort("account_id"),
        "parties": store.parties.filter(pl.col("party_id").is_in(list(parties))).sort("party_id"),
        "relations": links.sort("relation_id"),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def case_document(case: Case, tables: dict[str, pl.DataFrame]) -> dict[str, Any]:
    accounts = tables["accounts"]
    doc: dict[str, Any] = _jsonable(
        {
            "case_id": case.case_id,
            "risk_score": case.risk_score,
            "risk_explanation": case.risk_explanation,
            "worst_severity": case.worst_severity,
            "typologies": case.typologies,
            "jurisdictions": case.jurisdictions,
            "totals": case.totals,
            "first_activity": case.first_activity,
            "last_activity": case.last_activity,
            "findings": [f.to_dict() for f in case.findings],
            "subjects": case.subjects,
            "accounts": accounts.filter(pl.col("kind") != "wallet")
            .select("account_id", "kind", "institution_name", "country", "currency")
            .to_dicts(),
            "wallets": accounts.filter(pl.col("kind") == "wallet")
            .select("account_id", "chain", "label", "institution_name")
            .to_dicts(),
            "timeline": tables["transactions"]
            .select(
                "transaction_id",
                "timestamp",
                pl.coalesce("amount_local", "amount").cast(pl.Float64).alias("amount"),
                pl.coalesce("currency_local", "currency").alias("currency"),
                pl.coalesce("from_account_id", "from_party_id").alias("from"),
                pl.coalesce("to_account_id", "to_party_id").alias("to"),
            )
            .to_dicts(),
        }
    )
    return doc


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_graphs(g: nx.MultiDiGraph, folder: Path, date: str) -> None:
    nx.write_graphml(g, folder / "graph.graphml")
    nx.write_gexf(g, folder / "graph.gexf")
    gexf = (folder / "graph.gexf").read_text(encoding="utf-8")
    # networkx stamps today's date; use the case's last activity so the file is the same on every run
    (folder / "graph.gexf").write_text(
        re.sub(r'lastmodifieddate="[^"]*"', f'lastmodifieddate="{date}"', gexf), encoding="utf-8"
    )


@dataclass
class BundleOptions:
    sender: str | None = None
    recipient: str | None = None
    redactor: Redactor | None = None
    created_at: str | None = None


def write_bundle(store: Store, case: Case, out_dir: Path, rules: list[Rule], opts: BundleOptions) -> Path:
    """Write ``out_dir/<case_id>`` atomically and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / case.case_id
    tmp = Path(tempfile.mkdtemp(prefix=f".{case.case_id}.tmp-", dir=out_dir))
    try:
        tables = case_tables(store, case)
        doc = case_document(case, tables)
        redaction = None
        if opts.redactor is not None:
            red = opts.redactor
            tables = red.apply(tables)
            red.add_identifiers((s["label"], red.token(s["id"])) for s in case.subjects if s.get("label"))
            red.add_identifiers((i, red.token(i)) for i in [*case.accounts, *case.parties])
            doc = json.loads(red.scrub(json.dumps(doc, ensure_ascii=False)))
            redaction = {"profile": red.profile.name, "key_id": key_id(red.key)}
        sub = Store(tables=dict(tables))
        g = build_graph(sub)
        for table, frame in tables.items():  # uncompressed: small, and searchable byte by byte
            frame.write_parquet(tmp / f"{table}.parquet", compression="uncompressed", statistics=False)
        (tmp / "case.json").write_text(
            json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8"
        )
        date = (case.last_activity or dt.datetime(1970, 1, 1)).date().isoformat()
        _write_graphs(g, tmp, date)
        info = {
            "sender": opts.sender,
            "recipient": opts.recipient,
            "handling_note": HANDLING_NOTE,
            "redaction": redaction["profile"] if redaction else None,
            "finintel_version": __version__,
            "rule_pack_sha256": pack_hash(rules),
        }
        timeline = tables["transactions"].to_dicts()
        (tmp / "report.html").write_text(
            html.render(doc | {"typologies": case.typologies}, g, timeline, info), encoding="utf-8"
        )
        manifest = {
            "bundle_format": BUNDLE_FORMAT,
            "bundle_format_version": BUNDLE_FORMAT_VERSION,
            "finintel_version": __version__,
            "created_at": opts.created_at or dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "case_id": case.case_id,
            "sender_fiu": opts.sender,
            "recipient_fiu": opts.recipient,
            "handling_note": HANDLING_NOTE,
            "rule_pack": {
                "sha256": pack_hash(rules),
                "rules": [{"id": r.id, "version": r.spec.version, "sha256": r.sha256} for r in rules],
            },
            "inputs": [
                {"file": Path(i["file"]).name, "sha256": i.get("sha256")}
                for i in store.meta.get("inputs", [])
                if i.get("status") == "ingested"
            ],
            "redaction": redaction,
            "files": {name: _sha256(tmp / name) for name in DATA_FILES},
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        swap_in(tmp, target)
        return target
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def read_manifest(bundle: Path) -> dict[str, Any]:
    path = bundle / "manifest.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("not a case bundle (no manifest.json)", file=str(bundle)) from None
    except (OSError, ValueError) as exc:
        raise InputError(f"manifest.json unreadable: {exc}", file=str(path)) from None
    if data.get("bundle_format") != BUNDLE_FORMAT or not isinstance(data.get("files"), dict):
        raise InputError("manifest.json is not a finintel case bundle manifest", file=str(path))
    manifest: dict[str, Any] = data
    return manifest


def verify_bundle(bundle: Path) -> list[str]:
    """Every problem as one line naming the file; empty when the bundle is intact."""
    manifest = read_manifest(bundle)
    problems = []
    listed: dict[str, str] = manifest["files"]
    for name, digest in sorted(listed.items()):
        path = bundle / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif _sha256(path) != digest:
            problems.append(f"{name}: changed (SHA-256 does not match the manifest)")
    for path in sorted(bundle.rglob("*")):
        rel = str(path.relative_to(bundle))
        if path.is_file() and rel != "manifest.json" and rel not in listed:
            problems.append(f"{rel}: extra file not in the manifest")
    if manifest.get("bundle_format_version") != BUNDLE_FORMAT_VERSION:
        problems.append(f"manifest.json: bundle format version {manifest.get('bundle_format_version')} unsupported")
    return problems


def match_bundle(bundle: Path, redactor: Redactor, store: Store) -> list[dict[str, Any]]:
    """Subjects of a redacted bundle that the local store knows: same match token from the same key."""
    manifest = read_manifest(bundle)
    red = manifest.get("redaction") or {}
    if red.get("key_id") and red["key_id"] != key_id(redactor.key):
        raise InputError("the bundle was redacted with another key (key_id differs); ask the sender", file=str(bundle))
    local: dict[str, list[tuple[str, str, str]]] = {}
    for row in store.parties.iter_rows(named=True):
        for tok in redactor.party_tokens(row):
            local.setdefault(tok, []).append(("party", row["party_id"], str(row.get("name"))))
    for row in store.accounts.iter_rows(named=True):
        for tok in redactor.account_tokens(row):
            local.setdefault(tok, []).append(("account", row["account_id"], str(row.get("iban") or row.get("number"))))
    matches = []
    for table, id_col in (("parties", "party_id"), ("accounts", "account_id")):
        frame = pl.read_parquet(bundle / f"{table}.parquet")
        if "match_tokens" not in frame.columns:
            continue
        for subject, tokens in frame.select(id_col, "match_tokens").iter_rows():
            for tok in tokens or []:
                for kind, local_id, label in local.get(tok, []):
                    matches.append(
                        {
                            "bundle_subject": subject,
                            "kind": kind,
                            "local_id": local_id,
                            "local_label": label,
                            "token": tok,
                        }
                    )
    return sorted(matches, key=lambda m: (m["bundle_subject"], m["local_id"], m["token"]))
