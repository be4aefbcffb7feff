"""The score arithmetic (workbook.scoring) against values worked out by hand."""
from __future__ import annotations

import numpy as np
import pytest

from workbook import scoring
from workbook.errors import BadInput

V1 = {"adoption": 30, "engagement": 20, "sentiment": 15, "outcomes": 20, "relationship": 15}
nan = np.nan


def test_full_coverage_is_the_weighted_sum():
    # 30*0.5 + 20*1 + 15*0 + 20*0.25 + 15*1 = 15 + 20 + 0 + 5 + 15 = 55
    pts, score, cov = scoring.points(np.array([[0.5, 1.0, 0.0, 0.25, 1.0]]), V1)
    assert score.tolist() == [55.0] and cov.tolist() == [1.0]
    assert pts.tolist() == [[15.0, 20.0, 0.0, 5.0, 15.0]]


def test_redistribute_spreads_missing_weight_in_proportion():
    # only adoption (30) and outcomes (20) have data: 0.5*30/50*100 + 1.0*20/50*100 = 30 + 40 = 70
    pts, score, cov = scoring.points(np.array([[0.5, nan, nan, 1.0, nan]]), V1)
    assert score.tolist() == [70.0] and cov.tolist() == [0.5]
    assert pts[0].tolist() == [30.0, 0.0, 0.0, 40.0, 0.0]


def test_zero_policy_counts_missing_as_zero():
    # 30*0.5 + 20*1.0 = 35
    assert scoring.score(np.array([[0.5, nan, nan, 1.0, nan]]), V1, "zero").tolist() == [35.0]


def test_no_weighted_data_is_no_score():
    w = {"adoption": 0, "engagement": 25, "sentiment": 25, "outcomes": 25, "relationship": 25}
    pts, score, cov = scoring.points(np.array([[0.9, nan, nan, nan, nan]]), w)
    assert np.isnan(score[0]) and cov[0] == 0 and np.isnan(pts).all()


def test_colours_follow_thresholds_and_missing_value():
    out = scoring.colours([80, 79.999, 60, 59.99, nan], 80, 60, missing="none")
    assert out.tolist() == ["green", "amber", "amber", "red", "none"]
    assert scoring.colours([nan], 80, 60)[0] is None
    assert [scoring.colour(s, 80, 60) for s in (100, 80, 60, 0)] == ["green", "green", "amber", "red"]


def test_weight_vector_accepts_mapping_object_and_sequence():
    class W:
        weights = V1
    assert scoring.weight_vector(V1).tolist() == [30, 20, 15, 20, 15]
    assert scoring.weight_vector(W()).tolist() == [30, 20, 15, 20, 15]
    assert scoring.weight_vector([1, 2, 3, 4, 5]).tolist() == [1, 2, 3, 4, 5]


def test_unknown_policy_is_bad_input():
    with pytest.raises(BadInput, match="missing_data"):
        scoring.score(np.zeros((1, 5)), V1, "average")
