"""Parsing and normalising single values: dates, amounts, booleans, IBANs, wallet addresses, names.

Shared by every reader so that goAML and tabular inputs agree on what a valid value is.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from functools import lru_cache

_DECIMAL_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?(Z|[+-]\d{2}:?\d{2})?$")

MIN_DATE = dt.datetime(1900, 1, 1)


def parse_decimal(text: str) -> Decimal | None:
    """A plain decimal (``1234.56``); ``None`` for anything else (no thousands separators, no NaN/Infinity)."""
    text = text.strip()
    if not _DECIMAL_RE.match(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the regex already excludes these
        return None


def parse_datetime(text: str) -> dt.datetime | None:
    """ISO 8601 date or date-time as goAML writes it. Offsets are converted to UTC and dropped."""
    text = text.strip()
    if not _DATE_RE.match(text):
        return None
    if len(text) > 26 and "." in text:  # fromisoformat takes at most microseconds
        head, _, frac = text.partition(".")
        digits = "".join(ch for ch in frac if ch.isdigit())
        rest = frac[len(digits) :]
        text = f"{head}.{digits[:6]}{rest}"
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


_TRUE = frozenset({"true", "1", "yes", "y"})
_FALSE = frozenset({"false", "0", "no", "n"})


def parse_bool(text: str) -> bool | None:
    t = text.strip().lower()
    if t in _TRUE:
        return True
    if t in _FALSE:
        return False
    return None


def parse_int(text: str) -> int | None:
    t = text.strip()
    if not re.fullmatch(r"[+-]?\d+", t):
        return None
    return int(t)


# -- identifiers -----------------------------------------------------------------------------------------------------

_NON_ALNUM = re.compile(r"[^0-9A-Za-z]+")


@lru_cache(maxsize=262144)
def norm_identifier(value: str) -> str:
    """Identifiers compare without case, spaces, dots, dashes and slashes: ``AB-123 456`` == ``ab123456``."""
    return _NON_ALNUM.sub("", value).upper()


#: ISO 13616's letters as numbers (A = 10 ... Z = 35), for one ``str.translate`` instead of a call per character
_IBAN_LETTERS = {ord(letter): str(10 + i) for i, letter in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}


@lru_cache(maxsize=65536)
def iban_is_valid(value: str) -> bool:
    """ISO 13616 IBAN: 2 letters, 2 check digits, up to 30 alphanumerics, mod-97 == 1."""
    iban = norm_identifier(value)
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", iban):
        return False
    digits = (iban[4:] + iban[:4]).translate(_IBAN_LETTERS)
    return int(digits) % 97 == 1


_LEGAL_SUFFIXES = {
    "LIMITED": "LTD",
    "CORPORATION": "CORP",
    "INCORPORATED": "INC",
    "COMPANY": "CO",
    "GESELLSCHAFTMITBESCHRANKTERHAFTUNG": "GMBH",
    "SOCIETEANONYME": "SA",
    "PUBLICLIMITEDCOMPANY": "PLC",
}


@lru_cache(maxsize=262144)
def norm_name(value: str) -> str:
    """Names compare folded: accents removed, case folded, punctuation to spaces, legal suffixes abbreviated."""
    decomposed = unicodedata.normalize("NFKD", value)
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    words = re.sub(r"[^0-9A-Za-z]+", " ", ascii_only).upper().split()
    return " ".join(_LEGAL_SUFFIXES.get(w, w) for w in words)


# -- virtual assets --------------------------------------------------------------------------------------------------

_BASE58 = "1-9A-HJ-NP-Za-km-z"
_ADDRESS_PATTERNS: list[tuple[str, re.Pattern[str], bool]] = [
    # (chain, pattern, strong: recognisable without any other hint)
    ("BTC", re.compile(r"^bc1[02-9ac-hj-np-z]{11,71}$"), True),
    ("EVM", re.compile(r"^0x[0-9a-fA-F]{40}$"), True),
    ("LTC", re.compile(r"^ltc1[02-9ac-hj-np-z]{11,71}$"), True),
    ("TRX", re.compile(rf"^T[{_BASE58}]{{33}}$"), False),
    ("XMR", re.compile(rf"^[48][0-9AB][{_BASE58}]{{93}}$"), False),
    ("BTC", re.compile(rf"^[13][{_BASE58}]{{25,34}}$"), False),
    ("LTC", re.compile(rf"^[LM][{_BASE58}]{{26,33}}$"), False),
    ("SOL", re.compile(rf"^[{_BASE58}]{{32,44}}$"), False),
]

EVM_CHAINS = frozenset({"ETH", "BSC", "POLYGON", "AVAX", "ARB", "OP", "BASE"})


@lru_cache(maxsize=65536)
def detect_chain(address: str, hint_chain: str | None) -> tuple[str | None, bool]:
    """Which chain an address belongs to, and whether the address format alone makes that certain.

    ``hint_chain`` is the chain of the reported asset (``USDT`` -> ``ETH``) and settles ambiguous formats:
    an ``0x…`` address is ETH unless the asset says another EVM chain; a base58 string is only a Solana address when
    the asset says SOL.
    """
    a = address.strip()
    for chain, pattern, strong in _ADDRESS_PATTERNS:
        if not pattern.match(a):
            continue
        if chain == "EVM":
            return (hint_chain if hint_chain in EVM_CHAINS else "ETH"), True
        if chain == "SOL":
            if hint_chain == "SOL":
                return "SOL", False
            continue
        if hint_chain is not None and hint_chain != chain and not strong:
            continue
        return chain, strong
    return None, False


def norm_address(chain: str, address: str) -> str:
    """Canonical form of an address for matching: EVM addresses are case-insensitive (EIP-55 is only a checksum)."""
    a = address.strip()
    if chain in EVM_CHAINS or a.startswith(("0x", "bc1", "ltc1")):
        return a.lower()
    return a
