"""Layering detectors: fan-in/out, scatter-gather, gather-scatter, temporal cycles, pass-through stacks,
structuring. Each prunes with vectorised polars work first (degree, amounts, time joins) and only then walks the
few candidates in Python."""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import operator

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from finintel.detect.base import Context, Filters, Hit, Side, by_node, money, span, tmax, tmin


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- fans --


class FanParams(Params):
    min_counterparties: int = Field(default=5, ge=2, description="distinct counterparties within the window")
    window_hours: float = Field(default=24, gt=0)
    min_each: float = Field(default=0, ge=0, description="ignore transfers below this amount")
    one_off_only: bool = Field(
        default=True,
        description="count only counterparties with no other transfer in the same direction in the "
        "whole data (recurring payees such as employees are not smurfs)",
    )
    max_hub_transactions: int = Field(
        default=5000, ge=1, description="skip hubs with more transactions than this (processors, payroll bureaus)"
    )
    max_counterparty_transactions: int | None = Field(
        default=10,
        ge=1,
        description="count only counterparties with at most this many transactions in the data "
        "(smurfs and money mules are low-activity accounts; a supplier's customers are not); empty: all",
    )
    min_burst_ratio: float = Field(
        default=5.0,
        ge=1,
        description="the burst must have this many times the counterparties the account deals "
        "with in an average window of the same length (a busy shop is not a smurfing hub)",
    )


def _bursts(f: pl.DataFrame, hub: str, other: str, k: int, window: dt.timedelta) -> list[pl.DataFrame]:
    """Maximal time intervals in which ``hub`` deals with >= k distinct ``other``s within ``window``."""
    if f.height == 0:
        return []
    period = f"{int(window.total_seconds())}s"
    rolled = (
        by_node(f, hub)
        .rolling(index_column="timestamp", period=period, group_by=hub)
        .agg(pl.col(other).n_unique().alias("_n"))
        .filter(pl.col("_n") >= k)
    )
    if rolled.height == 0:
        return []
    ends = rolled.select(hub, "timestamp").unique().sort(hub, "timestamp")
    out = []
    rows = by_node(f.filter(pl.col(hub).is_in(ends[hub].unique().implode())), hub)
    by_hub = {key[0]: part for key, part in rows.partition_by(hub, as_dict=True).items()}
    for (h,), part in ends.partition_by(hub, as_dict=True, maintain_order=True).items():
        times = part["timestamp"].to_list()
        # merge overlapping windows [end - window, end] into intervals
        intervals: list[list[dt.datetime]] = []
        for t in times:
            if intervals and t - window <= intervals[-1][1]:
                intervals[-1][1] = t
            else:
                intervals.append([t - window, t])
        edges = by_hub[h]
        for lo, hi in intervals:
            out.append(edges.filter((pl.col("timestamp") >= lo) & (pl.col("timestamp") <= hi)))
    return out


def _fan(ctx: Context, p: FanParams, filters: Filters, direction: str) -> list[Hit]:
    hub: Side = "src" if direction == "out" else "dst"
    other = "dst" if direction == "out" else "src"
    # every condition is a lookup per row, and the frame is filtered once: each join or eager step would hash or
    # copy the flow frame (10M rows at scale)
    hub_codes, other_codes = ctx.flow_codes if direction == "out" else ctx.flow_codes[::-1]
    per_hub = ctx.node_counts(hub)  # also the hub's usual rate below
    # conditions on the nodes only, as one_off needs; each a table of flags by node code, looked up per flow (a
    # byte a flow, where the counts themselves would be eight)
    pruned = (per_hub <= p.max_hub_transactions)[hub_codes]
    if p.max_counterparty_transactions is not None:
        pruned &= (ctx.node_counts("either") <= p.max_counterparty_transactions)[other_codes]
    f = ctx.flows_for(
        filters,
        pl.col("amount") >= p.min_each if p.min_each else None,
        pl.Series(ctx.one_off(pruned) if p.one_off_only else pruned),
    )
    hits = []
    window = dt.timedelta(hours=p.window_hours)
    # the account's usual rate: its transactions outside the burst, spread over the whole period of the data
    period = max(tmax(ctx.flows["timestamp"]) - tmin(ctx.flows["timestamp"]), window) if ctx.flows.height else window
    for burst in _bursts(f, hub, other, p.min_counterparties, window):
        n = burst[other].n_unique()
        node = burst[hub][0]
        usual = (int(per_hub[burst[hub].to_physical()[0]]) - burst.height) * (window / period)
        if n < p.min_burst_ratio * usual:
            continue
        total = float(burst["amount"].sum())
        t0, t1 = tmin(burst["timestamp"]), tmax(burst["timestamp"])
        verb = "sent" if direction == "out" else "received"
        prep = "to" if direction == "out" else "from"
        hits.append(
            Hit(
                transactions=burst["transaction_id"].to_list(),
                nodes=[node, *burst[other].unique(maintain_order=True).to_list()],
                explanation=f"{ctx.display(node)} {verb} {money(total)} in {burst.height} transfers {prep} {n} one-off "
                f"counterparties within {span(t0, t1)} ({t0:%Y-%m-%d %H:%M} to {t1:%Y-%m-%d %H:%M}).",
                score=min(1.0, 0.5 + 0.05 * (n - p.min_counterparties)),
                path=[node],
                details={"counterparties": n, "window_hours": round((t1 - t0).total_seconds() / 3600, 1)},
            )
        )
    return hits


