"""Planted typologies and decoys, following ``../shared/reference/typologies.md`` (see ``docs/synth.md``).

Each planter adds fresh participants to the world, appends transactions and records labels: one row per
instance per transaction, party and account, with the role it plays.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from finintel.synth.background import Population
from finintel.synth.config import Knobs
from finintel.synth.world import CITY, SECRECY, World


@dataclass
class Planted:
    transactions: list[dict[str, Any]] = field(default_factory=list)
    labels: list[dict[str, Any]] = field(default_factory=list)
    decoys: list[dict[str, Any]] = field(default_factory=list)


class Planter:
    """Shared helpers: time placement, fresh participants, transactions and labels of one instance."""

    def __init__(self, world: World, pop: Population, out: Planted) -> None:
        self.world = world
        self.pop = pop
        self.rng = world.rng
        self.out = out
        self.instance = ""
        self.typology = ""
        self.sink: list[dict[str, Any]] = out.labels
        self._mixers: dict[str, str] = {}
        self._bridges: dict[str, str] = {}

    # -- instance bookkeeping ----------------------------------------------------------------------------------------

    def begin(self, typology: str, number: int, *, decoy: bool = False) -> None:
        self.typology = typology
        self.instance = f"{'decoy' if decoy else 'inst'}-{typology}-{number:04d}"
        self.sink = self.out.decoys if decoy else self.out.labels

    def label(self, role: str, *, tx: int | None = None, party: str | None = None, account: str | None = None) -> None:
        self.sink.append(
            {
                "instance_id": self.instance,
                "typology": self.typology,
                "role": role,
                "_tx": tx,
                "party_id": party,
                "account_id": account,
            }
        )

    def start(self, window_hours: float) -> dt.datetime:
        span_days = self.world.days - 1 - int(window_hours // 24) - 1
        day = int(self.rng.integers(1, max(span_days, 2)))
        return self.world.moment(day, float(self.rng.uniform(8, 17)))

    def within(self, t0: dt.datetime, window_hours: float, n: int) -> list[dt.datetime]:
        """n increasing moments in [t0, t0 + window)."""
        offsets = np.sort(self.rng.uniform(0, window_hours * 0.98, n))
        return [t0 + dt.timedelta(hours=float(h)) for h in offsets]

    def amount(self, knobs: Knobs) -> float:
        lo, hi = knobs.amount
        return round(float(self.rng.uniform(lo, hi)), 2)

    # -- participants ----------------------------------------------------------------------------------------------

    def country(self) -> str:
        js = self.world.jurisdictions
        return js[int(self.rng.integers(0, len(js)))]

    def person_account(self, role: str) -> tuple[str, str]:
        p = self.world.new_person(self.country())
        acct = self.world.bank_account(p)
        self.label(role, party=p["party_id"], account=acct)
        return p["party_id"], acct

    def company_account(self, role: str, **kw: Any) -> tuple[str, str]:
        org = self.world.new_organization(kw.pop("country", None) or self.country(), **kw)
        acct = self.world.bank_account(org)
        self.label(role, party=org["party_id"], account=acct)
        return org["party_id"], acct

    def any_account(self, role: str) -> str:
        if self.rng.random() < 0.5:
            return self.person_account(role)[1]
        return self.company_account(role)[1]

    def fresh_wallet(self, chain: str, role: str) -> str:
        w = self.world.wallet(chain)
        self.label(role, account=w)
        return w

    def mixer(self, chain: str) -> str:
        if chain not in self._mixers:
            self._mixers[chain] = self.world.wallet(chain, label="mixer")
        return self._mixers[chain]

    def bridge(self, chain: str) -> str:
        if chain not in self._bridges:
            self._bridges[chain] = self.world.wallet(chain, label="bridge")
        return self._bridges[chain]

    # -- transactions ----------------------------------------------------------------------------------------------

    def tx(
        self,
        src: str | None,
        dst: str,
        when: dt.datetime,
        amount: float,
        role: str,
        *,
        mode: str = "SW",
        funds: tuple[str, str] = ("A", "A"),
        description: str = "TRANSFER",
        from_party: str | None = None,
        labelled: bool = True,
    ) -> int:
        self.out.transactions.append(
            {
                "from_account_id": src,
                "to_account_id": dst,
                "from_party_id": from_party,
                "timestamp": when,
                "amount": round(amount, 2),
                "transmode_code": mode,
                "from_funds_code": funds[0],
                "to_funds_code": funds[1],
                "description": description,
                "kind": f"planted:{self.typology}",
            }
        )
        index = len(self.out.transactions) - 1
        if labelled:
            self.label(role, tx=index)
        return index

    def noise(self, accounts: list[str], knobs: Knobs) -> None:
        """Ordinary activity of planted accounts, so they are not used for the pattern only (not labelled)."""
        persons = self.pop.person_accounts
        for acct in accounts:
            for _ in range(knobs.noise):
                other = str(persons[int(self.rng.integers(0, len(persons)))])
                day = int(self.rng.integers(0, self.world.days))
                when = self.world.moment(day, float(self.rng.uniform(8, 21)))
                amount = float(self.rng.lognormal(4.2, 0.9))
                src, dst = (acct, other) if self.rng.random() < 0.5 else (other, acct)
                self.tx(src, dst, when, amount, "noise", mode="IB", description="TRANSFER", labelled=False)


# -- layering ------------------------------------------------------------------------------------------------------


def plant_cycle(p: Planter, k: Knobs) -> None:
    n = int(p.rng.integers(k.size[0], k.size[1] + 1))
    members = [p.any_account("member") for _ in range(n)]
    times = p.within(p.start(k.window_hours), k.window_hours, n)
    amount = p.amount(k)
    for i in range(n):
        p.tx(members[i], members[(i + 1) % n], times[i], amount, "hop", description="SERVICES")
        amount *= float(p.rng.uniform(0.95, 0.995))
    p.noise(members, k)


def plant_fan_out(p: Planter, k: Knobs) -> None:
    n = int(p.rng.integers(k.size[0], k.size[1] + 1))
    src = p.any_account("source")
    times = p.within(p.start(k.window_hours), k.window_hours, n)
    targets = [p.person_account("receiver")[1] for _ in range(n)]
    for t, dst in zip(times, targets, strict=True):
        p.tx(src, dst, t, p.amount(k), "out", mode="IB")
    p.noise([src, *targets], k)


def plant_fan_in(p: Planter, k: Knobs) -> None:
    n = int(p.rng.integers(k.size[0], k.size[1] + 1))
    dst = p.any_account("target")
    times = p.within(p.start(k.window_hours), k.window_hours, n)
    senders = []
    for t in times:
        src = p.person_account("sender")[1]
        senders.append(src)
        p.tx(src, dst, t, p.amount(k), "in", mode="IB")
    p.noise([dst, *senders], k)


def plant_scatter_gather(p: Planter, k: Knobs) -> None:
    n = int(p.rng.integers(k.size[0], k.size[1] + 1))
    src = p.any_account("source")
    sink = p.any_account("sink")
    t0 = p.start(k.window_hours)
    total = p.amount(k)
    shares = p.rng.dirichlet(np.ones(n) * 4) * total
    mids = [p.any_account("intermediary") for _ in range(n)]
    half = k.window_hours / 2
    out_times = p.within(t0, half, n)
    for mid, share, t in zip(mids, shares, out_times, strict=True):
        p.tx(src, mid, t, float(share), "scatter")
        later = t + dt.timedelta(hours=float(p.rng.uniform(1, half * 0.95)))
        p.tx(mid, sink, later, float(share) * float(p.rng.uniform(0.9, 0.98)), "gather")
    p.noise([src, sink, *mids], k)


def plant_gather_scatter(p: Planter, k: Knobs) -> None:
    n = int(p.rng.integers(k.size[0], k.size[1] + 1))
    hub = p.any_account("hub")
    t0 = p.start(k.window_hours)
    half = k.window_hours / 2
    total = 0.0
    for t in p.within(t0, half, n):
        amount = p.amount(k) / n
        total += amount
        p.tx(p.person_account("source")[1], hub, t, amount, "gather")
    shares = p.rng.dirichlet(np.ones(n) * 4) * total * float(p.rng.uniform(0.9, 0.98))
    for share, t in zip(shares, p.within(t0 + dt.timedelta(hours=half), half, n), strict=True):
        p.tx(hub, p.person_account("sink")[1], t, float(share), "scatter")
    p.noise([hub], k)


def plant_pass_through(p: Planter, k: Knobs) -> None:
    n = int(p.rng.integers(k.size[0], k.size[1] + 1))
    origin = p.any_account("source")
    chain = [p.any_account("pass_through") for _ in range(n)]
    dest = p.any_account("sink")
    hop = min(48.0, k.window_hours / (n + 1))
    t = p.start(k.window_hours)
    amount = p.amount(k)
    path = [origin, *chain, dest]
    for a, b in itertools.pairwise(path):
        p.tx(a, b, t, amount, "hop")
        t += dt.timedelta(hours=float(p.rng.uniform(0.5, hop)))
        amount *= float(p.rng.uniform(0.9, 0.98))
    p.noise(chain, k)


def plant_structuring(p: Planter, k: Knobs) -> None:
    n = int(p.rng.integers(k.size[0], k.size[1] + 1))
    person, acct = p.person_account("depositor")
    for t in p.within(p.start(k.window_hours), k.window_hours, n):
        p.tx(
            None,
            acct,
            t,
            p.amount(k),
            "deposit",
            mode="BR",
            funds=("K", "A"),
            description="CASH DEPOSIT",
            from_party=person,
        )
    p.noise([acct], k)


# -- shell companies ------------------------------------------------------------------------------------------------


def plant_shell_chain(p: Planter, k: Knobs) -> None:
    n = int(p.rng.integers(k.size[0], k.size[1] + 1))
    w = p.world
    ubo = w.new_person(p.country(), birth_year=(1955, 1985))
    nominee = w.new_person(p.country(), birth_year=(1945, 1970))
    p.label("ubo", party=ubo["party_id"])
    p.label("nominee", party=nominee["party_id"])
    agent_country = SECRECY[int(p.rng.integers(0, len(SECRECY)))]
    address = f"{int(p.rng.integers(2, 90))} Formation House, Suite {int(p.rng.integers(100, 999))}"
    t = p.start(k.window_hours)
    shells = []
    for _ in range(n):
        country = agent_country if p.rng.random() < 0.6 else p.country()
        incorporated = t.date() - dt.timedelta(days=int(p.rng.integers(30, 300)))  # recent, before first use
        org = w.new_organization(
            country,
            business_type="company",
            employees=0,
            incorporated=incorporated,
            address=address,
            business="general trading",
        )
        org["city"] = CITY.get(country, country)
        acct = w.bank_account(org)
        p.label("shell", party=org["party_id"], account=acct)
        shells.append((org["party_id"], acct))
        w.relate("nominee", nominee["party_id"], org["party_id"], "party", role="NOM")
    for _ in range(10):  # dormant shells: the nominee sits on more than ten boards
        org = w.new_organization(
            agent_country,
            business_type="company",
            employees=0,
            address=address,
            incorporated=t.date() - dt.timedelta(days=int(p.rng.integers(30, 700))),
        )
        w.relate("nominee", nominee["party_id"], org["party_id"], "party", role="NOM")
        p.label("dormant_shell", party=org["party_id"])
    w.relate("owns", ubo["party_id"], shells[-1][0], "party", share=100.0, role="UBO")
    for (child, _), (parent, _) in itertools.pairwise(shells):
        w.relate("owns", parent, child, "party", share=100.0, role="SHR")
    _, origin = p.company_account("source")
    ubo_account = w.bank_account(ubo)
    p.label("beneficiary_account", party=ubo["party_id"], account=ubo_account)
    hop = k.window_hours / (n + 1)
    amount = p.amount(k)
    path = [origin, *[a for _, a in shells], ubo_account]
    for a, b in itertools.pairwise(path):
        p.tx(a, b, t, amount, "hop", description="CONSULTANCY AGREEMENT")
        t += dt.timedelta(hours=float(p.rng.uniform(2, hop)))
        amount *= float(p.rng.uniform(0.96, 0.995))


# -- virtual assets -------------------------------------------------------------------------------------------------

CHAINS = ("BTC", "ETH", "TRX")


def plant_va_hop_chain(p: Planter, k: Knobs) -> None:
    hops = int(p.rng.integers(k.size[0], k.size[1] + 1))
    w = p.world
    chain = CHAINS[int(p.rng.integers(0, 3))]
    vasp_in, vasp_out = w.vasps[0], w.vasps[-1]
    owner, bank_in = p.person_account("originator")
    cust_in = w.custodial_account(w.party_by_id[owner], vasp_in)
    p.label("custodial", account=cust_in)
    receiver, bank_out = p.person_account("receiver")
    cust_out = w.custodial_account(w.party_by_id[receiver], vasp_out)
    p.label("custodial", account=cust_out)
    wallets = [p.fresh_wallet(chain, "hop_wallet") for _ in range(hops)]
    times = p.within(p.start(k.window_hours), k.window_hours, hops + 3)
    amount = p.amount(k)
    p.tx(bank_in, cust_in, times[0], amount, "fiat_in", mode="EFT", funds=("A", "X"), description="DEPOSIT")
    amount *= 0.99
    p.tx(cust_in, wallets[0], times[1], amount, "withdrawal", mode="VA", funds=("X", "X"))
    for i in range(hops - 1):
        amount *= float(p.rng.uniform(0.98, 0.999))
        p.tx(wallets[i], wallets[i + 1], times[2 + i], amount, "hop", mode="VA", funds=("X", "X"))
    amount *= 0.995
    p.tx(wallets[-1], cust_out, times[hops + 1], amount, "deposit", mode="VA", funds=("X", "X"))
    p.tx(
        cust_out,
        bank_out,
        times[hops + 2],
        amount * 0.99,
        "fiat_out",
        mode="EFT",
        funds=("X", "A"),
        description="WITHDRAWAL",
    )


def plant_va_mixer(p: Planter, k: Knobs) -> None:
    n = int(p.rng.integers(k.size[0], k.size[1] + 1))
    chain = ("BTC", "ETH")[int(p.rng.integers(0, 2))]
    mixer = p.mixer(chain)
    p.label("mixer", account=mixer)
    source = p.fresh_wallet(chain, "source")
    hot = next(h for h in p.pop.hot_wallets if p.world.accounts_by_id[h]["chain"] == chain)
    times = p.within(p.start(k.window_hours), k.window_hours, n + 2)
    amount = p.amount(k)
    p.tx(hot, source, times[0], amount * 1.002, "funding", mode="VA", funds=("X", "X"))
    p.tx(source, mixer, times[1], amount, "into_mixer", mode="VA", funds=("X", "X"))
    shares = p.rng.dirichlet(np.ones(n) * 3) * amount * float(p.rng.uniform(0.95, 0.98))
    for share, t in zip(shares, times[2:], strict=True):
        p.tx(mixer, p.fresh_wallet(chain, "output"), t, float(share), "out_of_mixer", mode="VA", funds=("X", "X"))


def plant_va_chain_hop(p: Planter, k: Knobs) -> None:
    switches = int(p.rng.integers(k.size[0], k.size[1] + 1))
    order = list(p.rng.permutation(CHAINS))
    chains = [order[i % 3] for i in range(switches + 1)]
    wallet = p.fresh_wallet(chains[0], "hop_wallet")
    times = p.within(p.start(k.window_hours), k.window_hours, 2 * switches)
    amount = p.amount(k)
    for i in range(switches):
        p.label("bridge", account=p.bridge(chains[i]))
        p.tx(wallet, p.bridge(chains[i]), times[2 * i], amount, "into_bridge", mode="VA", funds=("X", "X"))
        amount *= float(p.rng.uniform(0.99, 0.997))
        nxt = p.fresh_wallet(chains[i + 1], "hop_wallet")
        p.label("bridge", account=p.bridge(chains[i + 1]))
        p.tx(p.bridge(chains[i + 1]), nxt, times[2 * i + 1], amount, "out_of_bridge", mode="VA", funds=("X", "X"))
        wallet = nxt


def plant_va_peel_chain(p: Planter, k: Knobs) -> None:
    hops = int(p.rng.integers(k.size[0], k.size[1] + 1))
    chain = ("BTC", "ETH", "TRX")[int(p.rng.integers(0, 3))]
    wallet = p.fresh_wallet(chain, "chain_wallet")
    times = p.within(p.start(k.window_hours), k.window_hours, hops)
    amount = p.amount(k)
    for i in range(hops):
        # one on-chain transaction with two outputs: the peel and the remainder (seconds apart in the data)
        peel = amount * float(p.rng.uniform(0.01, 0.06))
        p.tx(wallet, p.fresh_wallet(chain, "peel_recipient"), times[i], peel, "peel", mode="VA", funds=("X", "X"))
        amount -= peel
        nxt = p.fresh_wallet(chain, "chain_wallet")
        p.tx(
            wallet,
            nxt,
            times[i] + dt.timedelta(seconds=float(p.rng.uniform(0, 60))),
            amount * 0.9995,
            "remainder",
            mode="VA",
            funds=("X", "X"),
        )
        amount *= 0.9995
        wallet = nxt


PLANTERS: dict[str, Callable[[Planter, Knobs], None]] = {
    "shell_chain": plant_shell_chain,
    "cycle": plant_cycle,
    "fan_in": plant_fan_in,
    "fan_out": plant_fan_out,
    "scatter_gather": plant_scatter_gather,
    "gather_scatter": plant_gather_scatter,
    "pass_through": plant_pass_through,
    "structuring": plant_structuring,
    "va_hop_chain": plant_va_hop_chain,
    "va_mixer": plant_va_mixer,
    "va_chain_hop": plant_va_chain_hop,
    "va_peel_chain": plant_va_peel_chain,
}


# -- decoys: legitimate activity with the same shapes ----------------------------------------------------------------


def decoy_payroll_fan_out(p: Planter) -> None:
    _, payroll = p.company_account(
        "payroll_provider", business_type="payroll", employees=120, age_days=4000, business="payroll services"
    )
    n = int(p.rng.integers(20, 60))
    t0 = p.start(24)
    persons = p.pop.person_accounts
    for i in range(n):
        dst = str(persons[int(p.rng.integers(0, len(persons)))])
        p.tx(
            payroll,
            dst,
            t0 + dt.timedelta(minutes=i),
            float(p.rng.lognormal(7.9, 0.3)),
            "salary",
            mode="EFT",
            description="SALARY",
        )


def decoy_holding_group(p: Planter) -> None:
    w = p.world
    country = p.country()
    parent_id, parent = p.company_account(
        "parent", country=country, employees=int(p.rng.integers(300, 3000)), age_days=int(p.rng.integers(5000, 15000))
    )
    subs = []
    for _ in range(int(p.rng.integers(3, 6))):
        sub_id, sub = p.company_account(
            "subsidiary",
            country=p.country(),
            employees=int(p.rng.integers(30, 800)),
            age_days=int(p.rng.integers(2000, 9000)),
        )
        w.relate("owns", parent_id, sub_id, "party", share=float(p.rng.choice([51.0, 75.0, 100.0])), role="SHR")
        subs.append(sub)
    director = w.new_person(country, birth_year=(1960, 1980))
    w.relate("directs", director["party_id"], parent_id, "party", role="DIR")
    p.label("director", party=director["party_id"])
    t = p.start(24 * 10)
    amount = float(p.rng.uniform(100_000, 900_000))
    path = [parent, *subs]
    for a, b in itertools.pairwise(path):
        p.tx(a, b, t, amount, "intra_group_loan", description="INTRA-GROUP LOAN")
        t += dt.timedelta(hours=float(p.rng.uniform(12, 60)))
        amount *= float(p.rng.uniform(0.5, 0.9))


def decoy_exchange_hot_wallet(p: Planter) -> None:
    hot = p.pop.hot_wallets[int(p.rng.integers(0, len(p.pop.hot_wallets)))]
    p.label("hot_wallet", account=hot)
    chain = p.world.accounts_by_id[hot]["chain"]
    users = [u for u in p.pop.user_wallets if p.world.accounts_by_id[str(u)]["chain"] == chain]
    t0 = p.start(24)
    for t in p.within(t0, 20, int(p.rng.integers(15, 40))):
        dst = str(users[int(p.rng.integers(0, len(users)))]) if users else p.fresh_wallet(chain, "user")
        p.tx(hot, dst, t, float(p.rng.lognormal(6.5, 1.0)), "withdrawal", mode="VA", funds=("X", "X"))


DECOY_PLANTERS: dict[str, Callable[[Planter], None]] = {
    "payroll_fan_out": decoy_payroll_fan_out,
    "holding_group": decoy_holding_group,
    "exchange_hot_wallet": decoy_exchange_hot_wallet,
}
