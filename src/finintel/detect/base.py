"""What every detector shares: the flow frame, node attributes, rule filters, and the finding record.

Detectors work on polars frames of the store, never on a networkx graph of everything. The *flow* frame has one
row per transaction (mirror copies of a transfer reported twice are left out): ``src``/``dst`` are the from/to
account, else the from/to party; amounts are the local-currency amount as ``Float64`` (detection thresholds are
approximate by nature; findings report the exact decimal amounts from the store).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from finintel.store import Store, in_time_order

SEVERITIES = ("low", "medium", "high", "critical")

#: the transaction columns :attr:`Context.flows` is built from
_FLOW_COLUMNS = (
    "transaction_id",
    "timestamp",
    "amount",
    "currency",
    "amount_local",
    "currency_local",
    "from_account_id",
    "from_party_id",
    "from_country",
    "to_account_id",
    "to_party_id",
    "to_country",
    "mirror_of",
)
#: the transaction columns detectors read (the flows', and the transaction codes of :meth:`Context.flow_details`):
#: a scan of a store loads only these (``Store.load(columns=...)``), the rest (numbers, descriptions, source files
#: and lines...) when cases or bundles ask for them
TRANSACTION_COLUMNS = (*_FLOW_COLUMNS, "transmode_code", "from_funds_code", "to_funds_code")

#: which end of a flow :meth:`Context.touching` looks at
Side = Literal["src", "dst", "either"]


class Filters(BaseModel):
    """Which transactions a rule looks at. Exclusions are allow-lists: known legitimate hubs."""

    model_config = ConfigDict(extra="forbid")

    exclude_business_types: list[str] = Field(
        default_factory=list,
        description="ignore transactions touching accounts held by organizations of these "
        "business types (or whose stated business mentions them)",
    )
    exclude_wallet_labels: list[str] = Field(default_factory=list, description="ignore wallets with these labels")
    exclude_accounts: list[str] = Field(default_factory=list, description="account or party ids to ignore")
    account_kinds: list[str] = Field(default_factory=list, description="only these account kinds (empty: all)")
    jurisdictions: list[str] = Field(
        default_factory=list, description="only transactions touching these countries (empty: all)"
    )
    min_amount: float = Field(default=0.0, ge=0, description="ignore transactions below this local amount")


@dataclass
class Reference:
    """Versioned reference data (``finintel/data/reference``), replaceable per FIU."""

    thresholds: dict[tuple[str, str], float]
    high_risk: dict[str, str]
    wallet_labels: dict[tuple[str, str], str]

    @classmethod
    def load(cls, wallet_label_files: Sequence[Path] = ()) -> Reference:
        base = Path(str(resources.files("finintel").joinpath("data", "reference")))
        with (base / "thresholds.csv").open(encoding="utf-8") as fh:
            thresholds = {(r["country"], r["currency"]): float(r["threshold"]) for r in csv.DictReader(fh)}
        with (base / "high_risk_jurisdictions.csv").open(encoding="utf-8") as fh:
            high_risk = {r["code"]: r["category"] for r in csv.DictReader(fh)}
        labels: dict[tuple[str, str], str] = {}
        for path in (base / "wallet_labels.csv", *wallet_label_files):
            labels.update(read_wallet_labels(path))
        return cls(thresholds, high_risk, labels)


def read_wallet_labels(path: Path) -> dict[tuple[str, str], str]:
    from finintel.errors import InputError
    from finintel.values import norm_address

    try:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = {"chain", "address", "label"} - set(reader.fieldnames or [])
            if missing:
                raise InputError(f"wallet labels file lacks columns {sorted(missing)}", file=str(path), line=1)
            return {
                (r["chain"], norm_address(r["chain"], r["address"])): r["label"]
                for r in reader
                if r["chain"] and r["address"] and r["label"]
            }
    except OSError as exc:
        raise InputError(f"cannot read wallet labels: {exc.strerror}", file=str(path)) from None


class Context:
    """The store as detectors see it, with derived frames computed once and shared by all rules."""

    def __init__(self, store: Store, reference: Reference | None = None) -> None:
        self.store = store
        self.ref = reference or Reference.load()
        self._touching: dict[tuple[frozenset[str], Side], pl.Series] = {}
        self._counts: dict[Side, np.ndarray] = {}
        self._shown: dict[str, str] = {}  # display names made so far

    @cached_property
    def accounts(self) -> pl.DataFrame:
        """Accounts with their holder, the holder's business type/text, and wallet labels from the reference."""
        acc = self.store.accounts
        holds = self.store.relations.filter((pl.col("kind") == "holds") & (pl.col("target_type") == "account"))
        holder = holds.group_by("target_id", maintain_order=True).agg(pl.col("source_id").first().alias("holder"))
        parties = self.store.parties.select(
            pl.col("party_id").alias("holder"), pl.col("kind").alias("holder_kind"), "business_type", "business"
        )
        labels = self.ref.wallet_labels
        if labels:
            lab = pl.DataFrame(
                {"chain": [c for c, _ in labels], "_addr": [a for _, a in labels], "_label": list(labels.values())}
            )
            acc = (
                acc.with_columns(pl.col("address").str.to_lowercase().alias("_addr_l"))
                .join(
                    lab.with_columns(pl.col("_addr").str.to_lowercase().alias("_addr_l")).drop("_addr"),
                    on=["chain", "_addr_l"],
                    how="left",
                )
                .with_columns(pl.coalesce("label", "_label").alias("label"))
                .drop("_label", "_addr_l")
            )
        return acc.join(holder, left_on="account_id", right_on="target_id", how="left").join(
            parties, on="holder", how="left"
        )

    @cached_property
    def flows(self) -> pl.DataFrame:
        """One row per money movement between two nodes (accounts, else parties), mirror copies left out, in time
        order. Only the columns every detector needs: detectors filter this frame again and again, and each copy
        of a column costs 10M rows x 16+ bytes at scale; :meth:`flow_details` has the rest for the few that ask."""
        # lazy: only these columns are filtered and sorted, not a copy of the whole transaction table; a store
        # is kept in time order by ingest, so the sort is usually skipped (10M: 1.2 s)
        tx = self.store.columns("transactions", list(_FLOW_COLUMNS))
        flows = (
            tx.lazy()
            .filter(pl.col("mirror_of").is_null())
            .select(
                "transaction_id",
                pl.coalesce("from_account_id", "from_party_id").cast(pl.Categorical).alias("src"),
                pl.coalesce("to_account_id", "to_party_id").cast(pl.Categorical).alias("dst"),
                "timestamp",
                pl.coalesce("amount_local", "amount").cast(pl.Float64).alias("amount"),
                pl.coalesce("currency_local", "currency").alias("currency"),
                "from_country",
                "to_country",
            )
            .filter(pl.col("src").is_not_null() & pl.col("dst").is_not_null())
        )
        return (flows if in_time_order(tx) else flows.sort("timestamp", "transaction_id")).collect()

    @cached_property
    def flow_codes(self) -> tuple[np.ndarray, np.ndarray]:
        """``src`` and ``dst`` of every row of :attr:`flows` as their categorical codes (views, not copies).

        Per-node counts and flags are kept in tables indexed by these codes and looked up per row, which is what
        pruning needs: a lookup in an array, where a join or ``is_in`` hashes millions of categoricals."""
        f = self.flows
        return f["src"].to_physical().to_numpy(), f["dst"].to_physical().to_numpy()

    def node_counts(self, side: Side) -> np.ndarray:
        """Flows per node, by categorical code: as ``src``, as ``dst``, or on either side (the node's degree; a
        transfer to itself counts twice). Kept per side."""
        counts = self._counts.get(side)
        if counts is None:
            if side == "either":
                counts = self.node_counts("src") + self.node_counts("dst")
            else:
                src, dst = self.flow_codes  # (both sides' tables as long: the largest code of either, plus one)
                size = int(max(src.max(), dst.max())) + 1 if len(src) else 0
                counts = np.bincount(src if side == "src" else dst, minlength=size)
            self._counts[side] = counts
        return counts

    def degree_at_most(self, frame: pl.DataFrame, column: str, limit: int) -> pl.Series:
        """A boolean per row of ``frame`` (rows of :attr:`flows`): whether the node in ``column`` takes part in at
        most ``limit`` flows (prunes hubs: processors, payroll bureaus, exchanges)."""
        return pl.Series((self.node_counts("either") <= limit)[frame[column].to_physical().to_numpy()])

    def one_off(self, candidates: np.ndarray) -> np.ndarray:
        """Of the rows of :attr:`flows` flagged in ``candidates``, those that are the only flow from their ``src``
        to their ``dst`` (fan-in and fan-out count one-off counterparties).

        ``candidates`` must be a condition on the nodes (every flow of a pair, or none): the flows of each pair are
        counted among them only. Pruning first leaves few (10M flows: 24,000 rows to count, 0.07 s, against
        0.75-1.2 s to count every pair); the pair's two codes make one 64-bit key."""
        src, dst = self.flow_codes
        rows = np.flatnonzero(candidates)
        keys = (src[rows].astype(np.uint64) << np.uint64(32)) | dst[rows].astype(np.uint64)
        found = np.zeros(len(src), dtype=bool)
        found[rows[pl.Series(keys).is_unique().to_numpy()]] = True
        return found

    def flow_details(self, flows: pl.DataFrame, where: pl.Expr) -> pl.DataFrame:
        """``flows`` (rows of :attr:`flows`) whose transaction matches ``where``, with the transaction's own from/to
        accounts and parties, transmode and funds codes; in the order of ``flows``."""
        # (a detector's condition may name any transaction column: a store loaded for a scan reads it then)
        wanted = list(dict.fromkeys([*TRANSACTION_COLUMNS, *where.meta.root_names()]))
        details = (
            self.store.columns("transactions", wanted)
            .lazy()
            .filter(where)
            .select(
                "transaction_id",
                "from_account_id",
                "to_account_id",
                "from_party_id",
                "to_party_id",
                "transmode_code",
                "from_funds_code",
                "to_funds_code",
            )
            .collect()
        )
        return flows.join(details, on="transaction_id", how="inner", maintain_order="left")

    def tx_index(self, ids: Iterable[str]) -> dict[str, tuple[dt.datetime, float, str]]:
        """transaction id -> (timestamp, local amount, currency) for the given ids, to assemble findings."""
        wanted = pl.Series(sorted(set(ids)), dtype=pl.String)
        tx = self.store.columns(
            "transactions", ["transaction_id", "timestamp", "amount_local", "amount", "currency_local", "currency"]
        )
        tx = tx.filter(pl.col("transaction_id").is_in(wanted.implode())).select(
            "transaction_id",
            "timestamp",
            pl.coalesce("amount_local", "amount").cast(pl.Float64),
            pl.coalesce("currency_local", "currency"),
        )
        return {r[0]: (r[1], r[2], r[3]) for r in tx.iter_rows()}

    @cached_property
    def holder_of(self) -> dict[str, str]:
        return {a: h for a, h in self.accounts.select("account_id", "holder").iter_rows() if h is not None}

    @cached_property
    def account_attributes(self) -> tuple[dict[str, str], dict[str, str | None], dict[str, str | None]]:
        """Per account id: its kind, its wallet label and its chain; built once per scan for the virtual-asset rules
        (each of the four built the three dicts again: 0.3 s each at 10M transactions)."""
        acc = self.accounts.select("account_id", "kind", "label", "chain")
        ids = acc["account_id"].to_list()
        return (
            dict(zip(ids, acc["kind"].to_list(), strict=True)),
            dict(zip(ids, acc["label"].to_list(), strict=True)),
            dict(zip(ids, acc["chain"].to_list(), strict=True)),
        )

    @cached_property
    def node_kind(self) -> dict[str, str]:
        kinds = dict(self.accounts.select("account_id", "kind").iter_rows())
        kinds.update(self.store.parties.select("party_id", "kind").iter_rows())
        return kinds

    def excluded_nodes(self, filters: Filters) -> set[str]:
        acc = self.accounts
        cond = pl.lit(False)
        if filters.exclude_business_types:
            words = "|".join(t.replace("_", " ") for t in filters.exclude_business_types)
            cond = (
                cond
                | pl.col("business_type").is_in(filters.exclude_business_types).fill_null(False)
                | (pl.col("business").str.to_lowercase().str.contains(words).fill_null(False))
            )
        if filters.exclude_wallet_labels:
            cond = cond | pl.col("label").is_in(filters.exclude_wallet_labels).fill_null(False)
        if filters.account_kinds:
            cond = cond | ~pl.col("kind").is_in(filters.account_kinds)
        nodes = set(acc.filter(cond)["account_id"].to_list())
        if filters.exclude_business_types:
            p = self.store.parties.filter(
                pl.col("business_type").is_in(filters.exclude_business_types).fill_null(False)
            )
            nodes.update(p["party_id"].to_list())
        nodes.update(filters.exclude_accounts)
        return nodes

    def touching(self, nodes: Iterable[str], side: Side = "either") -> pl.Series:
        """A boolean per row of :attr:`flows`: whether its ``src``, its ``dst`` or either is one of ``nodes``. Kept
        per set of nodes and side (a bit per flow), as rules share their exclusions.

        Looked up by the node columns' categorical codes in a table of flags, rather than with ``is_in`` on the
        categoricals, which compares their text (10M flows: 0.05-0.13 s against 0.27-0.52 s a rule)."""
        key = (frozenset(nodes), side)
        hit = self._touching.get(key)
        if hit is None:
            src, dst = self.flow_codes
            ends = {"src": [src], "dst": [dst], "either": [src, dst]}[side]
            # the same strings cast to the same categorical dtype give the codes the node columns use (strings new
            # to the mapping are added to it, and then match no flow)
            dtype = self.flows.schema["src"]
            codes = pl.Series(sorted(key[0]), dtype=pl.String).cast(dtype).to_physical().to_numpy()
            size = max([int(e.max()) for e in (*ends, codes) if len(e)], default=0)
            flags = np.zeros(size + 1, dtype=bool)
            flags[codes] = True
            found = flags[ends[0]] if len(ends) == 1 else flags[ends[0]] | flags[ends[1]]
            hit = self._touching[key] = pl.Series("touching", found)
        return hit

    def flows_for(self, filters: Filters, *where: pl.Expr | pl.Series | None) -> pl.DataFrame:
        """The flow frame with a rule's filters applied (excluded nodes drop every edge they touch) and the rule's
        own conditions ``where`` (expressions over :attr:`flows`, or booleans per row of it such as
        :meth:`touching`; None: no condition), in one pass over the frame."""
        f = self.flows
        keep: list[pl.Expr | pl.Series] = []
        excluded = self.excluded_nodes(filters)
        if excluded:
            keep.append(~self.touching(excluded))
        if filters.min_amount:
            keep.append(pl.col("amount") >= filters.min_amount)
        if filters.jurisdictions:
            keep.append(
                pl.col("from_country").is_in(filters.jurisdictions) | pl.col("to_country").is_in(filters.jurisdictions)
            )
        keep.extend(w for w in where if w is not None)
        return f.filter(*keep) if keep else f

    @cached_property
    def _display_parts(self) -> tuple[dict[str, str | None], dict[str, int], pl.DataFrame]:
        """What display names are made of: party names by id, and each account's row (by id) of the accounts' id,
        kind, IBAN, number, address, chain, label and holder. Names are made only for the nodes shown: the hits
        show a few thousand accounts, where a 10M store has 230,000 (0.5-0.6 s to name them all)."""
        names = dict(self.store.parties.select("party_id", "name").iter_rows())
        acc = self.accounts.select("account_id", "kind", "iban", "number", "address", "chain", "label", "holder")
        return names, {a: i for i, a in enumerate(acc["account_id"].to_list())}, acc

    def display(self, node: str) -> str:
        """A short human name for an account or party: holder name and masked number, or the wallet."""
        if node in self._shown:
            return self._shown[node]
        names, rows, acc = self._display_parts
        at = rows.get(node)
        # a party shows its name (or its id, without one)
        shown = (names.get(node) or node) if at is None else account_display(acc.row(at), names)
        self._shown[node] = shown
        return shown

    def parties_of(self, nodes: Iterable[str]) -> list[str]:
        out: list[str] = []
        for n in nodes:
            p = self.holder_of.get(n, n if self.node_kind.get(n) in ("person", "organization") else None)
            if p is not None and p not in out:
                out.append(p)
        return out


