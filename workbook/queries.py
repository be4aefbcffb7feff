"""Every named SQL query over the ``usage`` table, in one place.

The usage table can hold hundreds of millions of rows, so the aggregations over it are written
as SQL (DuckDB's dialect) that the engine runs, returning only per-account results. The same
text runs on Spark after transpilation (:mod:`workbook.spark`), so each query is defined exactly
once. Keep the SQL portable: plain joins and GROUP BY, CASE instead of FILTER, no DuckDB-only
functions.

Parameters in ``{braces}`` are literals filled by :func:`render` (dates become ``DATE 'YYYY-MM-DD'``);
frames named in a query (``cal``, ``win``) are small pandas tables the caller passes to the engine.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

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
