"""Why an account sits in its colour, and what would move it up one (SPEC section 5, issue 13).

::

    wb.explain(ws, "A00123")                 # one account: dimensions, signals, move_up, sentences
    explain.why_lines(ws, table)             # the one-line why of every account of a health table

Nothing here computes a dimension: the values and their parts come from
:func:`workbook.health.dimension_parts` (the code that scores them), the points and the score
arithmetic from :mod:`workbook.scoring`, the rest of the row (override, archetypes, alert,
playbook) from :func:`workbook.health.health_table`. This module picks the signals that pull a
score down and says them in words (docs/health.md, "Why an account sits where it is").
"""
from __future__ import annotations

import difflib
import math

import numpy as np
import pandas as pd

from . import health, scoring
from .adoption import adoption_settings
from .errors import BadInput
from .iofmt import jsonable
from .scoring import DIMENSIONS
from .signals import load_settings

CHANGE_DAYS = (7, 28)
MAX_REASONS = 3
# the parts of each dimension in the order of docs/health.md (ties go to the earlier part)
PARTS = {"adoption": ("breadth", "depth", "frequency"), "engagement": ("recency", "response", "attendance"),
         "sentiment": (), "outcomes": ("first_value", "stated"),
         "relationship": ("contacts", "champion", "sponsor", "roles")}


# ---------------------------------------------------------------------------- shared inputs
def _settings() -> dict:
    """The constants the words need: part weights (normalised), windows, benchmark ratios."""
    cfg = load_settings()
    dims = cfg.get("dimensions") or {}
    out = {"parts": {}}
    for d, names in PARTS.items():
        raw = {k: float(v) for k, v in ((dims.get(d) or {}).get("parts") or {}).items() if k in names}
        total = sum(raw.values()) or 1.0
        out["parts"][d] = {k: raw.get(k, 0.0) / total for k in names}
    out["usage_days"] = adoption_settings().window_days
    out["touch_days"] = int(dims["engagement"]["window_days"])
    out["lookback_days"] = dims["sentiment"].get("lookback_days")
    out["floor"] = float(dims["adoption"]["benchmark_floor"])
    out["full"] = float(dims["adoption"]["benchmark_full"])
    out["depth_floor"] = float(dims["adoption"]["depth_floor"])
    out["depth_full"] = float(dims["adoption"]["depth_full"])
    return out


def _champion_left(ws, ids, as_of: pd.Timestamp) -> pd.Series:
    """Per account id: the latest day a champion left on or before ``as_of`` (NaT when none)."""
    idx = pd.Index(pd.Series(ids, dtype=object))
    if not ws.has("contacts"):
        return pd.Series(pd.NaT, index=idx, dtype="datetime64[ns]")
    c = ws.frame("contacts")
    gone = c[(c["role"] == "champion").fillna(False).to_numpy() & (c["left_at"] <= as_of).fillna(False).to_numpy()]
    last = gone.groupby(gone["account_id"].astype(object))["left_at"].max()
    return last.reindex(idx).astype("datetime64[ns]")


def _points(frame: pd.DataFrame, w) -> tuple[np.ndarray, np.ndarray]:
    """Points per dimension and the most each could give (its value at 1), by scoring.points;
    rows still onboarding with the weights' onboarding section (:func:`_row_weights`)."""
    x = frame[list(DIMENSIONS)].to_numpy(dtype="float64")
    pol = health.missing_data_policy()
    ob = frame["onboarding"].fillna(False).to_numpy(dtype=bool) if "onboarding" in frame else np.zeros(len(x), bool)
    pts, full = np.empty_like(x), np.empty_like(x)
    for rows, weights in ((~ob, w.weights), (ob, w.for_onboarding())):
        pts[rows] = scoring.points(x[rows], weights, pol)[0]
        full[rows] = scoring.points(np.where(np.isnan(x[rows]), np.nan, 1.0), weights, pol)[0]
    return pts, full


def _row_weights(r: dict, w) -> dict[str, int]:
    """The weights that score row ``r``: the onboarding section's while the account is onboarding."""
    return w.for_onboarding() if _flag(r.get("onboarding")) else w.weights


def _milestone(name) -> str:
    return str(name).replace("_", " ")


def _day(value) -> str | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d")


def _text(value) -> str:
    return "" if value is None or pd.isna(value) else str(value)


def _flag(value) -> bool:
    return False if value is None or pd.isna(value) else bool(value)


