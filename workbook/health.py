"""The customer health score (SPEC section 5): five dimensions, score, colour, overrides,
playbooks, drivers and history.

Per account and day, for accounts signed on or before the day and not churned by it::

    dims   = health.dimension_scores(ws, dates)          # 0..1 per dimension, many dates at once
    table  = health.health_table(ws, as_of)              # one row per account: score, colour, ...
    hist   = health.history(ws, start, end)              # weekly points
    why    = health.drivers(ws, as_of)                   # change over 7 days, per dimension

Every formula and constant is documented in ``docs/health.md``; the constants live in
``params/health.yaml`` and the playbooks in ``params/playbooks.yaml``. Usage is read through
:func:`workbook.adoption.adoption_signals` (one usage query for all dates, on any engine); the
small tables are handled with vectorised as-of look-ups (:mod:`workbook.signals`).
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from . import scoring, signals
from .adoption import adoption_signals
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


def _adoption(g: pd.DataFrame, cfg: dict, detail: dict | None = None) -> np.ndarray:
    w = _parts(cfg, "adoption", ("breadth", "depth", "frequency"))
    floor = number(cfg, "dimensions.adoption.benchmark_floor", minimum=0)
    full = number(cfg, "dimensions.adoption.benchmark_full", minimum=0)
    if full <= floor:
        raise BadInput(_SOURCE, "dimensions.adoption.benchmark_full", "must be above benchmark_floor")
    parts = {"breadth": np.clip(np.nan_to_num(g["breadth"].to_numpy(dtype="float64")), 0, 1),
             "depth": _ratio_to_benchmark(g["depth"].to_numpy(), g["bench_depth"].to_numpy(), floor, full),
             "frequency": _ratio_to_benchmark(g["frequency"].to_numpy(), g["bench_frequency"].to_numpy(),
                                              floor, full)}
    if detail is not None:
        detail.update({f"adoption_{k}": v for k, v in parts.items()})
    return _blend(parts, w)


def _engagement(ws, g: pd.DataFrame, cfg: dict, keys: GridKeys, detail: dict | None = None) -> np.ndarray:
    if not ws.has("touchpoints"):
        return np.full(len(g), np.nan)
    window = number(cfg, "dimensions.engagement.window_days", minimum=1, integer=True)
    full = number(cfg, "dimensions.engagement.recency_full_days", minimum=0)
    zero = number(cfg, "dimensions.engagement.recency_zero_days", minimum=0)
    if zero <= full:
        raise BadInput(_SOURCE, "dimensions.engagement.recency_zero_days", "must be above recency_full_days")
    w = _parts(cfg, "engagement", ("recency", "response", "attendance"))
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
    last = Timeline(keys, ev[two_way]).last()
    signed = g["signed_at"].to_numpy(dtype="datetime64[ns]")
    anchor = np.where(np.isnat(last) | (last < signed), signed, last)
    days = (g["date"].to_numpy(dtype="datetime64[ns]") - anchor).astype("timedelta64[D]").astype("float64")
    recency = np.clip((zero - days) / (zero - full), 0.0, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        response = np.where(out > 0, answered / np.where(out > 0, out, 1), np.nan)
        attendance = np.where(sched > 0, went / np.where(sched > 0, sched, 1), np.nan)
    value = _blend({"recency": recency, "response": response, "attendance": attendance}, w)
    if detail is not None:
        detail.update(engagement_recency=recency, engagement_response=response, engagement_attendance=attendance,
                      engagement_days=days, engagement_outbound=out, engagement_answered=answered,
                      engagement_scheduled=sched, engagement_attended=went)
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
    n, w, wv = sums["n"].to_numpy(), sums["w"].to_numpy(), sums["wv"].to_numpy()
    if detail is not None:
        detail["sentiment_responses"] = n
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n > 0.5) & (w > 0), np.clip(wv / np.where(w > 0, w, 1), 0, 1), np.nan)


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
    if ws.has("outcomes"):
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
    if detail is not None:
        detail.update({f"relationship_{k}": v for k, v in parts.items()}, relationship_roles_active=roles,
                      relationship_contacts_full=target)
    return np.where(counts["known"].to_numpy() > 0, _blend(parts, w), np.nan)


def _dimensions(ws, adopt: pd.DataFrame, cfg: dict, detail: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Dimension scores for every row of the adoption frame; also the contact counts (reused).
    ``detail``, when given, receives the parts of each dimension (see :func:`dimension_parts`)."""
    acc = ws.frame("accounts")[["account_id", "signed_at", "name", "csm", "arr"]]
    g = adopt.merge(acc, on="account_id", how="left").reset_index(drop=True)
    keys = grid_keys(g)
    counts = contact_counts(ws, g, keys=keys)
    out = g[["account_id", "date"]].copy()
    out["adoption"] = _adoption(g, cfg, detail)
    out["engagement"] = _engagement(ws, g, cfg, keys, detail)
    out["sentiment"] = _sentiment(ws, g, cfg, keys, detail)
    out["outcomes"] = _outcomes(ws, g, cfg, keys, detail)
    out["relationship"] = _relationship(ws, g, cfg, counts, detail)
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
    All dates share one usage query; ``engine=None`` uses DuckDB.
    """
    cfg = load_settings()
    adopt = adoption_signals(ws, _dates(dates), engine=engine)
    dims, _ = _dimensions(ws, adopt, cfg)
    return dims.sort_values(["date", "account_id"], kind="stable").reset_index(drop=True)


def dimension_parts(ws, dates, *, engine=None) -> pd.DataFrame:
    """The five dimensions with the parts that build them, per live account and date.

    The rows and dimension columns of :func:`dimension_scores`, computed by the same code, plus
    the adoption signals (``contracted_modules``, ``breadth``, ``depth``, ``frequency``,
    ``bench_depth``, ``bench_frequency``, ``bench_basis``) and each part as ``<dim>_<part>``
    (0..1, NaN when it drops out): adoption breadth/depth/frequency; engagement
    recency/response/attendance with ``engagement_days`` (since the last two-way touch),
    ``engagement_outbound``/``_answered``/``_scheduled``/``_attended`` (counts in the window);
    ``sentiment_responses``; outcomes first_value/stated with ``outcomes_counted``,
    ``outcomes_on_time``, ``outcomes_first_value_at``/``_due``; relationship
    contacts/champion/sponsor/roles with ``relationship_roles_active``,
    ``relationship_contacts_full`` and the contact counts (``active``, ``active_champion``,
    ``active_sponsor``, ...). A part whose table is absent is NaN. One usage query.
    """
    absent = ("engagement_recency", "engagement_response", "engagement_attendance", "engagement_days",
              "engagement_outbound", "engagement_answered", "engagement_scheduled", "engagement_attended",
              "sentiment_responses", "relationship_contacts", "relationship_champion", "relationship_sponsor",
              "relationship_roles", "relationship_roles_active", "relationship_contacts_full")
    cfg = load_settings()
    adopt = adoption_signals(ws, _dates(dates), engine=engine)
    detail: dict = {}
    dims, counts = _dimensions(ws, adopt, cfg, detail)
    acc = ws.frame("accounts")[["account_id", "contracted_modules"]]
    sig = adopt[["account_id", "breadth", "depth", "frequency", "bench_depth", "bench_frequency", "bench_basis"]]
    sig = sig.merge(acc, on="account_id", how="left").drop(columns="account_id")
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
    """
    w = _weights(weights)
    points, score, coverage = scoring.points(dims[list(DIMENSIONS)].to_numpy(dtype="float64"), w,
                                             policy or missing_data_policy())
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
                 "alert", "alert_reason", "next_review", "recommended_action", "weights_version", "as_of"]


