"""finintel synth: determinism, label integrity, each typology's shape (checked here, independently of any
detector), goAML output that validates and reads back to the same ids as the tabular output."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from collections import defaultdict
from pathlib import Path

import polars as pl
import pytest

from conftest import NOW, SAMPLE
from finintel.formats.tabular import read_dataset
from finintel.ingest import ingest
from finintel.synth.config import DECOYS, DEFAULT_KNOBS, TYPOLOGIES, load_config
from finintel.synth.generate import generate, write
from finintel.validate import validate_paths

N = 6000


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("synth")
    cfg = load_config(None, transactions=N, seed=11)
    write(generate(cfg), folder, "both", cfg)
    return folder


@pytest.fixture(scope="module")
def data(out: Path) -> dict[str, pl.DataFrame]:
    result = read_dataset(out / "tabular")
    assert result.problems == [] and result.rejects == []
    return {
        **result.tables,
        "labels": pl.read_parquet(out / "labels.parquet"),
        "decoys": pl.read_parquet(out / "decoys.parquet"),
    }


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_same_arguments_give_byte_identical_output(out: Path, tmp_path: Path, cli) -> None:
    cli("synth", "--out", tmp_path / "again", "-n", N, "--seed", 11)
    assert _digests(out) == _digests(tmp_path / "again")
    cli("synth", "--out", tmp_path / "other", "-n", N, "--seed", 12)
    assert _digests(out)["tabular/transactions.parquet"] != _digests(tmp_path / "other")["tabular/transactions.parquet"]


def test_sizes_and_vocabulary(data) -> None:
    assert data["transactions"].height == N
    assert set(data["labels"]["typology"]) == set(TYPOLOGIES)
    assert set(data["decoys"]["typology"]) == set(DECOYS)
    assert data["labels"]["role"].null_count() == 0


def test_every_labelled_id_exists(data) -> None:
    labels = pl.concat([data["labels"], data["decoys"]])
    for col, table, key in (
        ("transaction_id", "transactions", "transaction_id"),
        ("party_id", "parties", "party_id"),
        ("account_id", "accounts", "account_id"),
    ):
        ids = labels[col].drop_nulls()
        missing = ids.filter(~ids.is_in(data[table][key].implode()))
        assert missing.len() == 0, (col, missing.head(3).to_list())


def test_sample_data_labels_are_consistent() -> None:
    tables = read_dataset(SAMPLE / "synth" / "tabular").tables
    labels = pl.read_parquet(SAMPLE / "synth" / "labels.parquet")
    assert labels["transaction_id"].drop_nulls().is_in(tables["transactions"]["transaction_id"].implode()).all()
    assert set(labels["typology"]) == set(TYPOLOGIES)


def test_background_has_weekly_rhythm_and_heavy_tails(data) -> None:
    tx = data["transactions"].with_columns(pl.col("amount").cast(pl.Float64))
    weekday = tx.filter(pl.col("timestamp").dt.weekday() <= 5).height / 5
    weekend = tx.filter(pl.col("timestamp").dt.weekday() > 5).height / 2
    assert weekend < 0.9 * weekday
    amounts = tx["amount"]
    assert amounts.quantile(0.99) > 20 * amounts.median()  # heavy tail
    assert data["parties"].filter(pl.col("business_type") == "payment_processor").height == 2


# -- shapes ------------------------------------------------------------------------------------------------------------


def instances(data, typology: str) -> dict[str, tuple[pl.DataFrame, pl.DataFrame]]:
    """instance id -> (its labelled transactions joined with roles, its labels)."""
    labels = data["labels"].filter(pl.col("typology") == typology)
    tx = data["transactions"].with_columns(pl.col("amount").cast(pl.Float64))
    joined = labels.filter(pl.col("transaction_id").is_not_null()).join(tx, on="transaction_id")
    out = {}
    for (iid,), part in joined.partition_by("instance_id", as_dict=True).items():
        out[iid] = (part.sort("timestamp"), labels.filter(pl.col("instance_id") == iid))
    assert out, typology
    return out


def window(part: pl.DataFrame) -> dt.timedelta:
    return part["timestamp"].max() - part["timestamp"].min()


def hours(typology: str) -> dt.timedelta:
    return dt.timedelta(hours=DEFAULT_KNOBS[typology].window_hours)


def test_cycle_shape(data) -> None:
    for tx, _ in instances(data, "cycle").values():
        edges = list(zip(tx["from_account_id"], tx["to_account_id"], strict=True))
        assert 3 <= len(edges) <= 6
        for (_, dst), (src, _) in itertools.pairwise(edges):
            assert dst == src  # a path in time order...
        assert edges[-1][1] == edges[0][0]  # ...that returns to its start
        assert len({s for s, _ in edges}) == len(edges)
        assert tx["timestamp"].is_sorted() and window(tx) <= hours("cycle")
        amounts = tx["amount"].to_list()
        assert all(b >= 0.8 * a for a, b in itertools.pairwise(amounts))


@pytest.mark.parametrize(
    "typology,hub_col,fan_col",
    [("fan_out", "from_account_id", "to_account_id"), ("fan_in", "to_account_id", "from_account_id")],
)
def test_fan_shape(data, typology: str, hub_col: str, fan_col: str) -> None:
    for tx, _ in instances(data, typology).values():
        assert tx[hub_col].n_unique() == 1
        assert tx[fan_col].n_unique() >= DEFAULT_KNOBS[typology].size[0]
        assert window(tx) <= hours(typology)


def test_scatter_gather_shape(data) -> None:
    for tx, _ in instances(data, "scatter_gather").values():
        scatter = tx.filter(pl.col("role") == "scatter")
        gather = tx.filter(pl.col("role") == "gather")
        assert scatter["from_account_id"].n_unique() == 1 and gather["to_account_id"].n_unique() == 1
        mids = set(scatter["to_account_id"])
        assert mids == set(gather["from_account_id"]) and len(mids) >= 5
        first_in = dict(scatter.select("to_account_id", "timestamp").iter_rows())
        assert all(t > first_in[m] for m, t in gather.select("from_account_id", "timestamp").iter_rows())
        assert window(tx) <= hours("scatter_gather")


def test_gather_scatter_shape(data) -> None:
    for tx, _ in instances(data, "gather_scatter").values():
        gather = tx.filter(pl.col("role") == "gather")
        scatter = tx.filter(pl.col("role") == "scatter")
        assert gather["to_account_id"].n_unique() == 1
        assert scatter["from_account_id"].to_list() == [gather["to_account_id"][0]] * scatter.height
        assert gather["timestamp"].max() <= scatter["timestamp"].min()
        assert gather["from_account_id"].n_unique() >= 5 and scatter["to_account_id"].n_unique() >= 5


def test_pass_through_shape(data) -> None:
    for tx, labels in instances(data, "pass_through").values():
        through = set(labels.filter(pl.col("role") == "pass_through")["account_id"])
        assert len(through) >= 3
        rows = tx.select("from_account_id", "to_account_id", "timestamp", "amount").rows()
        for (_, mid, t_in, a_in), (src, _, t_out, a_out) in itertools.pairwise(rows):
            assert mid == src and mid in through
            assert t_out - t_in <= dt.timedelta(hours=48) and a_out >= 0.9 * a_in


def test_structuring_shape(data) -> None:
    for tx, _ in instances(data, "structuring").values():
        assert tx.height >= 3 and tx["from_account_id"].null_count() == tx.height
        assert tx["from_party_id"].n_unique() == 1 and set(tx["transmode_code"]) == {"BR"}
        assert tx["amount"].min() >= 9000 and tx["amount"].max() < 10000
        assert window(tx) <= hours("structuring")


def test_shell_chain_shape(data) -> None:
    parties = data["parties"]
    rel = data["relations"]
    for tx, labels in instances(data, "shell_chain").values():
        shells = labels.filter(pl.col("role") == "shell")
        info = parties.filter(pl.col("party_id").is_in(shells["party_id"].implode()))
        first = tx["timestamp"].min().date()
        assert (info["employee_count"] == 0).all()
        assert all((first - d).days < 365 for d in info["incorporation_date"])
        assert info["address"].n_unique() == 1  # a formation agent's address
        [nominee] = labels.filter(pl.col("role") == "nominee")["party_id"].to_list()
        assert rel.filter((pl.col("source_id") == nominee) & (pl.col("kind") == "nominee")).height > 10
        [ubo] = labels.filter(pl.col("role") == "ubo")["party_id"].to_list()
        owns = {(s, t) for s, t in rel.filter(pl.col("kind") == "owns").select("source_id", "target_id").rows()}
        chain = [ubo]  # follow ownership down from the natural person through every shell
        while True:
            nxt = [t for s, t in owns if s == chain[-1]]
            if not nxt:
                break
            chain.append(nxt[0])
        assert set(chain[1:]) == set(shells["party_id"])
        rows = tx.select("from_account_id", "to_account_id", "amount").rows()
        assert all(b == c for (_, b, _), (c, _, _) in itertools.pairwise(rows))  # one money path
        assert all(a2 >= 0.95 * a1 for (_, _, a1), (_, _, a2) in itertools.pairwise(rows))


def _kinds(data, ids: list[str]) -> list[str]:
    acc = dict(data["accounts"].select("account_id", "kind").rows())
    return [acc[i] for i in ids]


def test_va_hop_chain_shape(data) -> None:
    for tx, _ in instances(data, "va_hop_chain").values():
        roles = tx["role"].to_list()
        assert roles[0] == "fiat_in" and roles[-1] == "fiat_out" and roles.count("hop") >= 2
        assert _kinds(data, [tx["from_account_id"][0], tx["to_account_id"][0]]) == ["bank", "vasp"]
        assert _kinds(data, [tx["from_account_id"][-1], tx["to_account_id"][-1]]) == ["vasp", "bank"]
        hops = tx.filter(pl.col("role") == "hop")
        assert set(_kinds(data, hops["from_account_id"].to_list() + hops["to_account_id"].to_list())) == {"wallet"}


def test_va_mixer_shape(data) -> None:
    labels = dict(data["accounts"].select("account_id", "label").rows())
    for tx, _ in instances(data, "va_mixer").values():
        into = tx.filter(pl.col("role") == "into_mixer")
        out = tx.filter(pl.col("role") == "out_of_mixer")
        assert into.height == 1 and labels[into["to_account_id"][0]] == "mixer"
        assert set(out["from_account_id"]) == {into["to_account_id"][0]} and out.height >= 3
        assert out["timestamp"].min() > into["timestamp"][0]


def test_va_chain_hop_shape(data) -> None:
    acc = {r["account_id"]: r for r in data["accounts"].iter_rows(named=True)}
    for tx, _ in instances(data, "va_chain_hop").values():
        chains = []
        for src, dst, role in tx.select("from_account_id", "to_account_id", "role").rows():
            bridge = dst if role == "into_bridge" else src
            assert acc[bridge]["label"] == "bridge"
            chains.append(acc[bridge]["chain"])
        assert len(set(chains)) >= 2 and window(tx) <= hours("va_chain_hop")


def test_va_peel_chain_shape(data) -> None:
    for tx, _ in instances(data, "va_peel_chain").values():
        by_src: dict[str, dict[str, float]] = defaultdict(dict)
        for src, role, amount in tx.select("from_account_id", "role", "amount").rows():
            by_src[src][role] = amount
        assert len(by_src) >= 6
        for parts in by_src.values():
            assert parts["peel"] < 0.07 * (parts["peel"] + parts["remainder"])


def test_decoys_look_like_typologies_but_are_legitimate(data) -> None:
    decoys = data["decoys"]
    parties = data["parties"]
    payroll = decoys.filter((pl.col("typology") == "payroll_fan_out") & pl.col("transaction_id").is_not_null())
    assert payroll.height >= 20
    group = decoys.filter(pl.col("role") == "subsidiary")["party_id"]
    subs = parties.filter(pl.col("party_id").is_in(group.implode()))
    assert (subs["employee_count"] >= 30).all()


# -- goAML output -----------------------------------------------------------------------------------------------------


def test_goaml_output_validates(out: Path) -> None:
    report = validate_paths([out / "goaml"], now=NOW)
    assert report.valid and not any(f.problems for f in report.files)


def test_goaml_reads_back_to_the_tabular_ids(out: Path) -> None:
    from_goaml = ingest([out / "goaml"], now=NOW).store
    from_table = ingest([out / "tabular"], now=NOW).store
    cols = [
        "transaction_id",
        "from_account_id",
        "to_account_id",
        "from_party_id",
        "timestamp",
        "amount_local",
        "from_my_client",
        "to_my_client",
        "report_id",
    ]
    assert (
        from_goaml.transactions.select(cols)
        .sort("transaction_id")
        .equals(from_table.transactions.select(cols).sort("transaction_id"))
    )
    assert set(from_goaml.accounts["account_id"]) == set(from_table.accounts["account_id"])
    assert set(from_goaml.parties["party_id"]) <= set(from_table.parties["party_id"])


def test_goaml_in_the_multi_party_form_reads_back_to_the_same_store(out: Path, tmp_path: Path, cli) -> None:
    """goaml_multi_party: a share of the reporting entities writes SND/RCV parties instead of t_from/t_to; the
    files validate and ingest into the same transactions, parties, accounts and relations."""
    config = tmp_path / "multi.toml"
    config.write_text(f"transactions = {N}\nseed = 11\ngoaml_multi_party = 0.5\n")
    cli("synth", "--config", config, "--out", tmp_path / "multi", "--format", "goaml")
    files = sorted((tmp_path / "multi" / "goaml").glob("*.xml"))
    forms = [("<involved_parties>" in text, "<t_from" in text) for text in (f.read_text() for f in files)]
    assert all(multi != bi for multi, bi in forms)  # one form or the other per report
    rentities = {f.name.split("_")[0] for f, (multi, _) in zip(files, forms, strict=True) if multi}
    assert 0 < len(rentities) < len({f.name.split("_")[0] for f in files})  # per reporting entity, some of them
    assert validate_paths([tmp_path / "multi" / "goaml"], now=NOW).valid
    stores = [ingest([folder], now=NOW).store for folder in (out / "goaml", tmp_path / "multi" / "goaml")]
    tables = {"transactions": "transaction_id", "parties": "party_id", "accounts": "account_id"}
    for table, key in {**tables, "relations": "relation_id"}.items():
        bi, multi = (s.tables[table].sort(key) for s in stores)
        assert bi.drop("source_file", strict=False).equals(multi.drop("source_file", strict=False)), table


def test_reports_have_realistic_sizes(out: Path, data) -> None:
    sizes = data["transactions"].group_by("report_id").len()["len"]
    assert sizes.max() <= 2000 and len(list((out / "goaml").glob("*.xml"))) == data["reports"].height


def test_cli_rejects_bad_config(cli, tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[typologies.cycle]\nsize = [5, 2]\n")
    result = cli("synth", "--out", tmp_path / "o", "--config", cfg, code=2)
    assert "typologies/cycle" in result.stderr and "bad.toml" in result.stderr
    assert "jurisdictions" in cli("synth", "--out", tmp_path / "o", "--jurisdictions", "XX,DE", code=2).stderr


def test_knobs_change_the_instances(tmp_path: Path) -> None:
    cfg = tmp_path / "k.toml"
    cfg.write_text("[typologies.fan_out]\ncount = 5\nsize = [20, 20]\n")
    result = generate(load_config(cfg, transactions=3000, seed=1))
    fan = result.labels.filter((pl.col("typology") == "fan_out") & (pl.col("role") == "out"))
    assert fan["instance_id"].n_unique() == 5 and fan.height == 100
