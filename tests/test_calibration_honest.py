"""Calibration says only what the data supports (issue 11 and the calibration items of issue 10).

Worlds come from ``tests/product_world.py``: only accounts, milestones and usage, so engagement,
sentiment and relationship have no data at all. ``strong``: usage ranks churn; ``none``: churn
is independent of everything. Expected values are worked out by hand or by scikit-learn.
"""
from __future__ import annotations

import json
import os
import stat

import numpy as np
import pandas as pd
import pytest
import yaml
from product_world import write_product_world
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from workbook import calibration as cal
from workbook import evaluation as ev
from workbook import snapshots as snap
from workbook import narrative, plots
from workbook import weights as wmod
from workbook.cli import main
from workbook.errors import BadInput
from workbook.weights import DIMENSIONS

D = list(DIMENSIONS)
V1 = {"adoption": 30, "engagement": 20, "sentiment": 15, "outcomes": 20, "relationship": 15}
ABSENT = ["engagement", "sentiment", "relationship"]          # no table behind them in a product world


@pytest.fixture(scope="module")
def v1():
    return wmod.validate({"weights": V1, "thresholds": {"green": 80, "amber": 60}, "version": 1}, "v1")


def _world(tmp_path_factory, signal: str):
    out = write_product_world(tmp_path_factory.mktemp(f"pw_{signal}") / "world", accounts=500, seed=0,
                              churn_signal=signal)
    from workbook.workspace import open_data
    ws = open_data(out)
    try:
        snaps = snap.build_snapshots(ws)
    finally:
        ws.close()
    return out, snaps


@pytest.fixture(scope="module")
def strong(tmp_path_factory):
    return _world(tmp_path_factory, "strong")


@pytest.fixture(scope="module")
def strong_result(strong, v1):
    return ev.evaluate(strong[1], v1, replicates=300, seed=1)


@pytest.fixture(scope="module")
def anti():
    """Snapshots where churn RISES with every dimension: nothing is associated with retention, so
    the map of v1 is flat (its slope sits on the bound 0) and the proposal keeps v1."""
    return snap.synthetic_snapshots(300, 12, slope=4.0, intercept=-4.0, seed=2)


@pytest.fixture(scope="module")
def anti_result(anti, v1):
    return ev.evaluate(anti, v1, replicates=200, seed=1)


def _test_rows(result):
    snaps = result.snapshots
    return snaps[snaps["role"] == "test"]


# ------------------------------------------------------------------ 2. no weight without data
def test_dimensions_without_data_get_weight_zero_and_are_named(strong_result):
    r = strong_result
    measured = r.snapshots[r.snapshots["role"] == "train"][D].notna().mean()
    assert measured[ABSENT].max() == 0.0 and measured[["adoption", "outcomes"]].min() > 0.9
    for d in ABSENT:
        assert r.proposed.weights[d] == 0, r.proposed.weights
    assert sum(r.proposed.weights.values()) == 100
    assert r.metrics["not_measured"] == ABSENT
    assert r.proposal_document()["not_measured"] == ABSENT
    assert "not measured in this data (weight 0): engagement, sentiment, relationship" in r.summary()


def test_the_zero_weight_threshold_is_five_percent_of_training_rows():
    rng = np.random.default_rng(0)
    n = 4000
    X = pd.DataFrame(rng.uniform(0, 1, (n, 5)), columns=D)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(1.0 - 4 * X["sentiment"].fillna(0.5))))).astype(int)
    few, enough = X.copy(), X.copy()
    few.loc[few.index[int(0.04 * n):], "sentiment"] = np.nan          # 4% measured: below the rule
    enough.loc[enough.index[int(0.06 * n):], "sentiment"] = np.nan    # 6% measured: above it
    fit_few = cal.ChurnCalibrator().fit(few, y)
    fit_enough = cal.ChurnCalibrator().fit(enough, y)
    assert fit_few.unmeasured_ == ["sentiment"] and fit_few.weights_["sentiment"] == 0
    assert fit_few.measured_share_["sentiment"] == pytest.approx(0.04)
    assert fit_enough.unmeasured_ == [] and fit_enough.weights_["sentiment"] > 0


