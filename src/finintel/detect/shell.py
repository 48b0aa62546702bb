"""Shell-company chains: money moving through organizations that carry shell indicators, linked by ownership.

Every organization gets an explainable *shell score*: a weighted share of the indicators that could be evaluated
for it (an indicator whose data is missing, such as the employee count in goAML input, is left out of the
denominator rather than counted as present or absent). Money edges whose both ends are held by organizations
scoring at least ``min_shell_score`` form chains; a chain of at least ``min_chain_length`` organizations is a
finding, together with the hop into the chain and the hop out of it, and the ownership path up to a natural person
when the data has one.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import polars as pl
from pydantic import Field

from finintel.detect.base import Context, Filters, Hit, money, span, tmax, tmin
from finintel.detect.layering import Params


class ShellWeights(Params):
    recent_incorporation: float = 1.0
    no_employees: float = 1.0
    formation_agent_address: float = 1.0
    nominee_director: float = 1.5
    secrecy_jurisdiction: float = 1.0
    pass_through: float = 1.0


class ShellParams(Params):
    min_chain_length: int = Field(default=3, ge=2, description="organizations in the money chain")
    max_chain_length: int = Field(default=8, ge=2)
    min_shell_score: float = Field(default=0.5, ge=0, le=1)
    max_age_days: int = Field(default=365, ge=1, description="incorporated this recently before first activity")
    shared_address_min: int = Field(default=5, ge=2, description="organizations at one address = formation agent")
    board_seats_min: int = Field(default=10, ge=2, description="a director on more boards than this is a nominee")
    max_retention: float = Field(default=0.05, ge=0, le=1, description="keeps less than this share of what came in")
    window_days: float = Field(default=60, gt=0, description="the chain's transfers fall within this many days")
    weights: ShellWeights = Field(default_factory=ShellWeights)


def shell_scores(ctx: Context, p: ShellParams) -> pl.DataFrame:
    """One row per organization: each indicator (true/false/null when unknown) and the weighted score."""
    parties = ctx.store.parties.filter(pl.col("kind") == "organization")
    rel = ctx.store.relations
    # per account first (a group-by on 4-byte node codes, ~1 row per account), then per holder: joining every
    # flow with its holder would hold two flow-sized frames (10M flows: the scan's peak)
    flows = ctx.flows.lazy()
    moved, nothing = pl.col("amount").filter(pl.col("amount") > 0).sum(), pl.lit(0.0)
    sides = [
        flows.group_by(pl.col(node).alias("account_id")).agg(
            pl.col("timestamp").min().alias("first_tx"), into.alias("in_amount"), out.alias("out_amount")
        )
        for node, into, out in (("dst", moved, nothing), ("src", nothing, moved))
    ]
    holder = ctx.accounts.lazy().select(pl.col("account_id").cast(pl.Categorical), "holder").drop_nulls()
    activity = (
        pl.concat(sides)
        .join(holder, on="account_id")
        .group_by("holder")
        .agg(pl.col("first_tx").min(), pl.col("in_amount").sum(), pl.col("out_amount").sum())
        .collect()
    )
    seats = (
        rel.filter(pl.col("kind").is_in(["directs", "nominee"]) & (pl.col("target_type") == "party"))
        .group_by("source_id")
        .len()
        .rename({"len": "seats", "source_id": "director"})
    )
    directors = (
        rel.filter(pl.col("kind").is_in(["directs", "nominee"]))
        .select(
            pl.col("source_id").alias("director"),
            pl.col("target_id").alias("party_id"),
            (pl.col("kind") == "nominee").alias("is_nominee"),
        )
        .join(seats, on="director", how="left")
        .group_by("party_id")
        .agg((pl.col("is_nominee") | (pl.col("seats") > p.board_seats_min)).any().alias("nominee_director"))
    )
    addresses = (
        parties.filter(pl.col("address").is_not_null())
        .group_by(pl.col("address").str.to_lowercase(), pl.col("city").str.to_lowercase())
        .len()
        .rename({"len": "_same"})
    )
    high_risk = list(ctx.ref.high_risk)
    scored = (
        parties.join(activity, left_on="party_id", right_on="holder", how="left")
        .join(directors, on="party_id", how="left")
        .with_columns(pl.col("address").str.to_lowercase().alias("_a"), pl.col("city").str.to_lowercase().alias("_c"))
        .join(addresses.rename({"address": "_a", "city": "_c"}), on=["_a", "_c"], how="left")
        .with_columns(
            recent_incorporation=pl.when(pl.col("incorporation_date").is_null() | pl.col("first_tx").is_null())
            .then(None)
            .otherwise((pl.col("first_tx").dt.date() - pl.col("incorporation_date")).dt.total_days() < p.max_age_days),
            no_employees=pl.when(pl.col("employee_count").is_null())
            .then(None)
            .otherwise(pl.col("employee_count") == 0),
            formation_agent_address=pl.when(pl.col("_same").is_null())
            .then(None)
            .otherwise(pl.col("_same") >= p.shared_address_min),
            nominee_director=pl.col("nominee_director").fill_null(False),
            secrecy_jurisdiction=pl.when(pl.col("incorporation_country").is_null())
            .then(None)
            .otherwise(pl.col("incorporation_country").is_in(high_risk)),
            pass_through=pl.when(pl.col("in_amount").fill_null(0) <= 0)
            .then(None)
            .otherwise((pl.col("in_amount") - pl.col("out_amount")) / pl.col("in_amount") < p.max_retention),
        )
    )
    w = p.weights.model_dump()
    num = pl.sum_horizontal([pl.col(k).cast(pl.Float64).fill_null(0) * v for k, v in w.items()])
    den = pl.sum_horizontal([pl.col(k).is_not_null().cast(pl.Float64) * v for k, v in w.items()])
    return scored.with_columns(pl.when(den > 0).then(num / den).otherwise(0.0).alias("shell_score")).select(
        "party_id", "name", "incorporation_country", *w, "shell_score"
    )


def shell_chain(ctx: Context, p: ShellParams, filters: Filters) -> list[Hit]:
    """Money through a chain of organizations with shell indicators (recent, no staff, formation-agent address,
    nominee directors, secrecy jurisdictions, pass-through), ending at a natural person or high-risk jurisdiction."""
    scores = shell_scores(ctx, p)
    shells = scores.filter(pl.col("shell_score") >= p.min_shell_score)
    if shells.height < p.min_chain_length:
        return []
    indicators = {r["party_id"]: r for r in shells.iter_rows(named=True)}
    holder = ctx.holder_of
    shell_accounts = {a for a, h in holder.items() if h in indicators}
    shell_list = list(shell_accounts)
    # every flow that touches a shell account, once: the per-chain entry/exit lookups below scan only these
    touching = ctx.flows_for(filters, ctx.touching(shell_accounts))
    inner = touching.filter(pl.col("src").is_in(shell_list) & pl.col("dst").is_in(shell_list))
    if inner.height == 0:
        return []
    # chains = weakly connected groups of shell accounts joined by money
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for s, d in inner.select("src", "dst").rows():
        parent[find(s)] = find(d)
    groups: dict[str, set[str]] = defaultdict(set)
    for node in list(parent):
        groups[find(node)].add(node)
    owners = _owners(ctx)
    window = dt.timedelta(days=p.window_days)
    hits = []
    for members in sorted(groups.values(), key=lambda g: sorted(g)[0]):
        orgs = {holder[a] for a in members}
        if not p.min_chain_length <= len(orgs) <= p.max_chain_length:
            continue
        inside = inner.filter(pl.col("src").is_in(list(members)) & pl.col("dst").is_in(list(members)))
        t_first, t_last = tmin(inside["timestamp"]), tmax(inside["timestamp"])
        entry = touching.filter(
            pl.col("dst").is_in(list(members))
            & ~pl.col("src").is_in(list(members))
            & (pl.col("timestamp") <= t_first)
            & (pl.col("timestamp") >= t_first - window)
        )
        exit_ = touching.filter(
            pl.col("src").is_in(list(members))
            & ~pl.col("dst").is_in(list(members))
            & (pl.col("timestamp") >= t_last)
            & (pl.col("timestamp") <= t_last + window)
        )
        chain_tx = pl.concat([entry.sort("timestamp").tail(1), inside, exit_.sort("timestamp").head(1)]).sort(
            "timestamp"
        )
        if tmax(chain_tx["timestamp"]) - tmin(chain_tx["timestamp"]) > window:
            continue
        path: list[str] = []
        for s, d in chain_tx.select("src", "dst").rows():
            for node in (s, d):
                if node not in path:
                    path.append(node)
        org_path = [holder[a] for a in path if a in members]
        ubo = _ultimate_owner(org_path, owners, ctx)
        end = path[-1]
        end_party = holder.get(end, end)
        end_kind = ctx.node_kind.get(end_party)
        risky = sorted(
            {
                indicators[o]["incorporation_country"]
                for o in org_path
                if indicators[o]["incorporation_country"] in ctx.ref.high_risk
            }
        )
        evidence: dict[str, Any] = {
            o: {k: indicators[o][k] for k in ShellWeights.model_fields if indicators[o][k] is not None}
            | {"score": round(indicators[o]["shell_score"], 2)}
            for o in org_path
        }
        amounts = chain_tx["amount"].to_list()
        mean_score = sum(indicators[o]["shell_score"] for o in org_path) / len(org_path)
        ends = []
        if end_kind == "person":
            ends.append(f"ends at natural person {ctx.display(end_party)}")
        if ubo:
            ends.append(f"owned ultimately by {ctx.display(ubo)}")
        if risky:
            ends.append(f"through {', '.join(risky)}")
        hits.append(
            Hit(
                transactions=chain_tx["transaction_id"].to_list(),
                nodes=[*path, *org_path, *([ubo] if ubo else [])],
                explanation=f"{money(amounts[0])} moved through {len(org_path)} organizations with shell indicators "
                f"(mean score {mean_score:.2f}) in {span(tmin(chain_tx['timestamp']), tmax(chain_tx['timestamp']))}; "
                f"{money(amounts[-1])} left the chain" + (f"; {'; '.join(ends)}." if ends else "."),
                score=min(1.0, 0.4 + 0.5 * mean_score + 0.05 * len(org_path) + (0.1 if ubo else 0.0)),
                path=path,
                details={
                    "organizations": org_path,
                    "indicators": evidence,
                    "ultimate_owner": ubo,
                    "high_risk_jurisdictions": risky,
                },
            )
        )
    return hits


def _owners(ctx: Context) -> dict[str, list[str]]:
    rel = ctx.store.relations.filter(pl.col("kind").is_in(["owns", "controls"]) & (pl.col("target_type") == "party"))
    owners: dict[str, list[str]] = defaultdict(list)
    for src, dst in rel.select("source_id", "target_id").rows():
        owners[dst].append(src)
    return owners


def _ultimate_owner(orgs: list[str], owners: dict[str, list[str]], ctx: Context) -> str | None:
    """Walk ownership upwards from the chain's organizations to the first natural person."""
    seen: set[str] = set()
    frontier = list(orgs)
    while frontier:
        nxt = []
        for o in frontier:
            for owner in sorted(owners.get(o, [])):
                if owner in seen:
                    continue
                seen.add(owner)
                if ctx.node_kind.get(owner) == "person":
                    return owner
                nxt.append(owner)
        frontier = nxt
    return None
