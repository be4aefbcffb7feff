"""The health score's arithmetic, in one place: dimensions, weights, missing data, colours.

Used by the health layer (``workbook.health``), calibration (every snapshot is scored the same way)
and the weights files (``Weights.colour``). Pure numpy on arrays in :data:`DIMENSIONS` order; it
reads one setting, the missing-data policy, through :mod:`workbook.params`.

- **score** = Σ weight × dimension over the dimensions with data, in points 0..100 (SPEC 5). A
  dimension with no data (NaN) is handled by the policy: ``redistribute`` (default) spreads its
  weight over the dimensions that have data, in proportion to their weights; ``zero`` counts it
  as 0. A row with no weighted data at all has no score (NaN). Scores are rounded to 9 decimals,
  so a score that lands on a threshold compares exactly.
- **coverage** = the share 0..1 of the weight backed by data.
- **colour**: ``green`` at or above the green threshold, ``amber`` at or above amber, else
  ``red``; a missing score has the colour the caller asks for (None in health tables, ``"none"``
  in calibration files).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .errors import BadInput

DIMENSIONS = ("adoption", "engagement", "sentiment", "outcomes", "relationship")
COLOURS = ("red", "amber", "green")
POLICIES = ("redistribute", "zero")


def missing_data_policy() -> str:
    """``missing_data`` of params/health.yaml: ``redistribute`` (default) or ``zero``."""
    from .params import load
    policy = str(load("health", required=False).get("missing_data", "redistribute"))
    return check_policy(policy)


def check_policy(policy: str) -> str:
    """``policy`` if it is one of :data:`POLICIES`, else :class:`BadInput` naming the setting."""
    if policy not in POLICIES:
        raise BadInput("params/health.yaml", "missing_data", f"unknown policy {policy!r}: use redistribute or zero")
    return policy


def weight_vector(weights) -> np.ndarray:
    """The weights as a float vector in :data:`DIMENSIONS` order, from a mapping, an object with
    a ``weights`` mapping (:class:`workbook.weights.Weights`) or a sequence."""
    if hasattr(weights, "weights") and isinstance(weights.weights, Mapping):
        weights = weights.weights
    if isinstance(weights, Mapping):
        return np.array([float(weights[d]) for d in DIMENSIONS])
    return np.asarray(weights, dtype=float)


def points(x: np.ndarray, weights, policy: str = "redistribute") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each dimension's part of the score, the score and the coverage, for an (n, 5) array.

    Returns ``(points, score, coverage)``: ``points`` (n, 5) in score points (they sum to the
    score; 0 for a dimension without data), ``score`` (n,) 0..100 rounded to 9 decimals (NaN when
    no weighted dimension has data), ``coverage`` (n,) 0..1.
    """
    check_policy(policy)
    x = np.asarray(x, dtype="float64")
    w = weight_vector(weights)
    wv = w / w.sum()
    have = ~np.isnan(x)
    coverage = (have * wv).sum(axis=1)
    if policy == "redistribute":
        with np.errstate(invalid="ignore", divide="ignore"):
            eff = np.where(coverage[:, None] > 0, have * wv / np.where(coverage > 0, coverage, 1)[:, None], np.nan)
    else:
        eff = have * wv
    pts = 100.0 * eff * np.where(have, x, 0.0)
    score = np.round(pts.sum(axis=1), 9)           # drop float dust so thresholds compare exactly
    no_score = np.isnan(eff).all(axis=1) | ((policy == "redistribute") & (coverage <= 0))
    score = np.where(no_score, np.nan, score)
    pts = np.where(np.isnan(score)[:, None], np.nan, np.nan_to_num(pts))
    return pts, score, coverage


def effective_weights(nominal: dict, measured, policy: str = "redistribute") -> dict[str, float | None]:
    """The weight (points out of 100) each dimension carries in one account's score, by the
    score's own arithmetic (:func:`points` with every measured dimension at 1).

    ``nominal``: the weights that score the account (``weight`` of each dimension of
    :func:`workbook.explanation.explain`); ``measured``: the dimensions with data. With
    ``redistribute`` a measured dimension carries its weight ÷ the weight with data × 100 (v1,
    only adoption and outcomes measured: 60 and 40) and one without data None (its weight went
    to the others); with ``zero`` every dimension keeps its weight.
    """
    if not measured or any(nominal.get(d) is None for d in DIMENSIONS):
        return {d: None for d in DIMENSIONS}
    weights = {d: float(nominal[d]) for d in DIMENSIONS}
    if policy == "zero":
        return {d: 100.0 * w / sum(weights.values()) for d, w in weights.items()}
    at_one = [[1.0 if d in measured else np.nan for d in DIMENSIONS]]
    pts = points(at_one, weights, policy)[0][0]
    return {d: float(pts[i]) if d in measured else None for i, d in enumerate(DIMENSIONS)}


def score(x: np.ndarray, weights, policy: str = "redistribute") -> np.ndarray:
    """The health score 0..100 per row of an (n, 5) array of dimensions 0..1 (NaN = no data)."""
    return points(x, weights, policy)[1]


def colours(score, green: float, amber: float, missing=None) -> np.ndarray:
    """``green`` / ``amber`` / ``red`` per score (an object array); ``missing`` where there is no score."""
    s = np.asarray(score, dtype="float64")
    out = np.where(s >= green, "green", np.where(s >= amber, "amber", "red")).astype(object)
    out[np.isnan(s)] = missing
    return out


def colour(score: float, green: float, amber: float) -> str:
    """The colour of one score (which must be a number)."""
    return "green" if score >= green else "amber" if score >= amber else "red"
