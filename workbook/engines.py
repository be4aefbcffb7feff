"""Where the named queries of :mod:`workbook.queries` run.

Every aggregation over ``usage`` is written once, in DuckDB's SQL dialect, in
:mod:`workbook.queries`. An engine takes a query's name, its literal parameters and the small
pandas frames it joins against, runs it and returns a pandas DataFrame. :class:`DuckDBEngine`
runs it in the workspace's DuckDB; the Spark engine transpiles the same SQL with sqlglot.
"""
from __future__ import annotations

import itertools

import pandas as pd

from . import queries
from .workspace import Workspace

_counter = itertools.count()


class DuckDBEngine:
    """Runs named queries inside the workspace's DuckDB connection (the default engine)."""

    name = "duckdb"

    def __init__(self, ws: Workspace):
        self.ws = ws

    def run(self, query: str, frames: dict[str, pd.DataFrame] | None = None, **params) -> pd.DataFrame:
        """Run the named query with ``params`` substituted and ``frames`` visible as tables."""
        sql = queries.render(query, **params)
        names = []
        try:
            for name, frame in (frames or {}).items():
                self.ws.con.register(name, frame)
                names.append(name)
            return self.ws.con.execute(sql).df()
        finally:
            for name in names:
                self.ws.con.unregister(name)

    def close(self) -> None:
        pass


def get_engine(ws: Workspace, name: str | None = "duckdb", **settings):
    """The engine called ``name`` (``duckdb`` or ``spark``) bound to workspace ``ws``."""
    name = (name or "duckdb").lower()
    if name == "duckdb":
        return DuckDBEngine(ws)
    if name == "spark":
        from .spark import SparkEngine  # imported lazily: PySpark is optional
        return SparkEngine(ws, **settings)
    from .errors import BadInput
    raise BadInput("--engine", None, f"unknown engine {name!r}: use duckdb or spark")
