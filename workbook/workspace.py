"""Open a data source in DuckDB, type it, validate it against the contract.

A :class:`Workspace` is what every computation in workbook starts from::

    ws = workbook.open_data("data/sample")
    ws.frame("accounts")          # small tables come back as typed pandas DataFrames
    ws.sql("SELECT count(*) AS n FROM usage")

The usage table is never loaded into pandas: it stays a DuckDB view over its Parquet file (or a
DuckDB table when it arrives as CSV), and aggregations over it are the named queries of
:mod:`workbook.queries`.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from . import __version__, queries
from .contract import (ADD_ON_KIND, CONTRACT_VERSION, OVERLAP_RULES, OVERLAP_WITHOUT_KIND, REQUIRED_TABLES,
                       SIGNED_RULES, TABLE_ORDER, TABLES, Table)
from .errors import BadInput, Finding
from .iofmt import atomic_write

FORMATS = {".csv": "csv", ".parquet": "parquet"}
DB_SUFFIXES = (".duckdb", ".db", ".ddb")
SMALL_FILE_HASH_BYTES = 64 * 1024 * 1024
# DuckDB's own default is 80% of RAM; a bounded limit makes it spill to disk instead, which on a
# 50-million-row usage file is both smaller (about 1.1 GB peak) and faster (docs/benchmarks.md).
DEFAULT_MEMORY_LIMIT = "1GB"
# Name prefix of the work table holding a small table's typed and raw values while it is checked
# (dropped once the typed table exists); the raw columns are named queries.RAW_PREFIX + name.
WORK_PREFIX = "work_"
# The CSV reader refuses a line longer than this many bytes (DuckDB's max_line_size); raise it
# with WORKBOOK_CSV_MAX_LINE_SIZE for files with very long values.
DEFAULT_CSV_MAX_LINE_SIZE = 2_000_000
# Validation receipts (docs/data-contract.md, "Validation receipts"): a successful validation is
# written down beside the data (or under the cache folder) and reused while its key still holds.
RECEIPT_NAME = ".workbook-receipt.json"
RECEIPT_FORMAT = 1
# A receipt is written only when every table file last changed (ctime) at least this long before
# validation began: a change within the same timestamp tick as the files' own ctime could keep
# size, mtime, ctime and inode all equal ("racy git"); a later change cannot. Fresh files are
# validated again by the next command, which then writes the receipt.
RECEIPT_SETTLE_SECONDS = 2.0


@dataclass
class SourceTable:
    """Where one table of the source lives and how big it is."""

    name: str
    path: Path | None
    format: str          # csv, parquet or duckdb
    rows: int = 0


def _text_problem(path: Path) -> str | None:
    """Why the start of ``path`` is not UTF-8 text (a rule text naming the file and place), or None.

    Only the first 64 KiB are read here; the CSV reader finds a bad byte further on (see
    :func:`_csv_problem`).
    """
    with open(path, "rb") as fh:
        chunk = fh.read(65536)
    if chunk.startswith((b"\xff\xfe", b"\xfe\xff")):
        return f"{path.name} is UTF-16 text, not UTF-8: save it as UTF-8"
    if b"\x00" in chunk:
        at = chunk.index(b"\x00")
        line = chunk[:at].count(b"\n") + 1
        return f"{path.name} is not a CSV file (it holds binary data: a NUL byte on line {line}, byte {at})"
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(chunk) - 3 and len(chunk) == 65536:
            return None   # a multi-byte character cut at the chunk's end is fine
        line = chunk[:exc.start].count(b"\n") + 1
        return (f"{path.name} is not UTF-8 (line {line}, byte {exc.start}: 0x{chunk[exc.start]:02X}): "
                "save it as UTF-8")
    return None


def _csv_problem(path: Path | None, exc: Exception) -> str | None:
    """The CSV reader's error ``exc`` as a rule text for the known cases, else None."""
    text = str(exc)
    line = re.search(r"CSV Error on Line: (\d+)", text)
    where = f" (line {line.group(1)})" if line else ""
    name = path.name if path else "the file"
    if "Invalid unicode" in text or "not utf-8" in text:
        return f"{name} is not UTF-8{where}: save it as UTF-8"
    size = re.search(r"Maximum line size of (\d+) bytes exceeded\. Actual Size:\s*(\d+)", text)
    if size:
        return (f"{name} has a line of {int(size.group(2)):,} bytes, over the CSV reader's limit of "
                f"{int(size.group(1)):,} bytes per line (max_line_size): shorten the long value, or set "
                "WORKBOOK_CSV_MAX_LINE_SIZE to a larger number of bytes")
    return None


def _csv_max_line_size() -> int:
    text = os.environ.get("WORKBOOK_CSV_MAX_LINE_SIZE")
    if not text:
        return DEFAULT_CSV_MAX_LINE_SIZE
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise BadInput("WORKBOOK_CSV_MAX_LINE_SIZE", None, f"must be a whole number of bytes >= 1 (got {text!r})")
    return value


