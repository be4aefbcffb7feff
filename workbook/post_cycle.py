"""Two-week improvement cycles: the metric in the cycle against a baseline, a bootstrap interval for
the difference, and a keep / reverse decision by a fixed rule.

The cycle is described in ``params/post_cycle.yaml`` (hypothesis, intervention, metric key, cycle
dates, optional baseline dates, cohort filter, next cycle). :func:`analyse` reads the per-member
values of the metric from the KPI layer (:func:`workbook.kpis.facts`: the same cohorts and the
same point-in-time rules as the weekly KPI table), splits them into the two windows and compares
their means.

**Windows.** The cycle is ``cycle_start … cycle_end`` (inclusive). The baseline defaults to the
same number of days right before it (``cycle_start − L … cycle_start − 1``, L the cycle length).
A member belongs to a window when the date that puts it in the KPI's cohort (first value reached,
onboarding due date, survey answer, ...) falls in it.

**Interval.** The difference is ``mean(cycle) − mean(baseline)`` in the metric's unit (fractions
for rates). Its interval is a percentile bootstrap: each replicate resamples the accounts of each
window independently, with replacement (a *cluster* bootstrap: an account's rows travel together,
which matters for survey metrics where one account answers several times), recomputes both means
and their difference; the interval is the (1 − confidence)/2 and (1 + confidence)/2 quantiles of
the replicate differences. Seeded, so a report re-renders to the same numbers.

**Decision rule.** With ``better`` the metric's direction (``higher`` or ``lower``):

- **keep** when the whole interval lies on the better side of zero (``low > 0`` for higher,
  ``high < 0`` for lower);
- **reverse** when the whole interval lies on the worse side;
- **inconclusive — extend** otherwise, and whenever either window has fewer than ``min_n``
  members or no data.

A zero inside the interval means the data cannot tell the change from noise: keeping or reversing
then would be a guess, so the cycle is extended.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import kpis as _kpis
from .errors import BadInput
from .periods import to_day

SOURCE = "params/post_cycle.yaml"
#: Fallbacks for keys that ``params/post_cycle.yaml`` leaves out (the file is where to change them).
DEFAULTS = {"replicates": 2000, "seed": 20261115, "confidence": 0.95, "min_n": 5}
DECISIONS = ("keep", "reverse", "inconclusive")


@dataclass(frozen=True)
class Cycle:
    """One improvement cycle as described in ``params/post_cycle.yaml`` (dates are midnight Timestamps)."""

    metric: str
    start: pd.Timestamp
    end: pd.Timestamp
    baseline_start: pd.Timestamp
    baseline_end: pd.Timestamp
    hypothesis: str = ""
    intervention: str = ""
    next_cycle: str = ""
    segment: tuple[str, ...] = ()
    replicates: int = DEFAULTS["replicates"]
    seed: int = DEFAULTS["seed"]
    confidence: float = DEFAULTS["confidence"]
    min_n: int = DEFAULTS["min_n"]

    @property
    def days(self) -> int:
        """Length of the cycle in calendar days (both ends included)."""
        return (self.end - self.start).days + 1

    def cohort_text(self) -> str:
        """``all accounts`` or ``segment SMB`` / ``segments SMB, Mid-Market``."""
        if not self.segment:
            return "all accounts"
        return ("segment " if len(self.segment) == 1 else "segments ") + ", ".join(self.segment)


@dataclass(frozen=True)
class CycleResult:
    """The metric in the cycle and the baseline, the difference with its interval, and the decision.

    Values are in the metric's unit (``unit``: days, fraction, nps, points, ces); ``None`` when a
    window has no member. ``member`` is what one row counts (``account``, or ``response`` for
    survey metrics). ``excluded`` maps a reason to the number of rows it left out. ``rows`` holds
    the members of both windows (``account_id``, ``segment``, ``at``, ``x``, ``window``).
    """

    metric: str
    label: str
    unit: str
    better: str
    member: str
    cycle_value: float | None
    cycle_n: int
    baseline_value: float | None
    baseline_n: int
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    confidence: float
    decision: str
    reason: str
    replicates: int
    seed: int
    target: float | None = None
    excluded: dict[str, int] = field(default_factory=dict)
    rows: pd.DataFrame | None = field(default=None, repr=False, compare=False)


# ---------------------------------------------------------------------------- parameters
def _date(params: Mapping, key: str, required: bool = True):
    value = params.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise BadInput(SOURCE, key, "is required (a date YYYY-MM-DD)")
        return None
    try:
        if isinstance(value, str) and not re.match(r"^\d{4}-\d{2}-\d{2}([ T].*)?$", value.strip()):
            raise BadInput(SOURCE, key, "not ISO")
        return to_day(value)
    except BadInput:
        raise BadInput(SOURCE, key, f"must be a date YYYY-MM-DD, got {value!r}") from None


def _int(params: Mapping, key: str, minimum: int) -> int:
    value = params.get(key)
    value = DEFAULTS[key] if value is None else value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value or value < minimum:
        raise BadInput(SOURCE, key, f"must be a whole number >= {minimum}, got {value!r}")
    return int(value)


def metric_keys() -> list[str]:
    """The metrics a cycle can test: every KPI or supporting metric that is a mean over members."""
    return [k for k, m in _kpis.MEASURES.items() if m.agg == "mean"]


def cycle_from_params(params: Mapping) -> Cycle:
    """A :class:`Cycle` from the mapping of ``params/post_cycle.yaml`` (merged with notebook parameters).

    Required: ``metric`` (see :func:`metric_keys`), ``cycle_start``, ``cycle_end``. Optional:
    ``baseline_start``/``baseline_end`` (both or neither; default the same length right before
    the cycle), ``segment`` (a name or a list; None = all), ``hypothesis``, ``intervention``,
    ``next_cycle``, ``replicates``, ``seed``, ``confidence`` (0.5..0.999), ``min_n``.
    Raises :class:`BadInput` naming the key that is wrong.
    """
    metric = params.get("metric")
    if metric is None and params.get("cycle_start") is None and params.get("cycle_end") is None:
        raise BadInput(SOURCE, None, "no improvement cycle is defined: fill in hypothesis, intervention, metric, "
                       "cycle_start and cycle_end here or under post_cycle: in report_params.yaml beside the data")
    if metric not in metric_keys():
        raise BadInput(SOURCE, "metric", f"{metric!r} is not a metric a cycle can test: use one of "
                       f"{', '.join(metric_keys())}")
    start, end = _date(params, "cycle_start"), _date(params, "cycle_end")
    if end < start:
        raise BadInput(SOURCE, "cycle_end", f"is before cycle_start ({end:%Y-%m-%d} < {start:%Y-%m-%d})")
    b_start, b_end = _date(params, "baseline_start", False), _date(params, "baseline_end", False)
    if (b_start is None) != (b_end is None):
        raise BadInput(SOURCE, "baseline_start", "give both baseline_start and baseline_end, or neither")
    if b_start is None:
        b_end = start - pd.Timedelta(days=1)
        b_start = b_end - (end - start)
    if b_end < b_start:
        raise BadInput(SOURCE, "baseline_end", f"is before baseline_start ({b_end:%Y-%m-%d} < {b_start:%Y-%m-%d})")
    if b_end >= start:
        raise BadInput(SOURCE, "baseline_end", f"must be before cycle_start ({b_end:%Y-%m-%d} >= {start:%Y-%m-%d})")
    segment = params.get("segment")
    if segment is None or segment == "":
        segment = ()
    elif isinstance(segment, str):
        segment = (segment,)
    elif isinstance(segment, (list, tuple)) and all(isinstance(s, str) and s for s in segment):
        segment = tuple(segment)
    else:
        raise BadInput(SOURCE, "segment", f"must be a segment name or a list of names, got {segment!r}")
    confidence = params.get("confidence")
    confidence = DEFAULTS["confidence"] if confidence is None else confidence
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0.5 <= confidence < 1:
        raise BadInput(SOURCE, "confidence", f"must be a fraction within 0.5..0.999, got {confidence!r}")
    texts = {}
    for key in ("hypothesis", "intervention", "next_cycle"):
        value = params.get(key)
        if value is not None and not isinstance(value, str):
            raise BadInput(SOURCE, key, f"must be text, got {value!r}")
        texts[key] = " ".join((value or "").split())
    return Cycle(metric=metric, start=start, end=end, baseline_start=b_start, baseline_end=b_end,
                 segment=segment, replicates=_int(params, "replicates", 100), seed=_int(params, "seed", 0),
                 confidence=float(confidence), min_n=_int(params, "min_n", 1), **texts)


# ---------------------------------------------------------------------------- the analysis
def bootstrap_difference(cycle: pd.DataFrame, baseline: pd.DataFrame, *, replicates: int, seed: int,
                         confidence: float = 0.95) -> tuple[float | None, float | None, np.ndarray]:
    """Percentile bootstrap interval for ``mean(cycle.x) − mean(baseline.x)``, clustered by account.

    Each replicate draws, independently per window, as many accounts as the window has, with
    replacement (multinomial counts), and recomputes each window's mean as Σ(count × account sum)
    ÷ Σ(count × account rows). Returns ``(low, high, differences)``: the interval ends in the
    unit of ``x`` and the ``replicates`` replicate differences; ``(None, None, empty)`` when a
    window is empty. Same seed, same interval.
    """
    if cycle.empty or baseline.empty:
        return None, None, np.empty(0)
    rng = np.random.default_rng(seed)
    means = []
    for frame in (cycle, baseline):
        per = frame.groupby("account_id", sort=True)["x"].agg(["sum", "size"])
        s, c = per["sum"].to_numpy(float), per["size"].to_numpy(float)
        n = len(per)
        draws = rng.multinomial(n, np.full(n, 1.0 / n), size=replicates)
        means.append((draws @ s) / (draws @ c))
    diffs = means[0] - means[1]
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(diffs, [alpha, 1.0 - alpha])
    return float(low), float(high), diffs


def decide(difference, low, high, better: str, *, n_cycle: int, n_baseline: int, min_n: int,
           confidence: float = 0.95, member: str = "account") -> tuple[str, str]:
    """The decision and its reason, by the rule in the module docstring.

    Returns ``("keep" | "reverse" | "inconclusive", reason)``; the reason is a plain clause such
    as ``"the whole 95% interval is on the better side of no change (lower is better)"``.
    """
    pct = f"{round(100 * confidence)}%"
    if difference is None or low is None or high is None:
        return "inconclusive", "one of the windows has no data, so there is nothing to compare"
    if n_cycle < min_n or n_baseline < min_n:
        return "inconclusive", (f"too few {member}s to judge: {n_cycle:,} in the cycle and {n_baseline:,} in the "
                                f"baseline, at least {min_n:,} needed in each")
    if better not in ("higher", "lower"):
        raise ValueError("better must be 'higher' or 'lower'")
    good = low > 0 if better == "higher" else high < 0
    bad = high < 0 if better == "higher" else low > 0
    if good:
        return "keep", f"the whole {pct} interval is on the better side of no change ({better} is better)"
    if bad:
        return "reverse", f"the whole {pct} interval is on the worse side of no change ({better} is better)"
    return "inconclusive", f"the {pct} interval includes no change, so the data cannot tell the change from noise"


def window_rows(ws, cycle: Cycle, as_of=None, engine=None) -> tuple[pd.DataFrame | None, dict[str, int]]:
    """The metric's members in the baseline and the cycle, after the cohort filter.

    Returns ``(rows, excluded)``: ``rows`` has ``account_id``, ``segment``, ``at``, ``x`` and
    ``window`` (``baseline`` or ``cycle``), or is None when the table the metric needs is absent;
    ``excluded`` counts the rows left out, by reason (outside the cohort filter; no value, e.g.
    readiness without checklist items).
    """
    as_of = cycle.end if as_of is None else to_day(as_of)
    with _kpis.open_context(ws, as_of, engine) as ctx:
        ctx.prefetch(cycle.baseline_start, cycle.end, [cycle.metric])
        rows = _kpis.facts(ctx, cycle.metric, cycle.baseline_start, cycle.end)
    if rows is None:
        return None, {}
    in_cycle = (rows["at"] >= cycle.start) & (rows["at"] <= cycle.end)
    in_base = (rows["at"] >= cycle.baseline_start) & (rows["at"] <= cycle.baseline_end)
    rows = rows[(in_cycle | in_base).to_numpy()].copy()
    rows["window"] = np.where(((rows["at"] >= cycle.start) & (rows["at"] <= cycle.end)).to_numpy(), "cycle", "baseline")
    excluded: dict[str, int] = {}
    if cycle.segment:
        keep = rows["segment"].isin(list(cycle.segment)).fillna(False).to_numpy(dtype=bool)
        excluded[f"outside the cohort filter ({cycle.cohort_text()})"] = int((~keep).sum())
        rows = rows[keep]
    no_value = rows["x"].isna().to_numpy()
    if no_value.any():
        reason = ("account has no readiness items" if cycle.metric == "readiness_at_handover"
                  else "no value for the metric")
        excluded[reason] = int(no_value.sum())
    rows = rows[~no_value]
    cols = ["account_id", "segment", "at", "x", "window"]
    return rows[cols].sort_values(["window", "at", "account_id"]).reset_index(drop=True), excluded


def analyse(ws, cycle: Cycle, as_of=None, engine=None) -> CycleResult:
    """Compare the metric in the cycle with the baseline and decide (see the module docstring).

    ``as_of`` defaults to the cycle's last day (so the report for a cycle is the same whenever it
    is rendered); it must not be before ``cycle.end``. When ``as_of`` is None the cycle must end on
    or before the latest usage date (the data must cover it). ``engine=None`` uses DuckDB.
    """
    if as_of is None:
        latest = ws.default_as_of()
        if cycle.end > latest:
            raise BadInput(SOURCE, "cycle_end", f"{cycle.end:%Y-%m-%d} is after the latest data "
                           f"({latest:%Y-%m-%d}): the data does not cover the whole cycle yet")
        as_of = cycle.end
    as_of = to_day(as_of)
    if cycle.end > as_of:
        raise BadInput(SOURCE, "cycle_end", f"{cycle.end:%Y-%m-%d} is after as_of {as_of:%Y-%m-%d}: "
                       "the cycle is not over on that day")
    measure = _kpis.MEASURES[cycle.metric]
    member = "response" if measure.table == "surveys" else "account"
    rows, excluded = window_rows(ws, cycle, as_of, engine)
    target = _kpis.settings().targets.get(cycle.metric)
    if rows is None:
        decision, reason = decide(None, None, None, measure.better, n_cycle=0, n_baseline=0, min_n=cycle.min_n)
        return CycleResult(cycle.metric, measure.label, measure.unit, measure.better, member, None, 0, None, 0,
                           None, None, None, cycle.confidence, decision,
                           f"the {measure.table} table is absent, so {measure.label.lower()} has no data",
                           cycle.replicates, cycle.seed, target, excluded, None)
    cyc, base = rows[rows["window"] == "cycle"], rows[rows["window"] == "baseline"]
    cyc_value = float(cyc["x"].mean()) if len(cyc) else None
    base_value = float(base["x"].mean()) if len(base) else None
    diff = cyc_value - base_value if cyc_value is not None and base_value is not None else None
    low, high, _ = bootstrap_difference(cyc, base, replicates=cycle.replicates, seed=cycle.seed,
                                        confidence=cycle.confidence)
    decision, reason = decide(diff, low, high, measure.better, n_cycle=len(cyc), n_baseline=len(base),
                              min_n=cycle.min_n, confidence=cycle.confidence, member=member)
    return CycleResult(cycle.metric, measure.label, measure.unit, measure.better, member, cyc_value, len(cyc),
                       base_value, len(base), diff, low, high, cycle.confidence, decision, reason,
                       cycle.replicates, cycle.seed, target, excluded, rows)


def summary_table(cycle: Cycle, result: CycleResult) -> pd.DataFrame:
    """Baseline, cycle and change as three rows: ``window``, ``from``, ``to``, ``members``, ``value``
    (in the metric's unit; the change row holds the difference and its interval ends)."""
    return pd.DataFrame([
        {"window": "baseline", "from": cycle.baseline_start, "to": cycle.baseline_end, "members": result.baseline_n,
         "value": result.baseline_value, "interval_low": None, "interval_high": None},
        {"window": "cycle", "from": cycle.start, "to": cycle.end, "members": result.cycle_n,
         "value": result.cycle_value, "interval_low": None, "interval_high": None},
        {"window": "change (cycle − baseline)", "from": None, "to": None, "members": None,
         "value": result.difference, "interval_low": result.ci_low, "interval_high": result.ci_high},
    ])


__all__ = ["Cycle", "CycleResult", "DECISIONS", "analyse", "bootstrap_difference", "cycle_from_params", "decide",
           "metric_keys", "summary_table", "window_rows"]
