"""Virtual-currency detectors: hop chains fiat -> VASP -> wallets -> VASP -> fiat, mixer hops, chain-hopping
through bridges, peel chains. Wallet labels come from the store (``accounts.label``) and from label files
(``--wallet-labels``). Tracing stops at labelled exchange wallets: they touch everything."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import polars as pl
from pydantic import Field

from finintel.detect.base import Context, Filters, Hit, money, span
from finintel.detect.layering import Params


class HopChainParams(Params):
    min_wallet_hops: int = Field(default=2, ge=1, description="transfers between wallets on the way")
    max_hops: int = Field(default=12, ge=1)
    window_hours: float = Field(default=120, gt=0)
    min_retention: float = Field(default=0.8, gt=0, le=1, description="each hop carries at least this share")
    require_fiat_ends: bool = Field(default=False, description="only chains that start and end in a bank account")


def va_hop_chain(ctx: Context, p: HopChainParams, filters: Filters) -> list[Hit]:
    """Funds leave a VASP to a wallet, hop between unlabelled wallets and come back into a VASP (with the fiat
    deposit before and the fiat withdrawal after, when present)."""
    kind, label, _ = ctx.account_attributes
    crypto = [a for a, k in kind.items() if k in ("vasp", "wallet")]
    f = ctx.flows_for(filters, ctx.touching(crypto))
    window = dt.timedelta(hours=p.window_hours)
    rows = f.select("transaction_id", "src", "dst", "timestamp", "amount").rows()
    out_by: dict[str, list[tuple[str, str, str, dt.datetime, float]]] = defaultdict(list)
    in_by: dict[str, list[tuple[str, str, str, dt.datetime, float]]] = defaultdict(list)
    for r in rows:
        out_by[r[1]].append(r)
        in_by[r[2]].append(r)

    def is_exit(node: str) -> bool:
        return kind.get(node) == "vasp" or label.get(node) == "exchange"

    hits = []
    for r in rows:
        _, src, dst, t0, amount = r
        if kind.get(src) != "vasp" or kind.get(dst) != "wallet" or label.get(dst):
            continue
        chain = [r]
        node, t_last, a_last = dst, t0, amount
        while len(chain) <= p.max_hops:
            nxt = [
                e
                for e in out_by.get(node, [])
                if t_last <= e[3] <= t0 + window and p.min_retention * a_last <= e[4] <= a_last * 1.001
            ]
            if not nxt:
                break
            e = max(nxt, key=lambda e: (e[4], e[0]))  # follow the bulk of the money
            chain.append(e)
            node, t_last, a_last = e[2], e[3], e[4]
            if is_exit(node) or label.get(node):
                break
        hops = sum(1 for e in chain if kind.get(e[1]) == "wallet" and kind.get(e[2]) == "wallet")
        if not is_exit(chain[-1][2]) or hops < p.min_wallet_hops:
            continue
        fiat_in = [e for e in in_by.get(src, []) if kind.get(e[1]) == "bank" and t0 - window <= e[3] <= t0]
        fiat_out = [
            e
            for e in out_by.get(chain[-1][2], [])
            if kind.get(e[2]) == "bank" and chain[-1][3] <= e[3] <= chain[-1][3] + window
        ]
        if p.require_fiat_ends and not (fiat_in and fiat_out):
            continue
        full = ([fiat_in[-1]] if fiat_in else []) + chain + ([fiat_out[0]] if fiat_out else [])
        path = [full[0][1], *[e[2] for e in full]]
        ends = " with fiat in and out" if fiat_in and fiat_out else ""
        hits.append(
            Hit(
                transactions=[e[0] for e in full],
                nodes=path,
                explanation=f"{money(amount)} left {ctx.display(src)} to a wallet, hopped through {hops + 1} wallets "
                "and "
                f"{money(chain[-1][4])} arrived at {ctx.display(chain[-1][2])} within "
                f"{span(full[0][3], full[-1][3])}{ends}.",
                score=min(1.0, 0.55 + 0.05 * hops + (0.2 if ends else 0.0)),
                path=path,
                details={"wallet_hops": hops, "fiat_in": bool(fiat_in), "fiat_out": bool(fiat_out)},
            )
        )
    return hits


class MixerParams(Params):
    labels: list[str] = Field(default_factory=lambda: ["mixer"], description="wallet labels that mean a mixer")
    window_hours: float = Field(default=72, gt=0, description="outputs within this long after the deposit")
    min_amount: float = Field(default=1_000, ge=0)


def va_mixer(ctx: Context, p: MixerParams, filters: Filters) -> list[Hit]:
    """Funds pass through a wallet labelled as a mixer/tumbler: the deposit and the outputs attributed to it."""
    _, label, chain = ctx.account_attributes
    mixers = {a for a, lab in label.items() if lab in p.labels}
    if not mixers:
        return []
    deposits = ctx.flows_for(filters, ctx.touching(mixers, "dst"), pl.col("amount") >= p.min_amount).sort("timestamp")
    outputs = ctx.flows_for(filters, ctx.touching(mixers, "src")).sort("timestamp")
    window = dt.timedelta(hours=p.window_hours)
    remaining: dict[str, float] = {}
    assigned: dict[str, list[tuple[str, str, dt.datetime, float]]] = defaultdict(list)
    open_deposits: dict[str, list[tuple[str, dt.datetime]]] = defaultdict(list)
    events = sorted(
        [
            ("d", r[0], r[1], r[2], r[3], r[4])
            for r in deposits.select("transaction_id", "src", "dst", "timestamp", "amount").rows()
        ]
        + [
            ("o", r[0], r[1], r[2], r[3], r[4])
            for r in outputs.select("transaction_id", "src", "dst", "timestamp", "amount").rows()
        ],
        key=lambda e: (e[4], e[0] != "d", e[1]),  # at equal times a deposit comes before an output
    )
    info = {}
    for typ, tid, src, dst, t, a in events:
        if typ == "d":
            remaining[tid] = a
            info[tid] = (src, dst, t, a)
            open_deposits[dst].append((tid, t))
            continue
        # an output goes to the oldest open deposit into this mixer that it still fits (first in, first out)
        for dep, t_dep in open_deposits[src]:
            if t - t_dep <= window and remaining[dep] >= a * 0.5:
                assigned[dep].append((tid, dst, t, a))
                remaining[dep] -= a
                break
    hits = []
    for dep, (src, mixer, t, a) in info.items():
        outs = assigned.get(dep, [])
        if not outs:
            continue
        out_total = sum(o[3] for o in outs)
        hits.append(
            Hit(
                transactions=[dep, *[o[0] for o in outs]],
                nodes=[src, mixer, *[o[1] for o in outs]],
                explanation=f"{money(a)} went from {ctx.display(src)} into {ctx.display(mixer)}; {len(outs)} outputs "
                f"totalling {money(out_total)} left it within {span(t, outs[-1][2])}.",
                score=min(1.0, 0.7 + 0.03 * len(outs)),
                path=[src, mixer],
                details={"outputs": len(outs), "chain": chain.get(mixer)},
            )
        )
    return hits


class ChainHopParams(Params):
    labels: list[str] = Field(default_factory=lambda: ["bridge"], description="wallet labels that mean a bridge/swap")
    max_gap_hours: float = Field(default=24, gt=0, description="value reappears on the other chain within this long")
    min_retention: float = Field(default=0.95, gt=0, le=1)
    min_switches: int = Field(default=1, ge=1, description="chain changes in a row")
    window_hours: float = Field(default=72, gt=0)


def va_chain_hop(ctx: Context, p: ChainHopParams, filters: Filters) -> list[Hit]:
    """Value goes into a bridge on one chain and comes out on another shortly after, possibly several times."""
    _, label, chain = ctx.account_attributes
    bridges = {a for a, lab in label.items() if lab in p.labels}
    if not bridges:
        return []
    edge = ("transaction_id", "src", "dst", "timestamp", "amount")
    ins = ctx.flows_for(filters, ctx.touching(bridges, "dst")).select(edge).rows()
    outs = ctx.flows_for(filters, ctx.touching(bridges, "src")).select(edge).rows()
    gap = dt.timedelta(hours=p.max_gap_hours)
    used: set[str] = set()
    hop_of: dict[str, tuple[tuple[str, str, str, dt.datetime, float], tuple[str, str, str, dt.datetime, float]]] = {}
    for i in sorted(ins, key=lambda r: (r[3], r[0])):
        cands = [
            o
            for o in outs
            if o[0] not in used
            and chain.get(o[1]) != chain.get(i[2])
            and i[3] <= o[3] <= i[3] + gap
            and p.min_retention * i[4] <= o[4] <= i[4]
        ]
        if not cands:
            continue
        o = min(cands, key=lambda o: (o[3] - i[3], abs(o[4] - i[4]), o[0]))
        used.add(o[0])
        hop_of[i[1]] = (i, o)  # keyed by the wallet that entered the bridge
    starts = [w for w in hop_of if not any(o[2] == w for _, o in hop_of.values())]
    hits = []
    window = dt.timedelta(hours=p.window_hours)
    for w in sorted(starts, key=lambda w: (hop_of[w][0][3], w)):
        seq = [hop_of[w]]
        while seq[-1][1][2] in hop_of and len(seq) < 20:
            nxt = hop_of[seq[-1][1][2]]
            if nxt[0][3] - seq[0][0][3] > window:
                break
            seq.append(nxt)
        if len(seq) < p.min_switches:
            continue
        chains = [chain.get(seq[0][0][2])] + [chain.get(o[1]) for _, o in seq]
        tids = [t for i, o in seq for t in (i[0], o[0])]
        path = [w] + [n for i, o in seq for n in (i[2], o[1], o[2])]
        hits.append(
            Hit(
                transactions=tids,
                nodes=path,
                explanation=f"{money(seq[0][0][4])} hopped across chains {' -> '.join(c or '?' for c in chains)} "
                "through "
                f"{len(seq)} bridge{'s' if len(seq) > 1 else ''} within {span(seq[0][0][3], seq[-1][1][3])}; "
                f"{money(seq[-1][1][4])} arrived.",
                score=min(1.0, 0.6 + 0.15 * len(seq)),
                path=path,
                details={"switches": len(seq), "chains": chains},
            )
        )
    return hits


class PeelParams(Params):
    min_hops: int = Field(default=4, ge=2, description="peels in a row")
    max_peel_fraction: float = Field(default=0.1, gt=0, lt=0.5, description="a peel is at most this share")
    max_gap_hours: float = Field(default=24, gt=0, description="peel and remainder leave within this long")
    min_amount: float = Field(default=1_000, ge=0)


def va_peel_chain(ctx: Context, p: PeelParams, filters: Filters) -> list[Hit]:
    """A wallet sends a small peel to one address and the large remainder to a new wallet, which does the same."""
    kind, label, _ = ctx.account_attributes
    w = ctx.flows_for(filters, ctx.touching([a for a, k in kind.items() if k == "wallet" and not label.get(a)], "src"))
    by_src: dict[str, list[tuple[str, str, dt.datetime, float]]] = defaultdict(list)
    for tid, src, dst, t, a in w.select("transaction_id", "src", "dst", "timestamp", "amount").rows():
        by_src[src].append((tid, dst, t, a))
    gap = dt.timedelta(hours=p.max_gap_hours)
    step: dict[str, tuple[tuple[str, str, dt.datetime, float], tuple[str, str, dt.datetime, float]]] = {}
    for src, outs in by_src.items():
        outs.sort(key=lambda o: (o[2], o[0]))
        for i, big in enumerate(outs):
            for small in outs[max(0, i - 3) : i + 4]:
                if small is big or abs(small[2] - big[2]) > gap:
                    continue
                total = small[3] + big[3]
                if small[3] <= p.max_peel_fraction * total and total >= p.min_amount:
                    step.setdefault(src, (small, big))
    receivers = {big[1] for _, big in step.values()}
    hits = []
    for start in sorted(s for s in step if s not in receivers):
        chain = [start]
        while chain[-1] in step and len(chain) < 200:
            chain.append(step[chain[-1]][1][1])
        peels = [step[x] for x in chain if x in step]
        if len(peels) < p.min_hops:
            continue
        tids = [t for small, big in peels for t in (small[0], big[0])]
        peeled = sum(s[3] for s, _ in peels)
        t0, t1 = min(s[2] for s, _ in peels), max(b[2] for _, b in peels)
        hits.append(
            Hit(
                transactions=tids,
                nodes=[*chain, *[s[1] for s, _ in peels]],
                explanation=f"{ctx.display(start)} started a peel chain of {len(peels)} hops: {money(peeled)} peeled "
                "off "
                f"in small amounts while the remainder moved to a new wallet each time, within {span(t0, t1)}.",
                score=min(1.0, 0.5 + 0.05 * len(peels)),
                path=chain,
                details={"hops": len(peels)},
            )
        )
    return hits
