"""The project's own exceptions. The CLI turns each into one short message and an exit code (see ``exitcodes``)."""

from __future__ import annotations


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