def _n(value) -> int:
    return int(round(float(value)))


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


# ---------------------------------------------------------------------------- words per dimension
def _weakest(r: dict, dim: str, cfg: dict) -> str | None:
    """The part of ``dim`` that loses the most (part weight × (1 − part)); None when none loses."""
    best, lost = None, 1e-12
    for p, pw in cfg["parts"][dim].items():
        if dim == "adoption" and p == "breadth" and _flag(r.get("onboarding")):
            continue                                   # not counted while onboarding
        v = r.get(f"{dim}_{p}")
        if v is None or pd.isna(v):
            continue
        if pw * (1 - float(v)) > lost:
            best, lost = p, pw * (1 - float(v))
    return best


def _phrase(r: dict, dim: str, cfg: dict, bare: bool = False) -> str:
    """What pulls ``dim`` down for row ``r``, in a few words (its weakest part, with numbers);
    ``bare`` leaves out the ``adoption 0.31 (...)`` wrapper (when the value was just said)."""
    v, part = float(r[dim]), _weakest(r, dim, cfg)
    if _flag(r.get("onboarding")) and dim == "outcomes":
        late = r.get("plan_late_milestone")
        if late is None or pd.isna(late):
            return "on the onboarding plan"
        return f"{_milestone(late)} {_n(r['plan_late_days'])} days late against the onboarding plan"
    if _flag(r.get("onboarding")) and dim == "adoption" and not _flag(r.get("plan_usage_expected")):
        return "usage not expected before go live"
    if dim == "adoption":
        if part == "depth":
            why = f"actions per active user at {_index(r):.2f} x the norm of its modules"
        elif part == "frequency":
            why = (f"active on {_pct(r['adoption_active_share'])} of recent days vs cohort "
                   f"{_pct(r['adoption_bench_active_share'])}")
        else:
            why = f"{_modules_used(r)} of {_n(r['contracted_modules'])} modules in {cfg['usage_days']} days"
        return why if bare else f"adoption {v:.2f} ({why})"
    if dim == "engagement":
        if part == "response":
            touches = _plural(_n(r["engagement_outbound"]), "outbound touch", "outbound touches")
            return f"{_n(r['engagement_answered'])} of {touches} answered in {cfg['touch_days']} days"
        if part == "attendance":
            return (f"{_n(r['engagement_attended'])} of {_plural(_n(r['engagement_scheduled']), 'scheduled meeting')} "
                    f"attended in {cfg['touch_days']} days")
        return f"no two-way touch for {_n(r['engagement_days'])} days"
    if dim == "sentiment":
        look = f" in {cfg['lookback_days']} days" if cfg["lookback_days"] else ""
        said = f"{_plural(_n(r['sentiment_responses']), 'survey response')}{look}"
        return said if bare else f"sentiment {v:.2f} over {said}"
    if dim == "outcomes":
        if part == "first_value":
            return f"first value not reached (due {_day(r['outcomes_first_value_due'])})"
        return f"{_n(r['outcomes_on_time'])} of {_plural(_n(r['outcomes_counted']), 'outcome')} achieved on time"
    if part == "sponsor":
        return "no executive sponsor"
    if part == "contacts":
        return f"{_plural(_n(r['active']), 'active contact')} of {_n(r['relationship_contacts_full'])} for full marks"
    if part == "roles":
        return f"contacts in {_plural(_n(r['relationship_roles_active']), 'role')}"
    left = r.get("champion_left")
    return f"champion left {_day(left)}" if left is not None and not pd.isna(left) else "no champion"


def _modules_used(r: dict) -> int:
    return _n(float(r["breadth"]) * float(r["contracted_modules"]))


def _index(r: dict) -> float:
    """The depth index (actions per active user ÷ the norm of the modules used; 0 without use)."""
    v = r.get("adoption_depth_index")
    return 0.0 if v is None or pd.isna(v) else float(v)


def _finite(value) -> float | None:
    """``value`` as a float, None when missing or infinite (no norm to compare with)."""
    return None if value is None or pd.isna(value) or not math.isfinite(float(value)) else float(value)


def _pct(share) -> str:
    return f"{100 * float(share):.0f} %"


