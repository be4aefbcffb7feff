"""A small world shaped like a real product's export: only the three required tables.

Real teams often start from a product event log and a CRM: ``accounts`` (with churn dates),
``milestones`` derived from product events, and daily per-module ``usage`` — no touchpoints,
surveys, outcomes, contacts or any other customer-success table. This module writes such a world
so tests can check that calibration, health and the reports say nothing the data does not support.

``churn_signal``:

- ``"strong"``: each account has a latent engagement ``q``; usage frequency and breadth follow it
  and the monthly churn hazard falls steeply with it, so usage ranks churn well;
- ``"none"``: usage still follows ``q`` but churn is drawn independently of everything, so no
  dimension can rank churners (AUC ≈ 0.5 whatever the weights).

Segments use names other than the sample world's (``Starter``, ``Growth``, ``Scale``) on purpose.
Deterministic per ``seed``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

END = pd.Timestamp("2026-11-15")
DAYS = 540                                  # about 18 months of history
MODULES = ("search", "dashboards", "alerts", "exports", "sharing", "api")
SEGMENTS = ("Starter", "Growth", "Scale")
CSMS = ("Ana Lima", "Bo Chen", "Cy Okafor", "Dee Patel")


def write_product_world(out: str | Path, *, accounts: int = 500, seed: int = 0,
                        churn_signal: str = "strong") -> Path:
    """Write ``accounts.csv``, ``milestones.csv`` and ``usage.parquet`` into ``out``; return it."""
    if churn_signal not in ("strong", "none"):
        raise ValueError("churn_signal is 'strong' or 'none'")
    rng = np.random.default_rng(seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = END - pd.Timedelta(days=DAYS - 1)

    n = accounts
    ids = np.array([f"P{i:05d}" for i in range(n)])
    signed = rng.integers(0, DAYS - 20, n)                    # day index of signature
    q = rng.normal(0.0, 1.0, n)                               # latent engagement
    contracted = rng.integers(2, len(MODULES) + 1, n)
    segment = rng.integers(0, len(SEGMENTS), n)

    # Churn: monthly hazard after a 45-day grace period.
    months_alive = np.maximum(0, (DAYS - signed - 45) // 30)
    if churn_signal == "strong":
        hazard = 1.0 / (1.0 + np.exp(-(-3.6 - 1.5 * q)))
    else:
        hazard = np.full(n, 0.03)
    churned = np.full(n, -1)
    for i in range(n):
        draws = rng.random(months_alive[i]) < hazard[i]
        if draws.any():
            churned[i] = signed[i] + 45 + 30 * int(np.argmax(draws)) + int(rng.integers(0, 30))
    churned[churned >= DAYS] = -1

    # Milestones from product events: first login, first dashboard shared, ... (days after signing).
    mrows = []
    speed = np.exp(-0.4 * q)                                  # engaged accounts move faster
    for i in range(n):
        end_i = churned[i] if churned[i] >= 0 else DAYS - 1
        day = signed[i]
        for name, gap in (("kickoff", 3), ("go_live", 14), ("activation", 10), ("first_value", 12),
                          ("onboarding_complete", 15), ("handover", 5)):
            day = day + max(1, int(rng.gamma(2.0, gap / 2.0) * speed[i]))
            if day > end_i or (name != "kickoff" and rng.random() < 0.04):
                break
            mrows.append((ids[i], name, (start + pd.Timedelta(days=int(day))).date().isoformat()))

    # Usage: per account and module, active on a day with a probability that follows q.
    frames = []
    for i in range(n):
        end_i = churned[i] if churned[i] >= 0 else DAYS - 1
        days = np.arange(signed[i] + 2, end_i + 1)
        if days.size == 0:
            continue
        p_day = 1.0 / (1.0 + np.exp(-(0.2 + 0.9 * q[i])))
        if churn_signal == "strong" and churned[i] >= 0:
            # usage fades over the 60 days before churn
            fade = np.clip((end_i - days) / 60.0, 0.15, 1.0)
        else:
            fade = np.ones(days.size)
        used = int(min(contracted[i], max(1, round(contracted[i] * (0.45 + 0.2 * q[i])))))
        for m in range(used):
            active = rng.random(days.size) < p_day * fade * (0.9 - 0.1 * m)
            d = days[active]
            if d.size == 0:
                continue
            users = rng.poisson(2.0 + max(0.0, q[i]), d.size)
            acts = users * rng.integers(1, 8, d.size)
            frames.append(pd.DataFrame({"account_id": ids[i], "day": d, "module": MODULES[m],
                                        "active_users": users, "actions": acts}))
    usage = pd.concat(frames, ignore_index=True)
    usage["date"] = (start + pd.to_timedelta(usage.pop("day"), unit="D")).dt.date
    usage = usage[["account_id", "date", "module", "active_users", "actions"]]
    # Make sure the world's last day is END (the default as_of) whatever the draws did.
    last = usage.iloc[[0]].copy()
    last["date"] = END.date()
    last["account_id"] = ids[int(np.argmax(np.where(churned < 0, q, -np.inf)))]
    last["module"] = "api_probe"
    usage = pd.concat([usage, last], ignore_index=True)
    usage.to_parquet(out / "usage.parquet", index=False)

    acc = pd.DataFrame({
        "account_id": ids,
        "name": [f"Product customer {i}" for i in range(n)],
        "segment": [SEGMENTS[s] for s in segment],
        "csm": [CSMS[i % len(CSMS)] for i in range(n)],
        "arr": np.round(rng.lognormal(9.5, 0.8, n), 2),
        "contracted_modules": contracted,
        "signed_at": [(start + pd.Timedelta(days=int(d))).date().isoformat() for d in signed],
        "churned_at": [(start + pd.Timedelta(days=int(d))).date().isoformat() if d >= 0 else ""
                       for d in churned],
    })
    acc.to_csv(out / "accounts.csv", index=False)
    pd.DataFrame(mrows, columns=["account_id", "milestone", "reached_at"]).to_csv(out / "milestones.csv",
                                                                                 index=False)
    return out
