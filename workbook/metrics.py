"""Supporting metrics beside the seven KPIs (SPEC section 4), same period rules.

- ``nps``: relationship NPS from ``nps`` answers in the period, −100..100
- ``csat``: share of ``csat`` answers scoring 4–5 (fraction 0..1)
- ``ces``: mean ``ces`` score, 1..7 (7 = easiest)
- ``utilization``: customer-work hours ÷ all hours logged by CSMs in the period (fraction)
- ``advocacy_events``: advocacy events dated in the period (count)
- ``open_onboardings_past_due``: on the period's last day, open onboardings whose due date has
  passed (count; ``n`` = all open onboardings that day)
- time to value by segment: mean, median and 75th percentile (days) of the period's TTV cohort
- adoption per account: breadth, depth, frequency and stakeholders against the cohort benchmark
  (:func:`workbook.adoption.adoption_signals` on ``as_of``)

Absent optional tables give ``None`` ("no data"), never 0.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import _kpi as _k
from . import periods as _periods
from .adoption import DIMENSIONS, FLAGS, adoption_signals


def supporting(ctx: _k.Context, per: _periods.Period, values: dict | None = None) -> dict:
    """The ``metrics`` object of ``workbook kpis --format json`` for period ``per``.

    Keys: each supporting metric as ``{"value", "n", "previous", "target", "better"}``;
    ``time_to_value_by_segment`` (segment → ``{"n", "mean", "median", "p75", "target"}``, days);
    ``adoption`` (accounts live on ``as_of`` and how many are below/at/above their cohort
    benchmark per dimension); ``left_out`` (cohort members the KPIs could not score, e.g.
    accounts with no readiness items, for the period and the previous one).
    """
    need = [k for k in (*_k.METRICS, "readiness_at_handover") if k not in (values or {})]
    vals = {**(values or {}), **_k.period_values(ctx, per, need)}
    out = {k: {f: vals[k][f] for f in ("value", "n", "previous", "target", "better")} for k in _k.METRICS}
    seg = _ttv_by_segment(ctx, per)
    out["time_to_value_by_segment"] = {
        r["segment"]: {"n": int(r["n"]), "mean": r["mean"], "median": r["median"], "p75": r["p75"],
                       "target": r["target"]} for r in seg.to_dict("records")}
    out["adoption"] = _adoption_summary(_adoption(ctx))
    r = vals["readiness_at_handover"]
    out["left_out"] = {"readiness_at_handover": {"reason": "account has no readiness items",
                                                 "current": r["left_out"], "previous": r["previous_left_out"]}}
    return out


def metrics_table(ws, as_of=None, period: str = "week", engine=None) -> pd.DataFrame:
    """Supporting metrics, one row each, with the columns of :func:`workbook.kpis.kpi_table`
    (``value``, ``n``, ``previous``, ``change``, ``target``, ``gap_to_target``, ``status``...)."""
    with _k.open_context(ws, as_of, engine) as ctx:
        per = _periods.period(period, ctx.as_of)
        return _k.table(_k.period_values(ctx, per, list(_k.METRICS)), per)


def _ttv_by_segment(ctx: _k.Context, per: _periods.Period) -> pd.DataFrame:
    rows = _k.facts(ctx, "time_to_value_days", per.start, per.end)
    g = rows.groupby("segment", sort=True)["x"]
    out = pd.DataFrame({"n": g.size(), "mean": g.mean(), "median": g.median(),
                        "p75": g.quantile(0.75)}).reset_index()
    seg_targets = ctx.cfg.ttv_segment_targets
    out["target"] = [seg_targets.get(s, seg_targets.get("default")) for s in out["segment"]]
    out["status"] = [_k.status(v, t, "lower") for v, t in zip(out["mean"], out["target"])]
    return out[["segment", "n", "mean", "median", "p75", "target", "status"]]


def ttv_by_segment(ws, as_of=None, period: str = "week", engine=None) -> pd.DataFrame:
    """Time to value per segment for accounts reaching first value in the period.

    Columns: ``segment``, ``n``, ``mean``, ``median``, ``p75`` (75th percentile, linear
    interpolation), all in days, ``target`` (``time_to_value_days_by_segment``) and ``status``
    (the mean against the target). Segments without first values in the period do not appear.
    """
    with _k.open_context(ws, as_of, engine) as ctx:
        return _ttv_by_segment(ctx, _periods.period(period, ctx.as_of))


def _adoption(ctx: _k.Context) -> pd.DataFrame:
    sig = adoption_signals(ctx.ws, [ctx.as_of], engine=ctx.engine, windows=ctx.adoption_windows)
    names = ctx.accounts[["account_id", "name", "csm"]]
    sig = sig.merge(names, on="account_id", how="left")
    front = ["account_id", "name", "segment", "csm", "tenure_band"]
    return sig[front + [c for c in sig.columns if c not in front and c != "date"]]


def adoption(ws, as_of=None, engine=None) -> pd.DataFrame:
    """Per-account adoption on ``as_of`` against the cohort benchmark.

    One row per account signed on or before ``as_of`` and not churned by it: ``account_id``,
    ``name``, ``segment``, ``csm``, ``tenure_band``, the four dimensions (breadth 0..1, depth in
    actions per active user-day, frequency in active days of the last 28, stakeholders in users),
    their ``bench_*`` values and ``flag_*`` (below / at / above). See
    :func:`workbook.adoption.adoption_signals` for the benchmark rule.
    """
    with _k.open_context(ws, as_of, engine) as ctx:
        return _adoption(ctx)


def _adoption_summary(sig: pd.DataFrame) -> dict:
    out: dict = {"accounts": int(len(sig))}
    for d in DIMENSIONS:
        counts = sig[f"flag_{d}"].value_counts()
        out[d] = {f: int(counts.get(f, 0)) for f in FLAGS}
    below_all = np.logical_and.reduce([sig[f"flag_{d}"] == "below" for d in DIMENSIONS]) if len(sig) else []
    out["below_on_all_four"] = int(np.sum(below_all))
    return out


def past_due(ws, as_of=None, engine=None) -> pd.DataFrame:
    """Open onboardings past their due date on ``as_of``, most overdue first.

    Open: signed, not churned, neither ``onboarding_complete`` nor ``handover`` reached by
    ``as_of``. Columns: ``account_id``, ``name``, ``segment``, ``csm``, ``signed_at``, ``due``
    (the explicit ``onboarding_due_at`` or signed_at + the segment's window), ``days_overdue``
    (as_of − due, days).
    """
    with _k.open_context(ws, as_of, engine) as ctx:
        acc = ctx.accounts
        late = acc[(_k.open_onboardings(ctx, ctx.as_of) & (acc["due"] < ctx.as_of)).to_numpy()].copy()
    late["days_overdue"] = (ctx.as_of - late["due"]).dt.days
    cols = ["account_id", "name", "segment", "csm", "signed_at", "due", "days_overdue"]
    return late[cols].sort_values(["days_overdue", "account_id"], ascending=[False, True]).reset_index(drop=True)


def summary_text(sup: dict) -> str:
    """A few plain lines about time to value by segment, adoption flags and left-out accounts."""
    lines = ["Time to value by segment (days):"]
    seg = sup.get("time_to_value_by_segment") or {}
    if not seg:
        lines.append("  no account reached first value in the period")
    for name, v in seg.items():
        lines.append(f"  {name:<14} n={v['n']:<4} mean {v['mean']:.1f}  median {v['median']:.1f}  "
                     f"p75 {v['p75']:.1f}" + (f"  (target {v['target']:g})" if v.get("target") is not None else ""))
    a = sup.get("adoption") or {}
    lines.append(f"Adoption vs cohort benchmark ({a.get('accounts', 0)} live accounts; below / at / above):")
    for d in DIMENSIONS:
        c = a.get(d, {})
        lines.append(f"  {d:<13} {c.get('below', 0):>5} / {c.get('at', 0):>5} / {c.get('above', 0):>5}")
    lines.append(f"  below on all four: {a.get('below_on_all_four', 0)}")
    lo = (sup.get("left_out") or {}).get("readiness_at_handover") or {}
    if lo.get("current") or lo.get("previous"):
        lines.append(f"Readiness at handover leaves out {lo.get('current', 0)} account(s) this period "
                     f"({lo.get('previous', 0)} previous): no readiness items")
    return "\n".join(lines)
