"""Expansion signals (issue 16 item 5; docs/kpis.md, "Expansion signals"): accounts that may buy more.

:func:`expansion_signals` lists, per account, each signal that fires on ``as_of``:

- ``near licence limit`` — the peak active users of the last 28 days reach 90 % of the users the
  active contracts license (or exceed them);
- ``unentitled module`` — usage (actions > 0) in the last 28 days of a module the active contracts
  do not entitle;
- ``green and growing`` — green on ``as_of``, signed at least 180 days before, actions up at least
  20 % on the 28 days before (active days and peak users not lower), and no expansion contract in
  the last 12 months.

The two first need a ``contracts`` table (licensed users, entitled modules); without one only
``green and growing`` can fire (and "no expansion in 12 months" cannot be checked, so it is not
required). Usage is aggregated in the engine (:mod:`workbook.queries`), never loaded into pandas.
Thresholds live in ``params/expansion.yaml``.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .errors import BadInput

__all__ = ["expansion_signals", "settings", "SIGNALS", "COLUMNS"]

SIGNALS = ("near licence limit", "unentitled module", "green and growing")
COLUMNS = ["account_id", "name", "csm", "segment", "arr", "signal", "detail"]
_SOURCE = "params/expansion.yaml"
_DEFAULTS: dict[str, Any] = {"window_days": 28, "near_licence_share": 0.90, "rising_min_growth": 0.20,
                             "rising_min_previous_actions": 50, "rising_min_tenure_days": 180,
                             "no_expansion_days": 365}


def settings() -> dict[str, Any]:
    """``params/expansion.yaml`` over the built-in defaults, each value checked (BadInput naming it)."""
    from .params import load
    cfg = {**_DEFAULTS, **load("expansion", required=False)}
    for key in _DEFAULTS:
        value = cfg[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise BadInput(_SOURCE, key, f"must be a number >= 0, got {value!r}")
    if int(cfg["window_days"]) != cfg["window_days"] or cfg["window_days"] < 1:
        raise BadInput(_SOURCE, "window_days", f"must be a whole number of days >= 1, got {cfg['window_days']!r}")
    return cfg


def expansion_signals(ws, as_of=None, *, health: pd.DataFrame | None = None, engine=None) -> pd.DataFrame:
    """Accounts showing an expansion signal on ``as_of`` (default: the latest usage date).

    One row per account and signal that fires: ``account_id, name, csm, segment, arr`` (ARR on
    ``as_of``), ``signal`` (one of :data:`SIGNALS`) and ``detail`` (a sentence with the numbers).
    Only accounts with ARR > 0 on ``as_of`` (live, paying) are considered. ``health``: the
    health table on ``as_of`` (for the colour; computed when None and needed). One usage query
    for the two 28-day windows, one for the modules used.
    """
    from . import revenue
    from .adoption import usage_windows
    from .engines import get_engine
    from .periods import resolve_as_of
    cfg = settings()
    as_of = resolve_as_of(ws, as_of)
    days = int(cfg["window_days"])
    state = revenue.contract_state(ws, [as_of], as_of=as_of)
    state = state[(state["arr"] > 0).to_numpy()].reset_index(drop=True)
    own = engine is None
    eng = get_engine(ws) if own else engine
    try:
        before = as_of - pd.Timedelta(days=days)
        win = usage_windows(eng, dates=[as_of, before], days=days)
        modules = _modules_used(eng, as_of, days) if revenue.has_contracts(ws) else None
    finally:
        if own:
            eng.close()
    win = win.assign(account_id=win["account_id"].astype("string"))
    now = win[win["window_end"] == as_of].set_index("account_id")
    prev = win[win["window_end"] == before].set_index("account_id")
    found = []
    if revenue.has_contracts(ws):
        found.append(_near_licence(state, now, cfg))
        found.append(_unentitled(state, modules, days))
    found.append(_growing(ws, state, now, prev, as_of, cfg, health, engine))
    rows = pd.concat([f for f in found if len(f)], ignore_index=True) if any(len(f) for f in found) else None
    return _finish(ws, state, rows)


def _modules_used(eng, as_of: pd.Timestamp, days: int) -> pd.DataFrame:
    """Per account and module used (actions > 0) in the window: actions and last day of use."""
    used = eng.run("modules_used_in_window", start=as_of - pd.Timedelta(days=days - 1), end=as_of)
    return used.assign(account_id=used["account_id"].astype("string"))


def _near_licence(state: pd.DataFrame, now: pd.DataFrame, cfg: dict) -> pd.DataFrame:
    share = float(cfg["near_licence_share"])
    lic = state.set_index("account_id")["licensed_users"].astype(float)
    peak = now["peak_users"].reindex(lic.index).astype(float)
    hit = lic.notna() & (lic > 0) & (peak >= share * lic)
    rows = []
    for aid in lic.index[hit.to_numpy(dtype=bool)]:
        p, n = int(peak[aid]), int(lic[aid])
        word = "above" if p > n else "at" if p == n else "near"
        rows.append({"account_id": aid, "signal": SIGNALS[0],
                     "detail": f"{word} its licence: peak {p:,} active users in the last {int(cfg['window_days'])} "
                               f"days for {n:,} licensed ({p / n:.0%})"})
    return pd.DataFrame(rows, columns=["account_id", "signal", "detail"])


def _unentitled(state: pd.DataFrame, used: pd.DataFrame, days: int) -> pd.DataFrame:
    entitled = state.set_index("account_id")["modules"]
    rows = []
    for aid, g in used.groupby("account_id", sort=True):
        own = entitled.get(aid)
        if own is None or not len(own):          # no entitlement list: nothing to compare with
            continue
        extra = g[~g["module"].isin(set(own))].sort_values(["actions", "module"], ascending=[False, True])
        if extra.empty:
            continue
        names = ", ".join(f"{m} ({int(a):,} actions)" for m, a in zip(extra["module"], extra["actions"]))
        rows.append({"account_id": aid, "signal": SIGNALS[1],
                     "detail": f"uses {names} in the last {days} days; the contracts entitle {', '.join(own)}"})
    return pd.DataFrame(rows, columns=["account_id", "signal", "detail"])


def _growing(ws, state, now, prev, as_of, cfg, health, engine) -> pd.DataFrame:
    growth, floor = float(cfg["rising_min_growth"]), float(cfg["rising_min_previous_actions"])
    ids = state["account_id"]
    a1 = now["actions"].reindex(ids).fillna(0).to_numpy(float)
    a0 = prev["actions"].reindex(ids).fillna(0).to_numpy(float)
    signed = ws.frame("accounts").set_index(ws.frame("accounts")["account_id"].astype("string"))["signed_at"]
    tenure = (as_of - ids.map(signed)).dt.days.to_numpy(dtype=float, na_value=np.nan)
    # a ramp-up after signature is onboarding, not appetite for more: only settled accounts count
    rising = (a0 >= floor) & (a1 >= (1 + growth) * a0) & (tenure >= float(cfg["rising_min_tenure_days"]))
    for col in ("active_days", "peak_users"):
        rising &= now[col].reindex(ids).fillna(0).to_numpy(float) >= prev[col].reindex(ids).fillna(0).to_numpy(float)
    if not rising.any():
        return pd.DataFrame(columns=["account_id", "signal", "detail"])
    if health is None:
        from .health import health_table
        health = health_table(ws, as_of, engine=engine)
    colour = health.set_index(health["account_id"].astype("string"))["colour"].astype(object)
    green = (ids.map(colour) == "green").fillna(False).to_numpy(dtype=bool)
    recent = _recent_expansion(ws, as_of, int(cfg["no_expansion_days"]))
    fire = rising & green & ~ids.isin(recent).to_numpy()
    rows = [{"account_id": aid, "signal": SIGNALS[2],
             "detail": f"green; {int(x1):,} actions in the last {int(cfg['window_days'])} days, up {x1 / x0 - 1:.0%} "
                       f"on the {int(cfg['window_days'])} before ({int(x0):,})"
                       + ("; no expansion contract in the last 12 months" if ws.has("contracts") else "")}
            for aid, x1, x0 in zip(ids[fire], a1[fire], a0[fire])]
    return pd.DataFrame(rows, columns=["account_id", "signal", "detail"])


def _recent_expansion(ws, as_of: pd.Timestamp, days: int) -> set:
    """Accounts with an expansion contract starting in ``(as_of − days, as_of]`` (none without contracts)."""
    if not ws.has("contracts"):
        return set()
    from .contract import ADD_ON_KIND
    c = ws.frame("contracts")
    m = ((c["kind"] == ADD_ON_KIND) & (c["starts_at"] > as_of - pd.Timedelta(days=days))
         & (c["starts_at"] <= as_of)).fillna(False).to_numpy(dtype=bool)
    return set(c.loc[m, "account_id"].astype(str))


def _finish(ws, state: pd.DataFrame, rows: pd.DataFrame | None) -> pd.DataFrame:
    if rows is None or rows.empty:
        return pd.DataFrame({c: pd.Series([], dtype="float64" if c == "arr" else "object") for c in COLUMNS})
    acc = ws.frame("accounts")[["account_id", "name", "csm", "segment"]]
    acc = acc.assign(account_id=acc["account_id"].astype("string"))
    out = rows.merge(acc, on="account_id", how="left").merge(state[["account_id", "arr"]], on="account_id", how="left")
    order = {s: i for i, s in enumerate(SIGNALS)}
    out = out.assign(_o=out["signal"].map(order)).sort_values(["arr", "account_id", "_o"],
                                                              ascending=[False, True, True], kind="stable")
    out["arr"] = out["arr"].astype(float)
    return out[COLUMNS].reset_index(drop=True)
