"""Out-of-time evaluation of the churn calibration (SPEC section 6) and its output files (section 8).

The flow a reviewer runs (``workbook calibrate`` or the calibration notebook)::

    snaps = snapshots.build_snapshots(ws)                  # or snapshots.load_snapshots(path)
    result = evaluation.evaluate(snaps, weights.load_active())
    result.write("reports/calibration/2026-11-15")          # weights.yaml, metrics.json, ...

:func:`evaluate` fits the current and the proposed weights
(:class:`workbook.calibration.ChurnCalibrator`) on the earlier observation dates and compares
them on the later ones, with account-clustered bootstrap intervals, bands, suggested
thresholds, override accuracy, colour changes, drift, a rolling-origin backtest and a
recommendation. :class:`CalibrationResult` holds every table and writes the ten output files
as one set (:func:`workbook.iofmt.atomic_dir`). The CSVs keep pandas' writer with six
significant digits (``%.6g``; ``snapshots.csv`` full precision), which is the files' format.
"""
from __future__ import annotations

import datetime as dt
import math
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from scipy import sparse
from threadpoolctl import threadpool_limits

from . import scoring
from . import weights as _weights
from .calibration import (NO_SCORE_RISK, SCORES, ChurnCalibrator, flat_map, health_score, horizon,
                          largest_remainder, score_index, settings)
from .errors import BadInput
from .iofmt import atomic_dir, to_json
from .scoring import COLOURS, DIMENSIONS
from .snapshots import check_snapshots, split_dates
from .weights import Weights

__all__ = ["METRICS", "ECE_BINS", "CalibrationResult", "evaluate", "classification_metrics", "suggest_thresholds",
           "band_table", "psi", "check_writable"]

METRICS = ("auc", "pr_auc", "brier", "log_loss", "ece", "top_decile_lift")
ECE_BINS = 10                            # SPEC section 6: 10 equal-width bins
_EPS_PROB = 1e-15                        # probability clip for log loss (as scikit-learn)
NO_SCORE = "none"                        # the colour of a row without a score in the calibration files


# ============================================================================ metrics from counts
def _grouped(pos: np.ndarray, neg: np.ndarray, key: np.ndarray):
    """Counts summed over equal values of ``key``: (sorted unique keys, churned, retained)."""
    uniq, inv = np.unique(key, return_inverse=True)                   # ascending
    onehot = sparse.csr_matrix((np.ones(len(key)), (np.arange(len(key)), inv)), shape=(len(key), len(uniq)))
    return uniq, np.asarray(pos @ onehot), np.asarray(neg @ onehot)


def _count_metrics(pos: np.ndarray, neg: np.ndarray, p: np.ndarray, risk: np.ndarray | None = None
                   ) -> dict[str, np.ndarray]:
    """The six metrics for every row of count matrices (replicates × bins), vectorised.

    ``pos[b, k]`` / ``neg[b, k]``: churned / retained rows in bin k, replicate b; ``p[k]``: the
    churn probability of bin k, used by the probability metrics (Brier, log loss, ECE);
    ``risk[k]``: the ranking key of bin k (higher = riskier), used by the ranking metrics (AUC,
    PR AUC, top-decile lift) — default ``p``. Returns arrays of shape (replicates,) — NaN where a
    replicate has no churner or no renewal. Ties are exact: equal keys form one threshold (AUC
    counts a tie as half).
    """
    pos, neg = np.atleast_2d(pos).astype(float), np.atleast_2d(neg).astype(float)
    uniq, P_g, N_g = _grouped(pos, neg, p)
    n_pos, n_neg = P_g.sum(1), N_g.sum(1)
    n = n_pos + n_neg
    pc = np.clip(uniq, _EPS_PROB, 1 - _EPS_PROB)
    out = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        out["brier"] = (P_g @ (1 - uniq) ** 2 + N_g @ uniq ** 2) / n
        out["log_loss"] = -(P_g @ np.log(pc) + N_g @ np.log(1 - pc)) / n
        ebin = np.minimum(np.floor(uniq * ECE_BINS), ECE_BINS - 1).astype(int)
        eh = sparse.csr_matrix((np.ones(len(uniq)), (np.arange(len(uniq)), ebin)), shape=(len(uniq), ECE_BINS))
        observed = np.asarray(P_g @ eh)
        predicted = np.asarray((P_g + N_g) * uniq) @ eh
        out["ece"] = np.abs(observed - predicted).sum(1) / n
        if risk is not None:
            _, P_g, N_g = _grouped(pos, neg, risk)
        below = np.cumsum(N_g, 1) - N_g
        out["auc"] = (P_g * (below + 0.5 * N_g)).sum(1) / (n_pos * n_neg)
        Pd, Nd = P_g[:, ::-1], N_g[:, ::-1]                           # descending probability
        tp, fp = np.cumsum(Pd, 1), np.cumsum(Nd, 1)
        precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=(tp + fp) > 0)
        out["pr_auc"] = (Pd * precision).sum(1) / n_pos
        cnt = Pd + Nd
        top = 0.1 * n
        before = np.cumsum(cnt, 1) - cnt
        take = np.clip(top[:, None] - before, 0, cnt)
        frac = np.divide(take, cnt, out=np.zeros_like(cnt), where=cnt > 0)
        out["top_decile_lift"] = ((frac * Pd).sum(1) / top) / (n_pos / n)
    bad = (n_pos == 0) | (n_neg == 0)
    for key in ("auc", "pr_auc", "top_decile_lift"):
        out[key] = np.where(bad, np.nan, out[key])
    return out


# Ranking key of each bin: 100 − integer score (a lower score is riskier); "no data" ranks as a 50.
_BIN_RISK = np.append(100.0 - SCORES, 100.0 - NO_SCORE_RISK)


def _bins(model: ChurnCalibrator, X) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bin per row (0..100 = integer score, 101 = no data), the churn probability of each bin
    (the fitted map) and its ranking key (100 − score: the score itself ranks, not the map)."""
    idx = score_index(model.health_score(X))
    idx = np.where(idx < 0, 101, idx)
    return idx, np.append(model.churn_probability_, model.prior_), _BIN_RISK


def _probabilities(p, tolerance: float = 1e-9) -> np.ndarray:
    """``p`` as floats in [0, 1]: rounding noise just outside (1 - 0.9999999999999999 < 0) is
    clipped; anything further out is a caller's error, named here rather than deep in a bin index."""
    p = np.asarray(p, dtype=float)
    bad = ~np.isfinite(p) | (p < -tolerance) | (p > 1 + tolerance)
    if bad.any():
        raise ValueError(f"probabilities must be finite and in [0, 1]; got {p[bad][:3].tolist()}")
    return np.clip(p, 0.0, 1.0)


