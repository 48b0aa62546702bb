"""Types of the compiled goAML pass (``_scan.c``)."""

from collections.abc import Sequence
from typing import Any

from typing_extensions import Buffer

Field = tuple[bytes, int, int, int, int, int, int]
ChoiceSpec = tuple[Sequence[int], int, int]

def compile(
    types: Sequence[tuple[Sequence[Field], Sequence[ChoiceSpec]]], root: int, root_name: bytes, spaces: Sequence[int]
) -> Any: ...
def scan(schema: Any, data: Buffer, extents: int = ..., collapse: bool = ...) -> tuple[Any, ...]: ...
def first_same(canons: tuple[bytes, ...], which: Buffer, key: Buffer, start: Buffer, end: Buffer) -> bytes: ...
def group_values(v_owner: Buffer, n: int) -> tuple[bytes, bytes]: ...
def first_values(start: Buffer, order: Buffer, field: Buffer, elements: Buffer, gids: Buffer, null: int) -> bytes: ...