def fan_out(ctx: Context, p: FanParams, filters: Filters) -> list[Hit]:
    """One account pays many distinct, one-off counterparties within a short window (smurfing, distribution)."""
    return _fan(ctx, p, filters, "out")


def fan_in(ctx: Context, p: FanParams, filters: Filters) -> list[Hit]:
    """One account is paid by many distinct, one-off counterparties within a short window (collection)."""
    return _fan(ctx, p, filters, "in")


# -- scatter-gather / gather-scatter --


class ScatterParams(Params):
    min_intermediaries: int = Field(default=4, ge=2)
    window_hours: float = Field(default=120, gt=0)
    min_retention: float = Field(default=0.8, gt=0, le=1, description="an intermediary forwards at least this share")
    max_intermediary_transactions: int = Field(
        default=60, ge=2, description="intermediaries with more transactions than this are not mules (pruning)"
    )
    max_growth: float = Field(default=1.001, ge=1, description="an intermediary forwards at most this multiple")
    two_phase: bool = Field(default=False, description="every scatter leg comes before every gather leg")


def _relays(
    ctx: Context,
    f: pl.DataFrame,
    max_degree: int,
    window: dt.timedelta,
    min_retention: float,
    max_growth: float,
    *,
    strict: bool,
) -> pl.DataFrame:
    """Money relayed through a middle account: an in-leg X -> M joined with an out-leg M -> Y that follows it
    within ``window`` (strictly later when ``strict``), carries between ``min_retention`` and ``max_growth`` times
    the in-leg's amount and goes somewhere other than X. Each in-leg keeps its first out-leg. Middle accounts take
    part in at most ``max_degree`` flows. Columns: X, M, Y, t1, a1, id1, t2, a2, id2."""
    ins = f.filter(ctx.degree_at_most(f, "dst", max_degree)).select(
        pl.col("src").alias("X"),
        pl.col("dst").alias("M"),
        pl.col("timestamp").alias("t1"),
        pl.col("amount").alias("a1"),
        pl.col("transaction_id").alias("id1"),
    )
    outs = f.filter(ctx.degree_at_most(f, "src", max_degree)).select(
        pl.col("src").alias("M"),
        pl.col("dst").alias("Y"),
        pl.col("timestamp").alias("t2"),
        pl.col("amount").alias("a2"),
        pl.col("transaction_id").alias("id2"),
    )
    later = pl.col("t2") > pl.col("t1") if strict else pl.col("t2") >= pl.col("t1")
    # streamed: the join makes every in-leg x out-leg pair of a middle account before the filter keeps the few
    # that relay; at 10M flows the pairs would not fit in memory at once
    return (
        ins.lazy()
        .join(outs.lazy(), on="M")
        .filter(
            later
            & (pl.col("t2") - pl.col("t1") <= window)
            & (pl.col("Y") != pl.col("X"))
            & (pl.col("a2") >= min_retention * pl.col("a1"))
            & (pl.col("a2") <= pl.col("a1") * max_growth)
        )
        .collect(engine="streaming")
        .sort("t1", "t2", "id1", "id2")
        .unique("id1", keep="first", maintain_order=True)
    )