def classification_metrics(y, p, risk=None) -> dict[str, float]:
    """AUC, PR AUC, Brier, log loss, ECE (10 equal-width bins) and top-decile lift against labels
    ``y`` (1 = churned). Brier, log loss and ECE judge the churn probabilities ``p``; AUC, PR AUC
    and lift judge the ranking by ``risk`` (higher = riskier; default ``p``) — for a health
    score pass ``100 - score``. Ties are exact (see docs)."""
    y, p = np.asarray(y, dtype=float), _probabilities(p)
    key = p if risk is None else np.asarray(risk, dtype=float)
    pairs, inv = np.unique(np.column_stack([p, key]), axis=0, return_inverse=True)
    inv = np.asarray(inv).ravel()
    pos = np.bincount(inv, weights=y, minlength=len(pairs))
    neg = np.bincount(inv, weights=1 - y, minlength=len(pairs))
    return {k: float(v[0]) for k, v in _count_metrics(pos, neg, pairs[:, 0], pairs[:, 1]).items()}


def _bootstrap(groups: np.ndarray, y: np.ndarray, bins: list[tuple[np.ndarray, np.ndarray]],
               replicates: int, seed: int, block: int = 200) -> list[dict[str, np.ndarray]]:
    """Account-clustered bootstrap of the metrics for several models on the same rows.

    Each replicate draws accounts with replacement (every row of a drawn account comes along)
    with one shared draw for all models, so differences are paired. ``bins``: per model, the bin
    of each row, the churn probability of each bin and optionally the ranking key of each bin
    (see :func:`_count_metrics`). Returns, per model, a dict metric → (replicates,) array.
    Memory is bounded by ``block`` replicates at a time.
    """
    rng = np.random.default_rng(seed)
    codes, _ = pd.factorize(groups)
    A = codes.max() + 1
    yi = y.astype(int)
    bins = [(bp[0], bp[1], bp[2] if len(bp) > 2 else None) for bp in bins]
    mats = [sparse.csr_matrix((np.ones(len(y)), (codes, b * 2 + yi)), shape=(A, 2 * len(p))) for b, p, _ in bins]
    results = [{m: [] for m in METRICS} for _ in bins]
    done = 0
    while done < replicates:
        nb = min(block, replicates - done)
        draw = rng.integers(0, A, size=(nb, A))
        w = np.bincount((draw + np.arange(nb)[:, None] * A).ravel(), minlength=nb * A).reshape(nb, A)
        for (b, p, risk), mat, res in zip(bins, mats, results):
            c = np.asarray((mat.T @ w.T).T)
            met = _count_metrics(c[:, 1::2], c[:, 0::2], p, risk)
            for m in METRICS:
                res[m].append(met[m])
        done += nb
    return [{m: np.concatenate(r[m]) for m in METRICS} for r in results]


def _interval(values: np.ndarray) -> list[float | None]:
    v = values[np.isfinite(values)]
    if len(v) == 0:
        return [None, None]
    lo, hi = np.percentile(v, [2.5, 97.5])
    return [_r(lo), _r(hi)]


# ============================================================================ evaluation pieces

def suggest_thresholds(score, y, *, red_churner_share: float = 0.6, green_max_churner_share: float = 0.1) -> dict:
    """Integer thresholds that make the bands mean something, computed on training rows.

    amber (the red/amber boundary): the smallest integer t in 1..100 with at least
    ``red_churner_share`` of churners scoring below t. green: the smallest integer g in
    amber+1..100 with at most ``green_max_churner_share`` of churners scoring g or more. The pair
    is suggested only when both exist and each of the three bands holds at least one training
    row — so the rule holds on the training rows and 0 < amber < green <= 100. Otherwise
    ``green`` and ``amber`` are None and ``reason`` says why; the current thresholds stay.
    A suggestion only: the proposal keeps the current thresholds. Returns ``{"green", "amber",
    "rule", "reason", "red_share", "green_share"}`` (shares of training churners, 0..1).
    """
    s = np.asarray(score, dtype=float)
    y = np.asarray(y, dtype=float)
    rule = (f"red holds at least {red_churner_share:.0%} of training churners; green at most "
            f"{green_max_churner_share:.0%}")
    out = {"green": None, "amber": None, "rule": rule, "reason": None, "red_share": None, "green_share": None}
    ok_rows = ~np.isnan(s)
    churn = np.sort(s[(y == 1) & ok_rows])
    if len(churn) == 0:
        return {**out, "reason": "no scored churners in the training rows"}
    grid = np.arange(1, 101)
    below = np.searchsorted(churn, grid, side="left") / len(churn)       # share of churners < t
    hit = below >= red_churner_share - 1e-12
    if not hit.any():
        return {**out, "reason": f"no score up to 100 has {red_churner_share:.0%} of training churners below it "
                                 "(churners score too high for any red band)"}
    amber = int(grid[np.argmax(hit)])
    ok = (grid > amber) & (1 - below <= green_max_churner_share + 1e-12)
    if not ok.any():
        return {**out, "reason": f"with amber at {amber}, no green threshold up to 100 leaves at most "
                                 f"{green_max_churner_share:.0%} of training churners in green"}
    green = int(grid[np.argmax(ok)])
    rows = s[ok_rows]
    sizes = {"red": int((rows < amber).sum()), "amber": int(((rows >= amber) & (rows < green)).sum()),
             "green": int((rows >= green).sum())}
    empty = [c for c, n in sizes.items() if n == 0]
    if empty:
        return {**out, "reason": f"green {green} / amber {amber} would leave the {' and '.join(empty)} band "
                                 "empty on the training rows"}
    return {**out, "green": green, "amber": amber, "red_share": float(below[amber - 1]),
            "green_share": float(1 - below[green - 1])}


