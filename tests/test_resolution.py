"""Entity resolution on whole mention frames: the same keys as the key functions, the same clusters as a plain
union-find over shared keys, ids from the strongest smallest key, whatever the order and length of key chains."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from finintel.resolve import (
    ACCOUNT_KEY_COLUMNS,
    PARTY_KEY_COLUMNS,
    _strength,
    account_key,
    account_key_column,
    organization_keys,
    party_key_column,
    person_keys,
    resolve_account_frame,
    resolve_party_frame,
)

_TEXT = st.sampled_from(["Ann Lee", "ann  lee", "Élodie Dupré", "ACME Limited", "Acme Ltd.", "", "Zoë Ωmega", "X"])
_IDENT = st.sampled_from(["P1", "p-1", "117 204-318", "", "A/B.C", "Ω1"])
_COUNTRY = st.sampled_from(["DE", "GB", "", "CY"])


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


_PARTY = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["person", "organization"]),
        "report_id": _maybe(st.sampled_from(["r1", "r2", "r3"])),
        "jurisdiction": _maybe(_COUNTRY),
        "name": _maybe(_TEXT),
        "birth_date": _maybe(st.sampled_from([dt.date(1990, 1, 1), dt.date(1985, 7, 9)])),
        "nationality": _maybe(_COUNTRY),
        "passport_number": _maybe(_IDENT),
        "passport_country": _maybe(_COUNTRY),
        "id_number": _maybe(_IDENT),
        "id_type": _maybe(st.sampled_from(["A", ""])),
        "id_country": _maybe(_COUNTRY),
        "ssn": _maybe(_IDENT),
        "tax_number": _maybe(_IDENT),
        "registration_number": _maybe(_IDENT),
        "incorporation_country": _maybe(_COUNTRY),
    }
)
_ACCOUNT = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["bank", "wallet", "vasp"]),
        "iban": _maybe(st.sampled_from(["", "DE89 3704 0044 0532 0130 00", "de89370400440532013000"])),
        "chain": _maybe(st.sampled_from(["EVM", "BTC", ""])),
        "address": _maybe(st.sampled_from(["0xABCDEF0123456789abcdef0123456789ABCDEF01", "bc1qxyz", " 1Abc "])),
        "swift": _maybe(st.sampled_from(["", "DEUTDEFF", "deut de ff 500", "ABC"])),
        "institution_code": _maybe(st.sampled_from(["", "12-3"])),
        "institution_name": _maybe(_TEXT),
        "number": _maybe(_IDENT),
    }
)


def _frame(rows: list[dict[str, Any]], columns: tuple[str, ...], prefix: str) -> pl.DataFrame:
    rows = [{**r, "mention_id": f"{prefix}{i}"} for i, r in enumerate(rows)]
    schema = {c: (pl.Date if c == "birth_date" else pl.String) for c in columns}
    return pl.DataFrame(rows, schema=schema)


def _reference_clusters(keys: list[list[str]]) -> list[int]:
    """Plain union-find over shared keys: per mention, the smallest index of its cluster."""
    parent = list(range(len(keys)))

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    owner: dict[str, int] = {}
    for i, ks in enumerate(keys):
        for k in ks:
            if k in owner:
                a, b = find(owner[k]), find(i)
                parent[max(a, b)] = min(a, b)
            else:
                owner[k] = i
    return [find(i) for i in range(len(keys))]


def _h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


_RANK = {"strong": 0, "weak": 1, "local": 2}


@settings(max_examples=120, deadline=None)
@given(st.lists(_PARTY, max_size=40))
def test_party_frames_resolve_like_a_union_find_over_the_key_functions(rows: list[dict[str, Any]]) -> None:
    _assert_resolves_like_a_union_find(rows)


@settings(max_examples=120, deadline=None)
@given(
    st.lists(_PARTY, min_size=1, max_size=8),
    st.lists(st.tuples(st.integers(0, 7), _maybe(st.sampled_from(["r1", "r2", "r3"]))), max_size=40),
)
def test_parties_mentioned_again_and_again_resolve_like_every_mention_on_its_own(
    parties: list[dict[str, Any]], mentions: list[tuple[int, str | None]]
) -> None:
    """The same party (the same key columns) mentioned in several reports and several times in one: resolution
    builds keys once per distinct row and a row with a key that is not local stands for all its mentions."""
    _assert_resolves_like_a_union_find([{**parties[i % len(parties)], "report_id": report} for i, report in mentions])


def _assert_resolves_like_a_union_find(rows: list[dict[str, Any]]) -> None:
    frame = _frame(rows, PARTY_KEY_COLUMNS, "m")
    expected_keys = [
        [k for k, _ in (person_keys(r) if r["kind"] == "person" else organization_keys(r))] for r in frame.to_dicts()
    ]
    assert party_key_column(frame).to_list() == expected_keys
    res = resolve_party_frame(frame)
    assert res.keys.to_list() == expected_keys
    assert res.entities.len() == len(rows)
    roots = _reference_clusters(expected_keys)
    counts: dict[str, int] = {}
    for ks in expected_keys:
        for k in ks:
            counts[k] = counts.get(k, 0) + 1
    for i, entity in enumerate(res.entities.to_list()):
        members = [j for j, r in enumerate(roots) if r == roots[i]]
        cluster_keys = sorted({k for j in members for k in expected_keys[j]}, key=lambda k: (_RANK[_strength(k)], k))
        anchor = cluster_keys[0] if cluster_keys else f"mention:m{members[0]}"
        prefix = "per_" if rows[members[0]]["kind"] == "person" else "org_"
        assert entity == prefix + _h(anchor)
        linked = [_RANK[_strength(k)] for k in cluster_keys if counts[k] > 1]
        expected_basis = "single" if len(members) == 1 or not linked else ["strong", "weak", "local"][min(linked)]
        assert res.basis[entity] == expected_basis
    # same cluster <=> same entity
    entities = res.entities.to_list()
    assert all((roots[i] == roots[j]) == (entities[i] == entities[j]) for i in range(len(rows)) for j in range(i))


@settings(max_examples=120, deadline=None)
@given(st.lists(_ACCOUNT, max_size=40))
def test_account_frames_resolve_by_their_one_key(rows: list[dict[str, Any]]) -> None:
    _assert_accounts_resolve_by_their_key(rows)


@settings(max_examples=60, deadline=None)
@given(st.lists(_ACCOUNT, min_size=1, max_size=6), st.lists(st.integers(0, 5), max_size=40))
def test_accounts_mentioned_again_and_again_resolve_by_their_one_key(
    accounts: list[dict[str, Any]], picks: list[int]
) -> None:
    _assert_accounts_resolve_by_their_key([accounts[i % len(accounts)] for i in picks])


def _assert_accounts_resolve_by_their_key(rows: list[dict[str, Any]]) -> None:
    frame = _frame(rows, ACCOUNT_KEY_COLUMNS, "a")
    expected = [account_key(r) for r in frame.to_dicts()]
    assert account_key_column(frame).to_list() == expected
    res = resolve_account_frame(frame)
    assert res.keys.to_list() == [[k] for k in expected]
    for key, entity in zip(expected, res.entities.to_list(), strict=True):
        assert entity == ("wal_" if key.startswith("wallet:") else "acc_") + _h(key)
        assert res.basis[entity] == ("strong" if expected.count(key) > 1 else "single")


def test_a_long_chain_of_shared_keys_is_one_entity() -> None:
    """Mention i shares its passport with mention i-1 and its tax number with mention i+1, listed in an order that
    makes label propagation slow without pointer jumping."""
    n = 400
    rows = []
    for i in range(n):
        rows.append(
            {
                "kind": "person",
                "report_id": f"r{i}",
                "name": f"Person {i % 7}",
                "passport_number": f"P{i // 2}" if i % 2 == 0 else f"P{(i - 1) // 2}",
                "passport_country": "DE",
                "tax_number": f"T{(i + 1) // 2}",
                "nationality": "DE",
            }
        )
    order = list(range(n - 1, -1, -1))
    frame = _frame([rows[i] for i in order], PARTY_KEY_COLUMNS, "m")
    res = resolve_party_frame(frame)
    assert res.entities.n_unique() == 1
    assert res.basis[res.entities[0]] == "strong"
