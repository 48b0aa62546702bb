"""The frames detectors share: shortcuts taken for speed (no sort of an ordered store, node ids as categoricals)
give the same frames as the plain way."""

from __future__ import annotations

import datetime as dt
from functools import cache

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import NOW, SAMPLE
from finintel.detect.base import Context, Filters, Reference, Side, account_display, by_node
from finintel.detect.layering import _trim_acyclic
from finintel.ingest import ingest
from finintel.store import Store, in_time_order

T0 = dt.datetime(2026, 1, 1)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["a", "b", "aa", "B", "a0"])), max_size=8))
def test_in_time_order_agrees_with_sorting(rows: list[tuple[int, str]]) -> None:
    frame = pl.DataFrame(
        {"timestamp": [T0 + dt.timedelta(hours=h) for h, _ in rows], "transaction_id": [i for _, i in rows]},
        schema={"timestamp": pl.Datetime("us"), "transaction_id": pl.String},
    )
    assert in_time_order(frame) == frame.equals(frame.sort("timestamp", "transaction_id"))


def test_flows_of_a_shuffled_store_are_the_flows_of_the_ordered_one() -> None:
    store = ingest([SAMPLE / "goaml"], now=NOW).store
    assert in_time_order(store.transactions)
    shuffled = Store(
        tables={**store.tables, "transactions": store.transactions.sample(fraction=1.0, shuffle=True, seed=7)}
    )
    assert not in_time_order(shuffled.transactions)
    ordered, other = Context(store).flows, Context(shuffled).flows
    assert ordered.height > 10 and ordered.equals(other)
    assert isinstance(ordered.schema["src"], pl.Categorical)
    # grouped by node code, each node's rows in time order: the same rows per node as a sort on the text
    for node in ("src", "dst"):
        a = by_node(ordered, node)
        b = ordered.sort(node, "timestamp", "transaction_id")
        assert a[node].rle_id().max() == a[node].n_unique() - 1  # each node's rows are contiguous
        for key, part in a.partition_by(node, as_dict=True, maintain_order=True).items():
            assert part.equals(b.filter(pl.col(node) == key[0]))


@cache
def _sample_context() -> Context:
    return Context(ingest([SAMPLE / "goaml"], now=NOW).store)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), side=st.sampled_from(["src", "dst", "either"]))
def test_touching_by_code_is_is_in_on_the_text(data: st.DataObject, side: Side) -> None:
    ctx = _sample_context()
    flows = ctx.flows.with_columns(pl.col("src", "dst").cast(pl.String))
    known = sorted(set(flows["src"]) | set(flows["dst"]))
    nodes = data.draw(st.lists(st.sampled_from(known) | st.sampled_from(["not-a-node", "", "ACC:none"]), max_size=6))
    ends = [pl.col("src"), pl.col("dst")] if side == "either" else [pl.col(side)]
    text = flows.select(pl.any_horizontal(e.is_in(pl.Series(nodes, dtype=pl.String).implode()) for e in ends))
    assert ctx.touching(nodes, side).to_list() == text.to_series().to_list()
    assert ctx.touching(reversed(nodes), side) is ctx.touching(nodes, side)  # kept per set, not per order


def test_flows_for_drops_what_touches_an_excluded_node_and_applies_the_conditions() -> None:
    ctx = _sample_context()
    flows = ctx.flows
    hub = flows.group_by("src").len().sort("len", "src", descending=True)["src"].cast(pl.String)[0]
    got = ctx.flows_for(Filters(exclude_accounts=[hub], min_amount=1000), None, pl.col("src") != pl.col("dst"))
    text = flows.with_columns(pl.col("src", "dst").cast(pl.String))
    want = flows.filter(
        (text["src"] != hub) & (text["dst"] != hub) & (flows["amount"] >= 1000) & (flows["src"] != flows["dst"])
    )
    assert 0 < got.height < flows.height and got.equals(want)
    assert ctx.flows_for(Filters()) is flows


