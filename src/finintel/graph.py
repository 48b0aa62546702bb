"""Typed networkx graph of a store (or a subset), with GraphML and GEXF export.

Nodes: ``person``, ``organization`` (from ``parties``), ``account``, ``wallet`` (from ``accounts``; VASP custodial
accounts are ``account`` with ``account_kind=vasp``). Edges: ``transaction`` (from the from-side account, else party,
to the to-side account, else party), ``owns``/``directs``/``controls``/``nominee`` (party -> organization) and
``holds``/``signatory`` (party -> account). Every node and edge carries ``kind``.

Large data does not need this graph: detectors work on the store's frames. Build it for a case, a subset of
transactions, or for export to Gephi / i2-style tools.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import networkx as nx
import polars as pl

from finintel.store import Store


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    """Attributes GraphML/GEXF can hold: no None, Decimal as float, dates as ISO strings, lists joined."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        if v is None:
            continue
        if isinstance(v, Decimal):
            out[k] = float(v)
        elif isinstance(v, dt.datetime | dt.date):
            out[k] = v.isoformat()
        elif isinstance(v, list):
            out[k] = "|".join(str(x) for x in v)
        else:
            out[k] = v
    return out


def build_graph(store: Store, transaction_ids: Iterable[str] | None = None) -> nx.MultiDiGraph:
    """The transaction graph of ``store``; with ``transaction_ids``, only those transactions and their neighbourhood
    (the accounts and parties they touch, plus ownership/holding links among those)."""
    tx = store.transactions
    if transaction_ids is not None:
        tx = tx.filter(pl.col("transaction_id").is_in(list(transaction_ids)))
    g: nx.MultiDiGraph = nx.MultiDiGraph()
    accounts = store.accounts
    parties = store.parties
    if transaction_ids is not None:
        touched_accounts = pl.concat([tx["from_account_id"], tx["to_account_id"]]).drop_nulls().unique()
        links = store.relations.filter(
            (pl.col("target_type") == "account") & pl.col("target_id").is_in(touched_accounts.implode())
        )
        touched_parties = pl.concat([tx["from_party_id"], tx["to_party_id"], links["source_id"]]).drop_nulls().unique()
        accounts = accounts.filter(pl.col("account_id").is_in(touched_accounts.implode()))
        parties = parties.filter(pl.col("party_id").is_in(touched_parties.implode()))
        relations = store.relations.filter(
            pl.col("source_id").is_in(touched_parties.implode())
            & (
                pl.col("target_id").is_in(touched_parties.implode())
                | pl.col("target_id").is_in(touched_accounts.implode())
            )
        )
    else:
        relations = store.relations
    for row in parties.iter_rows(named=True):
        attrs = _clean(row)
        attrs["kind"] = row["kind"]
        attrs["label"] = row["name"] or row["party_id"]  # redacted bundles have no names
        g.add_node(row["party_id"], **attrs)
    for row in accounts.iter_rows(named=True):
        attrs = _clean(row)
        attrs["account_kind"] = row["kind"]
        attrs["kind"] = "wallet" if row["kind"] == "wallet" else "account"
        attrs["label"] = row.get("iban") or row.get("address") or row.get("number") or row["account_id"]
        g.add_node(row["account_id"], **attrs)
    for row in tx.iter_rows(named=True):
        src = row["from_account_id"] or row["from_party_id"]
        dst = row["to_account_id"] or row["to_party_id"]
        if src is None or dst is None:
            continue
        for node in (src, dst):
            if node not in g:
                g.add_node(node, kind="account" if node.startswith(("acc_", "wal_")) else "party", label=node)
        attrs = _clean(row)
        attrs["kind"] = "transaction"
        g.add_edge(src, dst, key=row["transaction_id"], **attrs)
    for row in relations.iter_rows(named=True):
        for node in (row["source_id"], row["target_id"]):
            if node not in g:
                g.add_node(node, kind="party" if row["target_type"] == "party" else "account", label=node)
        attrs = _clean(row)
        attrs["kind"] = row["kind"]
        g.add_edge(row["source_id"], row["target_id"], key=row["relation_id"], **attrs)
    return g


def write_graph(g: nx.MultiDiGraph, path: Path) -> None:
    """Write GraphML (``.graphml``) or GEXF (``.gexf``), chosen by the file extension."""
    suffix = path.suffix.lower()
    if suffix == ".graphml":
        nx.write_graphml(g, path)
    elif suffix == ".gexf":
        nx.write_gexf(g, path)
    else:
        raise ValueError(f"unknown graph format {suffix!r}: use .graphml or .gexf")
