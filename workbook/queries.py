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
    "window_stats_all": f"""
SELECT u.account_id AS account_id, c.window_end AS window_end,{_WINDOW_MEASURES}
FROM usage u
JOIN (SELECT CAST(window_end AS DATE) AS window_end, CAST(day AS DATE) AS day FROM cal) c
  ON u.date = c.day
WHERE u.date >= {{start}} AND u.date <= {{end}}
GROUP BY u.account_id, c.window_end
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
