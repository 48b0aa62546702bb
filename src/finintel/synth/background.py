"""The legitimate background economy, generated vectorised (numpy) so that 1M transactions take seconds.

Shares of the background: card spend (people -> payment processor, 44%), salaries (employer -> employee, monthly,
15%), business payments (company -> company, heavy-tailed, 16%), rent (monthly, 8%), person-to-person (8%),
processor settlements to merchants (5%), virtual-asset deposits/withdrawals at exchange hot wallets (4%).
Weekdays carry more than weekends; card spend runs 8:00-22:00, business 8:00-18:00.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from finintel.synth.world import World

SHARES = {"card": 0.44, "salary": 0.15, "business": 0.16, "rent": 0.08, "p2p": 0.08, "settlement": 0.05, "va": 0.04}
MODE = {
    "card": ("CARD", "D", "A"),
    "salary": ("EFT", "A", "A"),
    "business": ("SW", "A", "A"),
    "rent": ("EFT", "A", "A"),
    "p2p": ("IB", "A", "A"),
    "settlement": ("EFT", "A", "A"),
    "va": ("VA", "X", "X"),
}
DESCRIPTION = {
    "card": "CARD PAYMENT",
    "salary": "SALARY",
    "business": "INVOICE",
    "rent": "RENT",
    "p2p": "TRANSFER",
    "settlement": "CARD SETTLEMENT",
    "va": "VIRTUAL ASSET TRANSFER",
}


@dataclass
class Population:
    persons: list[str]  # party ids
    person_accounts: np.ndarray  # account id per person (object array)
    companies: list[str]
    company_accounts: np.ndarray
    merchants: np.ndarray  # account ids of retail companies
    employers: np.ndarray  # account ids of employers, weighted
    processors: list[str]  # account ids of payment processors
    hot_wallets: list[str]
    user_wallets: np.ndarray


def build_population(world: World, n_background: int) -> Population:
    months = max(1, round(world.days / 30.44))
    employees = math.ceil(SHARES["salary"] * n_background / months)
    renters = math.ceil(SHARES["rent"] * n_background / months)
    n_persons = max(60, int(max(employees, renters) / 0.7))
    n_companies = max(24, n_persons // 8)
    rng = world.rng
    js = world.jurisdictions
    persons, person_accounts = [], []
    for i in range(n_persons):
        country = js[i % len(js)] if rng.random() < 0.9 else js[int(rng.integers(0, len(js)))]
        p = world.new_person(country)
        persons.append(p["party_id"])
        person_accounts.append(world.bank_account(p))
    companies, company_accounts, merchant_accounts, sizes = [], [], [], []
    for i in range(n_companies):
        country = js[i % len(js)]
        retail = i % 3 == 0
        employees_n = int(rng.lognormal(2.5, 1.2)) + 1
        org = world.new_organization(
            country, business_type="company", employees=employees_n, business="retail" if retail else None
        )
        companies.append(org["party_id"])
        acct = world.bank_account(org)
        company_accounts.append(acct)
        sizes.append(employees_n)
        if retail:
            merchant_accounts.append(acct)
    processors = []
    for i in range(2):
        org = world.new_organization(
            js[i % len(js)],
            name=f"{['Paylane', 'Clearwave'][i]} Payments {'Europe ' if i else ''}Ltd".replace("  ", " "),
            business_type="payment_processor",
            employees=400,
            age_days=5000,
            business="card acquiring and payment processing",
        )
        processors.append(world.bank_account(org))
    hot_wallets = []
    for vasp in world.vasps:
        for chain in ("BTC", "ETH", "TRX"):
            holder = world.party_by_id[vasp.party_id]
            hot_wallets.append(world.wallet(chain, label="exchange", holder=holder, vasp=vasp))
    user_wallets = []
    for i in range(max(12, n_persons // 25)):
        holder = world.party_by_id[persons[int(rng.integers(0, len(persons)))]]
        user_wallets.append(world.wallet(("BTC", "ETH", "TRX")[i % 3], holder=holder))
    weights = np.asarray(sizes, dtype=float)
    employer_pick = rng.choice(len(company_accounts), size=employees, p=weights / weights.sum())
    return Population(
        persons=persons,
        person_accounts=np.asarray(person_accounts, dtype=object),
        companies=companies,
        company_accounts=np.asarray(company_accounts, dtype=object),
        merchants=np.asarray(merchant_accounts, dtype=object),
        employers=np.asarray(company_accounts, dtype=object)[employer_pick],
        processors=processors,
        hot_wallets=hot_wallets,
        user_wallets=np.asarray(user_wallets, dtype=object),
    )


def _day_weights(world: World, weekend: float) -> np.ndarray:
    start = world.start.weekday()
    weekday = (np.arange(world.days) + start) % 7
    w: np.ndarray = np.where(weekday >= 5, weekend, 1.0).astype(float)
    return w / float(w.sum())


def _zipf_pick(rng: np.random.Generator, n: int, size: int, a: float = 1.1) -> np.ndarray:
    ranks = np.arange(1, n + 1, dtype=float)
    p = ranks ** (-a)
    return rng.choice(n, size=size, p=p / p.sum())


def generate_background(world: World, pop: Population, n: int) -> pl.DataFrame:
    rng = world.rng
    counts = {k: int(n * s) for k, s in SHARES.items()}
    counts["card"] += n - sum(counts.values())
    parts: list[pl.DataFrame] = []
    persons = pop.person_accounts
    months = max(1, round(world.days / 30.44))

    def frame(
        kind: str, src: np.ndarray, dst: np.ndarray, day: np.ndarray, hour: np.ndarray, amount: np.ndarray
    ) -> pl.DataFrame:
        mode, ff, tf = MODE[kind]
        return pl.DataFrame(
            {
                "from_account_id": src.astype(str),
                "to_account_id": dst.astype(str),
                "_day": day.astype(np.int64),
                "_seconds": (hour * 3600).astype(np.int64),
                "amount": np.round(np.maximum(amount, 0.01), 2),
                "kind": np.full(len(src), kind),
            }
        ).with_columns(
            pl.lit(mode).alias("transmode_code"),
            pl.lit(ff).alias("from_funds_code"),
            pl.lit(tf).alias("to_funds_code"),
            pl.lit(DESCRIPTION[kind]).alias("description"),
        )

    # card spend: people -> processor
    k = counts["card"]
    src = persons[rng.integers(0, len(persons), k)]
    dst = np.asarray(pop.processors, dtype=object)[rng.integers(0, len(pop.processors), k)]
    day = rng.choice(world.days, size=k, p=_day_weights(world, 0.8))
    parts.append(frame("card", src, dst, day, rng.uniform(8, 22, k), rng.lognormal(3.3, 0.9, k)))

    # salaries: each employee paid once a month on the 25th (or the Friday before), same amount every month
    k = counts["salary"]
    employees = math.ceil(k / months)
    emp_person = rng.choice(len(persons), size=employees, replace=employees > len(persons))
    salary = np.round(rng.lognormal(7.9, 0.35, employees), -1)
    paydays = []
    for m in range(months):
        first = (dt.date(world.start.year, world.start.month, 1) + dt.timedelta(days=31 * m)).replace(day=25)
        while first.weekday() >= 5:
            first -= dt.timedelta(days=1)
        paydays.append(min(max((first - world.start).days, 0), world.days - 1))
    idx = np.arange(k)
    who = idx % employees
    month = idx // employees
    day = np.asarray(paydays)[np.minimum(month, months - 1)]
    parts.append(
        frame(
            "salary",
            pop.employers[who % len(pop.employers)],
            persons[emp_person[who]],
            day,
            rng.uniform(6, 10, k),
            salary[who],
        )
    )

    # rent: renters pay a landlord company on the 1st-3rd of each month
    k = counts["rent"]
    renters = math.ceil(k / months)
    renter = rng.choice(len(persons), size=renters, replace=renters > len(persons))
    landlord = pop.company_accounts[rng.integers(0, len(pop.company_accounts), renters)]
    rent = np.round(rng.lognormal(6.7, 0.35, renters), 0)
    idx = np.arange(k)
    who = idx % renters
    month = idx // renters
    day = np.minimum(np.round(month * 30.44).astype(int) + rng.integers(0, 3, k), world.days - 1)
    parts.append(frame("rent", persons[renter[who]], landlord[who], day, rng.uniform(7, 20, k), rent[who]))

    # business payments: heavy-tailed, popular suppliers get more
    k = counts["business"]
    src = pop.company_accounts[rng.integers(0, len(pop.company_accounts), k)]
    dst = pop.company_accounts[_zipf_pick(rng, len(pop.company_accounts), k)]
    same = src == dst
    dst[same] = pop.company_accounts[(np.flatnonzero(same) + 1) % len(pop.company_accounts)]
    day = rng.choice(world.days, size=k, p=_day_weights(world, 0.05))
    parts.append(frame("business", src, dst, day, rng.uniform(8, 18, k), rng.lognormal(7.3, 1.6, k)))

    # person to person
    k = counts["p2p"]
    a = rng.integers(0, len(persons), k)
    b = (a + 1 + rng.integers(0, len(persons) - 1, k)) % len(persons)
    day = rng.choice(world.days, size=k, p=_day_weights(world, 1.0))
    parts.append(frame("p2p", persons[a], persons[b], day, rng.uniform(7, 23, k), rng.lognormal(4.4, 1.1, k)))

    # processor settlements to merchants (daily batches: the processors are large legitimate fans)
    k = counts["settlement"]
    src = np.asarray(pop.processors, dtype=object)[rng.integers(0, len(pop.processors), k)]
    dst = pop.merchants[_zipf_pick(rng, len(pop.merchants), k, 0.8)]
    day = rng.choice(world.days, size=k, p=_day_weights(world, 0.0))
    parts.append(frame("settlement", src, dst, day, rng.uniform(5, 6, k), rng.lognormal(7.5, 1.0, k)))

    # virtual assets: withdrawals from and deposits to exchange hot wallets
    k = counts["va"]
    hot = np.asarray(pop.hot_wallets, dtype=object)
    chains = np.asarray([world.accounts_by_id[w]["chain"] for w in hot], dtype=object)
    users = pop.user_wallets
    user_chain = np.asarray([world.accounts_by_id[w]["chain"] for w in users], dtype=object)
    u = rng.integers(0, len(users), k)
    candidates = [np.flatnonzero(chains == c) for c in ("BTC", "ETH", "TRX")]
    chain_index = {"BTC": 0, "ETH": 1, "TRX": 2}
    h = np.asarray(
        [
            candidates[chain_index[c]][int(r) % len(candidates[chain_index[c]])]
            for c, r in zip(user_chain[u], rng.integers(0, 1 << 30, k), strict=True)
        ],
        dtype=np.int64,
    )
    withdraw = rng.random(k) < 0.5
    src = np.where(withdraw, hot[h], users[u])
    dst = np.where(withdraw, users[u], hot[h])
    day = rng.choice(world.days, size=k, p=_day_weights(world, 1.0))
    parts.append(frame("va", src, dst, day, rng.uniform(0, 24, k), rng.lognormal(6.2, 1.3, k)))

    return pl.concat(parts, how="vertical")
