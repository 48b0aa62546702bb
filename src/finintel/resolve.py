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


def _party_key_pairs(mentions: pl.DataFrame) -> pl.DataFrame:
    """(i, key): mention ``i``'s match keys, by mention and in the order :func:`person_keys` /
    :func:`organization_keys` give them."""
    m = _columns(mentions, PARTY_KEY_COLUMNS)
    n = m.select(
        _per_value(m["name"].fill_null(""), norm_name).alias("_name"),
        *(
            _per_value(m[c], norm_identifier).alias(f"_{c}")
            for c in ("passport_number", "id_number", "ssn", "tax_number", "registration_number")
        ),
        _per_value(m["birth_date"], str).alias("_birth_date"),
    )
    m = m.hstack(n)
    named = pl.col("_name") != ""
    report = pl.col("report_id").cast(pl.String).fill_null("None")
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
        (person & named, ["local:", report, ":P:", c("_name")]),
        (
            organization & _given("registration_number") & _given("incorporation_country"),
            ["reg:", country, ":", c("_registration_number")],
        ),
        (
            organization & _given("tax_number"),
            ["otax:", _first_given("incorporation_country", "jurisdiction"), ":", c("_tax_number")],
        ),
        (organization & named & _given("incorporation_country"), ["orgname:", country, ":", c("_name")]),
        (organization & named, ["local:", report, ":O:", c("_name")]),
    ]
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
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))
    values = pairs["key"].cast(pl.String).to_arrow().cast(pa.large_string())
    return pl.Series(pa.LargeListArray.from_arrays(offsets, values)).cast(pl.List(pl.String))


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


def _components(pairs: pl.DataFrame, n: int) -> np.ndarray:
    """Connected components of mentions linked by shared keys: per mention, the smallest mention index of its
    component. ``pairs`` holds (i, key) rows. Min-label propagation through the keys with pointer jumping: a few
    rounds of group-bys, however long the chains."""
    label = np.arange(n, dtype=np.int64)
    if pairs.height == 0:
        return label
    index = pairs["i"].to_numpy()
    # a key's code: the first pair with it (a hashed window; a Categorical cast goes through polars' global string
    # table, almost three times the cost)
    key_codes = pairs.select("key").with_row_index("r").select(pl.col("r").min().over("key"))[:, 0].to_numpy()
    while True:
        # the smallest label among the mentions of each key, then among the keys of each mention
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


def resolve_party_frame(mentions: pl.DataFrame) -> FrameResolution:
    """Cluster a frame of party mentions (``PARTY_KEY_COLUMNS``): mentions sharing a key are one entity, and
    keys chain (connected components). The entity id comes from the cluster's strongest, smallest key, so it does
    not change when weaker keys come and go."""
    n = mentions.height
    pairs = _party_key_pairs(mentions)
    keys = _lists(pairs, n)
    root = _components(pairs, n)
    rank = (
        pl.when(pl.col("key").str.starts_with("namedob:") | pl.col("key").str.starts_with("orgname:"))
        .then(_RANK[WEAK])
        .when(pl.col("key").str.starts_with("local:"))
        .then(_RANK[LOCAL])
        .otherwise(_RANK[STRONG])
    )
    clustered = pairs.with_columns(
        pl.Series("root", root[pairs["i"].to_numpy()], dtype=pl.Int64),
        rank.alias("rank"),
        (pl.len().over("key") > 1).alias("repeated"),
    )
    per_root = clustered.group_by("root").agg(
        pl.col("key").sort_by("rank", "key").first().alias("anchor"),
        pl.col("rank").filter(pl.col("repeated")).min().alias("linked_by"),
    )
    mentions_by_index = pl.DataFrame(
        {"root": root, "mention_id": mentions["mention_id"].cast(pl.String), "kind": mentions["kind"].cast(pl.String)}
    ).with_row_index("i", 0)
    sizes = mentions_by_index.group_by("root").agg(pl.len().alias("size"))
    clusters = (
        mentions_by_index.filter(pl.col("i") == pl.col("root"))  # the cluster's first mention
        .join(sizes, on="root")
        .join(per_root, on="root", how="left")
        .with_columns(pl.coalesce("anchor", pl.concat_str(pl.lit("mention:"), pl.col("mention_id"))).alias("anchor"))
    )
    prefix = pl.when(pl.col("kind") == "person").then(pl.lit("per_")).otherwise(pl.lit("org_"))
    clusters = clusters.with_columns(pl.concat_str(prefix, _per_value(clusters["anchor"], _h)).alias("entity"))
    strengths = {v: k for k, v in _RANK.items()}
    basis = {
        entity: "single" if size == 1 or linked is None else strengths[linked]
        for entity, size, linked in clusters.select("entity", "size", "linked_by").iter_rows()
    }
    entities = pl.DataFrame({"root": root}).join(clusters.select("root", "entity"), on="root", maintain_order="left")
    return FrameResolution(entities=entities["entity"], keys=keys, basis=basis)


def resolve_account_frame(mentions: pl.DataFrame) -> FrameResolution:
    """Accounts have one key each: mentions with the same key are the same account."""
    keys = account_key_column(mentions)
    entities = _per_value(keys, _account_entity)
    counts = entities.value_counts()
    basis = {e: STRONG if c > 1 else "single" for e, c in counts.iter_rows()}
    as_list = keys.to_frame("key").select(pl.concat_list("key").alias("keys"))["keys"]
    return FrameResolution(entities=entities, keys=as_list, basis=basis)


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
