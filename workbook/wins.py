"""Wins: the good news of a period, one row per account and kind of win.

The weekly report counts them by kind and the monthly report lists the largest accounts'::

    events = wins.events(ws, health_table, start, end, before=colours_at_start)

Kinds (:data:`KINDS`): ``first value reached`` and ``onboarding completed`` (the milestone's
date), ``advocacy`` (each advocacy event, with its kind) and ``turned green`` (green at the end of
the window and amber or red at its start).
"""
from __future__ import annotations

import pandas as pd

KINDS = ("first value reached", "onboarding completed", "advocacy", "turned green")
COLUMNS = ["account_id", "name", "segment", "csm", "arr", "kind", "date", "detail"]
_MILESTONES = (("first_value", "first value reached"), ("onboarding_complete", "onboarding completed"))


def events(ws, health_table: pd.DataFrame, start, end, before: pd.Series | None = None) -> pd.DataFrame:
    """The wins dated in ``start … end`` (inclusive), one row per account and kind of win.

    ``first value reached`` / ``onboarding completed``: the milestone reached in the window
    (detail ``day N after signing``); ``advocacy``: each advocacy event in the window (detail: its
    kind; none without an advocacy table); ``turned green``: the final colour in ``health_table``
    is green and the colour in ``before`` (aligned with ``health_table``: the colours at the start
    of the window) amber or red, dated ``end`` (detail ``red → green, score 81``); accounts not
    scored then are not counted, and without ``before`` there is no such win. Only accounts signed
    by ``end``. Columns :data:`COLUMNS`, newest first, then the largest ARR.
    """
    start, end = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    acc = ws.frame("accounts")
    info = acc[acc["signed_at"] <= end].set_index("account_id")[["name", "segment", "csm", "arr", "signed_at"]]
    parts = _milestones(ws, info, start, end)
    if ws.has("advocacy"):
        a = ws.frame("advocacy")
        a = a[(a["date"] >= start) & (a["date"] <= end) & a["account_id"].isin(info.index)]
        parts.append(pd.DataFrame({"account_id": a["account_id"].to_numpy(), "kind": "advocacy",
                                   "date": a["date"].to_numpy(), "detail": a["kind"].astype(str).to_numpy()}))
    if before is not None:
        parts.append(_turned_green(health_table, before, end))
    out = pd.concat(parts, ignore_index=True)
    out = out.join(info[["name", "segment", "csm", "arr"]], on="account_id")
    return out[COLUMNS].sort_values(["date", "arr"], ascending=[False, False]).reset_index(drop=True)


def _milestones(ws, info: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> list[pd.DataFrame]:
    """First value and completed onboarding reached in the window, with the days since signing."""
    ms = ws.frame("milestones")
    parts = []
    for milestone, kind in _MILESTONES:
        m = ms[(ms["milestone"] == milestone) & (ms["reached_at"] >= start) & (ms["reached_at"] <= end)]
        m = m[m["account_id"].isin(info.index)]
        days = (m["reached_at"].to_numpy() - info.loc[m["account_id"], "signed_at"].to_numpy()) \
            .astype("timedelta64[D]").astype(int)
        parts.append(pd.DataFrame({"account_id": m["account_id"].to_numpy(), "kind": kind,
                                   "date": m["reached_at"].to_numpy(),
                                   "detail": [f"day {d} after signing" for d in days]}))
    return parts


def _turned_green(health_table: pd.DataFrame, before: pd.Series, end: pd.Timestamp) -> pd.DataFrame:
    """Accounts green now and amber or red in ``before``."""
    turned = (health_table["colour"].astype(object) == "green") & before.isin(["amber", "red"])
    t = health_table[turned.to_numpy()]
    return pd.DataFrame({"account_id": t["account_id"].to_numpy(), "kind": "turned green", "date": end,
                         "detail": [f"{b} → green, score {s:.0f}" for b, s in zip(before[turned], t["score"])]})


__all__ = ["COLUMNS", "KINDS", "events"]
