"""The shape of ``case.json``, as pydantic models; ``docs/case.schema.json`` is generated from them (docgen)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RiskPart(_M):
    finding_id: str
    rule_id: str
    typology: str
    severity: str
    weight: float
    score: float
    contribution: float


class FindingDoc(_M):
    finding_id: str
    rule_id: str
    rule_version: int
    typology: str
    severity: str
    score: float = Field(ge=0, le=1)
    explanation: str
    transactions: list[str]
    accounts: list[str]
    parties: list[str]
    path: list[str]
    start: str | None
    end: str | None
    total_amount: float
    currency: str | None
    details: dict[str, Any]


class Subject(_M):
    id: str
    kind: str | None
    label: str | None
    centrality: float


class AccountDoc(_M):
    account_id: str
    kind: str
    institution_name: str | None
    country: str | None
    currency: str | None


class WalletDoc(_M):
    account_id: str
    chain: str | None
    label: str | None
    institution_name: str | None


class TimelineEntry(_M):
    transaction_id: str
    timestamp: str
    amount: float | None
    currency: str | None
    from_: str | None = Field(alias="from")
    to: str | None


class CaseDocument(_M):
    """case.json of a finintel case bundle (bundle format version 1)."""

    case_id: str = Field(pattern=r"^C-[0-9a-f]{12}$")
    risk_score: float = Field(ge=0, le=100, description="100 * (1 - exp(-sum(contribution) / 10))")
    risk_explanation: list[RiskPart]
    worst_severity: str
    typologies: list[str]
    jurisdictions: list[str]
    totals: dict[str, float] = Field(description="currency -> total amount of the case's transactions")
    first_activity: str | None
    last_activity: str | None
    findings: list[FindingDoc]
    subjects: list[Subject] = Field(description="parties and accounts ranked by PageRank in the case graph")
    accounts: list[AccountDoc]
    wallets: list[WalletDoc]
    timeline: list[TimelineEntry]


def json_schema() -> dict[str, Any]:
    schema = CaseDocument.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://finintel.invalid/schemas/case-1.json"
    return schema
