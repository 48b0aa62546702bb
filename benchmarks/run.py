"""Speed and memory: whole processes, as users run them, at several sizes.

    python benchmarks/run.py [--sizes 100000 1000000] [--repeat 3] [--with-10m] [--gfp] [--networkx]

For each size: `finintel synth` data (cached in benchmarks/.cache), then timed as separate processes (median of
--repeat runs, peak RSS from the kernel's accounting of that process): `finintel ingest` of the goAML files
(transactions per second) and of the tabular dataset, and `finintel scan` of the resulting store with the full
default rule pack, writing JSON findings. finintel's modules are compiled to bytecode first, as a pip-installed
package's are: a checkout run with ``PYTHONDONTWRITEBYTECODE`` set (as on the benchmark machine) would otherwise
compile every module again in every process, the ingest's worker processes included (about 0.1 s each here).
Optional baselines: IBM snapml's GraphFeaturePreprocessor (fan,
scatter-gather, temporal cycle and length-bounded cycle, 2 threads) on the same edges, and a naive networkx
script at 100k. Writes the "Speed and memory" section of BENCHMARKS.md and benchmarks/scaling.svg.
"""

from __future__ import annotations

import argparse
import compileall
import itertools
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.quality import ROOT, machine, write_section

CACHE = ROOT / "benchmarks" / ".cache"


