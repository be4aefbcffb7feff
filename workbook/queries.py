"""Every named SQL query over the ``usage`` table, in one place.

The usage table can hold hundreds of millions of rows, so the aggregations over it are written
as SQL (DuckDB's dialect) that the engine runs, returning only per-account results. The same
text runs on Spark after transpilation (:mod:`workbook.spark`), so each query is defined exactly
once. Keep the SQL portable: plain joins and GROUP BY, CASE instead of FILTER, no DuckDB-only
functions.

Parameters in ``{braces}`` are literals filled by :func:`render` (dates become ``DATE 'YYYY-MM-DD'``);
frames named in a query (``cal``, ``win``) are small pandas tables the caller passes to the engine.

Below the named usage queries are the *query builders*: functions returning the SQL text of every
other statement the package runs (reading and typing a source, the contract's checks, the KPI
reads, the event-log build, DuckDB settings). Identifiers go through :func:`ident` and literals
through :func:`literal`, the one quoting pair; values a statement takes at run time are ``?``
parameters. The contract's checks are generated once from :mod:`workbook.contract`
(:func:`contract_checks`) and run on DuckDB by the workspace and on Spark (transpiled) by
:mod:`workbook.spark`.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from .contract import DATE_MAX, DATE_MIN, INT_MAX, INT_MIN, KIND_WORDS, OPEN_END_FROM, SQL_TYPES, Table

# Per-day activity measures shared by the window queries. A day "counts as use" when actions > 0.
_WINDOW_MEASURES = """
       count(DISTINCT CASE WHEN u.actions > 0 THEN u.module END)            AS modules_used,
       sum(u.actions)                                                        AS actions,
       sum(CASE WHEN u.actions > 0 THEN u.active_users ELSE 0 END)           AS user_days,
       count(DISTINCT CASE WHEN u.actions > 0 THEN u.date END)               AS active_days,
       max(CASE WHEN u.actions > 0 THEN u.active_users ELSE 0 END)           AS peak_users"""

QUERIES: dict[str, str] = {
    # Usage statistics of every account for each window in ``cal(window_end, day)``: one row per
    # (account, window_end) that had any usage row in the window. ``cal`` lists, for each window
    # end, every calendar day the window covers; overlapping windows are fine.
    #
    # Same measures as _WINDOW_MEASURES, computed so that the fan-out (each usage row joined to
    # every window covering its day) carries as little as possible: day totals are summed per
    # (account, day) BEFORE the join, so active days are a plain sum (no DISTINCT over the
    # fanned-out rows); only distinct modules need the row grain, and only rows with actions > 0.
    "window_stats_all": """
WITH u AS (
  SELECT account_id, date, module, active_users, actions FROM usage
  WHERE date >= {start} AND date <= {end}
), c AS (
  SELECT CAST(window_end AS DATE) AS window_end, CAST(day AS DATE) AS day FROM cal
), daily AS (
  SELECT account_id, date,
         sum(actions)                                               AS actions,
         sum(CASE WHEN actions > 0 THEN active_users ELSE 0 END)    AS user_days,
         max(CASE WHEN actions > 0 THEN 1 ELSE 0 END)               AS active,
         max(CASE WHEN actions > 0 THEN active_users ELSE 0 END)    AS peak_users
  FROM u GROUP BY account_id, date
), per_window AS (
  SELECT d.account_id AS account_id, c.window_end AS window_end,
         sum(d.actions) AS actions, sum(d.user_days) AS user_days,
         CAST(sum(d.active) AS BIGINT) AS active_days, max(d.peak_users) AS peak_users
  FROM daily d JOIN c ON d.date = c.day
  GROUP BY d.account_id, c.window_end
), modules AS (
  SELECT u.account_id AS account_id, c.window_end AS window_end, count(DISTINCT u.module) AS modules_used
  FROM u JOIN c ON u.date = c.day
  WHERE u.actions > 0
  GROUP BY u.account_id, c.window_end
)
SELECT p.account_id AS account_id, p.window_end AS window_end,
       coalesce(m.modules_used, 0) AS modules_used, p.actions AS actions, p.user_days AS user_days,
       p.active_days AS active_days, p.peak_users AS peak_users
FROM per_window p
LEFT JOIN modules m ON p.account_id = m.account_id AND p.window_end = m.window_end
""",
    # The same measures for per-account windows ``win(account_id, window_end, day)``.
    "window_stats_per_account": f"""