def _reasons(r: dict, lost: np.ndarray, cfg: dict, first: str | None = None) -> list[str]:
    """The phrases of the dimensions that lose the most points (``first`` leads), at most MAX_REASONS."""
    order = sorted((i for i, d in enumerate(DIMENSIONS) if lost[i] > 1e-9 and not pd.isna(r[d])),
                   key=lambda i: (-lost[i], i))
    dims = [DIMENSIONS[i] for i in order]
    if first in dims:
        dims.remove(first)
        dims.insert(0, first)
    return [_phrase(r, d, cfg, bare=(d == first)) for d in dims[:MAX_REASONS]]


def _override_text(r: dict) -> str | None:
    reason = r.get("override_reason")
    if reason is None or pd.isna(reason):
        return None
    return f"override {r['override_colour']} by {r['override_author']}: {reason}"


# ---------------------------------------------------------------------------- the one-line why
def why_lines(ws, table: pd.DataFrame, as_of=None, *, weights=None, engine=None) -> pd.Series:
    """The one-line why of every account of ``table`` (a :func:`workbook.health.health_table`).

    Returns a string Series indexed by ``account_id``: the two or three signals that pull the
    score down the most (dimensions ranked by points lost = the points the dimension would give
    at 1.0 minus those it gives), each in a few words with its numbers, then an active override's
    colour, author and reason; joined by ``; ``. Example: ``adoption 0.31 (2 of 6 modules in 28
    days); no two-way touch for 41 days; champion left 2026-10-02``. ``as_of`` defaults to the
    table's ``as_of`` (else the data's latest date). One usage query for every account.
    """
    if table is None or table.empty:
        return pd.Series([], dtype="string", index=pd.Index([], name="account_id"))
    if as_of is None:
        as_of = table["as_of"].iloc[0] if "as_of" in table else None
    as_of = health._as_of(ws, as_of)
    w = health._weights(weights)
    cfg = _settings()
    parts = health.dimension_parts(ws, [as_of], engine=engine)
    parts = parts[parts["account_id"].isin(table["account_id"])].reset_index(drop=True)
    parts["champion_left"] = _champion_left(ws, parts["account_id"], as_of).to_numpy()
    pts, full = _points(parts, w)
    ov = health.active_overrides(ws, parts[["account_id", "date"]])
    parts = pd.concat([parts, ov.drop(columns=["account_id", "date"])], axis=1)
    lines = {}
    for i, r in enumerate(parts.to_dict("records")):
        bits = _reasons(r, full[i] - pts[i], cfg)
        if (o := _override_text(r)) is not None:
            bits.append(o)
        lines[r["account_id"]] = "; ".join(bits) if bits else "every dimension at full marks"
    ids = table["account_id"].astype(object)
    return pd.Series([lines.get(a, "") for a in ids], index=pd.Index(ids, name="account_id"), dtype="string")


# ---------------------------------------------------------------------------- one account
def _find(ws, table: pd.DataFrame, account_id, as_of: pd.Timestamp) -> dict:
    """The health-table row of ``account_id``; BadInput naming it (with close matches) when absent."""
    hit = table[table["account_id"] == account_id]
    if len(hit):
        return hit.iloc[0].to_dict()
    known = [str(a) for a in ws.frame("accounts")["account_id"].astype(object)]
    close = difflib.get_close_matches(str(account_id), known, n=3)
    hint = f"; close matches: {', '.join(close)}" if close else ""
    if str(account_id) in known:
        rule = f"account {account_id!r} is not live on {as_of:%Y-%m-%d} (not signed yet, or churned)"
    else:
        rule = f"no account {account_id!r} in the accounts table{hint}"
    raise BadInput("account_id", None, rule)


