"""Entity resolution: mentions of the same person, organization or account in different reports become one node.

Every mention gets *match keys* computed from its identifiers; mentions sharing a key are the same entity
(connected components, so keys chain: passport in report A + tax number in A and B links B's mention to A's).
Resolution works on whole mention frames: keys are column expressions (normalisation runs once per distinct
value), components come from min-label propagation through the keys with pointer jumping (a few vectorised
rounds), ids and bases from group-bys; no Python step per mention.

Keys, strongest first (``docs/architecture.md`` explains the choices):

=============  =====================================================================  ==========
entity         key                                                                    strength
=============  =====================================================================  ==========
account        IBAN (normalised)                                                      strong
account        chain + address (EVM addresses lower-cased)                            strong
account        institution (SWIFT bank code, else institution code, else name) + no.  strong
person         passport number + passport country                                     strong
person         identification type + number + issuing country                        strong
person         national id (``ssn``) + nationality, else reporting jurisdiction       strong
person         tax number + nationality, else reporting jurisdiction                  strong
person         normalised full name + birth date                                      weak
organization   registration number + incorporation country                            strong
organization   tax number + incorporation country, else reporting jurisdiction        strong
organization   normalised name + incorporation country                                weak
any party      normalised name, within one report only                                local
=============  =====================================================================  ==========

Resolved ids are content-derived (``per_`` / ``org_`` / ``acc_`` / ``wal_`` + 16 hex digits of SHA-256 of the
cluster's smallest key), so the same inputs give the same ids on every run and machine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from finintel.values import norm_address, norm_identifier, norm_name

STRONG, WEAK, LOCAL = "strong", "weak", "local"


def _h(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def _country(*candidates: Any) -> str:
    for c in candidates:
        if c:
            return str(c)
    return "??"


def person_keys(m: Mapping[str, Any]) -> list[tuple[str, str]]:
    keys: list[tuple[str, str]] = []
    scope = _country(m.get("nationality"), m.get("jurisdiction"))
    if m.get("passport_number"):
        keys.append((f"passport:{_country(m.get('passport_country'))}:{norm_identifier(m['passport_number'])}", STRONG))
    if m.get("id_number") and m.get("id_type"):
        keys.append((f"id:{m['id_type']}:{_country(m.get('id_country'))}:{norm_identifier(m['id_number'])}", STRONG))
    if m.get("ssn"):
        keys.append((f"ssn:{scope}:{norm_identifier(m['ssn'])}", STRONG))
    if m.get("tax_number"):
        keys.append((f"ptax:{scope}:{norm_identifier(m['tax_number'])}", STRONG))
    name = norm_name(m.get("name") or "")
    if name and m.get("birth_date"):
        keys.append((f"namedob:{name}:{m['birth_date']}", WEAK))
    if name:
        keys.append((f"local:{m.get('report_id')}:P:{name}", LOCAL))
    return keys


def organization_keys(m: Mapping[str, Any]) -> list[tuple[str, str]]:
    keys: list[tuple[str, str]] = []
    country = m.get("incorporation_country")
    if m.get("registration_number") and country:
        keys.append((f"reg:{country}:{norm_identifier(m['registration_number'])}", STRONG))
    if m.get("tax_number"):
        keys.append((f"otax:{_country(country, m.get('jurisdiction'))}:{norm_identifier(m['tax_number'])}", STRONG))
    name = norm_name(m.get("name") or "")
    if name and country:
        keys.append((f"orgname:{country}:{name}", WEAK))
    if name:
        keys.append((f"local:{m.get('report_id')}:O:{name}", LOCAL))
    return keys


def account_key(m: Mapping[str, Any]) -> str:
    if m.get("iban"):
        return f"iban:{norm_identifier(m['iban'])}"
    if m.get("kind") == "wallet" and m.get("chain") and m.get("address"):
        return f"wallet:{m['chain']}:{norm_address(m['chain'], m['address'])}"
    swift = norm_identifier(m.get("swift") or "")
    institution = (
        f"bic:{swift[:8]}"
        if len(swift) >= 8
        else f"code:{norm_identifier(m['institution_code'])}"
        if m.get("institution_code")
        else f"name:{norm_name(m.get('institution_name') or '')}"
    )
    return f"acct:{institution}:{norm_identifier(m.get('number') or '')}"


#: the mention columns resolution reads
PARTY_KEY_COLUMNS = (
    "mention_id",
    "kind",
    "report_id",
    "jurisdiction",
    "name",
    "birth_date",
    "nationality",
    "passport_number",
    "passport_country",
    "id_number",
    "id_type",
    "id_country",
    "ssn",
    "tax_number",
    "registration_number",
    "incorporation_country",
)
ACCOUNT_KEY_COLUMNS = (
    "mention_id",
    "kind",
    "iban",
    "chain",
    "address",
    "swift",
    "institution_code",
    "institution_name",
    "number",
)


@dataclass(frozen=True, slots=True)
class Resolution:
    """Per mention, in input order: its id, its entity id and its match keys; per entity how it was matched
    (``strong``/``weak``/``local``/``single``)."""

    mention_ids: list[str]
    entities: list[str]
    keys: list[list[str]]
    basis: dict[str, str]

    @property
    def entity_of(self) -> dict[str, str]:
        """mention id -> entity id."""
        return dict(zip(self.mention_ids, self.entities, strict=True))


@dataclass(frozen=True, slots=True)
class FrameResolution:
    """The resolution of a mention frame, row for row: ``entities`` (String) and ``keys`` (List(String)) are
    columns to attach; ``basis`` says per entity how it was matched."""

    entities: pl.Series
    keys: pl.Series
    basis: dict[str, str]


_RANK = {STRONG: 0, WEAK: 1, LOCAL: 2}
_STRENGTH_OF_PREFIX = {"namedob": WEAK, "orgname": WEAK, "local": LOCAL}


def _strength(key: str) -> str:
    """Every key says its strength by its prefix (see the table above)."""
    return _STRENGTH_OF_PREFIX.get(key[: key.index(":")], STRONG)


# -- keys as column expressions: the key functions above, applied to whole columns ------------------------------------
# Normalisation runs in Python once per distinct value (names and identifiers repeat across mentions), so a key
# built here is exactly the one person_keys/organization_keys/account_key build (tested on every kind of key).


def _per_value(column: pl.Series, fn: Callable[[Any], str]) -> pl.Series:
    """``fn`` of every value of ``column`` (null stays null), computed once per distinct value."""
    distinct = column.drop_nulls().unique()
    out = pl.Series([fn(v) for v in distinct.to_list()], dtype=pl.String)
    return column.replace_strict(distinct, out, default=None, return_dtype=pl.String)


def _given(name: str) -> pl.Expr:
    """The value is there (Python truthiness of a string: neither null nor empty)."""
    return pl.col(name).is_not_null() & (pl.col(name).cast(pl.String) != "")


def _first_given(*names: str) -> pl.Expr:
    """Like ``_country``: the first given value, else ``??``."""
    return pl.coalesce([*(pl.when(_given(n)).then(pl.col(n).cast(pl.String)) for n in names), pl.lit("??")])


def _key(*parts: str | pl.Expr) -> pl.Expr:
    return pl.concat_str([pl.lit(p) if isinstance(p, str) else p for p in parts])


def _columns(mentions: pl.DataFrame, names: tuple[str, ...]) -> pl.DataFrame:
    """The key columns of ``mentions`` (absent ones as nulls)."""
    return mentions.select(
        pl.col(n) if n in mentions.columns else pl.lit(None, dtype=pl.String).alias(n) for n in names
    )


def _party_key_pairs(mentions: pl.DataFrame, *, local: bool = True, names: pl.Series | None = None) -> pl.DataFrame:
    """(i, key): mention ``i``'s match keys, by mention and in the order :func:`person_keys` /
    :func:`organization_keys` give them; without ``local``, only the keys that do not depend on the report.
    ``names``: the mentions' normalised names, if the caller has them (:func:`_normalised_names`)."""
    m = _columns(mentions, PARTY_KEY_COLUMNS)
    n = m.select(
        (_normalised_names(m) if names is None else names).alias("_name"),
        *(
            _per_value(m[c], norm_identifier).alias(f"_{c}")
            for c in ("passport_number", "id_number", "ssn", "tax_number", "registration_number")
        ),
        _per_value(m["birth_date"], str).alias("_birth_date"),
    )
    m = m.hstack(n)
    named = pl.col("_name") != ""
    scope = _first_given("nationality", "jurisdiction")
    person, country = pl.col("kind") == "person", pl.col("incorporation_country")
    organization = ~person | pl.col("kind").is_null()
    c = pl.col
    candidates: list[
        tuple[pl.Expr, list[str | pl.Expr]]
    ] = [  # in key-function order: a person's keys, then an organization's (one side is all null)
        (
            person & _given("passport_number"),
            ["passport:", _first_given("passport_country"), ":", c("_passport_number")],
        ),
        (
            person & _given("id_number") & _given("id_type"),
            ["id:", c("id_type"), ":", _first_given("id_country"), ":", c("_id_number")],
        ),
        (person & _given("ssn"), ["ssn:", scope, ":", c("_ssn")]),
        (person & _given("tax_number"), ["ptax:", scope, ":", c("_tax_number")]),
        (person & named & _given("birth_date"), ["namedob:", c("_name"), ":", c("_birth_date")]),
        (
            organization & _given("registration_number") & _given("incorporation_country"),
            ["reg:", country, ":", c("_registration_number")],
        ),
        (
            organization & _given("tax_number"),
            ["otax:", _first_given("incorporation_country", "jurisdiction"), ":", c("_tax_number")],
        ),
        (organization & named & _given("incorporation_country"), ["orgname:", country, ":", c("_name")]),
    ]
    if local:  # last of either kind's keys
        candidates.append((named, _local_key(c("_name"))))
    # each key built only where its condition holds (building all ten for every mention and dropping the nulls
    # cost three times the strings); candidate by candidate, then a stable sort by mention keeps their order
    m = m.with_row_index("i")
    long = pl.concat(
        [
            m.lazy().filter(cond).select(pl.col("i").cast(pl.Int64), _key(*parts).alias("key"))
            for cond, parts in candidates
        ]
    )
    return long.drop_nulls("key").sort("i", maintain_order=True).collect()


