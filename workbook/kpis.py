"""The seven onboarding KPIs (SPEC section 4): values, trends and breakdowns.

Every KPI is built the same way. A *fact* is one row per cohort member (an account, or a survey
response) with the date that places it in a period (``at``) and its contribution (``x``): days to
first value, 1/0 for "completed on time", the adoption share, ±100/0 for an NPS answer, and so on.
The facts of a whole date range are built once (one usage query at most), and any period's
value is an aggregate over the facts dated inside it: the mean of ``x`` for KPIs, ``Σx ÷ Σw`` for
ratios (utilization) or the row count (advocacy events). That is what makes a 12-week trend one
pass over the data, and breakdowns a ``groupby``.

Point-in-time: facts dated after ``as_of`` do not exist (accounts signed later, milestones,
churn, survey answers, readiness completions, usage). Every KPI's cohort and outcome only use
facts dated on or before the day that puts a member in the period, so a past period's value is
the same whether computed then or now.

Units: days (time to value), fractions 0..1 (rates), −100..100 (NPS), 0..100 (readiness).
An empty cohort gives ``None``, never 0 and never NaN.

Analyst calls (each accepts ``engine=None``, meaning DuckDB)::

    kpis.compute(ws, as_of=None, period="week")      # dict: the JSON of `workbook kpis`
    kpis.kpi_table(ws, as_of=None, period="week")    # DataFrame: value, previous, change, target, status
    kpis.trend(ws, "activation_rate", periods=12, freq="week")
    kpis.ttv_rolling(ws, days=90)                     # rolling 90-day mean time to value
    kpis.by_segment(ws), kpis.by_csm(ws)
"""
from __future__ import annotations

import pandas as pd

from . import metrics as _metrics
from . import periods as _periods
from . import revenue as _revenue
# the machinery lives in _kpi (shared with metrics); its public names are part of this module's API
from ._kpi import (FACT_COLUMNS, FACTS, KPI_WINDOW_DAYS, KPIS, MEASURES, METRICS, TARGETS_FILE,  # noqa: F401
                   USAGE_KPIS, Context, Measure, Settings, aggregate, facts, nps_points, open_context,
                   open_onboardings, past_due_counts, settings, status, table)
from ._kpi import between as _in
from ._kpi import difference as _diff
from ._kpi import iso_day as _d
from ._kpi import measure as _measure
from ._kpi import nones as _nones
from ._kpi import period_values as _period_values
from .errors import BadInput


# ---------------------------------------------------------------------------- public API
def report(ctx: Context, per: _periods.Period) -> dict:
    """The KPI report of period ``per`` from an open context (see :func:`compute`)."""
    vals = measures(ctx, per)
    pick = ("value", "n", "previous", "target", "better")
    return {"as_of": _d(ctx.as_of), "period": per.kind, "start": _d(per.start), "end": _d(per.end),
            "kpis": {k: {f: vals[k][f] for f in pick} for k in KPIS},
            "metrics": _metrics.supporting(ctx, per, vals),
            "revenue": {k: {f: v[f] for f in pick} for k, v in _revenue.period_values(ctx.ws, per, ctx.as_of).items()}}


def measures(ctx: Context, per: _periods.Period) -> dict[str, dict]:
    """Period values (value, n, previous, target, better, left_out, ...) of every KPI and supporting
    metric over ``per`` from an open context, with ONE usage query for the KPIs and the adoption
    signals of ``as_of``; :func:`table` turns them into rows, :func:`report` into the JSON."""
    ctx.prefetch(per.previous_start, per.end, list(KPIS), adoption_dates=[ctx.as_of])
    return _period_values(ctx, per, list(MEASURES))


def compute(ws, as_of=None, period: str = "week", engine=None) -> dict:
    """The KPI report for one period, shaped as ``workbook kpis --format json`` prints it.

    Returns ``{"as_of", "period", "start", "end", "kpis": {KEY: {"value", "n", "previous",
    "target", "better"}}, "metrics": {...}, "revenue": {KEY: {...}}}`` with dates as
    ``YYYY-MM-DD`` strings, rates as fractions 0..1, NPS −100..100, readiness 0..100, time to
    value in days, and ``None`` for an empty cohort or an absent table. ``metrics`` holds the
    supporting metrics (:func:`workbook.metrics.supporting`), ``revenue`` the revenue KPIs
    (:func:`workbook.revenue.period_values`; values None without a ``contracts`` table).
    """
    with open_context(ws, as_of, engine) as ctx:
        return report(ctx, _periods.period(period, ctx.as_of))