def _header_names(st: SourceTable) -> list[str]:
    """Column names as the file states them (before DuckDB renames a repeated one to ``x_1``)."""
    if st.format == "parquet":
        import pyarrow.parquet as pq
        try:
            return list(pq.read_schema(st.path).names)
        except Exception:  # noqa: BLE001 - DuckDB read it; an odd schema only skips this check
            return []
    if st.format != "csv":
        return []
    with open(st.path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        return next(csv.reader(fh), [])


def _repeated_columns(names: list[str]) -> dict[str, int]:
    """Header names that appear more than once (blanks, BOM and letter case ignored, as DuckDB does)."""
    seen: dict[str, list[str]] = {}
    for n in names:
        clean = n.strip().lstrip("\ufeff").strip()
        seen.setdefault(clean.casefold(), []).append(clean)
    return {v[0]: len(v) for v in seen.values() if len(v) > 1}


class Workspace:
    """A validated data source opened in DuckDB.

    Parameters
    ----------
    source:
        A directory with ``<table>.csv`` / ``<table>.parquet`` files (mixed allowed), or a DuckDB
        database file holding tables with the contract's names.
    validate:
        Run every contract rule now and raise :class:`BadInput` on errors (default). With
        ``validate=False`` findings are collected in :attr:`findings` and nothing is raised
        (``workbook validate`` uses this to print them all).
    memory_limit, threads:
        DuckDB settings; default from ``WORKBOOK_MEMORY_LIMIT`` (else 1GB) / ``WORKBOOK_THREADS``
        (else all cores). DuckDB spills to a temporary directory past the limit.
    revalidate:
        Ignore a validation receipt and check every rule again (the command line's
        ``--revalidate``). Without it, a receipt whose key still matches the source's files, the
        contract and the package (:func:`receipt_key`) stands for the validation: the findings,
        row counts and usage dates come from it and usage is not read on open.
    progress:
        Called with a line of text when a receipt cannot be written (never an error).

    :attr:`receipt` is the receipt this workspace used or wrote (None: none could be written).
    """

    def __init__(self, source: str | os.PathLike, *, validate: bool = True,
                 memory_limit: str | None = None, threads: int | None = None, revalidate: bool = False,
                 progress: Callable[[str], None] | None = None):
        self.source = Path(source)
        if not self.source.exists():
            raise BadInput(str(source), None, "data source does not exist")
        memory_limit = memory_limit or os.environ.get("WORKBOOK_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT
        threads = threads or (int(os.environ["WORKBOOK_THREADS"]) if os.environ.get("WORKBOOK_THREADS") else None)
        self._settings = {"memory_limit": memory_limit or None, "threads": threads or None}
        self._connect()
        self.receipt: Path | None = None
        self.revalidated = False
        try:
            self._discover()
            started = time.time_ns()
            key = receipt_key(self.source)
            found = None if revalidate or self.findings else read_receipt(self.source, key)
            if found is None or not self._load_from_receipt(*found):
                if found is not None:          # the receipt no longer holds: start again, validating
                    self._reconnect()
                self._load()
                self.revalidated = True
                if not self.errors and _settled(key, started):
                    self.receipt = write_receipt(self.source, self._receipt(key), progress)
            if validate and self.errors:
                raise BadInput.from_findings(self.findings)
        except BaseException:
            self.close()
            raise

    def _connect(self) -> None:
        """A fresh DuckDB connection with the workspace's settings and nothing loaded."""
        self.con = duckdb.connect(config={"enable_external_access": True})
        self._tmp = tempfile.TemporaryDirectory(prefix="workbook-duckdb-")
        for statement in queries.duckdb_settings(**self._settings, temp_directory=self._tmp.name,
                                                 preserve_insertion_order=False):
            self.con.execute(statement)
        self.tables: dict[str, SourceTable] = {}
        self.findings: list[Finding] = []
        self._frames: dict[str, pd.DataFrame] = {}
        self._usage_range: tuple[pd.Timestamp | None, pd.Timestamp | None] | None = None
        self._lazy: dict[str, str] = {}   # small table -> the SELECT that stores it, while it is a view

    def _reconnect(self) -> None:
        self.close()
        self._connect()
        self._discover()

    # ------------------------------------------------------------------ public API
    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def has(self, table: str) -> bool:
        """True when the source holds ``table`` (an optional table may be absent)."""
        return table in self.tables and table in self._typed

    def absent_columns(self) -> dict[str, list[str]]:
        """Optional contract columns each present table's source lacks: ``{table: [column, ...]}``
        in contract order, only tables missing at least one (an absent table is not listed: see
        :meth:`has`). The typed table still carries such a column, as NULLs; a figure that
        depends on it alone is "not measured" (docs/data-contract.md, "Optional columns")."""
        out = {}
        for name in TABLE_ORDER:
            if name in self._raw_types and self.has(name):
                missing = [c.name for c in TABLES[name].columns if c.name not in self._raw_types[name]]
                if missing:
                    out[name] = missing
        return out

    def has_column(self, table: str, column: str) -> bool:
        """True when the source holds ``table`` and its file has ``column`` (a value in it may
        still be empty). False for an optional column absent from the file: not measured."""
        return self.has(table) and column in self._raw_types.get(table, {})

    def frame(self, table: str) -> pd.DataFrame:
        """The typed table as a pandas DataFrame (a copy). Absent optional tables come back empty.

        Dates are ``datetime64`` at midnight, integers ``Int64``, booleans ``boolean``.
        ``usage`` is refused: aggregate it with :meth:`sql` or :mod:`workbook.queries`.
        """
        if table == "usage":
            raise ValueError("usage is not loaded into pandas; use Workspace.sql or workbook.queries")
        if table not in self._frames:
            if self.has(table):
                df = self._fetch(table)
            else:
                df = pd.DataFrame({c.name: pd.Series([], dtype="object") for c in TABLES[table].columns})
            self._frames[table] = _pandas_types(df, TABLES[table])
        return self._frames[table].copy(deep=False)   # copy-on-write: callers cannot alter the cache

    def _fetch(self, table: str) -> pd.DataFrame:
        """The typed ``table`` as pandas, before :func:`_pandas_types` (same values and dtypes as
        DuckDB's ``.df()``). Through Arrow when every column is the contract's: about twice as
        fast on string columns; extra columns keep DuckDB's own conversion."""
        rel = self.con.sql(queries.select_all(table))
        if not set(rel.columns) <= {c.name for c in TABLES[table].columns}:
            return self.con.execute(queries.select_all(table)).df()
        tbl = rel.to_arrow_table()
        tbl = tbl.cast(pa.schema([f.with_type(pa.timestamp("us")) if pa.types.is_date(f.type) else f
                                  for f in tbl.schema]))
        return tbl.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}.get)

    def sql(self, query: str, params: list | dict | None = None,
            frames: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
        """Run a query in the workspace's DuckDB and return a pandas DataFrame.

        ``frames``: small pandas tables visible to this query only, by name (a cursor of its own).
        """
        self._materialize(query)
        if not frames:
            return self.con.execute(query, params).df() if params else self.con.execute(query).df()
        con = self.con.cursor()
        try:
            for name, frame in frames.items():
                con.register(name, frame)
            return con.execute(query, params).df() if params else con.execute(query).df()
        finally:
            con.close()

    def register(self, name: str, frame: pd.DataFrame) -> None:
        """Make a small pandas DataFrame visible to SQL under ``name``."""
        self.con.register(name, frame)

    @property
    def usage_date_range(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        """First and last ``usage.date`` (None, None without usage rows); counted while validating
        (or kept in the validation receipt), so asking costs no scan."""
        if self._usage_range is None:
            row = self.con.execute(queries.usage_date_range()).fetchall()[0] if self.has("usage") else (None, None)
            self._usage_range = _date_pair(row)
        return self._usage_range

    def default_as_of(self) -> pd.Timestamp:
        """SPEC section 3: the latest ``usage.date`` in the source."""
        latest = self.usage_date_range[1]
        if latest is None:
            raise BadInput("usage", "date", "has no rows, so there is no default as_of: pass --as-of")
        return latest

    def fingerprint(self) -> str:
        """A short sha256 of the source: table names, formats and file contents.

        Files up to 64 MiB are hashed whole; larger ones by size, first and last MiB (so a
        multi-gigabyte usage file does not cost a full read). DuckDB database files likewise.
        """
        if getattr(self, "_fingerprint", None):
            return self._fingerprint
        h = hashlib.sha256()
        paths = sorted({t.path for t in self.tables.values() if t.path is not None})
        for p in paths:
            size = p.stat().st_size
            h.update(f"{p.name}:{size}:".encode())
            with open(p, "rb") as fh:
                if size <= SMALL_FILE_HASH_BYTES:
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        h.update(block)
                else:
                    h.update(fh.read(1 << 20))
                    fh.seek(size - (1 << 20))
                    h.update(fh.read())
        self._fingerprint = h.hexdigest()[:16]
        return self._fingerprint

    def row_counts(self) -> dict[str, int]:
        return {name: t.rows for name, t in self.tables.items()}

    def typed_select(self, table: str, relation: str, raw_types: dict[str, str] | None = None) -> str:
        """The SELECT that types ``relation`` (raw columns) as the contract says; reused by Spark.

        ``raw_types`` (column -> DuckDB type name) describes ``relation`` when it is not the file
        this workspace read (Spark reading usage from another path); default: the source's types.
        """
        return queries.typed_select(TABLES[table], relation, raw_types or self._raw_types[table])

    def close(self) -> None:
        self.con.close()
        self._tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        sizes = ", ".join(f"{n}={t.rows:,}" for n, t in self.tables.items())
        return f"<Workspace {self.source} [{sizes}]>"

    # ------------------------------------------------------------------ validation receipts
    def _receipt(self, key: dict) -> dict:
        """What a later open needs to stand for this validation: ``key``, row counts, findings
        (warnings: a receipt is only written without errors) and usage's first and last date."""
        first, last = self._usage_range or (None, None)
        return {"key": key, "rows": {n: t.rows for n, t in self.tables.items()},
                "findings": [{"severity": f.severity, "table": f.table, "column": f.column, "rule": f.rule,
                              "count": f.count, "examples": list(f.examples)} for f in self.findings],
                "usage_dates": [None if d is None else f"{d:%Y-%m-%d}" for d in (first, last)]}

    def _load_from_receipt(self, path: Path, receipt: dict) -> bool:
        """Create every typed relation without checking a rule, and take the findings, row counts
        and usage dates from ``receipt``. False when the source does not open as the receipt says
        (then the connection holds half a load: the caller starts again)."""
        try:
            if set(receipt["rows"]) != set(self.tables):
                return False
            self._load(check=False)
            if self.findings or set(self._typed) != set(self.tables):
                return False
            for name, rows in receipt["rows"].items():
                self.tables[name].rows = int(rows)
            self.findings = [Finding(f["severity"], f["table"], f["column"], f["rule"], int(f["count"]),
                                     tuple(f["examples"])) for f in receipt["findings"]]
            self._usage_range = _date_pair(receipt["usage_dates"])
        except (duckdb.Error, KeyError, TypeError, ValueError):
            return False
        self.receipt = path
        return True

    # ------------------------------------------------------------------ loading
    def _add(self, severity: str, table: str, column: str | None, rule: str, count: int = 0,
             examples: tuple[str, ...] = ()) -> None:
        self.findings.append(Finding(severity, table, column, rule, int(count), tuple(examples)))

    def _discover(self) -> None:
        if self.source.is_file():
            if self.source.suffix.lower() not in DB_SUFFIXES:
                raise BadInput(str(self.source), None,
                               "is a file, not a data directory or a DuckDB database (.duckdb)")
            try:
                self.con.execute(queries.attach_read_only(str(self.source)))
            except duckdb.Error as exc:
                raise BadInput(str(self.source), None, f"is not a readable DuckDB database ({_short(exc)})")
            kinds = dict(self.con.execute(queries.catalog_tables()).fetchall())
            # Only stored tables are read. A view runs SQL written by whoever made the file, and
            # SQL can read local files (read_text, read_csv); it is refused, and the connection
            # gets no file access beyond the database itself.
            for statement in queries.duckdb_settings(enable_external_access=False):
                self.con.execute(statement)
            for name in TABLE_ORDER:
                if kinds.get(name) == "BASE TABLE":
                    self.tables[name] = SourceTable(name, None, "duckdb")
                elif name in kinds:
                    self._add("error", name, None, f"is a view in {self.source.name}: views are not read, "
                              f"only stored tables (store it with {queries.STORE_AS_TABLE})")
            for name in REQUIRED_TABLES:
                if name not in self.tables and name not in kinds:
                    self._add("error", name, None, f"required table is missing from {self.source.name}")
            self._db_path = self.source
            return
        if not self.source.is_dir():
            raise BadInput(str(self.source), None, "data source is neither a directory nor a DuckDB file")
        files = {p.name: p for p in self.source.iterdir() if p.is_file()}
        for name in TABLE_ORDER:
            found = [files[name + ext] for ext in FORMATS if name + ext in files]
            if len(found) > 1:
                self._add("error", name, None, f"is given twice ({', '.join(p.name for p in found)}): keep one")
                continue
            if found:
                self.tables[name] = SourceTable(name, found[0], FORMATS[found[0].suffix])
        for name in REQUIRED_TABLES:
            if name not in self.tables and not any(f.table == name for f in self.findings):
                others = sorted(n for n in files if n.split(".")[0] == name)
                hint = f" (found {', '.join(others)}, which is not .csv or .parquet)" if others else ""
                self._add("error", name, None, f"required table is missing: expected {name}.csv or {name}.parquet{hint}")

    def _raw_relation(self, st: SourceTable) -> str | None:
        """Create ``raw_<table>`` and return its name, or record why the file cannot be read."""
        raw = f"raw_{st.name}"
        try:
            if st.format == "duckdb":
                self.con.execute(queries.create("VIEW", raw, queries.attached_table(st.name)))
            elif st.format == "parquet":
                self.con.execute(queries.create("VIEW", raw, queries.read_parquet(str(st.path))))
                self.con.execute(queries.select_all(raw, limit=0))
            else:
                problem = _text_problem(st.path)
                if problem:
                    self._add("error", st.name, None, problem)
                    return None
                # usage is read several times (checks, typed copy): parse it once into a table; a
                # small table is parsed once by its typing pass, so a view is enough
                what = "TABLE" if st.name == "usage" else "VIEW"
                self.con.execute(queries.create(what, raw, queries.read_csv_text(str(st.path), _csv_max_line_size())))
                if what == "VIEW":
                    self.con.execute(queries.select_all(raw, limit=0))
        except duckdb.Error as exc:
            self._unreadable(st, exc)
            return None
        return raw

    def _unreadable(self, st: SourceTable, exc: Exception) -> None:
        problem = _csv_problem(st.path, exc) if st.format == "csv" else None
        if problem:
            self._add("error", st.name, None, problem)
            return
        kind = "Parquet" if st.format == "parquet" else st.format.upper() if st.format == "csv" else "DuckDB"
        self._add("error", st.name, None, f"{(st.path.name if st.path else st.name)} is not a readable "
                  f"{kind} table ({_short(exc)})")

    def _load(self, *, check: bool = True) -> None:
        """Read, type and (``check``) validate every table found; ``check=False`` only types them
        (a validation receipt stands for the checks)."""
        self._typed: set[str] = set()
        self._fk_counts: dict[str, int] = {}   # rows with an unknown account, counted while validating
        self._raw_types: dict[str, dict[str, str]] = {}
        for name, st in self.tables.items():
            table = TABLES[name]
            raw = self._raw_relation(st)
            if raw is None:
                continue
            repeated = _repeated_columns(_header_names(st))
            for col, n in repeated.items():
                self._add("error", name, col, f"appears {n} times in the header of {st.path.name}: each column "
                          "must appear once (rename or remove the extra one)")
            if repeated:
                continue
            cols = self.con.execute(queries.describe(raw)).fetchall()
            raw_types = {c[0].strip().lstrip("\ufeff"): c[1] for c in cols}
            renames = {c[0]: c[0].strip().lstrip("\ufeff") for c in cols if c[0] != c[0].strip().lstrip("\ufeff")}
            if renames:   # a stray BOM or blank around a header name
                keep = {**renames, **{c[0]: c[0] for c in cols if c[0] not in renames}}
                self.con.execute(queries.create("VIEW", f"raw2_{name}", queries.select_columns(raw, keep), replace=True))
                raw = f"raw2_{name}"
            missing = [c for c in table.required_columns if c not in raw_types]
            if missing and st.format == "csv" and name != "usage":
                try:   # a small CSV is a view, not yet parsed in full: an unreadable file says so first
                    self.con.execute(queries.count_rows(raw)).fetchone()
                except duckdb.Error as exc:
                    self._unreadable(st, exc)
                    continue
            for col in missing:
                self._add("error", name, col, "required column is missing")
            if missing:
                continue
            self._raw_types[name] = raw_types
            if check:
                self._validate_and_type(table, raw, raw_types, st)
            else:
                self._create_typed(name, st, queries.typed_select(table, raw, raw_types), lazy=True)
                self._typed.add(name)
        if check and "accounts" in self._typed:
            self._check_foreign_keys()
            self._check_contract_coverage()

    def _validate_and_type(self, table: Table, raw: str, raw_types: dict[str, str], st: SourceTable) -> None:
        """Check every rule of ``table`` on ``raw`` (findings), then create the typed relation.

        Small tables are typed once: a work table holds each typed column beside its raw value,
        the checks read it, and the typed table is a plain copy of its typed columns. Usage is
        checked over a typing subquery (no copy of hundreds of millions of rows), in one pass
        that also counts the rows whose account is not in ``accounts``.
        """
        name = table.name
        exprs = queries.typed_columns(table, raw_types)
        big = name == "usage"
        if big:
            source = queries.subquery(queries.typed_select(table, raw, raw_types, raw=True, extra=False))
        else:
            work = WORK_PREFIX + name
            try:   # a CSV is parsed here, in full, for the first time
                self.con.execute(queries.create("TABLE", work, queries.typed_select(table, raw, raw_types, raw=True)))
            except duckdb.Error as exc:
                self._unreadable(st, exc)
                return
            source = queries.aliased(work)
        # 1. one aggregate pass: row count, type errors, missing values, row rules, and for usage
        #    the foreign key, distinct key hashes and the date range
        key_hashes = self._run_checks(table, st, queries.contract_checks(table, raw_types), source,
                                      fk=big and "accounts" in self._typed and "account_id" in exprs)
        # 2. uniqueness (usage: only when some key hash repeats)
        if table.unique and (key_hashes is None or key_hashes < st.rows):
            self._check_unique(table, exprs if big else {c: queries.ident(c) for c in exprs}, raw if big else work)
        # 3. build the typed relation
        if big:
            self._create_typed(name, st, queries.typed_select(table, raw, raw_types))
        else:
            known = [c.name for c in table.columns]   # absent optional ones are typed NULLs in work
            self._create_typed(name, st, queries.select_columns(
                work, [*known, *(c for c in raw_types if c not in known)]))
            self.con.execute(queries.drop_table(work))
        self._typed.add(name)

    def _run_checks(self, table: Table, st: SourceTable, checks: list[queries.Check], source: str, *,
                    fk: bool) -> int | None:
        """Count the rows of ``source`` breaking each of ``checks`` in one pass (with ``fk``, also
        those whose account is not in ``accounts``) and record a finding per broken check.

        For usage the same pass counts the distinct hashes of its key (returned; None for other
        tables) and its first and last date, so validation reads usage once."""
        extra = queries.usage_extras(table.unique) if table.name == "usage" else []
        counts = self.con.execute(queries.check_counts(checks, source, accounts="accounts" if fk else None,
                                                       extra=extra)).fetchall()[0]
        key_hashes = None
        if extra:
            key_hashes, *dates = counts[-3:]
            self._usage_range = _date_pair(dates)
            counts = counts[:-3]
        st.rows = int(counts[0])
        if fk:
            self._fk_counts[table.name] = int(counts[-1])
        key = queries.example_key(table)
        for check, n in zip(checks, counts[1:]):
            if n:
                ex = [str(r[0]) for r in self.con.execute(queries.examples(key, source, check.predicate)).fetchall()]
                self._add(check.severity, table.name, check.column, check.text, n, tuple(ex))
        return None if key_hashes is None else int(key_hashes)

    def _create_typed(self, name: str, st: SourceTable, typed_sql: str, *, lazy: bool = False) -> None:
        """The typed relation ``name`` from ``typed_sql``: a view over a Parquet or DuckDB usage,
        else a table; milestones keep the earliest row of each (account, milestone) and a repeated
        pair is a warning.

        ``lazy`` (a validation receipt holds the findings): a small table stays a view until a
        query names it (:meth:`_materialize`); :meth:`frame` reads the view once, so a table the
        command never uses is never parsed."""
        if lazy and name != "usage":
            if name == "milestones":
                self.con.execute(queries.create("VIEW", "all_milestones", typed_sql))
                typed_sql = queries.earliest_milestones("all_milestones")
            self.con.execute(queries.create("VIEW", name, typed_sql))
            self._lazy[name] = typed_sql
        elif name == "usage" and st.format in ("parquet", "duckdb"):
            self.con.execute(queries.create("VIEW", name, typed_sql))
        elif name == "milestones":
            self.con.execute(queries.create("TABLE", "all_milestones", typed_sql))
            dup = self.con.execute(queries.milestone_repeats("all_milestones")).fetchall()
            if dup:
                extra_rows = sum(r[2] - 1 for r in dup)
                self._add("warning", name, "milestone",
                          "repeats for the same account: the earliest reached_at counts, later ones are ignored",
                          extra_rows, tuple(f"{r[0]} {r[1]}" for r in dup[:3]))
            self.con.execute(queries.create("TABLE", "milestones", queries.earliest_milestones("all_milestones")))
        else:
            self.con.execute(queries.create("TABLE", name, typed_sql))

    def _materialize(self, query: str) -> None:
        """Store each small table still a view (:meth:`_create_typed` ``lazy``) that ``query``
        names, so repeated queries read it parsed and typed once."""
        for name in [n for n in self._lazy if re.search(rf"\b{re.escape(n)}\b", query)]:
            self.con.execute(queries.drop_view(name))
            self.con.execute(queries.create("TABLE", name, self._lazy.pop(name)))

    def _check_unique(self, table: Table, exprs: dict[str, str], raw: str) -> None:
        """Record a finding for repeated values of ``table.unique``; ``exprs`` types ``raw``'s columns."""
        cols = {c: exprs[c] for c in table.unique}
        if table.name == "usage":
            # the rule pass counted distinct key hashes (bounded memory on hundreds of millions of
            # rows); this confirming scan runs only when some hash repeats (on valid data: never)
            sql = queries.duplicates(cols, raw, hashed=True)
        else:
            sql = queries.duplicates(cols, raw)
        dups = sorted(self.con.execute(sql).fetchall(), key=lambda d: tuple(str(v) for v in d[:-1]))
        dups = [d for d in dups if all(v is not None for v in d[:-1])]
        if dups:
            self._add("error", table.name, table.unique[0] if len(cols) == 1 else None,
                      f"duplicate {', '.join(cols)}: each must appear once", sum(d[-1] for d in dups),
                      tuple(_example_text(d[:-1]) for d in dups[:3]))

    def _check_foreign_keys(self) -> None:
        for name in TABLE_ORDER:                      # contract order: stable messages
            if name not in self._typed:
                continue
            table = TABLES[name]
            if name == "accounts" or "account_id" not in {c.name for c in table.columns}:
                continue
            source = queries.aliased(name)
            n = self._fk_counts[name] if name in self._fk_counts else \
                self.con.execute(queries.unknown_accounts(source)).fetchall()[0][0]
            if n:
                ex = [r[0] for r in self.con.execute(queries.unknown_accounts(source, n_examples=3)).fetchall()]
                self._add("error", name, "account_id", "refers to an account that is not in accounts", n, tuple(ex))
        for name, (column, text) in SIGNED_RULES.items():
            if name not in self._typed:
                continue
            relation = "all_milestones" if name == "milestones" else name
            n = self.con.execute(queries.before_signature(relation, column)).fetchall()[0][0]
            if n:
                key = queries.example_key(TABLES[name])
                ex = [str(r[0]) for r in self.con.execute(queries.before_signature(relation, column, key=key)).fetchall()]
                self._add("error", name, column, text, n, tuple(ex))
        for name, (column, text) in OVERLAP_RULES.items():
            if name not in self._typed:
                continue
            n = self.con.execute(queries.overlapping(name, ADD_ON_KIND)).fetchall()[0][0]
            if n:
                key = queries.example_key(TABLES[name])
                ex = [str(r[0]) for r in self.con.execute(queries.overlapping(name, ADD_ON_KIND, key=key)).fetchall()]
                if self.has_column(name, "kind"):
                    self._add("error", name, column, text, n, tuple(ex))
                else:   # no kind to tell an add-on by: the rule cannot be broken (contract.py)
                    self._add("warning", name, column, OVERLAP_WITHOUT_KIND, n, tuple(ex))

    def _check_contract_coverage(self) -> None:
        """A warning when a present ``contracts`` table leaves live accounts (``churned_at``
        empty) without any contract: SPEC section 2 takes ARR from the active contracts, so their
        ARR counts as 0 (an empty contracts file: every live account's)."""
        if "contracts" not in self._typed:
            return
        n = self.con.execute(queries.accounts_without("contracts")).fetchall()[0][0]
        if not n:
            return
        ex = [str(r[0]) for r in self.con.execute(queries.accounts_without("contracts", n_examples=3)).fetchall()]
        why = "with a contracts table present, ARR comes from the active contracts"
        if self.tables["contracts"].rows == 0:
            rule = (f"has no rows, so none of the {n} live accounts (churned_at empty) has a contract: {why}, so "
                    "every live account's ARR counts as 0 (leave the file out to take ARR from accounts.arr)")
        else:
            rule = (f"{n} live account{'s' if n != 1 else ''} (churned_at empty) "
                    f"{'have' if n != 1 else 'has'} no contract at all: {why}, so their ARR counts as 0")
        self._add("warning", "contracts", "account_id", rule, n, tuple(ex))


def _example_text(values) -> str:
    """A repeated key as a finding shows it: values joined by blanks, timestamps as dates."""
    return " ".join(str(v.date() if hasattr(v, 'date') and not isinstance(v, str) else v) for v in values)


def _pandas_types(df: pd.DataFrame, table: Table) -> pd.DataFrame:
    for c in table.columns:
        if c.name not in df.columns:
            df[c.name] = pd.Series([pd.NA] * len(df), dtype="object")
        if c.kind == "date":
            df[c.name] = pd.to_datetime(df[c.name]).astype("datetime64[ns]")
        elif c.kind == "int":
            df[c.name] = pd.array(df[c.name], dtype="Int64")
        elif c.kind == "float":
            df[c.name] = pd.to_numeric(df[c.name]).astype("float64")
        elif c.kind == "bool":
            df[c.name] = pd.array(df[c.name], dtype="boolean")
        else:
            df[c.name] = df[c.name].astype("string")
    return df


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


def _date_pair(values) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    first, last = values
    return (pd.Timestamp(first) if first else None, pd.Timestamp(last) if last else None)


# ---------------------------------------------------------------------------- validation receipts
def cache_dir() -> Path:
    """Where receipts go when the data's own folder cannot take one: ``$WORKBOOK_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/workbook``, else ``~/.cache/workbook``."""
    if os.environ.get("WORKBOOK_CACHE_DIR"):
        return Path(os.environ["WORKBOOK_CACHE_DIR"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "workbook"
    return Path.home() / ".cache" / "workbook"


def receipt_paths(source: str | os.PathLike) -> list[Path]:
    """Where the receipt of ``source`` may live, in the order they are tried: beside the data
    (``<folder>/.workbook-receipt.json``; for a DuckDB file ``.<file name>.workbook-receipt.json``
    in its folder), then the cache folder, named by a hash of the source's absolute path."""
    src = Path(source).resolve()
    beside = src / RECEIPT_NAME if src.is_dir() else src.parent / f".{src.name}{RECEIPT_NAME}"
    cached = cache_dir() / "receipts" / f"{hashlib.sha256(str(src).encode()).hexdigest()[:32]}.json"
    return [beside, cached]


def receipt_key(source: str | os.PathLike) -> dict:
    """What identifies a validation: the receipt format, the source's absolute path, the contract
    (:data:`workbook.contract.CONTRACT_VERSION`), workbook's and DuckDB's versions, and for every
    file that can hold a table (a DuckDB file: it and its ``.wal``) the name, size, ``mtime_ns``,
    ``ctime_ns`` and inode, as git's index does. Changing, touching, replacing, adding or removing
    a table file changes the key."""
    src = Path(source).resolve()
    if src.is_dir():
        paths = [p for p in src.iterdir() if p.name.split(".")[0] in TABLES and p.is_file()]
    else:
        paths = [p for p in (src, src.with_name(src.name + ".wal")) if p.is_file()]
    files = {}
    for p in sorted(paths):
        st = p.stat()
        files[p.name] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns,
                         "inode": st.st_ino}
    return {"format": RECEIPT_FORMAT, "source": str(src), "contract": CONTRACT_VERSION, "workbook": __version__,
            "duckdb": duckdb.__version__, "files": files}


def _settled(key: dict, started_ns: int) -> bool:
    """True when no table file of ``key`` changed within :data:`RECEIPT_SETTLE_SECONDS` before
    ``started_ns`` (so any later change gives it a new ctime)."""
    limit = started_ns - int(RECEIPT_SETTLE_SECONDS * 1e9)
    return all(stat["ctime_ns"] < limit for stat in key["files"].values())


def read_receipt(source: str | os.PathLike, key: dict) -> tuple[Path, dict] | None:
    """The first readable receipt of ``source`` whose key equals ``key`` (and its path), else None.
    A missing, unreadable, corrupt or outdated receipt is passed over, never an error."""
    for path in receipt_paths(source):
        try:
            receipt = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(receipt, dict) and receipt.get("key") == key:
            return path, receipt
    return None


def write_receipt(source: str | os.PathLike, receipt: dict,
                  progress: Callable[[str], None] | None = None) -> Path | None:
    """Write ``receipt`` atomically to the first of :func:`receipt_paths` that takes it and return
    that path; when none does, say so through ``progress`` and return None (never an error)."""
    text = json.dumps(receipt, indent=1, sort_keys=True, default=str)
    problems = []
    for path in receipt_paths(source):
        try:
            atomic_write(path, text)
            return path
        except OSError as exc:
            problems.append(f"{path}: {exc.strerror or type(exc).__name__}")
    if progress is not None:
        progress(f"validation receipt not written ({'; '.join(problems)}): the next command validates "
                 f"{source} again")
    return None


def open_data(source: str | os.PathLike, **kwargs) -> Workspace:
    """Open and validate a data source; raises :class:`BadInput` on any contract error.

    A validation receipt written by an earlier open of the same, unchanged files stands for the
    checks (``revalidate=True`` checks again); see :class:`Workspace`."""
    return Workspace(source, **kwargs)


def summarise(ws: Workspace) -> str:
    """A short text summary of a source: table sizes, usage date range, accounts by segment."""
    lines = ["tables:"]
    for name, t in ws.tables.items():
        lines.append(f"  {name:<13} {t.rows:>12,} rows  ({t.format})")
    absent = [n for n in TABLE_ORDER if n not in ws.tables]
    if absent:
        lines.append(f"  absent (optional): {', '.join(absent)}")
    columns = ws.absent_columns()
    if columns:
        lines.append("optional columns absent from the source (how each is read: docs/data-contract.md):")
        for name, cols in columns.items():
            lines.append(f"  {name:<13} {', '.join(cols)}")
    first, last = ws.usage_date_range
    if first is not None:
        lines.append(f"usage dates: {first:%Y-%m-%d} .. {last:%Y-%m-%d}")
    acc = ws.frame("accounts")
    if len(acc):
        lines.append(f"accounts signed: {acc['signed_at'].min():%Y-%m-%d} .. {acc['signed_at'].max():%Y-%m-%d}")
        seg = acc.groupby("segment", observed=True).agg(accounts=("account_id", "size"), arr=("arr", "sum"),
                                                        churned=("churned_at", "count"))
        lines.append("accounts by segment:")
        for s, r in seg.iterrows():
            lines.append(f"  {s:<13} {r['accounts']:>6,} accounts  ARR {r['arr']:>14,.0f}  churned {r['churned']:>5,}")
    return "\n".join(lines)
