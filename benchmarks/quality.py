"""Detection quality on synthetic data: per-typology recall and precision, decoy hits, scan time.

    python benchmarks/quality.py [--sizes 100000 1000000] [--seeds 1 2 3] [--cache DIR]

Generates (and caches) `finintel synth` data, scans the tabular dataset with the default rule pack, scores the
findings against the labels and rewrites the "Detection quality" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import time
from pathlib import Path

import polars as pl

from finintel.evaluate import evaluate
from finintel.scan import scan
from finintel.synth.config import load_config
from finintel.synth.generate import generate, write

ROOT = Path(__file__).resolve().parent.parent
DENSITY = {100_000: 25.0, 1_000_000: 2.0}  # planted instances per typology per 100k transactions


def dataset(cache: Path, n: int, seed: int) -> Path:
    folder = cache / f"synth-{n}-{seed}"
    if not (folder / "synth.json").exists():
        cfg = load_config(None, transactions=n, seed=seed, instances_per_100k=DENSITY.get(n, 2.0))
        write(generate(cfg), folder, "tabular", cfg)
    return folder


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, polars {pl.__version__}"
    )


def run(sizes: list[int], seeds: list[int], cache: Path) -> str:
    rows = []
    totals: dict[str, list[int]] = {}
    for n in sizes:
        for seed in seeds if n < 1_000_000 else seeds[:1]:
            folder = dataset(cache, n, seed)
            t0 = time.perf_counter()
            result = scan([folder / "tabular"], wallet_labels=[folder / "wallet_labels.csv"])
            elapsed = time.perf_counter() - t0
            ev = evaluate(
                result.findings, pl.read_parquet(folder / "labels.parquet"), pl.read_parquet(folder / "decoys.parquet")
            )
            for s in ev.scores:
                t = totals.setdefault(s.typology, [0, 0, 0, 0])
                t[0] += s.instances
                t[1] += s.matched_instances
                t[2] += s.findings
                t[3] += s.true_findings
            worst_r = min((s.recall or 0) for s in ev.scores)
            worst_p = min((s.precision if s.precision is not None else 1) for s in ev.scores)
            rows.append(
                f"| {n:,} | {seed} | {sum(s.instances for s in ev.scores)} | {len(result.findings)} | "
                f"{worst_r:.3f} | {worst_p:.3f} | {len(ev.decoy_hits)} | {elapsed:.1f} s |"
            )
    per = ["| typology | planted | found | findings | true | recall | precision |", "|---|---|---|---|---|---|---|"]
    for typ, (inst, matched, found, true) in sorted(totals.items()):
        per.append(
            f"| {typ} | {inst} | {matched} | {found} | {true} | {matched / inst:.3f} | "
            f"{(true / found) if found else 1:.3f} |"
        )
    return "\n".join(
        [
            f"Measured {dt.date.today().isoformat()} on {machine()}.",
            "",
            "Synthetic data from `finintel synth` (tabular), default rule pack, a finding matches a planted instance "
            "of its typology when they share at least half of the smaller one's transactions (`finintel evaluate`). "
            "Planted density: " + ", ".join(f"{d:g} per typology per 100k at {n:,}" for n, d in DENSITY.items()) + ".",
            "",
            "| transactions | seed | planted instances | findings | worst recall | worst precision | decoy hits "
            "| scan time |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "All runs together, per typology:",
            "",
            *per,
            "",
            "Caveat: the generator and the detectors are written by the same team; synthetic recall and precision are "
            "necessary, not sufficient. The background and decoys are there to make false positives possible "
            "(payroll runs, payment-processor fans, exchange hot wallets, holding groups); real data will be messier.",
        ]
    )


def replace_section(text: str, title: str, body: str) -> str:
    block = f"## {title}\n\n{body}\n"
    pattern = re.compile(rf"## {re.escape(title)}\n.*?(?=\n## |\Z)", re.DOTALL)
    if not pattern.search(text):
        return text.rstrip() + "\n\n" + block
    return pattern.sub(lambda _m: block, text).rstrip("\n")  # a blank line before the next section


def write_section(title: str, body: str) -> None:
    """Put ``body`` under ``## title`` in BENCHMARKS.md (replacing what was there) and print it."""
    target = ROOT / "BENCHMARKS.md"
    text = (
        target.read_text()
        if target.exists()
        else "# Benchmarks\n\nFigures are written by the scripts in `benchmarks/`.\n"
    )
    target.write_text(replace_section(text, title, body) + "\n")
    print(body)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--cache", type=Path, default=ROOT / "benchmarks" / ".cache")
    args = ap.parse_args()
    write_section("Detection quality", run(args.sizes, args.seeds, args.cache))


if __name__ == "__main__":
    main()
