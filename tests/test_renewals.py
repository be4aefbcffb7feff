"""The renewal hazard model, its evaluation and the renewal forecast (workbook.renewals)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit

from contract_world import AS_OF, daily, write_world
from workbook import renewals
from workbook.renewals import FEATURES, History, RenewalHazard
from workbook.scoring import DIMENSIONS
from workbook.workspace import open_data


def fixed_model(step_hazard: float, renewal_hazard: float | None = None, step_days: float = 30.0) -> RenewalHazard:
    """A model whose hazard ignores the dimensions: ``step_hazard`` per 30-day step, and
    ``renewal_hazard`` in the step holding the renewal (same as the step hazard when None)."""
    coef = {f: 0.0 for f in FEATURES}
    if renewal_hazard is not None:
        coef["at_renewal"] = float(logit(renewal_hazard) - logit(step_hazard))
    return RenewalHazard.from_dict({"format": renewals.FORMAT, "params": {"C": 1.0, "step_days": step_days},
                                    "intercept": float(logit(step_hazard)), "coef": coef,
                                    "fill": {**{d: 0.5 for d in DIMENSIONS}, "tenure_days": 365.0},
                                    "n_steps": 0, "n_events": 0})


# ---------------------------------------------------------------------------- a hand-worked world
# as_of 2026-03-31. Base contracts (kind new) and their renewal days:
#   R1  ARR 10,000  ends 2026-04-30  -> renews in 30 days
#   R2  ARR 20,000  ends 2026-05-30  -> 60 days (plus an expansion add-on of 2,000 ARR, which has
#                                        its own ends_at but is not the renewal)
#   R3  ARR  5,000  ends 2026-07-29  -> 120 days: outside a 90-day horizon
#   R4  ARR  8,000  ends 2026-04-15, churned 2026-02-01: ARR 0 on as_of, not due
ACCOUNTS = [{"account_id": a, "arr": arr, "churned_at": ch} for a, arr, ch in
            (("R1", 10000, ""), ("R2", 22000, ""), ("R3", 5000, ""), ("R4", 8000, "2026-02-01"))]
CONTRACTS = [
    {"account_id": "R1", "contract_id": "C1", "starts_at": "2025-04-30", "ends_at": "2026-04-30", "arr": 10000},
    {"account_id": "R2", "contract_id": "C2", "starts_at": "2025-05-30", "ends_at": "2026-05-30", "arr": 20000},
    {"account_id": "R2", "contract_id": "C2x", "starts_at": "2025-11-01", "ends_at": "2026-04-10", "arr": 2000,
     "kind": "expansion"},
    {"account_id": "R3", "contract_id": "C3", "starts_at": "2025-07-29", "ends_at": "2026-07-29", "arr": 5000},
    {"account_id": "R4", "contract_id": "C4", "starts_at": "2025-04-15", "ends_at": "2026-04-15", "arr": 8000},
]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    usage = [r for a in ("R1", "R2", "R3") for r in daily(a, "2026-03-01", 31)] + daily("R4", "2026-01-01", 31)
    folder = write_world(tmp_path_factory.mktemp("renewals") / "w", ACCOUNTS, CONTRACTS, usage)
    ws = open_data(folder)
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    """The same world without the contracts table."""
    usage = [r for a in ("R1", "R2", "R3") for r in daily(a, "2026-03-01", 31)]
    folder = write_world(tmp_path_factory.mktemp("renewals") / "bare", ACCOUNTS, None, usage)
    ws = open_data(folder)
    yield ws
    ws.close()


def test_forecast_hand_worked(world):
    # A hazard of 0.1 per 30-day step, the same at renewal: p_renew = 0.9 ** (days / 30).
    #   R1: 30 days -> p = 0.9,  ARR 10,000 -> at risk 10,000 x 0.1  = 1,000
    #   R2: 60 days -> p = 0.81, ARR on as_of 20,000 + 2,000 add-on = 22,000
    #                                       -> at risk 22,000 x 0.19 = 4,180
    # R3 (120 days) and R4 (churned, ARR 0) are not due within 90 days.
    f = renewals.renewal_forecast(world, AS_OF, 90, model=fixed_model(0.1))
    t = f.table
    assert list(t["account_id"]) == ["R2", "R1"]                    # most ARR at risk first
    assert t["days_to_renewal"].tolist() == [60, 30]
    assert t["renewal_at"].tolist() == [pd.Timestamp("2026-05-30"), pd.Timestamp("2026-04-30")]
    assert t["p_renew"].tolist() == pytest.approx([0.81, 0.9])
    assert t["arr"].tolist() == pytest.approx([22000, 10000])
    assert t["arr_at_risk"].tolist() == pytest.approx([4180, 1000])
    s = f.summary
    assert s["n"] == 2 and s["arr_due"] == pytest.approx(32000)
    assert s["arr_at_risk"] == pytest.approx(5180)
    assert s["expected_renewals"] == pytest.approx(1.71)             # 0.9 + 0.81
    assert s["expected_rate"] == pytest.approx(0.855)                # 1.71 / 2
    assert s["expected_arr_rate"] == pytest.approx((9000 + 17820) / 32000)   # 0.838125
    # Poisson-binomial of (0.9, 0.81): P(0) = 0.1 x 0.19 = 0.019, P(1) = 0.9 x 0.19 + 0.1 x 0.81
    # = 0.252, P(2) = 0.729. P(X < 1) = 0.019 <= 0.025 and P(X > 2) = 0, while P(X < 2) = 0.271:
    # the 95 % interval is [1, 2].
    assert s["interval"] == [1, 2]
    assert s["target"] == renewals.renewal_target()
    assert f.note is None and "given" in f.method


def test_forecast_renewal_step_hazard(world):
    # Step hazard 0.1, but 0.5 in the step holding the renewal:
    #   R1 (30 days, one step, the renewal step): p = 0.9 ** 1 x (0.5 / 0.9) = 0.5
    #   R2 (60 days): p = 0.9 ** 2 x (0.5 / 0.9) = 0.45; at risk 22,000 x 0.55 = 12,100
    f = renewals.renewal_forecast(world, AS_OF, 90, model=fixed_model(0.1, 0.5))
    got = dict(zip(f.table["account_id"], f.table["p_renew"]))
    assert got == pytest.approx({"R1": 0.5, "R2": 0.45})
    assert f.summary["arr_at_risk"] == pytest.approx(10000 * 0.5 + 22000 * 0.55)


def test_shorter_horizon_and_model_file(world, tmp_path):
    model = fixed_model(0.1)
    path = tmp_path / renewals.MODEL_FILE
    import json
    path.write_text(json.dumps({"model": model.to_dict()}))
    f = renewals.renewal_forecast(world, AS_OF, 30, model=tmp_path)   # the folder holding the file
    assert list(f.table["account_id"]) == ["R1"]                        # only R1 renews within 30 days
    assert f.summary["arr_at_risk"] == pytest.approx(1000)


def test_no_contracts_gives_an_empty_forecast_with_a_note(bare):
    f = renewals.renewal_forecast(bare, AS_OF, 90, model=fixed_model(0.1))
    assert f.table.empty and f.summary["n"] == 0 and f.summary["expected_renewals"] is None
    assert "No contracts table" in f.note


def test_outcome_counts_what_happened(world):
    # Seen from 2026-01-15 with a 90-day horizon (to 2026-04-15) only R4 is due (renewal 04-15,
    # ARR > 0 then). It churned 2026-02-01, before its renewal: known not renewed, although the
    # renewal day is after the data's end (2026-03-31).
    f = renewals.renewal_forecast(world, "2026-01-15", 90, model=fixed_model(0.1))
    assert list(f.table["account_id"]) == ["R4"]
    out = renewals.renewal_outcome(world, f)
    assert out["n"] == 1 and out["n_known"] == 1 and out["renewed"] == 0
    # p(R4) = 0.9 ** (90 / 30) = 0.729: the interval of one trial is [0, 1], 0 is inside
    assert out["expected"] == pytest.approx(0.729) and out["interval"] == [0, 1] and out["inside"] is True


# ---------------------------------------------------------------------------- Poisson-binomial
def test_poisson_binomial_matches_enumeration():
    rng = np.random.default_rng(3)
    p = rng.random(6)
    pmf = renewals.poisson_binomial(p)
    brute = np.zeros(7)
    for mask in range(64):
        bits = [(mask >> i) & 1 for i in range(6)]
        brute[sum(bits)] += np.prod([q if b else 1 - q for q, b in zip(p, bits)])
    assert pmf == pytest.approx(brute)
    lo, hi = renewals.poisson_binomial_interval(p)
    cdf = np.cumsum(brute)
    assert (cdf[lo - 1] if lo else 0) <= 0.025 < cdf[lo]
    assert 1 - cdf[hi] <= 0.025 and (hi == 0 or 1 - cdf[hi - 1] > 0.025)


# ---------------------------------------------------------------------------- the estimator
def test_hazard_recovers_known_coefficients():
    # Simulated steps with a known logit:
    #   -3 - 2 x adoption + 1.5 x outcomes + 0.5 x log(1 + tenure in years) + 1.2 x at_renewal.
    rng = np.random.default_rng(11)
    n = 200_000
    X = pd.DataFrame(rng.random((n, len(DIMENSIONS))), columns=list(DIMENSIONS))
    X["at_renewal"] = (rng.random(n) < 0.1).astype(int)
    X["tenure_days"] = rng.integers(90, 4 * 365, n)
    eta = (-3 - 2 * X["adoption"] + 1.5 * X["outcomes"] + 0.5 * np.log1p(X["tenure_days"] / 365.25)
           + 1.2 * X["at_renewal"])
    y = (rng.random(n) < expit(eta)).astype(int)
    m = RenewalHazard().fit(X, y)
    coef = dict(zip(FEATURES, m.coef_))
    assert coef["adoption"] == pytest.approx(-2, abs=0.15)
    assert coef["outcomes"] == pytest.approx(1.5, abs=0.15)
    assert coef["at_renewal"] == pytest.approx(1.2, abs=0.1)
    assert coef["log_tenure_years"] == pytest.approx(0.5, abs=0.15)
    for d in ("engagement", "sentiment", "relationship"):
        assert abs(coef[d]) < 0.15
    assert m.intercept_ == pytest.approx(-3, abs=0.15)


def test_survival_matches_simulated_accounts():
    # Accounts with fixed features lose with a known hazard each step; the share still kept
    # after 3 steps (renewal in step 2) is the model's survival over 3 steps.
    rng = np.random.default_rng(5)
    n = 60_000
    dims = pd.DataFrame(rng.random((n, len(DIMENSIONS))), columns=list(DIMENSIONS))
    q0 = expit(-2.5 - 1.0 * dims["engagement"])
    q1 = expit(-2.5 - 1.0 * dims["engagement"] + 1.0)
    rows, labels = [], []
    alive = np.ones(n, bool)
    kept = np.ones(n, bool)
    for step in range(3):
        ren = 1 if step == 1 else 0
        q = q1 if ren else q0
        lost = rng.random(n) < q
        rows.append(dims[kept].assign(at_renewal=ren, tenure_days=400 + 30 * step))
        labels.append(lost[kept])
        kept &= ~lost
    del alive
    m = RenewalHazard(step_days=30).fit(pd.concat(rows), np.concatenate(labels).astype(int))
    s = m.survival(dims.assign(tenure_days=400), 90, 45)   # three 30-day steps, the renewal in the second
    assert s.mean() == pytest.approx(kept.mean(), abs=0.01)


def test_a_renewal_in_a_part_step_takes_that_whole_step_at_the_renewal_hazard():
    # 30-day steps, hazard 0.3 a step, 0.01 in the step holding the renewal (all else zero).
    X = pd.DataFrame({d: [0.5] for d in DIMENSIONS})
    m = fixed_model(0.3, 0.01)
    # 15 days, renewal on day 10: the renewal happens inside the window, so the first step is
    # the renewal's step: S = 1 - 0.01 = 0.99 (the old arithmetic gave 0.7^0.5 x 0.99 / 0.7 = 1.18)
    assert m.survival(X, 15, 10)[0] == pytest.approx(0.99)
    # renewal on day 20, after the 15-day window: half a plain step, S = 0.7^0.5
    assert m.survival(X, 15, 20)[0] == pytest.approx(0.7 ** 0.5)
    # 45 days, renewal on day 40 (second step, cut short at 45): S = 0.7 x 0.99
    assert m.survival(X, 45, 40)[0] == pytest.approx(0.7 * 0.99)
    # whole steps are unchanged: 60 days, renewal on day 40: 0.7 x 0.99
    assert m.survival(X, 60, 40)[0] == pytest.approx(0.7 * 0.99)
    # and never above 1 over a sweep of windows and renewal days
    days, ren = np.meshgrid(np.arange(0, 200, 3.5), np.arange(0.5, 200, 4.5))
    Xn = pd.concat([X] * days.size, ignore_index=True)
    s = m.survival(Xn, days.ravel(), ren.ravel())
    assert ((s > 0) & (s <= 1)).all()


def test_metrics_take_rounding_noise_and_refuse_real_out_of_range_probabilities():
    from workbook.evaluation import classification_metrics
    got = classification_metrics([0, 1, 0], [-1e-16, 0.5, 0.1])
    assert got == classification_metrics([0, 1, 0], [0.0, 0.5, 0.1])
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        classification_metrics([0, 1], [-0.02, 0.5])


def test_estimator_round_trips_through_plain_data():
    from sklearn.base import clone
    m = fixed_model(0.2, 0.4)
    back = RenewalHazard.from_dict(m.to_dict())
    X = pd.DataFrame({d: [0.1, np.nan] for d in DIMENSIONS})
    assert back.survival(X, 60, 30) == pytest.approx(m.survival(X, 60, 30))
    assert clone(RenewalHazard(C=0.5)).get_params()["C"] == 0.5
    with pytest.raises(Exception, match="format"):
        RenewalHazard.from_dict({"format": "pickle"})


# ---------------------------------------------------------------------------- steps and labels
def _history(contracts: bool = True) -> History:
    # One account A, observed on the first of Jan..Apr 2026, lost 2026-02-20; renewal 2026-03-01.
    # One account B, never lost, renewal 2026-04-15.
    obs = pd.to_datetime(["2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01"])
    snaps = pd.DataFrame({"account_id": pd.array(["A"] * 2 + ["B"] * 4, dtype="string"),
                          "observed_at": list(obs[:2]) + list(obs),
                          **{d: 0.5 for d in DIMENSIONS}, "tenure_days": 400,
                          "renewal_at": [pd.Timestamp("2026-03-01")] * 2 + [pd.Timestamp("2026-04-15")] * 4,
                          "arr": 100.0})
    lost = pd.Series(pd.to_datetime(["2026-02-20", pd.NaT]), index=pd.Index(["A", "B"], dtype="string"))
    return History(snaps, lost, pd.Timestamp("2026-05-01"), contracts)


def test_hazard_steps_hand_worked():
    # One step ahead of each snapshot: steps are (first of month, first of next month]. A: Jan
    # kept; Feb lost on 02-20, and its renewal day 03-01 is the step's last day (at_renewal). B:
    # Jan, Feb, Mar kept, Apr (renewal 04-15) kept.
    steps = renewals.hazard_steps(_history(), max_ahead=1)
    got = [(a, f"{o:%m}", r, l) for a, o, r, l in steps[["account_id", "observed_at", "at_renewal", "lost"]].itertuples(index=False)]
    assert got == [("A", "01", 0, 0), ("A", "02", 1, 1), ("B", "01", 0, 0), ("B", "02", 0, 0), ("B", "03", 0, 0),
                   ("B", "04", 1, 0)]
    # a cutoff of 2026-03-01 keeps only steps over by then (end <= cutoff)
    assert len(renewals.hazard_steps(_history(), "2026-03-01", max_ahead=1)) == 4


def test_landmark_steps_hand_worked():
    # Every month after each snapshot while the account is a customer, up to the cutoff 05-01:
    #   A from Jan: Jan (kept), Feb (lost 02-20, renewal 03-01 on the step's last day); from Feb: Feb (lost)
    #   B from Jan: Jan..Apr (renewal 04-15 in Apr); from Feb: Feb..Apr; from Mar: Mar, Apr; from Apr: Apr
    steps = renewals.hazard_steps(_history(), max_ahead=12)
    got = [(a, f"{o:%m}", k, f"{st:%m}", r, l) for a, o, k, st, r, l in
           steps[["account_id", "observed_at", "steps_ahead", "step_start", "at_renewal", "lost"]].itertuples(index=False)]
    assert got == [("A", "01", 0, "01", 0, 0), ("A", "01", 1, "02", 1, 1), ("A", "02", 0, "02", 1, 1),
                   ("B", "01", 0, "01", 0, 0), ("B", "01", 1, "02", 0, 0), ("B", "01", 2, "03", 0, 0),
                   ("B", "01", 3, "04", 1, 0), ("B", "02", 0, "02", 0, 0), ("B", "02", 1, "03", 0, 0),
                   ("B", "02", 2, "04", 1, 0), ("B", "03", 0, "03", 0, 0), ("B", "03", 1, "04", 1, 0),
                   ("B", "04", 0, "04", 1, 0)]
    # tenure is counted to each step's start: 400 days at the Jan snapshot, + 31 for February
    b = steps[(steps["account_id"] == "B") & (steps["observed_at"] == pd.Timestamp("2026-01-01"))]
    assert b["tenure_days"].tolist() == [400, 431, 459, 490]
    assert len(renewals.hazard_steps(_history(), max_ahead=2)) == 2 + 1 + 2 + 2 + 2 + 1


def test_horizon_labels_hand_worked():
    hist = _history()
    churn = renewals.horizon_labels(hist, 60, "churn")
    # every snapshot whose 60 days end by 2026-05-01: Jan, Feb (A, B) and Mar (B); A lost 02-20
    assert [(a, f"{o:%m}", y) for a, o, y in churn[["account_id", "observed_at", "lost"]].itertuples(index=False)] == \
        [("A", "01", 1), ("A", "02", 1), ("B", "01", 0), ("B", "02", 0), ("B", "03", 0)]
    ren = renewals.horizon_labels(hist, 60, "renewal")
    # renewal within 60 days and over by the data's end: A on Jan 1 and Feb 1 (renewal 03-01,
    # lost 02-20 before it), B on Mar 1 and Apr 1 (04-15, renewed)
    assert [(a, f"{o:%m}", d, y) for a, o, d, y in ren[["account_id", "observed_at", "days", "lost"]].itertuples(index=False)] == \
        [("A", "01", 59.0, 1), ("A", "02", 28.0, 1), ("B", "03", 45.0, 0), ("B", "04", 14.0, 0)]


# ---------------------------------------------------------------------------- the small sample world
def test_sample_world_forecast_is_consistent(sample_ws):
    assert sample_ws.has("contracts")             # the sample world writes contracts.csv
    f = renewals.renewal_forecast(sample_ws, horizon_days=180)
    t = f.table
    assert len(t) > 0 and f.note is None and "fitted" in f.method
    assert ((t["p_renew"] > 0) & (t["p_renew"] < 1)).all()
    assert f.summary["arr_at_risk"] == pytest.approx(float((t["arr"] * (1 - t["p_renew"])).sum()))
    assert t["arr_at_risk"].sum() == pytest.approx(f.summary["arr_at_risk"])
    assert f.summary["expected_renewals"] == pytest.approx(t["p_renew"].sum())
    lo, hi = f.summary["interval"]
    assert 0 <= lo <= f.summary["expected_renewals"] <= hi <= len(t)
    assert (t["renewal_at"] > f.as_of).all() and (t["renewal_at"] <= f.end).all()
    assert t["arr_at_risk"].is_monotonic_decreasing


def test_sample_world_evaluation_runs(sample_ws):
    hist = renewals.history(sample_ws)
    ev = renewals.evaluate(hist, [90], replicates=20)
    row = ev[ev["kind"] == ("renewal" if hist.contracts else "churn")].iloc[0]
    assert row["n"] > 0 and 0 <= row["ece"] <= 1 and math.isfinite(row["auc"])
    assert row["ece_ci"][0] <= row["ece_ci"][1]


# ---------------------------------------------------------------------------- report sections
def _text(fragment) -> str:
    import re
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", str(fragment._repr_html_())))


def test_report_sections_say_so_in_one_line_without_contracts(bare):
    from workbook import reporting
    folder = bare.source
    m = reporting.Monthly(data=folder, as_of=AS_OF)
    assert _text(m.renewals()).strip().startswith("No contracts table in this source")
    assert _text(m.revenue()).strip().startswith("No contracts table in this source")
    d = reporting.Dashboard(data=folder, as_of=AS_OF)
    assert "only \"green and growing\" can show" in _text(d.expansion_signals()).replace("&quot;", '"')


def test_report_section_shows_the_forecast(world, monkeypatch):
    from workbook import reporting
    m = reporting.Monthly(data=world.source, as_of=AS_OF)
    monkeypatch.setattr(reporting.Report, "forecast", renewals.renewal_forecast(world, AS_OF, 90,
                                                                                model=fixed_model(0.1)))
    text = _text(m.renewals())
    # the figures of test_forecast_hand_worked, as the sentence writes them
    assert "2 renewals due by 2026-06-29 (the next 90 days), $32,000 ARR: 1.7 expected to renew " \
           "(95 % interval 1 to 2), 83.8% of the ARR due" in text
    assert "$5,180 ARR at risk" in text and "R2 Ltd" in text and "$4,180" in text


def test_calibrate_writes_a_renewal_model_the_forecast_reads(sample_dir, tmp_path):
    from workbook.cli import main
    out = tmp_path / "cal"
    assert main(["calibrate", "--data", str(sample_dir), "--out", str(out)]) == 0
    assert (out / "weights.yaml").is_file()                            # calibrate's own files stay
    import json
    doc = json.loads((out / renewals.MODEL_FILE).read_text())
    assert doc["model"]["features"] == list(FEATURES) and doc["evaluation"]
    quality = pd.read_csv(out / renewals.METRICS_FILE)
    assert set(quality["horizon_days"]) == {30, 90, 365}
    model = renewals.load_model(out)
    ws = open_data(sample_dir)
    try:
        f = renewals.renewal_forecast(ws, horizon_days=120, model=out / renewals.MODEL_FILE)
        again = renewals.renewal_forecast(ws, horizon_days=120, model=model)
    finally:
        ws.close()
    assert f.method == "hazard model given" and f.table["p_renew"].tolist() == again.table["p_renew"].tolist()


# ---------------------------------------------------------------------------- loss days, point in time
def test_a_renewal_day_no_contract_covers_is_a_loss(tmp_path):
    # L1: one contract to 2026-02-01, never renewed, no churned_at -> lost on 2026-02-01.
    # L2: renewed on its end day (the renewal starts 2026-02-01) -> not lost.
    # L3: churned_at 2026-01-10 inside its contract -> lost on 2026-01-10.
    accounts = [{"account_id": a, "arr": 100, "churned_at": c} for a, c in (("L1", ""), ("L2", ""), ("L3", "2026-01-10"))]
    contracts = [
        {"account_id": "L1", "contract_id": "K1", "starts_at": "2025-02-01", "ends_at": "2026-02-01", "arr": 100},
        {"account_id": "L2", "contract_id": "K2", "starts_at": "2025-02-01", "ends_at": "2026-02-01", "arr": 100},
        {"account_id": "L2", "contract_id": "K2r", "starts_at": "2026-02-01", "ends_at": "2027-02-01", "arr": 100,
         "kind": "renewal"},
        {"account_id": "L3", "contract_id": "K3", "starts_at": "2025-06-01", "ends_at": "2026-06-01", "arr": 100},
    ]
    usage = [r for a in ("L1", "L2", "L3") for r in daily(a, "2026-01-01", 5)]
    ws = open_data(write_world(tmp_path / "w", accounts, contracts, usage))
    try:
        lost = renewals.lost_dates(ws, "2026-03-31")
        assert lost["L1"] == pd.Timestamp("2026-02-01") and pd.isna(lost["L2"])
        assert lost["L3"] == pd.Timestamp("2026-01-10")
        # seen on 2026-01-15 the lapse has not happened yet; the churn has
        early = renewals.lost_dates(ws, "2026-01-15")
        assert pd.isna(early["L1"]) and early["L3"] == pd.Timestamp("2026-01-10")
    finally:
        ws.close()


def test_forecast_ignores_facts_after_as_of(world, tmp_path):
    # A copy of the world where, after as_of 2026-03-31, R1 renews (a contract from 04-30) and R2
    # churns (05-01): a forecast on 2026-03-31 cannot know either and must not change.
    import shutil
    copy = tmp_path / "later"
    shutil.copytree(world.source, copy)
    c = pd.read_csv(copy / "contracts.csv")
    c = pd.concat([c, pd.DataFrame([{"account_id": "R1", "contract_id": "C1r", "starts_at": "2026-04-30",
                                     "ends_at": "2027-04-30", "arr": 50000, "kind": "renewal"}])])
    c.to_csv(copy / "contracts.csv", index=False)
    a = pd.read_csv(copy / "accounts.csv", keep_default_na=False)
    a.loc[a["account_id"] == "R2", "churned_at"] = "2026-05-01"
    a.to_csv(copy / "accounts.csv", index=False)
    ws = open_data(copy)
    try:
        later = renewals.renewal_forecast(ws, AS_OF, 90, model=fixed_model(0.1))
    finally:
        ws.close()
    now = renewals.renewal_forecast(world, AS_OF, 90, model=fixed_model(0.1))
    cols = ["account_id", "renewal_at", "arr", "p_renew", "arr_at_risk"]
    pd.testing.assert_frame_equal(later.table[cols], now.table[cols])
    assert later.summary == now.summary


def test_bootstrap_metrics_match_the_evaluation_module():
    # with every row drawn once, the weighted metrics of the bootstrap are the evaluation module's
    from workbook.evaluation import classification_metrics
    rng = np.random.default_rng(2)
    p = np.round(rng.random(400), 2)                      # ties, as in real scores
    y = (rng.random(400) < p).astype(float)
    ref = classification_metrics(y, p)
    got = renewals._weighted_metrics(y, p, np.ones(400))
    assert got == pytest.approx({k: ref[k] for k in ("auc", "brier", "ece")})
    # a row drawn twice counts twice
    twice = renewals._weighted_metrics(np.r_[y, y[:1]], np.r_[p, p[:1]], np.ones(401))
    assert renewals._weighted_metrics(y, p, np.r_[2.0, np.ones(399)]) == pytest.approx(twice)


def test_weights_fallback_names_itself(world):
    f = renewals.renewal_forecast(world, AS_OF, 90, model="weights")
    assert "weights" in f.method and set(f.table["account_id"]) == {"R1", "R2"}
    p = f.table["p_renew"].astype(float)
    if "no calibration map" in f.method:           # the active weights carry no map: nothing expected
        assert p.isna().all() and f.summary["expected_renewals"] is None
    else:
        assert ((p > 0) & (p < 1)).all()


def test_calibrate_runs_on_a_small_sample_whose_renewals_fall_in_part_steps(tmp_path):
    """Found by an outside run: on this 120-account world some 90-day windows end part-way through
    the step holding the renewal, and the old survival arithmetic gave probabilities below 0."""
    from workbook.cli import main
    from workbook.sample import write_sample
    world = tmp_path / "world"
    write_sample(world, accounts=120, seed=3)
    assert main(["calibrate", "--data", str(world), "--out", str(tmp_path / "out")]) == 0
    metrics = pd.read_csv(tmp_path / "out" / "renewal_metrics.csv")
    assert len(metrics) > 0 and metrics["ece"].between(0, 1).all()