def _lists(pairs: pl.DataFrame, n: int) -> pl.Series:
    """The keys of ``pairs`` (sorted by mention) as a List(String) column of ``n`` rows."""
    counts = np.bincount(pairs["i"].to_numpy(), minlength=n) if pairs.height else np.zeros(n, dtype=np.int64)
    return _list_column(np.concatenate([[0], np.cumsum(counts)]), pairs["key"])


def _list_column(offsets: np.ndarray, values: pl.Series) -> pl.Series:
    """A List(String) column from its ``offsets`` (one more than rows) and flat ``values`` (no nulls). The values
    go to Arrow as string views and come back as they are (as large strings they were copied twice: 9M keys, 0.43
    s -> 3 ms)."""
    flat = values.cast(pl.String).to_arrow(compat_level=pl.CompatLevel.newest())
    out = pl.Series(pa.LargeListArray.from_arrays(pa.array(offsets.astype(np.int64)), flat))
    return out.cast(pl.List(pl.String))


def party_key_column(mentions: pl.DataFrame) -> pl.Series:
    """Every mention's match keys, in the order :func:`person_keys` / :func:`organization_keys` give them."""
    return _lists(_party_key_pairs(mentions), mentions.height)


def account_key_column(mentions: pl.DataFrame) -> pl.Series:
    """Every mention's :func:`account_key`."""
    m = _columns(mentions, ACCOUNT_KEY_COLUMNS)
    pairs = m.select("chain", "address").unique().drop_nulls()
    wallets = pairs.with_columns(
        pl.Series("_address", [norm_address(c, a) for c, a in pairs.iter_rows()], dtype=pl.String)
    )
    m = m.join(wallets, on=["chain", "address"], how="left", nulls_equal=False, maintain_order="left")
    m = m.with_columns(
        _per_value(m["iban"], norm_identifier).alias("_iban"),
        _per_value(m["swift"].fill_null(""), norm_identifier).alias("_swift"),
        _per_value(m["institution_code"], norm_identifier).alias("_code"),
        _per_value(m["institution_name"].fill_null(""), norm_name).alias("_institution"),
        _per_value(m["number"].fill_null(""), norm_identifier).alias("_number"),
    )
    institution = (
        pl.when(pl.col("_swift").str.len_chars() >= 8)
        .then(_key("bic:", pl.col("_swift").str.slice(0, 8)))
        .when(_given("institution_code"))
        .then(_key("code:", pl.col("_code")))
        .otherwise(_key("name:", pl.col("_institution")))
    )
    key = (
        pl.when(_given("iban"))
        .then(_key("iban:", pl.col("_iban")))
        .when((pl.col("kind") == "wallet") & _given("chain") & _given("address"))
        .then(_key("wallet:", pl.col("chain"), ":", pl.col("_address")))
        .otherwise(_key("acct:", institution, ":", pl.col("_number")))
    )
    return m.select(key.alias("key"))["key"]


