"""The frames detectors share: shortcuts taken for speed (no sort of an ordered store, node ids as categoricals)
give the same frames as the plain way."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import NOW, SAMPLE
from finintel.detect.base import Context, by_node
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