SELECT u.account_id AS account_id, w.window_end AS window_end,{_WINDOW_MEASURES}
FROM usage u
JOIN (SELECT CAST(account_id AS VARCHAR) AS account_id, CAST(window_end AS DATE) AS window_end,
             CAST(day AS DATE) AS day FROM win) w
  ON u.account_id = w.account_id AND u.date = w.day
WHERE u.date >= {{start}} AND u.date <= {{end}}
GROUP BY u.account_id, w.window_end
""",
    # Both kinds of windows in ONE pass over usage (the KPI report: every account on as_of for
    # the adoption signals, plus each cohort account's own window): ``cal(window_end, day)`` for
    # every account and ``win(account_id, window_end, day)`` per account. ``per_account`` says
    # which set a row belongs to. Only rows with actions > 0 enter (each measure counts use only,
    # and sum(actions) is unchanged), so an account whose rows all have 0 actions is absent: the
    # caller fills zeros. The filtered rows are read once (DuckDB materialises ``u``, used twice).
    "window_stats_mixed": """
WITH u AS (
  SELECT account_id, date, module, active_users, actions FROM usage
  WHERE date >= {start} AND date <= {end} AND actions > 0
), c AS (
  SELECT CAST(window_end AS DATE) AS window_end, CAST(day AS DATE) AS day FROM cal
), w AS (
  SELECT CAST(account_id AS VARCHAR) AS account_id, CAST(window_end AS DATE) AS window_end,
         CAST(day AS DATE) AS day FROM win
), j AS (
  SELECT u.account_id AS account_id, c.window_end AS window_end, 0 AS per_account, u.date AS date,
         u.module AS module, u.active_users AS active_users, u.actions AS actions
  FROM u JOIN c ON u.date = c.day
  UNION ALL
  SELECT u.account_id AS account_id, w.window_end AS window_end, 1 AS per_account, u.date AS date,
         u.module AS module, u.active_users AS active_users, u.actions AS actions
  FROM u JOIN w ON u.account_id = w.account_id AND u.date = w.day
)
SELECT account_id, window_end, per_account,
       count(DISTINCT module) AS modules_used, sum(actions) AS actions,
       sum(active_users) AS user_days, count(DISTINCT date) AS active_days,
       max(active_users) AS peak_users
FROM j
GROUP BY account_id, window_end, per_account
""",
    # Modules each account used (actions > 0) in [start, end], with the actions and the last day
    # of use: the expansion signal "using modules it is not entitled to" (workbook.expansion).
    "modules_used_in_window": """
SELECT account_id, module, sum(actions) AS actions, max(date) AS last_used
FROM usage
WHERE date >= {start} AND date <= {end} AND actions > 0
GROUP BY account_id, module
""",
    # Recency-weighted usage for the health score's adoption (workbook.adoption.decayed_usage).
    # ``cal(window_end, day, weight)`` lists, for each window end, every day of the depth window
    # with the weight of a usage row on that day; ``dcal(window_end, day, day_weight)`` the days
    # of the (longer) frequency window with the weight of an active day. Only rows with
    # actions > 0 count as use.
    # Two kinds of rows come back: per (account, window_end, module) the weighted actions and
    # user-days (``w_active_days`` NULL), and per (account, window_end) with ``module`` NULL the
    # weighted sum of the days with any use (``w_actions``, ``w_user_days`` NULL).
    # The weights are summed as exact fixed-point integers (weight x 2^40, DECIMAL(38, 0)): a
    # floating-point sum depends on the order the engine's threads add its terms in, and the
    # same data must give the same score, to the last digit, on every run.
    "usage_decay": """
WITH u AS (
  SELECT account_id, date, module, active_users, actions FROM usage
  WHERE date >= {start} AND date <= {end} AND actions > 0
), c AS (
  SELECT CAST(window_end AS DATE) AS window_end, CAST(day AS DATE) AS day,
         CAST(round(CAST(weight AS DOUBLE) * 1099511627776) AS DECIMAL(38, 0)) AS weight
  FROM cal
), dc AS (
  SELECT CAST(window_end AS DATE) AS window_end, CAST(day AS DATE) AS day,
         CAST(round(CAST(day_weight AS DOUBLE) * 1099511627776) AS DECIMAL(38, 0)) AS day_weight FROM dcal
), m AS (
  SELECT u.account_id AS account_id, c.window_end AS window_end, u.module AS module,
         CAST(sum(c.weight * u.actions) AS DOUBLE) / 1099511627776 AS w_actions,
         CAST(sum(c.weight * u.active_users) AS DOUBLE) / 1099511627776 AS w_user_days
  FROM u JOIN c ON u.date = c.day
  GROUP BY u.account_id, c.window_end, u.module
), d AS (
  SELECT account_id, date FROM u GROUP BY account_id, date
), a AS (
  SELECT d.account_id AS account_id, dc.window_end AS window_end,
         CAST(sum(dc.day_weight) AS DOUBLE) / 1099511627776 AS w_active_days
  FROM d JOIN dc ON d.date = dc.day
  GROUP BY d.account_id, dc.window_end
)
SELECT account_id, window_end, module, w_actions, w_user_days, CAST(NULL AS DOUBLE) AS w_active_days FROM m
UNION ALL
SELECT account_id, window_end, CAST(NULL AS VARCHAR) AS module, CAST(NULL AS DOUBLE) AS w_actions,
       CAST(NULL AS DOUBLE) AS w_user_days, w_active_days FROM a
