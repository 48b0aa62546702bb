"""Entity resolution: mentions of the same person, organization or account in different reports become one node.

Every mention gets *match keys* computed from its identifiers; mentions sharing a key are the same entity
(union-find, so keys chain: passport in report A + tax number in A and B links B's mention to A's).

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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

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


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            if ra < rb:
                self.parent[rb] = ra
            else:
                self.parent[ra] = rb


@dataclass(frozen=True, slots=True)
class Resolution:
    """Per mention, in input order: its id, its entity id and its match keys; per entity how it was matched
    (``strong``/``weak``/``local``/``single``). Lists rather than dicts keyed by mention: a million mentions cost
    a third of the memory, and the ingest attaches them to the mention frame as columns."""

    mention_ids: list[str]
    entities: list[str]
    keys: list[list[str]]
    basis: dict[str, str]

    @property
    def entity_of(self) -> dict[str, str]:
        """mention id -> entity id."""
        return dict(zip(self.mention_ids, self.entities, strict=True))


_RANK = {STRONG: 0, WEAK: 1, LOCAL: 2}
_STRENGTH_OF_PREFIX = {"namedob": WEAK, "orgname": WEAK, "local": LOCAL}


def _strength(key: str) -> str:
    """Every key says its strength by its prefix (see the table above)."""
    return _STRENGTH_OF_PREFIX.get(key[: key.index(":")], STRONG)


def resolve_parties(mentions: Iterable[Mapping[str, Any]]) -> Resolution:
    """Cluster party mentions (mappings with ``mention_id``, ``kind`` and the Person/Organization fields).

    ``mentions`` is consumed once and no mapping is kept: the ingest streams rows of only the key columns."""
    uf = _UnionFind()
    key_owner: dict[str, int] = {}
    repeated: set[str] = set()  # keys that more than one mention has
    mention_ids: list[str] = []
    persons: list[bool] = []
    keys_per: list[list[str]] = []
    for i, m in enumerate(mentions):
        person = m.get("kind") == "person"
        keys = [k for k, _ in (person_keys(m) if person else organization_keys(m))]
        mention_ids.append(m["mention_id"])
        persons.append(person)
        keys_per.append(keys)
        for key in keys:
            owner = key_owner.get(key)
            if owner is None:
                key_owner[key] = i
            else:
                repeated.add(key)
                uf.union(owner, i)
    del key_owner
    clusters: dict[int, list[int]] = {}
    for i in range(len(mention_ids)):
        clusters.setdefault(uf.find(i), []).append(i)
    entities: list[str] = [""] * len(mention_ids)
    basis: dict[str, str] = {}
    for members in clusters.values():
        all_keys = sorted({k for i in members for k in keys_per[i]})
        prefix = "per_" if persons[members[0]] else "org_"
        # the id comes from the strongest, smallest key so it does not change when weaker keys come and go
        ranked = sorted(all_keys, key=lambda k: (_RANK[_strength(k)], k))
        anchor = ranked[0] if ranked else f"mention:{mention_ids[members[0]]}"
        entity_id = prefix + _h(anchor)
        if len(members) == 1:
            how = "single"
        else:
            used = [_strength(k) for k in all_keys if k in repeated]
            how = min(used, key=lambda s: _RANK[s]) if used else "single"
        for i in members:
            entities[i] = entity_id
        basis[entity_id] = how
    return Resolution(mention_ids=mention_ids, entities=entities, keys=keys_per, basis=basis)


def resolve_accounts(mentions: Iterable[Mapping[str, Any]]) -> Resolution:
    """Accounts have one key each: mentions with the same key are the same account."""
    mention_ids: list[str] = []
    entities: list[str] = []
    keys: list[list[str]] = []
    seen: dict[str, int] = {}
    for m in mentions:
        key = account_key(m)
        entity_id = _account_entity(key)
        mention_ids.append(m["mention_id"])
        entities.append(entity_id)
        keys.append([key])
        seen[entity_id] = seen.get(entity_id, 0) + 1
    basis = {entity_id: STRONG if n > 1 else "single" for entity_id, n in seen.items()}
    return Resolution(mention_ids=mention_ids, entities=entities, keys=keys, basis=basis)


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