def _wilson(k: np.ndarray, n: np.ndarray, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # clipped into 0..1: rounding would otherwise print a bound of 0 churners as "-0.0%"
    return np.clip(centre - half, 0.0, 1.0) + 0.0, np.clip(centre + half, 0.0, 1.0) + 0.0


def band_table(colour: np.ndarray, y: np.ndarray, label: str, thresholds: str) -> pd.DataFrame:
    """Rows, churners, churn rate (with a Wilson 95% interval) and share of churners per colour.

    A band with no rows has no churn rate and no interval (NaN)."""
    rows = []
    total_churn = max(float(np.sum(y)), 1.0)
    for c in COLOURS:
        m = colour == c
        n, k = int(m.sum()), float(y[m].sum())
        lo, hi = _wilson(np.array(k), np.array(n)) if n else (np.nan, np.nan)
        rows.append({"weights": label, "thresholds": thresholds, "colour": c, "n": n,
                     "share_of_rows": n / len(y) if len(y) else np.nan, "churned": int(k),
                     "churn_rate": k / n if n else np.nan, "ci_low": float(lo), "ci_high": float(hi),
                     "share_of_churners": k / total_churn if np.sum(y) else np.nan})
    return pd.DataFrame(rows)


def psi(expected, actual, edges) -> float:
    """Population stability index Σ (a − e)·ln(a / e) over the bins ``edges`` plus a NaN bin.

    Shares below 0.0001 are floored at 0.0001 so an empty bin does not give infinity.
    """
    def shares(v):
        v = np.asarray(v, dtype=float)
        nan = np.isnan(v)
        h = np.histogram(np.clip(v[~nan], edges[0], edges[-1]), bins=edges)[0]
        s = np.append(h, nan.sum()).astype(float)
        return np.maximum(s / max(len(v), 1), 1e-4)
    e, a = shares(expected), shares(actual)
    return float(((a - e) * np.log(a / e)).sum())


def _drift(train: pd.DataFrame, latest: pd.DataFrame, cur_w, prop_w, missing, cfg) -> pd.DataFrame:
    bins = int(cfg["psi"]["bins"])
    watch, recal = float(cfg["psi"]["watch"]), float(cfg["psi"]["recalibrate"])
    rows = []
    items = [(d, train[d].to_numpy(float), latest[d].to_numpy(float), 1.0) for d in DIMENSIONS]
    for label, w in (("score (current)", cur_w), ("score (proposed)", prop_w)):
        items.append((label, health_score(train, w, missing), health_score(latest, w, missing), 100.0))
    for name, e, a, top in items:
        if np.isnan(e).all() and np.isnan(a).all():
            # nothing measured on either side: no population to compare, not "stable"
            rows.append({"dimension": name, "psi": np.nan, "status": "not measured", "train_mean": np.nan,
                         "latest_mean": np.nan, "train_missing": 1.0, "latest_missing": 1.0})
            continue
        value = psi(e, a, np.linspace(0, top, bins + 1))
        rows.append({"dimension": name, "psi": value,
                     "status": "recalibrate" if value > recal else "watch" if value > watch else "stable",
                     "train_mean": float(np.nanmean(e)) if (~np.isnan(e)).any() else np.nan,
                     "latest_mean": float(np.nanmean(a)) if (~np.isnan(a)).any() else np.nan,
                     "train_missing": float(np.isnan(e).mean()), "latest_missing": float(np.isnan(a).mean())})
    return pd.DataFrame(rows)


def _override_accuracy(labelled: pd.DataFrame, colour_formula: np.ndarray) -> tuple[dict | None, pd.DataFrame]:
    """Were overridden rows' outcomes closer to the override colour's churn rate than the formula's?

    Band churn rates come from labelled rows without an override (by formula colour, current
    weights). For each labelled row whose override differs from its formula colour, the override
    is right when |churned − rate(override)| < |churned − rate(formula)|.
    """
    oc = labelled["override_colour"].astype("string").fillna("").to_numpy(dtype=object)
    y = labelled["churned"].to_numpy(dtype=float)
    has = oc != ""
    empty = pd.DataFrame(columns=["formula_colour", "override_colour", "n", "churned", "churn_rate", "right"])
    if not has.any():
        return None, empty
    rate = {c: float(y[(~has) & (colour_formula == c)].mean()) if ((~has) & (colour_formula == c)).any() else np.nan
            for c in COLOURS}
    changed = has & (oc != colour_formula)
    r_over = np.array([rate.get(c, np.nan) for c in oc[changed]])
    r_form = np.array([rate.get(c, np.nan) for c in colour_formula[changed]])
    yc = y[changed]
    right = np.abs(yc - r_over) < np.abs(yc - r_form)
    table = (pd.DataFrame({"formula_colour": colour_formula[changed], "override_colour": oc[changed],
                           "churned": yc, "right": right})
             .groupby(["formula_colour", "override_colour"], as_index=False)
             .agg(n=("churned", "size"), churned=("churned", "sum"), churn_rate=("churned", "mean"),
                  right=("right", "mean")))
    table["churned"] = table["churned"].astype(int)
    summary = {"n_overridden": int(has.sum()), "n_changed_colour": int(changed.sum()),
               "n_right": int(right.sum()), "share_right": float(right.mean()) if changed.any() else None,
               "brier_override": float(np.mean((yc - r_over) ** 2)) if changed.any() else None,
               "brier_formula": float(np.mean((yc - r_form) ** 2)) if changed.any() else None,
               "band_churn_rate": rate}
    return summary, table


# ============================================================================ evaluate
@dataclass
class CalibrationResult:
    """Everything a calibration run produces (what ``workbook calibrate`` writes).

    Tables: ``calibration`` (score → churn probability, proposed), ``reliability`` (per ECE bin
    and model: mean predicted vs observed churn on test rows), ``bands`` (churn per colour band,
    test rows), ``colour_changes`` (latest snapshot), ``drift`` (PSI per dimension),
    ``backtest`` (rolling origin), ``overrides`` (override accuracy by colour pair) and
    ``snapshots`` (every row with its ``role``: train, gap, test, pending — horizon not over —
    or onboarding — labelled but younger than ``min_tenure_days``, left out of fit and test).
    """

    current: Weights
    proposed: Weights
    current_model: ChurnCalibrator
    proposal: ChurnCalibrator
    metrics: dict[str, Any]
    calibration: pd.DataFrame
    reliability: pd.DataFrame
    bands: pd.DataFrame
    colour_changes: pd.DataFrame
    drift: pd.DataFrame
    backtest: pd.DataFrame
    overrides: pd.DataFrame
    snapshots: pd.DataFrame
    warnings: list[str] = field(default_factory=list)

    def proposal_document(self) -> dict[str, Any]:
        """The proposed weights file (``weights.yaml``) as a mapping, shaped like ``params/weights/vN.yaml``."""
        m = self.metrics
        point = {side: {k: _r(m[side][k]) for k in METRICS} for side in ("current", "proposed")}
        return {
            "weights": dict(self.proposed.weights),
            "thresholds": {"green": _num(self.proposed.green), "amber": _num(self.proposed.amber)},
            **({"onboarding": {"weights": dict(self.proposed.onboarding)}} if self.proposed.onboarding else {}),
            "recommendation": dict(m["recommendation"]),
            "not_measured": list(m["not_measured"]),
            "status": "proposal (not adopted): review, then `workbook weights adopt FILE --reason TEXT`",
            "parent": self.current.label,
            "generated_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "horizon_days": m["horizon_days"],
            "data_window": m["data_window"],
            "n_train": m["n_train"], "n_test": m["n_test"], "n_pending": m["snapshots"]["n_pending"],
            "raw_weights": {d: _r(v, 3) for d, v in self.proposal.raw_weights_.items()},
            "suggested_thresholds": m["suggested_thresholds"],
            "warnings": list(m["warnings"]),
            "metrics": point,
            "estimator": {"class": "workbook.calibration.ChurnCalibrator",
                          "params": {k: v for k, v in self.proposal.get_params().items() if k != "weights"}},
            "calibration": {"horizon_days": m["horizon_days"], "method": self.proposal.calibration_["method"],
                            "churn_probability": [_r(v, 6) for v in self.proposal.churn_probability_]},
        }

    def write(self, out) -> list[Path]:
        """Write the ten output files into directory ``out`` as one set. Returns their paths.

        The files are written into a new sibling folder (``.NAME.tmp-XXXX``) which then replaces
        ``out`` in one rename (the old folder is renamed aside first and removed after), so a
        crash leaves either the old set or the new one, never a mix. Other files already in
        ``out`` are carried over. Files and folder get the usual permissions (0666/0777 less the
        umask)."""
        out = Path(out)
        check_writable(out)
        doc = self.proposal_document()
        rec = self.metrics["recommendation"]
        header = ("# Proposed health weights written by `workbook calibrate` - NOT adopted.\n"
                  + (f"# Recommendation: adopt. {rec['reason']}\n" if rec["adopt"] else
                     f"# Recommendation: do NOT adopt - {rec['reason']}.\n")
                  + "# Review metrics.json, bands.csv and colour_changes.csv, then adopt with:\n"
                  "#   workbook weights adopt weights.yaml --reason \"...\"\n")
        files = {
            "weights.yaml": header + yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=100),
            "metrics.json": to_json(self.metrics) + "\n",
            "calibration.csv": self.calibration,
            "reliability.csv": self.reliability,
            "bands.csv": self.bands,
            "colour_changes.csv": self.colour_changes,
            "drift.csv": self.drift,
            "backtest.csv": self.backtest,
            "overrides.csv": self.overrides,
            # labelled rows only, so the file feeds straight back into `calibrate --snapshots`
            "snapshots.csv": self.snapshots[self.snapshots["churned"].notna()],
        }
        texts = {}
        for name, content in files.items():
            if isinstance(content, pd.DataFrame):
                # snapshots keep full precision so that a replay reproduces the fit exactly
                content = content.to_csv(index=False, date_format="%Y-%m-%d",
                                         float_format=None if name == "snapshots.csv" else "%.6g")
            texts[name] = content
        atomic_dir(out, texts)
        return [out / name for name in files]

    def summary(self) -> str:
        """A short plain-text summary for the terminal: the recommendation and the warnings first."""
        m = self.metrics
        s = m["snapshots"]
        rec = m["recommendation"]
        lines = [f"calibration as of {m['data_window']['as_of']}, horizon {m['horizon_days']} days: "
                 f"{s['n']:,} snapshots of {s['n_accounts']:,} accounts",
                 ("RECOMMENDATION: adopt the proposal - " + rec["reason"]) if rec["adopt"] else
                 ("RECOMMENDATION: " + rec["reason"]),
                 *[f"warning: {w}" for w in self.warnings],
                 f"  labelled {s['n_labelled']:,}; pending {s['n_pending']:,} rows of {s['n_pending_accounts']:,} "
                 f"accounts (horizon not over); onboarding (tenure < {s['min_tenure_days']} days) "
                 f"{s['n_onboarding']:,}; no dimension data {s['n_unscored']:,}",
                 f"  train {_span(m['split']['train'])} (n={m['n_train']:,}), gap {len(m['split']['gap'])} date(s), "
                 f"test {_span(m['split']['test'])} (n={m['n_test']:,}); churn rate test "
                 f"{m['base_rate']['test']:.1%}",
                 f"  {'':16}{'current ' + self.current.label:>30}{'proposed':>30}",
                 f"  {'weights':16}{_wstr(self.current.weights):>30}{_wstr(self.proposed.weights):>30}",
                 f"  {'score->churn map':16}{m['current']['signal']:>30}{m['proposed']['signal']:>30}"]
        for k in METRICS:
            c, p = m["current"], m["proposed"]
            lines.append(f"  {k:16}{_ci(c[k], c['ci'][k]):>30}{_ci(p[k], p['ci'][k]):>30}")
        d = m["difference"]["log_loss"]
        lines.append(f"  {'log_loss diff':16}{'':>30}{_ci(d['value'], d['ci'], signed=True):>30}")
        lines.append("  (auc, pr_auc, top_decile_lift rank accounts by the score itself; brier, log_loss, ece "
                     "judge the fitted score->churn map)")
        if m["not_measured"]:
            lines.append(f"  not measured in this data (weight 0): {', '.join(m['not_measured'])}")
        ref = m["reference"]
        lines.append(f"  unconstrained logistic regression AUC {ref['unconstrained_logistic_auc']:.3f} "
                     f"(proposal {ref['proposal_auc_gap']:+.3f})")
        st = m["suggested_thresholds"]
        if st.get("green") is not None:
            lines.append(f"  suggested thresholds (not applied): green {st['green']}, amber {st['amber']} "
                         f"({st['rule']}: red {st['red_share']:.0%}, green {st['green_share']:.0%} on training)")
        else:
            lines.append(f"  suggested thresholds: none satisfy the rule ({st['rule']}): {st['reason']}; "
                         f"keep {_num(self.current.green)}/{_num(self.current.amber)}")
        lines.append(f"  colour changes at {m['colour_changes']['observed_at']}: {m['colour_changes']['n']:,} accounts")
        d = m["drift"]
        lines.append(f"  drift: max PSI {d['max_psi']:.3f} ({d['max_dimension']}); "
                     f"recalibration due: {'YES' if d['recalibration_due'] else 'no'}"
                     + (f"; not measured: {', '.join(d['not_measured'])}" if d.get("not_measured") else ""))
        ob = m.get("onboarding")
        if ob is not None:
            lines.append("  onboarding weights: " + (
                f"fitted on {ob['rows']:,} onboarding snapshots ({ob['churners']:,} churners): {_wstr(ob['weights'])}"
                if ob["fitted"] else
                f"not fitted ({ob['churners']:,} churners among {ob['rows']:,} labelled onboarding snapshots, "
                f"need {ob['min_churners']:,}): " + ("the current section is kept" if ob["weights"] else
                                                     "onboarding accounts keep the main weights")))
        if m["override_accuracy"]:
            o = m["override_accuracy"]
            share = "n/a" if o["share_right"] is None else f"{o['share_right']:.0%}"
            lines.append(f"  overrides: {o['n_changed_colour']:,} changed a colour; right {share}")
        return "\n".join(lines)