""",
    # Latest usage date and row count (for default as_of and summaries).
    "usage_extent": """
SELECT min(date) AS first_date, max(date) AS last_date, count(*) AS n_rows FROM usage
""",
}


def literal(value) -> str:
    """A SQL literal for a query parameter: dates, numbers and (quoted) strings only."""
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        return f"DATE '{value.strftime('%Y-%m-%d')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"cannot use {type(value).__name__} as a query parameter")


def render(name: str, **params) -> str:
    """The SQL text of query ``name`` with its parameters filled in."""
    return QUERIES[name].format(**{k: literal(v) for k, v in params.items()})


# ============================================================================ query builders
def ident(name: str) -> str:
    """``name`` as a quoted SQL identifier (DuckDB dialect; sqlglot writes it for Spark).

    Any text is safe: a double quote inside is doubled, so a hostile column name stays one name.
    """
    return '"' + str(name).replace('"', '""') + '"'


def _names(names: Iterable[str]) -> str:
    return ", ".join(ident(n) for n in names)


def aliased(relation: str, alias: str = "t") -> str:
    """A FROM item: the relation ``relation`` under ``alias``."""
    return f"{ident(relation)} AS {alias}"


def subquery(sql: str, alias: str = "t") -> str:
    """A FROM item: the query ``sql`` under ``alias``."""
    return f"({sql}) AS {alias}"


# ---------------------------------------------------------------------------- DuckDB settings
def duckdb_settings(**settings) -> list[str]:
    """``SET`` statements for DuckDB settings given as keywords (``None`` skipped).

    ``threads`` is a whole number, booleans are ``true``/``false``, anything else a quoted text
    (``memory_limit="4GB"``, ``temp_directory=...``). Setting names must be plain words.
    """
    out = []
    for key, value in settings.items():
        if value is None:
            continue
        if not key.isidentifier():
            raise ValueError(f"not a DuckDB setting name: {key!r}")
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif key == "threads":
            text = str(int(value))
        else:
            text = literal(str(value))
        out.append(f"SET {key} = {text}")
    return out


# ---------------------------------------------------------------------------- reading a source
# How a user stores a view's rows as a table (named in the message refusing a view).
STORE_AS_TABLE = "CREATE TABLE ... AS"


def attach_read_only(path: str, alias: str = "src") -> str:
    """Attach the DuckDB database file ``path`` read-only as ``alias``."""
    return f"ATTACH {literal(str(path))} AS {ident(alias)} (READ_ONLY)"


def catalog_tables(catalog: str = "src") -> str:
    """(table_name, table_type) of the ``main`` schema of an attached database."""
    return ("SELECT table_name, table_type FROM information_schema.tables "
            f"WHERE table_catalog = {literal(catalog)} AND table_schema = 'main'")


def read_parquet(path: str) -> str:
    """Every column of the Parquet file ``path``."""
    return f"SELECT * FROM read_parquet({literal(str(path))})"


def read_csv_text(path: str, max_line_size: int | None = None, *, strict_quotes: bool = True) -> str:
    """Every column of the CSV file ``path`` as text (header row; ``"`` quotes and escapes)."""
    opts = "header = true, all_varchar = true"
    if strict_quotes:
        opts += ", delim = ',', quote = '\"', escape = '\"'"
    if max_line_size is not None:
        opts += f", max_line_size = {int(max_line_size)}"
    return f"SELECT * FROM read_csv({literal(str(path))}, {opts})"


def attached_table(table: str, catalog: str = "src") -> str:
    """Every column of ``table`` in the attached database ``catalog``."""
    return f"SELECT * FROM {ident(catalog)}.main.{ident(table)}"


def create(kind: str, name: str, select: str, *, replace: bool = False, temp: bool = False) -> str:
    """``CREATE [OR REPLACE] [TEMP] TABLE|VIEW name AS select``."""
    if kind not in ("TABLE", "VIEW"):
        raise ValueError(kind)
    return f"CREATE {'OR REPLACE ' if replace else ''}{'TEMP ' if temp else ''}{kind} {ident(name)} AS {select}"


def drop_table(name: str) -> str:
    return f"DROP TABLE {ident(name)}"


def drop_view(name: str) -> str:
    return f"DROP VIEW {ident(name)}"


def select_all(relation: str, *, limit: int | None = None) -> str:
    """Every row (or the first ``limit``) of ``relation``; ``limit=0`` only checks it is readable."""
    return f"SELECT * FROM {ident(relation)}" + ("" if limit is None else f" LIMIT {int(limit)}")


def count_rows(relation: str) -> str:
    return f"SELECT count(*) FROM {ident(relation)}"


def describe(relation: str | None = None, *, query: str | None = None) -> str:
    """(column_name, column_type, ...) of ``relation``, or of the result of ``query`` (bound, not run)."""
    return f"DESCRIBE {query if query is not None else ident(relation)}"


def select_columns(relation: str, columns: Mapping[str, str] | Iterable[str]) -> str:
    """``columns`` of ``relation``; a mapping renames (source name -> new name)."""
    if isinstance(columns, Mapping):
        parts = [f"{ident(a)} AS {ident(b)}" if a != b else ident(a) for a, b in columns.items()]
    else:
        parts = [ident(c) for c in columns]
    return f"SELECT {', '.join(parts)} FROM {ident(relation)}"


def cast_columns(relation: str, columns: list[tuple[str, str, str]]) -> str:
    """``CAST(source AS type) AS name`` for each (source, DuckDB type, name) of ``relation``."""
    parts = [f"CAST({ident(src)} AS {sql_type}) AS {ident(name)}" for src, sql_type, name in columns]
    return f"SELECT {', '.join(parts)} FROM {ident(relation)}"


def usage_date_range() -> str:
    """First and last ``usage.date``."""
    return "SELECT min(date), max(date) FROM usage"


# ---------------------------------------------------------------------------- typing a table
# Column prefix of the raw values beside the typed ones while a table is checked.
RAW_PREFIX = "__raw__"
NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                 "UINTEGER", "UBIGINT", "UHUGEINT")
FLOAT_TYPES = ("FLOAT", "DOUBLE", "REAL")
WIDE_INT_TYPES = ("HUGEINT", "UBIGINT", "UHUGEINT")   # may hold values beyond BIGINT