def explain(ws, account_id, as_of=None, *, weights=None, engine=None, table: pd.DataFrame | None = None) -> dict:
    """A structured, JSON-able explanation of one live account on ``as_of`` (default: the data's
    latest date). ``table``: the :func:`workbook.health.health_table` of that day when the caller
    has it (else it is computed).

    Returns a dict: ``account`` (id, name, segment, csm, arr, signed_at, lifecycle_stage,
    days_in_stage), ``as_of``, ``score`` (0..100), ``colour`` (final), ``computed_colour``,
    ``coverage`` (0..1), ``weights_version``, ``thresholds`` ({green, amber}), ``dimensions``
    (per dimension in order: ``value`` 0..1 or None = no data, ``weight``, ``points``,
    ``change_7d``/``change_28d`` = {value, points} and ``signals``: the raw parts with the cohort
    benchmark where one exists), ``move_up`` (None when the formula's colour is green, else
    ``{target_colour, threshold, points_needed, dimensions: {dim: {value, needed, hint}}}``,
    ``needed`` None when even 1.0 is not enough), ``override`` (None or {colour, reason, author,
    set_at, expires_at}), ``archetypes`` (list), ``decline_pattern``, ``alert`` ({on, reason}),
    ``next_review``, ``recommended_action``, ``why`` (the one line of :func:`why_lines`) and
    ``sentences`` (plain language). Dates are ``YYYY-MM-DD``; missing values None.
    """
    if as_of is None and table is not None and "as_of" in table and len(table):
        as_of = table["as_of"].iloc[0]
    as_of = health._as_of(ws, as_of)
    w = health._weights(weights)
    if table is None or ("as_of" in table and len(table) and pd.Timestamp(table["as_of"].iloc[0]) != as_of):
        table = health.health_table(ws, as_of, w, engine)     # none given, or one of another day
    row = _find(ws, table, account_id, as_of)
    cfg = _settings()
    dates = [as_of, *(as_of - pd.Timedelta(days=k) for k in CHANGE_DAYS)]
    parts = health.dimension_parts(ws, dates, engine=engine)
    parts = parts[parts["account_id"] == account_id].reset_index(drop=True)
    pts, full = _points(parts, w)
    now_i = int(np.flatnonzero((parts["date"] == as_of).to_numpy())[0])
    r = parts.iloc[now_i].to_dict()
    r["champion_left"] = _champion_left(ws, [account_id], as_of).iloc[0]
    ov = health.active_overrides(ws, pd.DataFrame({"account_id": [account_id], "date": [as_of]})).iloc[0].to_dict()
    r.update({k: v for k, v in ov.items() if k.startswith("override_")})
    dims = {d: _dimension(r, d, i, _row_weights(r, w), pts, parts, now_i, as_of, cfg) for i, d in enumerate(DIMENSIONS)}
    lost = full[now_i] - pts[now_i]
    move = _move_up(r, row, w, cfg)
    signed = ws.frame("accounts").set_index("account_id").loc[account_id, "signed_at"]
    out = {
        "account": {"id": account_id, **{k: row.get(k) for k in ("name", "segment", "csm", "arr")},
                    "signed_at": signed,
                    "lifecycle_stage": row.get("lifecycle_stage"), "days_in_stage": row.get("days_in_stage")},
        "onboarding": _onboarding(r, signed, as_of),
        "as_of": as_of, "score": row["score"], "colour": row["colour"], "computed_colour": row["computed_colour"],
        "coverage": row["coverage"], "weights_version": w.label,
        "thresholds": {"green": w.green, "amber": w.amber},
        "dimensions": dims, "move_up": move, "override": _override(row),
        "archetypes": [a.strip() for a in _text(row.get("archetypes")).split(",") if a.strip()],
        "decline_pattern": _flag(row.get("decline_pattern")),
        "alert": {"on": _flag(row.get("alert")),
                  "reason": row.get("alert_reason") if _flag(row.get("alert")) else None},
        "next_review": row.get("next_review"), "recommended_action": row.get("recommended_action"),
    }
    reasons = _reasons(r, lost, cfg)
    out["why"] = "; ".join(reasons + ([_override_text(r)] if _override_text(r) else [])) or \
        "every dimension at full marks"
    reasons = _reasons(r, lost, cfg, first=row.get("lowest_dimension"))
    out["sentences"] = _sentences(out, row, reasons)
    return jsonable(out, strict=True)


def _dimension(r: dict, d: str, i: int, w, pts, parts: pd.DataFrame, now_i: int, as_of, cfg) -> dict:
    """One entry of ``dimensions``: value, weight, points, changes, signals."""
    value = r[d]
    out = {"value": value, "weight": w[d], "points": pts[now_i, i]}
    for k in CHANGE_DAYS:
        hit = np.flatnonzero((parts["date"] == as_of - pd.Timedelta(days=k)).to_numpy())
        if len(hit) and not np.isnan(pts[hit[0], i]):
            before = parts.iloc[hit[0]][d]
            out[f"change_{k}d"] = {"value": None if pd.isna(value) or pd.isna(before) else value - before,
                                   "points": pts[now_i, i] - pts[hit[0], i]}
        else:
            out[f"change_{k}d"] = {"value": None, "points": None}
    out["signals"] = _signals(r, d, cfg)
    return out


