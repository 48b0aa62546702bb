"""finintel: financial-intelligence transaction graph analyzer.

Library entry points (the CLI is a thin layer over these):

- :func:`finintel.validate.validate_paths` — check goAML files / tabular datasets, get a :class:`ValidationReport`;
- :func:`finintel.ingest.ingest` — read inputs, resolve entities, return a :class:`finintel.store.Store`;
- :meth:`finintel.store.Store.load` / :meth:`~finintel.store.Store.save` — the columnar Parquet store;
- :func:`finintel.graph.build_graph` — a typed networkx ``MultiDiGraph`` of a store (or a subset).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
