"""Reference code lists (ISO 3166, ISO 4217, virtual-asset tickers) and goAML profiles.

The lists are versioned data files under ``finintel/data/``; a profile (TOML) sets the FIU-defined lookups, extra
mandatory elements and severity overrides. Profiles are validated with pydantic when loaded and a bad one is refused
with its file and key path.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from finintel.errors import ConfigError, read_toml
from finintel.problems import CATALOGUE, Severity


def _data_file(*parts: str) -> Path:
    return Path(str(resources.files("finintel").joinpath("data", *parts)))


@cache
def countries() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes (plus XK)."""
    with _data_file("codes", "countries.csv").open(encoding="utf-8") as fh:
        return frozenset(row["code"] for row in csv.DictReader(fh))


@cache
def currencies() -> frozenset[str]:
    """ISO 4217 alpha-3 codes."""
    with _data_file("codes", "currencies.csv").open(encoding="utf-8") as fh:
        return frozenset(row["code"] for row in csv.DictReader(fh))


@dataclass(frozen=True, slots=True)
class CryptoAsset:
    ticker: str
    name: str
    chain: str
    privacy: bool


@cache
def crypto_assets() -> dict[str, CryptoAsset]:
    """Virtual-asset tickers finintel recognises in currency fields, with their default chain."""
    with _data_file("codes", "crypto_assets.csv").open(encoding="utf-8") as fh:
        return {
            row["ticker"]: CryptoAsset(row["ticker"], row["name"], row["chain"], row["privacy"] == "true")
            for row in csv.DictReader(fh)
        }


def is_currency(code: str) -> bool:
    return code in currencies()


def is_crypto(code: str) -> bool:
    return code.upper() in crypto_assets()


def is_country(code: str) -> bool:
    return code in countries()


class CodeList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["strict", "lenient"] = "lenient"
    codes: dict[str, str] = Field(default_factory=dict)


class Profile(BaseModel):
    """A goAML validation profile: which codes are allowed and which elements are mandatory."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    jurisdiction: str = ""
    max_text_length: int = Field(default=4000, gt=0)
    max_attributes: int = Field(default=50, ge=0, description="attributes one element may carry (goAML uses none)")
    mandatory: list[str] = Field(default_factory=list)
    severity: dict[str, Literal["info", "warning", "error"]] = Field(default_factory=dict)
    codelists: dict[str, CodeList] = Field(default_factory=dict)
    source: str = Field(default="", exclude=True)

    def severity_for(self, code: str) -> Severity | None:
        value = self.severity.get(code)
        return Severity(value) if value else None

    @cached_property
    def _mandatory_index(self) -> dict[str, frozenset[str]]:
        index: dict[str, set[str]] = {}
        for item in self.mandatory:
            typename, _, element = item.partition(".")
            index.setdefault(typename, set()).add(element)
        return {k: frozenset(v) for k, v in index.items()}

    def mandatory_for(self, typename: str) -> frozenset[str]:
        return self._mandatory_index.get(typename, frozenset())

    def merged(self, other: Profile) -> Profile:
        """``other`` layered over this profile: code lists are replaced per list, everything else extended."""
        codelists = dict(self.codelists)
        codelists.update(other.codelists)
        return Profile(
            name=other.name,
            description=other.description or self.description,
            jurisdiction=other.jurisdiction or self.jurisdiction,
            max_text_length=other.max_text_length,
            max_attributes=other.max_attributes,
            mandatory=sorted(set(self.mandatory) | set(other.mandatory)),
            severity={**self.severity, **other.severity},
            codelists=codelists,
            source=other.source,
        )


def _format_pydantic_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = "/".join(str(x) for x in err["loc"])
        parts.append(f"at key '{loc}': {err['msg']}")
    return "; ".join(parts)


def load_profile_file(path: Path) -> Profile:
    """Load one profile TOML, refusing unknown keys, unknown problem codes and malformed mandatory entries."""
    _, raw = read_toml(path, "profile")
    try:
        profile = Profile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_pydantic_error(exc), file=str(path)) from None
    for code in profile.severity:
        if code not in CATALOGUE:
            raise ConfigError(f"at key 'severity/{code}': unknown problem code", file=str(path))
    for item in profile.mandatory:
        if "." not in item:
            raise ConfigError(
                f"at key 'mandatory': {item!r} must be written type.element (e.g. t_person.birthdate)",
                file=str(path),
            )
    profile.source = str(path)
    return profile


@cache
def default_profile() -> Profile:
    return load_profile_file(_data_file("profiles", "default.toml"))


def load_profile(path: Path | None) -> Profile:
    """The default profile, with ``path`` layered over it when given."""
    base = default_profile()
    if path is None:
        return base
    return base.merged(load_profile_file(path))
