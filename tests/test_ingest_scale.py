"""Ingest at scale without changing the result: worker processes, and the memo of repeated subject subtrees."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import Future
from pathlib import Path

import polars as pl
import pytest
from lxml import etree

import finintel.ingest as ingest_module
from conftest import FROM_ACCOUNT, NOW, SAMPLE, report, transaction
from finintel import workers
from finintel.errors import InputError
from finintel.formats.goaml.reader import GoamlReader, PartyUnit, ReportUnit, SubtreeMemo, TransactionUnit
from finintel.ingest import ingest

SYNTH_GOAML = SAMPLE / "synth" / "goaml"


def _tables(result) -> dict[str, pl.DataFrame]:
    return result.store.tables


def test_parallel_ingest_gives_the_same_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Workers give the store one process gives; they hand every batch over through a file of a private folder of
    the spool file system (in memory), which is gone afterwards."""
    sequential = ingest([SYNTH_GOAML], now=NOW, jobs=1)
    monkeypatch.setattr(ingest_module, "PARALLEL_MIN_BYTES", 0)  # the sample is small: use workers anyway
    monkeypatch.setattr(ingest_module, "BATCH_FILES", 2)  # several batches from the few sample files
    monkeypatch.setattr(ingest_module, "SPOOL_ROOT", tmp_path)
    unspooled: list[str] = []
    real = ingest_module._unspool

    def unspool(path: str) -> ingest_module._Packed:
        unspooled.append(path)
        assert Path(path).parent.parent == tmp_path
        return real(path)

    monkeypatch.setattr(ingest_module, "_unspool", unspool)
    parallel = ingest([SYNTH_GOAML], now=NOW, jobs=2)
    files = len(list(SYNTH_GOAML.glob("*.xml")))
    assert len(unspooled) == (files + 1) // 2 >= 2
    assert list(tmp_path.iterdir()) == []
    assert parallel.counts.to_dict() == sequential.counts.to_dict()
    assert parallel.counts.reconciles()
    assert [f.status for f in parallel.files] == [f.status for f in sequential.files]
    for name, frame in _tables(sequential).items():
        assert parallel.store.tables[name].equals(frame), name
    assert sequential.store.transactions.height >= 700