def _trimmed(edges: list[tuple[str, str]]) -> list[int]:
    """The plain fixpoint: indices of the edges left after removing, again and again, edges out of nodes nobody
    pays and into nodes that pay nobody."""
    left = list(range(len(edges)))
    while True:
        payers = {edges[i][0] for i in left}
        payees = {edges[i][1] for i in left}
        kept = [i for i in left if edges[i][0] in payees and edges[i][1] in payers]
        if kept == left:
            return left
        left = kept


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcdefg"), st.sampled_from("abcdefg")), max_size=20))
def test_trim_acyclic_keeps_what_the_plain_fixpoint_keeps(edges: list[tuple[str, str]]) -> None:
    frame = pl.DataFrame(
        {"src": [s for s, _ in edges], "dst": [d for _, d in edges], "i": list(range(len(edges)))},
        schema={"src": pl.Categorical, "dst": pl.Categorical, "i": pl.Int64},
    )
    assert _trim_acyclic(frame)["i"].to_list() == _trimmed(edges)


def _context_over(edges: list[tuple[str, str]]) -> Context:
    """A context whose flow frame is these edges, in this order."""
    ctx = Context(_sample_context().store)
    ctx.__dict__["flows"] = pl.DataFrame(
        {"src": [s for s, _ in edges], "dst": [d for _, d in edges], "i": list(range(len(edges)))},
        schema={"src": pl.Categorical, "dst": pl.Categorical, "i": pl.Int64},
    )
    return ctx


EDGES = st.lists(st.tuples(st.sampled_from("abcdef"), st.sampled_from("abcdef")), max_size=25)


@settings(max_examples=200, deadline=None)
@given(EDGES, st.integers(0, 6))
def test_counts_by_code_are_the_group_by_counts(edges: list[tuple[str, str]], limit: int) -> None:
    ctx = _context_over(edges)
    text = ctx.flows.with_columns(pl.col("src", "dst").cast(pl.String))
    out = {s: n for s, n in text.group_by("src").len().iter_rows()}
    into = {d: n for d, n in text.group_by("dst").len().iter_rows()}
    codes = {v: c for v, c in zip(text["src"], ctx.flow_codes[0], strict=True)}
    codes.update(zip(text["dst"], ctx.flow_codes[1], strict=True))
    for node, code in codes.items():
        assert ctx.node_counts("src")[code] == out.get(node, 0)
        assert ctx.node_counts("dst")[code] == into.get(node, 0)
        assert ctx.node_counts("either")[code] == out.get(node, 0) + into.get(node, 0)
    for column in ("src", "dst"):
        quiet = [out.get(v, 0) + into.get(v, 0) <= limit for v in text[column]]
        assert ctx.degree_at_most(ctx.flows, column, limit).to_list() == quiet


@settings(max_examples=200, deadline=None)
@given(EDGES, st.sets(st.sampled_from("abcdef")))
def test_one_off_among_candidates_is_a_pair_counted_once(edges: list[tuple[str, str]], allowed: set[str]) -> None:
    ctx = _context_over(edges)
    pairs = {pair: edges.count(pair) for pair in edges}
    # a condition on the nodes, as one_off requires: every flow of a pair is a candidate, or none
    candidates = [s in allowed and d in allowed for s, d in edges]
    want = [c and pairs[e] == 1 for c, e in zip(candidates, edges, strict=True)]
    assert ctx.one_off(np.array(candidates, dtype=bool)).tolist() == want


def _names_of_every_node(ctx: Context) -> dict[str, str]:
    """Display names made for every account and party at once, as the context made them before naming only the
    nodes shown (the reference for the lookup of a node's row; the text of a row is account_display's)."""
    names = dict(ctx.store.parties.select("party_id", "name").iter_rows())
    out = {p: n or p for p, n in names.items()}
    rows = ctx.accounts.select("account_id", "kind", "iban", "number", "address", "chain", "label", "holder")
    for row in rows.iter_rows():
        out[row[0]] = account_display(row, names)
    return out


def test_display_names_made_per_node_are_the_names_made_for_all() -> None:
    synth = SAMPLE / "synth"
    ctx = Context(ingest([synth / "goaml"], now=NOW).store, Reference.load([synth / "wallet_labels.csv"]))
    want = _names_of_every_node(ctx)
    assert len(want) > 200 and {"bank", "wallet", "vasp"} <= set(ctx.accounts["kind"].to_list())
    assert ctx.accounts["label"].drop_nulls().len() and ctx.accounts["holder"].drop_nulls().len()
    for node in sorted(want):
        assert ctx.display(node) == want[node], node
    assert ctx.display("no-such-node") == "no-such-node"
    unnamed = Context(Store(tables={"parties": ctx.store.parties.head(1).with_columns(pl.lit(None).alias("name"))}))
    party = unnamed.store.parties["party_id"][0]
    assert unnamed.display(party) == party  # a party without a name shows its id