def _as_of(ws, as_of) -> pd.Timestamp:
    return ws.default_as_of() if as_of is None else pd.Timestamp(as_of).normalize()


def _scored(ws, dates: list[pd.Timestamp], w: Weights, engine, cfg: dict, extra_dates=()):
    """Adoption rows for dates ∪ extra_dates (ONE usage query), dimensions and scores for all rows."""
    adopt = adoption_signals(ws, sorted(set(dates) | set(extra_dates)), engine=engine)
    dims, counts = _dimensions(ws, adopt, cfg)
    scored = score_dimensions(dims, w, policy=missing_data_policy())
    return adopt, scored, counts


def health_table(ws, as_of=None, weights=None, engine=None) -> pd.DataFrame:
    """One row per live account on ``as_of``: the health score and everything that explains it.

    Columns (SPEC section 8 first): ``account_id, name, segment, csm, arr, score`` (0..100),
    ``computed_colour`` (the formula's), ``colour`` (final: an active override wins),
    ``override_reason``, the five dimensions (0..1), ``coverage`` (0..1), ``lowest_dimension``,
    ``change_7d`` (points since 7 days before; NaN when the account was not live then), then
    ``override_author``, ``override_set_at``, ``override_expires_at``, ``lifecycle_stage``,
    ``days_in_stage``, ``archetypes`` (comma-separated), ``decline_pattern``, ``alert`` and
    ``alert_reason``, ``next_review`` (date), ``recommended_action``, ``weights_version``,
    ``as_of`` and, when the weights carry a calibration map, ``renewal_probability`` (0..1).

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
    acc = ws.frame("accounts")[["account_id", "name", "segment", "csm", "arr"]]
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
