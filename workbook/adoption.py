"""Per-account usage windows: the raw material of adoption (breadth, depth, frequency, stakeholders).

:func:`usage_windows` is the one entry point to the usage table for windowed statistics; KPI and
health code call it with the window ends they need and get one small row per account and window.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import BadInput
from .revenue import contract_state, has_contracts

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

    Give both ``dates`` and ``ends`` to get both sets from ONE pass over usage (the KPI report
    does): the result is the two sets stacked, one row per distinct (account, window_end); the
    ``dates`` part then holds the accounts with use (or every account of ``accounts``).
    """
    if dates is None and ends is None:
        raise ValueError("give dates=, ends= or both")
    if dates is not None and ends is not None:
        return _mixed_windows(engine, dates, ends, days, accounts)
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


def _mixed_windows(engine, dates, ends: pd.DataFrame, days: int, accounts) -> pd.DataFrame:
    """``usage_windows`` with both ``dates`` and ``ends``: one ``window_stats_mixed`` query."""
    end_list = sorted({pd.Timestamp(d).normalize() for d in dates})
    ends = ends[["account_id", "window_end"]].dropna().drop_duplicates().copy()
    ends["window_end"] = pd.to_datetime(ends["window_end"]).dt.normalize()
    if not end_list:
        return usage_windows(engine, ends=ends, days=days)
    if ends.empty:
        return usage_windows(engine, dates=end_list, days=days, accounts=accounts)
    cal = _calendar(pd.Series(end_list), days)
    rep = ends.loc[ends.index.repeat(days)].reset_index(drop=True)
    rep["day"] = rep["window_end"] - pd.to_timedelta(list(range(days)) * len(ends), unit="D")
    out = engine.run("window_stats_mixed", frames={"cal": cal, "win": rep},
                     start=min(cal["day"].min(), rep["day"].min()), end=max(cal["day"].max(), rep["day"].max()))
    out["window_end"] = pd.to_datetime(out["window_end"])
    per = pd.to_numeric(out.pop("per_account")).to_numpy() == 1
    common = out[~per]
    if accounts is not None:
        grid = pd.MultiIndex.from_product([list(accounts), end_list], names=["account_id", "window_end"])
        common = common.set_index(["account_id", "window_end"]).reindex(grid).reset_index()
    own = ends.merge(out[per], on=["account_id", "window_end"], how="left")
    out = pd.concat([common, own], ignore_index=True)
    for col in MEASURES:
        out[col] = pd.to_numeric(out[col]).fillna(0).astype("int64")
    out["account_id"] = out["account_id"].astype("string")
    # an (account, end) in both sets has the same window, hence the same measures
    return out.drop_duplicates(["account_id", "window_end"]).reset_index(drop=True)


# ---------------------------------------------------------------------------- adoption signals
DIMENSIONS = ("breadth", "depth", "frequency", "stakeholders")
FLAGS = ("below", "at", "above")


@dataclass(frozen=True)
class AdoptionSettings:
    """Adoption settings from the ``adoption:`` section of ``params/targets.yaml``."""

    window_days: int = 28
    tenure_band_weeks: tuple[int, ...] = (4, 8, 12)
    benchmark_min_accounts: int = 5
    benchmark_tolerance: float = 0.10

    @property
    def band_labels(self) -> list[str]:
        """Band names in order, e.g. ``["0-4", "5-8", "9-12", "13+"]`` (completed weeks)."""
        labels, low = [], 0
        for high in self.tenure_band_weeks:
            labels.append(f"{low}-{high}")
            low = high + 1
        return labels + [f"{low}+"]


def adoption_settings() -> AdoptionSettings:
    """The :class:`AdoptionSettings` in ``params/targets.yaml`` (defaults when the file lacks them)."""
    from .params import load
    raw = (load("targets", required=False) or {}).get("adoption") or {}
    base = AdoptionSettings()
    try:
        cfg = AdoptionSettings(
            window_days=int(raw.get("window_days", base.window_days)),
            tenure_band_weeks=tuple(int(w) for w in raw.get("tenure_band_weeks", base.tenure_band_weeks)),
            benchmark_min_accounts=int(raw.get("benchmark_min_accounts", base.benchmark_min_accounts)),
            benchmark_tolerance=float(raw.get("benchmark_tolerance", base.benchmark_tolerance)))
    except (TypeError, ValueError):
        raise BadInput("params/targets.yaml", "adoption", "window_days, tenure_band_weeks, "
                       "benchmark_min_accounts and benchmark_tolerance must be numbers") from None
    weeks = list(cfg.tenure_band_weeks)
    if (cfg.window_days < 1 or cfg.benchmark_min_accounts < 1 or not 0 <= cfg.benchmark_tolerance < 1
            or weeks != sorted(set(weeks)) or (weeks and weeks[0] < 0)):
        raise BadInput("params/targets.yaml", "adoption", "window_days >= 1, benchmark_min_accounts >= 1, "
                       "0 <= benchmark_tolerance < 1 and tenure_band_weeks strictly increasing")
    return cfg


