"""The customer health score (SPEC section 5): five dimensions, score, colour, overrides,
playbooks, drivers and history.

Per account and day, for accounts signed on or before the day and not churned by it::

    dims   = health.dimension_scores(ws, dates)          # 0..1 per dimension, many dates at once
    table  = health.health_table(ws, as_of)              # one row per account: score, colour, ...
    hist   = health.history(ws, start, end)              # weekly points
    why    = health.drivers(ws, as_of)                   # change over 7 days, per dimension

Every formula and constant is documented in ``docs/health.md``; the constants live in
``params/health.yaml`` and the playbooks in ``params/playbooks.yaml``. Usage is read through
:func:`workbook.adoption.adoption_signals` and :func:`workbook.adoption.decayed_usage` (one
query each for all dates, on any engine); the small tables are handled with vectorised as-of
look-ups (:mod:`workbook.signals`).
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from . import revenue, scoring, signals
from ._kpi import settings as kpi_settings
from .adoption import adoption_settings, adoption_signals, decay_calendar, decayed_usage, entitled_modules
from .contract import MILESTONES
from .errors import BadInput
from .scoring import COLOURS, DIMENSIONS, missing_data_policy  # noqa: F401 - missing_data_policy re-exported
from .signals import (GridKeys, Timeline, by_segment, contact_counts, grid_keys, load_settings, number,
                      window_sums)
from .weights import Weights, resolve

SURVEY_SCALES = {"nps": (0, 10), "onboarding_nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
SCHEDULED_KINDS = ("meeting", "review", "training")
_SOURCE = "params/health.yaml"


# ---------------------------------------------------------------------------- settings
def _parts(cfg: dict, dim: str, names: tuple[str, ...]) -> dict[str, float]:
    raw = (cfg.get("dimensions") or {}).get(dim, {}).get("parts")
    if not isinstance(raw, dict) or set(raw) != set(names):
        raise BadInput(_SOURCE, f"dimensions.{dim}.parts", f"must give a weight for each of {', '.join(names)}")
    w = {k: number(cfg, f"dimensions.{dim}.parts.{k}") for k in names}
    if sum(w.values()) <= 0:
        raise BadInput(_SOURCE, f"dimensions.{dim}.parts", "must not all be 0")
    return w


def _blend(parts: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """Weighted mean of the parts that are not NaN (row by row); NaN when none is available."""
    num = np.zeros(len(next(iter(parts.values()))))
    den = np.zeros_like(num)
    for k, v in parts.items():
        ok = ~np.isnan(v)
        num += np.where(ok, v, 0.0) * weights[k]
        den += ok * weights[k]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


# ---------------------------------------------------------------------------- dimensions
def _ratio_to_benchmark(value: np.ndarray, bench: np.ndarray, floor: float, full: float) -> np.ndarray:
    """0 at or below ``floor`` × bench, 1 at or above ``full`` × bench, linear between (0..1).

    With no benchmark (0: nobody in the cohort used the product) any use scores 1 and none 0.
    """
    value = np.nan_to_num(value.astype("float64"))
    bench = np.nan_to_num(bench.astype("float64"))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(bench > 0, value / np.where(bench > 0, bench, 1), np.where(value > 0, np.inf, 0.0))
    return np.clip((r - floor) / (full - floor), 0.0, 1.0)


def _log_ratio_part(ratio: np.ndarray, floor: float, full: float) -> np.ndarray:
    """0 at or below ``floor``, 1 at or above ``full``, linear in log(ratio) between (0..1);
    an infinite ratio (use where the benchmark is 0) scores 1, a ratio of 0 scores 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        x = (np.log(np.maximum(ratio, 0.0)) - np.log(floor)) / (np.log(full) - np.log(floor))
    return np.round(np.clip(np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0), 12)


def _cohort_median(frame: pd.DataFrame, value: np.ndarray, use: np.ndarray, levels: list[list[str]],
                   min_n: int) -> np.ndarray:
    """Per row of ``frame``: the median of ``value`` over the rows with ``use`` sharing the first
    level's keys that has at least ``min_n`` such rows (the last level needs only 1); 0 when none."""
    bench = np.full(len(frame), np.nan)
    src = frame.loc[use, list(dict.fromkeys(c for lv in levels for c in lv))].copy()
    src["_v"] = value[use]
    for i, keys in enumerate(levels):
        grp = src.groupby(keys, observed=True)["_v"]
        stats = pd.DataFrame({"m": grp.median(), "n": grp.size()})
        stats = stats[stats["n"] >= (min_n if i < len(levels) - 1 else 1)]
        hit = frame[keys].merge(stats, left_on=keys, right_index=True, how="left")["m"].to_numpy(dtype="float64")
        bench = np.where(np.isnan(bench), hit, bench)
    return np.nan_to_num(bench, nan=0.0)