def synth(n: int, seed: int = 1, fmt: str = "both", multi_party: float = 0.0) -> Path:
    """The dataset of ``n`` transactions (cached); with ``multi_party``, that share of the reporting entities writes
    its goAML reports in the multi-party form (``goaml_multi_party``)."""
    folder = CACHE / (f"speed-{n}-{seed}" + (f"-multi{multi_party:g}" if multi_party else ""))
    if not (folder / "synth.json").exists():
        config = []
        if multi_party:
            CACHE.mkdir(parents=True, exist_ok=True)
            toml = CACHE / f"{folder.name}.toml"
            toml.write_text(f"goaml_multi_party = {multi_party}\n")
            config = ["--config", str(toml)]
        subprocess.run(
            [
                sys.executable,
                "-m",
                "finintel",
                "synth",
                "--out",
                str(folder),
                "-n",
                str(n),
                "--seed",
                str(seed),
                "--format",
                fmt,
                *config,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return folder


#: Runs a command and prints its wall seconds, peak RSS (KiB) and exit code. A child's ru_maxrss on Linux also
#: counts the memory of the process that forked it (the old image's high-water mark is kept across exec), so the
#: command is started from this small interpreter rather than from the benchmark process, which holds datasets.
_PEAK = """
import os, sys, time
null = os.open(os.devnull, os.O_WRONLY)
start = time.perf_counter()
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ, file_actions=[
    (os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, null, 2)])
_, status, usage = os.wait4(pid, 0)
print(time.perf_counter() - start, usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def measure(cmd: list[str], repeat: int) -> tuple[float, float]:
    """Median wall seconds and max peak RSS (MiB) over ``repeat`` runs of a whole process."""
    times, peaks = [], []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", _PEAK, *cmd], capture_output=True, text=True, check=True)
        wall, peak, code = out.stdout.split()
        times.append(float(wall))
        peaks.append(int(peak) / 1024)
        if int(code) not in (0, 1):
            raise RuntimeError(f"{' '.join(cmd)} failed with exit code {code}")
    return statistics.median(times), max(peaks)


def bytecode() -> None:
    """Compile finintel's modules to bytecode (``__pycache__``), which every process then loads instead of compiling
    the sources (``compileall`` writes it even with ``PYTHONDONTWRITEBYTECODE`` set)."""
    import finintel

    if not compileall.compile_dir(Path(finintel.__file__).parent, quiet=1):
        raise RuntimeError("finintel's modules did not compile")


def finintel(*args: str) -> list[str]:
    return [sys.executable, "-m", "finintel", *args]


def big_report(goaml: Path, files: int) -> tuple[Path, int]:
    """One report of the first ``files`` reports of the set's first reporting entity, end to end (their
    transactions under the last one's header; cached): a bank's bulk report, over ``fast.MAX_INGEST_BYTES``."""
    src = sorted(goaml.glob(f"{sorted(goaml.glob('*.xml'))[0].name.split('_')[0]}_*.xml"))[:files]
    out = goaml.parent / f"big-{len(src)}.xml"
    if not out.exists():
        last = src[-1].read_text(encoding="utf-8")
        with out.with_suffix(".tmp").open("w", encoding="utf-8") as fh:
            fh.write(last[: last.index("<transaction>")])
            for f in src:
                text = f.read_text(encoding="utf-8")
                fh.write(
                    text[text.index("<transaction>") : text.rindex("</transaction>") + len("</transaction>")] + "\n"
                )
            fh.write("</report>\n")
        out.with_suffix(".tmp").rename(out)
    with out.open("rb") as fh:
        count = sum(chunk.count(b"<transaction>") for chunk in iter(lambda: fh.read(1 << 24), b""))
    return out, count


def big_reports(goaml: Path, repeat: int) -> str:
    """Single big reports (read in chunks) at two sizes, and the smaller one walked, as whole processes."""
    lines = []
    walk = (
        "import sys; from pathlib import Path; from finintel import codes; from finintel.ingest import "
        "read_goaml_file; read_goaml_file(Path(sys.argv[1]), codes.default_profile(), mention_prefix='m', "
        "now=None, sha256='0' * 64, fast_path=False)"
    )
    for files in (15, 1000):
        path, n = big_report(goaml, files)
        size = path.stat().st_size / 1e6
        t, m = measure(finintel("ingest", str(path), "--out", str(path.with_suffix(".store")), "-f", "json"), repeat)
        lines.append(f"{size:,.0f} MB ({n:,} transactions): {t:.1f} s ({n / t:,.0f} tx/s), {m:,.0f} MiB")
        if files == 15:
            t_walk, m_walk = measure([sys.executable, "-c", walk, str(path)], 1)
            lines[-1] += f" (the walk alone, before this was built: {t_walk:.1f} s, {m_walk:,.0f} MiB)"
    return (
        "One big goAML report (a reporting entity's monthly reports as one, over the 32 MiB at which a file is "
        "read in chunks: `formats/goaml/bigread.py`), `finintel ingest` of that file alone: " + "; ".join(lines) + "."
    )


#: the GFP baseline's random edges: id, source, target, time (seconds in a year), amount; seed 1
_RANDOM_EDGES = """
import numpy as np
rng = np.random.default_rng(1)
nodes = max(1000, n // 10)
arr = np.column_stack([np.arange(n), rng.integers(0, nodes, n), rng.integers(0, nodes, n),
                       np.sort(rng.integers(0, 365 * 86400, n)), rng.lognormal(5, 1, n)]).astype(np.float64)
"""


def random_edges_dataset(n: int) -> Path:
    """The GFP baseline's n random edges as a tabular dataset (transactions only: accounts A<number>, EUR amounts,
    times from 2025-01-01), for finintel to ingest and scan the same edges (cached)."""
    import numpy as np
    import polars as pl

    folder = CACHE / f"random-{n}" / "tabular"
    if not (folder / "transactions.parquet").exists():
        scope: dict[str, object] = {"n": n}
        exec(_RANDOM_EDGES, scope)
        arr = scope["arr"]
        assert isinstance(arr, np.ndarray)
        account = pl.Series(arr[:, 1:3].astype(np.int64).ravel()).cast(pl.String)
        folder.mkdir(parents=True, exist_ok=True)
        pl.DataFrame(
            {
                "transaction_id": pl.Series(arr[:, 0].astype(np.int64)).cast(pl.String),
                "timestamp": np.datetime64("2025-01-01T00:00:00", "us") + arr[:, 3].astype("timedelta64[s]"),
                "amount": pl.Series(np.round(arr[:, 4], 2)).cast(pl.Decimal(38, 2)),
                "currency": pl.repeat("EUR", n, eager=True),
                "from_account_id": ("A" + account[0::2]),
                "to_account_id": ("A" + account[1::2]),
            }
        ).write_parquet(folder / "transactions.parquet")
    return folder


def gfp_baseline(n: int) -> tuple[float, float] | None:
    """snapml GFP on n random edges (the issue's reference point), as its own process."""
    code = (
        f"n = {n}\n"
        + _RANDOM_EDGES
        + """
from snapml import GraphFeaturePreprocessor
g = GraphFeaturePreprocessor()
g.set_params({"num_threads": 2, "vertex_stats": False, "fan": True, "degree": False, "scatter-gather": True,
              "temp-cycle": True, "lc-cycle": True, "lc-cycle_len": 6, "fan_tw": 86400,
              "scatter-gather_tw": 5 * 86400, "temp-cycle_tw": 7 * 86400, "lc-cycle_tw": 7 * 86400,
              "time_window": 7 * 86400})
g.fit_transform(arr)
"""
    )
    try:
        import snapml  # noqa: F401
    except ImportError:
        return None
    return measure([sys.executable, "-c", code], 1)


def networkx_baseline(folder: Path, timeout: int = 600) -> float | None:
    """What an analyst writes by hand: all simple cycles up to length 6 in a DiGraph, then a time filter."""
    code = f"""
import networkx as nx, polars as pl
tx = pl.read_parquet("{folder}/tabular/transactions.parquet")
g = nx.DiGraph()
for s, d in tx.select("from_account_id", "to_account_id").drop_nulls().iter_rows():
    g.add_edge(s, d)
n = sum(1 for _ in nx.simple_cycles(g, length_bound=6))
"""
    t0 = time.perf_counter()
    try:
        subprocess.run([sys.executable, "-c", code], check=True, timeout=timeout, stdout=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None
    return time.perf_counter() - t0


def svg_plot(points: list[tuple[int, float, float]]) -> str:
    """A small log-log plot of scan and ingest time against size (no plotting library needed)."""
    import math

    w, h, pad = 520, 320, 50
    xs = [math.log10(p[0]) for p in points]
    ys = [math.log10(max(v, 0.01)) for p in points for v in p[1:]]
    x0, x1, y0, y1 = min(xs), max(xs) + 1e-9, min(ys), max(ys) + 1e-9

    def px(x: float, y: float) -> tuple[float, float]:
        return pad + (x - x0) / (x1 - x0) * (w - 2 * pad), h - pad - (y - y0) / (y1 - y0) * (h - 2 * pad)

    lines = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" font-family="sans-serif" '
        'font-size="11"><rect width="100%" height="100%" fill="white"/>',
        f'<text x="{w / 2}" y="16" text-anchor="middle">seconds vs transactions (log-log)</text>',
    ]
    for idx, (name, color) in enumerate((("scan store", "#0969da"), ("ingest tabular", "#bc4c00"))):
        pts = [px(math.log10(p[0]), math.log10(max(p[idx + 1], 0.01))) for p in points]
        lines.append(
            '<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>'.format(
                color, " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            )
        )
        lines.append(f'<text x="{w - pad}" y="{40 + 14 * idx}" fill="{color}" text-anchor="end">{name}</text>')
        for (x, y), p in zip(pts, points, strict=True):
            lines.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"/>'
                f'<text x="{x:.1f}" y="{y - 6:.1f}" text-anchor="middle">{p[idx + 1]:.1f}s</text>'
            )
    for p in points:
        x, _ = px(math.log10(p[0]), y0)
        lines.append(f'<text x="{x:.1f}" y="{h - pad + 16}" text-anchor="middle">{p[0]:,}</text>')
    lines.append("</svg>")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--with-10m", action="store_true", help="also 10M (about 15 minutes and 20 GB of goAML)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--gfp", action="store_true", help="snapml baseline (pip install -e '.[bench]')")
    ap.add_argument("--networkx", action="store_true", help="naive networkx baseline at the smallest size")
    ap.add_argument("--goaml-max", type=int, default=100_000, help="time goAML ingest up to this size only")
    args = ap.parse_args()
    bytecode()
    sizes = [*args.sizes, *([10_000_000] if args.with_10m else [])]
    rows, points = [], []
    goaml_times: dict[int, float] = {}
    for n in sizes:
        folder = synth(n, fmt="tabular" if n >= 10_000_000 else "both")
        store = CACHE / f"speed-{n}-store"
        labels = folder / "wallet_labels.csv"
        if (folder / "goaml").exists() and n <= args.goaml_max:
            t_goaml, m_goaml = measure(
                finintel("ingest", str(folder / "goaml"), "--out", str(store) + "-g", "-f", "json"),
                max(1, args.repeat if n <= 1_000_000 else 1),  # median of several: whole runs vary a lot here
            )
        else:
            t_goaml, m_goaml = float("nan"), float("nan")
        # the 10M tabular ingest once (about half a minute), every scan a median: the 1M -> 10M growth is a target,
        # and a single 10M scan on this shared VM ranged from 22 to 58 s the same day (a cold page cache, neighbours)
        repeat = 1 if n >= 10_000_000 else args.repeat
        t_tab, m_tab = measure(finintel("ingest", str(folder / "tabular"), "--out", str(store), "-f", "json"), repeat)
        t_scan, m_scan = measure(
            finintel(
                "scan",
                str(store),
                "--wallet-labels",
                str(labels),
                "-f",
                "json",
                "-o",
                str(CACHE / f"findings-{n}.json"),
            ),
            args.repeat,
        )
        goaml = f"{t_goaml:.1f} s ({n / t_goaml:,.0f} tx/s), {m_goaml:,.0f} MiB" if t_goaml == t_goaml else "-"
        rows.append(f"| {n:,} | {goaml} | {t_tab:.1f} s, {m_tab:,.0f} MiB | {t_scan:.1f} s, {m_scan:,.0f} MiB |")
        points.append((n, t_scan, t_tab))
        goaml_times[n] = t_goaml if t_goaml == t_goaml else 0.0
        print(rows[-1], flush=True)
    forms = ""
    n_forms = sizes[0]
    if n_forms <= args.goaml_max and goaml_times.get(n_forms):
        multi = synth(n_forms, fmt="goaml", multi_party=1.0)
        t_multi, m_multi = measure(
            finintel("ingest", str(multi / "goaml"), "--out", str(CACHE / f"speed-{n_forms}-store-m"), "-f", "json"),
            args.repeat,
        )
        t_bi = goaml_times[n_forms]
        forms = (
            f"goAML ingest of the {n_forms:,} set in the multi-party form (every report's sides as SND/RCV parties "
            f"in `involved_parties`, `synth` option `goaml_multi_party = 1`): {t_multi:.1f} s "
            f"({n_forms / t_multi:,.0f} tx/s), {m_multi:,.0f} MiB, against {t_bi:.1f} s in the bi-party form above."
        )
        print(forms, flush=True)
    big = ""
    largest = max((n for n in sizes if n <= args.goaml_max and goaml_times.get(n)), default=0)
    if largest:
        big = big_reports(synth(largest) / "goaml", args.repeat)
        print(big, flush=True)
    growth = ""
    if len(points) >= 2:
        growth = " ".join(
            f"Scan time grows {b[1] / a[1]:.1f}x from {a[0]:,} to {b[0]:,} transactions ({b[0] / a[0]:.0f}x the data)."
            for a, b in itertools.pairwise(points)
        )
    extra = []
    if args.gfp:
        gfp = gfp_baseline(1_000_000)
        # finintel on the same edges: a tabular dataset of them ingested, then the full rule pack scanned
        edges = random_edges_dataset(1_000_000)
        store = edges.parent / "store"
        t_in, m_in = measure(finintel("ingest", str(edges), "--out", str(store), "-f", "json"), args.repeat)
        t_sc, m_sc = measure(
            finintel("scan", str(store), "-f", "json", "-o", str(edges.parent / "findings.json")), args.repeat
        )
        extra.append(
            "snapml GraphFeaturePreprocessor, 1M random edges, fan + scatter-gather + temporal cycle + "
            "length-bounded cycle, 2 threads: "
            + (f"{gfp[0]:.1f} s, {gfp[1]:,.0f} MiB peak." if gfp else "not installed.")
            + f" finintel on the same edges (a tabular dataset of them, `random_edges_dataset`): ingest {t_in:.1f} s "
            f"({m_in:,.0f} MiB), scan with the full default rule pack {t_sc:.1f} s ({m_sc:,.0f} MiB), together "
            f"{t_in + t_sc:.1f} s (medians of {args.repeat})."
        )
    if args.networkx:
        t = networkx_baseline(synth(sizes[0]))
        extra.append(
            f"Naive networkx (simple cycles up to length 6 on the {sizes[0]:,}-transaction graph, no time "
            "or amount constraints yet): " + (f"{t:.1f} s." if t else "did not finish in 600 s.")
        )
    (ROOT / "benchmarks" / "scaling.svg").write_text(svg_plot(points))
    body = "\n".join(
        [
            f"Measured {time.strftime('%Y-%m-%d')} on {machine()}. Whole processes (`python -m finintel ...`; "
            "finintel's modules compiled to bytecode first, as installed), "
            f"median of {args.repeat} runs (the 10M tabular ingest: 1), peak RSS of each process. "
            f"Data: `finintel synth` (default settings); goAML ingest timed up to {args.goaml_max:,} transactions. "
            "Scan: full default rule pack over an ingested store, JSON findings written.",
            "",
            "| transactions | ingest goAML | ingest tabular | scan store |",
            "|---|---|---|---|",
            *rows,
            "",
            growth,
            *(["", forms] if forms else []),
            *(["", big] if big else []),
            *(["", *extra] if extra else []),
            "",
            "![time vs size](benchmarks/scaling.svg)",
        ]
    )
    write_section("Speed and memory", body)


if __name__ == "__main__":
    main()