def tenure_band(days_since_signed, settings: AdoptionSettings | None = None) -> pd.Series:
    """Tenure band label per value of ``days_since_signed`` (completed weeks = days // 7)."""
    cfg = settings or adoption_settings()
    weeks = np.asarray(days_since_signed, dtype="int64") // 7
    idx = np.searchsorted(np.asarray(cfg.tenure_band_weeks), weeks, side="left")
    return pd.Series(np.asarray(cfg.band_labels, dtype=object)[idx], dtype="string")


def adoption_signals(ws, dates=None, *, engine=None, windows: pd.DataFrame | None = None) -> pd.DataFrame:
    """Adoption in four dimensions per account and date, against the cohort benchmark.

    One row per (``account_id``, ``date``) for every account signed on or before ``date`` and not
    churned by it (``churned_at`` null or later than ``date``), from ONE usage query for all dates.
    Columns:

    - ``segment``, ``tenure_band`` (completed weeks since signature: ``0-4``, ``5-8``, ``9-12``, ``13+``)
    - ``breadth``: distinct modules with actions > 0 in the window ending on ``date`` ÷ the
      modules the account is entitled to that day (:func:`entitled_modules`: from the active
      contracts when the source has a ``contracts`` table, else ``contracted_modules``), capped
      at 1 (fraction 0..1)
    - ``depth``: actions per active user-day in the window (actions ÷ user_days; 0 without use)
    - ``frequency``: days with actions > 0 in the window (0..window_days)
    - ``stakeholders``: the most active users seen on one module-day in the window (users)
    - ``bench_<dim>``: the cohort benchmark at that date (see below), same unit as the dimension
    - ``flag_<dim>``: ``below`` / ``at`` / ``above`` the benchmark (``at`` = within ±tolerance × benchmark)
    - ``bench_basis``: which population gave the benchmark: ``cohort``, ``segment``, ``all`` or ``none``

    The benchmark of a dimension is its median over the accounts of the same segment × tenure band
    on that date that used the product in the window (frequency > 0). A cohort with fewer such
    accounts than ``benchmark_min_accounts`` falls back to the segment (all tenure bands), then to
    every account using the product that date; when nobody used it, the benchmark is 0
    (``bench_basis`` ``none``). No usage is a real zero, never a gap. The window length, bands,
    minimum cohort and tolerance come from ``params/targets.yaml`` (``adoption:``).
    ``dates=None`` means the latest usage date (the default ``as_of``). ``engine=None`` uses
    DuckDB. ``windows``: the :func:`usage_windows` rows of these dates
    (``window_days`` long) when the caller already has them (no usage query runs then).
    """
    cfg = adoption_settings()
    if dates is None:
        dates = [ws.default_as_of()]
    ends = sorted({pd.Timestamp(d).normalize() for d in dates})
    cols = ["account_id", "date", "segment", "tenure_band", *DIMENSIONS,
            *(f"bench_{d}" for d in DIMENSIONS), *(f"flag_{d}" for d in DIMENSIONS), "bench_basis"]
    acc = ws.frame("accounts")
    if not ends or acc.empty:
        return _empty(cols)
    grid = _live_grid(acc, ends)
    if grid.empty:
        return _empty(cols)
    win = windows if windows is not None else _windows_for(ws, engine, ends, cfg.window_days)
    win = win[["account_id", "window_end", *MEASURES]].rename(columns={"window_end": "date"})
    grid = grid.merge(win, on=["account_id", "date"], how="left")
    for col in MEASURES:
        grid[col] = grid[col].fillna(0).astype("int64")
    grid["tenure_band"] = tenure_band((grid["date"] - grid["signed_at"]).dt.days, cfg)
    contracted = entitled_modules(ws, grid)
    grid["breadth"] = np.minimum(1.0, grid["modules_used"].to_numpy() / contracted)
    user_days = grid["user_days"].to_numpy(dtype="float64")
    grid["depth"] = np.divide(grid["actions"].to_numpy(dtype="float64"), user_days,
                              out=np.zeros(len(grid)), where=user_days > 0)
    grid["frequency"] = grid["active_days"].astype("int64")
    grid["stakeholders"] = grid["peak_users"].astype("int64")
    grid = _benchmark(grid, cfg)
    return grid[cols].sort_values(["date", "account_id"], kind="stable").reset_index(drop=True)