def _r(v, digits: int = 6):
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else round(float(v), digits)


def _num(v: float):
    return int(v) if float(v).is_integer() else float(v)


def _wstr(w: Mapping[str, int]) -> str:
    return "/".join(str(w[d]) for d in DIMENSIONS)


def _ci(v, ci, signed: bool = False) -> str:
    if v is None:
        return "n/a"
    lo, hi = ci
    f = "+.4f" if signed else ".3f"
    return f"{v:{f}} [{lo:{f}}, {hi:{f}}]" if lo is not None else f"{v:{f}}"


def _span(dates: list[str]) -> str:
    return f"{dates[0]}..{dates[-1]}" if dates else "-"


def _day(d) -> str:
    return pd.Timestamp(d).strftime("%Y-%m-%d")


def check_writable(out) -> None:
    """Raise :class:`BadInput` unless ``out`` can be written (created or replaced): it must be a
    folder or not exist, and its parent (the nearest existing ancestor) must be a writable folder."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BadInput(str(out), None, "output path exists and is not a folder")
    parent = out.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise BadInput(str(out), None, f"cannot write the output folder: {parent} is not a folder")
    # a real probe (a folder created and removed), since permission bits do not bind every user
    for where in (parent, out) if out.is_dir() else (parent,):
        try:
            os.rmdir(tempfile.mkdtemp(prefix=".workbook-probe-", dir=where))
        except OSError as exc:
            raise BadInput(str(out), None, f"cannot write the output folder: {where} is not writable "
                           f"({exc.strerror or exc})") from None


def _recommendation(diff_log_loss: dict, current: Weights, proposed: Weights, kept_current: bool, flat: bool,
                    unmeasured: list[str], few: list[str]) -> dict[str, Any]:
    """``{"adopt": bool, "reason": one line}``: adopt only when the proposal's out-of-time log loss is
    better than the current weights' with the whole paired 95% bootstrap interval below 0."""
    value, (lo, hi) = diff_log_loss["value"], diff_log_loss["ci"]
    ci = f"{value:+.4f} [{lo:+.4f}, {hi:+.4f}]" if lo is not None else f"{value:+.4f} (no interval)"
    if kept_current:
        return {"adopt": False, "reason": "nothing should change: no dimension is associated with churn in the "
                                          "training rows, so the proposal keeps the current weights (a dimension "
                                          "with no data gets 0)"}
    if dict(proposed.weights) == dict(current.weights):
        return {"adopt": False, "reason": "nothing should change: the proposal equals the current weights"}
    if flat:
        return {"adopt": False, "reason": "nothing should change: the proposed score shows no usable signal "
                                          "(its score -> churn map is flat)"}
    if lo is None:
        return {"adopt": False, "reason": f"nothing should change: no bootstrap interval for the log-loss "
                                          f"difference {value:+.4f}, so no evidence the proposal is better"}
    if hi >= 0:
        verdict = "is worse than the current weights'" if lo > 0 else "has a 95% interval that includes 0"
        return {"adopt": False, "reason": f"nothing should change: the proposal's out-of-time log loss {verdict} "
                                          f"(proposal minus current {ci})"}
    reason = f"out-of-time log loss better than the current weights: proposal minus current {ci}"
    if unmeasured:
        reason += f"; {', '.join(unmeasured)} not measured in this data (weight 0)"
    if few:
        reason += "; but few churners (see warnings): confirm fold by fold in backtest.csv before adopting"
    return {"adopt": True, "reason": reason}


