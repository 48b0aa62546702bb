"""Orchestration: world -> planted typologies and decoys -> background -> ids, reports -> files.

Output folder (``finintel synth --out DIR``):

- ``tabular/`` the canonical dataset (Parquet), when the format is ``tabular`` or ``both``;
- ``goaml/`` one goAML XML file per report, when the format is ``goaml`` or ``both``;
- ``labels.parquet`` / ``labels.csv``: ground truth, one row per planted instance per transaction/party/account;
- ``decoys.parquet`` / ``decoys.csv``: the same for legitimate look-alikes (they must not be flagged);
- ``wallet_labels.csv``: exchange, mixer and bridge wallets (chain, address, label), as a labels reference file;
- ``synth.json``: the configuration used and the counts.

The same configuration gives byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from finintel.formats.goaml.writer import GoamlWriter, prepare, write_report_file
from finintel.formats.tabular import write_dataset
from finintel.store import conform, frame_from_rows
from finintel.synth.background import build_population, generate_background
from finintel.synth.config import DECOYS, TYPOLOGIES, SynthConfig
from finintel.synth.typologies import DECOY_PLANTERS, PLANTERS, Planted, Planter
from finintel.synth.world import CITY, World

LABEL_SCHEMA = {
    "instance_id": pl.String(),
    "typology": pl.String(),
    "role": pl.String(),
    "transaction_id": pl.String(),
    "party_id": pl.String(),
    "account_id": pl.String(),
}


@dataclass
class SynthResult:
    tables: dict[str, pl.DataFrame]
    labels: pl.DataFrame
    decoys: pl.DataFrame
    wallet_labels: pl.DataFrame
    counts: dict[str, Any]
    institution_of: dict[str, int]  # account id -> rentity id of the institution holding it


def generate(config: SynthConfig, progress: Callable[[str], None] | None = None) -> SynthResult:
    """Build all tables in memory (they are the output; nothing else grows with the size)."""
    say = progress or (lambda _msg: None)
    rng = np.random.default_rng(config.seed)
    world = World(rng=rng, start=config.start, days=config.days, jurisdictions=list(config.jurisdictions))
    world.add_institutions(config.banks_per_jurisdiction, config.vasps)
    say("population")
    pop = build_population(world, config.transactions)

    say("planting typologies")
    planted = Planted()
    planter = Planter(world, pop, planted)
    for name in TYPOLOGIES:
        for i in range(config.instances(name)):
            planter.begin(name, i + 1)
            PLANTERS[name](planter, config.typologies[name])
    for name in DECOYS:
        for i in range(config.decoys()):
            planter.begin(name, i + 1, decoy=True)
            DECOY_PLANTERS[name](planter)

    n_background = config.transactions - len(planted.transactions)
    if n_background < 0:
        from finintel.errors import ConfigError

        raise ConfigError(
            f"the planted typologies alone need {len(planted.transactions)} transactions; raise --transactions "
            "or lower the instance counts",
            file="synth options",
        )
    say("background")
    background = generate_background(world, pop, n_background)
    start = dt.datetime.combine(config.start, dt.time())
    background = background.with_columns(
        (pl.lit(start) + pl.duration(days=pl.col("_day"), seconds=pl.col("_seconds"))).alias("timestamp"),
        pl.lit(None, dtype=pl.String).alias("from_party_id"),
        pl.lit(None, dtype=pl.Int64).alias("_pk"),
    ).drop("_day", "_seconds")
    planted_frame = pl.DataFrame(
        [{**t, "_pk": i} for i, t in enumerate(planted.transactions)],
        schema={
            "from_account_id": pl.String,
            "to_account_id": pl.String,
            "from_party_id": pl.String,
            "timestamp": pl.Datetime("us"),
            "amount": pl.Float64,
            "transmode_code": pl.String,
            "from_funds_code": pl.String,
            "to_funds_code": pl.String,
            "description": pl.String,
            "kind": pl.String,
            "_pk": pl.Int64,
        },
    )
    say("ids and reports")
    tx = pl.concat([background.select(planted_frame.columns), planted_frame], how="vertical")
    tx, reports = _assign_reports(tx, world, config)
    pk_to_id = dict(tx.filter(pl.col("_pk").is_not_null()).select("_pk", "transaction_id").iter_rows())
    labels = _labels(planted.labels, pk_to_id)
    decoys = _labels(planted.decoys, pk_to_id)
    tables = {
        "parties": frame_from_rows("parties", world.parties),
        "accounts": frame_from_rows("accounts", world.accounts),
        "relations": frame_from_rows("relations", world.relations),
        "reports": frame_from_rows("reports", reports),
        "transactions": conform("transactions", tx.drop("_pk", "kind", "_rentity")),
    }
    wallets = (
        tables["accounts"]
        .filter(pl.col("label").is_not_null())
        .select(pl.col("chain"), pl.col("address"), pl.col("label"))
        .sort("chain", "address")
    )
    counts = {
        "transactions": tables["transactions"].height,
        "planted_transactions": len(planted.transactions),
        "background_transactions": n_background,
        "parties": tables["parties"].height,
        "accounts": tables["accounts"].height,
        "relations": tables["relations"].height,
        "reports": tables["reports"].height,
        "instances": {t: config.instances(t) for t in TYPOLOGIES},
        "decoy_instances": {d: config.decoys() for d in DECOYS},
    }
    institution_of = {a: i.rentity_id for a, i in world.account_institution.items()}
    return SynthResult(tables, labels, decoys, wallets, counts, institution_of)


def _labels(rows: list[dict[str, Any]], pk_to_id: dict[int, str]) -> pl.DataFrame:
    out = [
        {
            **{k: v for k, v in r.items() if k != "_tx"},
            "transaction_id": pk_to_id[r["_tx"]] if r["_tx"] is not None else None,
        }
        for r in rows
    ]
    frame = pl.DataFrame(out, schema=LABEL_SCHEMA) if out else pl.DataFrame(schema=LABEL_SCHEMA)
    return frame.select(list(LABEL_SCHEMA)).unique(maintain_order=True)


def _assign_reports(tx: pl.DataFrame, world: World, config: SynthConfig) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """Reporting entity, ids, countries, my-client flags and report membership for every transaction."""
    inst = {a: i.rentity_id for a, i in world.account_institution.items()}
    country = {a["account_id"]: a.get("country") for a in world.accounts}
    holder_country = {}
    for acct_id, holder in world.account_holder.items():
        holder_country[acct_id] = world.party_by_id[holder].get("country")
    fallback = world.vasps[0].rentity_id  # on-chain hops between unhosted wallets: reported by the tracing VASP
    inst_country = {i.rentity_id: i.country for i in (*world.banks, *world.vasps)}
    tx = tx.with_columns(
        pl.coalesce(
            pl.col("from_account_id").replace_strict(inst, default=None, return_dtype=pl.Int64),
            pl.col("to_account_id").replace_strict(inst, default=None, return_dtype=pl.Int64),
            pl.lit(fallback, dtype=pl.Int64),
        ).alias("_rentity"),
    )
    rep_country = pl.col("_rentity").replace_strict(inst_country, return_dtype=pl.String)
    tx = tx.with_columns(
        pl.coalesce(
            pl.col("from_account_id").replace_strict(country, default=None, return_dtype=pl.String), rep_country
        ).alias("from_country"),
        pl.coalesce(
            pl.col("to_account_id").replace_strict(country, default=None, return_dtype=pl.String), rep_country
        ).alias("to_country"),
        (pl.col("from_account_id").replace_strict(inst, default=None, return_dtype=pl.Int64) == pl.col("_rentity"))
        .fill_null(pl.col("from_party_id").is_not_null())
        .alias("from_my_client"),
        (pl.col("to_account_id").replace_strict(inst, default=None, return_dtype=pl.Int64) == pl.col("_rentity"))
        .fill_null(False)
        .alias("to_my_client"),
        # via the shortest decimal string of the rounded float: exact cents, no binary noise
        pl.col("amount").round(2).cast(pl.String).cast(pl.Decimal(38, 18)).alias("amount"),
        pl.col("timestamp").dt.truncate("1s").alias("timestamp"),
    ).sort(["timestamp", "from_account_id", "to_account_id", "amount"], nulls_last=True)
    tx = tx.with_columns(
        pl.int_range(1, pl.len() + 1).over("_rentity").alias("_seq"),
        pl.col("timestamp").dt.strftime("%Y%m").alias("_month"),
    )
    tx = tx.with_columns(
        pl.format("SYN{}-{}", pl.col("_rentity"), pl.col("_seq").cast(pl.String).str.zfill(8)).alias(
            "transaction_number"
        ),
    ).with_columns(
        pl.format("{}:{}", pl.col("_rentity"), pl.col("transaction_number")).alias("transaction_id"),
        pl.col("amount").alias("amount_local"),
        pl.lit("EUR").alias("currency"),
        pl.lit("EUR").alias("currency_local"),
    )
    max_size = config.max_report_size
    tx = (
        tx.with_columns(
            ((pl.int_range(0, pl.len()).over(["_rentity", "_month"])) // max_size + 1).alias("_chunk"),
        )
        .with_columns(
            pl.format("SYN-{}-{}", pl.col("_month"), pl.col("_chunk").cast(pl.String).str.zfill(3)).alias("_ref"),
        )
        .with_columns(pl.format("{}:{}", pl.col("_rentity"), pl.col("_ref")).alias("report_id"))
    )
    groups = (
        tx.group_by(["_rentity", "_ref", "report_id", "_month"])
        .agg(pl.len().alias("n"), pl.col("timestamp").max().alias("last"))
        .sort("report_id")
    )
    reports = []
    for rentity, ref, report_id, month, n, last in groups.iter_rows():
        submitted = dt.datetime.combine(last.date() + dt.timedelta(days=10), dt.time(9, 0))
        reports.append(
            {
                "report_id": report_id,
                "rentity_id": str(rentity),
                "submission_code": "E",
                "report_code": "EFT",
                "entity_reference": ref,
                "submission_date": submitted,
                "currency_code_local": "EUR",
                "jurisdiction": inst_country[rentity],
                "transaction_count": n,
                "party_count": 0,
                "reason": f"Synthetic electronic funds transfer report {month} (finintel synth, seed {config.seed}).",
                "schema_version": "4.x",
            }
        )
    return tx.drop("_seq", "_month", "_chunk", "_ref"), reports


def write(
    result: SynthResult, out: Path, fmt: str, config: SynthConfig, progress: Callable[[str], None] | None = None
) -> list[Path]:
    """Write the chosen formats plus labels; returns the files written."""
    say = progress or (lambda _msg: None)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if fmt in ("tabular", "both"):
        say("writing tabular dataset")
        written += write_dataset(result.tables, out / "tabular", "parquet")
    if fmt in ("goaml", "both"):
        say("writing goAML reports")
        written += write_goaml(result, out / "goaml", multi_party=config.goaml_multi_party, seed=config.seed)
    for name, frame in (("labels", result.labels), ("decoys", result.decoys)):
        frame.write_parquet(out / f"{name}.parquet", compression="zstd")
        frame.write_csv(out / f"{name}.csv")
        written += [out / f"{name}.parquet", out / f"{name}.csv"]
    result.wallet_labels.write_csv(out / "wallet_labels.csv")
    meta = {
        "generator": "finintel synth",
        "config": json.loads(config.model_dump_json()),
        "format": fmt,
        "counts": result.counts,
    }
    (out / "synth.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    written += [out / "wallet_labels.csv", out / "synth.json"]
    return written


def write_goaml(result: SynthResult, folder: Path, *, multi_party: float = 0.0, seed: int = 0) -> list[Path]:
    """One goAML file per report; the reports of a ``multi_party`` share of the reporting entities (drawn with
    ``seed``) give their transactions' sides as involved parties."""
    folder.mkdir(parents=True, exist_ok=True)
    t = result.tables
    parties = {r["party_id"]: r for r in t["parties"].iter_rows(named=True)}
    accounts = {r["account_id"]: r for r in t["accounts"].iter_rows(named=True)}
    writer = GoamlWriter(parties, accounts, t["relations"].iter_rows(named=True))
    institution_of = result.institution_of
    locations = {
        int(r["rentity_id"]): {
            "address": "Head office",
            "city": CITY.get(r["jurisdiction"], r["jurisdiction"]),
            "country": r["jurisdiction"],
        }
        for r in t["reports"].iter_rows(named=True)
    }
    files = []
    cols = [
        "transaction_id",
        "report_id",
        "from_account_id",
        "to_account_id",
        "from_party_id",
        "to_party_id",
        "number_x",
        "description_x",
        "timestamp_x",
        "transmode_x",
        "amount_x",
        "from_funds_x",
        "to_funds_x",
        "from_country_x",
        "to_country_x",
    ]
    by_report = prepare(t["transactions"]).select(cols).partition_by("report_id", as_dict=True, maintain_order=True)
    rentities = sorted(locations)
    multi = set(random.Random(seed).sample(rentities, round(multi_party * len(rentities))))
    for report in t["reports"].iter_rows(named=True):
        part = by_report.get((report["report_id"],))
        rows = part.iter_rows(named=True) if part is not None else iter(())
        path = folder / f"{report['report_id'].replace(':', '_')}.xml"
        rentity = int(report["rentity_id"])
        write_report_file(path, writer, report, rows, institution_of, locations[rentity], rentity in multi)
        files.append(path)
    return files
