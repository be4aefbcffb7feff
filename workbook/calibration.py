"""The churn calibrator (SPEC section 6): an estimator that learns health weights and a score →
churn-probability map from labelled snapshots, plus the calibration settings.

- :class:`ChurnCalibrator` is a scikit-learn estimator: non-negative integer weights summing to
  100 (a logistic regression of churn on the redistributed health score, coefficients bounded
  at zero) and a monotone map from integer score 0..100 to churn probability.
- :func:`settings` reads ``params/calibration.yaml`` over the built-in defaults;
  :func:`check_horizon` / :func:`horizon` validate the label window.

Scores come from :mod:`workbook.scoring`, the health layer's arithmetic. Snapshots (building,
reading, labels, splits) live in :mod:`workbook.snapshots`; the out-of-time evaluation and its
output files in :mod:`workbook.evaluation`. Every probability here is a churn probability within
the horizon (0..1); the health layer's renewal probability is its complement.
docs/calibration.md explains each choice.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from threadpoolctl import threadpool_limits

from . import params as _params
from . import scoring
from . import weights as _weights
from .errors import BadInput
from .scoring import DIMENSIONS
from .weights import Weights

__all__ = ["ChurnCalibrator", "settings", "check_horizon", "horizon", "health_score", "score_index",
           "largest_remainder", "flat_map", "SCORES", "MAX_HORIZON_DAYS", "MIN_MEASURED_SHARE", "NO_SCORE_RISK"]

SCORES = np.arange(101)                  # every integer health score, the index of the map
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
    "min_onboarding_churners": 100,
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


def check_horizon(horizon_days, source: str = "--horizon-days", setting: str | None = None) -> int:
    """``horizon_days`` as an int in 1..MAX_HORIZON_DAYS, or :class:`BadInput` (exit 2) naming
    ``source`` (the command-line option, or a parameters file with its ``setting``)."""
    try:
        H = int(horizon_days)
        whole = float(horizon_days) == H
    except (TypeError, ValueError, OverflowError):
        whole = False
    if not whole:
        raise BadInput(source, setting, f"must be a whole number of days, got {horizon_days!r}")
    if not 1 <= H <= MAX_HORIZON_DAYS:
        raise BadInput(source, setting, f"must be 1..{MAX_HORIZON_DAYS} days (ten years), got {H}")
    return H


def horizon(horizon_days=None, cfg: Mapping[str, Any] | None = None) -> int:
    """The label window in days: ``horizon_days`` when given (checked as ``--horizon-days``),
    else ``horizon_days`` of params/calibration.yaml (checked as that setting)."""
    if horizon_days:
        return check_horizon(horizon_days)
    cfg = settings() if cfg is None else cfg
    return check_horizon(cfg["horizon_days"], "params/calibration.yaml", "horizon_days")


# ============================================================================ scoring helpers
def _as_matrix(X, source: str = "snapshots") -> np.ndarray:
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


def health_score(X, weights, missing: str = "redistribute") -> np.ndarray:
    """Health score 0..100 per row: Σ weight × dimension, as the health layer computes it.

    ``weights``: a mapping dimension → weight (summing to 100), a :class:`Weights` or a vector
    in DIMENSIONS order. With ``missing="redistribute"`` (the default policy) a dimension with no
    data (NaN) gives its weight to the present ones in proportion to their weights; a row with
    no weighted data at all scores NaN. With ``missing="zero"`` a missing dimension counts as 0.
    The arithmetic is :func:`workbook.scoring.score` (rounded to 9 decimals).
    """
    return scoring.score(_as_matrix(X), weights, missing)


def score_index(score) -> np.ndarray:
    """The integer score 0..100 that indexes the calibration map (halves round up); -1 for NaN."""
    s = np.asarray(score, dtype=float)
    idx = np.floor(np.clip(s, 0, 100) + 0.5)
    return np.where(np.isnan(s), -1, idx).astype(int)


def largest_remainder(raw, total: int = 100) -> dict[str, int]:
    """Integer weights summing to ``total`` from non-negative raw shares (largest-remainder rounding).

    Each dimension gets the floor of its exact share; the points left over go one each to the
    largest fractional remainders (ties: DIMENSIONS order). Raises ``ValueError`` when all are 0.
    """
    r = scoring.weight_vector(raw)
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


def _check_X(X) -> np.ndarray:
    """The snapshot dimensions as an (n, 5) array, or :class:`BadInput` for a value outside 0..1."""
    arr = _as_matrix(X)
    bad = ~np.isnan(arr) & ((arr < 0) | (arr > 1))
    if bad.any():
        col = int(np.argmax(bad.any(axis=0)))
        rows = np.flatnonzero(bad[:, col])
        raise BadInput("snapshots", DIMENSIONS[col], "must be within 0..1", len(rows), [f"row {r}" for r in rows[:5]])
    return arr


def _check_y(y, n: int) -> np.ndarray:
    """The churn labels (the snapshots' ``churned``) as floats 0/1, one per row, or :class:`BadInput`."""
    yv = pd.to_numeric(pd.Series(np.asarray(y).ravel()), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if len(yv) != n:
        raise BadInput("snapshots", "churned", f"has {len(yv)} labels for {n} rows")
    notbin = ~np.isin(yv, (0.0, 1.0))
    if notbin.any():
        rows = np.flatnonzero(notbin)
        raise BadInput("snapshots", "churned", "must be 0 or 1", len(rows), [f"row {r}" for r in rows[:5]])
    return yv


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
        arr = _check_X(X)
        yv = _check_y(y, len(arr))
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.array(DIMENSIONS, dtype=object)
        measured = self._measured(arr)
        if self.missing == "zero":
            arr = np.where(np.isnan(arr), 0.0, arr)
        scored = ~np.isnan(arr).all(axis=1)
        if fixed is not None:
            scored &= ~np.isnan(health_score(arr, fixed, self.missing))
        Xs, ys = arr[scored], yv[scored]
        if len(np.unique(ys)) < 2:
            raise BadInput("snapshots", "churned", "needs both churned (1) and retained (0) rows to fit",
                           int(len(ys)))
        lam = 1.0 / (self.C * len(ys))
        a, beta, raw = self._learn_weights(Xs, ys, lam, measured) if fixed is None else \
            self._fit_fixed(Xs, ys, lam, fixed)
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

    def _measured(self, arr: np.ndarray) -> np.ndarray:
        """Which dimensions have a value on at least ``min_measured`` of the scored rows (sets
        ``measured_share_`` and ``unmeasured_``)."""
        has_data = ~np.isnan(arr).all(axis=1)
        if not has_data.any():
            raise BadInput("snapshots", ", ".join(DIMENSIONS), "no dimension values: every row's five dimensions "
                           "are empty, so there is nothing to fit", int(len(arr)))
        share = (~np.isnan(arr[has_data])).mean(axis=0)
        measured = share >= self.min_measured
        if not measured.any():
            raise BadInput("snapshots", ", ".join(DIMENSIONS), f"no dimension has a value on at least "
                           f"{self.min_measured:.0%} of the rows")
        self.measured_share_ = {d: float(v) for d, v in zip(DIMENSIONS, share)}
        self.unmeasured_ = [d for d, m in zip(DIMENSIONS, measured) if not m]
        return measured

    def _learn_weights(self, Xs, ys, lam, measured):
        """Learned weights: (intercept, β per dimension, raw shares); sets ``weights_``."""
        # zero-weight rule: only the measured dimensions enter the fit; the others keep 0
        beta = np.zeros(len(DIMENSIONS))
        a, beta[measured], self.n_iter_ = _fit_weights(Xs[:, measured], ys, lam, self.max_iter, self.tol)
        self.informative_ = bool(beta.sum() > 1e-6)
        raw = beta if self.informative_ else measured.astype(float)
        self.weights_ = largest_remainder(raw)
        return a, beta, raw

    def _fit_fixed(self, Xs, ys, lam, fixed):
        """Fixed weights: only the logistic slope of the score is fitted; sets ``weights_``."""
        wv = scoring.weight_vector(fixed)
        s = health_score(Xs, fixed, self.missing) / 100.0
        a, b = _fit_logistic_1d(s, ys, np.ones_like(ys), lam)
        beta, self.n_iter_, self.informative_ = -b * wv / wv.sum(), 0, bool(b < 0)
        self.weights_ = dict(fixed)
        return a, beta, wv

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



def flat_map(model: ChurnCalibrator) -> bool:
    """True when the fitted score → churn map gives every score the same probability (no signal)."""
    return bool(np.ptp(model.churn_probability_) < 1e-9)