def _first_alike(frame: pl.DataFrame, columns: list[str]) -> np.ndarray:
    """Per row, the index of the first row with the same values in ``columns`` (an exact hashed window)."""
    index = pl.Series("_i", np.arange(frame.height, dtype=np.int64))
    first: np.ndarray = frame.select(*columns, index).select(pl.col("_i").min().over(columns))[:, 0].to_numpy()
    return first


def _key_codes(keys: pl.Series) -> np.ndarray:
    """Per key, a code shared by equal keys: the index of the first one (a Categorical cast goes through polars'
    global string table, almost three times the cost)."""
    return _first_alike(keys.alias("key").to_frame(), ["key"])


def _components(index: np.ndarray, key_codes: np.ndarray, n: int) -> np.ndarray:
    """Connected components of nodes linked by shared keys: per node, the smallest node index of its component.
    Node ``index[j]`` has the key coded ``key_codes[j]`` (:func:`_key_codes`). Min-label propagation through the
    keys with pointer jumping: a few rounds of numpy minimum-scatters, however long the chains."""
    label = np.arange(n, dtype=np.int64)
    if len(index) == 0:
        return label
    while True:
        # the smallest label among the nodes of each key, then among the keys of each node
        per_key = np.full(int(key_codes.max()) + 1, n, dtype=np.int64)
        np.minimum.at(per_key, key_codes, label[index])
        new = label.copy()
        np.minimum.at(new, index, per_key[key_codes])
        while True:  # pointer jumping: a label's label is in the same component and no larger
            jumped = new[new]
            if np.array_equal(jumped, new):
                break
            new = jumped
        if np.array_equal(new, label):
            return label
        label = new