def _loo_median(codes: np.ndarray, value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the median of ``value`` over the OTHER rows with the same group code (NaN when
    there is none) and how many other rows there are. Leaving the row out keeps an account's
    benchmark independent of its own usage, so more usage can only raise its ratio."""
    if len(value) == 0:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    order = np.lexsort((value, codes))
    v, c = value[order], codes[order]
    start = np.r_[0, np.flatnonzero(c[1:] != c[:-1]) + 1]
    size = np.diff(np.r_[start, len(v)])
    s, n = np.repeat(start, size), np.repeat(size, size)
    k, others = np.arange(len(v)) - s, n - 1

    def nth(j):                                     # j-th smallest of the group without the row itself
        j = np.clip(j, 0, np.maximum(others - 1, 0))
        return v[np.minimum(s + j + (j >= k), len(v) - 1)]
    med = np.where(others > 0, (nth((others - 1) // 2) + nth(others // 2)) / 2, np.nan)
    out, cnt = np.empty(len(v)), np.empty(len(v), dtype=np.int64)
    out[order], cnt[order] = med, others
    return out, cnt


def _module_depth(m: pd.DataFrame, n_rows: int, min_n: int) -> np.ndarray:
    """Depth index per grid row: the geometric mean, weighted by active user-days, of each used
    module's intensity ÷ that module's norm; NaN without use. ``m`` holds one row per (grid row
    ``_row``, ``date``, ``module``) with ``w_actions`` and ``w_user_days`` > 0
    (:func:`workbook.adoption.decayed_usage`).

    A module's intensity is w_actions ÷ w_user_days (recency-weighted actions per active user);
    its norm is the median intensity of the same module on the same date among the OTHER accounts
    using it, when at least ``min_n`` do; else the median over the other accounts of their
    intensity over all modules that date. No other account at all: any use is at the top (∞).
    """
    if m.empty:
        return np.full(n_rows, np.nan)
    ud = m["w_user_days"].to_numpy(dtype="float64")
    intensity = m["w_actions"].to_numpy(dtype="float64") / ud
    norm, others = _loo_median(m.groupby(["date", "module"], sort=False).ngroup().to_numpy(), intensity)
    acct = m.groupby("_row").agg(date=("date", "first"), a=("w_actions", "sum"), u=("w_user_days", "sum"))
    common, _ = _loo_median(acct["date"].rank(method="dense").to_numpy(), (acct["a"] / acct["u"]).to_numpy())
    common = pd.Series(common, index=acct.index).reindex(m["_row"]).to_numpy()
    norm = np.where(others >= min_n, norm, common)
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.where(np.isnan(norm), np.inf, np.clip(np.log(intensity / norm), -50, 50))
    num = pd.Series(gap * ud).groupby(m["_row"].to_numpy()).sum()
    den = pd.Series(ud).groupby(m["_row"].to_numpy()).sum()
    return np.exp(num / den).reindex(range(n_rows)).to_numpy()


def _grid_rows(g: pd.DataFrame, dates: list, frame: pd.DataFrame) -> np.ndarray:
    """For each row of ``frame`` (``account_id``, ``date``), the position of the same account and
    date in the grid ``g`` (-1 when the grid has no such row: not live that day)."""
    day = np.asarray(dates, dtype="datetime64[ns]")
    if len(g) == 0 or len(frame) == 0:
        return np.full(len(frame), -1, dtype=np.int64)
    accounts = pd.Index(g["account_id"].astype(object).unique())
    table = np.full((len(accounts), len(day)), -1, dtype=np.int64)
    table[accounts.get_indexer(g["account_id"].astype(object)),
          np.searchsorted(day, g["date"].to_numpy(dtype="datetime64[ns]"))] = np.arange(len(g))
    acc = accounts.get_indexer(frame["account_id"].astype(object))
    when = frame["date"].to_numpy(dtype="datetime64[ns]")
    pos = np.clip(np.searchsorted(day, when), 0, len(day) - 1)
    ok = (acc >= 0) & (day[pos] == when)
    return np.where(ok, table[np.where(ok, acc, 0), pos], -1)


def _usage_evidence(ws, g: pd.DataFrame, cfg: dict, engine) -> pd.DataFrame:
    """``g`` with the adoption evidence of docs/health.md per row: ``depth_index`` (recency-weighted
    actions per active user against the norm of each module used, a geometric mean ratio; NaN
    without use), ``active_share`` (recency-weighted share of the days since signature with use,
    0..1) and ``bench_active_share`` (its cohort median). One usage query
    (:func:`workbook.adoption.decayed_usage`) for every date of ``g``.
    """
    days = number(cfg, "dimensions.adoption.window_days", minimum=1, integer=True)
    half = number(cfg, "dimensions.adoption.half_life_days", minimum=1e-9)
    depth_days = number(cfg, "dimensions.adoption.depth_window_days", minimum=1, integer=True)
    day_half = number(cfg, "dimensions.adoption.frequency_half_life_days", minimum=1e-9)
    weekend = number(cfg, "dimensions.adoption.weekend_weight", minimum=0)
    min_n = number(cfg, "dimensions.adoption.module_min_accounts", minimum=1, integer=True)
    norm = (cfg.get("dimensions") or {}).get("adoption", {}).get("depth_norm", "common")
    if norm not in ("common", "module"):
        raise BadInput(_SOURCE, "dimensions.adoption.depth_norm", f"must be common or module, got {norm!r}")
    if norm == "common":          # every module against the one norm: more use never lowers depth
        min_n = np.iinfo(np.int64).max
    dates = sorted(g["date"].unique())
    mods, act = decayed_usage(ws, dates, days=days, half_life_days=half, weekend_weight=weekend,
                              day_half_life_days=day_half, depth_days=depth_days, engine=engine)
    m = mods[(mods["w_user_days"] > 0) & (mods["w_actions"] > 0)]
    m = m.assign(_row=_grid_rows(g, dates, m))
    depth_index = _module_depth(m[m["_row"] >= 0], len(g), min_n)
    # frequency: weighted share of the window's days (on or after signature) with use; the
    # possible weight of a row is the running total of its date's day weights over the ages
    # 0 .. min(days, days since signature + 1) - 1 (one small dates x days table, no row fan-out)
    cal = decay_calendar(dates, days=days, half_life_days=half, weekend_weight=weekend,
                         day_half_life_days=day_half)
    running = np.cumsum(cal["day_weight"].to_numpy().reshape(len(dates), days), axis=1)
    date = g["date"].to_numpy(dtype="datetime64[ns]")
    seen = (date - g["signed_at"].to_numpy(dtype="datetime64[ns]")).astype("timedelta64[D]").astype("int64") + 1
    row_date = np.searchsorted(np.asarray(dates, dtype="datetime64[ns]"), date)
    possible = np.where(seen > 0, running[row_date, np.clip(seen, 1, days) - 1], 0.0)
    active = np.zeros(len(g))
    rows = _grid_rows(g, dates, act)
    np.add.at(active, rows[rows >= 0], act["w_active_days"].to_numpy(dtype="float64")[rows >= 0])
    share = np.clip(np.where(possible > 0, active / np.where(possible > 0, possible, 1), 0.0), 0, 1)
    bench = _cohort_median(g, share, share > 0, [["date", "segment", "tenure_band"], ["date", "segment"], ["date"]],
                           adoption_settings().benchmark_min_accounts)
    return g.assign(depth_index=depth_index, active_share=share, bench_active_share=bench)


def _adoption(g: pd.DataFrame, cfg: dict, detail: dict | None = None) -> np.ndarray:
    """Adoption 0..1 per row of ``g`` (which carries the :func:`_usage_evidence` columns)."""
    w = _parts(cfg, "adoption", ("breadth", "depth", "frequency"))
    floor = number(cfg, "dimensions.adoption.benchmark_floor", minimum=0)
    full = number(cfg, "dimensions.adoption.benchmark_full", minimum=0)
    if full <= floor:
        raise BadInput(_SOURCE, "dimensions.adoption.benchmark_full", "must be above benchmark_floor")
    dfloor = number(cfg, "dimensions.adoption.depth_floor", minimum=1e-9)
    dfull = number(cfg, "dimensions.adoption.depth_full", minimum=1e-9)
    if dfull <= dfloor:
        raise BadInput(_SOURCE, "dimensions.adoption.depth_full", "must be above depth_floor")
    share = g["active_share"].to_numpy(dtype="float64")
    parts = {"breadth": np.clip(np.nan_to_num(g["breadth"].to_numpy(dtype="float64")), 0, 1),
             "depth": _log_ratio_part(np.nan_to_num(g["depth_index"].to_numpy(dtype="float64")), dfloor, dfull),
             "frequency": _ratio_to_benchmark(share, g["bench_active_share"].to_numpy(dtype="float64"), floor, full)}
    if detail is not None:
        detail.update({f"adoption_{k}": v for k, v in parts.items()},
                      **{f"adoption_{c}": g[c].to_numpy() for c in ("depth_index", "active_share",
                                                                    "bench_active_share")})
    return _blend(parts, w)


def _shrunk_rate(g: pd.DataFrame, hits: np.ndarray, trials: np.ndarray, k: float) -> np.ndarray:
    """Evidence-weighted rate per row: (hits + k × prior) ÷ (trials + k), NaN without trials.

    ``prior`` is the pooled rate Σ hits ÷ Σ trials over the rows of the same date and segment
    (the segment's typical rate that day; the date's when the segment has no trials). With few
    trials the rate stays near the prior; with many it approaches hits ÷ trials.
    """
    frame = pd.DataFrame({"date": g["date"].to_numpy(), "segment": g["segment"].astype(object).to_numpy(),
                          "h": hits, "n": trials})
    seg = frame.groupby(["date", "segment"], dropna=False)[["h", "n"]].transform("sum")
    day = frame.groupby("date")[["h", "n"]].transform("sum")
    with np.errstate(invalid="ignore", divide="ignore"):
        prior = np.where(seg["n"] > 0, seg["h"] / seg["n"].where(seg["n"] > 0, 1),
                         np.where(day["n"] > 0, day["h"] / day["n"].where(day["n"] > 0, 1), 0.5))
        return np.where(trials > 0, (hits + k * prior) / (trials + k), np.nan)


def _engagement(ws, g: pd.DataFrame, cfg: dict, keys: GridKeys, detail: dict | None = None) -> np.ndarray:
    if not ws.has("touchpoints"):
        return np.full(len(g), np.nan)
    window = number(cfg, "dimensions.engagement.window_days", minimum=1, integer=True)
    full = number(cfg, "dimensions.engagement.recency_full_days", minimum=0)
    zero = number(cfg, "dimensions.engagement.recency_zero_days", minimum=0)
    if zero <= full:
        raise BadInput(_SOURCE, "dimensions.engagement.recency_zero_days", "must be above recency_full_days")
    w = _parts(cfg, "engagement", ("recency", "response", "attendance"))
    half = number(cfg, "dimensions.engagement.rate_half_life_days", minimum=1e-9)
    look = number(cfg, "dimensions.engagement.rate_lookback_days", minimum=1, integer=True)
    prior_k = number(cfg, "dimensions.engagement.prior_weight", minimum=0)
    t = ws.frame("touchpoints")
    responded = t["responded"].fillna(False).astype(bool).to_numpy()
    attended = t["attended"].fillna(False).astype(bool).to_numpy()
    outbound = (t["direction"] == "outbound").fillna(False).to_numpy(dtype=bool)
    inbound = (t["direction"] == "inbound").fillna(False).to_numpy(dtype=bool)
    scheduled = t["kind"].isin(SCHEDULED_KINDS).fillna(False).to_numpy(dtype=bool)
    two_way = inbound | (outbound & (responded | attended))
    ev = pd.DataFrame({"account_id": t["account_id"], "date": t["date"], "any": 1.0,
                       "out": outbound.astype(float), "answered": (outbound & (responded | attended)).astype(float),
                       "sched": scheduled.astype(float), "went": (scheduled & attended).astype(float)})
    cols = ["any", "out", "answered", "sched", "went"]
    tl = Timeline(keys, ev, cols)
    ever = tl.sums()[:, 0]
    out, answered, sched, went = tl.sums(window)[:, 1:].T
    # recency-weighted counts: weight 0.5 ** (age / half-life) over the lookback, kept as running
    # totals of 2 ** ((date - t0) / half-life) and scaled back to each row's date
    t0 = t["date"].min()
    grow = np.exp2((t["date"] - t0).dt.days.to_numpy(dtype="float64") / half)
    wcols = ["out", "answered", "sched", "went"]
    wev = ev[["account_id", "date"]].assign(**{c: ev[c].to_numpy() * grow for c in wcols})
    scale = np.exp2(-(g["date"] - t0).dt.days.to_numpy(dtype="float64") / half)
    w_out, w_ans, w_sched, w_went = (Timeline(keys, wev, wcols).sums(look) * scale[:, None]).T
    last = Timeline(keys, ev[two_way]).last()
    signed = g["signed_at"].to_numpy(dtype="datetime64[ns]")
    anchor = np.where(np.isnat(last) | (last < signed), signed, last)
    days = (g["date"].to_numpy(dtype="datetime64[ns]") - anchor).astype("timedelta64[D]").astype("float64")
    recency = np.clip((zero - days) / (zero - full), 0.0, 1.0)
    response = _shrunk_rate(g, w_ans, w_out, prior_k)
    attendance = _shrunk_rate(g, w_went, w_sched, prior_k)
    # a column absent from the source is not measured: its part drops out like a part without
    # data (NaN), the dimension comes from the parts measured (docs/health.md, "Optional columns")
    if not ws.has_column("touchpoints", "responded"):
        response = answered = w_ans = np.full(len(g), np.nan)
    if not ws.has_column("touchpoints", "attended"):
        attendance = went = w_went = np.full(len(g), np.nan)
    value = _blend({"recency": recency, "response": response, "attendance": attendance}, w)
    if detail is not None:
        detail.update(engagement_recency=recency, engagement_response=response, engagement_attendance=attendance,
                      engagement_days=days, engagement_outbound=out, engagement_answered=answered,
                      engagement_scheduled=sched, engagement_attended=went, engagement_w_outbound=w_out,
                      engagement_w_answered=w_ans, engagement_w_scheduled=w_sched, engagement_w_attended=w_went)
    return np.where(ever > 0, value, np.nan)


def _sentiment(ws, g: pd.DataFrame, cfg: dict, keys: GridKeys, detail: dict | None = None) -> np.ndarray:
    if not ws.has("surveys"):
        return np.full(len(g), np.nan)
    half = number(cfg, "dimensions.sentiment.half_life_days", minimum=1e-9)
    look = cfg.get("dimensions", {}).get("sentiment", {}).get("lookback_days")
    look = None if look is None else number(cfg, "dimensions.sentiment.lookback_days", minimum=1, integer=True)
    kinds = {k: number(cfg, f"dimensions.sentiment.kind_weights.{k}") for k in SURVEY_SCALES}
    s = ws.frame("surveys")
    kind = s["kind"].astype(object)
    lo = kind.map({k: v[0] for k, v in SURVEY_SCALES.items()}).to_numpy(dtype="float64")
    hi = kind.map({k: v[1] for k, v in SURVEY_SCALES.items()}).to_numpy(dtype="float64")
    value = np.clip((s["score"].astype("float64").to_numpy() - lo) / (hi - lo), 0, 1)
    kw = kind.map(kinds).to_numpy(dtype="float64")
    # weight = kind weight x 0.5 ** (age / half-life); the factor 0.5 ** (date / half-life) is common
    # to every response seen on one date, so it cancels in the weighted mean and the sums can be
    # kept as running totals of 2 ** ((responded_at - t0) / half-life).
    t0 = s["responded_at"].min()
    grow = np.exp2((s["responded_at"] - t0).dt.days.to_numpy(dtype="float64") / half) * kw
    ev = pd.DataFrame({"account_id": s["account_id"], "date": s["responded_at"], "n": (kw > 0).astype(float),
                       "w": grow, "wv": grow * value})
    sums = window_sums(g, ev[~np.isnan(grow * value)], ["n", "w", "wv"], look, keys=keys)
    # absolute weights kind_weight x 0.5 ** (age / half-life): scale the running totals to each date
    scale = np.exp2(-(g["date"] - t0).dt.days.to_numpy(dtype="float64") / half)
    n, w, wv = sums["n"].to_numpy(), sums["w"].to_numpy() * scale, sums["wv"].to_numpy() * scale
    prior_k = number(cfg, "dimensions.sentiment.prior_weight", minimum=0)
    value = _shrunk_rate(g, np.where(n > 0.5, wv, 0.0), np.where(n > 0.5, w, 0.0), prior_k)
    if detail is not None:
        detail["sentiment_responses"] = n
        detail["sentiment_weight"] = w
    return np.where((n > 0.5) & (w > 0), np.clip(value, 0, 1), np.nan)


def _outcomes(ws, g: pd.DataFrame, cfg: dict, keys: GridKeys, detail: dict | None = None) -> np.ndarray:
    w = _parts(cfg, "outcomes", ("first_value", "stated"))
    due_days = by_segment(cfg, "dimensions.outcomes.first_value_due_days", g["segment"])
    ms = ws.frame("milestones")
    fv_at = ms[ms["milestone"] == "first_value"].groupby("account_id")["reached_at"].min()
    fv_at.index = fv_at.index.astype(object)
    reached_at = fv_at.reindex(g["account_id"].astype(object).to_numpy()).to_numpy(dtype="datetime64[ns]")
    reached = reached_at <= g["date"].to_numpy(dtype="datetime64[ns]")
    due = (g["signed_at"] + pd.to_timedelta(due_days, unit="D")) <= g["date"]
    first_value = np.where(reached, 1.0, np.where(due.to_numpy(), 0.0, np.nan))
    stated, counted_n, ok_n = np.full(len(g), np.nan), np.zeros(len(g)), np.zeros(len(g))
    if ws.has_column("outcomes", "achieved_at"):   # without it no outcome is known achieved: not measured
        o = ws.frame("outcomes")
        on_time = (o["achieved_at"].notna() & (o["achieved_at"] <= o["due_at"])).to_numpy()
        # an outcome counts from its due date, or from the day it was achieved if that was earlier
        counted = o["due_at"].where(~on_time, o["achieved_at"])
        ev = pd.DataFrame({"account_id": o["account_id"], "date": counted, "n": 1.0, "ok": on_time.astype(float)})
        sums = window_sums(g, ev, ["n", "ok"], keys=keys)
        with np.errstate(invalid="ignore", divide="ignore"):
            stated = np.where(sums["n"] > 0, sums["ok"] / sums["n"].where(sums["n"] > 0, 1), np.nan)
        counted_n, ok_n = sums["n"].to_numpy(), sums["ok"].to_numpy()
    if detail is not None:
        detail.update(outcomes_first_value=first_value, outcomes_stated=stated, outcomes_counted=counted_n,
                      outcomes_on_time=ok_n,
                      outcomes_first_value_at=np.where(reached, reached_at, np.datetime64("NaT")),
                      outcomes_first_value_due=(g["signed_at"] + pd.to_timedelta(due_days, unit="D")).to_numpy())
    return _blend({"first_value": first_value, "stated": stated}, w)


def _relationship(ws, g: pd.DataFrame, cfg: dict, counts: pd.DataFrame, detail: dict | None = None) -> np.ndarray:
    if not ws.has("contacts"):
        return np.full(len(g), np.nan)
    w = _parts(cfg, "relationship", ("contacts", "champion", "sponsor", "roles"))
    target = by_segment(cfg, "dimensions.relationship.contacts_for_full_marks", g["segment"])
    roles_full = number(cfg, "dimensions.relationship.roles_for_full_marks", minimum=1)
    roles = sum((counts[f"active_{r}"].to_numpy() > 0).astype(float) for r in signals.ROLES)
    parts = {"contacts": np.minimum(1.0, np.maximum(counts["active"].to_numpy(), 0) / target),
             "champion": (counts["active_champion"].to_numpy() > 0).astype(float),
             "sponsor": (counts["active_sponsor"].to_numpy() > 0).astype(float),
             "roles": np.minimum(1.0, roles / roles_full)}
    if not ws.has_column("contacts", "is_executive_sponsor"):   # not measured: the part drops out
        parts["sponsor"] = np.full(len(g), np.nan)
    if detail is not None:
        detail.update({f"relationship_{k}": v for k, v in parts.items()}, relationship_roles_active=roles,
                      relationship_contacts_full=target)
    return np.where(counts["known"].to_numpy() > 0, _blend(parts, w), np.nan)


# ---------------------------------------------------------------------------- accounts still onboarding
ONBOARDING_DONE = ("onboarding_complete", "handover")


def _plan_settings(cfg: dict) -> tuple[dict[str, float], float, float]:
    """(milestone -> due share of the onboarding window, allowance days, late grace days)."""
    raw = (cfg.get("onboarding") or {}).get("plan")
    if not isinstance(raw, dict) or not raw or not set(raw) <= set(MILESTONES):
        raise BadInput(_SOURCE, "onboarding.plan", "must map milestones (" + ", ".join(MILESTONES) + ") to the share "
                       "of the onboarding window by which each is due")
    plan = {m: number(cfg, f"onboarding.plan.{m}", minimum=0) for m in MILESTONES if m in raw}
    if any(v > 1 for v in plan.values()):
        raise BadInput(_SOURCE, "onboarding.plan", "shares must be within 0..1 (1 = the window's last day)")
    return (plan, number(cfg, "onboarding.allowance_days", minimum=0),
            number(cfg, "onboarding.late_grace_days", minimum=1e-9))


def _window_days(ws, g: pd.DataFrame) -> np.ndarray:
    """Each row's onboarding window in days: ``onboarding_due_at`` − ``signed_at`` when the account
    has a due date, else its segment's window from params/targets.yaml."""
    days = g["segment"].astype(object).map(kpi_settings().window_for).to_numpy(dtype="float64")
    acc = ws.frame("accounts")
    if "onboarding_due_at" in acc:
        due = acc.set_index(acc["account_id"].astype(object))["onboarding_due_at"]
        due = due.reindex(g["account_id"].astype(object).to_numpy()).to_numpy(dtype="datetime64[ns]")
        own = (due - g["signed_at"].to_numpy(dtype="datetime64[ns]")).astype("timedelta64[D]").astype("float64")
        days = np.where(np.isnat(due), days, own)
    return days


def onboarding_plan(ws, g: pd.DataFrame, cfg: dict | None = None) -> dict[str, np.ndarray]:
    """Where each (account, date) row of ``g`` stands against its segment's onboarding plan.

    A row is ``onboarding`` while neither ``onboarding_complete`` nor ``handover`` is reached by
    the date and the days since signature are at most the window plus ``allowance_days``
    (params/health.yaml ``onboarding``). Milestone m is due ``plan[m]`` × window days after
    signature (rounded up to a whole day); a due milestone reached by the date earns 1, one not reached earns
    1 − days late ÷ ``late_grace_days`` (at least 0). ``progress`` is the mean over the due
    milestones (1 when none is due yet: nothing is late). ``usage_expected`` once go_live is
    reached or due. Also ``late_milestone`` (the most overdue unreached one, or None),
    ``late_days``, ``window_days``. Only milestones dated on or before each row's date count.
    """
    cfg = load_settings() if cfg is None else cfg
    plan, allowance, grace = _plan_settings(cfg)
    date = g["date"].to_numpy(dtype="datetime64[ns]")
    tenure = (date - g["signed_at"].to_numpy(dtype="datetime64[ns]")).astype("timedelta64[D]").astype("float64")
    window = _window_days(ws, g)
    ms = ws.frame("milestones")
    first = ms.groupby(["account_id", "milestone"], observed=True)["reached_at"].min()
    ids = g["account_id"].astype(object).to_numpy()

    def reached(m: str) -> np.ndarray:
        at = first.xs(m, level="milestone") if m in first.index.get_level_values("milestone") else first.iloc[:0]
        at.index = at.index.astype(object)
        return at.reindex(ids).to_numpy(dtype="datetime64[ns]") <= date

    done = np.zeros(len(g), dtype=bool)
    for m in ONBOARDING_DONE:
        done |= reached(m)
    credit = np.full((len(g), len(plan)), np.nan)
    late = np.full((len(g), len(plan)), -np.inf)
    for i, (m, share) in enumerate(plan.items()):
        got, due_day = reached(m), np.ceil(share * window - 1e-9)
        over = tenure - due_day
        credit[:, i] = np.where(got, 1.0, np.where(over >= 0, np.clip(1 - over / grace, 0, 1), np.nan))
        late[:, i] = np.where(~got & (over > 0), over, -np.inf)
    n_due = (~np.isnan(credit)).sum(axis=1)
    progress = np.where(n_due > 0, np.nansum(credit, axis=1) / np.maximum(n_due, 1), 1.0)
    worst = late.argmax(axis=1)
    late_days = late[np.arange(len(g)), worst]
    names = np.asarray(list(plan), dtype=object)[worst]
    live_day = np.ceil(plan.get("go_live", 0.0) * window - 1e-9)
    if "go_live" in first.index.get_level_values("milestone"):
        at = first.xs("go_live", level="milestone")
        at.index = at.index.astype(object)
        at = at.reindex(ids).to_numpy(dtype="datetime64[ns]")
        went = (at - g["signed_at"].to_numpy(dtype="datetime64[ns]")).astype("timedelta64[D]").astype("float64")
        live_day = np.where((at <= date), np.minimum(went, live_day), live_day)
    usage_days = tenure - live_day
    return {"onboarding": ~done & (tenure <= window + allowance), "progress": progress,
            "usage_expected": usage_days >= 0, "usage_days": np.where(usage_days >= 0, usage_days, np.nan),
            "late_milestone": np.where(np.isfinite(late_days), names, None),
            "late_days": np.where(np.isfinite(late_days), late_days, np.nan), "window_days": window}


def _stage_aware(ws, g: pd.DataFrame, out: pd.DataFrame, cfg: dict, parts: dict, detail: dict | None) -> None:
    """Rows still onboarding are measured against the plan (in place): outcomes = plan progress;
    adoption = 1 until usage is expected (go_live reached or due), then moving linearly over
    ``usage_ramp_days`` to the usual formula without breadth (modules are still being rolled
    out; depth and frequency already compare with accounts of the same segment and tenure band)."""
    plan = onboarding_plan(ws, g, cfg)
    ob = plan["onboarding"]
    weights = {k: float(v) for k, v in cfg["dimensions"]["adoption"]["parts"].items()
               if k != "breadth" and f"adoption_{k}" in parts}
    early = _blend({k: np.asarray(parts[f"adoption_{k}"], dtype="float64") for k in weights}, weights) \
        if weights and sum(weights.values()) > 0 else out["adoption"].to_numpy(dtype="float64")
    ramp = number(cfg, "onboarding.usage_ramp_days", minimum=1e-9)
    expect = np.clip(np.nan_to_num(plan["usage_days"], nan=0.0) / ramp, 0.0, 1.0)   # 0 until usage is expected
    early = 1.0 - expect + expect * early        # more use never scores lower: the weight on `early` is >= 0
    out["adoption"] = np.where(ob, early, out["adoption"].to_numpy(dtype="float64"))
    out["outcomes"] = np.where(ob, plan["progress"], out["outcomes"].to_numpy(dtype="float64"))
    out["onboarding"] = ob
    out["plan_progress"] = np.where(ob, plan["progress"], np.nan)
    if detail is not None:
        detail.update(plan_usage_expected=plan["usage_expected"], plan_usage_days=plan["usage_days"],
                      plan_late_milestone=np.where(ob, plan["late_milestone"], None),
                      plan_late_days=np.where(ob, plan["late_days"], np.nan), plan_window_days=plan["window_days"])


def _dimensions(ws, adopt: pd.DataFrame, cfg: dict, detail: dict | None = None, *,
                engine=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Dimension scores for every row of the adoption frame; also the contact counts (reused).
    ``detail``, when given, receives the parts of each dimension (see :func:`dimension_parts`).
    ``engine`` runs the adoption's recency-weighted usage query (None: DuckDB)."""
    acc = ws.frame("accounts")[["account_id", "signed_at", "name", "csm", "arr", "contracted_modules"]]
    adopt = adopt.drop(columns=[c for c in ("contracted_modules",) if c in adopt])
    g = adopt.merge(acc, on="account_id", how="left").reset_index(drop=True)
    g = _usage_evidence(ws, g, cfg, engine)
    keys = grid_keys(g)
    counts = contact_counts(ws, g, keys=keys)
    out = g[["account_id", "date"]].copy()
    parts: dict = {} if detail is None else detail         # the adoption parts feed _stage_aware
    out["adoption"] = _adoption(g, cfg, parts)
    out["engagement"] = _engagement(ws, g, cfg, keys, detail)
    out["sentiment"] = _sentiment(ws, g, cfg, keys, detail)
    out["outcomes"] = _outcomes(ws, g, cfg, keys, detail)
    out["relationship"] = _relationship(ws, g, cfg, counts, detail)
    _stage_aware(ws, g, out, cfg, parts, detail)
    return out, counts


def _dates(dates) -> list[pd.Timestamp]:
    if isinstance(dates, (str, pd.Timestamp)) or not isinstance(dates, Iterable):
        dates = [dates]
    try:
        return sorted({pd.Timestamp(d).normalize() for d in dates})
    except (TypeError, ValueError) as exc:
        raise BadInput("dates", None, f"must be dates (YYYY-MM-DD): {exc}") from None


def dimension_scores(ws, dates, *, engine=None) -> pd.DataFrame:
    """The five health dimensions per live account and date.

    Returns one row per (``account_id``, ``date``) for every account signed on or before the date
    and not churned by it, with ``adoption``, ``engagement``, ``sentiment``, ``outcomes`` and
    ``relationship`` as fractions 0..1 (NaN where the dimension has no data at all for that
    account and date: see docs/health.md). Only facts dated on or before each date are used.
    All dates share the same two usage queries; ``engine=None`` uses DuckDB.
    """
    cfg = load_settings()
    adopt = adoption_signals(ws, _dates(dates), engine=engine)
    dims, _ = _dimensions(ws, adopt, cfg, engine=engine)
    return dims.sort_values(["date", "account_id"], kind="stable").reset_index(drop=True)


def dimension_parts(ws, dates, *, engine=None) -> pd.DataFrame:
    """The five dimensions with the parts that build them, per live account and date.

    The rows and dimension columns of :func:`dimension_scores`, computed by the same code, plus
    the adoption signals (``contracted_modules``: the modules entitled that day, ``breadth``,
    ``depth``, ``frequency``, ``bench_depth``, ``bench_frequency``, ``bench_basis``) and each part as ``<dim>_<part>``
    (0..1, NaN when it drops out): adoption breadth/depth/frequency with
    ``adoption_depth_index`` (actions per active user ÷ the norm of the modules used),
    ``adoption_active_share`` and ``adoption_bench_active_share``; engagement
    recency/response/attendance with ``engagement_days`` (since the last two-way touch),
    ``engagement_outbound``/``_answered``/``_scheduled``/``_attended`` (counts in the window) and
    ``engagement_w_outbound``/``_w_answered``/``_w_scheduled``/``_w_attended`` (the
    recency-weighted counts behind the rates); ``sentiment_responses`` and ``sentiment_weight``
    (Σ recency weight); outcomes first_value/stated with ``outcomes_counted``,
    ``outcomes_on_time``, ``outcomes_first_value_at``/``_due``; relationship
    contacts/champion/sponsor/roles with ``relationship_roles_active``,
    ``relationship_contacts_full`` and the contact counts (``active``, ``active_champion``,
    ``active_sponsor``, ...). A part whose table is absent is NaN. Two usage queries (the
    28-day windows and the recency-weighted usage).
    """
    absent = ("engagement_recency", "engagement_response", "engagement_attendance", "engagement_days",
              "engagement_outbound", "engagement_answered", "engagement_scheduled", "engagement_attended",
              "engagement_w_outbound", "engagement_w_answered", "engagement_w_scheduled", "engagement_w_attended",
              "sentiment_responses", "sentiment_weight", "relationship_contacts", "relationship_champion",
              "relationship_sponsor",
              "relationship_roles", "relationship_roles_active", "relationship_contacts_full")
    cfg = load_settings()
    adopt = adoption_signals(ws, _dates(dates), engine=engine)
    detail: dict = {}
    dims, counts = _dimensions(ws, adopt, cfg, detail, engine=engine)
    acc = ws.frame("accounts")[["account_id", "contracted_modules"]]
    sig = adopt[["account_id", "date", "breadth", "depth", "frequency", "bench_depth", "bench_frequency",
                 "bench_basis"]]
    sig = sig.merge(acc, on="account_id", how="left")
    sig["contracted_modules"] = entitled_modules(ws, sig)        # breadth's denominator that day
    sig = sig.drop(columns=["account_id", "date"])
    parts = pd.DataFrame({k: np.asarray(v) for k, v in detail.items()}, index=dims.index)
    parts = parts.reindex(columns=[*parts.columns, *(c for c in absent if c not in parts)])
    out = pd.concat([dims, sig.set_axis(dims.index), parts, counts.set_axis(dims.index)], axis=1)
    return out.sort_values(["date", "account_id"], kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------- score and colour
def _weights(weights) -> Weights:
    if isinstance(weights, Weights):
        return weights
    return resolve(weights)


def score_dimensions(dims: pd.DataFrame, weights=None, *, policy: str | None = None) -> pd.DataFrame:
    """Score, coverage, colour and points per dimension for a frame of dimension scores.

    ``dims`` holds the five dimension columns (0..1, NaN = no data). Returns a copy with
    ``score`` (0..100), ``coverage`` (share 0..1 of the weight backed by data),
    ``computed_colour`` (by the weights' thresholds; None when no dimension has data) and
    ``points_<dim>`` (each dimension's part of the score, in points; they sum to the score).
    ``weights`` is a :class:`~workbook.weights.Weights`, a weights file path, or None (active).
    ``policy`` is ``redistribute`` or ``zero`` (default: params/health.yaml ``missing_data``).
    The arithmetic is :func:`workbook.scoring.points`, the colour :func:`workbook.scoring.colours`.
    Rows whose ``onboarding`` column is true use the weights' onboarding section when it has one.
    """
    w = _weights(weights)
    x = dims[list(DIMENSIONS)].to_numpy(dtype="float64")
    policy = policy or missing_data_policy()
    points, score, coverage = scoring.points(x, w, policy)
    if w.onboarding is not None and "onboarding" in dims:
        ob = dims["onboarding"].fillna(False).to_numpy(dtype=bool)
        if ob.any():
            points[ob], score[ob], coverage[ob] = scoring.points(x[ob], w.onboarding, policy)
    out = dims.copy()
    out["score"] = score
    out["coverage"] = np.round(coverage, 12)
    out["computed_colour"] = colours(score, w)
    for i, d in enumerate(DIMENSIONS):
        out[f"points_{d}"] = points[:, i]
    return out


def colours(score, weights: Weights) -> pd.Series:
    """``green`` / ``amber`` / ``red`` per score by the weights' thresholds (<NA> for NaN), as a
    string Series (:func:`workbook.scoring.colours`)."""
    return pd.Series(scoring.colours(score, weights.green, weights.amber), dtype="string")


def lowest_dimension(dims: pd.DataFrame, weights: Weights) -> pd.Series:
    """The lowest-scoring dimension with data and a weight > 0 (ties: the larger weight, then the
    order adoption, engagement, sentiment, outcomes, relationship); None when none has data."""
    cand = [d for d in sorted(DIMENSIONS, key=lambda d: (-weights.weights[d], DIMENSIONS.index(d)))
            if weights.weights[d] > 0]
    if not cand:
        return pd.Series([None] * len(dims), index=dims.index, dtype="string")
    x = dims[cand].to_numpy(dtype="float64")
    filled = np.where(np.isnan(x), np.inf, x)
    idx = filled.argmin(axis=1)
    out = np.asarray(cand, dtype=object)[idx]
    out = np.where(np.isinf(filled.min(axis=1)), None, out)
    return pd.Series(out, index=dims.index, dtype="string")


def renewal_probability(score, weights: Weights) -> np.ndarray | None:
    """1 − churn_probability[round(score)] from the weights' calibration map, or None without one.

    The map is ``calibration: {horizon_days, churn_probability: [p_0, ..., p_100]}`` in the
    weights YAML (101 fractions 0..1, index = integer score; halves round up).
    """
    cal = weights.meta.get("calibration")
    if cal is None:
        return None
    probs = cal.get("churn_probability") if isinstance(cal, dict) else None
    src = weights.path or "weights"
    if not isinstance(probs, list) or len(probs) != 101:
        raise BadInput(src, "calibration.churn_probability", "must list 101 probabilities (scores 0..100)")
    try:
        p = np.asarray([float(v) for v in probs])
    except (TypeError, ValueError):
        raise BadInput(src, "calibration.churn_probability", "must hold numbers") from None
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise BadInput(src, "calibration.churn_probability", "must hold fractions within 0..1")
    s = np.asarray(score, dtype="float64")
    idx = np.clip(np.floor(np.nan_to_num(s) + 0.5), 0, 100).astype(int)
    return np.where(np.isnan(s), np.nan, 1.0 - p[idx])


def measured(table: pd.DataFrame) -> dict:
    """Which dimensions this source measures, for a frame with the five dimension columns and
    ``coverage`` (a health table or history).

    Returns ``{"measured": [...], "unmeasured": [...], "coverage": mean coverage 0..1 (None
    when the frame is empty), "unscored": accounts without a score}``. A dimension is measured
    when at least one row has a value for it; an unmeasured one has no data in the source (or
    none for any live account), so its weight was spread over the measured ones.
    """
    dims = [d for d in DIMENSIONS if d in table]
    have = [d for d in dims if table[d].notna().any()]
    cov = table["coverage"].astype("float64") if "coverage" in table else pd.Series(dtype="float64")
    unscored = int(table["score"].isna().sum()) if "score" in table else 0
    return {"measured": have, "unmeasured": [d for d in dims if d not in have],
            "coverage": None if cov.dropna().empty else float(cov.mean()), "unscored": unscored}


def measured_text(table: pd.DataFrame) -> str:
    """``measured: adoption, outcomes (coverage 50 %) — engagement, sentiment, relationship have no
    data in this source`` (plain text); just the measured list and coverage when all five are."""
    m = measured(table)
    cov = "coverage n/a" if m["coverage"] is None else f"coverage {_pct(m['coverage'])}"
    text = f"measured: {', '.join(m['measured']) or 'none'} ({cov})"
    if m["unmeasured"]:
        verb = "has" if len(m["unmeasured"]) == 1 else "have"
        text += f" — {', '.join(m['unmeasured'])} {verb} no data in this source"
    if m["unscored"]:
        text += (f"; {m['unscored']:,} account{'s' if m['unscored'] != 1 else ''} not scored "
                 "(no weighted dimension has data)")
    return text


def _pct(share: float) -> str:
    """A share 0..1 as a whole percentage (``50 %``); never ``-0 %``."""
    return f"{abs(round(100 * share)):.0f} %"


# ---------------------------------------------------------------------------- overrides
OVERRIDE_COLUMNS = ["override_colour", "override_reason", "override_author", "override_set_at",
                    "override_expires_at"]


def active_overrides(ws, keys: pd.DataFrame) -> pd.DataFrame:
    """The active override per (account_id, date) of ``keys``: set_at <= date and expires_at null
    or later than the date; the latest set_at wins (a tie goes to the more cautious colour, red
    before amber before green). Returns ``keys`` with :data:`OVERRIDE_COLUMNS` (null when none)."""
    base = keys[["account_id", "date"]].reset_index(drop=True)
    if not ws.has("overrides"):
        for c in OVERRIDE_COLUMNS:
            base[c] = None
        return _override_types(base)
    o = ws.frame("overrides").rename(columns={"colour": "override_colour", "reason": "override_reason",
                                              "author": "override_author", "set_at": "override_set_at",
                                              "expires_at": "override_expires_at"})
    o["_severity"] = o["override_colour"].astype(object).map({"red": 0, "amber": 1, "green": 2})
    m = base.reset_index().merge(o, on="account_id", how="inner")
    live = (m["override_set_at"] <= m["date"]) & (m["override_expires_at"].isna() | (m["override_expires_at"] > m["date"]))
    m = m[live.to_numpy()].sort_values(["index", "override_set_at", "_severity"], ascending=[True, False, True],
                                       kind="stable")
    m = m.drop_duplicates("index").set_index("index")
    for c in OVERRIDE_COLUMNS:
        base[c] = m[c].reindex(base.index)
    return _override_types(base)


def colours_on(ws, table: pd.DataFrame, weights, day) -> pd.Series:
    """Each account's final colour on ``day``, the day the ``change_7d`` of ``table`` (a
    :func:`health_table`) looks back to: the colour of ``score − change_7d`` by the weights'
    thresholds, unless an override was active on ``day`` (:func:`active_overrides`); None when the
    account was not scored then. An object Series aligned with ``table``."""
    w = _weights(weights)
    before = (table["score"] - table["change_7d"]).to_numpy(dtype="float64", na_value=np.nan)
    computed = scoring.colours(before, w.green, w.amber)
    keys = pd.DataFrame({"account_id": table["account_id"].to_numpy(), "date": pd.Timestamp(day)})
    over = active_overrides(ws, keys)["override_colour"].astype(object).to_numpy()
    final = [None if c is None else o if isinstance(o, str) else c for o, c in zip(over, computed)]
    return pd.Series(final, index=table.index, dtype=object)


def _override_types(df: pd.DataFrame) -> pd.DataFrame:
    for c in ("override_colour", "override_reason", "override_author"):
        df[c] = df[c].astype("string")
    for c in ("override_set_at", "override_expires_at"):
        df[c] = pd.to_datetime(df[c]).astype("datetime64[ns]")
    return df


# ---------------------------------------------------------------------------- playbooks
def playbooks() -> dict:
    """``params/playbooks.yaml``: per colour ``review_every_days``, ``actions``, ``recommended_action``."""
    cfg = load_settings("playbooks")
    for colour in COLOURS:
        book = cfg.get(colour)
        if not isinstance(book, dict) or "recommended_action" not in book:
            raise BadInput("params/playbooks.yaml", colour, "must give review_every_days and recommended_action")
        number(cfg, f"{colour}.review_every_days", source="params/playbooks.yaml", minimum=1, integer=True)
        _check_template(str(book["recommended_action"]), f"{colour}.recommended_action")
    return cfg


PLAYBOOK_FIELDS = ("lowest_dimension", "outreach")


def _check_template(template: str, where: str) -> None:
    """A playbook text may use only the {fields} of PLAYBOOK_FIELDS; anything else is BadInput."""
    import string
    allowed = "use " + " or ".join("{" + f + "}" for f in PLAYBOOK_FIELDS)
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
        bad = next((f for f in fields if f not in PLAYBOOK_FIELDS), None)   # also {outreach.attr}
        if bad is None:
            template.format(**{f: "" for f in PLAYBOOK_FIELDS})
    except (ValueError, KeyError, IndexError) as exc:
        raise BadInput("params/playbooks.yaml", where, f"is not a valid template ({exc}): {allowed}, and write "
                       "a literal brace as {{ or }}") from None
    if bad is not None:
        raise BadInput("params/playbooks.yaml", where, f"unknown field {{{bad}}} in the template: {allowed}")


def _actions(colour: pd.Series, lowest: pd.Series, as_of: pd.Timestamp) -> tuple[pd.Series, pd.Series]:
    cfg = playbooks()
    outreach = cfg.get("outreach") or {}
    days = colour.astype(object).map({c: int(cfg[c]["review_every_days"]) for c in COLOURS})
    next_review = as_of + pd.to_timedelta(days.astype("float64"), unit="D")
    keys = pd.DataFrame({"c": colour.astype(object), "l": lowest.astype(object)})
    text = pd.Series([None] * len(keys), index=keys.index, dtype="object")
    for (c, low), idx in keys.groupby(["c", "l"], dropna=False).groups.items():   # a few colour x dimension pairs
        if not isinstance(c, str):
            continue
        template = str(cfg[c]["recommended_action"])
        name = low if isinstance(low, str) else "the lowest dimension"
        text[idx] = template.format(lowest_dimension=name, outreach=outreach.get(low, "targeted outreach"))
    return next_review.astype("datetime64[ns]"), text.astype("string")


# ---------------------------------------------------------------------------- the health table
TABLE_COLUMNS = ["account_id", "name", "segment", "csm", "arr", "score", "computed_colour", "colour",
                 "override_reason", "adoption", "engagement", "sentiment", "outcomes", "relationship",
                 "coverage", "lowest_dimension", "change_7d", "override_author", "override_set_at",
                 "override_expires_at", "lifecycle_stage", "days_in_stage", "archetypes", "decline_pattern",
                 "alert", "alert_reason", "next_review", "recommended_action", "weights_version", "as_of",
                 "onboarding", "plan_progress"]


def _as_of(ws, as_of) -> pd.Timestamp:
    return ws.default_as_of() if as_of is None else pd.Timestamp(as_of).normalize()


def _scored(ws, dates: list[pd.Timestamp], w: Weights, engine, cfg: dict, extra_dates=()):
    """Adoption rows for dates ∪ extra_dates (ONE usage query), dimensions and scores for all rows."""
    adopt = adoption_signals(ws, sorted(set(dates) | set(extra_dates)), engine=engine)
    dims, counts = _dimensions(ws, adopt, cfg, engine=engine)
    scored = score_dimensions(dims, w, policy=missing_data_policy())
    return adopt, scored, counts


def _arr_on(ws, acc: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """``acc`` with ``arr`` on ``as_of``: from the contracts active that day when the source has a
    ``contracts`` table (:func:`workbook.revenue.contract_state`), else ``accounts.arr``."""
    if not revenue.has_contracts(ws):
        return acc
    state = revenue.contract_state(ws, [as_of]).set_index("account_id")["arr"]
    state.index = state.index.astype(object)
    acc = acc.copy()
    acc["arr"] = state.reindex(acc["account_id"].astype(object).to_numpy()).to_numpy(dtype="float64")
    return acc


def health_table(ws, as_of=None, weights=None, engine=None) -> pd.DataFrame:
    """One row per live account on ``as_of``: the health score and everything that explains it.

    Columns (SPEC section 8 first): ``account_id, name, segment, csm, arr, score`` (0..100),
    ``computed_colour`` (the formula's), ``colour`` (final: an active override wins),
    ``override_reason``, the five dimensions (0..1), ``coverage`` (0..1), ``lowest_dimension``,
    ``change_7d`` (points since 7 days before; NaN when the account was not live then), then
    ``override_author``, ``override_set_at``, ``override_expires_at``, ``lifecycle_stage``,
    ``days_in_stage``, ``archetypes`` (comma-separated), ``decline_pattern``, ``alert`` and
    ``alert_reason``, ``next_review`` (date), ``recommended_action``, ``weights_version``,
    ``as_of`` and, when the weights carry a calibration map, ``renewal_probability`` (0..1),
    then ``onboarding`` and ``plan_progress`` (accounts still onboarding: docs/health.md).
    ``arr`` is the ARR on ``as_of``: from the contracts active that day when the source has a
    ``contracts`` table (the high-value alerts use it too), else ``accounts.arr``.

    ``as_of`` defaults to the latest usage date; ``weights`` is a Weights, a file path or None
    (the active version); ``engine=None`` uses DuckDB. One usage query serves the score, the
    7-day change, the alerts' weekly points and the 28-day decline windows.
    """
    cfg = load_settings()
    w = _weights(weights)
    as_of = _as_of(ws, as_of)
    change = number(cfg, "drivers.change_days", minimum=1, integer=True)
    weeks = number(cfg, "signals.alerts.weeks", minimum=1, integer=True)
    decline = number(cfg, "signals.decline_window_days", minimum=1, integer=True)
    past = [as_of - pd.Timedelta(days=7 * k) for k in range(1, weeks + 1)]
    extra = past + [as_of - pd.Timedelta(days=change), as_of - pd.Timedelta(days=decline)]
    adopt, scored, counts = _scored(ws, [as_of], w, engine, cfg, extra)

    now_mask = (scored["date"] == as_of).to_numpy()
    now = scored[now_mask].reset_index(drop=True)
    acc = _arr_on(ws, ws.frame("accounts")[["account_id", "name", "segment", "csm", "arr"]], as_of)
    now = now.merge(acc, on="account_id", how="left")
    before = scored.loc[scored["date"] == as_of - pd.Timedelta(days=change), ["account_id", "score"]]
    now = now.merge(before.rename(columns={"score": "_before"}), on="account_id", how="left")
    now["change_7d"] = now["score"] - now["_before"]
    now["lowest_dimension"] = lowest_dimension(now, w)

    ov = active_overrides(ws, now)
    now = pd.concat([now, ov[OVERRIDE_COLUMNS]], axis=1)
    now["colour"] = now["override_colour"].fillna(now["computed_colour"]).astype("string")

    now = _with_signals(ws, now, adopt, counts[now_mask], scored, acc, as_of)
    now["next_review"], now["recommended_action"] = _actions(now["colour"], now["lowest_dimension"], as_of)
    now["weights_version"] = w.label
    now["as_of"] = as_of
    cols = list(TABLE_COLUMNS)
    rp = renewal_probability(now["score"], w)
    if rp is not None:
        now["renewal_probability"] = rp
        cols.insert(cols.index("change_7d") + 1, "renewal_probability")   # after SPEC's columns
    out = now[cols].sort_values(["score", "account_id"], kind="stable").reset_index(drop=True)
    return out


def _with_signals(ws, now: pd.DataFrame, adopt: pd.DataFrame, counts: pd.DataFrame, scored: pd.DataFrame,
                  acc: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """``now`` with lifecycle stage, archetypes, decline pattern and alerts (from shared inputs)."""
    sig = signals.signal_frame(ws, now[["account_id", "date", "segment"]], adopt,
                               contacts=counts.reset_index(drop=True))
    for c in ("lifecycle_stage", "days_in_stage", "archetypes", "decline_pattern"):
        now[c] = sig[c].to_numpy()
    alerts = signals.score_alerts(scored[["account_id", "date", "score"]], as_of, accounts=acc)
    now = now.merge(alerts[["account_id", "alert", "alert_reason"]], on="account_id", how="left")
    now["alert"] = now["alert"].fillna(False).astype(bool)
    return now


# ---------------------------------------------------------------------------- history and drivers
def history_dates(start, end, freq: str | int = "W") -> list[pd.Timestamp]:
    """The points of a history: ``W`` = every 7 days back from ``end`` (not before ``start``),
    ``D`` = daily, ``M`` = month ends (and ``end``), or an integer step in days back from ``end``."""
    start, end = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    if end < start:
        raise BadInput("start", None, f"must be on or before end ({start:%Y-%m-%d} > {end:%Y-%m-%d})")
    if freq in ("M", "ME"):
        pts = list(pd.date_range(start, end, freq="ME")) + [end]
        return sorted(set(pts))
    step = {"W": 7, "D": 1}.get(freq, freq) if isinstance(freq, str) else freq
    if isinstance(step, str) or int(step) < 1:
        raise BadInput("freq", None, f"must be W, D, M or a number of days >= 1, got {freq!r}")
    n = (end - start).days // int(step)
    return [end - pd.Timedelta(days=int(step) * k) for k in range(n, -1, -1)]


def history(ws, start, end, freq: str | int = "W", *, weights=None, engine=None,
            accounts: Iterable[str] | None = None) -> pd.DataFrame:
    """Score history: one row per live account and point (see :func:`history_dates`).

    Columns ``account_id, date``, the five dimensions (0..1), ``score`` (0..100), ``coverage``,
    ``computed_colour``, ``colour`` (with the override active on that date), ``override_reason``
    and ``override_author``. All points share one usage query; ``accounts`` limits the output.
    """
    cfg = load_settings()
    w = _weights(weights)
    pts = history_dates(start, end, freq)
    _, scored, _ = _scored(ws, pts, w, engine, cfg)
    if accounts is not None:
        scored = scored[scored["account_id"].isin(list(accounts))]
    scored = scored.reset_index(drop=True)
    ov = active_overrides(ws, scored)
    scored["colour"] = ov["override_colour"].fillna(scored["computed_colour"]).astype("string")
    scored["override_reason"] = ov["override_reason"]
    scored["override_author"] = ov["override_author"]
    cols = ["account_id", "date", *DIMENSIONS, "score", "coverage", "computed_colour", "colour",
            "override_reason", "override_author"]
    return scored[cols].sort_values(["date", "account_id"], kind="stable").reset_index(drop=True)


def drivers(ws, as_of=None, *, days: int | None = None, weights=None, engine=None,
            accounts: Iterable[str] | None = None) -> pd.DataFrame:
    """What moved each account's score over ``days`` (default 7) days, dimension by dimension.

    One row per account live on ``as_of``: ``account_id``, ``date``, ``previous_date``,
    ``score_before``, ``score``, ``change`` (points; NaN when not live ``days`` before) and
    ``contribution_<dim>`` for the five dimensions: the change in that dimension's points
    (effective weight × value × 100, with the missing-data policy applied on each date). The
    contributions sum to ``change``, so they form a waterfall (see :func:`waterfall`). Then
    ``computed_colour``, ``colour``, ``override_reason`` and ``override_author`` on ``as_of``.
    """
    cfg = load_settings()
    w = _weights(weights)
    as_of = _as_of(ws, as_of)
    days = number(cfg, "drivers.change_days", minimum=1, integer=True) if days is None else int(days)
    prev = as_of - pd.Timedelta(days=days)
    _, scored, _ = _scored(ws, [as_of, prev], w, engine, cfg)
    if accounts is not None:
        scored = scored[scored["account_id"].isin(list(accounts))]
    pcols = [f"points_{d}" for d in DIMENSIONS]
    now = scored[scored["date"] == as_of][["account_id", "date", "score", "computed_colour", *pcols]]
    before = scored[scored["date"] == prev][["account_id", "score", *pcols]]
    m = now.merge(before, on="account_id", how="left", suffixes=("", "_before"))
    out = pd.DataFrame({"account_id": m["account_id"], "date": m["date"], "previous_date": prev,
                        "score_before": m["score_before"], "score": m["score"],
                        "change": m["score"] - m["score_before"]})
    for d in DIMENSIONS:
        out[f"contribution_{d}"] = m[f"points_{d}"] - m[f"points_{d}_before"]
    ov = active_overrides(ws, out)
    out["computed_colour"] = m["computed_colour"].to_numpy()
    out["colour"] = ov["override_colour"].fillna(out["computed_colour"]).astype("string")
    out["override_reason"], out["override_author"] = ov["override_reason"], ov["override_author"]
    return out.sort_values("account_id", kind="stable").reset_index(drop=True)


def waterfall(driver_rows: pd.DataFrame, account_id: str) -> pd.DataFrame:
    """The waterfall of one account from :func:`drivers` output: rows ``step`` (score before, each
    dimension, score now), ``points`` (the step's value), ``start`` and ``end`` (bar ends)."""
    row = driver_rows[driver_rows["account_id"] == account_id]
    if row.empty:
        raise BadInput("account_id", None, f"no row for account {account_id!r}")
    r = row.iloc[0]
    steps, start = [("score before", float(r["score_before"]), 0.0, float(r["score_before"]))], float(r["score_before"])
    for d in DIMENSIONS:
        v = float(r[f"contribution_{d}"])
        steps.append((d, v, start, start + v))
        start += v
    steps.append(("score now", float(r["score"]), 0.0, float(r["score"])))
    return pd.DataFrame(steps, columns=["step", "points", "start", "end"])
