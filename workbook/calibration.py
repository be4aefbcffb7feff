"""Churn calibration (SPEC section 6): snapshots, the churn calibrator, out-of-time evaluation.

The flow a reviewer runs (``workbook calibrate`` or the calibration notebook)::

    snaps = calibration.build_snapshots(ws)                 # or calibration.load_snapshots(path)
    result = calibration.evaluate(snaps, weights.load_active())
    result.write("reports/calibration/2026-11-15")          # weights.yaml, metrics.json, ...

- :func:`build_snapshots` scores every account on every observation date (first of each month,
  plus ``as_of``) with :func:`workbook.health.dimension_scores` and labels each row: churned
  within ``horizon_days`` after the date. Rows whose horizon is not over by ``as_of`` stay
  unlabelled (``churned`` is null) and are counted, never used for training or testing.
- :class:`ChurnCalibrator` is a scikit-learn estimator: non-negative integer weights summing to
  100 (a logistic regression of churn on the redistributed health score, coefficients bounded
  at zero) and a monotone map from integer score 0..100 to churn probability.
- :func:`evaluate` fits the current and the proposed weights on the earlier observation dates
  and compares them on the later ones, with account-clustered bootstrap intervals, bands,
  suggested thresholds, override accuracy, colour changes, drift and a rolling-origin backtest.

Every probability here is a churn probability within the horizon (0..1); the health layer's
renewal probability is its complement. docs/calibration.md explains each choice.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import os
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from scipy import sparse
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from threadpoolctl import threadpool_limits

from . import params as _params
from . import weights as _weights
from .errors import BadInput, Finding
from .weights import DIMENSIONS, Weights

SNAPSHOT_COLUMNS = ["account_id", "observed_at", *DIMENSIONS, "churned"]
COLOURS = ("red", "amber", "green")
SCORES = np.arange(101)                  # every integer health score, the index of the map
METRICS = ("auc", "pr_auc", "brier", "log_loss", "ece", "top_decile_lift")
ECE_BINS = 10                            # SPEC section 6: 10 equal-width bins
_EPS_PROB = 1e-15                        # probability clip for log loss (as scikit-learn)
_EPS_WEIGHT = 1e-9                       # keeps the redistributed score defined when weights vanish
MAX_HORIZON_DAYS = 3650                  # ten years: a longer churn horizon is a typo, not a question
MIN_MEASURED_SHARE = 0.05                # a dimension with a value on fewer training rows gets weight 0
NO_SCORE_RISK = 50                       # ranking position of a row with no dimension data (a score of 50)

# Fallbacks for params/calibration.yaml (the file is the place to change them).
_DEFAULTS: dict[str, Any] = {
    "horizon_days": 90,
    "test_fraction": 0.25,
    "backtest_folds": 4,
    "min_train_dates": 3,
    "min_tenure_days": 90,
    "min_churners": 100,
    "min_measured_share": MIN_MEASURED_SHARE,
    "map": "logistic",
    "C": 1.0,
    "bootstrap": {"replicates": 1000, "seed": 20261115},
    "thresholds": {"red_churner_share": 0.6, "green_max_churner_share": 0.1},
    "psi": {"bins": 10, "watch": 0.1, "recalibrate": 0.2},
}


def settings() -> dict[str, Any]:
    """``params/calibration.yaml`` merged over the built-in defaults (a fresh dict)."""
    cfg = json.loads(json.dumps(_DEFAULTS))
    for key, value in _params.load("calibration", required=False).items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key].update(value)
        else:
            cfg[key] = value
    return cfg


def _missing_policy() -> str:
    """The health layer's missing-dimension policy (``missing_data`` in params/health.yaml)."""
    from .health import missing_data_policy
    return missing_data_policy()