def _normalised_names(mentions: pl.DataFrame) -> pl.Series:
    """Each mention's name as keys use it (empty: no name)."""
    return _per_value(mentions["name"].fill_null(""), norm_name)


def _local_key(name: pl.Expr) -> list[str | pl.Expr]:
    """The parts of a party's key within its report (``name``: the normalised name)."""
    kind = pl.when(pl.col("kind") == "person").then(pl.lit(":P:")).otherwise(pl.lit(":O:"))
    return ["local:", pl.col("report_id").cast(pl.String).fill_null("None"), kind, name]


def distinct_rows(frame: pl.DataFrame, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``frame`` that are the first with their values in ``columns`` (ascending), and per row the index
    of its first among them. (Mentions repeat: at 4M synthetic transactions 4.5M account mentions hold 92,000
    distinct accounts, 4.5M party mentions 370,000 distinct parties across reports.)"""
    first = _first_alike(frame, columns)
    heads = np.flatnonzero(first == np.arange(len(first)))
    position = np.zeros(len(first), dtype=np.int64)
    position[heads] = np.arange(len(heads))
    return heads, position[first]


#: the columns a party's non-local keys are built from: mentions alike in them have the same such keys
_PARTY_ROW_COLUMNS = [c for c in PARTY_KEY_COLUMNS if c not in ("mention_id", "report_id")]


def resolve_party_frame(mentions: pl.DataFrame) -> FrameResolution:
    """Cluster a frame of party mentions (``PARTY_KEY_COLUMNS``): mentions sharing a key are one entity, and
    keys chain (connected components). The entity id comes from the cluster's strongest, smallest key, so it does
    not change when weaker keys come and go.

    Keys other than the local one depend on the key columns but the report: they are built once per distinct row
    of those (the same party is mentioned in report after report), and a distinct row with such a key is one node
    of the graph for all its mentions (they share that key). A mention of a row without one is a node of its own:
    its only key, if any, is its report's local key."""
    n = mentions.height
    m = _columns(mentions, PARTY_KEY_COLUMNS)
    heads, row = distinct_rows(m, _PARTY_ROW_COLUMNS)
    rows = m[heads]
    d = len(heads)
    names = _normalised_names(rows)  # (normalised once: a Python call per distinct name)
    pairs = _party_key_pairs(rows, local=False, names=names)  # (i: distinct row, key)
    pair_row = pairs["i"].to_numpy()
    row_keys = np.bincount(pair_row, minlength=d)  # per distinct row, its non-local keys
    lone = row_keys[row] == 0  # per mention: its own node
    node = np.where(lone, d + np.cumsum(lone) - 1, row)
    name = names[row]
    named = (name != "").to_numpy()
    local = (
        m.with_columns(name.alias("_name"))
        .filter(pl.Series(named))
        .select(_key(*_local_key(pl.col("_name"))).alias("key"))["key"]
    )
    local_node = node[named]
    # (one chunk: the keys are gathered per mention below, 2.6M at 1M transactions, 88 -> 11 ms from one chunk)
    graph = pl.concat(
        [pairs, pl.DataFrame({"i": local_node, "key": local}, schema={"i": pl.Int64, "key": pl.String})], rechunk=True
    )
    codes = _key_codes(graph["key"])
    label = _components(graph["i"].to_numpy(), codes, d + int(lone.sum()))
    # per mention, the first mention of its cluster (the cluster's root, as in a union-find over mentions)
    cluster = label[node]
    first_of = np.full(len(label), n, dtype=np.int64)
    np.minimum.at(first_of, cluster, np.arange(n, dtype=np.int64))
    root = first_of[cluster]
    row_root = np.zeros(d, dtype=np.int64)
    row_root[row] = root  # a row with non-local keys: every mention has the same root
    key_root = np.concatenate([row_root[pair_row], root[named]])
    # a key is repeated when more than one mention has it (a distinct row stands for all its mentions)
    weight = np.concatenate([np.bincount(row, minlength=d)[pair_row], np.ones(len(local_node), dtype=np.int64)])
    repeated = np.bincount(codes, weights=weight)[codes] > 1
    rank = np.full(graph.height, _RANK[LOCAL], dtype=np.int64)
    rank[: len(pairs)] = pairs.select(
        pl.when(pl.col("key").str.starts_with("namedob:") | pl.col("key").str.starts_with("orgname:"))
        .then(_RANK[WEAK])
        .otherwise(_RANK[STRONG])
    )[:, 0].to_numpy()
    # a cluster's anchor: its smallest key of its strongest rank (a local key only for a cluster without others)
    best = np.full(n, len(_RANK), dtype=np.int64)
    np.minimum.at(best, key_root, rank)
    linked = np.full(n, len(_RANK), dtype=np.int64)
    np.minimum.at(linked, key_root[repeated], rank[repeated])
    strongest = np.flatnonzero(rank == best[key_root])
    anchors = (
        pl.DataFrame({"root": key_root[strongest], "anchor": graph["key"][strongest]})
        .group_by("root")
        .agg(pl.col("anchor").min())
    )
    roots = np.flatnonzero(root == np.arange(n))
    linked_by = linked[roots]
    clusters = (
        pl.DataFrame(
            {
                "root": roots,
                "mention_id": m["mention_id"].cast(pl.String)[roots],
                "kind": m["kind"].cast(pl.String)[roots],
                "size": np.bincount(root, minlength=n)[roots],
                "linked_by": np.where(linked_by < len(_RANK), linked_by, -1),
            },
            schema_overrides={"root": pl.Int64, "size": pl.Int64, "linked_by": pl.Int64},
        )
        .join(anchors, on="root", how="left", maintain_order="left")
        .with_columns(pl.coalesce("anchor", pl.concat_str(pl.lit("mention:"), pl.col("mention_id"))).alias("anchor"))
    )
    prefix = pl.when(pl.col("kind") == "person").then(pl.lit("per_")).otherwise(pl.lit("org_"))
    clusters = clusters.with_columns(pl.concat_str(prefix, _per_value(clusters["anchor"], _h)).alias("entity"))
    strengths = {v: k for k, v in _RANK.items()}
    basis = {
        entity: "single" if size == 1 or linked < 0 else strengths[linked]
        for entity, size, linked in clusters.select("entity", "size", "linked_by").iter_rows()
    }
    index = np.zeros(n, dtype=np.int64)
    index[roots] = np.arange(len(roots))
    entities = clusters["entity"][index[root]]
    # the match keys of each mention: its row's non-local keys, then its local key
    counts = row_keys[row]
    ends = np.cumsum(counts + named)
    offsets = np.concatenate([[0], ends])
    slots = np.arange(int(offsets[-1]), dtype=np.int64)
    is_local = np.zeros(len(slots), dtype=bool)
    is_local[(ends - 1)[named]] = True
    starts = (np.cumsum(row_keys) - row_keys)[row]
    given = np.repeat(starts - offsets[:-1], counts)  # a non-local slot's value: its row's start + its place
    take = np.empty(len(slots), dtype=np.int64)
    take[~is_local] = slots[~is_local] + given
    take[is_local] = len(pairs) + np.arange(int(named.sum()), dtype=np.int64)
    keys = _list_column(offsets, graph["key"][take])
    return FrameResolution(entities=entities.alias("entity"), keys=keys, basis=basis)


def resolve_account_frame(mentions: pl.DataFrame) -> FrameResolution:
    """Accounts have one key each: mentions with the same key are the same account. The key is built once per
    distinct row of the key columns (an account is mentioned again and again)."""
    m = _columns(mentions, ACCOUNT_KEY_COLUMNS)
    heads, row = distinct_rows(m, [c for c in ACCOUNT_KEY_COLUMNS if c != "mention_id"])
    keys = account_key_column(m[heads]).rechunk()  # (gathered per mention below: from one chunk, 4-7x faster)
    entities = _per_value(keys, _account_entity)
    # rows that differ can have the same key (spellings normalise alike): mentions are counted per entity
    counts = pl.DataFrame({"entity": entities, "n": np.bincount(row, minlength=len(heads))}).group_by("entity").sum()
    basis = {e: STRONG if c > 1 else "single" for e, c in counts.iter_rows()}
    return FrameResolution(
        entities=entities[row], keys=_list_column(np.arange(len(row) + 1, dtype=np.int64), keys[row]), basis=basis
    )


def _as_frame(mentions: Iterable[Mapping[str, Any]], columns: tuple[str, ...]) -> pl.DataFrame:
    """Mappings as a frame of the key columns; values as their text (keys are built from text)."""
    rows = [[None if m.get(c) is None else str(m.get(c)) for c in columns] for m in mentions]
    return pl.DataFrame(rows, schema={c: pl.String for c in columns}, orient="row")


def _resolution(frame: pl.DataFrame, res: FrameResolution) -> Resolution:
    return Resolution(
        mention_ids=frame["mention_id"].to_list(),
        entities=res.entities.to_list(),
        keys=res.keys.to_list(),
        basis=res.basis,
    )


def resolve_parties(mentions: Iterable[Mapping[str, Any]]) -> Resolution:
    """Cluster party mentions (mappings with ``mention_id``, ``kind`` and the Person/Organization fields)."""
    frame = _as_frame(mentions, PARTY_KEY_COLUMNS)
    return _resolution(frame, resolve_party_frame(frame))


def resolve_accounts(mentions: Iterable[Mapping[str, Any]]) -> Resolution:
    """Accounts have one key each: mentions with the same key are the same account."""
    frame = _as_frame(mentions, ACCOUNT_KEY_COLUMNS)
    return _resolution(frame, resolve_account_frame(frame))


def party_id_of(row: Mapping[str, Any]) -> str:
    """The id :func:`resolve_parties` gives a party whose mentions all carry the keys of ``row``.

    Generators use it so that a dataset and the goAML files written from it resolve to the same ids."""
    keys = person_keys(row) if row.get("kind") == "person" else organization_keys(row)
    ranked = sorted(keys, key=lambda kv: (_RANK[kv[1]], kv[0]))
    if not ranked:
        raise ValueError("a party needs at least a name")
    return ("per_" if row.get("kind") == "person" else "org_") + _h(ranked[0][0])


def account_id_of(row: Mapping[str, Any]) -> str:
    """The id :func:`resolve_accounts` gives an account with the attributes of ``row``."""
    return _account_entity(account_key(row))


def _account_entity(key: str) -> str:
    return ("wal_" if key.startswith("wallet:") else "acc_") + _h(key)
