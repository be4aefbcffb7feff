"""KPI machinery shared by :mod:`workbook.kpis` and :mod:`workbook.metrics` (private).

The measures and their settings, the point-in-time :class:`Context`, the facts of each measure,
their aggregation and the value of a period beside the previous one live here, below both
public modules, so that neither reaches into the other's privates. See :mod:`workbook.kpis` for
what a *fact* is and the units of each measure.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import periods as _periods
from .periods import difference, status  # noqa: F401 - re-exported: kpis.status, kpis.difference
from . import queries
from .adoption import adoption_settings, usage_windows
from .errors import BadInput
from .params import load as _load_params

TARGETS_FILE = "params/targets.yaml"
# SPEC section 4 fixes the usage window of adoption_rate and first_90_day_retention at 28 days.
KPI_WINDOW_DAYS = 28
USAGE_KPIS = ("adoption_rate", "first_90_day_retention")


@dataclass(frozen=True)
class Measure:
    """A KPI or supporting metric: its key, label, unit, direction and how facts aggregate."""

    key: str
    label: str
    unit: str            # days | fraction | nps | points | ces | count
    better: str          # higher | lower
    agg: str = "mean"    # mean | ratio | count | snapshot
    table: str | None = None   # the optional table it needs (None: required tables only)
    columns: tuple[str, ...] = ()   # optional columns of ``table`` it cannot be measured without


KPIS: dict[str, Measure] = {m.key: m for m in [
    Measure("time_to_value_days", "Time to value", "days", "lower"),
    Measure("onboarding_completion_rate", "Onboarding completion rate", "fraction", "higher"),
    Measure("adoption_rate", "Adoption rate", "fraction", "higher"),
    Measure("activation_rate", "Activation rate", "fraction", "higher"),
    Measure("onboarding_nps", "Onboarding NPS", "nps", "higher", table="surveys"),
    # without completed_at no item can be shown done: not measured (None), not 0; a missing weight
    # column weighs every item 1 (SPEC: default 1)
    Measure("readiness_at_handover", "Readiness at handover", "points", "higher", table="readiness",
            columns=("completed_at",)),
    Measure("first_90_day_retention", "First-90-day retention", "fraction", "higher"),
]}

METRICS: dict[str, Measure] = {m.key: m for m in [
    Measure("nps", "Relationship NPS", "nps", "higher", table="surveys"),
    Measure("csat", "CSAT (share scoring 4-5)", "fraction", "higher", table="surveys"),
    Measure("ces", "CES (mean, 7 = easiest)", "ces", "higher", table="surveys"),
    Measure("utilization", "CSM utilization", "fraction", "higher", agg="ratio", table="time_entries"),
    Measure("advocacy_events", "Advocacy events", "count", "higher", agg="count", table="advocacy"),
    Measure("open_onboardings_past_due", "Open onboardings past due", "count", "lower", agg="snapshot"),
]}

MEASURES: dict[str, Measure] = {**KPIS, **METRICS}
FACT_COLUMNS = ["account_id", "segment", "csm", "at", "x", "w"]


# ---------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class Settings:
    """Windows and targets from ``params/targets.yaml``."""

    onboarding_window_days: dict[str, int]
    activation_window_days: int
    targets: dict[str, float | None] = field(default_factory=dict)
    ttv_segment_targets: dict[str, float] = field(default_factory=dict)

    def window_for(self, segment) -> int:
        """Onboarding window in days for ``segment``; a segment not in the map uses ``default``."""
        return self.onboarding_window_days.get(segment, self.onboarding_window_days["default"])


def _number(value, where: str, *, positive_int: bool = False):
    if value is None and not positive_int:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadInput(TARGETS_FILE, where, f"must be a number, got {value!r}")
    if positive_int and (int(value) != value or value < 1):
        raise BadInput(TARGETS_FILE, where, f"must be a whole number of days >= 1, got {value!r}")
    return int(value) if positive_int else float(value)


def settings(raw: dict | None = None) -> Settings:
    """:class:`Settings` from ``params/targets.yaml`` (or from ``raw``, the parsed YAML)."""
    raw = _load_params("targets") if raw is None else raw
    windows = raw.get("onboarding_window_days")
    if not isinstance(windows, dict) or "default" not in windows:
        raise BadInput(TARGETS_FILE, "onboarding_window_days",
                       "must map segments to days and include a `default`")
    windows = {str(k): _number(v, f"onboarding_window_days.{k}", positive_int=True) for k, v in windows.items()}
    activation = _number(raw.get("activation_window_days"), "activation_window_days", positive_int=True)
    targets = {}
    for section, measures in (("targets", KPIS), ("metric_targets", METRICS)):
        given = raw.get(section) or {}
        if not isinstance(given, dict):
            raise BadInput(TARGETS_FILE, section, "must map KPI keys to target values")
        unknown = sorted(set(given) - set(measures))
        if unknown:
            raise BadInput(TARGETS_FILE, section, f"unknown key(s) {', '.join(map(str, unknown))}: "
                           f"use {', '.join(measures)}")
        targets.update({k: _number(given.get(k), f"{section}.{k}") for k in measures})
    seg = raw.get("time_to_value_days_by_segment") or {}
    ttv_seg = {str(k): _number(v, f"time_to_value_days_by_segment.{k}") for k, v in seg.items()}
    return Settings(windows, activation, targets, ttv_seg)


# ---------------------------------------------------------------------------- point-in-time context
class Context:
    """Everything knowable on ``as_of``, read once: accounts, milestones, optional tables.

    Facts dated after ``as_of`` are removed (or, for an account's churn and readiness completions,
    treated as not having happened yet). Usage is fetched through :func:`adoption.usage_windows`
    only, and cached per (account, window end).
    """

    def __init__(self, ws, as_of, engine=None, cfg: Settings | None = None):
        from .engines import get_engine
        self.ws = ws
        self.as_of = _periods.to_day(as_of)
        self._own_engine = engine is None
        self.engine = engine if engine is not None else get_engine(ws)
        self.cfg = cfg or settings()
        acc = ws.frame("accounts")
        acc = acc[acc["signed_at"] <= self.as_of].copy()
        acc.loc[acc["churned_at"] > self.as_of, "churned_at"] = pd.NaT
        # one row per account with the (earliest) date of each milestone known on as_of
        names = ("activation", "first_value", "onboarding_complete", "handover")
        wide = ws.sql(queries.milestone_dates(names), [self.as_of.date()])
        wide = wide.set_index(wide["account_id"].astype("string"))
        for name in names:
            dates = pd.to_datetime(wide[name]).astype("datetime64[ns]")
            acc[name] = dates.reindex(acc["account_id"].to_numpy()).to_numpy()
        window = acc["segment"].map(lambda s: self.cfg.window_for(s)).astype("int64")
        acc["due"] = acc["onboarding_due_at"].fillna(acc["signed_at"] + pd.to_timedelta(window, unit="D"))
        acc["activation_day"] = acc["signed_at"] + pd.Timedelta(days=self.cfg.activation_window_days)
        self.accounts = acc.reset_index(drop=True)
        self._windows: pd.DataFrame | None = None
        self._covered: tuple | None = None
        self._dated: dict[tuple, pd.DataFrame] = {}
        self.adoption_windows: pd.DataFrame | None = None   # usage windows of every account on as_of

    def close(self) -> None:
        """Close the engine if this context opened it (an engine passed in stays open)."""
        if self._own_engine:
            self.engine.close()

    def __enter__(self) -> "Context":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def has(self, table: str | None, columns: tuple[str, ...] = ()) -> bool:
        """True when ``table`` is present in the source (``None``: no optional table needed) with
        each of ``columns`` in its file (an optional column the file lacks is not measured)."""
        if table is None:
            return True
        return self.ws.has(table) and all(self.ws.has_column(table, c) for c in columns)

    def dated(self, table: str, date_col: str, columns: list[str], lo, hi) -> pd.DataFrame:
        """``columns`` of the rows of ``table`` dated in [lo, min(hi, as_of)], read in SQL so a
        large optional table is never loaded whole (cached per table and range)."""
        hi = min(_periods.to_day(hi), self.as_of)
        key = (table, date_col, tuple(columns), lo, hi)
        if key not in self._dated:
            df = self.ws.sql(queries.dated_rows(table, date_col, columns), [_periods.to_day(lo).date(), hi.date()])
            df[date_col] = pd.to_datetime(df[date_col]).astype("datetime64[ns]")
            self._dated[key] = df
        return self._dated[key]

    def usage(self, ends: pd.DataFrame) -> pd.DataFrame:
        """Usage measures of the 28-day windows ``ends`` (account_id, window_end), from the cache
        filled by :meth:`prefetch` or one new :func:`usage_windows` call. Zeros without use."""
        ends = ends[["account_id", "window_end"]].drop_duplicates()
        cached = self._windows
        if cached is not None:
            key = ends.merge(cached[["account_id", "window_end"]], how="left", indicator=True)
            if (key["_merge"] == "both").all():
                return ends.merge(cached, on=["account_id", "window_end"], how="left")
        got = usage_windows(self.engine, ends=ends, days=KPI_WINDOW_DAYS)
        self._windows = got if cached is None else pd.concat([cached, got], ignore_index=True)
        return ends.merge(got, on=["account_id", "window_end"], how="left")

    def prefetch(self, lo: pd.Timestamp, hi: pd.Timestamp, keys, adoption_dates=()) -> None:
        """Fetch in ONE usage query every window that the usage KPIs in ``keys`` need in [lo, hi],
        together with the adoption-signal windows of every account on ``adoption_dates`` (kept
        in :attr:`adoption_windows`). A request already covered runs nothing."""
        want = (lo, hi, frozenset(k for k in keys if k in USAGE_KPIS), tuple(adoption_dates))
        if self._covered is not None and _covers(self._covered, want):
            return
        acc, parts = self.accounts, []
        if "adoption_rate" in keys:
            m = between(acc["onboarding_complete"], lo, hi)
            parts.append(pd.DataFrame({"account_id": acc.loc[m, "account_id"],
                                       "window_end": acc.loc[m, "onboarding_complete"]}))
        if "first_90_day_retention" in keys:
            day = acc["handover"] + pd.Timedelta(days=90)
            m = between(day, lo, hi)
            parts.append(pd.DataFrame({"account_id": acc.loc[m, "account_id"], "window_end": day[m]}))
        ends = pd.concat(parts, ignore_index=True) if parts else None
        dates = list(adoption_dates)
        if dates and adoption_settings().window_days == KPI_WINDOW_DAYS:
            both = usage_windows(self.engine, dates=dates, ends=ends if ends is not None else
                                 pd.DataFrame(columns=["account_id", "window_end"]), days=KPI_WINDOW_DAYS)
            self.adoption_windows = both[both["window_end"].isin(pd.DatetimeIndex(dates))]
            self._windows = both if ends is not None else self._windows
        elif ends is not None:
            self._windows = usage_windows(self.engine, ends=ends, days=KPI_WINDOW_DAYS)
        self._covered = want


def _covers(have: tuple, want: tuple) -> bool:
    return (have[0] <= want[0] and want[1] <= have[1] and want[2] <= have[2]
            and set(want[3]) <= set(have[3]))


# ---------------------------------------------------------------------------- facts per KPI
def _rows(acc: pd.DataFrame, at: pd.Series, x, mask) -> pd.DataFrame:
    """Fact rows for the accounts of ``acc`` selected by ``mask`` (selected first: cheap)."""
    keep = mask.fillna(False).to_numpy(dtype=bool)
    x = np.broadcast_to(np.asarray(x, dtype="float64"), (len(acc),))[keep]
    sub = acc.loc[keep, ["account_id", "segment", "csm"]].reset_index(drop=True)
    return sub.assign(at=pd.Series(at).to_numpy()[keep], x=x, w=1.0)


def between(series: pd.Series, lo, hi) -> pd.Series:
    return series.notna() & (series >= lo) & (series <= hi)


def _ttv(ctx: Context, lo, hi) -> pd.DataFrame:
    acc = ctx.accounts
    days = (acc["first_value"] - acc["signed_at"]).dt.days
    return _rows(acc, acc["first_value"], days, between(acc["first_value"], lo, hi))


def _completion(ctx: Context, lo, hi) -> pd.DataFrame:
    acc = ctx.accounts
    done = acc["onboarding_complete"].notna() & (acc["onboarding_complete"] <= acc["due"])
    return _rows(acc, acc["due"], done.astype(float), between(acc["due"], lo, hi))


def _activation(ctx: Context, lo, hi) -> pd.DataFrame:
    acc = ctx.accounts
    day = acc["activation_day"]
    ok = acc["activation"].notna() & (acc["activation"] <= day)
    return _rows(acc, day, ok.astype(float), between(day, lo, hi))


def _adoption(ctx: Context, lo, hi) -> pd.DataFrame:
    acc = ctx.accounts
    mask = between(acc["onboarding_complete"], lo, hi)
    cohort = acc[mask.to_numpy()]
    if cohort.empty:
        return _rows(acc, acc["onboarding_complete"], 0.0, mask)
    win = ctx.usage(pd.DataFrame({"account_id": cohort["account_id"], "window_end": cohort["onboarding_complete"]}))
    used = cohort.merge(win, left_on=["account_id", "onboarding_complete"],
                        right_on=["account_id", "window_end"], how="left")["modules_used"].fillna(0)
    share = np.minimum(1.0, used.to_numpy(dtype=float) / cohort["contracted_modules"].to_numpy(dtype=float))
    return _rows(cohort, cohort["onboarding_complete"], share, pd.Series(True, index=cohort.index))


def _retention(ctx: Context, lo, hi) -> pd.DataFrame:
    acc = ctx.accounts
    day = acc["handover"] + pd.Timedelta(days=90)
    mask = between(day, lo, hi)
    cohort = acc[mask.to_numpy()].assign(day=day[mask])
    if cohort.empty:
        return _rows(acc, day, 0.0, mask)
    win = ctx.usage(pd.DataFrame({"account_id": cohort["account_id"], "window_end": cohort["day"]}))
    active = cohort.merge(win, left_on=["account_id", "day"], right_on=["account_id", "window_end"],
                          how="left")["active_days"].fillna(0).to_numpy() > 0
    alive = (cohort["churned_at"].isna() | (cohort["churned_at"] > cohort["day"])).to_numpy()
    return _rows(cohort, cohort["day"], (alive & active).astype(float), pd.Series(True, index=cohort.index))


def _survey(kind: str, score_to_x):
    def build(ctx: Context, lo, hi) -> pd.DataFrame:
        s = ctx.dated("surveys", "responded_at", ["account_id", "kind", "score", "responded_at"], lo, hi)
        s = s[(s["kind"] == kind).to_numpy(dtype=bool)]
        s = s.merge(ctx.accounts[["account_id", "segment", "csm"]], on="account_id", how="left")
        x = score_to_x(s["score"].astype("float64"))
        return pd.DataFrame({"account_id": s["account_id"], "segment": s["segment"], "csm": s["csm"],
                             "at": s["responded_at"], "x": x.astype("float64"), "w": 1.0})
    return build


def nps_points(score: pd.Series) -> pd.Series:
    """Per answer: +100 for a promoter (9–10), −100 for a detractor (0–6), 0 for a passive (7–8).

    The mean of these is the NPS: 100 × (share of promoters − share of detractors)."""
    return pd.Series(np.select([score >= 9, score <= 6], [100.0, -100.0], 0.0), index=score.index)


def _readiness(ctx: Context, lo, hi) -> pd.DataFrame:
    acc = ctx.accounts
    cohort = acc[between(acc["handover"], lo, hi).to_numpy()]
    ids = pd.DataFrame({"account_id": cohort["account_id"].astype("object")})
    items = ctx.ws.sql(queries.readiness_items("kpi_cohort"), frames={"kpi_cohort": ids})
    items["account_id"] = items["account_id"].astype("string")
    items["completed_at"] = pd.to_datetime(items["completed_at"]).astype("datetime64[ns]")
    items["weight"] = pd.to_numeric(items["weight"]).astype("float64").fillna(1.0)
    items = items.merge(cohort[["account_id", "handover"]], on="account_id")
    on_time = (items["completed_at"].notna() & (items["completed_at"] <= items["handover"])).to_numpy(dtype=bool)
    items["done"] = np.where(on_time, items["weight"].to_numpy(dtype="float64"), 0.0)
    per = items.groupby("account_id")[["done", "weight"]].sum()
    done = cohort["account_id"].map(per["done"]).astype("float64")
    score = 100.0 * done / cohort["account_id"].map(per["weight"]).astype("float64")
    # accounts with no checklist items keep x = NaN: left out of the mean, counted as `left_out`
    return _rows(cohort, cohort["handover"], score.to_numpy(dtype=float), pd.Series(True, index=cohort.index))


def _utilization(ctx: Context, lo, hi) -> pd.DataFrame:
    t = ctx.dated("time_entries", "date", ["csm", "date", "hours", "customer_work"], lo, hi)
    cw = t["customer_work"].fillna(False).to_numpy(dtype=bool)
    hours = t["hours"].to_numpy(dtype=float)
    return pd.DataFrame({"account_id": pd.Series(pd.NA, index=t.index, dtype="string"),
                         "segment": pd.Series(pd.NA, index=t.index, dtype="string"), "csm": t["csm"],
                         "at": t["date"], "x": np.where(cw, hours, 0.0), "w": hours})


def _advocacy(ctx: Context, lo, hi) -> pd.DataFrame:
    a = ctx.dated("advocacy", "date", ["account_id", "date"], lo, hi)
    a = a.merge(ctx.accounts[["account_id", "segment", "csm"]], on="account_id", how="left")
    return pd.DataFrame({"account_id": a["account_id"], "segment": a["segment"], "csm": a["csm"],
                         "at": a["date"], "x": 1.0, "w": 1.0})


FACTS = {
    "time_to_value_days": _ttv,
    "onboarding_completion_rate": _completion,
    "adoption_rate": _adoption,
    "activation_rate": _activation,
    "onboarding_nps": _survey("onboarding_nps", nps_points),
    "readiness_at_handover": _readiness,
    "first_90_day_retention": _retention,
    "nps": _survey("nps", nps_points),
    "csat": _survey("csat", lambda s: (s >= 4).astype(float)),
    "ces": _survey("ces", lambda s: s),
    "utilization": _utilization,
    "advocacy_events": _advocacy,
}


def facts(ctx: Context, key: str, lo, hi) -> pd.DataFrame | None:
    """The facts of ``key`` dated in [lo, hi] (columns account_id, segment, csm, at, x, w), or
    ``None`` when the optional table it needs, or a column of it that it needs, is absent ("no data")."""
    m = measure(key)
    if not ctx.has(m.table, m.columns):
        return None
    if m.agg == "snapshot":
        raise ValueError(f"{key} is a snapshot: use past_due_counts")
    hi = min(_periods.to_day(hi), ctx.as_of)
    out = FACTS[key](ctx, _periods.to_day(lo), hi)
    return out[FACT_COLUMNS].reset_index(drop=True)


def past_due_counts(ctx: Context, ends) -> pd.DataFrame:
    """Open onboardings and those past due on each day of ``ends``.

    An onboarding is open on day d when the account is signed on or before d, not churned by d
    and has reached neither ``onboarding_complete`` nor ``handover`` on or before d; it is past
    due when its due date is before d (completing on the due date is on time). Returns ``end``,
    ``open``, ``past_due`` (counts of accounts).
    """
    rows = []
    for end in ends:
        end = min(_periods.to_day(end), ctx.as_of)
        open_ = open_onboardings(ctx, end)
        rows.append({"end": end, "open": int(open_.sum()),
                     "past_due": int((open_ & (ctx.accounts["due"] < end)).sum())})
    return pd.DataFrame(rows, columns=["end", "open", "past_due"])


def open_onboardings(ctx: Context, day) -> pd.Series:
    """Mask over ``ctx.accounts``: onboarding open on ``day`` (see :func:`past_due_counts`)."""
    acc = ctx.accounts
    closed = pd.concat([acc["onboarding_complete"], acc["handover"]], axis=1).min(axis=1)
    live = (acc["signed_at"] <= day) & (acc["churned_at"].isna() | (acc["churned_at"] > day))
    return live & (closed.isna() | (closed > day))


# ---------------------------------------------------------------------------- aggregation
def aggregate(rows: pd.DataFrame | None, agg: str = "mean") -> dict:
    """``{"value", "n", "left_out"}`` over fact rows: mean of x, Σx÷Σw, or a count.

    ``value`` is ``None`` for no data (``rows`` is None) and for an empty cohort (mean, ratio);
    a count over a present table is a real 0. Rows whose x is NaN (readiness without items) are
    left out of the value and counted in ``left_out``.
    """
    if rows is None:
        return {"value": None, "n": 0, "left_out": 0}
    known = rows[rows["x"].notna()]
    n, left_out = len(known), len(rows) - len(known)
    if agg == "count":
        return {"value": n, "n": n, "left_out": left_out}
    if agg == "ratio":
        w = float(known["w"].sum())
        return {"value": float(known["x"].sum()) / w if w > 0 else None, "n": n, "left_out": left_out}
    return {"value": float(known["x"].mean()) if n else None, "n": n, "left_out": left_out}


def measure(key: str) -> Measure:
    if key not in MEASURES:
        raise BadInput("key", None, f"unknown KPI or metric {key!r}: use one of {', '.join(MEASURES)}")
    return MEASURES[key]


def period_values(ctx: Context, per: _periods.Period, keys) -> dict[str, dict]:
    """value/n/previous/... for ``keys`` over ``per`` and its previous period, one build each."""
    ctx.prefetch(per.previous_start, per.end, keys)
    out = {}
    for key in keys:
        m = measure(key)
        if m.agg == "snapshot":
            counts = past_due_counts(ctx, [per.end, per.previous_end]).set_index("end")
            cur, prev = ({"value": int(counts.loc[day, "past_due"]), "n": int(counts.loc[day, "open"]), "left_out": 0}
                         for day in (per.end, per.previous_end))
        else:
            rows = facts(ctx, key, per.previous_start, per.end)
            cur, prev = (aggregate(None if rows is None else rows[between(rows["at"], lo, hi)], m.agg)
                         for lo, hi in ((per.start, per.end), (per.previous_start, per.previous_end)))
        target = ctx.cfg.targets.get(key)
        out[key] = {"value": cur["value"], "n": cur["n"], "previous": prev["value"], "target": target,
                    "better": m.better, "previous_n": prev["n"], "left_out": cur["left_out"],
                    "previous_left_out": prev["left_out"]}
    return out


# ---------------------------------------------------------------------------- shared by kpis and metrics
def open_context(ws, as_of=None, engine=None) -> Context:
    """A :class:`Context` for ``as_of`` (None: the latest usage date); use it in a ``with``."""
    return Context(ws, _periods.resolve_as_of(ws, as_of), engine)


def table(vals: dict[str, dict], per: _periods.Period) -> pd.DataFrame:
    """Rows of :func:`kpi_table` from period values (``period_values``) of any measures."""
    rows = []
    for key, v in vals.items():
        m = MEASURES[key]
        rows.append({"key": key, "kpi": m.label, "unit": m.unit, "value": v["value"], "n": v["n"],
                     "previous": v["previous"], "change": difference(v["value"], v["previous"]),
                     "target": v["target"], "gap_to_target": difference(v["value"], v["target"]),
                     "better": m.better, "status": status(v["value"], v["target"], m.better),
                     "left_out": v["left_out"], "start": per.start, "end": per.end})
    return nones(pd.DataFrame(rows), ["value", "previous", "change", "target", "gap_to_target"])


def nones(df: pd.DataFrame, cols) -> pd.DataFrame:
    """Object columns with ``None`` (not NaN) where a value is missing, ints kept as ints."""
    for col in cols:
        df[col] = pd.Series([None if v is None or (isinstance(v, float) and math.isnan(v)) else v
                             for v in df[col].tolist()], index=df.index, dtype="object")
    return df


def iso_day(ts) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%d")
