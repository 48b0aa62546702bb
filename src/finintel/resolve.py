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
    """mention id -> entity id, and per entity how it was matched (``strong``/``weak``/``local``/``single``)."""

    entity_of: dict[str, str]
    basis: dict[str, str]
    keys_of: dict[str, list[str]]


def resolve_parties(mentions: Iterable[Mapping[str, Any]]) -> Resolution:
    """Cluster party mentions (dicts with ``mention_id``, ``kind`` and the Person/Organization fields)."""
    items = list(mentions)
    uf = _UnionFind()
    key_owner: dict[str, int] = {}
    key_strength: dict[str, str] = {}
    keys_of: dict[str, list[str]] = {}
    for i, m in enumerate(items):
        keys = person_keys(m) if m.get("kind") == "person" else organization_keys(m)
        keys_of[m["mention_id"]] = [k for k, _ in keys]
        for key, strength in keys:
            key_strength[key] = strength
            owner = key_owner.get(key)
            if owner is None:
                key_owner[key] = i
            else:
                uf.union(owner, i)
    clusters: dict[int, list[int]] = {}
    for i in range(len(items)):
        clusters.setdefault(uf.find(i), []).append(i)
    entity_of: dict[str, str] = {}
    basis: dict[str, str] = {}
    key_count: dict[str, int] = {}
    for m in items:
        for k in keys_of[m["mention_id"]]:
            key_count[k] = key_count.get(k, 0) + 1
    for members in clusters.values():
        ms = [items[i] for i in members]
        all_keys = sorted({k for m in ms for k in keys_of[m["mention_id"]]})
        prefix = "per_" if ms[0].get("kind") == "person" else "org_"
        # the id comes from the strongest, smallest key so it does not change when weaker keys come and go
        ranked = sorted(all_keys, key=lambda k: (_RANK[key_strength[k]], k))
        anchor = ranked[0] if ranked else f"mention:{ms[0]['mention_id']}"
        entity_id = prefix + _h(anchor)
        if len(ms) == 1:
            how = "single"
        else:
            used = [key_strength[k] for k in all_keys if key_count[k] > 1]
            how = min(used, key=lambda s: _RANK[s]) if used else "single"
        for m in ms:
            entity_of[m["mention_id"]] = entity_id
        basis[entity_id] = how
    return Resolution(entity_of=entity_of, basis=basis, keys_of=keys_of)


_RANK = {STRONG: 0, WEAK: 1, LOCAL: 2}


def resolve_accounts(mentions: Iterable[Mapping[str, Any]]) -> Resolution:
    entity_of: dict[str, str] = {}
    basis: dict[str, str] = {}
    keys_of: dict[str, list[str]] = {}
    seen: dict[str, int] = {}
    for m in mentions:
        key = account_key(m)
        prefix = "wal_" if key.startswith("wallet:") else "acc_"
        entity_id = prefix + _h(key)
        entity_of[m["mention_id"]] = entity_id
        keys_of[m["mention_id"]] = [key]
        seen[entity_id] = seen.get(entity_id, 0) + 1
    for entity_id, n in seen.items():
        basis[entity_id] = STRONG if n > 1 else "single"
    return Resolution(entity_of=entity_of, basis=basis, keys_of=keys_of)


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
    key = account_key(row)
    return ("wal_" if key.startswith("wallet:") else "acc_") + _h(key)