def int_like(col: str, raw_type: str) -> str:
    """SQL: ``col`` (raw) holds a whole number, whatever its size (a typing NULL is then overflow)."""
    raw_type = raw_type.upper()
    if raw_type in NUMERIC_TYPES:
        return f"{col} IS NOT NULL"
    if raw_type in FLOAT_TYPES or raw_type.startswith("DECIMAL"):
        return f"coalesce(isfinite(CAST({col} AS DOUBLE)) AND {col} = floor({col}), false)"
    return f"coalesce(regexp_full_match(trim(CAST({col} AS VARCHAR)), '[+-]?[0-9]+(\\.0*)?'), false)"


def _typed_text(s: str, kind: str) -> str:
    """The value of the trimmed, non-empty text ``s`` as ``kind`` (NULL when it is not one)."""
    if kind == "str":
        return s
    if kind == "date":
        return (f"CASE WHEN regexp_full_match({s}, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}([ T].*)?') "
                f"THEN CAST(TRY_CAST({s} AS TIMESTAMP) AS DATE) END")
    if kind == "int":
        return (f"CASE WHEN regexp_full_match({s}, '[+-]?[0-9]+') THEN TRY_CAST({s} AS BIGINT) "
                f"WHEN regexp_full_match({s}, '[+-]?[0-9]+\\.0*') "
                f"THEN TRY_CAST(regexp_extract({s}, '^[+-]?[0-9]+') AS BIGINT) END")
    if kind == "float":
        return f"CASE WHEN isfinite(TRY_CAST({s} AS DOUBLE)) THEN TRY_CAST({s} AS DOUBLE) END"
    if kind == "bool":
        return (f"CASE lower({s}) WHEN 'true' THEN true WHEN '1' THEN true WHEN 'yes' THEN true "
                f"WHEN 'false' THEN false WHEN '0' THEN false WHEN 'no' THEN false END")
    raise ValueError(kind)