# ------------------------------------------------------------------ 3. ranking on the score
def test_ranking_metrics_rank_on_the_score_and_a_flat_map_is_no_usable_signal(anti_result, v1):
    r = anti_result
    m = r.metrics
    assert np.ptp(r.current_model.churn_probability_) == 0          # the map is flat ...
    test = _test_rows(r)
    y = test["churned"].to_numpy(int)
    score = cal.health_score(test[D], v1.weights)
    risk = 100 - cal.score_index(score)
    # ... yet the score itself ranks: churners score HIGH here, so AUC is well below 0.5, not 0.5
    assert m["current"]["auc"] == pytest.approx(roc_auc_score(y, risk), abs=1e-6)
    assert m["current"]["auc"] < 0.4
    assert m["current"]["pr_auc"] == pytest.approx(average_precision_score(y, risk), abs=1e-6)
    # probability metrics use the (flat) map: every row gets the training churn rate
    p = r.current_model.churn_probability(score)
    assert m["current"]["brier"] == pytest.approx(brier_score_loss(y, p), abs=1e-6)
    assert m["current"]["signal"] == "no usable signal"
    assert any(w.startswith("no usable signal") for w in r.warnings)


def test_top_decile_lift_on_the_score_by_hand():
    # 20 rows, scores 0..95 step 5; churners at scores 0 and 5 (the two lowest) and 90.
    # Riskiest 10% = the two lowest scores, both churners: rate 1.0 vs base 3/20 -> lift 20/3.
    score = np.arange(0, 100, 5, dtype=float)
    y = np.isin(score, [0, 5, 90]).astype(float)
    got = ev.classification_metrics(y, np.full(20, 0.15), risk=100 - score)
    assert got["top_decile_lift"] == pytest.approx(20 / 3)
    assert got["auc"] == pytest.approx(roc_auc_score(y, 100 - score))
    assert got["brier"] == pytest.approx(brier_score_loss(y, np.full(20, 0.15)))


# ------------------------------------------------------------------ 4. "nothing should change"
def test_no_better_proposal_says_nothing_should_change(anti_result):
    rec = anti_result.metrics["recommendation"]
    assert rec["adopt"] is False and rec["reason"].startswith("nothing should change")
    assert anti_result.proposal_document()["recommendation"] == rec
    assert anti_result.summary().splitlines()[1].startswith("RECOMMENDATION: nothing should change")


def test_the_recommendation_follows_the_paired_log_loss_interval(strong_result):
    m = strong_result.metrics
    lo, hi = m["difference"]["log_loss"]["ci"]
    assert m["recommendation"]["adopt"] is (hi < 0)
    assert m["recommendation"]["adopt"] is True                      # usage truly ranks churn here
    assert m["proposed"]["log_loss"] < m["current"]["log_loss"]


