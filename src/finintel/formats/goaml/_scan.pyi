"""Types of the compiled goAML pass (``_scan.c``)."""

from collections.abc import Sequence
from typing import Any

from typing_extensions import Buffer

Field = tuple[bytes, int, int, int, int, int]
ChoiceSpec = tuple[Sequence[int], int, int]

def compile(
    types: Sequence[tuple[Sequence[Field], Sequence[ChoiceSpec]]], root: int, root_name: bytes, spaces: Sequence[int]
) -> Any: ...
def scan(schema: Any, data: Buffer, extents: bool = ...) -> tuple[Any, ...]: ...