def typed_expr(col: str, kind: str, raw_type: str) -> str:
    """SQL: the raw column ``col`` (of DuckDB type ``raw_type``) as the contract's ``kind``."""
    raw_type = raw_type.upper()
    if raw_type == "VARCHAR":
        return _typed_text(f"NULLIF(trim({col}), '')", kind)
    numeric = raw_type in NUMERIC_TYPES
    floating = raw_type in FLOAT_TYPES or raw_type.startswith("DECIMAL")
    if kind == "str":
        return f"NULLIF(trim(CAST({col} AS VARCHAR)), '')"
    if kind == "date" and raw_type == "DATE":
        return col
    if kind == "date" and raw_type.startswith("TIMESTAMP"):
        return f"CAST({col} AS DATE)"
    if kind == "int" and raw_type in WIDE_INT_TYPES:   # an unsigned 64-bit or a 128-bit value may not fit
        return f"TRY_CAST({col} AS BIGINT)"
    if kind == "int" and numeric:
        return f"CAST({col} AS BIGINT)"
    if kind == "int" and floating:
        return (f"CASE WHEN isfinite(CAST({col} AS DOUBLE)) AND {col} = floor({col}) "
                f"THEN TRY_CAST({col} AS BIGINT) END")
    if kind == "float" and (numeric or floating):
        return f"CASE WHEN isfinite(CAST({col} AS DOUBLE)) THEN CAST({col} AS DOUBLE) END"
    if kind == "bool" and raw_type == "BOOLEAN":
        return col
    if kind == "bool" and numeric:
        return f"CASE {col} WHEN 1 THEN true WHEN 0 THEN false END"
    if kind not in KIND_WORDS:
        raise ValueError(kind)
    return typed_expr(f"CAST({col} AS VARCHAR)", kind, "VARCHAR")


def typed_columns(table: Table, raw_types: Mapping[str, str]) -> dict[str, str]:
    """Contract column -> the SQL expression typing it from the raw relation (present columns only)."""
    out = {}
    for c in table.columns:
        if c.name not in raw_types:
            continue
        e = typed_expr(ident(c.name), c.kind, raw_types[c.name])
        if c.open_ended:   # 9999-12-31 and the like: no end yet
            e = f"CASE WHEN ({e}) >= DATE '{OPEN_END_FROM}' THEN NULL ELSE ({e}) END"
        out[c.name] = e
    return out


def typed_select(table: Table, relation: str, raw_types: Mapping[str, str], *, raw: bool = False,
                 extra: bool = True) -> str:
    """The SELECT typing ``relation`` (raw columns of ``raw_types``) as ``table`` says.

    Every contract column comes out, in contract order: an optional column the relation does not
    have is a typed NULL (:func:`null_column`), so no query over the typed table meets a missing
    column (docs/data-contract.md, "Optional columns"). ``raw=True`` keeps each raw value beside
    its typed column, as ``RAW_PREFIX + name`` (what the checks read; present columns only);
    ``extra`` keeps columns the contract does not know, unchanged.
    """
    exprs = typed_columns(table, raw_types)
    parts = [f"{exprs[c.name]} AS {ident(c.name)}" if c.name in exprs else null_column(c.name, c.kind)
             for c in table.columns]
    if raw:
        parts += [f"{ident(n)} AS {ident(RAW_PREFIX + n)}" for n in exprs]
    if extra:
        known = {c.name for c in table.columns}
        parts += [ident(c) for c in raw_types if c not in known]
    return f"SELECT {', '.join(parts)} FROM {ident(relation)}"


def null_column(name: str, kind: str) -> str:
    """A select item: an absent optional column ``name`` as a NULL of its contract ``kind``."""
    return f"CAST(NULL AS {SQL_TYPES[kind]}) AS {ident(name)}"


# ---------------------------------------------------------------------------- the contract's checks
@dataclass(frozen=True)
class Check:
    """One row-level check: ``predicate`` is TRUE for a row (aliased ``t``) that breaks it."""

    severity: str
    column: str | None
    text: str
    predicate: str