def test_calibrate_writes_the_recommendation_into_both_files(tmp_path, capsys):
    world = write_product_world(tmp_path / "none", accounts=300, seed=4, churn_signal="none")
    out = tmp_path / "out"
    assert main(["calibrate", "--data", str(world), "--out", str(out)]) == 0
    doc = yaml.safe_load((out / "weights.yaml").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(doc["recommendation"]) == {"adopt", "reason"} and doc["recommendation"]["adopt"] is False
    assert metrics["recommendation"] == doc["recommendation"]
    lo, hi = metrics["difference"]["log_loss"]["ci"]
    assert hi >= 0 and doc["recommendation"]["reason"].startswith("nothing should change")
    assert f"{hi:+.4f}" in doc["recommendation"]["reason"]            # the reason quotes the interval
    for side in ("current", "proposed"):                              # SPEC keys intact
        assert set(ev.METRICS) <= set(metrics[side])
    assert metrics["n_train"] > 0 and metrics["n_test"] > 0
    assert "nothing should change" in capsys.readouterr().out


# ------------------------------------------------------------------ 5. thresholds keep their rule
def test_thresholds_that_cannot_meet_the_rule_are_not_suggested():
    # 9 of 10 churners score 100: no threshold <= 100 puts 60% of churners in red
    score = np.array([100.0] * 9 + [40.0] + [90.0] * 10)
    y = np.array([1] * 10 + [0] * 10)
    got = ev.suggest_thresholds(score, y)
    assert got["green"] is None and got["amber"] is None and "60%" in got["reason"]


@pytest.mark.parametrize("seed", range(25))
def test_suggested_thresholds_satisfy_their_rule_on_the_training_rows(seed):
    rng = np.random.default_rng(seed)
    n = 300
    score = np.round(rng.beta(3, 1.5, n) * 100)
    y = (rng.uniform(size=n) < 0.5 - 0.4 * score / 100).astype(int)
    got = ev.suggest_thresholds(score, y, red_churner_share=0.6, green_max_churner_share=0.1)
    churn = score[y == 1]
    if got["green"] is None:
        assert got["reason"]
        return
    g, a = got["green"], got["amber"]
    assert 0 < a < g <= 100
    assert (churn < a).mean() >= 0.6 and (churn >= g).mean() <= 0.1
    for band in (score < a, (score >= a) & (score < g), score >= g):
        assert band.any()


def test_product_world_thresholds_break_no_rule(tmp_path):
    world = write_product_world(tmp_path / "none", accounts=300, seed=0, churn_signal="none")
    from workbook.workspace import open_data
    ws = open_data(world)
    try:
        snaps = snap.build_snapshots(ws)
    finally:
        ws.close()
    r = ev.evaluate(snaps, replicates=0)
    st = r.metrics["suggested_thresholds"]
    train = r.snapshots[r.snapshots["role"] == "train"]
    churn = cal.health_score(train[D], r.proposed.weights)[train["churned"].to_numpy(int) == 1]
    if st["green"] is None:
        assert st["reason"] and any(w.startswith("no thresholds satisfy") for w in r.warnings)
    else:
        assert st["green"] <= 100 and st["amber"] < st["green"]
        assert (churn < st["amber"]).mean() >= 0.6 and (churn >= st["green"]).mean() <= 0.1


# ------------------------------------------------------------------ 6. losing a score is not "better"
def test_a_change_to_or_from_no_score_is_its_own_direction(anti):
    y = anti["churned"].to_numpy(float)
    only_sentiment = {"adoption": 0, "engagement": 0, "sentiment": 100, "outcomes": 0, "relationship": 0}
    only_adoption = {"adoption": 100, "engagement": 0, "sentiment": 0, "outcomes": 0, "relationship": 0}
    cur = wmod.validate({"weights": only_sentiment, "thresholds": {"green": 80, "amber": 60}}, "cur")
    prop = wmod.validate({"weights": only_adoption, "thresholds": {"green": 80, "amber": 60}}, "prop")
    filled = anti[D].fillna(0.5)
    m_cur = cal.ChurnCalibrator(weights=only_sentiment).fit(filled, y)
    m_prop = cal.ChurnCalibrator(weights=only_adoption).fit(filled, y)
    latest = pd.DataFrame({"account_id": pd.array(["lost", "gained", "down", "up"], dtype="string"),
                           "observed_at": pd.Timestamp("2026-01-01"),
                           "adoption": [np.nan, 0.9, 0.1, 0.9], "engagement": np.nan,
                           "sentiment": [0.9, np.nan, 0.9, 0.1], "outcomes": np.nan, "relationship": np.nan,
                           "override_colour": pd.array([pd.NA] * 4, dtype="string")})
    ch = ev._colour_changes(latest, cur, prop, m_cur, m_prop, "redistribute", None).set_index("account_id")
    assert ch.loc["lost", ["colour_current", "colour_proposed", "direction"]].tolist() == ["green", "none", "no score"]
    assert ch.loc["gained", ["colour_current", "colour_proposed", "direction"]].tolist() == ["none", "green", "scored"]
    assert ch.loc["down", "direction"] == "worse" and ch.loc["up", "direction"] == "better"


# ------------------------------------------------------------------ 7. one fit, one answer
def test_backtest_fold_on_the_main_split_is_the_main_fit(anti_result, strong_result):
    for r in (anti_result, strong_result):
        bt = r.backtest
        main_fold = bt[bt["main_split"]]
        assert len(main_fold) == 1
        row = main_fold.iloc[0]
        assert (row["train_first"], row["train_last"]) == tuple(r.metrics["data_window"]["train"])
        assert (row["test_first"], row["test_last"]) == tuple(r.metrics["data_window"]["test"])
        assert row["proposed_weights"] == "/".join(str(r.proposed.weights[d]) for d in D)
        assert row["auc_proposed"] == pytest.approx(r.metrics["proposed"]["auc"], abs=1e-6)
        assert row["log_loss_proposed"] == pytest.approx(r.metrics["proposed"]["log_loss"], abs=1e-6)
    # the fallback (keep the current weights) is part of the one procedure: every fold shows it
    assert set(anti_result.backtest["proposed_weights"]) == {"30/20/15/20/15"}


# ------------------------------------------------------------------ 9. warnings first
def test_warnings_lead_the_summary_and_the_report_sentence(anti_result, strong_result):
    assert any(w.startswith("no dimension is associated with churn") for w in anti_result.warnings)
    assert any(w.startswith("only ") and "churners" in w for w in strong_result.warnings)
    for r in (anti_result, strong_result):
        head = r.summary().splitlines()[1:2 + len(r.warnings)]
        assert head[0].startswith("RECOMMENDATION: ")
        assert [line.removeprefix("warning: ") for line in head[1:]] == r.warnings
        text = narrative.calibration_summary(r.metrics, colour_changes=len(r.colour_changes))
        assert text.startswith("Recommendation: ")
        for w in r.warnings:
            assert w.rstrip(".") in text.split(" The proposed weights (")[0]
    text = narrative.calibration_summary(anti_result.metrics, colour_changes=0)
    assert text.startswith("Recommendation: nothing should change")


# ------------------------------------------------------------------ issue 8: report strings
def test_report_strings_have_no_nan_no_negative_zero_and_no_stable_absent_dimension(strong_result):
    lo, hi = ev._wilson(np.zeros(300), np.arange(1, 301))
    assert all(not f"{v:.1%}".startswith("-") for v in lo) and (lo >= 0).all() and (hi <= 1).all()
    drift = strong_result.drift.set_index("dimension")
    for d in ABSENT:
        assert drift.loc[d, "status"] == "not measured" and np.isnan(drift.loc[d, "psi"])
    alt = plots.psi_bars(strong_result.drift, watch=0.1, recalibrate=0.2).alt
    assert "engagement: not measured in this data" in alt and "nan" not in alt
    from workbook import reporting
    rep = object.__new__(reporting.Calibration)
    empty_band = strong_result.bands.copy()
    empty_band.loc[0, ["n", "churned", "churn_rate", "ci_low", "ci_high"]] = [0, 0, np.nan, np.nan, np.nan]
    rep.__dict__["result"] = type("R", (), {"bands": empty_band})()
    html = str(rep.band_table())
    assert "nan" not in html.lower() and "-0.0%" not in html and "no rows" in html


# ------------------------------------------------------------------ issue 10: clean refusals and writing
def test_absurd_horizon_is_refused_from_python(strong, v1):
    with pytest.raises(BadInput, match="^--horizon-days: must be 1..3650"):
        ev.evaluate(strong[1], v1, horizon_days=100_000_000, replicates=0)
    from workbook.workspace import open_data
    ws = open_data(strong[0])
    try:
        with pytest.raises(BadInput, match="^--horizon-days: must be 1..3650"):
            snap.build_snapshots(ws, horizon_days=100_000_000)
    finally:
        ws.close()


@pytest.mark.parametrize("empty", [("usage",), ("usage", "accounts", "milestones")])
def test_world_without_rows_exits_2(strong, tmp_path, capsys, empty):
    world = tmp_path / "w"
    world.mkdir()
    for f in strong[0].iterdir():
        (world / f.name).write_bytes(f.read_bytes())
    if "usage" in empty:
        pd.read_parquet(world / "usage.parquet").iloc[:0].to_parquet(world / "usage.parquet")
    for name in set(empty) - {"usage"}:
        pd.read_csv(world / f"{name}.csv").iloc[:0].to_csv(world / f"{name}.csv", index=False)
    # with --as-of given, nothing stops early on the missing default date
    assert main(["calibrate", "--data", str(world), "--as-of", "2026-11-15", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "nothing to calibrate" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_snapshot_file_without_dimension_values_names_the_cause(tmp_path, capsys):
    rows = [{"account_id": f"A{i}", "observed_at": f"2025-{m:02d}-01", **{d: "" for d in D},
             "churned": int(i % 5 == 0)} for i in range(40) for m in range(1, 13)]
    path = tmp_path / "snaps.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    assert main(["calibrate", "--snapshots", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "no dimension values" in err and "needs both churned and retained" not in err


def test_as_of_after_the_data_builds_nothing_after_its_end(strong):
    from workbook.workspace import open_data
    ws = open_data(strong[0])
    try:
        end = ws.usage_date_range[1]
        snaps = snap.build_snapshots(ws, as_of="2100-01-01")
    finally:
        ws.close()
    assert snaps["observed_at"].max() == end
    late = snaps["observed_at"] + pd.Timedelta(days=90) > end
    assert late.any() and snaps.loc[late, "churned"].isna().all()
    assert snaps.attrs["requested_as_of"] == pd.Timestamp("2100-01-01")


def test_unwritable_destination_is_refused_before_any_work(strong, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    assert main(["calibrate", "--data", str(strong[0]), "--out", str(blocker / "out")]) == 2
    err = capsys.readouterr().err
    assert str(blocker) in err and "calibrate: scoring" not in err      # refused before the work


def test_the_file_set_is_swapped_in_whole_with_normal_permissions(strong_result, tmp_path):
    out = tmp_path / "cal"
    out.mkdir()
    (out / "weights.yaml").write_text("old set\n")
    (out / "metrics.json").write_text("{}\n")
    (out / "notes.txt").write_text("reviewer notes\n")
    old_mask = os.umask(0o022)
    try:
        paths = strong_result.write(out)
    finally:
        os.umask(old_mask)
    assert len(paths) == 10 and all(p.parent == out for p in paths)
    assert yaml.safe_load((out / "weights.yaml").read_text())["weights"] == strong_result.proposed.weights
    assert (out / "notes.txt").read_text() == "reviewer notes\n"
    assert [p.name for p in tmp_path.iterdir()] == ["cal"]             # no staging or old folder left
    for p in paths:
        assert stat.S_IMODE(p.stat().st_mode) == 0o644, p.name
    assert stat.S_IMODE(out.stat().st_mode) == 0o755


def test_no_signal_keeps_current_weights_but_zero_for_unmeasured(v1):
    """With churn rising with the measured dimensions (the wrong way round for a health score, so no
    non-negative weight can use them), the proposal keeps v1's weights, except that the
    three dimensions with no data get 0 and their 50 points go to adoption and outcomes in v1's
    proportion 30:20 (largest remainder: 60/40); under "redistribute" every score stays the same."""
    rng = np.random.default_rng(3)
    n = 4000
    X = pd.DataFrame({"adoption": rng.random(n), "outcomes": rng.random(n)})
    for d in ABSENT:
        X[d] = np.nan
    X = X[D]
    y = ((X["adoption"] + X["outcomes"] + rng.normal(0, 0.2, n)) > 1.6).astype(float)
    train = X.assign(churned=y)
    cfg = {"map": "logistic", "C": 1.0, "min_measured_share": 0.05}
    cur, kept, was_kept = ev._fit_pair(train, v1, cfg, 90, "redistribute")
    assert was_kept is True
    assert dict(kept.weights_) == {"adoption": 60, "engagement": 0, "sentiment": 0, "outcomes": 40,
                                   "relationship": 0}
    assert kept.health_score(X) == pytest.approx(cur.health_score(X))