def _onboarding(r: dict, signed, as_of) -> dict | None:
    """None once the account is scored on the five dimensions; else where it stands on its plan."""
    if not _flag(r.get("onboarding")):
        return None
    late = r.get("plan_late_milestone")
    return {"day": int((pd.Timestamp(as_of) - pd.Timestamp(signed)).days),
            "window_days": _n(r["plan_window_days"]), "plan_progress": r["plan_progress"],
            "usage_expected": _flag(r.get("plan_usage_expected")),
            "late_milestone": None if late is None or pd.isna(late) else str(late),
            "late_days": None if late is None or pd.isna(late) else _n(r["plan_late_days"])}


def _signals(r: dict, d: str, cfg: dict) -> dict:
    """The raw parts of dimension ``d`` with their values (and the cohort benchmark)."""
    if pd.isna(r[d]):      # no data: the parts computed on nothing are not shown
        parts = {p: None for p in PARTS[d]}
    else:
        parts = {p: r.get(f"{d}_{p}") for p in PARTS[d]}
    if d == "adoption":
        return {"modules_used": _modules_used(r), "modules_contracted": _count(r["contracted_modules"]),
                "window_days": cfg["usage_days"], "actions_per_active_user_day": r["depth"],
                "cohort_actions_per_active_user_day": r["bench_depth"], "active_days": _count(r["frequency"]),
                "cohort_active_days": r["bench_frequency"], "benchmark_basis": r["bench_basis"],
                "depth_index": _finite(r.get("adoption_depth_index")),
                "active_share": r.get("adoption_active_share"),
                "cohort_active_share": r.get("adoption_bench_active_share"), "parts": parts}
    if d == "engagement":
        return {"days_since_two_way_touch": None if pd.isna(r[d]) else _count(r.get("engagement_days")),
                "window_days": cfg["touch_days"], "outbound_touches": _count(r.get("engagement_outbound")),
                "answered": _count(r.get("engagement_answered")),
                "scheduled_touches": _count(r.get("engagement_scheduled")),
                "attended": _count(r.get("engagement_attended")), "parts": parts}
    if d == "sentiment":
        return {"responses": _count(r.get("sentiment_responses")), "lookback_days": cfg["lookback_days"]}
    if d == "outcomes":
        return {"first_value_reached_at": r["outcomes_first_value_at"],
                "first_value_due_at": r["outcomes_first_value_due"],
                "outcomes_counted": _count(r["outcomes_counted"]), "outcomes_on_time": _count(r["outcomes_on_time"]),
                "parts": parts}
    return {"active_contacts": _count(r["active"]),
            "contacts_for_full_marks": _count(r.get("relationship_contacts_full")),
            "champion": bool(r["active_champion"] > 0), "champion_left_at": r["champion_left"],
            "executive_sponsor": bool(r["active_sponsor"] > 0), "roles": _count(r.get("relationship_roles_active")),
            "parts": parts}


def _count(value) -> int | None:
    return None if value is None or pd.isna(value) else _n(value)


def _override(row: dict) -> dict | None:
    if row.get("override_reason") is None or pd.isna(row.get("override_reason")):
        return None
    return {"colour": row["colour"], "reason": row["override_reason"], "author": row["override_author"],
            "set_at": row["override_set_at"], "expires_at": row["override_expires_at"]}


# ---------------------------------------------------------------------------- moving up a colour
def needed(values, dimension: str, threshold: float, weights, policy: str | None = None) -> float | None:
    """The value 0..1 ``dimension`` would need, the others held fixed, for the score to reach
    ``threshold`` (points), by the score arithmetic of :mod:`workbook.scoring`; None when even
    1.0 is not enough. ``values``: the five dimensions (mapping or sequence; NaN/None = no data).

    The score is linear in one dimension (with ``redistribute`` its effective weight is its
    weight ÷ the weight with data, and a dimension without data joins that total), so the value
    is found from the scores at 0 and 1 and rounded UP to 4 decimals. Example: v1 weights, full
    coverage, score 55 → amber (60) needs 5 points → adoption + 5/30 = + 0.1667.
    """
    if isinstance(values, dict):
        values = [values.get(d) for d in DIMENSIONS]
    x = np.array([[np.nan if v is None else float(v) for v in values]], dtype="float64")
    i = DIMENSIONS.index(dimension)
    pol = policy or health.missing_data_policy()
    lo, hi = x.copy(), x.copy()
    lo[0, i], hi[0, i] = 0.0, 1.0
    s0, s1 = scoring.score(lo, weights, pol)[0], scoring.score(hi, weights, pol)[0]
    if np.isnan(s1) or s1 < threshold or s1 <= s0:
        return None
    return max(0.0, math.ceil((threshold - s0) / (s1 - s0) * 1e4 - 1e-6) / 1e4)