def _column_checks(c, raw_type: str) -> list[Check]:
    """Type, range, placeholder and empty-value checks of contract column ``c``."""
    rawcol = f"t.{ident(RAW_PREFIX + c.name)}"   # the raw value, beside the typed t.<col>
    present = f"{rawcol} IS NOT NULL" + (f" AND trim({rawcol}) <> ''" if raw_type == "VARCHAR" else "")
    typed = f"t.{ident(c.name)}"
    out, other = [], ""   # other: a value typed as NULL for a reason other than its kind
    if c.kind == "int":
        out.append(Check("error", c.name, f"is out of range: whole numbers must lie within {INT_MIN}..{INT_MAX}",
                         f"({present}) AND {typed} IS NULL AND {int_like(rawcol, raw_type)}"))
        other = f" AND NOT ({int_like(rawcol, raw_type)})"
    if c.kind == "date":
        out.append(Check("error", c.name, f"must lie between {DATE_MIN} and {DATE_MAX}",
                         f"{typed} < DATE '{DATE_MIN}' OR {typed} > DATE '{DATE_MAX}'"))
    if c.open_ended:
        placeholder = f"coalesce(({typed_expr(rawcol, 'date', raw_type)}) >= DATE '{OPEN_END_FROM}', false)"
        out.append(Check("warning", c.name, f"has a far-future date ({OPEN_END_FROM} or later, e.g. "
                         "9999-12-31): read as empty (no end yet)", f"({present}) AND {placeholder}"))
        other = f" AND NOT {placeholder}"
    if c.kind != "str":
        out.append(Check("error", c.name, f"must be {KIND_WORDS[c.kind]}", f"({present}) AND {typed} IS NULL{other}"))
    if c.required:
        out.append(Check("error", c.name, "must not be empty", f"NOT ({present})"))
    return out


def contract_checks(table: Table, raw_types: Mapping[str, str]) -> list[Check]:
    """Every row-level check of ``table`` over its typed-with-raw select (:func:`typed_select`
    with ``raw=True``, aliased ``t``): per present column its type, range, placeholder and
    empty-value checks, then the table's rules. Generated from :mod:`workbook.contract`; the
    workspace runs them on DuckDB and :mod:`workbook.spark` on a usage copy. A rule that reads a
    contract column the relation does not have (``left_at < started_at`` without ``started_at``)
    is left out: no value that is not there can break it."""
    out = []
    for c in table.columns:
        if c.name in raw_types:
            out += _column_checks(c, raw_types[c.name])
    known = {c.name for c in table.columns}
    for rule in table.rules:
        needs = ({rule.column} if rule.column else set()) | (rule.reads & known)
        if needs <= set(raw_types):
            out.append(Check(rule.severity, rule.column, rule.text, f"coalesce({rule.broken}, false)"))
    return out


def example_key(table: Table) -> str:
    """The SQL expression over ``t`` that shows a row of ``table`` in a finding's examples."""
    return table.key if table.key.startswith("t.") else f"t.{ident(table.key)}"


def check_counts(checks: list[Check], source: str, *, accounts: str | None = None,
                 extra: Iterable[str] = ()) -> str:
    """One pass over the FROM item ``source``: ``count(*)``, then the rows breaking each check;
    with ``accounts`` (a relation of account ids) the rows whose account is not in it; last the
    ``extra`` aggregates (:func:`usage_extras`), riding on the same scan."""
    aggs = ["count(*)"] + [f"count(*) FILTER (WHERE {c.predicate})" for c in checks]
    join = ""
    if accounts is not None:   # the foreign-key count rides on the same scan
        aggs.append("count(*) FILTER (WHERE t.account_id IS NOT NULL AND a.account_id IS NULL)")
        join = f" LEFT JOIN (SELECT DISTINCT account_id FROM {ident(accounts)}) a ON t.account_id = a.account_id"
    aggs += list(extra)
    return f"SELECT {', '.join(aggs)} FROM {source}{join}"


def usage_extras(key: Iterable[str], date: str = "t.date") -> list[str]:
    """Aggregates that ride on usage's rule-count pass (:func:`check_counts` ``extra``): the number
    of distinct hashes of the ``key`` columns of ``t`` (fewer than the rows: some key may repeat,
    confirmed exactly by :func:`duplicates` with ``hashed=True``), then the first and last
    ``date``. A set of 64-bit hashes is all the duplicate look needs, so the rules, the dangling
    accounts, the duplicate look and the date range cost one scan of usage."""
    cols = ", ".join(f"t.{ident(c)}" for c in key)
    return [f"count(DISTINCT hash({cols}))", f"min({date})", f"max({date})"]


def examples(key: str, source: str, predicate: str, n: int = 3) -> str:
    """The first ``n`` distinct ``key`` values (sorted) of the rows of ``source`` matching ``predicate``."""
    return f"SELECT DISTINCT {key} FROM {source} WHERE {predicate} ORDER BY 1 LIMIT {int(n)}"