def entitled_modules(ws, grid: pd.DataFrame) -> np.ndarray:
    """Breadth's denominator for each (``account_id``, ``date``) row of ``grid``: how many modules
    the account is entitled to that day. With a ``contracts`` table it is ``n_modules`` of
    :func:`workbook.revenue.contract_state` (the modules of the contracts active that day,
    point-in-time; ``contracted_modules`` when none of them lists modules); without one,
    ``accounts.contracted_modules`` as before (float array)."""
    contracted = grid["contracted_modules"].astype("float64").to_numpy()
    if not has_contracts(ws) or grid.empty:
        return contracted
    state = contract_state(ws, sorted(pd.DatetimeIndex(grid["date"]).unique()))
    n = grid[["account_id", "date"]].merge(state[["account_id", "date", "n_modules"]],
                                           on=["account_id", "date"], how="left")["n_modules"]
    return np.where(n.isna().to_numpy(), contracted, n.to_numpy(dtype="float64", na_value=np.nan))


def _windows_for(ws, engine, ends: list[pd.Timestamp], days: int) -> pd.DataFrame:
    from .engines import get_engine
    if engine is not None:
        return usage_windows(engine, dates=ends, days=days)
    own = get_engine(ws)
    try:
        return usage_windows(own, dates=ends, days=days)
    finally:
        own.close()


def _empty(cols: list[str]) -> pd.DataFrame:
    out = pd.DataFrame({c: pd.Series([], dtype="object") for c in cols})
    out["account_id"] = out["account_id"].astype("string")
    out["date"] = pd.Series([], dtype="datetime64[ns]")
    return out


def _live_grid(acc: pd.DataFrame, ends: list[pd.Timestamp]) -> pd.DataFrame:
    """Every (account, date) pair with the account signed on or before the date and not churned by it."""
    n, k = len(acc), len(ends)
    grid = acc[["account_id", "segment", "contracted_modules", "signed_at", "churned_at"]].iloc[
        np.repeat(np.arange(n), k)].reset_index(drop=True)
    grid["date"] = np.tile(np.asarray(ends, dtype="datetime64[ns]"), n)
    live = (grid["signed_at"] <= grid["date"]) & (grid["churned_at"].isna() | (grid["churned_at"] > grid["date"]))
    return grid[live.to_numpy()].reset_index(drop=True)


def _benchmark(grid: pd.DataFrame, cfg: AdoptionSettings) -> pd.DataFrame:
    """Add bench_<dim>, flag_<dim> and bench_basis: cohort medians with segment/all fallbacks."""
    dims = list(DIMENSIONS)
    users = grid[grid["frequency"] > 0]
    levels = [("cohort", ["date", "segment", "tenure_band"]), ("segment", ["date", "segment"]),
              ("all", ["date"])]
    bench = pd.DataFrame(np.nan, index=grid.index, columns=dims)
    basis = pd.Series("none", index=grid.index, dtype="string")
    for name, keys in levels:
        med = users.groupby(keys, observed=True)[dims].median()
        size = users.groupby(keys, observed=True).size()
        med = med[size >= (cfg.benchmark_min_accounts if name != "all" else 1)]
        if med.empty:
            continue
        med.columns = [f"_m_{d}" for d in dims]
        hit = grid[keys].merge(med, left_on=keys, right_index=True, how="left")
        hit.index = grid.index
        take = bench["breadth"].isna() & hit[f"_m_{dims[0]}"].notna()
        for d in dims:
            bench.loc[take, d] = hit.loc[take, f"_m_{d}"]
        basis[take] = name
    bench = bench.fillna(0.0)
    tol = cfg.benchmark_tolerance
    for d in dims:
        value, ref = grid[d].to_numpy(dtype="float64"), bench[d].to_numpy()
        grid[f"bench_{d}"] = ref
        grid[f"flag_{d}"] = pd.Series(np.select([value < ref * (1 - tol) - 1e-12, value > ref * (1 + tol) + 1e-12],
                                                ["below", "above"], "at"), index=grid.index, dtype="string")
    grid["bench_basis"] = basis
    return grid


