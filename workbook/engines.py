"""Where the named queries of :mod:`workbook.queries` run.

Every aggregation over ``usage`` is written once, in DuckDB's SQL dialect, in
:mod:`workbook.queries`. An engine takes a query's name, its literal parameters and the small
pandas frames it joins against, runs it and returns a pandas DataFrame. :class:`DuckDBEngine`
runs it in the workspace's DuckDB; the Spark engine transpiles the same SQL with sqlglot.
"""
from __future__ import annotations

import itertools
import os

import pandas as pd

from . import queries
from .workspace import Workspace

_counter = itertools.count()


class DuckDBEngine:
    """Runs named queries inside the workspace's DuckDB connection (the default engine)."""

    name = "duckdb"

    def __init__(self, ws: Workspace):
        self.ws = ws
        # A cursor of its own: frames registered here never meet a result another caller left
        # unfetched on ws.con (DuckDB 2.0 refuses new work on such a connection).
        self.con = ws.con.cursor()
        settings = duckdb_settings()   # params/engine.yaml duckdb: (the env vars already won at open)
        for statement in queries.duckdb_settings(memory_limit=settings["memory_limit"] or None,
                                                 threads=settings["threads"] or None):
            self.con.execute(statement)

    def run(self, query: str, frames: dict[str, pd.DataFrame] | None = None, **params) -> pd.DataFrame:
        """Run the named query with ``params`` substituted and ``frames`` visible as tables."""
        sql = queries.render(query, **params)
        names = []
        try:
            for name, frame in (frames or {}).items():
                self.con.register(name, frame)
                names.append(name)
            return self.con.execute(sql).df()
        finally:
            for name in names:
                self.con.unregister(name)

    def close(self) -> None:
        self.con.close()


ENGINES = ("duckdb", "spark")


def default_engine_name() -> str:
    """The engine for runs that do not name one: ``WORKBOOK_ENGINE``, else params/engine.yaml
    ``engine:``, else ``duckdb``."""
    from .errors import BadInput
    from .params import load
    name = os.environ.get("WORKBOOK_ENGINE") or load("engine", required=False).get("engine") or "duckdb"
    if str(name).lower() not in ENGINES:
        raise BadInput("params/engine.yaml", "engine", f"unknown engine {name!r}: use duckdb or spark")
    return str(name).lower()


def duckdb_settings() -> dict:
    """DuckDB ``memory_limit`` (text such as ``"4GB"``) and ``threads`` (int) in force.

    ``WORKBOOK_MEMORY_LIMIT`` / ``WORKBOOK_THREADS``, else params/engine.yaml ``duckdb:``, else
    None (DuckDB's defaults: 80% of RAM, every core).
    """
    from .errors import BadInput
    from .params import section as params_section
    section = params_section("engine", "duckdb")
    memory = os.environ.get("WORKBOOK_MEMORY_LIMIT") or section.get("memory_limit")
    threads = os.environ.get("WORKBOOK_THREADS") or section.get("threads")
    try:
        threads = int(threads) if threads not in (None, "") else None
    except (TypeError, ValueError):
        threads = 0
    if threads is not None and threads < 1:
        raise BadInput("params/engine.yaml", "duckdb.threads", "must be a whole number >= 1")
    return {"memory_limit": str(memory) if memory else None, "threads": threads}


def get_engine(ws: Workspace, name: str | None = None, **settings):
    """The engine called ``name`` (``duckdb`` or ``spark``) bound to workspace ``ws``.

    ``name=None`` takes the scheduled-run default (:func:`default_engine_name`); ``settings`` go
    to :class:`workbook.spark.SparkEngine` (``master``, ``conf``, ``usage_path``, ...).
    """
    name = (name or default_engine_name()).lower()
    if name == "duckdb":
        return DuckDBEngine(ws)
    if name == "spark":
        from .spark import SparkEngine  # imported lazily: PySpark is optional
        return SparkEngine(ws, **settings)
    from .errors import BadInput
    raise BadInput("--engine", None, f"unknown engine {name!r}: use duckdb or spark")