def test_parallel_ingest_keeps_input_order_for_duplicates(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A refiled report is rejected in the later file whichever worker finishes first."""
    first = tmp_path / "a.xml"
    second = tmp_path / "b.xml"
    first.write_text(report(transaction("TX-1"), transaction("TX-2")), encoding="utf-8")
    second.write_text(report(transaction("TX-1"), transaction("TX-2")) + "\n", encoding="utf-8")  # other bytes
    monkeypatch.setattr(ingest_module, "PARALLEL_MIN_BYTES", 0)
    result = ingest([first, second], now=NOW, jobs=2)
    assert result.counts.to_dict()["transactions"] == {"read": 4, "stored": 2, "rejected": 2}
    assert set(result.store.tables["rejects"]["file"]) == {str(second)}


@pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="no posix_fadvise here")
def test_files_sent_to_the_workers_are_read_ahead(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every goAML file sent to a worker is first handed to the kernel's readahead (so the disk works while earlier
    batches are read); a file that cannot be opened is left to the reader, which reports it."""
    advised: list[tuple[str, int]] = []
    real = os.posix_fadvise

    def record(fd: int, offset: int, length: int, advice: int) -> None:
        advised.append((os.readlink(f"/proc/self/fd/{fd}"), advice))
        real(fd, offset, length, advice)

    monkeypatch.setattr(os, "posix_fadvise", record)
    monkeypatch.setattr(ingest_module, "PARALLEL_MIN_BYTES", 0)
    gone = tmp_path / "gone.xml"
    result = ingest([SYNTH_GOAML, gone], now=NOW, jobs=2)
    expected = sorted(str(p.resolve()) for p in SYNTH_GOAML.glob("*.xml"))
    assert sorted(path for path, advice in advised if advice == os.POSIX_FADV_WILLNEED) == expected
    assert result.counts.reconciles()
    ingest_module._prefetch([gone, tmp_path])  # nothing to open, nothing raised


class _RecordingPool:
    """Stands in for the worker pool: reads each batch in this process and records the order of events."""

    def __init__(self, events: list[tuple[str, str]]) -> None:
        self.events = events

    def submit(self, fn, run_id, batch, profile, now, spool):  # type: ignore[no-untyped-def]
        self.events.extend(("sent", str(path)) for path, _ in batch)
        future: Future = Future()
        future.set_result(fn(run_id, batch, profile, now, spool))
        return future


@pytest.mark.parametrize("window", [1, 1 << 40])
def test_readahead_runs_a_window_ahead_of_the_batches_sent(monkeypatch: pytest.MonkeyPatch, window: int) -> None:
    """The files are advised in input order, from before the first batch is sent, as far as PREFETCH_BYTES beyond
    what has been sent; every file is advised before it is sent either way."""
    events: list[tuple[str, str]] = []
    monkeypatch.setattr(ingest_module, "_prefetch", lambda paths: events.extend(("advised", str(p)) for p in paths))
    monkeypatch.setattr(ingest_module, "PREFETCH_BYTES", window)
    monkeypatch.setattr(ingest_module, "BATCH_FILES", 2)
    inputs = ingest_module.discover([SYNTH_GOAML])
    ingestor = ingest_module.Ingestor(now=NOW)
    sizes = {item.path: item.path.stat().st_size for item in inputs}
    ingest_module._ingest_batches(ingestor, inputs, sizes, None, _RecordingPool(events), 2)  # type: ignore[arg-type]
    files = [str(item.path) for item in inputs]
    assert [p for e, p in events if e == "advised"] == files
    assert [p for e, p in events if e == "sent"] == files
    for path in files:
        assert events.index(("advised", path)) < events.index(("sent", path))
    first_sent = events.index(("sent", files[0]))
    advised_first = sum(1 for e, _ in events[:first_sent] if e == "advised")
    # everything at once, or the first batch and the next file (the window's one byte beyond what is sent)
    assert advised_first == (len(files) if window > 1 else 3)
    assert ingestor.counts.reconciles()


def test_a_batch_is_handed_over_through_the_pipe_when_it_cannot_be_spooled(tmp_path: Path) -> None:
    """A worker packs its batch's reads (one frame per table), pickles them into a file of the spool folder and hands
    over the path; the reads come back from it, each with its own frames, and the file is removed. Where the file
    cannot be written, the packed batch itself is handed over."""

    def reads() -> list[ingest_module.GoamlRead]:
        return ingest_module.read_goaml_files(
            [(p, f"m{i}.") for i, p in enumerate(sorted(SYNTH_GOAML.glob("*.xml")))][:3],
            ingest_module.codes.default_profile(),
            now=NOW,
        )

    packed = ingest_module._pack(reads())
    assert set(packed.tables) == set(ingest_module._FRAMED)  # one frame per table for the whole batch
    path = ingest_module._spool(packed, tmp_path)
    assert isinstance(path, str) and Path(path).parent == tmp_path
    back = ingest_module._unpack(ingest_module._unspool(path))
    assert not Path(path).exists()
    expected = reads()
    assert [r.digest for r in back] == [r.digest for r in expected]
    for got, want in zip(back, expected, strict=True):
        for table in ingest_module._FRAMED:
            assert got.read.buf.frame(table).equals(want.read.buf.frame(table)), table
    assert ingest_module._spool(packed, tmp_path / "gone") is packed  # no such folder: through the pipe
    assert list(tmp_path.iterdir()) == []


def test_without_a_spool_file_system_batches_go_through_the_pipe(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(ingest_module, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(ingest_module, "SPOOL_ROOT", tmp_path / "no-shm")
    monkeypatch.setattr(ingest_module, "_unspool", lambda path: pytest.fail(f"spooled to {path}"))
    result = ingest([SYNTH_GOAML], now=NOW, jobs=2)
    assert result.counts.reconciles() and result.store.transactions.height >= 700


def test_a_worker_failure_reaches_the_batch_waited_for(tmp_path: Path) -> None:
    """The future a batch is waited on gives the worker's result, read back from its file, or the worker's error
    (also one reading the file back)."""
    failed: Future = Future()
    batch = ingest_module._unspooled(failed)
    failed.set_exception(OSError("worker died"))
    with pytest.raises(OSError, match="worker died"):
        batch.result()
    missing: Future = Future()
    batch = ingest_module._unspooled(missing)
    missing.set_result(str(tmp_path / "gone.pickle"))
    with pytest.raises(FileNotFoundError):
        batch.result()
    inline: Future = Future()
    inline.set_result(ingest_module._Packed([], {}, []))
    assert ingest_module._unspooled(inline).result() == []  # (a done future: settled at once)


def _environment(names: tuple[str, ...]) -> dict[str, str | None]:
    return {name: os.environ.get(name) for name in names}


def test_workers_start_with_their_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader processes get one polars thread and the allocator settings, as they start; this process's
    environment is as it was afterwards."""
    names = (*workers.WORKER_ENV, *workers.WORKER_ALLOCATOR_ENV)
    monkeypatch.setenv("POLARS_MAX_THREADS", "8")
    for name in workers.WORKER_ALLOCATOR_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("_RJEM_MALLOC_CONF", workers.POLARS_JEMALLOC_CONF)  # as `import polars` leaves it
    before = dict(os.environ)
    with workers.start_pool(1) as pool:
        seen = pool.submit(_environment, names).result()
    jemalloc = seen.pop("_RJEM_MALLOC_CONF")
    assert seen == {
        **{k: v for k, v in workers.WORKER_ALLOCATOR_ENV.items() if k != "_RJEM_MALLOC_CONF"},
        **workers.WORKER_ENV,
    }
    # the worker's polars puts its own settings first: ours come after them, so they win
    assert jemalloc.endswith("," + workers.WORKER_ALLOCATOR_ENV["_RJEM_MALLOC_CONF"])
    assert dict(os.environ) == before


@pytest.mark.parametrize(
    ("user", "kept"),
    [
        ({}, set()),
        ({"_RJEM_MALLOC_CONF": workers.POLARS_JEMALLOC_CONF}, set()),  # only what polars puts there
        ({"_RJEM_MALLOC_CONF": workers.POLARS_JEMALLOC_CONF + ",thp:always"}, {"_RJEM_MALLOC_CONF"}),
        ({"MALLOC_TOP_PAD_": "4096", "MALLOC_TRIM_THRESHOLD_": "0"}, {"MALLOC_TOP_PAD_", "MALLOC_TRIM_THRESHOLD_"}),
    ],
)
def test_the_users_allocator_settings_are_kept(user: dict[str, str], kept: set[str]) -> None:
    changes = workers.worker_environment({"POLARS_MAX_THREADS": "8", **user})
    assert changes == {
        **workers.WORKER_ENV,
        **{k: v for k, v in workers.WORKER_ALLOCATOR_ENV.items() if k not in kept},
    }


def _units(paths: list[Path], memo: SubtreeMemo | None) -> tuple[list, list]:
    units, problems = [], []
    for path in paths:
        reader = GoamlReader(path, now=NOW, memo=memo)
        units.extend(reader)
        problems.extend(reader.problems)
    return units, problems


def _mentions(units: list) -> list:
    out = []
    for unit in units:
        if isinstance(unit, (TransactionUnit, PartyUnit, ReportUnit)):
            out.extend(unit.mentions)
    return out


def test_memo_changes_nothing_but_speed(monkeypatch: pytest.MonkeyPatch) -> None:
    paths = sorted(SYNTH_GOAML.glob("*.xml"))
    plain_units, plain_problems = _units(paths, SubtreeMemo(limit=0))  # limit 0: every subtree is walked
    memo = SubtreeMemo()
    cached_units, cached_problems = _units(paths, memo)
    assert memo.hits > 1000
    assert cached_problems == plain_problems
    # the same transactions and mentions (ids included); a repeated subject's provenance may name an earlier
    # occurrence in the same report (checked to be a real element in the next test), which is what ingest keeps
    assert len(cached_units) == len(plain_units) > 700
    for mine, theirs in zip(cached_units, plain_units, strict=True):
        assert type(mine) is type(theirs)
        if isinstance(mine, TransactionUnit):
            assert mine.transaction == theirs.transaction
        mentions = [(m.entity, m.role, m.my_client, m.provenance.report_id) for m in _mentions([mine])]
        assert mentions == [(m.entity, m.role, m.my_client, m.provenance.report_id) for m in _mentions([theirs])]
    cached = ingest([SYNTH_GOAML], now=NOW, jobs=1)
    monkeypatch.setattr(ingest_module, "SubtreeMemo", lambda: SubtreeMemo(limit=0))
    plain = ingest([SYNTH_GOAML], now=NOW, jobs=1)
    for name, frame in plain.store.tables.items():
        other = cached.store.tables[name]
        if "mention_id" in frame.columns:  # numbered differently; the same rows otherwise
            frame, other = (x.drop("mention_id").sort(pl.all(), nulls_last=True) for x in (frame, other))
        assert other.equals(frame), name


def test_reused_walks_point_at_their_own_file_and_line() -> None:
    """Every mention's provenance (file, line, element path) is an element of that file at that line, also when
    the subject's walk came from the memo (the same account in an earlier file)."""
    paths = sorted(SYNTH_GOAML.glob("*.xml"))
    memo = SubtreeMemo()
    checked = 0
    for path in paths:
        tree = etree.parse(str(path))
        reader = GoamlReader(path, now=NOW, memo=memo)
        for mention in _mentions(list(reader)):
            prov = mention.provenance
            found = tree.xpath(prov.path)
            assert len(found) == 1 and found[0].sourceline == prov.line, (path.name, prov.path, prov.line)
            checked += 1
    assert memo.hits > 1000 and checked > 500


def test_repeated_subtree_with_a_problem_is_reported_every_time(write) -> None:
    bad_iban = FROM_ACCOUNT.replace("DE89370400440532013000", "DE00370400440532013000")
    path = write(
        "r.xml", report(transaction("TX-1", sides=bad_iban + _to()), transaction("TX-2", sides=bad_iban + _to()))
    )
    reader = GoamlReader(path, now=NOW, memo=SubtreeMemo())
    list(reader)
    lines = [p.line for p in reader.problems if p.code == "FI-V009"]
    assert len(lines) == 2 and lines[0] != lines[1]


def _to() -> str:
    from conftest import TO_ACCOUNT

    return TO_ACCOUNT


def test_rows_of_a_long_report_become_frames_as_they_come(monkeypatch: pytest.MonkeyPatch) -> None:
    """Transaction, mention and relation rows become frames every FLUSH_ROWS rows (also in the middle of a
    report, where repeated subjects are still recognised); the store is the same."""
    whole = ingest([SYNTH_GOAML], now=NOW, jobs=1)
    monkeypatch.setattr(ingest_module, "FLUSH_ROWS", 7)
    flushed = ingest([SYNTH_GOAML], now=NOW, jobs=1)
    for name, frame in whole.store.tables.items():
        assert flushed.store.tables[name].equals(frame), name


def test_read_files_are_held_compact_and_the_store_is_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    """Until the store is built, a read file's frames leave out columns without a value and hold file names and
    report ids as categoricals; the store has every column of its schema, with the same values as without."""
    path = sorted(SYNTH_GOAML.glob("*.xml"))[0]
    read = ingest_module.read_goaml_file(
        path, ingest_module.codes.default_profile(), mention_prefix="m1.", now=NOW, sha256="0" * 64
    )
    tx = read.buf.frames["transactions"][0]
    assert tx.height > 0
    assert "mirror_of" not in tx.columns  # never set by a reader
    assert all(tx[c].null_count() < tx.height for c in tx.columns)
    assert tx.schema["source_file"] == pl.Categorical and tx.schema["report_id"] == pl.Categorical
    assert read.buf.frame("transactions").schema == ingest_module.SCHEMAS["transactions"]
    compact = ingest([SYNTH_GOAML], now=NOW, jobs=1)
    monkeypatch.setattr(ingest_module, "_compact", lambda frame: frame)
    wide = ingest([SYNTH_GOAML], now=NOW, jobs=1)
    for name, frame in wide.store.tables.items():
        assert compact.store.tables[name].schema == frame.schema, name
        assert compact.store.tables[name].equals(frame), name


def test_replace_ids_maps_known_ids_and_keeps_the_rest() -> None:
    """Mention ids become entity ids in every column given; ids not in the mapping and nulls stay; an old id given
    twice is refused (it could map to two entities)."""
    tx = pl.DataFrame({"a": ["m1", None, "x", "m2"], "b": ["m2", "m2", None, None], "c": [None, None, None, None]})
    rel = pl.DataFrame({"t": ["m1", "y"]})
    old, new = pl.Series(["m1", "m2"]), pl.Series(["acc_1", "acc_2"])
    out_tx, out_rel = ingest_module._replace_ids([(tx, ("a", "b", "c")), (rel, ("t",))], old, new)
    assert out_tx.to_dict(as_series=False) == {
        "a": ["acc_1", None, "x", "acc_2"],
        "b": ["acc_2", "acc_2", None, None],
        "c": [None, None, None, None],
    }
    assert out_rel["t"].to_list() == ["acc_1", "y"]
    with pytest.raises(pl.exceptions.ComputeError):
        ingest_module._replace_ids([(rel, ("t",))], pl.Series(["m1", "m1"]), pl.Series(["acc_1", "acc_9"]))


def test_the_early_estimate_finds_the_goaml_files_discover_finds(tmp_path: Path) -> None:
    """workers.goaml_inputs counts what ingest.discover finds as goAML (folders searched, stores and hidden entries
    skipped, globs expanded), without importing the readers."""
    (tmp_path / "deep" / "er").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "store.json").write_text("{}")
    for name in ("a.xml", "deep/b.XML", "deep/er/c.xml", ".hidden/d.xml", "store/e.xml", ".f.xml", "g.txt"):
        (tmp_path / name).write_bytes(b"<report/>" * (len(name) + 1))
    for paths in ([tmp_path], [tmp_path / "deep", str(tmp_path / "*.xml")], [SYNTH_GOAML, tmp_path / "a.xml"]):
        goaml = [item.path for item in ingest_module.discover(paths) if item.kind == "goaml"]
        assert workers.goaml_inputs(paths) == (len(goaml), sum(p.stat().st_size for p in goaml))
    missing = [tmp_path / "missing.xml", tmp_path / "missing", str(tmp_path / "none-*.xml")]
    assert workers.goaml_inputs(missing) == (0, 0)  # what discover refuses counts nothing here
    for path in missing[1:]:
        with pytest.raises(InputError):
            ingest_module.discover([path])


def test_an_early_pool_starts_only_for_inputs_that_pay_for_it(monkeypatch: pytest.MonkeyPatch) -> None:
    assert workers.early_pool([SYNTH_GOAML], jobs=2) is None  # the sample is far below PARALLEL_MIN_BYTES
    monkeypatch.setattr(workers, "PARALLEL_MIN_BYTES", 0)
    assert workers.early_pool([SYNTH_GOAML], jobs=1) is None
    assert workers.early_pool([next(SYNTH_GOAML.glob("*.xml"))], jobs=2) is None  # one file: nothing to share
    pool = workers.early_pool([SYNTH_GOAML], jobs=2)
    assert pool is not None
    with pool:
        assert len(pool._processes) == 2  # both started at once, not when the first batches arrive


def test_the_command_line_reads_with_the_early_pool(cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`finintel ingest` starts its readers before it imports them and ingest uses those, not new ones; the store
    is the one a single process writes."""
    cli("ingest", SYNTH_GOAML, "--out", tmp_path / "one", "--jobs", "1", "-f", "json")
    monkeypatch.setattr(workers, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(ingest_module, "PARALLEL_MIN_BYTES", 0)
    started: list[int] = []
    real = workers.start_pool

    def start_pool(n: int):
        started.append(n)
        return real(n)

    monkeypatch.setattr(workers, "start_pool", start_pool)

    def no_new_pool(n: int):
        raise AssertionError("ingest started readers of its own")

    monkeypatch.setattr(ingest_module, "start_pool", no_new_pool)
    cli("ingest", SYNTH_GOAML, "--out", tmp_path / "two", "--jobs", "2", "-f", "json")
    assert started == [2]
    for name in ("transactions", "parties", "accounts", "party_mentions", "account_mentions", "relations"):
        one = pl.read_parquet(tmp_path / "one" / f"{name}.parquet")
        assert pl.read_parquet(tmp_path / "two" / f"{name}.parquet").equals(one), name


def test_the_command_line_reaches_the_early_pool_before_polars() -> None:
    """The early pool only pays if the readers start before this process's heavy imports: the command line module
    and finintel.workers import none of polars, numpy, pyarrow or the readers."""
    heavy = ("polars", "numpy", "pyarrow", "finintel.ingest")
    code = f"import sys, finintel.cli.app, finintel.workers; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
