"""Typed model of the transaction graph (pydantic v2)."""

from finintel.model.entities import (
    Account,
    AccountKind,
    BusinessType,
    Organization,
    Party,
    PartyKind,
    Person,
    Provenance,
    Relation,
    RelationKind,
    Report,
    Transaction,
)

__all__ = [
    "Account",
    "AccountKind",
    "BusinessType",
    "Organization",
    "Party",
    "PartyKind",
    "Person",
    "Provenance",
    "Relation",
    "RelationKind",
    "Report",
    "Transaction",
]