def _fit_pair(train: pd.DataFrame, current: Weights, cfg: dict, H: int, missing: str):
    """The current weights' map and the proposal, fitted on ``train`` by the one procedure used
    for the main split and every backtest fold. When no dimension is associated with churn the
    proposal keeps the current weights. Returns (current model, proposal, kept_current)."""
    y = train["churned"].to_numpy(dtype=float)
    kw = dict(calibration=cfg["map"], missing=missing, C=float(cfg["C"]), horizon_days=H,
              min_measured=float(cfg["min_measured_share"]))
    cur = ChurnCalibrator(weights=dict(current.weights), **kw).fit(train[list(DIMENSIONS)], y)
    prop = ChurnCalibrator(**kw).fit(train[list(DIMENSIONS)], y)
    if prop.informative_:
        return cur, prop, False
    # No dimension is associated with churn: the proposal is the current weights, except that a
    # dimension with no data still gets 0 (its weight spread over the measured ones in proportion,
    # which under the "redistribute" policy gives every account the same score as today).
    kept_weights = dict(current.weights)
    if prop.unmeasured_ and any(kept_weights[d] for d in DIMENSIONS if d not in prop.unmeasured_):
        kept_weights = largest_remainder({d: 0.0 if d in prop.unmeasured_ else float(w)
                                          for d, w in kept_weights.items()})
    kept = ChurnCalibrator(weights=kept_weights, **kw).fit(train[list(DIMENSIONS)], y)
    return cur, kept, True


def _backtest(labelled: pd.DataFrame, current: Weights, cfg: dict, H: int, missing: str,
              n_test_dates: int, main: dict | None = None) -> pd.DataFrame:
    """Rolling-origin (expanding window) backtest: fold j tests the j-th block of dates counted
    back from the end; it trains on every date whose label window ends before the block starts.

    Every fold fits with :func:`_fit_pair`, the main split's procedure; the fold whose training
    and test dates are the main split's (``main``: its ``train``/``test`` dates and ``models``)
    reuses the main fit, so it lists exactly the proposal the summary reports."""
    dates = sorted(labelled["observed_at"].unique())
    rows = []
    for j in range(int(cfg["backtest_folds"])):
        hi = len(dates) - j * n_test_dates
        lo = hi - n_test_dates
        if lo <= 0:
            break
        block = dates[lo:hi]
        train_dates = [d for d in dates[:lo] if d + pd.Timedelta(days=H) <= block[0]]
        if len(train_dates) < int(cfg["min_train_dates"]):
            break
        train = labelled[labelled["observed_at"].isin(train_dates)]
        test = labelled[labelled["observed_at"].isin(block)]
        yt = test["churned"].to_numpy(float)
        if len(np.unique(train["churned"])) < 2 or len(np.unique(yt)) < 2:
            continue
        same = main is not None and [pd.Timestamp(d) for d in train_dates] == list(main["train"]) and \
            [pd.Timestamp(d) for d in block] == list(main["test"])
        cur, prop = main["models"] if same else _fit_pair(train, current, cfg, H, missing)[:2]
        row = {"fold": j + 1, "main_split": bool(same), "train_first": _day(train_dates[0]), "train_last": _day(train_dates[-1]),
               "test_first": _day(block[0]), "test_last": _day(block[-1]), "n_train": len(train),
               "n_test": len(test), "test_churn_rate": float(yt.mean()), "proposed_weights": _wstr(prop.weights_)}
        for side, model in (("current", cur), ("proposed", prop)):
            score = model.health_score(test[list(DIMENSIONS)])
            idx = score_index(score)
            met = classification_metrics(yt, model.churn_probability(score),
                                         risk=np.where(idx >= 0, 100.0 - idx, 100.0 - NO_SCORE_RISK))
            for k in ("auc", "brier", "log_loss", "ece"):
                row[f"{k}_{side}"] = met[k]
        rows.append(row)
    return pd.DataFrame(rows)


def _reliability(y, bins_by_model: dict[str, tuple[np.ndarray, np.ndarray]]) -> pd.DataFrame:
    rows = []
    for label, (b, p, *_rest) in bins_by_model.items():
        pr = p[b]
        e = np.minimum(np.floor(pr * ECE_BINS), ECE_BINS - 1).astype(int)
        for k in range(ECE_BINS):
            m = e == k
            rows.append({"model": label, "bin": k + 1, "bin_low": k / ECE_BINS, "bin_high": (k + 1) / ECE_BINS,
                         "n": int(m.sum()), "mean_predicted": float(pr[m].mean()) if m.any() else np.nan,
                         "observed_rate": float(y[m].mean()) if m.any() else np.nan})
    return pd.DataFrame(rows)


