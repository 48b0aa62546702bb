"""Redaction for cross-border sharing: personal identifiers out, keyed match tokens in.

A match token is ``tok_`` + the first 32 hex digits of HMAC-SHA-256(key, value). The key is agreed by the two
FIUs and given by file or environment variable; it is never written into a bundle. Each party and account gets the
tokens of its entity-resolution keys (``resolve.person_keys`` etc.: passport + country, registration number +
country, IBAN, chain + address, ...), so a partner holding the same key computes the same tokens from its own
store and learns which subjects it knows (``finintel cases match``), and nothing about the others. Ids are
tokenized too: the store's ids are unkeyed hashes of identifiers and could be brute-forced.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl

from finintel.errors import ConfigError, read_toml
from finintel.resolve import account_key, organization_keys, person_keys

KEY_ENV = "FININTEL_MATCH_KEY"
MIN_KEY_BYTES = 16


def load_key(key_file: Path | None) -> bytes:
    """The shared key from a file (its bytes, surrounding whitespace stripped) or from $FININTEL_MATCH_KEY."""
    if key_file is not None:
        try:
            key = key_file.read_bytes().strip()
        except OSError as exc:
            raise ConfigError(f"cannot read key file: {exc.strerror}", file=str(key_file)) from None
    elif os.environ.get(KEY_ENV):
        key = os.environ[KEY_ENV].encode("utf-8")
    else:
        raise ConfigError(f"redaction needs the key agreed with the recipient: --key-file FILE or ${KEY_ENV}")
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(f"the match key must be at least {MIN_KEY_BYTES} bytes long", file=str(key_file or KEY_ENV))
    return key


def key_id(key: bytes) -> str:
    """A short fingerprint that lets both sides check they use the same key (not the key, not reversible)."""
    return hmac.new(key, b"finintel-key-id", hashlib.sha256).hexdigest()[:12]


@dataclass(frozen=True)
class TableRule:
    tokenize: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()


@dataclass(frozen=True)
class RedactionProfile:
    name: str
    description: str
    tables: dict[str, TableRule] = field(default_factory=dict)


def load_profiles(path: Path | None = None) -> dict[str, RedactionProfile]:
    path = path or Path(str(resources.files("finintel").joinpath("data", "redaction", "profiles.toml")))
    _, data = read_toml(path, "redaction profiles")
    out = {}
    for name, body in data.items():
        if not isinstance(body, dict):
            raise ConfigError(f"at key '{name}': expected a table", file=str(path))
        tables = {}
        for table, rule in body.items():
            if table == "description":
                continue
            if not isinstance(rule, dict) or set(rule) - {"tokenize", "drop"}:
                raise ConfigError(
                    f"at key '{name}/{table}': expected tokenize = [...] and drop = [...]", file=str(path)
                )
            tables[table] = TableRule(tuple(rule.get("tokenize", [])), tuple(rule.get("drop", [])))
        out[name] = RedactionProfile(name, str(body.get("description", "")), tables)
    return out


class Redactor:
    def __init__(self, key: bytes, profile: RedactionProfile) -> None:
        self.key = key
        self.profile = profile
        self.replacements: dict[str, str] = {}

    def token(self, value: str) -> str:
        return "tok_" + hmac.new(self.key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:32]

    # -- match tokens ------------------------------------------------------------------------------------------

    def party_tokens(self, row: Mapping[str, Any]) -> list[str]:
        keys = person_keys(row) if row.get("kind") == "person" else organization_keys(row)
        return sorted({self.token(k) for k, strength in keys if strength != "local"})

    def account_tokens(self, row: Mapping[str, Any]) -> list[str]:
        key = account_key(row)
        if key.startswith("acct:") and key.endswith(":"):
            return []
        return [self.token(key)]

    # -- tables ------------------------------------------------------------------------------------------------

    def _remember(self, raw: object, replacement: str) -> None:
        if isinstance(raw, str) and len(raw) >= 4:
            self.replacements.setdefault(raw, replacement)

    def apply(self, tables: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
        """Redacted copies of the case tables; remembers every raw string it removed for :meth:`scrub`."""
        out = {}
        for table, frame in tables.items():
            rule = self.profile.tables.get(table, TableRule())
            rows = frame.to_dicts()
            for row in rows:
                entity_token = None
                if table == "parties":
                    row["match_tokens"] = self.party_tokens(row)
                    entity_token = self.token(row["party_id"])
                elif table == "accounts":
                    row["match_tokens"] = self.account_tokens(row)
                    entity_token = self.token(row["account_id"])
                for col in rule.drop:
                    if col in row:
                        self._remember(row[col], entity_token or "[redacted]")
                        row[col] = None
                for col in rule.tokenize:
                    if row.get(col) is not None:
                        tok = self.token(str(row[col]))
                        self._remember(row[col], tok)
                        row[col] = tok
            schema = dict(frame.schema)
            if table in ("parties", "accounts"):
                schema["match_tokens"] = pl.List(pl.String)
            out[table] = pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
        return out

    def add_identifiers(self, values: Iterable[tuple[str, str]]) -> None:
        """Extra raw strings (display names and the like) to replace in free text."""
        for raw, replacement in values:
            self._remember(raw, replacement)

    def scrub(self, text: str) -> str:
        """Replace every remembered raw string in free text (explanations, details, labels), longest first."""
        if not self.replacements:
            return text
        pattern = re.compile("|".join(re.escape(k) for k in sorted(self.replacements, key=len, reverse=True)))
        return pattern.sub(lambda m: self.replacements[m.group(0)], text)