# ---------------------------------------------------------------------------- recency-weighted usage
MODULE_MEASURES = ["w_actions", "w_user_days"]


def decayed_usage(ws, dates, *, days: int, half_life_days: float, weekend_weight: float = 1.0,
                  day_half_life_days: float | None = None, depth_days: int | None = None,
                  engine=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Recency-weighted usage per account and date, from ONE usage query (the health score's adoption).

    A usage row (actions > 0) dated ``age`` days before a date (0 <= age < ``depth_days``,
    default ``days``) weighs ``0.5 ** (age / half_life_days)``; an active day (0 <= age < ``days``)
    weighs ``0.5 ** (age / day_half_life_days)`` (default: the same half-life), times
    ``weekend_weight`` on a Saturday or Sunday. Returns two frames:

    - ``modules``: per (``account_id``, ``date``, ``module``) used in the window (ids and module
      names as the engine returns them, object dtype: millions of rows stay cheap), ``w_actions``
      and ``w_user_days`` (weighted sums of actions and of active users);
    - ``active``: per (``account_id``, ``date``) with use, ``w_active_days`` (weighted count of
      the days with any use).

    The weights of the window's days (:func:`decay_calendar`) are the frequency denominator.
    """
    ends = sorted({pd.Timestamp(d).normalize() for d in dates})
    dcal = decay_calendar(ends, days=days, half_life_days=half_life_days, weekend_weight=weekend_weight,
                          day_half_life_days=day_half_life_days)
    cal = decay_calendar(ends, days=min(depth_days or days, days), half_life_days=half_life_days)
    if cal.empty:
        mods = pd.DataFrame({"account_id": pd.Series([], dtype=object), "date": pd.Series([], dtype="datetime64[ns]"),
                             "module": pd.Series([], dtype=object), **{c: pd.Series([], dtype="float64")
                                                                      for c in MODULE_MEASURES}})
        act = pd.DataFrame({"account_id": pd.Series([], dtype=object), "date": pd.Series([], dtype="datetime64[ns]"),
                            "w_active_days": pd.Series([], dtype="float64")})
        return mods, act
    from .engines import get_engine
    own = engine if engine is not None else get_engine(ws)
    try:
        out = own.run("usage_decay", frames={"cal": cal[["window_end", "day", "weight"]],
                                             "dcal": dcal[["window_end", "day", "day_weight"]]},
                      start=dcal["day"].min(), end=dcal["day"].max())
    finally:
        if engine is None:
            own.close()
    out = out.rename(columns={"window_end": "date"})
    out["date"] = pd.to_datetime(out["date"]).astype("datetime64[ns]")
    # one row order whatever the engine's threads did: later float sums over these rows then
    # add in the same order on every run (the query's own sums are exact)
    out = out.sort_values(["account_id", "date", "module"], na_position="last", kind="stable", ignore_index=True)
    is_mod = out["module"].notna().to_numpy()
    mods = out.loc[is_mod, ["account_id", "date", "module", *MODULE_MEASURES]].reset_index(drop=True)
    act = out.loc[~is_mod, ["account_id", "date", "w_active_days"]].reset_index(drop=True)
    for frame, cols in ((mods, MODULE_MEASURES), (act, ["w_active_days"])):
        for c in cols:
            frame[c] = pd.to_numeric(frame[c]).astype("float64")
    return mods, act


def decay_calendar(ends: list[pd.Timestamp], *, days: int, half_life_days: float,
                   weekend_weight: float = 1.0, day_half_life_days: float | None = None) -> pd.DataFrame:
    """Rows (``window_end``, ``day``, ``age``, ``weight``, ``day_weight``) for :func:`decayed_usage`."""
    if not ends:
        return pd.DataFrame(columns=["window_end", "day", "age", "weight", "day_weight"])
    end = np.repeat(np.asarray(ends, dtype="datetime64[ns]"), days)
    age = np.tile(np.arange(days), len(ends))
    day = end - age.astype("timedelta64[D]")
    weight = 0.5 ** (age / float(half_life_days))
    day_weight = 0.5 ** (age / float(day_half_life_days or half_life_days))
    weekend = pd.DatetimeIndex(day).day_of_week.to_numpy() >= 5
    return pd.DataFrame({"window_end": end, "day": day, "age": age, "weight": weight,
                         "day_weight": day_weight * np.where(weekend, float(weekend_weight), 1.0)})
