"""The reader processes of a goAML ingest: their environment, when they pay, and starting them early.

This module imports nothing heavy (no polars, numpy or finintel.ingest), so that the command line can start the
workers before it imports the rest: a spawned worker takes about half a second to import what it reads with, and
the main process spends about as long on its own imports and set-up before it has a batch to give. Started first,
the two overlap (:func:`early_pool`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from finintel.inputs import discover

#: below this many bytes of goAML, worker processes cost more than they save (starting one takes about a second)
PARALLEL_MIN_BYTES = 32 << 20

#: the environment of the reader processes (read by each one as it starts). One polars thread: the workers already
#: keep every core busy, and polars' own threads on the small frames of one batch cost more in handing work around
#: than they gain (measured: 9%). One OpenBLAS thread: the readers do no linear algebra, and numpy's OpenBLAS
#: otherwise starts a thread per core that spins for a while (about 0.07 s of CPU a worker).
WORKER_ENV = {"POLARS_MAX_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
#: the allocators of the reader processes: they keep freed memory for the next batch instead of handing it back to
#: the kernel at once. A worker allocates and frees the same large arrays batch after batch, and every page handed
#: back is zeroed and faulted in again. Measured on 128 files of the 1M set (one worker, three rounds): 1.5M page
#: faults and 5 us of system time a transaction -> 0.6M and 2 us; peak RSS 1.27 -> 1.37 GiB. jemalloc (polars'
#: allocator) returns unused pages after 5 s instead of polars' 0.5 s; glibc (numpy, Python) keeps up to 4 GiB free
#: at the heap's top and serves blocks up to 32 MiB (the most it allows) from the heap instead of fresh mappings.
#: Other C libraries ignore the MALLOC_ variables. What the user has set is kept (see :func:`worker_environment`).
WORKER_ALLOCATOR_ENV = {
    "_RJEM_MALLOC_CONF": "dirty_decay_ms:5000,muzzy_decay_ms:5000",
    "MALLOC_MMAP_THRESHOLD_": str(32 << 20),
    "MALLOC_TRIM_THRESHOLD_": str(4 << 30),
    "MALLOC_TOP_PAD_": str(256 << 20),
}
#: what ``import polars`` puts in ``_RJEM_MALLOC_CONF`` before the user's own settings (polars/__init__.py); a
#: worker's polars puts it in front of what the worker is given
POLARS_JEMALLOC_CONF = "dirty_decay_ms:500,muzzy_decay_ms:1000"


def default_jobs() -> int:
    """Worker processes for goAML reading: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def worker_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables to set for the reader processes, given this process's ``environ``: :data:`WORKER_ENV`, and each
    of :data:`WORKER_ALLOCATOR_ENV` the user has not set. (``_RJEM_MALLOC_CONF`` is set here by polars as it is
    imported: only polars' own settings there mean the user has set nothing.)"""
    out = dict(WORKER_ENV)
    for name, value in WORKER_ALLOCATOR_ENV.items():
        current = environ.get(name)
        if current is None or (name == "_RJEM_MALLOC_CONF" and current in ("", POLARS_JEMALLOC_CONF)):
            out[name] = value
    return out


def warm() -> None:
    """A worker's first task: import what it reads with, while the main process is still getting ready."""
    import finintel.ingest  # noqa: F401


def start_pool(workers: int) -> ProcessPoolExecutor:
    """``workers`` spawned reader processes, each started at once with :func:`worker_environment` and importing what
    it reads with (:func:`warm`); this process's environment is as it was afterwards. The caller shuts it down."""
    polars = sys.modules.get("polars")
    if polars is not None:  # this process's pool exists before POLARS_MAX_THREADS changes (it is read once)
        polars.thread_pool_size()
    changes = worker_environment(os.environ)
    before = {name: os.environ.get(name) for name in changes}
    os.environ.update(changes)
    try:
        pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"))
        # a pool spawns a process when a task finds no idle one: one task each starts them all now, with the
        # environment above (a process reads it as it starts)
        for _ in range(workers):
            pool.submit(warm)
        return pool
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def goaml_inputs(paths: Iterable[str | Path]) -> tuple[int, int]:
    """How many goAML files the inputs name and their bytes (``inputs.discover``, leaving out what cannot be found or
    listed, which ingest then reports), without reading any: what :func:`early_pool` decides on."""
    count = size = 0
    for item in discover(paths, strict=False):
        if item.kind == "goaml":
            try:
                size += item.path.stat().st_size
            except OSError:
                continue
            count += 1
    return count, size


def early_pool(paths: Iterable[str | Path], jobs: int | None = None) -> ProcessPoolExecutor | None:
    """Reader processes started now, before this process imports polars and the readers, when the inputs look
    large enough for ``ingest`` to use workers (:data:`PARALLEL_MIN_BYTES` of goAML in more than one file); None
    otherwise. ``ingest`` decides again on what it discovers and uses the pool only then; the caller shuts it
    down."""
    jobs = default_jobs() if jobs is None else max(1, jobs)
    count, size = goaml_inputs(paths)
    if jobs < 2 or count < 2 or size < PARALLEL_MIN_BYTES:
        return None
    return start_pool(min(jobs, count))
