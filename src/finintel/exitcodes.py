"""Exit codes: a documented contract shared by every command (like linters)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  #: clean: no findings / all reports valid / nothing rejected
    FINDINGS = 1  #: findings or invalid reports at or above the threshold, or records rejected
    USAGE = 2  #: usage error, unreadable or hostile input, fatal error