def duplicate_hashes(exprs: list[str], relation: str) -> str:
    """How many hash values of ``exprs`` repeat in ``relation`` (a cheap first look for duplicates)."""
    return (f"SELECT count(*) FROM (SELECT hash({', '.join(exprs)}) AS k FROM {ident(relation)} "
            "GROUP BY k HAVING count(*) > 1)")


def duplicates(columns: Mapping[str, str], relation: str, *, hashed: bool = False) -> str:
    """Values of ``columns`` (name -> expression over ``relation``) that repeat, with no part
    empty: the values and ``c`` (rows). ``hashed`` confirms only the repeated hashes (DuckDB)."""
    exprs = list(columns.values())
    cols = ", ".join(f"{e} AS {ident(n)}" for n, e in columns.items())
    where = " AND ".join(f"{e} IS NOT NULL" for e in exprs)
    group = ", ".join(str(i + 1) for i in range(len(exprs)))
    if hashed:
        hexpr = f"hash({', '.join(exprs)})"
        return (f"WITH h AS (SELECT {hexpr} AS k FROM {ident(relation)} GROUP BY k HAVING count(*) > 1) "
                f"SELECT {cols}, count(*) AS c FROM {ident(relation)} "
                f"WHERE {hexpr} IN (SELECT k FROM h) AND {where} GROUP BY {group} HAVING count(*) > 1")
    return f"SELECT {cols}, count(*) AS c FROM {ident(relation)} WHERE {where} GROUP BY {group} HAVING count(*) > 1"


def unknown_accounts(source: str, accounts: str = "accounts", *, n_examples: int | None = None) -> str:
    """Rows of ``source`` (FROM item ``t``) whose non-empty account_id is not in ``accounts``:
    their count, or with ``n_examples`` the first such distinct account ids."""
    base = (f"FROM {source} ANTI JOIN {ident(accounts)} a ON t.account_id = a.account_id "
            "WHERE t.account_id IS NOT NULL")
    if n_examples is None:
        return f"SELECT count(*) {base}"
    return f"SELECT DISTINCT t.account_id {base} ORDER BY 1 LIMIT {int(n_examples)}"


def before_signature(relation: str, column: str, *, key: str | None = None) -> str:
    """Rows of ``relation`` whose ``column`` is before their account's ``signed_at``: the count,
    or with ``key`` the first three distinct example keys."""
    base = (f"FROM {ident(relation)} t JOIN accounts a ON t.account_id = a.account_id "
            f"WHERE t.{ident(column)} < a.signed_at")
    return f"SELECT count(*) {base}" if key is None else f"SELECT DISTINCT {key} {base} ORDER BY 1 LIMIT 3"


def overlapping(relation: str, add_on_kind: str, *, key: str | None = None) -> str:
    """Contracts of ``relation`` that overlap another contract of the same account, neither being
    an add-on (``kind`` = ``add_on_kind``): intervals [starts_at, ends_at) that share a day. The
    count of such contracts, or with ``key`` (over ``t``) the first three distinct examples."""
    base = (f"FROM {ident(relation)} t JOIN {ident(relation)} o ON t.account_id = o.account_id "
            "AND t.contract_id <> o.contract_id AND t.starts_at < o.ends_at AND o.starts_at < t.ends_at "
            f"WHERE coalesce(t.kind, '') <> {literal(add_on_kind)} AND coalesce(o.kind, '') <> {literal(add_on_kind)}")
    return (f"SELECT count(DISTINCT t.contract_id) {base}" if key is None
            else f"SELECT DISTINCT {key} {base} ORDER BY 1 LIMIT 3")


def accounts_without(relation: str, *, n_examples: int | None = None) -> str:
    """Live accounts (``churned_at`` empty) with no row at all in ``relation``: their count, or
    with ``n_examples`` the first such account ids (sorted)."""
    base = (f"FROM accounts a ANTI JOIN {ident(relation)} t ON a.account_id = t.account_id "
            "WHERE a.churned_at IS NULL AND a.account_id IS NOT NULL")
    if n_examples is None:
        return f"SELECT count(*) {base}"
    return f"SELECT a.account_id {base} ORDER BY 1 LIMIT {int(n_examples)}"


def milestone_repeats(relation: str) -> str:
    """(account_id, milestone, rows) reached more than once in ``relation``, sorted."""
    return (f"SELECT account_id, milestone, count(*) AS c FROM {ident(relation)} "
            "GROUP BY ALL HAVING count(*) > 1 ORDER BY 1, 2")