def _move_up(r: dict, row: dict, w, cfg: dict) -> dict | None:
    """The value each dimension alone would need for the next colour up (:func:`needed`)."""
    colour, score = row.get("computed_colour"), row.get("score")
    if colour not in ("red", "amber") or pd.isna(score):
        return None
    target, threshold = ("amber", w.amber) if colour == "red" else ("green", w.green)
    out = {}
    for d in DIMENSIONS:
        value = needed({k: r[k] for k in DIMENSIONS}, d, threshold, _row_weights(r, w))
        out[d] = {"value": r[d], "needed": value, "hint": _hint(r, d, value, cfg)}
    return {"target_colour": target, "threshold": threshold, "points_needed": threshold - score, "dimensions": out}


def _hint(r: dict, d: str, needed: float | None, cfg: dict) -> str:
    """``adoption from 0.42 to 0.55: use 2 more contracted modules`` (plain text)."""
    value = r[d]
    now = "no data" if pd.isna(value) else f"{value:.2f}"
    if needed is None:
        return f"{d} from {now}: even 1.00 is not enough on its own"
    gap = needed - (0.0 if pd.isna(value) else float(value))
    return f"{d} from {now} to {needed:.2f}: {_action(r, d, gap, cfg)}"


def _action(r: dict, d: str, gap: float, cfg: dict) -> str:
    """What would close ``gap`` (in dimension value) for dimension ``d``, from its parts."""
    pw = cfg["parts"][d]
    if pd.isna(r[d]):
        return {"engagement": "a first two-way touch (an answered call or an attended meeting)",
                "sentiment": "a first survey response (NPS or CSAT) from a satisfied contact",
                "outcomes": "reach first value or a first stated outcome",
                "relationship": "name contacts: a champion and an executive sponsor"}.get(d, "more data")
    if d == "outcomes" and _flag(r.get("onboarding")):
        late = r.get("plan_late_milestone")
        return f"reach {_milestone(late)}" if late is not None and not pd.isna(late) else "keep to the onboarding plan"
    if d == "adoption" and _flag(r.get("onboarding")):
        return "use the product more often and more deeply (toward accounts of the same tenure)"
    if d == "adoption":
        contracted, used = _n(r["contracted_modules"]), _modules_used(r)
        k = math.ceil(gap * contracted / pw["breadth"] - 1e-9) if pw["breadth"] > 0 else contracted + 1
        if used + k <= contracted:
            return f"use {_plural(k, 'more contracted module')}"
        freq_gain = pw["frequency"] * (1 - float(r["adoption_frequency"]))
        bench = float(r["adoption_bench_active_share"])
        if gap <= freq_gain + 1e-9 and bench > 0:
            part = float(r["adoption_frequency"]) + gap / pw["frequency"]
            share = math.ceil(100 * bench * (cfg["floor"] + part * (cfg["full"] - cfg["floor"])) - 1e-9)
            return f"be active on {share} % of days (now {_pct(r['adoption_active_share'])})"
        if gap <= pw["depth"] * (1 - float(r["adoption_depth"])) + 1e-9 and math.isfinite(_index(r)):
            part = float(r["adoption_depth"]) + gap / pw["depth"]
            index = math.exp(math.log(cfg["depth_floor"]) + part * math.log(cfg["depth_full"] / cfg["depth_floor"]))
            target = math.ceil(100 * index - 1e-9) / 100
            return (f"use its modules more deeply: actions per active user at {target:.2f} x their norm "
                    f"(now {_index(r):.2f})")
        return "use more contracted modules, more often and more deeply (toward the cohort benchmark)"
    if d == "engagement":
        rec = r.get("engagement_recency")
        avail = sum(pw[p] for p in PARTS[d] if not pd.isna(r.get(f"engagement_{p}")))
        if not pd.isna(rec) and gap <= pw["recency"] / avail * (1 - rec) + 1e-9:
            return f"a two-way touch (the last was {_n(r['engagement_days'])} days ago)"
        return "a two-way touch, more answered outreach and attended reviews"
    if d == "outcomes":
        so_far = f"({_n(r['outcomes_on_time'])} of {_n(r['outcomes_counted'])} so far)"
        if r.get("outcomes_first_value") == 1.0:
            return f"achieve the next outcomes on time {so_far}"
        avail = sum(pw[p] for p in PARTS[d] if not pd.isna(r.get(f"outcomes_{p}")) or p == "first_value")
        if gap <= pw["first_value"] / avail + 1e-9:
            return "reach first value"
        return f"reach first value and achieve the next outcomes on time {so_far}"
    if d == "relationship":
        miss = [p for p in ("champion", "sponsor") if r.get(f"relationship_{p}") == 0]
        words = {"champion": "a champion", "sponsor": "an executive sponsor"}
        for combo in ([p] for p in miss):
            if gap <= pw[combo[0]] + 1e-9:
                return f"name {words[combo[0]]}"
        if len(miss) == 2 and gap <= pw["champion"] + pw["sponsor"] + 1e-9:
            return "name a champion and an executive sponsor"
        return "add active contacts across roles (with a champion and an executive sponsor)"
    return "better survey responses (follow up on the latest feedback)"