def scatter_gather(ctx: Context, p: ScatterParams, filters: Filters) -> list[Hit]:
    """Source -> many intermediaries -> one sink, each intermediary forwarding most of what it got."""
    f = ctx.flows_for(filters)
    window = dt.timedelta(hours=p.window_hours)
    legs = _relays(ctx, f, p.max_intermediary_transactions, window, p.min_retention, p.max_growth, strict=True)
    legs = legs.rename({"X": "S", "M": "I", "Y": "T"})
    pairs = legs.group_by("S", "T").agg(pl.col("I").n_unique().alias("n"))
    legs = legs.join(pairs.filter(pl.col("n") >= p.min_intermediaries), on=["S", "T"], how="semi")
    hits = []
    for (s, t), part in sorted(legs.partition_by(["S", "T"], as_dict=True).items()):
        rows = part.sort("t1", "t2", "id1").select("I", "t1", "a1", "id1", "t2", "a2", "id2").rows()
        i = 0
        while i < len(rows):  # slide a window over the legs: a pattern's legs all lie within one window
            j, last = i, rows[i][4]
            while j + 1 < len(rows) and max(last, rows[j + 1][4]) - rows[i][1] <= window:
                j += 1
                last = max(last, rows[j][4])
            group = rows[i : j + 1]
            if p.two_phase:
                first_gather = min(r[4] for r in group)
                group = [r for r in group if r[1] < first_gather]
            mids = list(dict.fromkeys(r[0] for r in group))
            if len(mids) < p.min_intermediaries:
                i += 1
                continue
            out_total, in_total = sum(r[2] for r in group), sum(r[5] for r in group)
            start, end = group[0][1], last
            hits.append(
                Hit(
                    transactions=[*[r[3] for r in group], *[r[6] for r in sorted(group, key=lambda r: r[4])]],
                    nodes=[s, *mids, t],
                    explanation=f"{money(out_total)} left {ctx.display(s)} to {len(mids)} intermediaries and "
                    f"{money(in_total)} ({in_total / out_total:.0%}) reached {ctx.display(t)} within "
                    f"{span(start, end)}.",
                    score=min(1.0, 0.44 + 0.05 * (len(mids) - p.min_intermediaries) + 0.2 * in_total / out_total),
                    path=[s, *mids, t],
                    details={"intermediaries": len(mids)},
                )
            )
            i = j + 1
    return hits


class GatherScatterParams(Params):
    min_sources: int = Field(default=4, ge=2)
    min_sinks: int = Field(default=4, ge=2)
    window_hours: float = Field(default=120, gt=0)
    min_retention: float = Field(default=0.8, gt=0, le=1, description="the hub passes on at least this share")
    max_hub_transactions: int = Field(default=200, ge=4, description="pruning: hubs busier than this are skipped")
    min_total: float = Field(default=20_000, ge=0, description="the hub collects at least this much")