def account_display(row: tuple[Any, ...], names: Mapping[str, str | None]) -> str:
    """An account's display name from its (id, kind, IBAN, number, address, chain, label, holder) and the parties'
    names: the holder's name and the masked number, or the wallet (chain, shortened address, label)."""
    acc_id, kind, iban, number, address, chain, label, holder = row
    if kind == "wallet":
        addr = address or number or acc_id
        addr = f"{addr[:8]}…{addr[-4:]}" if len(addr) > 14 else addr
        text = f"{chain or ''} wallet {addr}".strip()
        if label:
            text = f"{label} {text}"
    else:
        ident = iban or number or acc_id
        text = f"account …{ident[-4:]}" if len(ident) > 8 else f"account {ident}"
    who = names.get(holder) if holder else None
    return f"{who} ({text})" if who else text


@dataclass
class Finding:
    """One detected instance, with its evidence."""

    rule_id: str
    rule_version: int
    typology: str
    severity: str
    score: float
    explanation: str
    transactions: list[str]
    accounts: list[str]
    parties: list[str]
    path: list[str] = field(default_factory=list)
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    total_amount: float = 0.0
    currency: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def finding_id(self) -> str:
        digest = hashlib.sha256(
            f"{self.rule_id}|{'|'.join(sorted(self.transactions))}|{'|'.join(self.path)}".encode()
        ).hexdigest()
        return f"F-{digest[:16]}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "finding_id": self.finding_id,
            "rule_id": self.rule_id,
            "rule_version": self.rule_version,
            "typology": self.typology,
            "severity": self.severity,
            "score": round(self.score, 4),
            "explanation": self.explanation,
            "transactions": self.transactions,
            "accounts": self.accounts,
            "parties": self.parties,
            "path": self.path,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "total_amount": round(self.total_amount, 2),
            "currency": self.currency,
            "details": self.details,
        }