def kpi_table(ws, as_of=None, period: str = "week", engine=None) -> pd.DataFrame:
    """The seven KPIs as a tidy DataFrame, one row each, in SPEC order.

    Columns: ``key``, ``kpi`` (label), ``unit``, ``value``, ``n`` (cohort size), ``previous``,
    ``change`` (value − previous), ``target``, ``gap_to_target`` (value − target; read its sign
    with ``better``), ``better``, ``status`` (on target / off target / no data), ``left_out``
    (cohort members without the data to score them, e.g. no readiness items), ``start``, ``end``.
    Units as in :func:`compute`; missing values are ``None``.
    """
    with open_context(ws, as_of, engine) as ctx:
        per = _periods.period(period, ctx.as_of)
        return table(_period_values(ctx, per, list(KPIS)), per)




def trend(ws, key: str, periods: int = 12, freq: str = "week", as_of=None, engine=None) -> pd.DataFrame:
    """``key`` (a KPI or supporting metric) over the last ``periods`` weeks or months, oldest first.

    One pass: the facts of the whole range are built once (one usage query at most) and bucketed.
    Columns: ``period_start``, ``period_end``, ``value``, ``n``, ``target``, ``status``. The last
    month is the month to date. Units as in :func:`compute`.
    """
    m = _measure(key)
    with open_context(ws, as_of, engine) as ctx:
        pers = _periods.series(freq, ctx.as_of, periods)
        target = ctx.cfg.targets.get(key)
        if m.agg == "snapshot":
            counts = past_due_counts(ctx, [p.end for p in pers])
            vals = [{"value": int(r.past_due), "n": int(r.open)} for r in counts.itertuples()]
        else:
            ctx.prefetch(pers[0].start, pers[-1].end, [key])
            rows = facts(ctx, key, pers[0].start, pers[-1].end)
            vals = [aggregate(None if rows is None else rows[_in(rows["at"], p.start, p.end)], m.agg)
                    for p in pers]
    out = pd.DataFrame({"period_start": [p.start for p in pers], "period_end": [p.end for p in pers],
                        "value": [v["value"] for v in vals], "n": [v["n"] for v in vals],
                        "target": target, "status": [status(v["value"], target, m.better) for v in vals]})
    return _nones(out, ["value", "target"])


def ttv_rolling(ws, as_of=None, days: int = 90, points: int = 26, step_days: int = 7, engine=None) -> pd.DataFrame:
    """Time to value as a rolling ``days``-day mean, at ``points`` dates ``step_days`` apart
    ending on ``as_of`` (oldest first).

    At each ``date`` the value is the mean (first_value − signed_at), in days, over accounts whose
    first value fell in the ``days`` days ending on that date. Columns: ``date``, ``value``,
    ``n``, ``target`` (days). One pass over the data.
    """
    if days < 1 or points < 1 or step_days < 1:
        raise BadInput("days", None, "days, points and step_days must be at least 1")
    out = rolling(ws, ["time_to_value_days"], as_of=as_of, days=days, points=points, step_days=step_days,
                  engine=engine)["time_to_value_days"]
    return _nones(out, ["value", "target"])