def gather_scatter(ctx: Context, p: GatherScatterParams, filters: Filters) -> list[Hit]:
    """Many sources -> one hub -> many sinks, the hub passing on most of what it collected."""
    f = ctx.flows_for(filters)
    window = dt.timedelta(hours=p.window_hours)
    period = f"{int(window.total_seconds())}s"
    # a hub needs, over all its flows here, at least as many flows in and out as the distinct sources and sinks it
    # must have in one window, and at least min_total in: nodes short of that are left out of the rolling counts
    # below (10M flows: 30-35% fewer rows, 1.6 -> 1.0 s)
    src, dst = f["src"].to_physical().to_numpy(), f["dst"].to_physical().to_numpy()
    counts = ctx.node_counts("either")
    inflow = np.bincount(
        dst, weights=f["amount"].fill_null(0.0).clip(lower_bound=0.0).to_numpy(), minlength=len(counts)
    )
    hubs_may = (
        (np.bincount(dst, minlength=len(counts)) >= p.min_sources)
        & (np.bincount(src, minlength=len(counts)) >= p.min_sinks)
        & (inflow >= p.min_total)
        & (counts <= p.max_hub_transactions)
    )

    def busy(hub: str, other: str, k: int) -> pl.DataFrame:
        """Hubs with >= k distinct counterparties inside some window (vectorised rolling count)."""
        return (
            by_node(f.filter(pl.Series(hubs_may[src if hub == "src" else dst])), hub)
            .rolling(index_column="timestamp", period=period, group_by=hub)
            .agg(pl.col(other).n_unique().alias("n"), pl.col("amount").sum().alias("total"))
            .filter(pl.col("n") >= k)
            .group_by(hub)
            .agg(pl.col("total").max())
            .rename({hub: "hub"})
        )

    gathering = busy("dst", "src", p.min_sources).filter(pl.col("total") >= p.min_total).select("hub")
    hubs = gathering.join(busy("src", "dst", p.min_sinks).select("hub"), on="hub")
    if hubs.height == 0:
        return []
    hub_set = hubs["hub"].implode()
    # each hub's flows in and out, in time order (ties by transaction id), from one sort and one pass each; the
    # windows below are then found by bisection (a frame per hub and a scan of the rest of its flows per start
    # cost 1.5 s at 10M flows)
    ins_by, outs_by = (
        _time_ordered(f.filter(pl.col(hub).is_in(hub_set)), hub, other)
        for hub, other in (("dst", "src"), ("src", "dst"))
    )
    hits = []
    for hub in sorted(hubs["hub"].to_list()):
        in_times, ins_h = ins_by[hub]
        out_times, outs_h = outs_by[hub]
        used_until: dt.datetime | None = None
        for i, (_, _, t0, _) in enumerate(ins_h):
            if used_until is not None and t0 <= used_until:
                continue
            t_end = t0 + window
            gathered = ins_h[i : bisect.bisect_right(in_times, t_end, i)]  # (every later flow in up to t_end)
            sources = {r[1] for r in gathered}
            if len(sources) < p.min_sources:
                continue
            last_in = gathered[-1][2]
            # the flows out from the middle of the gathering (at the earliest t0) to t_end
            first_out = max(t0, gathered[len(gathered) // 2][2])
            scattered = outs_h[bisect.bisect_left(out_times, first_out) : bisect.bisect_right(out_times, t_end)]
            sinks = {r[1] for r in scattered}
            a_in, a_out = sum(r[3] for r in gathered), sum(r[3] for r in scattered)
            if len(sinks) < p.min_sinks or a_in < p.min_total or not p.min_retention * a_in <= a_out <= a_in * 1.001:
                continue
            t_last = max(last_in, scattered[-1][2])
            used_until = t_last
            hits.append(
                Hit(
                    transactions=[r[0] for r in gathered] + [r[0] for r in scattered],
                    nodes=[hub, *sorted(sources), *sorted(sinks)],
                    explanation=f"{ctx.display(hub)} collected {money(a_in)} from {len(sources)} sources and paid "
                    f"{money(a_out)} ({a_out / a_in:.0%}) to {len(sinks)} others within {span(t0, t_last)}.",
                    score=min(1.0, 0.6 + 0.03 * (len(sources) + len(sinks) - p.min_sources - p.min_sinks)),
                    path=[hub],
                    details={"sources": len(sources), "sinks": len(sinks)},
                )
            )
    return hits


def _time_ordered(
    frame: pl.DataFrame, node: str, other: str
) -> dict[str, tuple[list[dt.datetime], list[tuple[str, str, dt.datetime, float]]]]:
    """Per ``node``: its rows' times and its rows as (transaction id, ``other``, time, amount), in time order (ties
    by transaction id)."""
    out: dict[str, tuple[list[dt.datetime], list[tuple[str, str, dt.datetime, float]]]] = {}
    rows = by_node(frame, node).select(node, "transaction_id", other, "timestamp", "amount").rows()
    for key, group in itertools.groupby(rows, key=operator.itemgetter(0)):
        items = [r[1:] for r in group]
        out[key] = ([r[2] for r in items], items)
    return out


# -- temporal cycles --


class CycleParams(Params):
    min_length: int = Field(default=2, ge=2)
    max_length: int = Field(default=6, ge=2, le=12)
    window_hours: float = Field(default=168, gt=0)
    min_retention: float = Field(default=0.8, gt=0, le=1, description="each hop keeps this share of the previous one")
    min_amount: float = Field(default=10_000, ge=0, description="the first hop moves at least this much")
    max_growth: float = Field(default=1.001, ge=1, description="a hop carries at most this multiple of the previous")
    max_cycles: int = Field(default=100_000, ge=1, description="stop after this many cycles (safety valve)")


def _trim_acyclic(f: pl.DataFrame) -> pl.DataFrame:
    """Drop edges that cannot be on any cycle: repeatedly remove edges out of nodes nobody pays and into nodes that
    pay nobody (converges in a few rounds).

    The rounds run on the node columns' categorical codes with tables of flags (numpy), and the frame is filtered
    once at the end: ``is_in`` against the other column hashed millions of categoricals a round (10M flows: about
    2 s a scan)."""
    src, dst = f["src"].to_physical().to_numpy(), f["dst"].to_physical().to_numpy()
    if len(src) == 0:
        return f
    size = int(max(src.max(), dst.max())) + 1
    rows = np.arange(len(src))
    while True:
        pays, paid = np.zeros(size, dtype=bool), np.zeros(size, dtype=bool)
        pays[src] = True
        paid[dst] = True
        keep = paid[src] & pays[dst]
        if keep.all():
            break
        rows, src, dst = rows[keep], src[keep], dst[keep]
    if len(rows) == f.height:
        return f
    kept = np.zeros(f.height, dtype=bool)
    kept[rows] = True
    return f.filter(pl.Series(kept))


def temporal_cycle(ctx: Context, p: CycleParams, filters: Filters) -> list[Hit]:
    """Money leaves an account and returns to it through others, hops in time order, within the window, each hop
    keeping most of the amount (round-tripping). Equal timestamps count as ordered (date-only sources)."""
    lowest = p.min_amount * p.min_retention ** (p.max_length - 1)
    f = _trim_acyclic(ctx.flows_for(filters, (pl.col("src") != pl.col("dst")) & (pl.col("amount") >= lowest)))
    if f.height == 0:
        return []
    window = dt.timedelta(hours=p.window_hours)
    # out-edges of each node in time order; one sort and one pass over the rows (a frame per node costs ~80 us
    # each: 4.6 s for the 27,000 nodes left of 10M transactions)
    adjacency: dict[str, tuple[list[dt.datetime], list[tuple[str, float, str, dt.datetime]]]] = {}
    ordered = by_node(f, "src").select("src", "dst", "amount", "transaction_id", "timestamp")
    for src, group in itertools.groupby(ordered.rows(), key=operator.itemgetter(0)):
        rows = [r[1:] for r in group]
        adjacency[src] = ([r[3] for r in rows], rows)
    hits: list[Hit] = []
    for src, dst, amount, tid, t0 in (
        f.filter(pl.col("amount") >= p.min_amount).select("src", "dst", "amount", "transaction_id", "timestamp").rows()
    ):
        limit = t0 + window
        stack = [(dst, t0, amount, [tid], [src, dst])]
        while stack and len(hits) < p.max_cycles:
            node, t_last, a_last, tids, path = stack.pop()
            entry = adjacency.get(node)
            if entry is None:
                continue
            times, rows = entry
            for j in range(bisect.bisect_left(times, t_last), len(rows)):
                nxt, a, t_id, t = rows[j]
                if t > limit:
                    break
                if t_id in tids or a < p.min_retention * a_last or a > a_last * p.max_growth:
                    continue
                if nxt == src:
                    if len(tids) + 1 >= p.min_length:
                        hits.append(_cycle_hit(ctx, [*tids, t_id], path, t0, t, amount, a, p))
                    continue
                if nxt in path or len(tids) + 1 >= p.max_length:
                    continue
                stack.append((nxt, t, a, [*tids, t_id], [*path, nxt]))
    return hits


def _cycle_hit(
    ctx: Context,
    tids: list[str],
    path: list[str],
    t0: dt.datetime,
    t1: dt.datetime,
    first: float,
    last: float,
    p: CycleParams,
) -> Hit:
    n = len(tids)
    hours = max((t1 - t0).total_seconds() / 3600, 0.0)
    via = ", ".join(ctx.display(x) for x in path[1:])
    return Hit(
        transactions=tids,
        nodes=path,
        explanation=f"{money(first)} left {ctx.display(path[0])} and {money(last)} ({last / first:.0%}) returned "
        f"via {via} in {n} hops within {span(t0, t1)}.",
        score=min(1.0, 0.55 + 0.1 * (1 - hours / p.window_hours) + 0.05 * min(n, 6) + 0.1 * (last / first - 0.8)),
        path=[*path, path[0]],
        details={"hops": n},
    )


# -- pass-through stacks --


class PassThroughParams(Params):
    hold_hours: float = Field(default=48, gt=0, description="an account forwards within this many hours")
    min_retention: float = Field(default=0.9, gt=0, le=1, description="and forwards at least this share")
    min_chain: int = Field(default=2, ge=1, description="pass-through accounts in a row")
    min_amount: float = Field(default=5_000, ge=0)
    max_account_transactions: int = Field(default=200, ge=2, description="pruning: busier accounts are skipped")


def pass_through(ctx: Context, p: PassThroughParams, filters: Filters) -> list[Hit]:
    """Chains of accounts that each receive money and forward nearly all of it within hours (layering stacks)."""
    f = ctx.flows_for(filters, pl.col("amount") >= p.min_amount * p.min_retention**3)
    hold = dt.timedelta(hours=p.hold_hours)
    events = _relays(ctx, f, p.max_account_transactions, hold, p.min_retention, 1.001, strict=False).rename(
        {"M": "A", "id1": "id_in", "id2": "id_out"}
    )
    if events.height == 0:
        return []
    # link events: the out-transaction of one is the in-transaction of the next
    rows = events.select("A", "X", "t1", "a1", "id_in", "Y", "t2", "a2", "id_out").rows()
    by_in = {r[4]: r for r in rows}
    continued = {r[8] for r in rows}  # transactions that are some event's forward leg
    hits = []
    for row in rows:
        if row[4] in continued:
            continue  # not the start of a chain
        chain = [row]
        while chain[-1][8] in by_in and len(chain) < 50:
            chain.append(by_in[chain[-1][8]])
        if len(chain) < p.min_chain:
            continue
        tids = [chain[0][4], *[c[8] for c in chain]]
        path = [chain[0][1], *[c[0] for c in chain], chain[-1][5]]
        first, last = chain[0][3], chain[-1][7]
        t0, t1 = chain[0][2], chain[-1][6]
        hits.append(
            Hit(
                transactions=tids,
                nodes=path,
                explanation=f"{money(first)} passed through {len(chain)} accounts in a row, each forwarding at least "
                f"{p.min_retention:.0%} within {p.hold_hours:.0f} h; {money(last)} reached {ctx.display(path[-1])} "
                f"{span(t0, t1)} after leaving {ctx.display(path[0])}.",
                score=min(1.0, 0.5 + 0.1 * len(chain)),
                path=path,
                details={"pass_through_accounts": len(chain)},
            )
        )
    return hits


# -- structuring --


class StructuringParams(Params):
    min_deposits: int = Field(default=3, ge=2)
    window_hours: float = Field(default=120, gt=0)
    lower_fraction: float = Field(
        default=0.9, gt=0, lt=1, description="deposits between this share of the threshold and the threshold"
    )
    default_threshold: float = Field(default=10_000, gt=0, description="when the reference data has none")
    cash_funds_codes: list[str] = Field(default_factory=lambda: ["K"])
    cash_transmodes: list[str] = Field(default_factory=lambda: ["BR", "ATM"])


def structuring(ctx: Context, p: StructuringParams, filters: Filters) -> list[Hit]:
    """One subject makes several cash deposits just under the reporting threshold within a few days."""
    cash = ctx.flow_details(
        ctx.flows_for(filters),
        pl.col("from_funds_code").is_in(p.cash_funds_codes).fill_null(False)
        | (pl.col("transmode_code").is_in(p.cash_transmodes).fill_null(False) & pl.col("from_account_id").is_null()),
    )
    if cash.height == 0:
        return []
    thresholds = {f"{c}|{cur}": v for (c, cur), v in ctx.ref.thresholds.items()}
    cash = cash.with_columns(
        pl.concat_str([pl.coalesce("to_country", "from_country"), pl.lit("|"), pl.col("currency")])
        .replace_strict(thresholds, default=p.default_threshold, return_dtype=pl.Float64)
        .alias("_thr"),
        pl.coalesce("from_party_id", "to_party_id", "src").alias("_who"),
    ).filter((pl.col("amount") >= p.lower_fraction * pl.col("_thr")) & (pl.col("amount") < pl.col("_thr")))
    hits = []
    window = dt.timedelta(hours=p.window_hours)
    cash = cash.with_columns(pl.col("transaction_id").alias("_tid"))
    for burst in _bursts(cash, "_who", "_tid", p.min_deposits, window):
        who = burst["_who"][0]
        total = float(burst["amount"].sum())
        thr = float(burst["_thr"][0])
        t0, t1 = tmin(burst["timestamp"]), tmax(burst["timestamp"])
        amounts = burst["amount"].cast(pl.Float64).to_list()
        lo, hi = min(amounts), max(amounts)
        hits.append(
            Hit(
                transactions=burst["transaction_id"].to_list(),
                nodes=[who, *burst["dst"].unique(maintain_order=True).to_list()],
                explanation=f"{ctx.display(who)} made {burst.height} cash deposits of {money(lo)} to {money(hi)}, "
                f"each under the {money(thr)} threshold, {money(total)} in total within {span(t0, t1)}.",
                score=min(1.0, 0.5 + 0.1 * burst.height + (0.1 if total >= thr else 0.0)),
                path=[who],
                details={"deposits": burst.height, "threshold": thr},
            )
        )
    return hits
