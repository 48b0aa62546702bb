"""Rule files: one typology rule per TOML file, validated with pydantic when loaded.

A bad rule file is refused with its file, the key path and (where it can be found) the line:
``rules/cycle.toml:14: at key 'params/window_hours': Input should be greater than 0``.
Rule folders layer: later folders (``--rules DIR``) add rules and replace rules with the same ``id``.
"""

from __future__ import annotations

import hashlib
import re
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from finintel.detect import DETECTORS
from finintel.detect.base import SEVERITIES, Filters
from finintel.errors import ConfigError, read_toml
from finintel.synth.config import TYPOLOGIES

Severity = Literal["low", "medium", "high", "critical"]


class RuleTest(BaseModel):
    """A case the rule must pass: small tables as CSV text (canonical dataset columns)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    expect: Literal["fire", "quiet"]
    transactions: str = Field(description="CSV of the transactions table")
    accounts: str | None = None
    parties: str | None = None
    relations: str | None = None
    expect_transactions: list[str] = Field(
        default_factory=list, description="when firing: these transactions must be in one finding"
    )


class RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$")
    name: str
    version: int = Field(ge=1)
    typology: str
    severity: Severity
    description: str = Field(min_length=20)
    references: list[str] = Field(min_length=1)
    false_positives: list[str] = Field(min_length=1)
    detector: str
    params: dict[str, Any] = Field(default_factory=dict)
    filters: Filters = Field(default_factory=Filters)
    enabled: bool = True
    tests: list[RuleTest] = Field(min_length=2)

    @field_validator("typology")
    @classmethod
    def _typology(cls, value: str) -> str:
        if value not in TYPOLOGIES:
            raise ValueError(f"unknown typology {value!r}; known: {', '.join(TYPOLOGIES)}")
        return value

    @field_validator("detector")
    @classmethod
    def _detector(cls, value: str) -> str:
        if value not in DETECTORS:
            raise ValueError(f"unknown detector {value!r}; known: {', '.join(sorted(DETECTORS))}")
        return value

    @model_validator(mode="after")
    def _tests(self) -> RuleSpec:
        kinds = {t.expect for t in self.tests}
        if kinds != {"fire", "quiet"}:
            raise ValueError("tests need at least one case that must fire and one that must stay quiet")
        return self


class Rule:
    """A loaded rule: its spec, where it came from, and the detector parameters as a typed object."""

    def __init__(self, spec: RuleSpec, source: Path, text: str) -> None:
        self.spec = spec
        self.source = source
        self.sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
        self.params = DETECTORS[spec.detector].params.model_validate(spec.params)

    @property
    def id(self) -> str:
        return self.spec.id

    def __repr__(self) -> str:
        return f"Rule({self.spec.id!r}, {self.source})"


def default_rules_dir() -> Path:
    """The rule pack shipped with finintel: the repository's ``rules/`` (source or editable install), else the copy
    installed as package data."""
    repo = Path(__file__).resolve().parents[3] / "rules"
    if repo.is_dir() and any(repo.glob("*.toml")):
        return repo
    return Path(str(resources.files("finintel").joinpath("data", "rules")))


def _line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """Best-effort line of a key path in TOML text (tomllib does not report positions)."""
    keys = [str(k) for k in loc if not isinstance(k, int)]
    if not keys:
        return None
    lines = text.splitlines()
    start = 0
    if len(keys) > 1:
        for i, line in enumerate(lines):
            if re.match(rf"^\s*\[+\s*{re.escape(keys[0])}(\.|\s*\])", line):
                start = i
                break
    for i in range(start, len(lines)):
        if re.match(rf"^\s*{re.escape(keys[-1])}\s*=", lines[i]):
            return i + 1
    return start + 1 if start else None


def load_rule(path: Path) -> Rule:
    text, data = read_toml(path, "rule")
    try:
        spec = RuleSpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        key = "/".join(str(x) for x in loc) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise ConfigError(f"at key '{key}': {msg}{more}", file=str(path), line=_line_of(text, loc)) from None
    try:
        DETECTORS[spec.detector].params.model_validate(spec.params)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ("params", *err["loc"])
        key = "/".join(str(x) for x in loc)
        raise ConfigError(f"at key '{key}': {err['msg']}", file=str(path), line=_line_of(text, loc)) from None
    return Rule(spec, path, text)


def load_rules(dirs: list[Path] | None = None, *, include_default: bool = True) -> list[Rule]:
    """Rules of the default pack, then of each folder in order; a later rule with the same id replaces the earlier."""
    folders = ([default_rules_dir()] if include_default else []) + list(dirs or [])
    by_id: dict[str, Rule] = {}
    for folder in folders:
        if not folder.is_dir():
            raise ConfigError("rules folder not found", file=str(folder))
        for path in sorted(folder.glob("*.toml")):
            rule = load_rule(path)
            by_id[rule.id] = rule
    return sorted(by_id.values(), key=lambda r: r.id)


def pack_hash(rules: list[Rule]) -> str:
    """One hash for the whole rule pack (ids and file contents), recorded in scan output and bundles."""
    h = hashlib.sha256()
    for rule in sorted(rules, key=lambda r: r.id):
        h.update(f"{rule.id}:{rule.sha256}\n".encode())
    return h.hexdigest()


SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