@dataclass
class Hit:
    """What a detector returns; the engine turns it into a :class:`Finding` with the rule's metadata."""

    transactions: list[str]
    nodes: list[str]
    explanation: str
    score: float
    path: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def by_node(frame: pl.DataFrame, node: str) -> pl.DataFrame:
    """``frame`` grouped by ``node``, each node's rows in time order (ties by transaction id).

    Node ids are categoricals: sorting them by their 4-byte code groups them as well as sorting the text does, at
    about half the cost (10M rows: 3.0 s -> 1.6 s with the tie-break); the order of the groups is not lexical."""
    return frame.sort(pl.col(node).to_physical(), "timestamp", "transaction_id")


def tmin(series: pl.Series) -> dt.datetime:
    """The earliest timestamp of a non-empty datetime column, typed."""
    value = series.min()
    if not isinstance(value, dt.datetime):
        raise TypeError("expected a non-empty datetime column")
    return value


def tmax(series: pl.Series) -> dt.datetime:
    value = series.max()
    if not isinstance(value, dt.datetime):
        raise TypeError("expected a non-empty datetime column")
    return value


def money(amount: float, currency: str | None = "EUR") -> str:
    return f"{currency or ''} {amount:,.0f}".strip()


def span(a: dt.datetime, b: dt.datetime) -> str:
    hours = (b - a).total_seconds() / 3600
    return f"{hours:.0f} h" if hours < 72 else f"{hours / 24:.1f} days"