def _reference_auc(train: pd.DataFrame, test: pd.DataFrame) -> float:
    """Test AUC of an unconstrained scikit-learn LogisticRegression on the five columns
    (missing values imputed with the training means) — the yardstick for the constrained fit."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    cols = list(DIMENSIONS)
    means = train[cols].mean().fillna(0.5)
    lr = LogisticRegression(C=1.0, max_iter=2000)
    lr.fit(train[cols].fillna(means).to_numpy(), train["churned"].to_numpy(int))
    return float(roc_auc_score(test["churned"].to_numpy(int),
                               lr.predict_proba(test[cols].fillna(means).to_numpy())[:, 1]))


def evaluate(snapshots: pd.DataFrame, current: Weights | None = None, *, horizon_days: int | None = None,
             accounts: pd.DataFrame | None = None, replicates: int | None = None, seed: int | None = None,
             progress: Callable[[str], None] | None = None) -> CalibrationResult:
    """Fit current and proposed weights on the earlier dates, compare them on the later ones.

    ``snapshots``: the frame of :func:`workbook.snapshots.build_snapshots` /
    :func:`workbook.snapshots.load_snapshots` (unlabelled rows are counted and used only for
    drift and colour changes). ``current``: the weights in force (default: the active version).
    ``accounts`` (optional): adds name, segment, csm and arr to the colour changes.
    ``replicates``/``seed`` override the bootstrap settings of ``params/calibration.yaml``.
    Returns a :class:`CalibrationResult`.
    """
    with threadpool_limits(limits=1, user_api="blas"):        # see ChurnCalibrator.fit
        return _evaluate(snapshots, current, horizon_days=horizon_days, accounts=accounts,
                         replicates=replicates, seed=seed, progress=progress)


@dataclass
class _Run:
    """One evaluation's inputs and split, shared by the steps of :func:`_evaluate`."""

    snapshots: pd.DataFrame                  # as given (its attrs: as_of, source, ...)
    snaps: pd.DataFrame                      # typed copy, with ``role``
    cfg: dict[str, Any]
    H: int
    missing: str
    warnings: list[str]
    young: np.ndarray | None = None          # tenure below min_tenure_days
    has_label: np.ndarray | None = None
    eligible: np.ndarray | None = None       # labelled and not onboarding
    split: dict[str, list[pd.Timestamp]] | None = None
    train: pd.DataFrame | None = None
    test: pd.DataFrame | None = None

    @property
    def yt(self) -> np.ndarray:
        """The test rows' churn labels (0/1 floats)."""
        return self.test["churned"].to_numpy(float)

    @property
    def Xt(self) -> pd.DataFrame:
        """The test rows' five dimensions."""
        return self.test[list(DIMENSIONS)]


def _evaluate(snapshots, current, *, horizon_days, accounts, replicates, seed, progress) -> CalibrationResult:
    """:func:`evaluate`'s steps in order (the order of the warnings is part of the output)."""
    say = progress or (lambda _m: None)
    current = current or _weights.load_active()
    run = _prepare(snapshots, horizon_days)
    say(f"calibrate: fitting on {len(run.train):,} training rows ({len(run.split['train'])} dates), "
        f"testing on {len(run.test):,} ({len(run.split['test'])} dates)")
    cur_model, proposal, kept_current = _fit_pair(run.train, current, run.cfg, run.H, run.missing)
    proposed = _proposed(run, current, proposal, kept_current)
    proposed, onboarding = _onboarding_weights(run, current, proposed)
    bins = {"current": _bins(cur_model, run.Xt), "proposed": _bins(proposal, run.Xt)}
    point, boot, boot_info = _compare(run, bins, replicates, seed, say)
    sides = {"current": _side(run, "current", cur_model, current, point[0], boot and boot[0]),
             "proposed": _side(run, "proposed", proposal, proposed, point[1], boot and boot[1])}
    diff = {m: {"value": _r(point[1][m] - point[0][m]),
                "ci": _interval(boot[1][m] - boot[0][m]) if boot else [None, None]} for m in METRICS}
    recommendation = _recommendation(diff["log_loss"], current, proposed, kept_current, flat_map(proposal),
                                     list(proposal.unmeasured_), [w for w in run.warnings if w.startswith("only ")])
    say("calibrate: bands, thresholds, overrides, colour changes, drift, backtest")
    suggested, bands = _bands(run, current, proposed)
    lab = run.snaps[run.eligible]
    ov_summary, ov_table = _override_accuracy(lab, scoring.colours(
        health_score(lab[list(DIMENSIONS)], current.weights, run.missing), current.green, current.amber,
        missing=NO_SCORE))
    latest_date = run.snaps["observed_at"].max()
    at_latest = (run.snaps["observed_at"] == latest_date).to_numpy()
    changes = _colour_changes(run.snaps[at_latest], current, proposed, cur_model, proposal, run.missing, accounts)
    drift = _drift(run.train, run.snaps[at_latest & ~run.young], current.weights, proposed.weights, run.missing,
                   run.cfg)
    backtest = _backtest(lab, current, run.cfg, run.H, run.missing, len(run.split["test"]),
                         main={"train": run.split["train"], "test": run.split["test"],
                               "models": (cur_model, proposal)})
    ref_auc = _reference_auc(run.train, run.test)
    metrics = {
        "current": sides["current"], "proposed": sides["proposed"], "difference": diff,
        **_counts(run), "base_rate": {"train": float(run.train["churned"].to_numpy(float).mean()),
                                      "test": float(run.yt.mean())},
        "reference": {"unconstrained_logistic_auc": ref_auc, "proposal_auc_gap": _r(point[1]["auc"] - ref_auc)},
        "bootstrap": boot_info, "missing_policy": run.missing, "recommendation": recommendation,
        **_proposal_facts(proposal), "suggested_thresholds": suggested, "override_accuracy": ov_summary,
        "colour_changes": _changes_summary(changes, latest_date), "drift": _drift_summary(drift, run.cfg, latest_date),
        "backtest": backtest.to_dict(orient="records"), "warnings": run.warnings, "onboarding": onboarding,
    }
    reliability = _reliability(run.yt, {f"current {current.label}": bins["current"], "proposed": bins["proposed"]})
    return CalibrationResult(
        current=current, proposed=proposed, current_model=cur_model, proposal=proposal, metrics=metrics,
        calibration=proposal.map_frame(), reliability=reliability, bands=bands, colour_changes=changes,
        drift=drift, backtest=backtest, overrides=ov_table, warnings=run.warnings,
        snapshots=run.snaps[[c for c in ("account_id", "observed_at", *DIMENSIONS, "churned", "override_colour",
                                         "tenure_days", "onboarding", "role") if c in run.snaps.columns]])