# ---------------------------------------------------------------------------- sentences
def _sentences(out: dict, row: dict, reasons: list[str]) -> list[str]:
    """Plain-language sentences from the numbers of an explanation (before JSON conversion)."""
    comp, score = out["computed_colour"], out["score"]
    if comp is None or pd.isna(score):
        return ["Not scored: no weighted dimension has data."]
    th = out["thresholds"]
    threshold = th["amber"] if comp == "red" else th["green"]
    low = row.get("lowest_dimension")
    first = f"{comp.capitalize()} (score {score:.1f}, threshold {threshold:g})"
    if isinstance(low, str) and out["dimensions"][low]["value"] < 1:
        first += f": {low} is the lowest dimension at {out['dimensions'][low]['value']:.2f}"
    lines = [first + (" — " + "; ".join(reasons) if reasons else "") + "."]
    if (ob := out.get("onboarding")) is not None:
        where = "on plan" if ob["late_milestone"] is None else \
            f"{_milestone(ob['late_milestone'])} is {_plural(ob['late_days'], 'day')} late"
        lines.append(f"Still onboarding (day {ob['day']} of a {ob['window_days']}-day window): scored against "
                     f"the onboarding plan, {where}.")
    missing = [d for d in DIMENSIONS if pd.isna(out["dimensions"][d]["value"])]
    if missing:
        verb = "has" if len(missing) == 1 else "have"
        lines.append(f"{', '.join(missing).capitalize()} {verb} no data: the weight is spread over the others "
                     f"(coverage {round(100 * out['coverage']):.0f} %).")
    if (o := out["override"]) is not None:
        until = f" until {_day(o['expires_at'])}" if _day(o["expires_at"]) else ""
        lines.append(f"Shown {o['colour']} by an override of {o['author']} set {_day(o['set_at'])}{until}: "
                     f"{o['reason']} (" + ("the formula's colour too" if o["colour"] == comp
                                           else f"the formula says {comp}") + ").")
    if out["move_up"] is not None:
        m = out["move_up"]
        ways = [v["hint"] for v in m["dimensions"].values() if v["needed"] is not None]
        lines.append(f"To reach {m['target_colour']} ({m['threshold']:g}) it needs {m['points_needed']:.1f} more "
                     "points: " + ("; or ".join(ways) if ways else "no single dimension can do it alone") + ".")
    ch = out["dimensions"]
    moved = {d: v["change_7d"]["points"] for d, v in ch.items() if v["change_7d"]["points"] is not None}
    if moved and not pd.isna(row.get("change_7d")) and abs(row["change_7d"]) < 0.05:
        lines.append("The score has not moved in 7 days.")
    elif moved and not pd.isna(row.get("change_7d")):
        d = max(moved, key=lambda k: (abs(moved[k]), -DIMENSIONS.index(k)))
        lines.append(f"Over 7 days the score moved {row['change_7d']:+.1f} points, most from {d} "
                     f"({moved[d]:+.1f}).")
    if out["next_review"] is not None and not pd.isna(out["next_review"]):
        lines.append(f"Next review {_day(out['next_review'])}: {out['recommended_action']}")
    return lines