# ============================================================================ scoring helpers
def _as_matrix(X, source: str = "X") -> np.ndarray:
    """The five dimensions as an (n, 5) float array in DIMENSIONS order (NaN = no data)."""
    if isinstance(X, pd.DataFrame):
        missing = [d for d in DIMENSIONS if d not in X.columns]
        if missing:
            raise BadInput(source, missing[0], f"required dimension column(s) missing: {', '.join(missing)}")
        arr = X[list(DIMENSIONS)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    else:
        arr = np.asarray(X, dtype=float)
        if arr.ndim != 2 or arr.shape[1] != len(DIMENSIONS):
            raise BadInput(source, None, f"must have {len(DIMENSIONS)} columns ({', '.join(DIMENSIONS)}), "
                           f"got shape {arr.shape}")
    return arr


def _weight_vector(w) -> np.ndarray:
    if isinstance(w, Weights):
        w = w.weights
    if isinstance(w, Mapping):
        return np.array([float(w[d]) for d in DIMENSIONS])
    return np.asarray(w, dtype=float)


def health_score(X, weights, missing: str = "redistribute") -> np.ndarray:
    """Health score 0..100 per row: Σ weight × dimension, as the health layer computes it.

    ``weights``: a mapping dimension → weight (summing to 100), a :class:`Weights` or a vector
    in DIMENSIONS order. With ``missing="redistribute"`` (the default policy) a dimension with no
    data (NaN) gives its weight to the present ones in proportion to their weights; a row with
    no weighted data at all scores NaN. With ``missing="zero"`` a missing dimension counts as 0.
    """
    arr = _as_matrix(X)
    w = _weight_vector(weights)
    present = ~np.isnan(arr)
    filled = np.where(present, arr, 0.0)
    if missing == "zero":
        return np.round(filled @ w * (100.0 / w.sum()), 9)
    if missing != "redistribute":
        raise BadInput("params/health.yaml", "missing_data", f"unknown policy {missing!r}: use redistribute or zero")
    num, den = filled @ w, present.astype(float) @ w
    with np.errstate(invalid="ignore", divide="ignore"):
        # rounded to 9 decimals like workbook.health, so a score lands on a threshold exactly
        return np.where(den > 0, np.round(100.0 * num / np.where(den > 0, den, 1.0), 9), np.nan)


def score_index(score) -> np.ndarray:
    """The integer score 0..100 that indexes the calibration map (halves round up); -1 for NaN."""
    s = np.asarray(score, dtype=float)
    idx = np.floor(np.clip(s, 0, 100) + 0.5)
    return np.where(np.isnan(s), -1, idx).astype(int)


def colours(score, green: float, amber: float) -> np.ndarray:
    """``green`` (score >= green), ``amber`` (>= amber) or ``red``, per row; ``none`` for NaN."""
    s = np.asarray(score, dtype=float)
    out = np.where(s >= green, "green", np.where(s >= amber, "amber", "red")).astype(object)
    out[np.isnan(s)] = "none"
    return out


def largest_remainder(raw, total: int = 100) -> dict[str, int]:
    """Integer weights summing to ``total`` from non-negative raw shares (largest-remainder rounding).

    Each dimension gets the floor of its exact share; the points left over go one each to the
    largest fractional remainders (ties: DIMENSIONS order). Raises ``ValueError`` when all are 0.
    """
    r = _weight_vector(raw)
    if (r < 0).any() or not np.isfinite(r).all() or r.sum() <= 0:
        raise ValueError(f"raw weights must be finite, non-negative and not all zero, got {r}")
    exact = r / r.sum() * total
    base = np.floor(exact + 1e-9).astype(int)
    left = total - int(base.sum())
    order = sorted(range(len(r)), key=lambda i: (-(exact[i] - base[i]), i))
    for i in order[:left]:
        base[i] += 1
    return {d: int(v) for d, v in zip(DIMENSIONS, base)}


# ============================================================================ the estimator
def _nll_logistic(theta, s, y, cnt, lam):
    """Mean negative log-likelihood of churn ~ a + b·s (with counts) and its gradient."""
    a, b = theta
    eta = a + b * s
    n = cnt.sum()
    loss = (cnt * (np.logaddexp(0.0, eta)) - y * eta).sum() / n + 0.5 * lam * b * b
    g = (cnt * expit(eta) - y) / n
    return loss, np.array([g.sum(), g @ s + lam * b])


def _fit_logistic_1d(s, pos, cnt, lam=0.0):
    """Fit churn probability = expit(a + b·s) with b <= 0 (monotone non-increasing in s).

    ``pos``/``cnt``: churners and rows at each value of ``s``. Returns (a, b).
    """
    rate = np.clip(pos.sum() / cnt.sum(), 1e-6, 1 - 1e-6)
    x0 = np.array([math.log(rate / (1 - rate)), 0.0])
    res = minimize(_nll_logistic, x0, args=(s, pos, cnt, lam), jac=True, method="L-BFGS-B",
                   bounds=[(None, None), (None, 0.0)], options={"maxiter": 1000, "gtol": 1e-10, "ftol": 1e-14})
    return float(res.x[0]), float(res.x[1])


def _fit_weights(X, y, lam, max_iter, tol):
    """Churn logit = a − Σβ_d·s_β(x), β >= 0, where s_β is the redistributed score (0..1).

    With every dimension present this is the plain logistic regression a − Σβ_d·x_d; a missing
    dimension's weight is spread over the present ones exactly as the health score does.
    Returns (a, β, n_iter).
    """
    n, k = X.shape
    present = ~np.isnan(X)
    xz = np.where(present, X, 0.0)
    mf = present.astype(float)
    rate = np.clip(y.mean(), 1e-6, 1 - 1e-6)

    def fun(theta):
        a, beta = theta[0], theta[1:]
        num = xz @ beta + 0.5 * _EPS_WEIGHT
        den = mf @ beta + _EPS_WEIGHT
        s = num / den
        total = beta.sum()
        eta = a - total * s
        loss = (np.logaddexp(0.0, eta) - y * eta).mean() + 0.5 * lam * beta @ beta
        g = (expit(eta) - y) / n
        gd = g / den
        # d eta / d beta_d = -[s + total * m_d (x_d - s) / den]
        grad_beta = -(g @ s) - total * (gd @ xz - (gd * s) @ mf) + lam * beta
        return loss, np.concatenate([[g.sum()], grad_beta])

    theta0 = np.concatenate([[math.log(rate / (1 - rate)) + 0.5 * k], np.ones(k)])
    res = minimize(fun, theta0, jac=True, method="L-BFGS-B", bounds=[(None, None)] + [(0.0, None)] * k,
                   options={"maxiter": max_iter, "ftol": tol, "gtol": 1e-10})
    return float(res.x[0]), np.maximum(res.x[1:], 0.0), int(res.nit)


class ChurnCalibrator(ClassifierMixin, BaseEstimator):
    """Learns health weights and a score → churn-probability map from labelled snapshots.

    Parameters (stored unchanged; validated in :meth:`fit`)
    ----------
    weights : mapping or None
        ``None`` learns the weights. A mapping dimension → integer weight (summing to 100) keeps
        them fixed and fits only the map — how the *current* weights are evaluated.
    calibration : ``"logistic"`` or ``"isotonic"``
        The score → probability map. Logistic (default): churn = expit(a + b·score/100) with
        b <= 0, monotone by construction, two parameters, smooth where scores are sparse;
        flat beyond the lowest and highest training scores (no extrapolation).
        Isotonic: a non-increasing step function (more flexible, noisier at the extremes).
    missing : ``"redistribute"`` or ``"zero"``
        The health layer's policy for a dimension with no data (see :func:`health_score`).
    C : float
        Inverse L2 strength on the weight coefficients, scaled as scikit-learn's
        ``LogisticRegression(C=...)``.
    horizon_days : int
        What the label means (churned within this many days); recorded with the map.
    min_measured : float
        Zero-weight rule: a dimension with a value on fewer than this share of the (scored)
        training rows is "not measured in this data" and gets weight 0 — the data cannot say
        anything about it. Default 0.05 (5%).
    max_iter, tol : optimiser limits for L-BFGS-B.

    Learned attributes
    ------------------
    weights_ : dict of int, summing to 100 (largest-remainder rounding of ``raw_weights_``).
    raw_weights_ : dict of float, summing to 100, before rounding.
    coef_ : (1, 5) churn-logit change per unit (0..1) of each dimension, all <= 0.
    intercept_ : (1,) churn logit when every dimension is 0.
    churn_probability_ : (101,) churn probability within the horizon for each integer score.
    calibration_ : dict describing the map (method and, for logistic, intercept and slope).
    prior_ : training churn rate, used for rows with no dimension data at all.
    informative_ : False when no dimension is associated with retention (all coefficients 0);
        the weights then fall back to equal shares of the measured dimensions and must not be adopted.
    measured_share_ : dict, share of the scored training rows with a value, per dimension.
    unmeasured_ : list of the dimensions below ``min_measured`` (weight 0 when weights are learned).
    classes_ : ``[0, 1]`` — column 0 of :meth:`predict_proba` is renewal (not churned), column 1 churn.
    n_features_in_, n_iter_, n_unscored_ : bookkeeping.
    """

    def __init__(self, weights=None, calibration: str = "logistic", missing: str = "redistribute",
                 C: float = 1.0, horizon_days: int = 90, min_measured: float = MIN_MEASURED_SHARE,
                 max_iter: int = 1000, tol: float = 1e-10):
        self.weights = weights
        self.calibration = calibration
        self.missing = missing
        self.C = C
        self.horizon_days = horizon_days
        self.min_measured = min_measured
        self.max_iter = max_iter
        self.tol = tol

    # ------------------------------------------------------------------ fitting
    def _check_params(self) -> dict[str, int] | None:
        if self.calibration not in ("logistic", "isotonic"):
            raise BadInput("ChurnCalibrator", "calibration", f"must be logistic or isotonic, got {self.calibration!r}")
        if self.missing not in ("redistribute", "zero"):
            raise BadInput("ChurnCalibrator", "missing", f"must be redistribute or zero, got {self.missing!r}")
        if not (isinstance(self.C, (int, float)) and self.C > 0):
            raise BadInput("ChurnCalibrator", "C", f"must be a positive number, got {self.C!r}")
        if not (isinstance(self.horizon_days, (int, np.integer)) and 1 <= self.horizon_days <= MAX_HORIZON_DAYS):
            raise BadInput("ChurnCalibrator", "horizon_days",
                           f"must be a whole number 1..{MAX_HORIZON_DAYS}, got {self.horizon_days!r}")
        if not (isinstance(self.min_measured, (int, float)) and 0 <= self.min_measured < 1):
            raise BadInput("ChurnCalibrator", "min_measured", f"must be a share in [0, 1), got {self.min_measured!r}")
        if self.weights is None:
            return None
        w = self.weights.weights if isinstance(self.weights, Weights) else self.weights
        if not isinstance(w, Mapping):
            raise BadInput("ChurnCalibrator", "weights", "must be None or a mapping of the five dimensions")
        return _weights.validate({"weights": dict(w), "thresholds": {"green": 80, "amber": 60}},
                                 "ChurnCalibrator(weights=...)").weights

    def fit(self, X, y):
        """Learn the weights (unless fixed) and the map from dimensions ``X`` and churn labels ``y``.

        ``X``: DataFrame with the five dimension columns (or an (n, 5) array in DIMENSIONS order),
        values 0..1, NaN where a dimension has no data. ``y``: 1 = churned within the horizon,
        0 = not. Returns ``self``.
        """
        # Tall-and-thin products (n x 5): threaded BLAS only adds overhead here (40x slower
        # on a busy 2-core machine), so the fit runs single-threaded.
        with threadpool_limits(limits=1, user_api="blas"):
            return self._fit(X, y)

    def _fit(self, X, y):
        fixed = self._check_params()
        arr = _as_matrix(X)
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.array(DIMENSIONS, dtype=object)
        bad = ~np.isnan(arr) & ((arr < 0) | (arr > 1))
        if bad.any():
            col = int(np.argmax(bad.any(axis=0)))
            rows = np.flatnonzero(bad[:, col])
            raise BadInput("X", DIMENSIONS[col], "must be within 0..1", len(rows), [f"row {r}" for r in rows[:5]])
        yv = pd.to_numeric(pd.Series(np.asarray(y).ravel()), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        if len(yv) != len(arr):
            raise BadInput("y", None, f"has {len(yv)} labels for {len(arr)} rows")
        notbin = ~np.isin(yv, (0.0, 1.0))
        if notbin.any():
            rows = np.flatnonzero(notbin)
            raise BadInput("y", "churned", "must be 0 or 1", len(rows), [f"row {r}" for r in rows[:5]])
        has_data = ~np.isnan(arr).all(axis=1)
        if not has_data.any():
            raise BadInput("X", ", ".join(DIMENSIONS), "no dimension values: every row's five dimensions are empty, "
                           "so there is nothing to fit", int(len(arr)))
        share = (~np.isnan(arr[has_data])).mean(axis=0)
        measured = share >= self.min_measured
        if not measured.any():
            raise BadInput("X", ", ".join(DIMENSIONS), f"no dimension has a value on at least "
                           f"{self.min_measured:.0%} of the rows")
        self.measured_share_ = {d: float(v) for d, v in zip(DIMENSIONS, share)}
        self.unmeasured_ = [d for d, m in zip(DIMENSIONS, measured) if not m]
        if self.missing == "zero":
            arr = np.where(np.isnan(arr), 0.0, arr)
        scored = ~np.isnan(arr).all(axis=1)
        if fixed is not None:
            scored &= ~np.isnan(health_score(arr, fixed, self.missing))
        Xs, ys = arr[scored], yv[scored]
        if len(np.unique(ys)) < 2:
            raise BadInput("y", "churned", "needs both churned (1) and retained (0) rows to fit", int(len(ys)))
        n = len(ys)
        lam = 1.0 / (self.C * n)
        if fixed is None:
            # zero-weight rule: only the measured dimensions enter the fit; the others keep 0
            beta = np.zeros(len(DIMENSIONS))
            a, beta[measured], self.n_iter_ = _fit_weights(Xs[:, measured], ys, lam, self.max_iter, self.tol)
            self.informative_ = bool(beta.sum() > 1e-6)
            raw = beta if self.informative_ else measured.astype(float)
            self.weights_ = largest_remainder(raw)
        else:
            wv = _weight_vector(fixed)
            s = health_score(Xs, fixed, self.missing) / 100.0
            a, b = _fit_logistic_1d(s, ys, np.ones_like(ys), lam)
            beta, self.n_iter_, self.informative_ = -b * wv / wv.sum(), 0, bool(b < 0)
            raw = wv
            self.weights_ = dict(fixed)
        self.raw_weights_ = {d: float(v) for d, v in zip(DIMENSIONS, np.asarray(raw) / np.sum(raw) * 100)}
        self.coef_ = -beta.reshape(1, -1)
        self.intercept_ = np.array([a])
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = len(DIMENSIONS)
        self.n_unscored_ = int((~scored).sum())
        self.prior_ = float(ys.mean())
        idx = score_index(health_score(Xs, self.weights_, self.missing))
        self._fit_map(idx[idx >= 0], ys[idx >= 0])
        return self

    def _fit_map(self, idx, y) -> None:
        cnt = np.bincount(idx, minlength=101).astype(float)
        pos = np.bincount(idx, weights=y, minlength=101)
        seen = cnt > 0
        lo, hi = int(SCORES[seen].min()), int(SCORES[seen].max())
        if self.calibration == "logistic":
            a, b = _fit_logistic_1d(SCORES[seen] / 100.0, pos[seen], cnt[seen])
            # no extrapolation: outside the scores seen in training the map stays at its edge value
            self.churn_probability_ = expit(a + b * np.clip(SCORES, lo, hi) / 100.0)
            self.calibration_ = {"method": "logistic", "intercept": a, "slope_per_point": b / 100.0,
                                 "score_range": [lo, hi]}
        else:
            from sklearn.isotonic import IsotonicRegression
            iso = IsotonicRegression(increasing=False, y_min=0.0, y_max=1.0, out_of_bounds="clip")
            iso.fit(SCORES[seen], pos[seen] / cnt[seen], sample_weight=cnt[seen])
            self.churn_probability_ = iso.predict(SCORES.astype(float))
            self.calibration_ = {"method": "isotonic", "score_range": [lo, hi]}

    # ------------------------------------------------------------------ prediction
    def _check_fitted(self) -> None:
        if not hasattr(self, "churn_probability_"):
            from sklearn.exceptions import NotFittedError
            raise NotFittedError("ChurnCalibrator is not fitted yet: call fit(X, y) first")

    def health_score(self, X) -> np.ndarray:
        """Health score 0..100 per row under the learned weights (NaN: no dimension data)."""
        self._check_fitted()
        return health_score(X, self.weights_, self.missing)

    def churn_probability(self, score) -> np.ndarray:
        """Churn probability within the horizon for health scores (rounded to integers); prior for NaN."""
        self._check_fitted()
        idx = score_index(score)
        return np.where(idx >= 0, self.churn_probability_[np.clip(idx, 0, 100)], self.prior_)

    def predict_proba(self, X) -> np.ndarray:
        """(n, 2) probabilities: column 0 renewal (class 0), column 1 churn within the horizon (class 1)."""
        p = self.churn_probability(self.health_score(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X) -> np.ndarray:
        """1 where the churn probability is at least 0.5, else 0."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def map_frame(self) -> pd.DataFrame:
        """``score`` (every integer 0..100) and ``churn_probability`` (0..1, non-increasing)."""
        self._check_fitted()
        return pd.DataFrame({"score": SCORES, "churn_probability": self.churn_probability_})


# ============================================================================ snapshots
def observation_dates(start, end) -> list[pd.Timestamp]:
    """The first day of every month from ``start`` (rounded up to a first) to ``end``, inclusive."""
    start, end = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    first = start if start.day == 1 else (start + pd.offsets.MonthBegin(1))
    return list(pd.date_range(first, end, freq="MS"))


def label_snapshots(frame: pd.DataFrame, churned_at: pd.Series, *, as_of, horizon_days: int) -> pd.Series:
    """Churn label per snapshot row: 1 when the account churned in (observed_at, observed_at + H],
    0 when it did not, null (``pd.NA``) when observed_at + H is after ``as_of`` (horizon not over).

    ``churned_at``: per row, the account's churn date (NaT when it has not churned). A churn dated
    after ``as_of`` does not exist yet (point-in-time). Returns an ``Int64`` series.
    """
    as_of = pd.Timestamp(as_of)
    obs = pd.to_datetime(frame["observed_at"])
    end = obs + pd.Timedelta(days=int(horizon_days))
    ch = pd.to_datetime(churned_at)
    ch = ch.where(ch <= as_of)
    label = ((ch > obs) & (ch <= end)).astype("Int64")
    return label.mask(end > as_of)


def build_snapshots(ws, *, as_of=None, horizon_days: int | None = None, dates=None, engine=None,
                    include_as_of: bool = True, progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Labelled dimension snapshots of every account on every observation date.

    Dates default to the first of each month from the start of the data (earliest signature or
    usage day) up to ``as_of`` (default: the latest usage date), plus ``as_of`` itself (the
    current snapshot, always unlabelled). Nothing is built after the data's end (the latest
    usage date): an ``as_of`` beyond it is cut back to it (``attrs['requested_as_of']`` keeps
    the request), and a label needs its horizon to be over by that date — the data cannot show
    a churn it does not contain. Scores come from
    :func:`workbook.health.dimension_scores` in one shared pass, so each row uses only facts
    dated on or before its date. Returns a DataFrame: ``account_id, observed_at`` (datetime),
    the five dimensions (0..1, NaN = no data), ``churned`` (Int64: 1/0, null while the horizon
    is not over), ``override_colour`` (the override active on that date, or null) and
    ``tenure_days`` (days since signature).
    ``attrs`` carries ``as_of``, ``horizon_days`` and ``source``.
    """
    from . import health
    if not hasattr(health, "dimension_scores"):
        raise RuntimeError("workbook.health.dimension_scores is not available in this version")
    H = check_horizon(horizon_days or settings()["horizon_days"])
    accounts = ws.frame("accounts")
    if accounts.empty:
        raise BadInput("accounts", None, "has no rows: there is nothing to calibrate")
    data_end = ws.usage_date_range[1]
    if data_end is None:
        raise BadInput("usage", "date", "has no rows: no account can be scored, so there is nothing to calibrate")
    data_end = pd.Timestamp(data_end).normalize()
    requested = pd.Timestamp(as_of).normalize() if as_of is not None else data_end
    as_of = min(requested, data_end)
    if dates is None:
        starts = [accounts["signed_at"].min()]
        first_usage = ws.usage_date_range[0]
        if first_usage is not None:
            starts.append(first_usage)
        start = min(s for s in starts if pd.notna(s))
        dates = observation_dates(start, as_of)
        if include_as_of and (not dates or dates[-1] != as_of):
            dates.append(as_of)
    dates = sorted({pd.Timestamp(d).normalize() for d in dates if pd.Timestamp(d) <= as_of})
    if not dates:
        raise BadInput("snapshots", "observed_at", f"no observation date on or before as_of {as_of:%Y-%m-%d}")
    if progress:
        progress(f"calibrate: scoring {len(accounts):,} accounts on {len(dates)} dates "
                 f"({dates[0]:%Y-%m-%d} .. {dates[-1]:%Y-%m-%d})")
    scores = health.dimension_scores(ws, dates, engine=engine)
    if scores.empty:
        raise BadInput("accounts", "signed_at", f"no account is signed and active on any observation date up to "
                       f"{as_of:%Y-%m-%d}: there is nothing to calibrate")
    snaps = scores.rename(columns={"date": "observed_at"})[["account_id", "observed_at", *DIMENSIONS]].copy()
    snaps["account_id"] = snaps["account_id"].astype("string")
    snaps["observed_at"] = pd.to_datetime(snaps["observed_at"]).astype("datetime64[ns]")
    for d in DIMENSIONS:
        snaps[d] = pd.to_numeric(snaps[d]).astype(float)
    churn = accounts.set_index(accounts["account_id"].astype("string"))["churned_at"]
    snaps["churned"] = label_snapshots(snaps, snaps["account_id"].map(churn), as_of=as_of, horizon_days=H)
    signed = accounts.set_index(accounts["account_id"].astype("string"))["signed_at"]
    snaps["tenure_days"] = (snaps["observed_at"] - snaps["account_id"].map(signed)).dt.days.astype("Int64")
    active = health.active_overrides(ws, snaps.rename(columns={"observed_at": "date"}))
    snaps["override_colour"] = active["override_colour"].to_numpy()
    snaps = snaps.sort_values(["observed_at", "account_id"]).reset_index(drop=True)
    snaps.attrs.update(as_of=as_of, horizon_days=H, source=str(ws.source), data_end=data_end,
                       requested_as_of=requested)
    return snaps


def load_snapshots(path, *, horizon_days: int | None = None, as_of=None) -> pd.DataFrame:
    """Read and validate a reviewer's snapshot CSV (SPEC section 6 columns).

    Required: ``account_id, observed_at, adoption, engagement, sentiment, outcomes,
    relationship, churned``; optional ``override_colour`` (red/amber/green or empty) and
    ``tenure_days`` (days since signature, a whole number >= 0 or empty). Dimensions
    are 0..1 (an empty cell = no data for that dimension), churned is 0 or 1 (within the
    horizon), observed_at an ISO date, and (account_id, observed_at) unique. Every broken rule is
    collected and raised together as :class:`BadInput` (exit code 2 on the command line).

    ``as_of`` defaults to the latest observed_at + ``horizon_days`` (every row labelled); rows
    observed after ``as_of`` are dropped and counted (``attrs['n_after_as_of']``), rows whose
    horizon ends after ``as_of`` become unlabelled. Returns the frame of :func:`build_snapshots`.
    """
    path = Path(path)
    name = str(path)
    H = check_horizon(horizon_days or settings()["horizon_days"])
    if not path.is_file():
        raise BadInput(name, None, "snapshot file does not exist")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        why = str(exc).splitlines()[0] if str(exc) else "empty"
        raise BadInput(name, None, f"is not a readable CSV file ({why})") from None
    raw.columns = [str(c).strip() for c in raw.columns]
    missing = [c for c in SNAPSHOT_COLUMNS if c not in raw.columns]
    if missing:
        raise BadInput(name, missing[0], f"required column(s) missing: {', '.join(missing)} "
                       f"(expected {', '.join(SNAPSHOT_COLUMNS)})")
    if raw.empty:
        raise BadInput(name, None, "has no rows")
    raw = raw.apply(lambda c: c.str.strip())
    findings: list[Finding] = []
    line = pd.Series(np.arange(len(raw)) + 2, index=raw.index)           # header is line 1

    def fail(col, rule, mask):
        if mask.any():
            ex = [f"line {ln} ({aid or '?'})" for ln, aid in zip(line[mask][:5], raw.loc[mask, "account_id"][:5])]
            findings.append(Finding("error", name, col, rule, int(mask.sum()), tuple(ex)))

    fail("account_id", "must not be empty", raw["account_id"] == "")
    obs = pd.to_datetime(raw["observed_at"].str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
    fail("observed_at", "must be an ISO date (YYYY-MM-DD)", obs.isna())
    out = pd.DataFrame({"account_id": raw["account_id"].astype("string"), "observed_at": obs})
    for d in DIMENSIONS:
        text = raw[d]
        num = pd.to_numeric(text.where(text != ""), errors="coerce")
        fail(d, "must be a number (or empty for no data)", (text != "") & num.isna())
        fail(d, "must be within 0..1", num.notna() & ((num < 0) | (num > 1)))
        out[d] = num.astype(float)
    ch = pd.to_numeric(raw["churned"].where(raw["churned"] != ""), errors="coerce")
    bad_ch = ~ch.isin([0, 1])
    fail("churned", "must be 0 or 1 (churned within the horizon)", bad_ch)
    if "override_colour" in raw.columns:
        oc = raw["override_colour"].str.lower()
        fail("override_colour", "must be red, amber, green or empty", ~oc.isin(["", *COLOURS]))
        out["override_colour"] = oc.where(oc != "").astype("string")
    else:
        out["override_colour"] = pd.Series(pd.NA, index=raw.index, dtype="string")
    if "tenure_days" in raw.columns:
        text = raw["tenure_days"]
        num = pd.to_numeric(text.where(text != ""), errors="coerce")
        fail("tenure_days", "must be a whole number >= 0 (or empty)",
             (text != "") & (num.isna() | (num < 0) | (num % 1 != 0)))
        out["tenure_days"] = num
    dup = out.duplicated(["account_id", "observed_at"], keep=False) & obs.notna()
    fail("account_id, observed_at", "must be unique together (one snapshot per account and date)", dup)
    if findings:
        raise BadInput.from_findings(findings)
    out["churned"] = ch.astype("Int64")
    if "tenure_days" in out.columns:
        out["tenure_days"] = out["tenure_days"].round().astype("Int64")
    out["observed_at"] = out["observed_at"].astype("datetime64[ns]")
    as_of = pd.Timestamp(as_of).normalize() if as_of is not None else out["observed_at"].max() + pd.Timedelta(days=H)
    after = out["observed_at"] > as_of
    out = out[~after].copy()
    if out.empty:
        raise BadInput(name, "observed_at", f"every row is observed after as_of {as_of:%Y-%m-%d}", int(after.sum()))
    out.loc[out["observed_at"] + pd.Timedelta(days=H) > as_of, "churned"] = pd.NA
    out = out.sort_values(["observed_at", "account_id"]).reset_index(drop=True)
    out.attrs.update(as_of=as_of, horizon_days=H, source=name, n_after_as_of=int(after.sum()))
    return out


def synthetic_snapshots(n_accounts: int = 1000, months: int = 24, *, weights=None, intercept: float = 2.0,
                        slope: float = -8.0, missing: Mapping[str, float] | None = None,
                        start: str = "2024-01-01", late_shift: Mapping[str, float] | None = None,
                        seed: int = 0) -> pd.DataFrame:
    """A statistical test bed: snapshots whose churn follows known weights (not a sample world).

    Each account has a persistent level per dimension (Beta(1.5, 1.5)); each month's value mixes
    it with fresh noise (60/40), so rows of one account are correlated. A share of each
    dimension (``missing``, default 10% sentiment) is NaN. The label is drawn from
    churn = expit(intercept + slope × score/100) with score the redistributed health score under
    ``weights`` (default 40/10/5/30/15). ``late_shift`` adds a constant to a dimension in the
    final month (for drift tests). Observation dates are first-of-month from ``start``.
    Returns the :func:`load_snapshots` frame, every row labelled.
    """
    rng = np.random.default_rng(seed)
    weights = weights or {"adoption": 40, "engagement": 10, "sentiment": 5, "outcomes": 30, "relationship": 15}
    missing = {"sentiment": 0.10} if missing is None else missing
    dates = pd.date_range(start, periods=months, freq="MS")
    k = len(DIMENSIONS)
    level = rng.beta(1.5, 1.5, size=(n_accounts, 1, k))
    x = 0.6 * level + 0.4 * rng.beta(1.5, 1.5, size=(n_accounts, months, k))
    for j, d in enumerate(DIMENSIONS):
        if late_shift and d in late_shift:
            x[:, -1, j] += late_shift[d]
    x = np.clip(x, 0, 1).reshape(-1, k)
    for j, d in enumerate(DIMENSIONS):
        share = missing.get(d, 0.0)
        if share:
            x[rng.random(len(x)) < share, j] = np.nan
    score = health_score(x, weights)
    p = expit(intercept + slope * np.nan_to_num(score, nan=50.0) / 100.0)
    frame = pd.DataFrame(x, columns=list(DIMENSIONS))
    frame.insert(0, "observed_at", np.tile(dates.to_numpy(), n_accounts))
    frame.insert(0, "account_id", pd.array(np.repeat([f"S{i:06d}" for i in range(n_accounts)], months), dtype="string"))
    frame["churned"] = pd.array((rng.random(len(frame)) < p).astype(int), dtype="Int64")
    frame["override_colour"] = pd.Series(pd.NA, index=frame.index, dtype="string")
    frame = frame.sort_values(["observed_at", "account_id"]).reset_index(drop=True)
    frame.attrs.update(as_of=dates[-1] + pd.Timedelta(days=90), horizon_days=90, source="synthetic")
    return frame


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


def classification_metrics(y, p, risk=None) -> dict[str, float]:
    """AUC, PR AUC, Brier, log loss, ECE (10 equal-width bins) and top-decile lift against labels
    ``y`` (1 = churned). Brier, log loss and ECE judge the churn probabilities ``p``; AUC, PR AUC
    and lift judge the ranking by ``risk`` (higher = riskier; default ``p``) — for a health
    score pass ``100 - score``. Ties are exact (see docs)."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
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
def split_dates(dates, horizon_days: int, test_fraction: float = 0.25) -> dict[str, list[pd.Timestamp]]:
    """Out-of-time split of labelled observation dates.

    Test: the last ``ceil(test_fraction × n_dates)`` dates. Train: the dates whose label window
    (date, date + horizon] ends on or before the first test date — so every training label was
    known when the test period starts. Dates in between are the gap (used for neither).
    Returns ``{"train": [...], "gap": [...], "test": [...]}``; raises :class:`BadInput` when
    there is no training date left.
    """
    dates = sorted({pd.Timestamp(d) for d in dates})
    if len(dates) < 2:
        raise BadInput("snapshots", "observed_at", f"an out-of-time split needs at least 2 labelled observation "
                       f"dates, found {len(dates)}")
    n_test = max(1, math.ceil(test_fraction * len(dates)))
    test = dates[-n_test:]
    cut = test[0]
    train = [d for d in dates[:-n_test] if d + pd.Timedelta(days=int(horizon_days)) <= cut]
    gap = [d for d in dates[:-n_test] if d not in train]
    if not train:
        raise BadInput("snapshots", "observed_at", f"no observation date ends its {horizon_days}-day label window "
                       f"before the test period starts {cut:%Y-%m-%d}: need a longer history "
                       f"({len(dates)} labelled dates)")
    return {"train": train, "gap": gap, "test": test}


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
            "metrics.json": _to_json(self.metrics),
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
        _write_set(out, texts)
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


def _to_json(obj) -> str:
    from .cli import to_json
    return to_json(obj) + "\n"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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


def _write_set(out: Path, texts: Mapping[str, str]) -> None:
    """Write ``texts`` (file name → content) as the folder ``out``, swapped in at once (see
    :meth:`CalibrationResult.write`)."""
    import shutil
    out.parent.mkdir(parents=True, exist_ok=True)
    mask = _umask()
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    aside, carried = None, []
    try:
        os.chmod(stage, 0o777 & ~mask)
        for name, text in texts.items():
            with open(stage / name, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
            os.chmod(stage / name, 0o666 & ~mask)
        if out.is_dir():
            for extra in out.iterdir():            # a reviewer's own notes in the folder stay
                if extra.name not in texts:
                    os.rename(extra, stage / extra.name)
                    carried.append(extra.name)
            aside = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.rename(out, aside / "set")
        os.rename(stage, out)
    except BaseException:
        if aside is not None and (aside / "set").exists() and not out.exists():
            os.rename(aside / "set", out)          # put the old set back
        for name in carried:
            if (stage / name).exists() and out.is_dir():
                os.rename(stage / name, out / name)
        shutil.rmtree(stage, ignore_errors=True)
        raise
    finally:
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)


def _check_snapshots(snapshots: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in SNAPSHOT_COLUMNS if c not in snapshots.columns]
    if missing:
        raise BadInput("snapshots", missing[0], f"required column(s) missing: {', '.join(missing)}")
    snaps = snapshots.copy()
    snaps["observed_at"] = pd.to_datetime(snaps["observed_at"]).astype("datetime64[ns]")
    snaps["churned"] = pd.to_numeric(snaps["churned"]).astype("Int64")
    if "tenure_days" in snaps.columns:
        snaps["tenure_days"] = pd.to_numeric(snaps["tenure_days"]).astype("Int64")
    if "override_colour" not in snaps.columns:
        snaps["override_colour"] = pd.Series(pd.NA, index=snaps.index, dtype="string")
    return snaps


def check_horizon(horizon_days) -> int:
    """``horizon_days`` as an int in 1..MAX_HORIZON_DAYS, or :class:`BadInput` (exit 2)."""
    try:
        H = int(horizon_days)
        whole = float(horizon_days) == H
    except (TypeError, ValueError, OverflowError):
        whole = False
    if not whole:
        raise BadInput("horizon_days", None, f"must be a whole number of days, got {horizon_days!r}")
    if not 1 <= H <= MAX_HORIZON_DAYS:
        raise BadInput("horizon_days", None, f"must be 1..{MAX_HORIZON_DAYS} days (ten years), got {H}")
    return H


def flat_map(model: ChurnCalibrator) -> bool:
    """True when the fitted score → churn map gives every score the same probability (no signal)."""
    return bool(np.ptp(model.churn_probability_) < 1e-9)


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

    ``snapshots``: the frame of :func:`build_snapshots` / :func:`load_snapshots` (unlabelled rows
    are counted and used only for drift and colour changes). ``current``: the weights in force
    (default: the active version). ``accounts`` (optional): adds name, segment, csm and arr to
    the colour changes. ``replicates``/``seed`` override the bootstrap settings of
    ``params/calibration.yaml``. Returns a :class:`CalibrationResult`.
    """
    with threadpool_limits(limits=1, user_api="blas"):        # see ChurnCalibrator.fit
        return _evaluate(snapshots, current, horizon_days=horizon_days, accounts=accounts,
                         replicates=replicates, seed=seed, progress=progress)


def _evaluate(snapshots, current, *, horizon_days, accounts, replicates, seed, progress) -> CalibrationResult:
    cfg = settings()
    say = progress or (lambda _m: None)
    current = current or _weights.load_active()
    snaps = _check_snapshots(snapshots)
    H = check_horizon(horizon_days or snapshots.attrs.get("horizon_days") or cfg["horizon_days"])
    missing = _missing_policy()
    as_of = snapshots.attrs.get("as_of")
    warnings: list[str] = []
    asked = snapshots.attrs.get("requested_as_of")
    if asked is not None and as_of is not None and pd.Timestamp(asked) > pd.Timestamp(as_of):
        warnings.append(f"as_of {_day(asked)} is after the data's end {_day(as_of)}: snapshots stop there and "
                        "labels need their horizon to be over by then")

    min_tenure = int(cfg["min_tenure_days"])
    young = (snaps["tenure_days"] < min_tenure).fillna(False).to_numpy(bool) if "tenure_days" in snaps else \
        np.zeros(len(snaps), bool)
    has_label = snaps["churned"].notna().to_numpy()
    eligible = has_label & ~young
    if not eligible.any():
        raise BadInput("snapshots", "churned", f"no snapshot has a complete {H}-day horizon before as_of "
                       f"(and tenure >= {min_tenure} days): nothing to train or test on", len(snaps))
    if snaps.loc[eligible, list(DIMENSIONS)].isna().all(axis=None):
        raise BadInput(str(snapshots.attrs.get("source") or "snapshots"), ", ".join(DIMENSIONS),
                       "no dimension values: every labelled snapshot has all five dimensions empty, so there "
                       "is no score to calibrate", int(eligible.sum()))
    split = split_dates(snaps.loc[eligible, "observed_at"].unique(), H, float(cfg["test_fraction"]))
    role = pd.Series(np.where(has_label, "onboarding", "pending"), index=snaps.index, dtype=object)
    for name in ("train", "gap", "test"):
        role[eligible & snaps["observed_at"].isin(split[name]).to_numpy()] = name
    snaps["role"] = role
    train, test = snaps[role == "train"], snaps[role == "test"]
    for name, part in (("training", train), ("test", test)):
        if part["churned"].nunique() < 2:
            raise BadInput("snapshots", "churned", f"the {name} rows need both churned and retained accounts "
                           f"(n={len(part)}, churned={int(part['churned'].sum())})")
    few = int(cfg["min_churners"])
    for name, part in (("training", train), ("test", test)):
        k = int(part["churned"].sum())
        if k < few:
            warnings.append(f"only {k} churners in the {name} rows (fewer than {few}): the "
                            f"{'weights are unstable' if name == 'training' else 'intervals are wide'}; "
                            "do not adopt on this evidence alone")
    say(f"calibrate: fitting on {len(train):,} training rows ({len(split['train'])} dates), "
        f"testing on {len(test):,} ({len(split['test'])} dates)")
    cur_model, proposal, kept_current = _fit_pair(train, current, cfg, H, missing)
    unmeasured = list(proposal.unmeasured_)
    if unmeasured:
        warnings.insert(0, f"not measured in this data: {', '.join(unmeasured)} (a value on fewer than "
                           f"{proposal.min_measured:.0%} of training rows): weight 0 in the proposal")
    if kept_current:
        warnings.insert(0, "no dimension is associated with churn in the training rows: the proposal keeps "
                           "the current weights (a dimension with no data gets 0, its weight spread over the "
                           "measured ones, which leaves every score as it is)")
    proposed = Weights(dict(proposal.weights_), current.green, current.amber, version=None, path="proposal")

    Xt, yt = test[list(DIMENSIONS)], test["churned"].to_numpy(float)
    bins_cur, bins_prop = _bins(cur_model, Xt), _bins(proposal, Xt)
    point = [{k: float(v[0]) for k, v in _count_metrics(
        np.bincount(b, weights=yt, minlength=len(p)), np.bincount(b, weights=1 - yt, minlength=len(p)), p,
        risk).items()} for b, p, risk in (bins_cur, bins_prop)]
    n_rep = int(replicates if replicates is not None else cfg["bootstrap"]["replicates"])
    seed = int(seed if seed is not None else cfg["bootstrap"]["seed"])
    say(f"calibrate: bootstrap, {n_rep:,} replicates clustered by account")
    boot = _bootstrap(test["account_id"].to_numpy(), yt, [bins_cur, bins_prop], n_rep, seed) if n_rep else None

    sides = {}
    for side, model, w, pt, k in (("current", cur_model, current, point[0], 0),
                                  ("proposed", proposal, proposed, point[1], 1)):
        flat = flat_map(model)
        sides[side] = {"version": w.label if side == "current" else None, "weights": dict(w.weights),
                       "thresholds": {"green": _num(w.green), "amber": _num(w.amber)},
                       **{m: _r(pt[m]) for m in METRICS},
                       "ci": {m: (_interval(boot[k][m]) if boot else [None, None]) for m in METRICS},
                       "calibration": {kk: _r(v) if isinstance(v, float) else v
                                       for kk, v in model.calibration_.items()},
                       "signal": "no usable signal" if flat else "varies with score",
                       "ranked_on": "score (100 - integer score; no data ranks as 50)",
                       "probabilities_from": "score -> churn map fitted on the training rows"}
        if flat:
            who = f"the current weights ({w.label})" if side == "current" else "the proposed weights"
            warnings.insert(0, f"no usable signal: the score -> churn map of {who} is flat on the training rows "
                               f"(every score gets the base rate {model.prior_:.1%}); its probabilities say nothing "
                               "about individual accounts")
    diff = {m: {"value": _r(point[1][m] - point[0][m]),
                "ci": _interval(boot[1][m] - boot[0][m]) if boot else [None, None]} for m in METRICS}
    recommendation = _recommendation(diff["log_loss"], current, proposed, kept_current, flat_map(proposal),
                                     unmeasured, [w for w in warnings if w.startswith("only ")])

    say("calibrate: bands, thresholds, overrides, colour changes, drift, backtest")
    ycol = {"train": train["churned"].to_numpy(float)}
    score_cur_t = health_score(Xt, current.weights, missing)
    score_prop_t = health_score(Xt, proposed.weights, missing)
    suggested = suggest_thresholds(health_score(train[list(DIMENSIONS)], proposed.weights, missing), ycol["train"],
                                   **{k: float(v) for k, v in cfg["thresholds"].items()})
    if suggested["green"] is None:
        warnings.append(f"no thresholds satisfy the rule ({suggested['rule']}): {suggested['reason']}; the current "
                        f"thresholds {_num(current.green)}/{_num(current.amber)} stay")
    bands = [band_table(colours(score_cur_t, current.green, current.amber), yt, f"current {current.label}",
                        f"{_num(current.green)}/{_num(current.amber)}"),
             band_table(colours(score_prop_t, proposed.green, proposed.amber), yt, "proposed",
                        f"{_num(proposed.green)}/{_num(proposed.amber)}")]
    if suggested["green"] is not None:
        bands.append(band_table(colours(score_prop_t, suggested["green"], suggested["amber"]), yt,
                                "proposed", f"{suggested['green']}/{suggested['amber']} (suggested)"))
    bands = pd.concat(bands, ignore_index=True)

    lab = snaps[eligible]
    ov_summary, ov_table = _override_accuracy(
        lab, colours(health_score(lab[list(DIMENSIONS)], current.weights, missing), current.green, current.amber))

    latest_date = snaps["observed_at"].max()
    at_latest = (snaps["observed_at"] == latest_date).to_numpy()
    latest = snaps[at_latest]
    changes = _colour_changes(latest, current, proposed, cur_model, proposal, missing, accounts)
    drift = _drift(train, snaps[at_latest & ~young], current.weights, proposed.weights, missing, cfg)
    dims_only = drift[drift["dimension"].isin(DIMENSIONS)]
    backtest = _backtest(lab, current, cfg, H, missing, len(split["test"]),
                         main={"train": split["train"], "test": split["test"], "models": (cur_model, proposal)})
    ref_auc = _reference_auc(train, test)

    first, last = snaps["observed_at"].min(), snaps["observed_at"].max()
    metrics = {
        "current": sides["current"], "proposed": sides["proposed"], "difference": diff,
        "n_train": int(len(train)), "n_test": int(len(test)), "horizon_days": H,
        "data_window": {"as_of": _day(as_of) if as_of is not None else _day(last),
                        "first_observed": _day(first), "last_observed": _day(last),
                        "train": [_day(split["train"][0]), _day(split["train"][-1])],
                        "test": [_day(split["test"][0]), _day(split["test"][-1])],
                        "source": snapshots.attrs.get("source")},
        "split": {"method": f"out of time: test = last {float(cfg['test_fraction']):.0%} of labelled observation "
                            f"dates; train = dates whose {H}-day label window ends on or before the first test date",
                  **{k: [_day(d) for d in v] for k, v in split.items()},
                  "n_gap": int((role == "gap").sum())},
        "snapshots": {"n": int(len(snaps)), "n_accounts": int(snaps["account_id"].nunique()),
                      "n_labelled": int(has_label.sum()),
                      "n_onboarding": int((role == "onboarding").sum()), "min_tenure_days": min_tenure,
                      "n_pending": int(snaps["churned"].isna().sum()),
                      "n_pending_accounts": int(snaps.loc[snaps["churned"].isna(), "account_id"].nunique()),
                      "n_unscored": int(snaps[list(DIMENSIONS)].isna().all(axis=1).sum()),
                      "n_after_as_of": int(snapshots.attrs.get("n_after_as_of", 0)),
                      "dates": int(snaps["observed_at"].nunique())},
        "base_rate": {"train": float(ycol["train"].mean()), "test": float(yt.mean())},
        "reference": {"unconstrained_logistic_auc": ref_auc,
                      "proposal_auc_gap": _r(point[1]["auc"] - ref_auc)},
        "bootstrap": {"replicates": n_rep, "seed": seed, "cluster": "account",
                      "n_clusters": int(test["account_id"].nunique()), "interval": "percentile 95%"},
        "missing_policy": missing,
        "recommendation": recommendation,
        "not_measured": unmeasured,
        "measured_share": {d: _r(v, 4) for d, v in proposal.measured_share_.items()},
        "min_measured_share": float(proposal.min_measured),
        "raw_weights": {d: _r(v, 3) for d, v in proposal.raw_weights_.items()},
        "suggested_thresholds": suggested,
        "override_accuracy": ov_summary,
        "colour_changes": {"observed_at": _day(latest_date), "n": int(len(changes)),
                           "transitions": {f"{a}->{b}": int(n) for (a, b), n in
                                           changes.groupby(["colour_current", "colour_proposed"]).size().items()}},
        "drift": {"recalibration_due": bool((dims_only["psi"] > float(cfg["psi"]["recalibrate"])).any()),
                  "max_psi": float(dims_only["psi"].max()),
                  "max_dimension": str(dims_only.loc[dims_only["psi"].idxmax(), "dimension"]),
                  "not_measured": dims_only.loc[dims_only["psi"].isna(), "dimension"].tolist(),
                  "psi": {r.dimension: _r(r.psi) for r in drift.itertuples()},
                  "threshold": float(cfg["psi"]["recalibrate"]), "latest": _day(latest_date)},
        "backtest": backtest.to_dict(orient="records"),
        "warnings": warnings,
    }
    return CalibrationResult(
        current=current, proposed=proposed, current_model=cur_model, proposal=proposal, metrics=metrics,
        calibration=proposal.map_frame(), reliability=_reliability(yt, {f"current {current.label}": bins_cur,
                                                                           "proposed": bins_prop}),
        bands=bands, colour_changes=changes, drift=drift, backtest=backtest, overrides=ov_table,
        snapshots=snaps[[c for c in ("account_id", "observed_at", *DIMENSIONS, "churned", "override_colour",
                                     "tenure_days", "role") if c in snaps.columns]],
        warnings=warnings)


def _colour_changes(latest, current, proposed, cur_model, proposal, missing, accounts) -> pd.DataFrame:
    """Accounts whose colour on the latest snapshot date differs between current and proposed weights."""
    X = latest[list(DIMENSIONS)]
    sc, sp = health_score(X, current.weights, missing), health_score(X, proposed.weights, missing)
    frame = pd.DataFrame({"account_id": latest["account_id"].to_numpy(),
                          "observed_at": latest["observed_at"].to_numpy(),
                          "score_current": np.round(sc, 2), "colour_current": colours(sc, current.green, current.amber),
                          "score_proposed": np.round(sp, 2),
                          "colour_proposed": colours(sp, proposed.green, proposed.amber),
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


# ============================================================================ command line
def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def cli(args) -> int:
    """``workbook calibrate (--data SRC | --snapshots FILE) [--as-of] [--horizon-days N] [--out DIR]``."""
    H = check_horizon(args.horizon_days)
    accounts = None
    if args.out:                                  # refuse an unwritable destination before any work
        check_writable(args.out)
    if getattr(args, "data", None):
        from .workspace import open_data
        ws = open_data(args.data)
        try:
            snaps = build_snapshots(ws, as_of=args.as_of, horizon_days=H, progress=_progress)
            as_of = snaps.attrs["as_of"]
            accounts = ws.frame("accounts")
        finally:
            ws.close()
    else:
        snaps = load_snapshots(args.snapshots, horizon_days=H, as_of=args.as_of)
        as_of = snaps.attrs["as_of"]
    out = Path(args.out) if args.out else Path("reports") / "calibration" / _day(as_of)
    check_writable(out)
    result = evaluate(snaps, _weights.load_active(), horizon_days=H, accounts=accounts, progress=_progress)
    paths = result.write(out)
    print(result.summary())
    print(f"wrote {len(paths)} files to {out}: {', '.join(p.name for p in paths)}")
    if result.metrics["recommendation"]["adopt"]:
        print(f"next: review them, then `workbook weights adopt {out / 'weights.yaml'} --reason \"...\"`")
    else:
        print("next: nothing should change - keep the current weights (the files are there for review)")
    return 0
