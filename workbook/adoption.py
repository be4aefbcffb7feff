"""Per-account usage windows: the raw material of adoption (breadth, depth, frequency, stakeholders).

:func:`usage_windows` is the one entry point to the usage table for windowed statistics; KPI and
health code call it with the window ends they need and get one small row per account and window.
"""
from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

MEASURES = ["modules_used", "actions", "user_days", "active_days", "peak_users"]


def _calendar(ends: pd.Series, days: int) -> pd.DataFrame:
    """Expand window ends into (window_end, day) rows covering ``days`` days ending on each end."""
    ends = pd.to_datetime(pd.Series(ends)).dt.normalize()
    offsets = pd.to_timedelta(range(days), unit="D")
    cal = pd.DataFrame({"window_end": ends.repeat(days).to_numpy(),
                        "day": (ends.repeat(days).to_numpy() - pd.TimedeltaIndex(list(offsets) * len(ends)))})
    return cal


def usage_windows(engine, *, dates: Iterable | None = None, ends: pd.DataFrame | None = None,
                  days: int = 28, accounts: Iterable[str] | None = None) -> pd.DataFrame:
    """Usage measures per account over ``days``-day windows, computed in the engine.

    Give either ``dates`` (the same window ends for every account) or ``ends`` (a frame with
    ``account_id`` and ``window_end``: one window per row). Returns one row per
    (``account_id``, ``window_end``) with

    - ``modules_used``: distinct modules with actions > 0 (breadth numerator)
    - ``actions``: sum of actions
    - ``user_days``: sum of active_users over module-days with actions > 0 (depth denominator)
    - ``active_days``: distinct days with actions > 0 (frequency)
    - ``peak_users``: the most active users seen on one module-day (stakeholders)

    With ``dates``, only accounts with usage rows in a window appear unless ``accounts`` is
    given, in which case every account × date appears and no usage is a real zero. With
    ``ends``, every input row appears (zeros where there was no use).
    """
    if (dates is None) == (ends is None):
        raise ValueError("give exactly one of dates= or ends=")
    if dates is not None:
        end_list = sorted({pd.Timestamp(d).normalize() for d in dates})
        if not end_list:
            return pd.DataFrame(columns=["account_id", "window_end", *MEASURES])
        cal = _calendar(pd.Series(end_list), days)
        out = engine.run("window_stats_all", frames={"cal": cal},
                         start=min(cal["day"]), end=max(cal["day"]))
        out["window_end"] = pd.to_datetime(out["window_end"])
        if accounts is not None:
            grid = pd.MultiIndex.from_product([list(accounts), end_list], names=["account_id", "window_end"])
            out = out.set_index(["account_id", "window_end"]).reindex(grid).reset_index()
    else:
        ends = ends[["account_id", "window_end"]].dropna().drop_duplicates().copy()
        ends["window_end"] = pd.to_datetime(ends["window_end"]).dt.normalize()
        if ends.empty:
            return pd.DataFrame(columns=["account_id", "window_end", *MEASURES])
        rep = ends.loc[ends.index.repeat(days)].reset_index(drop=True)
        rep["day"] = rep["window_end"] - pd.to_timedelta(
            list(range(days)) * len(ends), unit="D")
        out = engine.run("window_stats_per_account", frames={"win": rep},
                         start=rep["day"].min(), end=rep["day"].max())
        out["window_end"] = pd.to_datetime(out["window_end"])
        out = ends.merge(out, on=["account_id", "window_end"], how="left")
    for col in MEASURES:
        out[col] = pd.to_numeric(out[col]).fillna(0).astype("int64")
    out["account_id"] = out["account_id"].astype("string")
    return out.reset_index(drop=True)