def rolling(ws, keys, as_of=None, days: int = 90, points: int = 26, step_days: int = 7,
            engine=None) -> dict[str, pd.DataFrame]:
    """Each KPI in ``keys`` as a rolling ``days``-day value at ``points`` dates ``step_days`` apart
    ending on ``as_of`` (oldest first), by the KPI's own definition (:func:`facts` and
    :func:`aggregate`), with one usage query for all of them.

    At each ``date`` the value aggregates the facts dated in the ``days`` days ending on that
    date. Returns ``key → DataFrame(date, value, n, target)``, in the KPI's unit; ``value`` is
    None (or NaN) for an empty window and for a KPI whose table is absent.
    """
    if days < 1 or points < 1 or step_days < 1:
        raise BadInput("days", None, "days, points and step_days must be at least 1")
    out = {}
    with open_context(ws, as_of, engine) as ctx:
        ends = [ctx.as_of - pd.Timedelta(days=step_days * i) for i in range(points)][::-1]
        lo = ends[0] - pd.Timedelta(days=days - 1)
        ctx.prefetch(lo, ctx.as_of, list(keys))
        for key in keys:
            agg, rows = _measure(key).agg, facts(ctx, key, lo, ctx.as_of)
            vals = [aggregate(None if rows is None else rows[_in(rows["at"], e - pd.Timedelta(days=days - 1), e)],
                              agg) for e in ends]
            out[key] = pd.DataFrame({"date": ends, "value": [v["value"] for v in vals], "n": [v["n"] for v in vals],
                                     "target": ctx.cfg.targets.get(key)})
    return out


def breakdown(ws, by: str = "segment", as_of=None, period: str = "week", engine=None,
              keys=None) -> pd.DataFrame:
    """KPIs per ``segment`` or ``csm`` for one period, tidy: one row per (KPI, group).

    Columns: ``key``, ``kpi``, ``unit``, the group column, ``value``, ``n``, ``previous``,
    ``change``, ``target``, ``status``. A group appears when it has members in the period or the
    previous one. ``keys`` defaults to the seven KPIs; supporting metrics may be added (those
    without accounts, like utilization, only break down by ``csm``; the past-due snapshot is
    listed per account by :func:`workbook.metrics.past_due` instead).
    """
    if by not in ("segment", "csm"):
        raise BadInput("by", None, f"{by!r}: break down by segment or csm")
    keys = list(keys or KPIS)
    out = []
    with open_context(ws, as_of, engine) as ctx:
        per = _periods.period(period, ctx.as_of)
        ctx.prefetch(per.previous_start, per.end, keys)
        for key in keys:
            m = _measure(key)
            rows = None if m.agg == "snapshot" else facts(ctx, key, per.previous_start, per.end)
            if rows is None or rows[by].isna().all():
                continue
            target = ctx.cfg.targets.get(key)
            for group, g in rows.groupby(by, dropna=True, sort=True):
                cur = aggregate(g[_in(g["at"], per.start, per.end)], m.agg)
                prev = aggregate(g[_in(g["at"], per.previous_start, per.previous_end)], m.agg)
                out.append({"key": key, "kpi": m.label, "unit": m.unit, by: group, "value": cur["value"],
                            "n": cur["n"], "previous": prev["value"], "change": _diff(cur["value"], prev["value"]),
                            "target": target, "status": status(cur["value"], target, m.better)})
    cols = ["key", "kpi", "unit", by, "value", "n", "previous", "change", "target", "status"]
    return _nones(pd.DataFrame(out, columns=cols), ["value", "previous", "change", "target"])


def by_segment(ws, as_of=None, period: str = "week", engine=None, keys=None) -> pd.DataFrame:
    """:func:`breakdown` by segment."""
    return breakdown(ws, "segment", as_of, period, engine, keys)


def by_csm(ws, as_of=None, period: str = "week", engine=None, keys=None) -> pd.DataFrame:
    """:func:`breakdown` by CSM."""
    return breakdown(ws, "csm", as_of, period, engine, keys)


# ---------------------------------------------------------------------------- formatting


def format_value(value, unit: str, *, change: bool = False, missing: str = "—") -> str:
    """``value`` as text in its unit: ``82.5%``, ``31.2 days``, ``+35.0`` (NPS), ``78.0`` (points),
    ``5.50`` (CES), ``1,204`` (count); ``missing`` for None/NaN/NA.

    With ``change=True`` a signed difference: percentage points for fractions (``+2.5 pp``).
    :func:`workbook.display.text`, the one formatter of values that the command line, the report
    tables and the report sentences all use."""
    from .display import text
    return text(value, unit, change=change, missing=missing)

