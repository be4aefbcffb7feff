"""Contracts over time and the revenue KPIs: retention of ARR and of logos.

:func:`contract_state` says, for every account and day, what the account pays and is entitled to:
ARR, licensed users, entitled modules and the next renewal. Where the source has a ``contracts``
table these come from the contracts active that day (point-in-time); without one, from
``accounts`` as before (docs/data-contract.md, "contracts").

The revenue KPIs (docs/kpis.md, "Revenue KPIs") measure a period P from two such states: the
cohort is every account with ARR > 0 on the day before P starts, and each cohort account's ARR on
the last day of P says whether it churned, expanded or contracted::

    revenue.contract_state(ws, ["2026-06-30"])     # one row per account and date
    revenue.compute(ws, as_of, "month")            # {"grr": {"value", "n", "previous", "target", "better"}, ...}
    revenue.revenue_kpis(ws, as_of, "month")       # the same as a table with change and status
    revenue.breakdown(ws, "segment", as_of)        # the same by segment (or csm)

Units: ARR in the data's currency; rates (GRR, NRR, logo retention) fractions 0..1 (NRR may
exceed 1). Without a ``contracts`` table every revenue KPI's value is ``None`` ("no data").
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import periods as _periods
from .periods import difference, status
from .contract import ADD_ON_KIND, MODULE_SEPARATOR
from .errors import BadInput
from .params import load as _load_params

TARGETS_FILE = "params/targets.yaml"
STATE_COLUMNS = ["account_id", "date", "arr", "licensed_users", "modules", "n_modules", "renewal_at",
                 "contract_id"]
# Months in the trailing window of the *_t12m keys.
TRAILING_MONTHS = 12


@dataclass(frozen=True)
class RevenueMeasure:
    """A revenue KPI: its key, label, unit (``fraction`` or ``money``) and better direction."""

    key: str
    label: str
    unit: str
    better: str
    trailing: bool = False      # measured over the trailing 12 months instead of the period


REVENUE_KPIS: dict[str, RevenueMeasure] = {m.key: m for m in [
    RevenueMeasure("grr", "Gross revenue retention", "fraction", "higher"),
    RevenueMeasure("nrr", "Net revenue retention", "fraction", "higher"),
    RevenueMeasure("logo_retention", "Logo retention", "fraction", "higher"),
    RevenueMeasure("expansion_arr", "Expansion ARR", "money", "higher"),
    RevenueMeasure("contraction_arr", "Contraction ARR", "money", "lower"),
    RevenueMeasure("churned_arr", "Churned ARR", "money", "lower"),
    RevenueMeasure("grr_t12m", "Gross revenue retention, trailing 12 months", "fraction", "higher", trailing=True),
    RevenueMeasure("nrr_t12m", "Net revenue retention, trailing 12 months", "fraction", "higher", trailing=True),
]}


# ---------------------------------------------------------------------------- contracts over time
def has_contracts(ws) -> bool:
    """True when the source holds a ``contracts`` table (then ARR, entitlements and licensed users
    come from it); False when everything comes from ``accounts``."""
    return ws.has("contracts")


def _days(dates) -> list[pd.Timestamp]:
    if isinstance(dates, (str, pd.Timestamp)) or not hasattr(dates, "__iter__"):
        dates = [dates]
    return sorted({_periods.to_day(d) for d in dates})


def _grid(acc: pd.DataFrame, days: list[pd.Timestamp]) -> pd.DataFrame:
    """Every (account, date) pair, in account then date order."""
    n, k = len(acc), len(days)
    grid = acc.iloc[np.repeat(np.arange(n), k)].reset_index(drop=True)
    grid["date"] = np.tile(np.asarray(days, dtype="datetime64[ns]"), n)
    return grid


def module_names(text) -> tuple[str, ...]:
    """The module names of a contract's ``modules`` cell (``;``-separated, blanks trimmed), in the
    order given; an empty cell gives ``()``."""
    if text is None or (not isinstance(text, str) and pd.isna(text)):
        return ()
    return tuple(m.strip() for m in str(text).split(MODULE_SEPARATOR) if m.strip())


def contract_state(ws, dates, *, as_of=None) -> pd.DataFrame:
    """What each account pays and is entitled to on each of ``dates``.

    One row per (``account_id``, ``date``) for every account of ``accounts`` and every date
    (sorted by date, then account), with

    - ``arr`` (float, the data's currency): Σ ``arr`` of the contracts active that day
      (``starts_at <= date < ends_at``); 0 when none is, and 0 from the account's ``churned_at``
      on (a churn in the middle of a contract ends its revenue that day);
    - ``licensed_users`` (float): Σ ``licensed_users`` of the active contracts that give one; NaN
      when none does (unknown);
    - ``modules``: the sorted tuple of module names the active contracts entitle (their union);
    - ``n_modules`` (int): how many modules that is; when no active contract lists modules (none
      active, or their ``modules`` empty) the account's ``contracted_modules``;
    - ``renewal_at``: the ``ends_at`` of the active contract that is not an add-on (kind other
      than ``expansion``), i.e. the next renewal day; NaT when there is none;
    - ``contract_id``: the id of that contract (NA when none).

    **Without a ``contracts`` table** (:func:`has_contracts` False) the state comes from
    ``accounts`` as it always has: ``arr`` is ``accounts.arr`` while the account is signed
    (``signed_at <= date``) and not churned (``churned_at`` empty or later), else 0;
    ``n_modules`` is ``contracted_modules``; ``modules`` is ``()``, ``licensed_users`` NaN,
    ``renewal_at`` NaT and ``contract_id`` NA.

    ``as_of`` (optional) makes the state point-in-time for that day: contracts starting after it
    and churns dated after it do not exist yet, nor (without contracts) accounts signed after it
    — for dates after ``as_of``, as a forecast sees them. Without it every contract and churn
    counts on its own dates, which for dates up to any ``as_of`` is the same thing.
    """
    days = _days(dates)
    acc = ws.frame("accounts")[["account_id", "arr", "contracted_modules", "signed_at", "churned_at"]]
    if as_of is not None:
        as_of = _periods.to_day(as_of)
        acc = acc.assign(churned_at=acc["churned_at"].where(~(acc["churned_at"] > as_of)))
    if not days or acc.empty:
        return _empty_state()
    grid = _grid(acc.rename(columns={"arr": "account_arr"}), days)
    churned = (grid["churned_at"].notna() & (grid["churned_at"] <= grid["date"])).to_numpy(dtype=bool)
    if not has_contracts(ws):
        signed = grid["signed_at"] <= (grid["date"] if as_of is None else grid["date"].clip(upper=as_of))
        live = signed.to_numpy(dtype=bool) & ~churned
        grid["arr"] = np.where(live, grid["account_arr"].to_numpy(dtype="float64"), 0.0)
        grid["licensed_users"] = np.nan
        grid["modules"] = pd.Series([()] * len(grid), index=grid.index, dtype="object")
        grid["n_modules"] = grid["contracted_modules"].astype("int64")
        grid["renewal_at"] = pd.Series(pd.NaT, index=grid.index, dtype="datetime64[ns]")
        grid["contract_id"] = pd.Series(pd.NA, index=grid.index, dtype="string")
        return _finish(grid)
    active = _active_contracts(ws, days, as_of)
    grid = grid.assign(_churned=churned)
    active = active.merge(grid.loc[grid["_churned"], ["account_id", "date"]], on=["account_id", "date"],
                          how="left", indicator=True)
    active = active[(active["_merge"] == "left_only").to_numpy()].drop(columns="_merge")
    return _finish(_fold(grid, active))


def _active_contracts(ws, days: list[pd.Timestamp], as_of) -> pd.DataFrame:
    """One row per (contract, date) with the contract active that day (starts_at <= date < ends_at)."""
    c = ws.frame("contracts")[["account_id", "contract_id", "starts_at", "ends_at", "arr", "licensed_users",
                               "modules", "kind"]]
    if as_of is not None:
        c = c[(c["starts_at"] <= as_of).to_numpy(dtype=bool)]
    c = c.assign(modules=[module_names(m) for m in c["modules"]])
    cal = pd.DataFrame({"date": np.asarray(days, dtype="datetime64[ns]")})
    pairs = c.merge(cal, how="cross")
    on = ((pairs["starts_at"] <= pairs["date"]) & (pairs["date"] < pairs["ends_at"])).to_numpy(dtype=bool)
    return pairs[on].reset_index(drop=True)


def _fold(grid: pd.DataFrame, active: pd.DataFrame) -> pd.DataFrame:
    """The state columns of ``grid`` from the active contracts of each (account, date)."""
    keys = ["account_id", "date"]
    active = active.assign(licensed_users=active["licensed_users"].astype("float64"))
    sums = active.groupby(keys, sort=False).agg(arr=("arr", "sum"), licensed_users=("licensed_users", "sum"),
                                                 _given=("licensed_users", "count"))
    sums["licensed_users"] = sums["licensed_users"].where(sums.pop("_given") > 0)   # none given: unknown
    mods = _module_union(active, keys)
    base = active[(active["kind"].fillna("") != ADD_ON_KIND).to_numpy(dtype=bool)]
    base = base.sort_values([*keys, "starts_at"], kind="stable").drop_duplicates(keys, keep="last")
    base = base.set_index(keys)[["ends_at", "contract_id"]].rename(columns={"ends_at": "renewal_at"})
    out = grid.merge(sums, left_on=keys, right_index=True, how="left")
    out = out.merge(mods, left_on=keys, right_index=True, how="left")
    out = out.merge(base, left_on=keys, right_index=True, how="left")
    out["arr"] = out["arr"].astype("float64").fillna(0.0)
    out["licensed_users"] = out["licensed_users"].astype("float64")
    entitled = out["entitled"].tolist()
    out["modules"] = pd.Series([m if isinstance(m, tuple) else () for m in entitled], index=out.index,
                               dtype="object")
    counts = np.asarray([len(m) for m in out["modules"]], dtype="int64")
    out["n_modules"] = np.where(counts > 0, counts, out["contracted_modules"].to_numpy(dtype="int64"))
    out["renewal_at"] = pd.to_datetime(out["renewal_at"]).astype("datetime64[ns]")
    out["contract_id"] = out["contract_id"].astype("string")
    return out


def _module_union(active: pd.DataFrame, keys: list[str]) -> pd.Series:
    """``entitled``: the sorted tuple of the modules of each (account, date)'s active contracts
    (groups where no contract lists a module are left out). Vectorised: one 0/1 column per module
    name, the union is a grouped max, and each distinct union is turned into a tuple once."""
    names = sorted({m for ms in active["modules"] for m in ms})
    if not names:
        empty = pd.MultiIndex.from_arrays([active[k].iloc[:0] for k in keys], names=keys)
        return pd.Series([], index=empty, dtype="object", name="entitled")
    col = {m: i for i, m in enumerate(names)}
    bits = np.zeros((len(active), len(names)), dtype=np.uint8)
    for row, ms in enumerate(active["modules"]):
        bits[row, [col[m] for m in ms]] = 1
    union = pd.DataFrame(bits, columns=range(len(names))).groupby(
        [active[k].to_numpy() for k in keys], sort=False).max()
    union = union[union.to_numpy().any(axis=1)]
    patterns, inverse = np.unique(union.to_numpy(), axis=0, return_inverse=True)
    tuples = [tuple(n for n, on in zip(names, p) if on) for p in patterns]
    index = pd.MultiIndex.from_arrays([union.index.get_level_values(i) for i in range(len(keys))], names=keys)
    return pd.Series([tuples[i] for i in np.ravel(inverse)], index=index, dtype="object", name="entitled")


def _finish(grid: pd.DataFrame) -> pd.DataFrame:
    out = grid[STATE_COLUMNS].sort_values(["date", "account_id"], kind="stable").reset_index(drop=True)
    out["account_id"] = out["account_id"].astype("string")
    out["n_modules"] = out["n_modules"].astype("int64")
    return out


def _empty_state() -> pd.DataFrame:
    return pd.DataFrame({"account_id": pd.Series([], dtype="string"), "date": pd.Series([], dtype="datetime64[ns]"),
                         "arr": pd.Series([], dtype="float64"), "licensed_users": pd.Series([], dtype="float64"),
                         "modules": pd.Series([], dtype="object"), "n_modules": pd.Series([], dtype="int64"),
                         "renewal_at": pd.Series([], dtype="datetime64[ns]"),
                         "contract_id": pd.Series([], dtype="string")})


# ---------------------------------------------------------------------------- settings
def targets(raw: dict | None = None) -> dict[str, float | None]:
    """Targets of the revenue KPIs from the ``revenue: targets:`` section of
    ``params/targets.yaml`` (or from ``raw``, the parsed YAML): key → number or None (no target).
    A key the section does not give has no target; an unknown key or a value that is not a
    finite number is :class:`BadInput`."""
    raw = _load_params("targets", required=False) if raw is None else raw
    section = (raw or {}).get("revenue") or {}
    if not isinstance(section, dict):
        raise BadInput(TARGETS_FILE, "revenue", "must be a mapping with a `targets:` section")
    given = section.get("targets") or {}
    if not isinstance(given, dict):
        raise BadInput(TARGETS_FILE, "revenue.targets", "must map revenue KPI keys to target values")
    unknown = sorted(set(map(str, given)) - set(REVENUE_KPIS))
    if unknown:
        raise BadInput(TARGETS_FILE, "revenue.targets",
                       f"unknown key(s) {', '.join(unknown)}: use {', '.join(REVENUE_KPIS)}")
    out = {}
    for key in REVENUE_KPIS:
        value = given.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not math.isfinite(value)):
            raise BadInput(TARGETS_FILE, f"revenue.targets.{key}", f"must be a number, got {value!r}")
        out[key] = None if value is None else float(value)
    return out


# ---------------------------------------------------------------------------- windows and cohorts
@dataclass(frozen=True)
class Window:
    """A measured stretch of time: the cohort is taken on ``before`` (the day before it starts) and
    measured on ``end`` (its last day)."""

    before: pd.Timestamp
    end: pd.Timestamp


def period_window(start, end) -> Window:
    """The window of a period from ``start`` to ``end`` (inclusive)."""
    return Window(_periods.to_day(start) - pd.Timedelta(days=1), _periods.to_day(end))


def trailing_window(end, months: int = TRAILING_MONTHS) -> Window:
    """The trailing ``months`` months ending on ``end``: the cohort is taken on the same calendar
    day ``months`` months earlier (the day before the window's first day), e.g. 2025-06-20 for a
    window ending on 2026-06-20."""
    end = _periods.to_day(end)
    return Window(end - pd.DateOffset(months=months), end)


def movements(states: pd.DataFrame, window: Window) -> pd.DataFrame:
    """The cohort of ``window`` and each member's ARR at both ends, from :func:`contract_state`
    rows holding both of its dates.

    The cohort is every account with ARR > 0 on ``window.before``. Returns one row per cohort
    account: ``account_id``, ``start_arr`` (ARR on ``before``), ``end_arr`` (ARR on ``end``),
    ``churned`` (end ARR is 0), ``expansion`` (max(0, end − start) of a survivor), ``contraction``
    (max(0, start − end) of a survivor), ARR in the data's currency.
    """
    arr = states.pivot_table(index="account_id", columns="date", values="arr", aggfunc="sum", observed=True)
    start = arr[window.before] if window.before in arr else pd.Series(dtype="float64")
    cohort = start[start > 0]
    end = arr[window.end].reindex(cohort.index).fillna(0.0) if window.end in arr else cohort * 0.0
    out = pd.DataFrame({"account_id": cohort.index.astype("string"), "start_arr": cohort.to_numpy(dtype="float64"),
                        "end_arr": end.to_numpy(dtype="float64")})
    out["churned"] = out["end_arr"] <= 0
    change = np.where(out["churned"], 0.0, out["end_arr"] - out["start_arr"])
    out["expansion"] = np.maximum(change, 0.0)
    out["contraction"] = np.maximum(-change, 0.0)
    return out.reset_index(drop=True)


def retention(moves: pd.DataFrame) -> dict:
    """The revenue figures of one cohort (rows of :func:`movements`).

    Returns ``n`` (cohort size), ``starting_arr``, ``expansion_arr``, ``contraction_arr``,
    ``churned_arr`` (Σ starting ARR of members with no ARR at the end), ``grr`` = (starting −
    contraction − churned) ÷ starting, ``nrr`` = (starting + expansion − contraction − churned) ÷
    starting, ``logo_retention`` = members with ARR > 0 at the end ÷ members. Every value but
    ``n`` is None for an empty cohort."""
    n = len(moves)
    if n == 0:
        return {"n": 0, **{k: None for k in ("starting_arr", "expansion_arr", "contraction_arr", "churned_arr",
                                              "grr", "nrr", "logo_retention")}}
    start = float(moves["start_arr"].sum())
    exp, con = float(moves["expansion"].sum()), float(moves["contraction"].sum())
    churned = float(moves.loc[moves["churned"].to_numpy(dtype=bool), "start_arr"].sum())
    return {"n": n, "starting_arr": start, "expansion_arr": exp, "contraction_arr": con, "churned_arr": churned,
            "grr": (start - con - churned) / start, "nrr": (start + exp - con - churned) / start,
            "logo_retention": float((~moves["churned"]).sum()) / n}


def _windows(per: _periods.Period) -> dict[str, tuple[Window, Window]]:
    """(current, previous) windows: ``period`` for the period keys, ``trailing`` for *_t12m."""
    return {"period": (period_window(per.start, per.end), period_window(per.previous_start, per.previous_end)),
            "trailing": (trailing_window(per.end), trailing_window(per.previous_end))}


def _states(ws, per: _periods.Period, as_of: pd.Timestamp) -> pd.DataFrame:
    days = {d for pair in _windows(per).values() for w in pair for d in (w.before, w.end)}
    return contract_state(ws, sorted(days), as_of=as_of)


def _figure(result: dict, key: str):
    """The value of revenue KPI ``key`` in a :func:`retention` result."""
    return result[key.removesuffix("_t12m")]


# ---------------------------------------------------------------------------- public KPI calls
def period_values(ws, per: _periods.Period, as_of=None) -> dict[str, dict]:
    """value/n/previous/target/better (plus ``previous_n``) of every revenue KPI over ``per`` and
    its previous period; the *_t12m keys over the trailing 12 months ending on each period's
    last day. Point-in-time for ``as_of`` (default: ``per.end``): contracts starting and churns
    dated after it do not exist. Without a ``contracts`` table every value and previous is None
    and every ``n`` 0."""
    as_of = _periods.to_day(per.end if as_of is None else as_of)
    goals = targets()
    results = {}
    if has_contracts(ws):
        states = _states(ws, per, as_of)
        results = {kind: tuple(retention(movements(states, w)) for w in pair)
                   for kind, pair in _windows(per).items()}
    out = {}
    for key, m in REVENUE_KPIS.items():
        cur, prev = results.get("trailing" if m.trailing else "period", ({"n": 0}, {"n": 0}))
        out[key] = {"value": cur.get(key.removesuffix("_t12m")), "n": cur["n"],
                    "previous": prev.get(key.removesuffix("_t12m")), "target": goals[key], "better": m.better,
                    "previous_n": prev["n"]}
    return out


def compute(ws, as_of=None, period: str = "week") -> dict[str, dict]:
    """The revenue KPIs of one period as ``workbook kpis --format json`` prints them under
    ``"revenue"``: ``{KEY: {"value", "n", "previous", "target", "better"}}`` for ``grr``,
    ``nrr``, ``logo_retention``, ``expansion_arr``, ``contraction_arr``, ``churned_arr``,
    ``grr_t12m`` and ``nrr_t12m``. Rates are fractions (NRR may exceed 1), ARR in the data's
    currency; ``value`` is None without a ``contracts`` table or with an empty cohort.
    ``as_of`` None means the latest usage date; ``period`` is ``week`` or ``month``."""
    as_of = _periods.resolve_as_of(ws, as_of)
    vals = period_values(ws, _periods.period(period, as_of), as_of)
    pick = ("value", "n", "previous", "target", "better")
    return {k: {f: v[f] for f in pick} for k, v in vals.items()}


def table(vals: dict[str, dict], per: _periods.Period) -> pd.DataFrame:
    """Rows of the revenue KPIs from :func:`period_values`, with the columns of
    :func:`workbook.kpis.kpi_table` (``key``, ``kpi``, ``unit``, ``value``, ``n``, ``previous``,
    ``change``, ``target``, ``gap_to_target``, ``better``, ``status``, ``left_out``, ``start``,
    ``end``); missing values are None."""
    rows = []
    for key, v in vals.items():
        m = REVENUE_KPIS[key]
        rows.append({"key": key, "kpi": m.label, "unit": m.unit, "value": v["value"], "n": v["n"],
                     "previous": v["previous"], "change": difference(v["value"], v["previous"]), "target": v["target"],
                     "gap_to_target": difference(v["value"], v["target"]), "better": m.better,
                     "status": status(v["value"], v["target"], m.better), "left_out": 0,
                     "start": per.start, "end": per.end})
    return _nones(pd.DataFrame(rows), ["value", "previous", "change", "target", "gap_to_target"])


def breakdown(ws, by: str = "segment", as_of=None, period: str = "week") -> pd.DataFrame:
    """The revenue KPIs per ``segment`` or ``csm`` (the account's current one in ``accounts``),
    tidy: one row per (key, group) with ``key``, ``kpi``, ``unit``, the group column, ``value``,
    ``n``, ``previous``, ``change``, ``target``, ``status``. Each group's cohort is the part of
    the whole cohort in that group (the groups' ``n`` add up to the total); a group appears when
    it has cohort members in the period or the previous one. Empty without a ``contracts`` table.
    """
    if by not in ("segment", "csm"):
        raise BadInput("by", None, f"{by!r}: break down by segment or csm")
    cols = ["key", "kpi", "unit", by, "value", "n", "previous", "change", "target", "status"]
    as_of = _periods.resolve_as_of(ws, as_of)
    per = _periods.period(period, as_of)
    if not has_contracts(ws):
        return pd.DataFrame(columns=cols)
    groups = ws.frame("accounts").set_index("account_id")[by]
    states, goals, rows = _states(ws, per, as_of), targets(), []
    for kind, pair in _windows(per).items():
        cur, prev = (movements(states, w) for w in pair)
        cur[by], prev[by] = cur["account_id"].map(groups), prev["account_id"].map(groups)
        for group in sorted(set(cur[by].dropna()) | set(prev[by].dropna())):
            now, before = retention(cur[cur[by] == group]), retention(prev[prev[by] == group])
            for key, m in REVENUE_KPIS.items():
                if m.trailing != (kind == "trailing"):
                    continue
                value, previous = _figure(now, key), _figure(before, key)
                rows.append({"key": key, "kpi": m.label, "unit": m.unit, by: group, "value": value, "n": now["n"],
                             "previous": previous, "change": difference(value, previous), "target": goals[key],
                             "status": status(value, goals[key], m.better)})
    out = pd.DataFrame(rows, columns=cols)
    out["_order"] = out["key"].map({k: i for i, k in enumerate(REVENUE_KPIS)})
    out = out.sort_values(["_order", by], kind="stable").drop(columns="_order").reset_index(drop=True)
    return _nones(out, ["value", "previous", "change", "target"])


def by_segment(ws, as_of=None, period: str = "week") -> pd.DataFrame:
    """:func:`breakdown` by segment."""
    return breakdown(ws, "segment", as_of, period)


def by_csm(ws, as_of=None, period: str = "week") -> pd.DataFrame:
    """:func:`breakdown` by CSM."""
    return breakdown(ws, "csm", as_of, period)


def revenue_kpis(ws, as_of=None, period: str = "week") -> pd.DataFrame:
    """The revenue KPIs (GRR, NRR, logo retention, expansion, contraction and churned ARR, and
    trailing-12-month GRR and NRR) of one period as a tidy DataFrame, one row per key, with the
    columns of :func:`workbook.kpis.kpi_table` (:func:`table`). Values are None without a
    ``contracts`` table. ``as_of`` None means the latest usage date."""
    as_of = _periods.resolve_as_of(ws, as_of)
    per = _periods.period(period, as_of)
    return table(period_values(ws, per, as_of), per)


def _nones(df: pd.DataFrame, cols) -> pd.DataFrame:
    for col in cols:
        df[col] = pd.Series([None if v is None or (isinstance(v, float) and math.isnan(v)) else v
                             for v in df[col].tolist()], index=df.index, dtype="object")
    return df
