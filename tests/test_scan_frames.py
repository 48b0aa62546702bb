"""The frames detectors share: shortcuts taken for speed (no sort of an ordered store, node ids as categoricals)
give the same frames as the plain way."""

from __future__ import annotations

import datetime as dt
from functools import cache

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import NOW, SAMPLE
from finintel.detect.base import Context, Filters, Side, by_node
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