def earliest_milestones(relation: str) -> str:
    """The earliest row of each (account, milestone) pair of ``relation``, extra columns kept,
    sorted by account, milestone and date: a window's output order is not fixed in DuckDB (it
    varies with threads), and two opens of the same data must give the same frame."""
    return (f"SELECT * FROM {ident(relation)} QUALIFY row_number() OVER "
            "(PARTITION BY account_id, milestone ORDER BY reached_at NULLS LAST) = 1 "
            "ORDER BY account_id, milestone, reached_at NULLS LAST")


# ---------------------------------------------------------------------------- KPI reads
def milestone_dates(names: Iterable[str]) -> str:
    """One row per account: the earliest ``reached_at`` of each milestone of ``names`` (a column
    each) among milestones reached on or before the ``?`` parameter."""
    cols = ", ".join(f"min(CASE WHEN milestone = {literal(n)} THEN reached_at END) AS {ident(n)}" for n in names)
    return f"SELECT account_id, {cols} FROM milestones WHERE reached_at <= ? GROUP BY account_id"


def dated_rows(table: str, date_col: str, columns: Iterable[str]) -> str:
    """``columns`` of ``table`` with ``date_col`` between the two ``?`` parameters (inclusive)."""
    return (f"SELECT {_names(columns)} FROM {ident(table)} "
            f"WHERE {ident(date_col)} >= ? AND {ident(date_col)} <= ?")


def readiness_items(cohort: str) -> str:
    """Readiness items (account_id, completed_at, weight) of the accounts in frame ``cohort``."""
    return ("SELECT account_id, completed_at, weight FROM readiness "
            f"WHERE account_id IN (SELECT account_id FROM {ident(cohort)})")


# ---------------------------------------------------------------------------- usage from an event log
def events_typed(relation: str = "raw") -> str:
    """The event log's four columns typed; a missing event name becomes the ``?`` parameter."""
    return ("SELECT CAST(account_id AS VARCHAR) AS account_id, CAST(user_id AS VARCHAR) AS user_id, "
            'CAST(TRY_CAST(CAST("timestamp" AS VARCHAR) AS TIMESTAMP) AS DATE) AS date, '
            f"COALESCE(CAST(event AS VARCHAR), ?) AS event FROM {ident(relation)}")


def event_names() -> str:
    return "SELECT DISTINCT event FROM ev"


def event_map(frame: str) -> str:
    """The (event, module) map from the registered frame ``frame``, as text columns."""
    return f"SELECT CAST(event AS VARCHAR) AS event, CAST(module AS VARCHAR) AS module FROM {ident(frame)}"


def event_counts() -> str:
    """Where every event row went: all, no account, no timestamp, unmapped, mapped, mapped without user."""
    ok = "account_id IS NOT NULL AND date IS NOT NULL"
    return f"""
        SELECT COUNT(*),
               COUNT(*) FILTER (WHERE account_id IS NULL),
               COUNT(*) FILTER (WHERE account_id IS NOT NULL AND date IS NULL),
               COUNT(*) FILTER (WHERE {ok} AND m.module IS NULL),
               COUNT(*) FILTER (WHERE {ok} AND m.module IS NOT NULL),
               COUNT(*) FILTER (WHERE {ok} AND m.module IS NOT NULL
                                AND user_id IS NULL)
        FROM ev LEFT JOIN event_map m USING (event)"""


def unmapped_events() -> str:
    """(event, n) of the dated, accounted events no module claims, most frequent first."""
    return """
        SELECT event, COUNT(*) AS n FROM ev LEFT JOIN event_map m USING (event)
        WHERE account_id IS NOT NULL AND date IS NOT NULL AND m.module IS NULL
        GROUP BY event ORDER BY n DESC, event"""


def write_usage_from_events(path: str) -> str:
    """Write the usage table built from ``ev`` and ``event_map`` to the Parquet file ``path``."""
    return f"""
                COPY (
                    SELECT e.account_id, e.date, m.module,
                           CAST(COUNT(DISTINCT e.user_id) AS BIGINT) AS active_users,
                           CAST(COUNT(*) AS BIGINT) AS actions
                    FROM ev e JOIN event_map m USING (event)
                    WHERE e.account_id IS NOT NULL AND e.date IS NOT NULL
                    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
                ) TO {literal(str(path))} (FORMAT PARQUET)"""


def usage_file_stats(path: str) -> str:
    """Rows, accounts, first and last date of the usage Parquet file ``path``."""
    return f"SELECT COUNT(*), COUNT(DISTINCT account_id), MIN(date), MAX(date) FROM read_parquet({literal(str(path))})"