def _prepare(snapshots: pd.DataFrame, horizon_days) -> _Run:
    """Settings, the typed snapshots, who is eligible, the out-of-time split and each row's role
    (train, gap, test, pending or onboarding); :class:`BadInput` when nothing can be fitted."""
    cfg = settings()
    snaps = check_snapshots(snapshots)
    H = horizon(horizon_days or snapshots.attrs.get("horizon_days"), cfg)
    run = _Run(snapshots, snaps, cfg, H, scoring.missing_data_policy(), [])
    as_of, asked = snapshots.attrs.get("as_of"), snapshots.attrs.get("requested_as_of")
    if asked is not None and as_of is not None and pd.Timestamp(asked) > pd.Timestamp(as_of):
        run.warnings.append(f"as_of {_day(asked)} is after the data's end {_day(as_of)}: snapshots stop there and "
                            "labels need their horizon to be over by then")
    min_tenure = int(cfg["min_tenure_days"])
    run.young = (snaps["tenure_days"] < min_tenure).fillna(False).to_numpy(bool) if "tenure_days" in snaps else \
        np.zeros(len(snaps), bool)
    run.has_label = snaps["churned"].notna().to_numpy()
    run.eligible = run.has_label & ~run.young
    if not run.eligible.any():
        raise BadInput("snapshots", "churned", f"no snapshot has a complete {H}-day horizon before as_of "
                       f"(and tenure >= {min_tenure} days): nothing to train or test on", len(snaps))
    if snaps.loc[run.eligible, list(DIMENSIONS)].isna().all(axis=None):
        raise BadInput(str(snapshots.attrs.get("source") or "snapshots"), ", ".join(DIMENSIONS),
                       "no dimension values: every labelled snapshot has all five dimensions empty, so there "
                       "is no score to calibrate", int(run.eligible.sum()))
    run.split = split_dates(snaps.loc[run.eligible, "observed_at"].unique(), H, float(cfg["test_fraction"]))
    role = pd.Series(np.where(run.has_label, "onboarding", "pending"), index=snaps.index, dtype=object)
    for name in ("train", "gap", "test"):
        role[run.eligible & snaps["observed_at"].isin(run.split[name]).to_numpy()] = name
    snaps["role"] = role
    run.train, run.test = snaps[role == "train"], snaps[role == "test"]
    _check_parts(run)
    return run


def _check_parts(run: _Run) -> None:
    """Both classes in the training and the test rows (else :class:`BadInput`); a warning for
    each with fewer churners than ``min_churners``."""
    parts = (("training", run.train), ("test", run.test))
    for name, part in parts:
        if part["churned"].nunique() < 2:
            raise BadInput("snapshots", "churned", f"the {name} rows need both churned and retained accounts "
                           f"(n={len(part)}, churned={int(part['churned'].sum())})")
    few = int(run.cfg["min_churners"])
    for name, part in parts:
        k = int(part["churned"].sum())
        if k < few:
            run.warnings.append(f"only {k} churners in the {name} rows (fewer than {few}): the "
                                f"{'weights are unstable' if name == 'training' else 'intervals are wide'}; "
                                "do not adopt on this evidence alone")


def _proposed(run: _Run, current: Weights, proposal: ChurnCalibrator, kept_current: bool) -> Weights:
    """The proposal's weights with the current thresholds; warns about unmeasured dimensions and
    a proposal that keeps the current weights."""
    if proposal.unmeasured_:
        run.warnings.insert(0, f"not measured in this data: {', '.join(proposal.unmeasured_)} (a value on fewer "
                               f"than {proposal.min_measured:.0%} of training rows): weight 0 in the proposal")
    if kept_current:
        run.warnings.insert(0, "no dimension is associated with churn in the training rows: the proposal keeps "
                               "the current weights (a dimension with no data gets 0, its weight spread over the "
                               "measured ones, which leaves every score as it is)")
    return Weights(dict(proposal.weights_), current.green, current.amber, version=None, path="proposal")


def _onboarding_weights(run: _Run, current: Weights, proposed: Weights) -> tuple[Weights, dict]:
    """The proposal's onboarding section (docs/calibration.md): fitted like the main weights on the
    labelled snapshots scored against the onboarding plan when they hold at least
    ``min_onboarding_churners`` churners; else the current file's section is kept (or none)."""
    need = int(run.cfg["min_onboarding_churners"])
    snaps = run.snaps
    rows = snaps[run.has_label & snaps["onboarding"].to_numpy(dtype=bool)] if "onboarding" in snaps else snaps.iloc[:0]
    churners = int(rows["churned"].to_numpy(dtype=float).sum()) if len(rows) else 0
    info = {"rows": int(len(rows)), "churners": churners, "min_churners": need, "fitted": False,
            "weights": current.onboarding}
    if churners >= need and churners < len(rows):
        model = ChurnCalibrator(calibration=run.cfg["map"], missing=run.missing, C=float(run.cfg["C"]),
                                horizon_days=run.H, min_measured=float(run.cfg["min_measured_share"]))
        model.fit(rows[list(DIMENSIONS)], rows["churned"].to_numpy(dtype=float))
        if model.informative_:
            info.update(fitted=True, weights=dict(model.weights_))
    return replace(proposed, onboarding=info["weights"]), info


def _compare(run: _Run, bins: dict, replicates, seed, say) -> tuple[list[dict], list | None, dict]:
    """Point metrics of both models on the test rows, their paired account-clustered bootstrap
    (None with 0 replicates) and the bootstrap's description for metrics.json."""
    yt = run.yt
    point = [{k: float(v[0]) for k, v in _count_metrics(
        np.bincount(b, weights=yt, minlength=len(p)), np.bincount(b, weights=1 - yt, minlength=len(p)), p,
        risk).items()} for b, p, risk in (bins["current"], bins["proposed"])]
    n_rep = int(replicates if replicates is not None else run.cfg["bootstrap"]["replicates"])
    seed = int(seed if seed is not None else run.cfg["bootstrap"]["seed"])
    say(f"calibrate: bootstrap, {n_rep:,} replicates clustered by account")
    boot = _bootstrap(run.test["account_id"].to_numpy(), yt, [bins["current"], bins["proposed"]], n_rep, seed) \
        if n_rep else None
    info = {"replicates": n_rep, "seed": seed, "cluster": "account",
            "n_clusters": int(run.test["account_id"].nunique()), "interval": "percentile 95%"}
    return point, boot, info


def _side(run: _Run, side: str, model: ChurnCalibrator, w: Weights, point: dict, boot: dict | None) -> dict:
    """One model's entry in metrics.json (``current`` or ``proposed``); warns when its map is flat."""
    flat = flat_map(model)
    if flat:
        who = f"the current weights ({w.label})" if side == "current" else "the proposed weights"
        run.warnings.insert(0, f"no usable signal: the score -> churn map of {who} is flat on the training rows "
                               f"(every score gets the base rate {model.prior_:.1%}); its probabilities say "
                               "nothing about individual accounts")
    return {"version": w.label if side == "current" else None, "weights": dict(w.weights),
            "thresholds": {"green": _num(w.green), "amber": _num(w.amber)},
            **{m: _r(point[m]) for m in METRICS},
            "ci": {m: (_interval(boot[m]) if boot else [None, None]) for m in METRICS},
            "calibration": {kk: _r(v) if isinstance(v, float) else v for kk, v in model.calibration_.items()},
            "signal": "no usable signal" if flat else "varies with score",
            "ranked_on": "score (100 - integer score; no data ranks as 50)",
            "probabilities_from": "score -> churn map fitted on the training rows"}


