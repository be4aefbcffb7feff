"""Renewals: a discrete-time hazard model of losing an account, its out-of-time evaluation at
several horizons, and the renewal forecast (issue 16 items 3 and 4; docs/calibration.md section 8,
docs/kpis.md "Renewal forecast").

- :class:`RenewalHazard` is a scikit-learn estimator: a logistic regression of "lost in this
  step" (one step = one month between observation dates) on the five health dimensions (each
  with a no-data flag) and ``at_renewal`` (the contract's renewal day falls in the step). The
  chance of keeping an account for any number of days is the product of the steps' survivals.
- :func:`history` gathers what the model learns from: monthly point-in-time dimension snapshots
  (:func:`workbook.health.dimension_scores`), each account's renewal date on each snapshot
  (:func:`workbook.revenue.contract_state`) and the day each account was lost (``churned_at``;
  with contracts also a renewal day no contract covered). :func:`fit` fits the model on the
  steps over by a cutoff; :func:`evaluate` tests it out of time at 30, 90 and 365 days.
- :func:`renewal_forecast` lists the renewals due in ``(as_of, as_of + horizon_days]`` with each
  account's renewal probability, the ARR at risk and the expected renewals with an exact 95 %
  interval (Poisson-binomial); :func:`renewal_outcome` checks a past forecast against what
  happened.

Probabilities are fractions 0..1; ARR in the data's currency; days are calendar days.
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from .errors import BadInput
from .scoring import DIMENSIONS

__all__ = ["RenewalHazard", "History", "RenewalForecast", "history", "lost_dates", "hazard_steps", "horizon_labels",
           "fit", "evaluate", "renewal_target", "calibration_files", "write_calibration_files",
           "renewal_forecast", "renewal_outcome", "summarise", "poisson_binomial", "poisson_binomial_interval",
           "load_model", "settings", "STEP_DAYS", "MODEL_FILE", "METRICS_FILE"]

STEP_DAYS = 365.25 / 12                  # one hazard step: the mean month between observation dates
MODEL_FILE = "renewal_model.json"       # written by `workbook calibrate` beside weights.yaml
METRICS_FILE = "renewal_metrics.csv"
FORMAT = "workbook.renewals.RenewalHazard/1"
FEATURES = (*DIMENSIONS, *(f"{d}_missing" for d in DIMENSIONS), "log_tenure_years", "log_steps_ahead",
            *(f"{d}_x_ahead" for d in DIMENSIONS), "at_renewal")

_DEFAULTS: dict[str, Any] = {
    "C": 1.0,
    "horizons": [30, 90, 365],
    "test_fraction": 0.25,
    "interval": 0.95,
    "max_steps_ahead": 12,
}


def settings() -> dict[str, Any]:
    """The ``renewals:`` section of ``params/calibration.yaml`` over the built-in defaults, plus
    ``min_tenure_days`` and ``bootstrap`` (the calibration's own settings: the same onboarding
    rule and the same replicates and seed, unless ``renewals:`` sets its own ``bootstrap``)."""
    from .calibration import settings as cal_settings
    cal = cal_settings()
    cfg = json.loads(json.dumps({**_DEFAULTS, "bootstrap": cal["bootstrap"]}))
    own = cal.get("renewals") or {}
    if not isinstance(own, dict):
        raise BadInput("params/calibration.yaml", "renewals", "must be a mapping (key: value lines)")
    for key, value in own.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key].update(value)
        else:
            cfg[key] = value
    cfg["min_tenure_days"] = int(cal["min_tenure_days"])
    return cfg


# ============================================================================ the estimator
class RenewalHazard(ClassifierMixin, BaseEstimator):
    """Discrete-time hazard of losing an account, one step = one month (``step_days``).

    Rows are *landmark* steps (:func:`hazard_steps`): the features of a snapshot and one of the
    months after it. Per step, P(lost in the step) = expit(b + Σ_d w_d·x_d + Σ_d v_d·m_d +
    t·log(1 + tenure in years) + a·log(1 + steps ahead) + r·at_renewal), where x_d is dimension d
    of the snapshot (0..1; a missing value takes the training mean ``fill_[d]``), m_d = 1 when d
    has no data, tenure counts from ``signed_at`` to the step's start (missing: the training
    mean), ``steps ahead`` is how many months after the snapshot the step starts, and
    ``at_renewal`` = 1 when the contract's renewal day falls in the step. Fitted by
    scikit-learn's ``LogisticRegression(C=C)``.

    Over ``days`` (:meth:`survival`) the snapshot's dimensions are used for every step (the
    model learned what a snapshot says about each month after it), tenure and steps ahead grow
    step by step and the step holding the renewal day uses the at-renewal hazard:
    P(kept for ``days``) = Π_k (1 − q_k)^f_k with f_k the share of step k inside ``days``.
    Beyond the ``max_steps_ahead`` it was trained on, the later steps extrapolate.

    Parameters (stored unchanged, checked in :meth:`fit`): ``C`` (inverse L2 strength, as
    scikit-learn), ``step_days``, ``max_iter``.
    Learned: ``coef_`` (one per FEATURES), ``intercept_``, ``fill_`` (per dimension and
    ``tenure_days``), ``n_steps_``, ``n_events_``, ``n_renewal_steps_``, ``classes_``.
    """

    def __init__(self, C: float = 1.0, step_days: float = STEP_DAYS, max_iter: int = 1000):
        self.C = C
        self.step_days = step_days
        self.max_iter = max_iter

    def _check_params(self) -> None:
        if not (isinstance(self.C, (int, float)) and self.C > 0):
            raise BadInput("RenewalHazard", "C", f"must be a positive number, got {self.C!r}")
        if not (isinstance(self.step_days, (int, float)) and self.step_days > 0):
            raise BadInput("RenewalHazard", "step_days", f"must be a positive number, got {self.step_days!r}")

    def fit(self, X: pd.DataFrame, y) -> "RenewalHazard":
        """Fit on step rows: ``X`` with the five dimension columns (0..1, NaN = no data) and
        optionally ``tenure_days`` (days since signature at the step's start) and ``at_renewal``
        (0/1); ``y`` 1 = lost in the step. Returns ``self``."""
        from sklearn.linear_model import LogisticRegression
        from threadpoolctl import threadpool_limits
        self._check_params()
        yv = np.asarray(y, dtype=float).ravel()
        if len(yv) != len(X) or not np.isin(yv, (0.0, 1.0)).all():
            raise BadInput("renewal steps", "lost", "must be one 0/1 label per step row")
        if len(np.unique(yv)) < 2:
            raise BadInput("renewal steps", "lost", "need both lost and kept steps to fit a hazard",
                           int(len(yv)))
        cols = np.column_stack([_dims(X), _tenure(X)])
        # the training mean of each column stands in for "no data" (0.5 / 365 days if never known)
        self.fill_ = {name: float(np.mean(col[~np.isnan(col)])) if (~np.isnan(col)).any() else default
                      for name, col, default in zip((*DIMENSIONS, "tenure_days"), cols.T,
                                                    (0.5,) * len(DIMENSIONS) + (365.0,))}
        Z = self._design(X)
        with threadpool_limits(limits=1, user_api="blas"):
            lr = LogisticRegression(C=float(self.C), max_iter=int(self.max_iter)).fit(Z, yv)
        self.coef_ = lr.coef_.ravel().astype(float)
        self.intercept_ = float(lr.intercept_[0])
        self.classes_ = np.array([0, 1])
        self.n_steps_ = int(len(yv))
        self.n_events_ = int(yv.sum())
        self.n_renewal_steps_ = int(Z[:, -1].sum())
        return self

    def _design(self, X: pd.DataFrame, at_renewal=None, later_days: float = 0.0, ahead=None) -> np.ndarray:
        """The feature matrix (FEATURES order); ``later_days`` ages the tenure and ``ahead`` (steps
        after the snapshot; default the ``steps_ahead`` column, else 0) places a later step."""
        dims = _dims(X)
        miss = np.isnan(dims)
        fill = np.array([self.fill_[d] for d in DIMENSIONS])
        tenure = _tenure(X)
        tenure = np.where(np.isnan(tenure), self.fill_["tenure_days"], tenure) + later_days
        if at_renewal is None:
            at_renewal = X["at_renewal"].to_numpy(float) if "at_renewal" in X else np.zeros(len(X))
        ren = np.broadcast_to(np.asarray(at_renewal, dtype=float), (len(X),))
        if ahead is None:
            ahead = X["steps_ahead"].to_numpy(float) if "steps_ahead" in X else np.zeros(len(X))
        lag = np.log1p(np.broadcast_to(np.asarray(ahead, dtype=float), (len(X),)))
        filled = np.where(miss, fill, dims)
        # each dimension's effect may fade with the months since the snapshot (dimension x lag)
        return np.column_stack([filled, miss.astype(float), np.log1p(np.maximum(tenure, 0.0) / 365.25), lag,
                                filled * lag[:, None], ren])

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            from sklearn.exceptions import NotFittedError
            raise NotFittedError("RenewalHazard is not fitted yet: call fit(X, y) or load_model(path)")

    def step_hazard(self, X: pd.DataFrame, at_renewal=None, later_days: float = 0.0, ahead=None) -> np.ndarray:
        """P(lost in one step) per row (``at_renewal``: override the column, 0 or 1;
        ``later_days``: tenure aged that many days; ``ahead``: the step that many steps after the
        snapshot)."""
        from scipy.special import expit
        self._check_fitted()
        return expit(self._design(X, at_renewal, later_days, ahead) @ self.coef_ + self.intercept_)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """(n, 2) per-step probabilities: column 0 kept, column 1 lost in the step."""
        q = self.step_hazard(X)
        return np.column_stack([1.0 - q, q])

    def survival(self, X: pd.DataFrame, days, renewal_days=None) -> np.ndarray:
        """P(not lost within ``days``) per row: Π over the steps covering ``days`` (the last one
        in part) of the step survival, dimensions held, tenure aged, the renewal's step at the
        at-renewal hazard.

        ``days``: a number or one per row (>= 0). ``renewal_days``: days until each row's next
        renewal (NaN / None = none known); a renewal after ``days`` does not count.
        """
        n = len(X)
        step = float(self.step_days)
        d = np.broadcast_to(np.asarray(days, dtype=float), (n,))
        r = np.full(n, np.nan)
        if renewal_days is not None:
            r = pd.to_numeric(pd.Series(np.broadcast_to(np.asarray(renewal_days, dtype=object), (n,))),
                              errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        log_s = np.zeros(n)
        for k in range(int(np.ceil(d.max() / step)) if n and d.max() > 0 else 0):
            share = np.clip(d / step - k, 0.0, 1.0)
            q0 = self.step_hazard(X, 0.0, k * step, k)
            log_s += share * np.log1p(-q0)
            here = np.isfinite(r) & (r > k * step) & (r <= (k + 1) * step) & (r <= d)
            if here.any():   # the renewal falls in this step, inside the window: the whole step
                q1 = self.step_hazard(X, 1.0, k * step, k)      # takes the at-renewal hazard, even
                log_s += np.where(here, np.log1p(-q1) - share * np.log1p(-q0), 0.0)   # when cut short
        return np.minimum(np.exp(log_s), 1.0)

    # ------------------------------------------------------------------ plain-file round trip
    def to_dict(self) -> dict[str, Any]:
        """The fitted model as plain data (the JSON :func:`load_model` reads back)."""
        self._check_fitted()
        return {"format": FORMAT, "params": self.get_params(), "features": list(FEATURES),
                "intercept": self.intercept_, "coef": {f: float(c) for f, c in zip(FEATURES, self.coef_)},
                "fill": dict(self.fill_), "n_steps": self.n_steps_, "n_events": self.n_events_,
                "n_renewal_steps": self.n_renewal_steps_}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], source: str = "renewal model") -> "RenewalHazard":
        """A fitted model from :meth:`to_dict`'s mapping (:class:`BadInput` naming ``source``)."""
        if not isinstance(doc, Mapping) or doc.get("format") != FORMAT:
            raise BadInput(source, "format", f"must be {FORMAT!r} (a renewal model written by workbook calibrate)")
        try:
            model = cls(**dict(doc.get("params") or {}))
            model.coef_ = np.array([float(doc["coef"][f]) for f in FEATURES])
            model.intercept_ = float(doc["intercept"])
            model.fill_ = {d: float(doc["fill"][d]) for d in (*DIMENSIONS, "tenure_days")}
            model.n_steps_, model.n_events_ = int(doc["n_steps"]), int(doc["n_events"])
            model.n_renewal_steps_ = int(doc.get("n_renewal_steps", 0))
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInput(source, None, f"is not a complete renewal model (missing or bad {exc})") from None
        if not (np.isfinite(model.coef_).all() and math.isfinite(model.intercept_)):
            raise BadInput(source, "coef", "must hold finite numbers")
        model._check_params()
        model.classes_ = np.array([0, 1])
        return model


def _tenure(X) -> np.ndarray:
    """Days since signature per row (NaN when unknown or absent)."""
    if "tenure_days" not in X:
        return np.full(len(X), np.nan)
    return pd.to_numeric(X["tenure_days"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _dims(X) -> np.ndarray:
    missing = [d for d in DIMENSIONS if d not in X.columns]
    if missing:
        raise BadInput("renewal steps", missing[0], f"dimension column(s) missing: {', '.join(missing)}")
    return X[list(DIMENSIONS)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def load_model(path) -> RenewalHazard:
    """The renewal model in ``path`` (``renewal_model.json`` of ``workbook calibrate``, or the
    folder holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        raise BadInput(str(path), None, "renewal model file does not exist")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInput(str(path), None, f"is not valid JSON ({exc})") from None
    return RenewalHazard.from_dict(doc.get("model", doc) if isinstance(doc, dict) else doc, str(path))


# ============================================================================ the history
@dataclass
class History:
    """What the hazard model learns from, built once per source and date.

    ``snaps``: one row per account and observation date (``account_id, observed_at``, the five
    dimensions, ``tenure_days``, ``renewal_at`` — NaT without contracts — and ``arr``);
    ``lost_at``: per account (index) the day it was lost, or NaT; ``data_end``: the last day
    whose facts count; ``contracts``: the source has a contracts table.
    """

    snaps: pd.DataFrame
    lost_at: pd.Series
    data_end: pd.Timestamp
    contracts: bool
    min_tenure_days: int = 90


def lost_dates(ws, as_of) -> pd.Series:
    """Per account (index ``account_id``) the day it was lost as known on ``as_of``, or NaT: its
    ``churned_at`` or, with contracts, the earliest ``ends_at`` on or before ``as_of`` that no
    other contract of the account covers (not renewed), whichever is first."""
    as_of = pd.Timestamp(as_of)
    acc = ws.frame("accounts")
    lost = acc.set_index(acc["account_id"].astype("string"))["churned_at"]
    lost = pd.to_datetime(lost).astype("datetime64[ns]").where(lambda s: s <= as_of)
    if ws.has("contracts"):
        c = ws.frame("contracts")[["account_id", "starts_at", "ends_at"]]
        c = c.assign(account_id=c["account_id"].astype("string"))
        ends = c[["account_id", "ends_at"]].drop_duplicates()
        ends = ends[(ends["ends_at"] <= as_of).to_numpy(dtype=bool)]
        pair = ends.merge(c, on="account_id", suffixes=("", "_other"))
        covered = ((pair["starts_at"] <= pair["ends_at"]) & (pair["ends_at"] < pair["ends_at_other"]))
        covered = covered.groupby([pair["account_id"], pair["ends_at"]]).any()
        lapse = covered[~covered].reset_index().groupby("account_id")["ends_at"].min()
        lapse = lapse.reindex(lost.index)
        lost = pd.concat([lost, lapse.astype("datetime64[ns]")], axis=1).min(axis=1)
    return lost.astype("datetime64[ns]")


def history(ws, as_of=None, *, snapshots: pd.DataFrame | None = None, engine=None,
            progress: Callable[[str], None] | None = None) -> History:
    """The monthly snapshots (first of each month from the data's start up to ``as_of``, default
    the latest usage date) with renewal dates and ARR, and each account's loss day as known on
    ``as_of``. ``snapshots``: a frame of :func:`workbook.snapshots.build_snapshots` to reuse
    (``workbook calibrate`` passes its own); its first-of-month rows are taken."""
    from . import revenue
    from . import snapshots as _snapshots
    from .periods import resolve_as_of
    as_of = resolve_as_of(ws, as_of)
    data_end = ws.usage_date_range[1]
    as_of = min(as_of, pd.Timestamp(data_end)) if data_end is not None else as_of
    if snapshots is None:
        snaps = _snapshots.build_snapshots(ws, as_of=as_of, horizon_days=1, include_as_of=False, engine=engine,
                                           progress=progress)
    else:
        snaps = snapshots
    snaps = snaps[(snaps["observed_at"].dt.day == 1).to_numpy() & (snaps["observed_at"] <= as_of).to_numpy()]
    snaps = snaps[["account_id", "observed_at", *DIMENSIONS, "tenure_days"]].reset_index(drop=True)
    snaps["account_id"] = snaps["account_id"].astype("string")
    contracts = revenue.has_contracts(ws)
    dates = sorted(snaps["observed_at"].unique())
    state = revenue.contract_state(ws, dates, as_of=as_of)[["account_id", "date", "renewal_at", "arr"]]
    state = state.rename(columns={"date": "observed_at"})
    snaps = snaps.merge(state, on=["account_id", "observed_at"], how="left")
    from .calibration import settings as cal_settings
    return History(snaps=snaps, lost_at=lost_dates(ws, as_of), data_end=as_of, contracts=contracts,
                   min_tenure_days=int(cal_settings()["min_tenure_days"]))


def hazard_steps(hist: History, cutoff=None, *, max_ahead: int | None = None) -> pd.DataFrame:
    """The training rows: per snapshot (the *landmark*) and each of the next ``max_ahead`` months
    (default ``max_steps_ahead``, 12) the account was still a customer at the start of, one row
    for the month-long step ``(step_start, step_end]`` ending on or before ``cutoff`` (default the
    history's end).

    Columns: ``account_id, observed_at`` (the landmark), the landmark's dimensions,
    ``tenure_days`` (at the step's start), ``steps_ahead`` (0 = the month right after the
    landmark), ``step_start``, ``step_end``, ``at_renewal`` (the renewal day known at the
    landmark falls in the step) and ``lost`` (the account was lost in the step). Features stay
    those of the landmark, so the hazard learned for a step k months ahead is the one a forecast
    made on the landmark needs. Landmarks of accounts already lost, or younger than
    ``min_tenure_days``, are left out.
    """
    cutoff = hist.data_end if cutoff is None else pd.Timestamp(cutoff)
    K = int(settings()["max_steps_ahead"] if max_ahead is None else max_ahead)
    s = hist.snaps
    lost = s["account_id"].map(hist.lost_at)
    lost = lost.where(lost <= cutoff)
    ok = ~(lost <= s["observed_at"]).fillna(False) & ~(s["tenure_days"] < hist.min_tenure_days).fillna(False)
    s, lost = s[ok.to_numpy(dtype=bool)], lost[ok.to_numpy(dtype=bool)]
    month = s["observed_at"].to_numpy().astype("datetime64[M]")
    parts = []
    for k in range(K):
        start = (month + k).astype("datetime64[ns]")
        stop = (month + k + 1).astype("datetime64[ns]")
        live = (stop <= cutoff.to_datetime64()) & ~(lost.to_numpy() <= start)
        if not live.any():
            break
        part = s.loc[live, ["account_id", "observed_at", *DIMENSIONS, "tenure_days", "renewal_at"]].copy()
        part["step_start"], part["step_end"] = start[live], stop[live]
        part["tenure_days"] = part["tenure_days"] + (part["step_start"] - part["observed_at"]).dt.days
        part["steps_ahead"] = k
        lk = lost[live]
        part["lost"] = ((lk > part["step_start"]) & (lk <= part["step_end"])).fillna(False).astype(int)
        ren = part.pop("renewal_at")
        part["at_renewal"] = ((ren > part["step_start"]) & (ren <= part["step_end"])).fillna(False).astype(int)
        parts.append(part)
    cols = ["account_id", "observed_at", *DIMENSIONS, "tenure_days", "step_start", "step_end", "steps_ahead",
            "at_renewal", "lost"]
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)[cols]
    return out.sort_values(["account_id", "observed_at", "steps_ahead"], kind="stable").reset_index(drop=True)


def fit(hist: History, cutoff=None, *, C: float | None = None) -> RenewalHazard:
    """The hazard model fitted on the landmark steps of ``hist`` over by ``cutoff`` (default: its end)."""
    steps = hazard_steps(hist, cutoff)
    C = settings()["C"] if C is None else C
    if steps.empty:
        raise BadInput("renewal steps", "lost", f"no month of history is over by {pd.Timestamp(cutoff or hist.data_end):%Y-%m-%d}")
    return RenewalHazard(C=float(C)).fit(steps, steps["lost"])


# ============================================================================ evaluation
def horizon_labels(hist: History, horizon_days: int, kind: str = "churn") -> pd.DataFrame:
    """Snapshots with a known outcome at ``horizon_days`` and the days the prediction covers.

    ``kind="churn"``: every snapshot whose horizon is over by the history's end; ``lost`` = lost
    in ``(observed_at, observed_at + H]``, ``days`` = H. ``kind="renewal"`` (contracts): the
    snapshots whose renewal day falls in ``(observed_at, observed_at + H]`` and is over; ``lost`` =
    lost on or before the renewal day (did not renew), ``days`` = days to the renewal. Young and
    already-lost accounts are left out as in :func:`hazard_steps`.
    """
    s = hist.snaps
    lost = s["account_id"].map(hist.lost_at)
    H = pd.Timedelta(days=int(horizon_days))
    ok = ~(lost <= s["observed_at"]).fillna(False) & ~(s["tenure_days"] < hist.min_tenure_days).fillna(False)
    if kind == "churn":
        end = s["observed_at"] + H
        ok &= end <= hist.data_end
    elif kind == "renewal":
        end = s["renewal_at"]
        ok &= (end > s["observed_at"]).fillna(False) & (end <= s["observed_at"] + H).fillna(False) \
            & (end <= hist.data_end).fillna(False) & (s["arr"] > 0).fillna(False)
    else:
        raise ValueError(kind)
    m = ok.to_numpy(dtype=bool)
    out = s.loc[m, ["account_id", "observed_at", *DIMENSIONS, "tenure_days"]].copy()
    out["days"] = (end[m] - out["observed_at"]).dt.days.astype(float)
    out["renewal_days"] = (s.loc[m, "renewal_at"] - out["observed_at"]).dt.days.astype(float)
    out["lost"] = ((lost[m] > out["observed_at"]) & (lost[m] <= end[m])).fillna(False).astype(int)
    return out.reset_index(drop=True)


def _metrics(y, p, groups, replicates: int, seed: int) -> dict[str, Any]:
    """AUC, Brier and ECE (10 equal-width bins, :func:`workbook.evaluation.classification_metrics`)
    of loss probabilities ``p`` against ``y``, with account-clustered bootstrap 95 % intervals."""
    from .evaluation import classification_metrics
    point = classification_metrics(y, p)
    out = {k: _r(point[k]) for k in ("auc", "brier", "ece", "log_loss")}
    out.update(n=int(len(y)), n_lost=int(np.sum(y)), observed=_r(float(np.mean(y))), predicted=_r(float(np.mean(p))))
    if replicates and len(y):
        rng = np.random.default_rng(seed)
        codes, uniq = pd.factorize(pd.Series(groups))
        draws = {k: [] for k in ("auc", "brier", "ece")}
        for _ in range(int(replicates)):
            w = np.bincount(rng.integers(0, len(uniq), len(uniq)), minlength=len(uniq))[codes]
            take = w > 0
            met = _weighted_metrics(np.asarray(y)[take], np.asarray(p)[take], w[take])
            for k in draws:
                draws[k].append(met[k])
        for k, v in draws.items():
            v = np.asarray(v, dtype=float)
            v = v[np.isfinite(v)]
            out[f"{k}_ci"] = [_r(x) for x in np.percentile(v, [2.5, 97.5])] if len(v) else [None, None]
    return out


def _weighted_metrics(y, p, w) -> dict[str, float]:
    """AUC (ties half), Brier and ECE of rows weighted by ``w`` (bootstrap multiplicities)."""
    from .evaluation import ECE_BINS
    y, p, w = np.asarray(y, float), np.asarray(p, float), np.asarray(w, float)
    n = w.sum()
    brier = float((w * (y - p) ** 2).sum() / n)
    b = np.minimum(np.floor(p * ECE_BINS), ECE_BINS - 1).astype(int)
    ece = float(np.abs(np.bincount(b, w * y, ECE_BINS) - np.bincount(b, w * p, ECE_BINS)).sum() / n)
    order = np.argsort(p, kind="stable")
    ps, ys, ws_ = p[order], y[order], w[order]
    uniq, inv = np.unique(ps, return_inverse=True)
    pos = np.bincount(inv, ws_ * ys, len(uniq))
    neg = np.bincount(inv, ws_ * (1 - ys), len(uniq))
    below = np.cumsum(neg) - neg
    denom = pos.sum() * neg.sum()
    auc = float((pos * (below + 0.5 * neg)).sum() / denom) if denom > 0 else float("nan")
    return {"auc": auc, "brier": brier, "ece": ece}


def evaluate(hist: History, horizons: Iterable[int] | None = None, *, test_fraction: float | None = None,
             replicates: int | None = None, seed: int | None = None) -> pd.DataFrame:
    """Out-of-time quality of the hazard model at each horizon (default 30, 90 and 365 days).

    For each horizon and label kind (``churn``: lost within H days, every snapshot;
    ``renewal``: did not renew at a renewal due within H days, with contracts only) the test
    snapshots are the last ``test_fraction`` of the observation dates whose outcome is known;
    the model is fitted on the steps over by the first test date (nothing it learns from
    happened after it). Returns one row per horizon and kind: ``horizon_days, kind, n, n_lost,
    observed, predicted, auc, brier, ece, log_loss`` with ``*_ci`` 95 % intervals (bootstrap
    over accounts), ``train_end`` and ``test_dates``. A horizon with too little history gives a
    row with ``note`` instead of metrics.
    """
    cfg = settings()
    horizons = [int(h) for h in (horizons or cfg["horizons"])]
    test_fraction = float(cfg["test_fraction"] if test_fraction is None else test_fraction)
    replicates = int(cfg["bootstrap"]["replicates"] if replicates is None else replicates)
    seed = int(cfg["bootstrap"]["seed"] if seed is None else seed)
    rows = []
    for H in horizons:
        for kind in ("churn", "renewal") if hist.contracts else ("churn",):
            rows.append(_evaluate_one(hist, H, kind, test_fraction, replicates, seed, cfg))
    return pd.DataFrame(rows)


def _evaluate_one(hist: History, H: int, kind: str, test_fraction: float, replicates: int, seed: int,
                  cfg: dict) -> dict[str, Any]:
    """One row of :func:`evaluate`."""
    labels = horizon_labels(hist, H, kind)
    row: dict[str, Any] = {"horizon_days": H, "kind": kind}
    dates = sorted(labels["observed_at"].unique())
    if len(dates) < 2:
        return {**row, "note": f"fewer than 2 observation dates with a known {H}-day outcome"}
    test = dates[-max(1, math.ceil(test_fraction * len(dates))):]
    try:
        model = fit(hist, test[0], C=cfg["C"])
    except BadInput as exc:
        return {**row, "note": f"cannot fit before {pd.Timestamp(test[0]):%Y-%m-%d}: {exc}"}
    t = labels[labels["observed_at"].isin(test).to_numpy()]
    ren = t["renewal_days"] if hist.contracts else None
    p = 1.0 - model.survival(t, t["days"].to_numpy(), ren)
    row.update(_metrics(t["lost"].to_numpy(), p, t["account_id"].to_numpy(), replicates, seed))
    row.update(train_end=f"{pd.Timestamp(test[0]):%Y-%m-%d}",
               test_dates=f"{pd.Timestamp(test[0]):%Y-%m-%d}..{pd.Timestamp(test[-1]):%Y-%m-%d}",
               n_train_steps=model.n_steps_, n_train_lost=model.n_events_)
    return row


def _r(v, digits: int = 6):
    return None if v is None or not math.isfinite(float(v)) else round(float(v), digits)


# ============================================================================ the forecast
def poisson_binomial(p) -> np.ndarray:
    """P(exactly k successes), k = 0..n, of independent trials with success probabilities ``p``
    (exact, by convolution)."""
    pmf = np.array([1.0])
    for q in np.asarray(p, dtype=float):
        pmf = np.convolve(pmf, [1.0 - q, q])
    return pmf


def poisson_binomial_interval(p, level: float = 0.95) -> tuple[int, int]:
    """The central ``level`` interval [lo, hi] of the number of successes: P(X < lo) and
    P(X > hi) are each at most (1 − level)/2 (exact Poisson-binomial)."""
    pmf = poisson_binomial(p)
    cdf = np.cumsum(pmf)
    tail = (1.0 - level) / 2
    lo = int(np.argmax(cdf > tail - 1e-12))
    hi = int(np.argmax(cdf >= 1.0 - tail - 1e-12))
    return lo, hi


FORECAST_COLUMNS = ["account_id", "name", "csm", "segment", "renewal_at", "days_to_renewal", "arr", "p_renew",
                    "arr_at_risk", "colour", "score"]


@dataclass
class RenewalForecast:
    """The renewals due in ``(as_of, as_of + horizon_days]``.

    ``table``: one row per account due (FORECAST_COLUMNS; ``p_renew`` 0..1, ``arr_at_risk`` =
    arr × (1 − p_renew)), largest ARR at risk first. ``summary``: ``n``, ``arr_due``,
    ``expected_renewals`` (Σ p), ``interval`` ([lo, hi], 95 % exact Poisson-binomial),
    ``expected_rate`` (Σ p / n), ``expected_arr_rate`` (Σ arr·p / Σ arr), ``arr_at_risk``,
    ``target`` (renewal_rate of params/targets.yaml ``revenue:``, compared with the ARR rate).
    ``method`` says where p_renew came from; ``note`` why there is no forecast (else None).
    """

    as_of: pd.Timestamp
    horizon_days: int
    table: pd.DataFrame
    summary: dict[str, Any]
    method: str
    note: str | None = None
    model: RenewalHazard | None = field(default=None, repr=False)

    @property
    def end(self) -> pd.Timestamp:
        return self.as_of + pd.Timedelta(days=self.horizon_days)

    def top(self, n: int = 10) -> pd.DataFrame:
        """The ``n`` accounts carrying most of the ARR at risk."""
        return self.table.head(n)


def renewal_target() -> float | None:
    """``revenue: renewal_rate`` of params/targets.yaml (ARR-weighted share renewing), or None."""
    from .params import load
    rev = load("targets", required=False).get("revenue") or {}
    value = rev.get("renewal_rate") if isinstance(rev, dict) else None
    targets = rev.get("targets") if isinstance(rev, dict) else None
    if value is None and isinstance(targets, dict):
        value = targets.get("renewal_rate")
    return None if value is None else float(value)


def renewal_forecast(ws, as_of=None, horizon_days: int = 90, *, model=None, health: pd.DataFrame | None = None,
                     engine=None) -> RenewalForecast:
    """Renewals due in ``(as_of, as_of + horizon_days]`` with their renewal probability and ARR at risk.

    ``as_of`` defaults to the latest usage date. Rows are accounts with ARR > 0 on ``as_of``
    whose next renewal (``renewal_at`` of :func:`workbook.revenue.contract_state`, point-in-time)
    falls in the window. ``p_renew`` is the chance the account is not lost before or at its
    renewal: from ``model`` — a :class:`RenewalHazard`, or the path of a ``renewal_model.json``
    (or its folder) — else a hazard model fitted on the fly on the source's history up to
    ``as_of`` (:func:`history`, :func:`fit`: a few seconds on 1,500 accounts), else, when that
    cannot be fitted (too little history or no loss in it) or ``model="weights"``, the active
    weights' calibration map (:func:`workbook.health.renewal_probability`, scaled from its
    horizon to each account's days to renewal). ``health``: the health table on ``as_of`` to
    take dimensions and colours from (computed when None). Without a contracts table the
    forecast is empty with a note.
    """
    from . import calibration
    from . import revenue
    from .periods import resolve_as_of
    as_of = resolve_as_of(ws, as_of)
    H = calibration.check_horizon(horizon_days, "horizon_days")
    if not revenue.has_contracts(ws):
        return _empty_forecast(as_of, H, "No contracts table in this source: no renewal dates, so no renewal "
                                         "forecast.")
    state = revenue.contract_state(ws, [as_of], as_of=as_of)
    end = as_of + pd.Timedelta(days=H)
    due = state[((state["renewal_at"] > as_of) & (state["renewal_at"] <= end)).fillna(False).to_numpy(dtype=bool)
                & (state["arr"] > 0).to_numpy()]
    if health is None:
        from .health import health_table
        health = health_table(ws, as_of, engine=engine)
    acc = ws.frame("accounts")[["account_id", "name", "csm", "segment", "signed_at"]]
    acc = acc.assign(account_id=acc["account_id"].astype("string"), tenure_days=(as_of - acc["signed_at"]).dt.days)
    h = health.assign(account_id=health["account_id"].astype("string"))
    cols = ["account_id", *DIMENSIONS, "score", "colour"]
    t = (due[["account_id", "renewal_at", "arr"]].merge(acc, on="account_id", how="left")
         .merge(h[[c for c in cols if c in h]], on="account_id", how="left"))
    for c in cols:
        if c not in t:
            t[c] = np.nan
    t["days_to_renewal"] = (t["renewal_at"] - as_of).dt.days.astype("int64")
    p, method, fitted = _p_renew(ws, t, as_of, model, engine)
    t["p_renew"] = p
    t["arr_at_risk"] = t["arr"] * (1.0 - t["p_renew"])
    t = t.sort_values(["arr_at_risk", "arr", "account_id"], ascending=[False, False, True], kind="stable")
    t = t[FORECAST_COLUMNS].reset_index(drop=True)
    return RenewalForecast(as_of, H, t, summarise(t), method, None, fitted)


def _empty_forecast(as_of, H, note: str) -> RenewalForecast:
    t = pd.DataFrame({c: pd.Series([], dtype="object") for c in FORECAST_COLUMNS})
    return RenewalForecast(as_of, H, t, summarise(t), "none", note)


def _p_renew(ws, t: pd.DataFrame, as_of, model, engine) -> tuple[np.ndarray, str, RenewalHazard | None]:
    """Renewal probabilities of the due rows ``t``, how they were made, and the model used."""
    if isinstance(model, (str, Path)) and str(model) != "weights":
        model = load_model(model)
    if model is None:
        try:
            model = fit(history(ws, as_of, engine=engine))
        except BadInput:
            model = "weights"
        else:
            method = (f"hazard model fitted on this source's history up to {as_of:%Y-%m-%d} "
                      f"({model.n_steps_:,} account-months, {model.n_events_:,} lost)")
    else:
        method = "hazard model given" if isinstance(model, RenewalHazard) else ""
    if isinstance(model, RenewalHazard):
        if not method:
            method = "hazard model given"
        if t.empty:
            return np.zeros(0), method, model
        days = t["days_to_renewal"].to_numpy(float)
        return model.survival(t, days, days), method, model
    from . import weights as _weights
    from .health import renewal_probability
    w = _weights.load_active()
    p = renewal_probability(t["score"].astype(float), w)
    if p is None:
        return np.full(len(t), np.nan), f"no renewal probability: weights {w.label} carry no calibration map", None
    H = float((w.meta.get("calibration") or {}).get("horizon_days") or 90)
    scaled = np.power(np.asarray(p, dtype=float), t["days_to_renewal"].to_numpy(float) / H)
    return scaled, f"calibration map of weights {w.label} ({H:g}-day horizon, scaled to each renewal)", None


def summarise(t: pd.DataFrame) -> dict[str, Any]:
    """The summary of a forecast table (or part of one, e.g. one CSM's rows): see
    :class:`RenewalForecast`."""
    cfg = settings()
    n = len(t)
    p = pd.to_numeric(t["p_renew"], errors="coerce").to_numpy(float) if n else np.zeros(0)
    arr = pd.to_numeric(t["arr"], errors="coerce").to_numpy(float) if n else np.zeros(0)
    known = bool(n) and np.isfinite(p).all()
    arr_due = float(arr.sum())
    out: dict[str, Any] = {"n": n, "arr_due": arr_due, "target": renewal_target(),
                           "expected_renewals": None, "interval": [None, None], "expected_rate": None,
                           "expected_arr_rate": None, "arr_at_risk": None, "level": float(cfg["interval"])}
    if known:
        lo, hi = poisson_binomial_interval(p, float(cfg["interval"]))
        out.update(expected_renewals=float(p.sum()), interval=[lo, hi], expected_rate=float(p.mean()),
                   expected_arr_rate=float((arr * p).sum() / arr_due) if arr_due > 0 else None,
                   arr_at_risk=float((arr * (1 - p)).sum()))
    return out


def renewal_outcome(ws, forecast: RenewalForecast) -> dict[str, Any]:
    """What happened to a past forecast's renewals, by the source's later facts.

    Per due account ``renewed`` = not lost (churned, or its renewal day left uncovered) on or
    before its renewal day; known when the renewal day is on or before the data's end, or the
    account was lost before it.
    Returns ``{"n", "n_known", "renewed", "expected", "interval", "inside", "arr_renewed_rate",
    "table"}`` (``inside``: the count renewed lies in the forecast's interval; None while some
    renewal is still ahead).
    """
    data_end = pd.Timestamp(ws.default_as_of())
    lost = lost_dates(ws, data_end)
    t = forecast.table.copy()
    la = t["account_id"].astype("string").map(lost)
    renewed = ~((la <= t["renewal_at"]).fillna(False)).to_numpy(dtype=bool)
    # known once the renewal day is over, or once the account was lost before it
    known = (t["renewal_at"] <= data_end).to_numpy(dtype=bool) | ~renewed
    t["renewed"] = pd.array(np.where(known, renewed, False), dtype="boolean")
    t.loc[~known, "renewed"] = pd.NA
    s = forecast.summary
    done = bool(known.all()) and len(t) > 0
    renewed = int(t.loc[known, "renewed"].astype(bool).sum())
    arr = t["arr"].astype(float)
    lo, hi = s["interval"]
    return {"n": len(t), "n_known": int(known.sum()), "renewed": renewed, "expected": s["expected_renewals"],
            "interval": [lo, hi], "inside": (lo <= renewed <= hi) if done and lo is not None else None,
            "arr_renewed_rate": float((arr * t["renewed"].fillna(False).astype(float)).sum() / arr.sum())
            if done and arr.sum() > 0 else None, "table": t}


# ============================================================================ calibrate's files
def calibration_files(ws, snapshots: pd.DataFrame | None = None, *, as_of=None, replicates: int | None = None,
                      progress: Callable[[str], None] | None = None) -> dict[str, str]:
    """The renewal model's files for ``workbook calibrate`` (name → text), added to its folder.

    ``renewal_model.json``: the hazard model fitted on every step of the history up to ``as_of``
    (the forecast reads it with ``model=PATH``), with what it was fitted on and the out-of-time
    quality; ``renewal_metrics.csv``: :func:`evaluate` at each horizon and label kind.
    ``snapshots``: calibrate's own snapshot frame, reused (no second scoring pass).
    """
    import datetime as dt

    from .iofmt import to_json
    say = progress or (lambda _m: None)
    hist = history(ws, as_of, snapshots=snapshots)
    say(f"calibrate: renewal hazard model on {len(hist.snaps):,} monthly snapshots "
        f"({'with' if hist.contracts else 'without'} contracts)")
    model = fit(hist)
    quality = evaluate(hist, replicates=replicates)
    doc = {"model": model.to_dict(),
           "generated_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "data_window": {"as_of": f"{hist.data_end:%Y-%m-%d}", "source": str(ws.source),
                           "first_observation": f"{hist.snaps['observed_at'].min():%Y-%m-%d}"
                           if len(hist.snaps) else None},
           "contracts": hist.contracts,
           "label": ("lost (churned, or a renewal day no contract covered) in each monthly step"
                     if hist.contracts else "churned in each monthly step"),
           "min_tenure_days": hist.min_tenure_days,
           "evaluation": quality.to_dict(orient="records")}
    return {MODEL_FILE: to_json(doc) + "\n",
            METRICS_FILE: quality.to_csv(index=False, float_format="%.6g")}


def write_calibration_files(data, out, snapshots: pd.DataFrame | None = None, *, as_of=None,
                            progress: Callable[[str], None] | None = None) -> list[Path]:
    """Open the source ``data``, build :func:`calibration_files` and write each into ``out``
    atomically (beside calibrate's other files). Returns the paths written: none when the model
    cannot be fitted (say, no account was ever lost), which is reported through ``progress``."""
    from .iofmt import atomic_write
    from .workspace import open_data
    with open_data(data) as ws:
        try:
            files = calibration_files(ws, snapshots, as_of=as_of, progress=progress)
        except BadInput as exc:       # e.g. no account was ever lost: the weights' files still stand
            if progress:
                progress(f"calibrate: no renewal model written: {exc}")
            return []
    out = Path(out)
    for name, text in files.items():
        atomic_write(out / name, text)
    return [out / name for name in files]
