"""Generator settings: the background economy and, per typology, its knobs. Every knob is documented in
``docs/synth.md``; a TOML file given with ``--config`` overrides any of them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from finintel.errors import ConfigError, read_toml

TYPOLOGIES = (
    "shell_chain",
    "cycle",
    "fan_in",
    "fan_out",
    "scatter_gather",
    "gather_scatter",
    "pass_through",
    "structuring",
    "va_hop_chain",
    "va_mixer",
    "va_chain_hop",
    "va_peel_chain",
)

DECOYS = ("payroll_fan_out", "holding_group", "exchange_hot_wallet")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Knobs(_Model):
    """Knobs of one planted typology (what ``size`` counts is typology-specific, see docs/synth.md)."""

    count: int | None = Field(default=None, ge=0, description="instances; default scales with --transactions")
    size: tuple[int, int] = Field(description="min, max of the typology's size (fan width, hops, deposits, ...)")
    window_hours: float = Field(gt=0, description="the whole instance happens within this many hours")
    amount: tuple[float, float] = Field(description="min, max of the amount that enters the pattern (EUR)")
    noise: int = Field(default=2, ge=0, description="unrelated background transactions per planted account")

    @model_validator(mode="after")
    def _ranges(self) -> Knobs:
        if self.size[0] > self.size[1] or self.size[0] < 1:
            raise ValueError("size must be (min, max) with 1 <= min <= max")
        if not 0 < self.amount[0] <= self.amount[1]:
            raise ValueError("amount must be (min, max) with 0 < min <= max")
        return self


def _k(size: tuple[int, int], hours: float, amount: tuple[float, float], noise: int = 2) -> Knobs:
    return Knobs(size=size, window_hours=hours, amount=amount, noise=noise)


DEFAULT_KNOBS: dict[str, Knobs] = {
    "shell_chain": _k((3, 6), 24 * 20, (80_000, 900_000)),
    "cycle": _k((3, 6), 24 * 6, (20_000, 250_000)),
    "fan_in": _k((6, 14), 20, (2_000, 9_500)),
    "fan_out": _k((6, 14), 20, (2_000, 9_500)),
    "scatter_gather": _k((5, 10), 24 * 5, (30_000, 200_000)),
    "gather_scatter": _k((5, 10), 24 * 5, (30_000, 200_000)),
    "pass_through": _k((3, 5), 24 * 8, (15_000, 150_000)),
    "structuring": _k((3, 6), 24 * 5, (9_000, 9_990)),
    "va_hop_chain": _k((3, 6), 24 * 4, (10_000, 120_000)),
    "va_mixer": _k((3, 6), 24 * 3, (5_000, 80_000)),
    "va_chain_hop": _k((2, 3), 24 * 2, (10_000, 150_000)),
    "va_peel_chain": _k((6, 12), 24 * 4, (20_000, 200_000)),
}


class SynthConfig(_Model):
    transactions: int = Field(default=10_000, ge=100, description="total transactions, background + planted")
    seed: int = 0
    start: dt.date = Field(default=dt.date(2025, 1, 1), description="first day of the simulated period")
    days: int = Field(default=365, ge=28, le=3660)
    jurisdictions: list[str] = Field(default_factory=lambda: ["DE", "LT", "EE", "LV", "NL", "FR", "CY"])
    banks_per_jurisdiction: int = Field(default=2, ge=1, le=9)
    vasps: int = Field(default=3, ge=1, le=9)
    instances_per_100k: float = Field(
        default=2.0, ge=0, description="default instances per typology per 100k transactions"
    )
    min_instances: int = Field(default=2, ge=0, description="default instances per typology at least")
    decoys_per_100k: float = Field(default=2.0, ge=0, description="default instances per decoy kind per 100k")
    max_report_size: int = Field(default=2000, ge=10, description="most transactions in one goAML report")
    goaml_multi_party: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="share of the reporting entities whose goAML reports give each transaction's sides as sender and "
        "receiver parties (involved_parties, goAML's multi-party form) instead of t_from/t_to",
    )
    typologies: dict[str, Knobs] = Field(default_factory=lambda: dict(DEFAULT_KNOBS))

    @model_validator(mode="after")
    def _check(self) -> SynthConfig:
        unknown = set(self.typologies) - set(TYPOLOGIES)
        if unknown:
            raise ValueError(f"unknown typologies: {sorted(unknown)} (known: {', '.join(TYPOLOGIES)})")
        for name, knobs in DEFAULT_KNOBS.items():
            self.typologies.setdefault(name, knobs)
        from finintel.codes import is_country

        bad = [j for j in self.jurisdictions if not is_country(j)]
        if bad:
            raise ValueError(f"jurisdictions must be ISO 3166 alpha-2 codes: {bad}")
        if not self.jurisdictions:
            raise ValueError("at least one jurisdiction")
        return self

    def instances(self, typology: str) -> int:
        knobs = self.typologies[typology]
        if knobs.count is not None:
            return knobs.count
        return max(self.min_instances, round(self.instances_per_100k * self.transactions / 100_000))

    def decoys(self) -> int:
        return max(1, round(self.decoys_per_100k * self.transactions / 100_000))


def load_config(path: Path | None, **overrides: object) -> SynthConfig:
    """Defaults, then the TOML file (``[typologies.cycle]`` tables merge over the defaults), then CLI overrides."""
    data: dict[str, object] = {}
    if path is not None:
        data = read_toml(path, "synth config")[1]
        typ = data.get("typologies")
        if isinstance(typ, dict):
            merged = {}
            for name, knobs in typ.items():
                base = DEFAULT_KNOBS[name].model_dump() if name in DEFAULT_KNOBS else {}
                merged[name] = {**base, **knobs} if isinstance(knobs, dict) else knobs
            data["typologies"] = {**{k: v.model_dump() for k, v in DEFAULT_KNOBS.items()}, **merged}
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return SynthConfig.model_validate(data)
    except ValidationError as exc:
        msg = "; ".join(f"at key '{'/'.join(str(x) for x in e['loc'])}': {e['msg']}" for e in exc.errors())
        raise ConfigError(msg, file=str(path) if path else "synth options") from None