def _bands(run: _Run, current: Weights, proposed: Weights) -> tuple[dict, pd.DataFrame]:
    """Suggested thresholds (from the training rows) and the band table on the test rows: current,
    proposed, and proposed with the suggested thresholds when there are any."""
    missing, yt, Xt = run.missing, run.yt, run.Xt
    score_cur_t = health_score(Xt, current.weights, missing)
    score_prop_t = health_score(Xt, proposed.weights, missing)
    suggested = suggest_thresholds(health_score(run.train[list(DIMENSIONS)], proposed.weights, missing),
                                   run.train["churned"].to_numpy(float),
                                   **{k: float(v) for k, v in run.cfg["thresholds"].items()})
    if suggested["green"] is None:
        run.warnings.append(f"no thresholds satisfy the rule ({suggested['rule']}): {suggested['reason']}; the "
                            f"current thresholds {_num(current.green)}/{_num(current.amber)} stay")
    sets = [(score_cur_t, current.green, current.amber, f"current {current.label}",
             f"{_num(current.green)}/{_num(current.amber)}"),
            (score_prop_t, proposed.green, proposed.amber, "proposed", f"{_num(proposed.green)}/{_num(proposed.amber)}")]
    if suggested["green"] is not None:
        sets.append((score_prop_t, suggested["green"], suggested["amber"], "proposed",
                     f"{suggested['green']}/{suggested['amber']} (suggested)"))
    bands = [band_table(scoring.colours(s, g, a, missing=NO_SCORE), yt, label, th) for s, g, a, label, th in sets]
    return suggested, pd.concat(bands, ignore_index=True)


def _counts(run: _Run) -> dict[str, Any]:
    """``n_train``, ``n_test``, ``horizon_days``, ``data_window``, ``split`` and ``snapshots`` of metrics.json."""
    snaps, split, H, attrs = run.snaps, run.split, run.H, run.snapshots.attrs
    first, last = snaps["observed_at"].min(), snaps["observed_at"].max()
    as_of = attrs.get("as_of")
    pending = snaps["churned"].isna()
    return {
        "n_train": int(len(run.train)), "n_test": int(len(run.test)), "horizon_days": H,
        "data_window": {"as_of": _day(as_of) if as_of is not None else _day(last),
                        "first_observed": _day(first), "last_observed": _day(last),
                        "train": [_day(split["train"][0]), _day(split["train"][-1])],
                        "test": [_day(split["test"][0]), _day(split["test"][-1])],
                        "source": attrs.get("source")},
        "split": {"method": f"out of time: test = last {float(run.cfg['test_fraction']):.0%} of labelled observation "
                            f"dates; train = dates whose {H}-day label window ends on or before the first test date",
                  **{k: [_day(d) for d in v] for k, v in split.items()},
                  "n_gap": int((snaps["role"] == "gap").sum())},
        "snapshots": {"n": int(len(snaps)), "n_accounts": int(snaps["account_id"].nunique()),
                      "n_labelled": int(run.has_label.sum()),
                      "n_onboarding": int((snaps["role"] == "onboarding").sum()),
                      "min_tenure_days": int(run.cfg["min_tenure_days"]),
                      "n_pending": int(pending.sum()),
                      "n_pending_accounts": int(snaps.loc[pending, "account_id"].nunique()),
                      "n_unscored": int(snaps[list(DIMENSIONS)].isna().all(axis=1).sum()),
                      "n_after_as_of": int(attrs.get("n_after_as_of", 0)),
                      "dates": int(snaps["observed_at"].nunique())},
    }


def _proposal_facts(proposal: ChurnCalibrator) -> dict[str, Any]:
    """What the proposal learned about the data: unmeasured dimensions, measured shares, raw weights."""
    return {"not_measured": list(proposal.unmeasured_),
            "measured_share": {d: _r(v, 4) for d, v in proposal.measured_share_.items()},
            "min_measured_share": float(proposal.min_measured),
            "raw_weights": {d: _r(v, 3) for d, v in proposal.raw_weights_.items()}}


def _changes_summary(changes: pd.DataFrame, latest_date) -> dict[str, Any]:
    """``colour_changes`` of metrics.json: the date, how many accounts change and each transition."""
    return {"observed_at": _day(latest_date), "n": int(len(changes)),
            "transitions": {f"{a}->{b}": int(n) for (a, b), n in
                            changes.groupby(["colour_current", "colour_proposed"]).size().items()}}


def _drift_summary(drift: pd.DataFrame, cfg: dict, latest_date) -> dict[str, Any]:
    """``drift`` of metrics.json: the largest dimension PSI, whether recalibration is due, every PSI."""
    dims_only = drift[drift["dimension"].isin(DIMENSIONS)]
    return {"recalibration_due": bool((dims_only["psi"] > float(cfg["psi"]["recalibrate"])).any()),
            "max_psi": float(dims_only["psi"].max()),
            "max_dimension": str(dims_only.loc[dims_only["psi"].idxmax(), "dimension"]),
            "not_measured": dims_only.loc[dims_only["psi"].isna(), "dimension"].tolist(),
            "psi": {r.dimension: _r(r.psi) for r in drift.itertuples()},
            "threshold": float(cfg["psi"]["recalibrate"]), "latest": _day(latest_date)}


def _colour_changes(latest, current, proposed, cur_model, proposal, missing, accounts) -> pd.DataFrame:
    """Accounts whose colour on the latest snapshot date differs between current and proposed weights."""
    X = latest[list(DIMENSIONS)]
    sc, sp = health_score(X, current.weights, missing), health_score(X, proposed.weights, missing)
    frame = pd.DataFrame({"account_id": latest["account_id"].to_numpy(),
                          "observed_at": latest["observed_at"].to_numpy(),
                          "score_current": np.round(sc, 2),
                          "colour_current": scoring.colours(sc, current.green, current.amber, missing=NO_SCORE),
                          "score_proposed": np.round(sp, 2),
                          "colour_proposed": scoring.colours(sp, proposed.green, proposed.amber, missing=NO_SCORE),
                          "churn_probability_current": cur_model.churn_probability(sc),
                          "churn_probability_proposed": proposal.churn_probability(sp),
                          "override_colour": latest["override_colour"].to_numpy()})
    frame = frame[frame["colour_current"] != frame["colour_proposed"]].copy()
    rank = {"red": 0, "amber": 1, "green": 2}
    cur_c, prop_c = frame["colour_current"], frame["colour_proposed"]
    # to or from "none" (no score) is not better or worse: the account gains or loses its score
    frame["direction"] = np.select(
        [prop_c == "none", cur_c == "none", prop_c.map(rank) < cur_c.map(rank)],
        ["no score", "scored", "worse"], "better")
    if accounts is not None and not accounts.empty:
        info = accounts[[c for c in ("account_id", "name", "segment", "csm", "arr") if c in accounts.columns]].copy()
        info["account_id"] = info["account_id"].astype("string")
        frame["account_id"] = frame["account_id"].astype("string")
        frame = frame.merge(info, on="account_id", how="left")
        front = ["account_id", "name", "segment", "csm", "arr"]
        frame = frame[[c for c in front if c in frame.columns] + [c for c in frame.columns if c not in front]]
    sort = ["direction", "arr"] if "arr" in frame.columns else ["direction", "score_proposed"]
    return frame.sort_values(sort, ascending=[False, False]).reset_index(drop=True)
