"""The project's own exceptions. The CLI turns each into one short message and an exit code (see ``exitcodes``)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any


class FinintelError(Exception):
    """Base class: anything finintel raises on purpose."""

    def __init__(
        self, message: str, *, file: str | None = None, line: int | None = None, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.field = field

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
            if self.field:
                where += f": {self.field}"
            where += ": "
        return where + self.message


class InputError(FinintelError):
    """An input (file, folder, table) is unreadable or not in a supported format."""


class ConfigError(FinintelError):
    """A profile, code list or other configuration file is invalid."""


class StoreError(FinintelError):
    """A store folder is missing, incomplete or from an incompatible version."""


def read_toml(path: Path, what: str) -> tuple[str, dict[str, Any]]:
    """Text and data of a TOML configuration file (profile, rule, generator settings), or a :class:`ConfigError`
    naming the file (and the line, for syntax errors, as tomllib reports it)."""
    try:
        text = path.read_text(encoding="utf-8")
        return text, tomllib.loads(text)
    except OSError as exc:
        raise ConfigError(f"cannot read {what}: {exc.strerror}", file=str(path)) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{what} is not UTF-8 text", file=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", file=str(path)) from None
