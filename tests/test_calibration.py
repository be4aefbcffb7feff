"""Churn calibration: metrics, the estimator, snapshots, out-of-time evaluation, CLI outputs."""
from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.base import clone
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from workbook import calibration as cal
from workbook import evaluation as ev
from workbook import snapshots as snap
from workbook import weights as wmod
from workbook.cli import main
from workbook.errors import BadInput
from workbook.weights import DIMENSIONS

D = list(DIMENSIONS)
V1 = {"adoption": 30, "engagement": 20, "sentiment": 15, "outcomes": 20, "relationship": 15}
TRUE = {"adoption": 40, "engagement": 10, "sentiment": 5, "outcomes": 30, "relationship": 15}


@pytest.fixture(scope="module")
def v1():
    return wmod.validate({"weights": V1, "thresholds": {"green": 80, "amber": 60}, "version": 1}, "v1")


@pytest.fixture(scope="module")
def synth():
    """20,000 snapshot rows (1,000 accounts x 20 months) whose churn follows TRUE weights."""
    return snap.synthetic_snapshots(1000, 20, weights=TRUE, seed=11)


@pytest.fixture(scope="module")
def result(synth, v1):
    return ev.evaluate(synth, v1, replicates=300, seed=5)


# ----------------------------------------------------------------------------- metrics
def test_metrics_match_scikit_learn_with_ties():
    rng = np.random.default_rng(0)
    p = rng.integers(0, 21, 3000) / 20            # many ties, including exact 0 and 1
    y = (rng.random(3000) < np.clip(p, 0.05, 0.95)).astype(float)
    m = ev.classification_metrics(y, p)
    assert m["auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert m["pr_auc"] == pytest.approx(average_precision_score(y, p), abs=1e-12)
    assert m["brier"] == pytest.approx(brier_score_loss(y, p), abs=1e-12)
    assert m["log_loss"] == pytest.approx(log_loss(y, np.clip(p, 1e-15, 1 - 1e-15)), abs=1e-9)
    # ECE by an explicit loop over 10 equal-width bins
    b = np.minimum(np.floor(p * 10), 9)
    ece = sum(abs(y[b == k].mean() - p[b == k].mean()) * (b == k).mean() for k in range(10) if (b == k).any())
    assert m["ece"] == pytest.approx(ece, abs=1e-12)


def test_metrics_by_hand():
    y = np.array([1, 0, 1, 0, 0])
    p = np.array([0.9, 0.8, 0.3, 0.1, 0.1])
    m = ev.classification_metrics(y, p)
    # pairs (churner, renewal): 0.9 beats all 3; 0.3 beats the two 0.1s, loses to 0.8 -> 5/6
    assert m["auc"] == pytest.approx(5 / 6)
    # top decile = 0.5 row, taken from the 0.9 row (a churner): rate 1.0 / base 0.4 = 2.5
    assert m["top_decile_lift"] == pytest.approx(2.5)
    # ECE bins: 0.9 -> bin 9 (|1-0.9|), 0.8 -> bin 8 (|0-0.8|), 0.3 -> bin 3 (|1-0.3|), 0.1s -> bin 1 (|0-0.1|x2)
    assert m["ece"] == pytest.approx((0.1 + 0.8 + 0.7 + 0.2) / 5)
    # AP: thresholds 0.9 (P=1, R=.5), 0.8 (P=.5, R=.5), 0.3 (P=2/3, R=1) -> .5*1 + .5*2/3
    assert m["pr_auc"] == pytest.approx(0.5 + 1 / 3)


def test_top_decile_lift_splits_a_tie_proportionally():
    # 20 rows, top decile = 2 rows; the highest probability is shared by 4 rows, 1 of them a churner:
    # expected churners in the top 2 = 2 x 1/4 = 0.5 -> rate 0.25; base rate 2/20 -> lift 2.5
    p = np.array([0.9] * 4 + [0.1] * 16)
    y = np.array([1, 0, 0, 0] + [1] + [0] * 15)
    assert ev.classification_metrics(y, p)["top_decile_lift"] == pytest.approx(2.5)


def test_psi_by_hand():
    edges = np.linspace(0, 1, 3)                   # two bins [0, .5) and [.5, 1]
    e = np.array([0.1] * 50 + [0.9] * 50)
    a = np.array([0.1] * 80 + [0.9] * 20)
    want = (0.8 - 0.5) * math.log(0.8 / 0.5) + (0.2 - 0.5) * math.log(0.2 / 0.5) \
        + (1e-4 - 1e-4) * 0.0                      # the empty "no data" bin contributes nothing
    assert ev.psi(e, a, edges) == pytest.approx(want)
    assert ev.psi(e, e, edges) == 0


def test_largest_remainder():
    assert cal.largest_remainder([0.4, 0.1, 0.05, 0.3, 0.15]) == TRUE
    # 100/3 = 33.33 each: one point left, to the first in DIMENSIONS order
    assert list(cal.largest_remainder([1, 1, 1, 0, 0]).values()) == [34, 33, 33, 0, 0]
    # 12.5 x 8 ... five dims: 2/7 = 28.57, 1/7 = 14.29 -> floors 28,14,14,14,28 = 98; .57s first
    assert list(cal.largest_remainder([2, 1, 1, 1, 2]).values()) == [29, 14, 14, 14, 29]
    with pytest.raises(ValueError):
        cal.largest_remainder([0, 0, 0, 0, 0])


def test_health_score_is_the_health_layers_score():
    from workbook import health
    rng = np.random.default_rng(3)
    x = rng.random((500, 5))
    x[rng.random((500, 5)) < 0.2] = np.nan
    x[0] = np.nan                                   # no data at all
    dims = pd.DataFrame(x, columns=D)
    w = wmod.validate({"weights": TRUE, "thresholds": {"green": 80, "amber": 60}})
    for policy in ("redistribute", "zero"):
        theirs = health.score_dimensions(dims, w, policy=policy)["score"].to_numpy(float)
        ours = cal.health_score(x, TRUE, policy)
        np.testing.assert_allclose(ours[1:], theirs[1:], atol=1e-9)
    assert np.isnan(cal.health_score(x, TRUE)[0])


# ----------------------------------------------------------------------------- the estimator
def test_recovers_known_weights_at_20000_rows(synth):
    m = cal.ChurnCalibrator().fit(synth[D], synth["churned"])
    assert len(synth) == 20_000
    assert sum(m.weights_.values()) == 100 and all(isinstance(v, int) for v in m.weights_.values())
    for d in D:
        assert abs(m.weights_[d] - TRUE[d]) <= 4, (d, m.weights_)
    assert (m.coef_ <= 0).all()
    # the true map is expit(2 - 8 score/100): the fitted one is close where data lies (scores 30..80)
    want = 1 / (1 + np.exp(-(2 - 8 * np.arange(30, 81) / 100)))
    np.testing.assert_allclose(m.churn_probability_[30:81], want, atol=0.02)


def test_a_dimension_that_does_not_help_retention_gets_weight_zero():
    rng = np.random.default_rng(1)
    x = rng.random((8000, 5))
    # churn falls with adoption and outcomes, RISES with engagement
    logit = 1.5 - 4 * x[:, 0] - 2 * x[:, 3] + 1.5 * x[:, 1]
    y = (rng.random(8000) < 1 / (1 + np.exp(-logit))).astype(int)
    m = cal.ChurnCalibrator().fit(pd.DataFrame(x, columns=D), y)
    assert m.weights_["engagement"] == 0
    assert m.coef_[0, 1] == 0
    assert min(m.weights_.values()) >= 0 and m.weights_["adoption"] > m.weights_["outcomes"] > 0


def test_estimator_conventions():
    est = cal.ChurnCalibrator(calibration="isotonic", C=0.5, horizon_days=60)
    params = est.get_params()
    assert params == {"weights": None, "calibration": "isotonic", "missing": "redistribute", "C": 0.5,
                      "horizon_days": 60, "min_measured": 0.05, "max_iter": 1000, "tol": 1e-10}
    assert cal.ChurnCalibrator(**params).get_params() == params          # round trip
    twin = clone(est)
    assert twin is not est and twin.get_params() == params
    est.set_params(C=2.0)
    assert est.C == 2.0 and est.get_params()["C"] == 2.0
    fixed = {"adoption": 25, "engagement": 25, "sentiment": 0, "outcomes": 25, "relationship": 25}
    f = cal.ChurnCalibrator(weights=fixed)
    assert f.get_params()["weights"] is fixed and clone(f).get_params()["weights"] == fixed


def test_fit_keeps_params_and_learns_underscored_state(synth):
    X, y = synth[D].iloc[:3000], synth["churned"].iloc[:3000]
    est = cal.ChurnCalibrator(weights=dict(V1))
    before = est.get_params()
    est.fit(X, y)
    assert est.get_params() == before and est.weights_ == V1
    assert [c for c in vars(est) if c.endswith("_") and not c.startswith("_")]
    assert est.classes_.tolist() == [0, 1]
    proba = est.predict_proba(X)
    assert proba.shape == (3000, 2) and np.allclose(proba.sum(1), 1)
    # column 1 is churn: rows with lower scores have higher churn probability
    s = est.health_score(X)
    assert proba[np.argmin(s), 1] > proba[np.argmax(s), 1]
    assert set(est.predict(X)) <= {0, 1}


def test_unfitted_and_bad_input():
    from sklearn.exceptions import NotFittedError
    with pytest.raises(NotFittedError):
        cal.ChurnCalibrator().predict_proba(np.zeros((1, 5)))
    X = pd.DataFrame([[0.5] * 5, [1.2, 0.5, 0.5, 0.5, 0.5]], columns=D)
    with pytest.raises(BadInput, match="^snapshots.adoption: must be within 0..1"):
        cal.ChurnCalibrator().fit(X, [0, 1])
    with pytest.raises(BadInput, match="^snapshots.churned: must be 0 or 1"):
        cal.ChurnCalibrator().fit(X.clip(0, 1), [0, 2])
    with pytest.raises(BadInput, match="calibration"):
        cal.ChurnCalibrator(calibration="spline").fit(X.clip(0, 1), [0, 1])
    with pytest.raises(BadInput, match="sum to 100"):
        cal.ChurnCalibrator(weights={d: 10 for d in D}).fit(X.clip(0, 1), [0, 1])


def test_missing_dimension_redistributes_weight_when_scoring(synth):
    m = cal.ChurnCalibrator().fit(synth[D], synth["churned"])
    row = pd.DataFrame([[0.8, 0.6, np.nan, 0.4, 0.2]], columns=D)
    w = m.weights_
    present = w["adoption"] + w["engagement"] + w["outcomes"] + w["relationship"]
    want = 100 * (0.8 * w["adoption"] + 0.6 * w["engagement"] + 0.4 * w["outcomes"] + 0.2 * w["relationship"]) / present
    assert m.health_score(row)[0] == pytest.approx(want)
    assert m.predict_proba(row)[0, 1] == m.churn_probability_[int(math.floor(want + 0.5))]
    nothing = pd.DataFrame([[np.nan] * 5], columns=D)
    assert m.predict_proba(nothing)[0, 1] == pytest.approx(m.prior_)


@pytest.mark.parametrize("method", ["logistic", "isotonic"])
def test_map_is_monotone_over_every_integer_score(synth, method):
    m = cal.ChurnCalibrator(calibration=method).fit(synth[D], synth["churned"])
    frame = m.map_frame()
    assert frame["score"].tolist() == list(range(101))
    p = frame["churn_probability"].to_numpy()
    assert ((p >= 0) & (p <= 1)).all() and (np.diff(p) <= 1e-12).all()
    # flat outside the scores seen in training: no extrapolation
    lo, hi = m.calibration_["score_range"]
    seen = cal.score_index(m.health_score(synth[D]))
    assert (lo, hi) == (seen.min(), seen.max())
    assert (p[:lo + 1] == p[lo]).all() and (p[hi:] == p[hi]).all() and p[lo] > p[hi]


# ----------------------------------------------------------------------------- labels and split
def test_labels_by_hand():
    obs = pd.Timestamp("2026-01-01")
    frame = pd.DataFrame({"observed_at": [obs] * 5})
    churned_at = pd.Series(pd.to_datetime(["2026-01-01", "2026-04-01", "2026-04-02", None, "2026-02-01"]))
    got = snap.label_snapshots(frame, churned_at, as_of="2026-06-30", horizon_days=90)
    # same day: not after the date; 2026-04-01 = date + 90: inside; 04-02: outside; never: 0; Feb: 1
    assert got.tolist() == [0, 1, 0, 0, 1]
    pending = snap.label_snapshots(frame, churned_at, as_of="2026-03-31", horizon_days=90)
    assert pending.isna().all()                       # horizon not over by as_of
    # a churn dated after as_of does not exist yet (point in time)
    late = snap.label_snapshots(frame.iloc[:1], pd.Series(pd.to_datetime(["2026-03-01"])), as_of="2026-02-28",
                               horizon_days=30)
    assert late.tolist() == [0]


def test_out_of_time_split_by_hand():
    dates = pd.date_range("2025-01-01", periods=12, freq="MS")
    split = snap.split_dates(dates, 90, 0.25)
    # test: last ceil(12/4) = 3 dates; train: date + 90 <= 2025-10-01, i.e. up to 2025-07-03
    assert [d.month for d in split["test"]] == [10, 11, 12]
    assert [d.month for d in split["train"]] == [1, 2, 3, 4, 5, 6, 7]
    assert [d.month for d in split["gap"]] == [8, 9]
    with pytest.raises(BadInput, match="no observation date"):
        snap.split_dates(dates[:3], 90, 0.25)


def test_suggested_thresholds_by_hand():
    score = np.array([10, 20, 30, 40, 50, 60, 70, 80, 90, 95] + [85] * 10, dtype=float)
    y = np.array([1] * 10 + [0] * 10)
    got = ev.suggest_thresholds(score, y, red_churner_share=0.6, green_max_churner_share=0.1)
    # 6 of 10 churners score below 51 (10..50 is 5, +60 is 6 -> first t with >= 6 below is 61)
    assert got["amber"] == 61
    # at most 1 churner (10%) at or above g: churners 90 and 95 -> need g > 90 -> 91
    assert got["green"] == 91


def test_override_accuracy_by_hand():
    lab = pd.DataFrame({"churned": [1, 0, 0, 0, 1, 0, 1, 0],
                        "override_colour": pd.array([None, None, None, None, "red", "green", "green", None],
                                                    dtype="string")})
    formula = np.array(["red", "red", "green", "green", "amber", "red", "red", "amber"], dtype=object)
    summary, table = ev._override_accuracy(lab, formula)
    # rates without override: red 1/2, green 0/2, amber 0/1
    # row 4 amber->red, churned: |1-.5| < |1-0| right; row 5 red->green, renewed: |0-0| < |0-.5| right;
    # row 6 red->green, churned: |1-0| > |1-.5| wrong
    assert summary["n_overridden"] == 3 and summary["n_changed_colour"] == 3 and summary["n_right"] == 2
    assert summary["brier_override"] == pytest.approx((0.25 + 0 + 1) / 3)
    assert summary["brier_formula"] == pytest.approx((1 + 0.25 + 0.25) / 3)
    assert table.set_index(["formula_colour", "override_colour"]).loc[("red", "green"), "n"] == 2


# ----------------------------------------------------------------------------- evaluation
def test_proposal_beats_current_out_of_time(result):
    m = result.metrics
    assert m["proposed"]["log_loss"] < m["current"]["log_loss"]
    assert m["difference"]["log_loss"]["ci"][1] < 0          # the whole 95% interval favours the proposal
    assert m["proposed"]["auc"] > m["current"]["auc"]
    # test rows are strictly later than training rows and their label windows
    snaps = result.snapshots
    assert snaps.loc[snaps.role == "train", "observed_at"].max() + pd.Timedelta(days=90) <= \
        snaps.loc[snaps.role == "test", "observed_at"].min()
    assert m["n_train"] == (snaps.role == "train").sum() and m["n_test"] == (snaps.role == "test").sum()


def test_quality_targets_on_synthetic_snapshots(result):
    m = result.metrics
    assert abs(m["reference"]["proposal_auc_gap"]) <= 0.02
    assert m["proposed"]["ece"] <= 0.03


def test_bootstrap_intervals_are_seeded_and_bracket_the_estimate(synth, v1, result):
    m = result.metrics
    for side in ("current", "proposed"):
        for k in ev.METRICS:
            lo, hi = m[side]["ci"][k]
            assert lo <= m[side][k] <= hi, (side, k)
    again = ev.evaluate(synth, v1, replicates=300, seed=5).metrics
    assert again["proposed"]["ci"] == m["proposed"]["ci"]


def test_bootstrap_clusters_by_account():
    # account "a" has 10 rows, all churners; 40 accounts "b*" have one renewal row each. A replicate
    # draws 41 accounts; if "a" is drawn k times it brings 10k churner rows, so with one bin at
    # p = 0.2: Brier = (0.64 x 10k + 0.04 x (41 - k)) / (41 + 9k), and k must come out whole.
    groups = np.array(["a"] * 10 + [f"b{i}" for i in range(40)])
    y = np.array([1.0] * 10 + [0.0] * 40)
    draws = ev._bootstrap(groups, y, [(np.zeros(50, int), np.array([0.2]))], 400, seed=1)[0]
    b = draws["brier"]
    k = (41 * b - 1.64) / (6.36 - 9 * b)
    np.testing.assert_allclose(k, np.round(k), atol=1e-9)
    assert set(np.round(k).astype(int)) >= {0, 1, 2}       # "a" drawn 0, 1, 2... times
    # a row-level bootstrap would give churner counts that are not multiples of 10
    assert np.isnan(draws["auc"][np.round(k) == 0]).all()  # no churner: AUC undefined, not 0


def test_result_tables(result):
    bands = result.bands
    assert set(bands["colour"]) == {"red", "amber", "green"}
    for _, grp in bands.groupby(["weights", "thresholds"]):
        assert grp["n"].sum() == result.metrics["n_test"]
    rel = result.reliability
    assert rel.groupby("model")["n"].sum().tolist() == [result.metrics["n_test"]] * 2
    assert len(result.backtest) >= 2 and result.backtest["fold"].tolist()[0] == 1
    assert set(result.drift["dimension"]) >= set(D)
    changes = result.colour_changes
    assert (changes["colour_current"] != changes["colour_proposed"]).all()
    assert result.metrics["colour_changes"]["n"] == len(changes)


def test_drift_flags_recalibration(v1):
    shifted = snap.synthetic_snapshots(300, 16, weights=TRUE, late_shift={"adoption": -0.5}, seed=2)
    r = ev.evaluate(shifted, v1, replicates=0)
    drift = r.drift.set_index("dimension")
    assert drift.loc["adoption", "psi"] > 0.2 and drift.loc["adoption", "status"] == "recalibrate"
    assert drift.loc["engagement", "psi"] < 0.1
    assert r.metrics["drift"]["recalibration_due"] is True


# ----------------------------------------------------------------------------- snapshot files and CLI
def _write_snapshots(frame: pd.DataFrame, path):
    out = frame[["account_id", "observed_at", *D, "churned"]].copy()
    out.to_csv(path, index=False, date_format="%Y-%m-%d")
    return path


def test_calibrate_from_snapshot_file_writes_the_spec_files(synth, tmp_path, capsys):
    src = _write_snapshots(synth, tmp_path / "snaps.csv")
    out = tmp_path / "out"
    assert main(["calibrate", "--snapshots", str(src), "--out", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"weights.yaml", "metrics.json", "calibration.csv", "bands.csv", "colour_changes.csv",
            "drift.csv"} <= names
    proposal = wmod.load(out / "weights.yaml")                  # a valid weights file
    assert sum(proposal.weights.values()) == 100
    doc = yaml.safe_load((out / "weights.yaml").read_text())
    assert len(doc["calibration"]["churn_probability"]) == 101 and doc["calibration"]["horizon_days"] == 90
    assert {"n_train", "n_test", "horizon_days", "parent", "data_window"} <= set(doc)
    metrics = json.loads((out / "metrics.json").read_text())
    for side in ("current", "proposed"):
        assert set(ev.METRICS) <= set(metrics[side])
    assert metrics["n_train"] > 0 and metrics["n_test"] > 0
    curve = pd.read_csv(out / "calibration.csv")
    assert curve.columns.tolist() == ["score", "churn_probability"]
    assert curve["score"].tolist() == list(range(101))
    assert curve["churn_probability"].is_monotonic_decreasing
    np.testing.assert_allclose(curve["churn_probability"], doc["calibration"]["churn_probability"], atol=1e-6)
    text = capsys.readouterr().out
    assert "proposed" in text and "weights adopt" in text


def test_snapshot_rows_round_trip(synth, tmp_path):
    ten = synth[synth["account_id"].isin([f"S{i:06d}" for i in range(10)])]     # 10 accounts x 20 months
    src = _write_snapshots(ten, tmp_path / "s.csv")
    back = snap.load_snapshots(src)
    assert len(back) == 200 and back["churned"].notna().all()
    assert back.attrs["as_of"] == back["observed_at"].max() + pd.Timedelta(days=90)
    # an explicit as_of drops later rows (counted) and unlabels rows whose horizon is not over
    cut = snap.load_snapshots(src, as_of="2024-04-15")
    assert cut["observed_at"].max() == pd.Timestamp("2024-04-01") and cut.attrs["n_after_as_of"] > 0
    assert cut.loc[cut["observed_at"] > pd.Timestamp("2024-01-16"), "churned"].isna().all()
    assert cut.loc[cut["observed_at"] == pd.Timestamp("2024-01-01"), "churned"].notna().all()


def test_bad_snapshot_rows_are_refused_with_exit_2(tmp_path, capsys):
    good = "A1,2026-01-01,0.5,0.5,0.5,0.5,0.5,0\n"
    body = ("account_id,observed_at,adoption,engagement,sentiment,outcomes,relationship,churned\n" + good
            + "A2,2026-13-01,0.5,0.5,0.5,0.5,0.5,1\n"         # bad date
            + "A3,2026-01-01,high,0.5,0.5,0.5,0.5,0\n"        # non-numeric
            + "A4,2026-01-01,0.5,1.5,0.5,0.5,0.5,0\n"         # out of 0..1
            + "A5,2026-01-01,0.5,0.5,0.5,0.5,0.5,2\n"         # churned not 0/1
            + good)                                           # duplicate (A1, 2026-01-01)
    path = tmp_path / "bad.csv"
    path.write_text(body)
    with pytest.raises(BadInput) as err:
        snap.load_snapshots(path)
    cols = {f.column for f in err.value.findings}
    assert cols == {"observed_at", "adoption", "engagement", "churned", "account_id, observed_at"}
    dup = next(f for f in err.value.findings if f.column == "account_id, observed_at")
    assert dup.count == 2 and "line 2 (A1)" in dup.examples
    assert main(["calibrate", "--snapshots", str(path), "--out", str(tmp_path / "o")]) == 2
    msg = capsys.readouterr().err
    assert "bad.csv.adoption: must be a number" in msg and "line 4 (A3)" in msg
    assert "Traceback" not in msg and not (tmp_path / "o").exists()


def test_snapshot_file_missing_column_or_file(tmp_path, capsys):
    path = tmp_path / "cols.csv"
    path.write_text("account_id,observed_at,adoption,engagement,sentiment,outcomes,churned\nA,2026-01-01,1,1,1,1,0\n")
    assert main(["calibrate", "--snapshots", str(path)]) == 2
    assert "relationship" in capsys.readouterr().err
    assert main(["calibrate", "--snapshots", str(tmp_path / "nope.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err


# ----------------------------------------------------------------------------- sample world
@pytest.fixture(scope="module")
def world_snaps(sample_ws):
    return snap.build_snapshots(sample_ws)


def test_snapshots_from_data_are_labelled_point_in_time(sample_ws, world_snaps):
    s = world_snaps
    as_of = sample_ws.default_as_of()
    assert s.attrs["as_of"] == as_of and s.attrs["horizon_days"] == 90
    dates = sorted(s["observed_at"].unique())
    assert all(pd.Timestamp(d).day == 1 for d in dates[:-1]) and pd.Timestamp(dates[-1]) == as_of
    acc = sample_ws.frame("accounts").set_index("account_id")
    merged = s.join(acc[["churned_at", "signed_at"]], on="account_id")
    end = merged["observed_at"] + pd.Timedelta(days=90)
    pending = end > as_of
    assert merged.loc[pending, "churned"].isna().all() and merged.loc[~pending, "churned"].notna().all()
    want = ((merged["churned_at"] > merged["observed_at"]) & (merged["churned_at"] <= end)).astype(int)
    assert (merged.loc[~pending, "churned"] == want[~pending]).all()
    # live accounts only: signed on or before the date, not churned by it
    assert (merged["signed_at"] <= merged["observed_at"]).all()
    assert not (merged["churned_at"] <= merged["observed_at"]).any()
    assert (s["tenure_days"] == (merged["observed_at"] - merged["signed_at"]).dt.days).all()


def _truncate_after(src, dst, day: pd.Timestamp):
    """Copy a sample world, changing every fact dated after ``day`` (drop it, blank it or alter it)."""
    shutil.copytree(src, dst)
    usage = pd.read_parquet(dst / "usage.parquet")
    usage[pd.to_datetime(usage["date"]) <= day].to_parquet(dst / "usage.parquet", index=False)
    def edit(name, fn):
        path = dst / f"{name}.csv"
        if path.exists():
            fn(pd.read_csv(path, dtype=str, keep_default_na=False)).to_csv(path, index=False)
    after = lambda df, col: pd.to_datetime(df[col].where(df[col] != ""), errors="coerce") > day
    edit("touchpoints", lambda df: df[~after(df, "date")])
    edit("tickets", lambda df: df[~after(df, "opened_at")])
    edit("milestones", lambda df: df[~after(df, "reached_at")])
    edit("advocacy", lambda df: df[~after(df, "date")])
    edit("overrides", lambda df: df[~after(df, "set_at")])
    def surveys(df):
        low = {"nps": "0", "onboarding_nps": "0", "csat": "1", "ces": "1"}
        m = after(df, "responded_at")
        df.loc[m, "score"] = df.loc[m, "kind"].map(low)
        return df
    edit("surveys", surveys)
    def blank(cols):
        def fn(df):
            for c in cols:
                if c in df.columns:
                    df.loc[after(df, c), c] = ""
            return df
        return fn
    edit("accounts", blank(["churned_at"]))
    edit("contacts", blank(["left_at"]))
    edit("outcomes", blank(["achieved_at"]))
    edit("readiness", blank(["completed_at"]))


def test_no_leakage_changing_later_data_keeps_the_snapshot(sample_dir, sample_ws, tmp_path):
    from workbook.workspace import open_data
    day = pd.Timestamp("2026-03-01")
    _truncate_after(sample_dir, tmp_path / "cut", day)
    with open_data(tmp_path / "cut") as cut:
        a = snap.build_snapshots(sample_ws, as_of=day, dates=[day])
        b = snap.build_snapshots(cut, as_of=day, dates=[day])
    cols = ["account_id", "observed_at", *D, "override_colour", "tenure_days"]
    assert len(a) > 50
    pd.testing.assert_frame_equal(a[cols].reset_index(drop=True), b[cols].reset_index(drop=True))


def test_calibrate_from_data_end_to_end(sample_dir, tmp_path, capsys):
    out = tmp_path / "cal"
    assert main(["calibrate", "--data", str(sample_dir), "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["snapshots"]["n_pending"] > 0 and metrics["n_test"] > 0
    assert metrics["current"]["version"] == wmod.active_version()
    changes = pd.read_csv(out / "colour_changes.csv")
    assert {"account_id", "name", "csm", "colour_current", "colour_proposed"} <= set(changes.columns)
    err = capsys.readouterr().err
    assert "calibrate: scoring" in err and "bootstrap" in err
    # snapshots.csv (labelled rows) fed back with --snapshots reproduces the fit and the metrics
    again = tmp_path / "again"
    assert main(["calibrate", "--snapshots", str(out / "snapshots.csv"), "--out", str(again)]) == 0
    replay = json.loads((again / "metrics.json").read_text())
    for side in ("current", "proposed"):
        assert replay[side] == metrics[side]
    assert (again / "calibration.csv").read_text() == (out / "calibration.csv").read_text()


def test_horizon_errors_name_their_source(tmp_path, monkeypatch):
    """A bad horizon names where it came from: the option, or the setting in its file."""
    with pytest.raises(BadInput, match="^--horizon-days: must be a whole number"):
        cal.horizon(2.5)
    (tmp_path / "calibration.yaml").write_text("horizon_days: 0.5\n", encoding="utf-8")
    monkeypatch.setenv("WORKBOOK_PARAMS", str(tmp_path))
    with pytest.raises(BadInput, match="^params/calibration.yaml.horizon_days: must be a whole number"):
        cal.horizon(None)
    assert cal.horizon(30) == 30
