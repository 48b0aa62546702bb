"""What the inputs are: files, folders (searched recursively) and globs expanded into goAML files, tabular datasets
and stores, in a stable order. Imports nothing heavy, so that the command line can look at its inputs before it
imports polars (``workers.early_pool``)."""

from __future__ import annotations

import glob
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from finintel.errors import InputError


@dataclass(frozen=True, slots=True)
class Input:
    path: Path
    kind: str  # goaml | tabular | store


def find_table_file(folder: Path, table: str) -> Path | None:
    """A dataset folder's file of ``table`` (Parquet first, then CSV), if there is one."""
    for ext in (".parquet", ".csv"):
        f = folder / f"{table}{ext}"
        if f.is_file():
            return f
    return None


def is_dataset(folder: Path) -> bool:
    """Whether ``folder`` is a tabular dataset (it has a transactions table)."""
    return folder.is_dir() and find_table_file(folder, "transactions") is not None


def discover(paths: Iterable[str | Path], *, strict: bool = True) -> list[Input]:
    """Expand files, folders (recursively) and globs into typed inputs, in a stable order. An input that does not
    exist or a folder that cannot be listed is an :class:`InputError`, or left out when not ``strict``."""
    found: list[Input] = []
    seen: set[Path] = set()

    def add(path: Path, kind: str) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            found.append(Input(path, kind))

    def refuse(message: str, file: str) -> None:
        if strict:
            raise InputError(message, file=file)

    def walk(folder: Path) -> None:
        if (folder / "store.json").is_file():
            add(folder, "store")
            return
        if is_dataset(folder):
            add(folder, "tabular")
            return
        try:
            entries = sorted(folder.iterdir())
        except OSError as exc:
            refuse(f"cannot list folder: {exc.strerror}", str(folder))
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                walk(entry)
            elif entry.suffix.lower() == ".xml":
                add(entry, "goaml")

    for raw in paths:
        text = str(raw)
        candidates = [Path(p) for p in sorted(glob.glob(text))] if glob.has_magic(text) else [Path(text)]
        if not candidates:
            refuse("no file matches this pattern", text)
        for path in candidates:
            if path.is_dir():
                walk(path)
            elif path.is_file() or path.suffix.lower() == ".xml":
                if path.suffix.lower() in (".csv", ".parquet") and is_dataset(path.parent):
                    add(path.parent, "tabular")
                else:
                    add(path, "goaml")
            else:
                refuse("no such file or folder", text)
    return found
