"""Improvement-cycle analysis (workbook.post_cycle): parameters, the bootstrap interval against hand and
independent (scipy) computations, the keep / reverse rule, and a hand-built world end to end."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from workbook import post_cycle as pc
from workbook.errors import BadInput
from workbook.workspace import open_data

CYCLE = {"metric": "time_to_value_days", "cycle_start": "2024-06-15", "cycle_end": "2024-06-28"}


# ---------------------------------------------------------------------------- parameters
def test_baseline_defaults_to_the_same_length_right_before():
    c = pc.cycle_from_params(CYCLE)
    # 15..28 June is 14 days, so the baseline is 1..14 June.
    assert (c.start, c.end) == (pd.Timestamp("2024-06-15"), pd.Timestamp("2024-06-28"))
    assert (c.baseline_start, c.baseline_end) == (pd.Timestamp("2024-06-01"), pd.Timestamp("2024-06-14"))
    assert c.days == 14 and c.segment == () and c.cohort_text() == "all accounts"
    assert (c.replicates, c.confidence, c.min_n) == (pc.DEFAULTS["replicates"], 0.95, pc.DEFAULTS["min_n"])


def test_explicit_baseline_and_segment_list():
    c = pc.cycle_from_params({**CYCLE, "baseline_start": "2024-05-01", "baseline_end": "2024-05-31",
                              "segment": ["SMB", "Mid-Market"], "hypothesis": "  We   believed\nthat ",
                              "min_n": 3, "replicates": 500, "seed": 4, "confidence": 0.9})
    assert (c.baseline_start, c.baseline_end) == (pd.Timestamp("2024-05-01"), pd.Timestamp("2024-05-31"))
    assert c.segment == ("SMB", "Mid-Market") and c.cohort_text() == "segments SMB, Mid-Market"
    assert c.hypothesis == "We believed that"
    assert (c.min_n, c.replicates, c.seed, c.confidence) == (3, 500, 4, 0.9)


@pytest.mark.parametrize("change, column", [
    ({"metric": "utilization"}, "metric"),                      # a ratio, not a mean over members
    ({"metric": "no_such_kpi"}, "metric"),
    ({"cycle_end": "2024-06-01"}, "cycle_end"),                 # before the start
    ({"cycle_start": "June"}, "cycle_start"),
    ({"cycle_start": None}, "cycle_start"),
    ({"baseline_start": "2024-05-01"}, "baseline_start"),       # one end only
    ({"baseline_start": "2024-06-01", "baseline_end": "2024-06-20"}, "baseline_end"),   # overlaps the cycle
    ({"segment": 3}, "segment"),
    ({"confidence": 1.2}, "confidence"),
    ({"replicates": 10}, "replicates"),
    ({"min_n": 0}, "min_n"),
    ({"hypothesis": ["a"]}, "hypothesis"),
])
def test_bad_parameters_name_the_key(change, column):
    with pytest.raises(BadInput) as info:
        pc.cycle_from_params({**CYCLE, **change})
    assert info.value.table == "params/post_cycle.yaml"
    assert info.value.column == column


# ---------------------------------------------------------------------------- bootstrap
def frame(values, accounts=None):
    accounts = accounts or [f"a{i}" for i in range(len(values))]
    return pd.DataFrame({"account_id": accounts, "x": [float(v) for v in values]})


def test_constant_windows_give_a_point_interval():
    # every resample of [10, 10, 10] has mean 10 and of [4, 4] mean 4: the interval is exactly [6, 6]
    low, high, diffs = pc.bootstrap_difference(frame([10, 10, 10]), frame([4, 4]), replicates=200, seed=1)
    assert (low, high) == (6.0, 6.0)
    assert len(diffs) == 200


def test_two_account_bootstrap_matches_the_hand_distribution():
    # cycle [0, 1]: a resample of two accounts has mean 0 (p = 1/4), 0.5 (p = 1/2) or 1 (p = 1/4);
    # baseline [0, 0] is always 0. So the 2.5% and 97.5% quantiles are exactly 0 and 1.
    low, high, diffs = pc.bootstrap_difference(frame([0, 1]), frame([0, 0]), replicates=4000, seed=7)
    assert (low, high) == (0.0, 1.0)
    assert set(np.unique(diffs)) <= {0.0, 0.5, 1.0}
    assert np.mean(diffs == 0.5) == pytest.approx(0.5, abs=0.04)     # 4 standard errors at n = 4000
    assert np.mean(diffs == 0.0) == pytest.approx(0.25, abs=0.035)


def test_accounts_travel_together_in_a_resample():
    # cycle: account A answers four times (all 1), account B once (0). Resampling ACCOUNTS gives
    # AA -> 1, AB -> 4/5 = 0.8, BB -> 0; resampling rows would also give 0.6, 0.4, 0.2.
    cyc = frame([1, 1, 1, 1, 0], ["A", "A", "A", "A", "B"])
    _, _, diffs = pc.bootstrap_difference(cyc, frame([0]), replicates=3000, seed=3)
    assert set(np.round(np.unique(diffs), 9)) == {0.0, 0.8, 1.0}
    assert np.mean(np.isclose(diffs, 0.8)) == pytest.approx(0.5, abs=0.04)


def test_interval_agrees_with_scipy_percentile_bootstrap():
    # An independent implementation: scipy.stats.bootstrap resamples each sample independently
    # (one row per account here, so clustering changes nothing) with the percentile method.
    rng = np.random.default_rng(11)
    cyc = (rng.random(60) < 0.7).astype(float)
    base = (rng.random(50) < 0.45).astype(float)
    low, high, _ = pc.bootstrap_difference(frame(cyc), frame(base), replicates=20000, seed=5)
    ref = stats.bootstrap((cyc, base), lambda a, b, axis=-1: a.mean(axis=axis) - b.mean(axis=axis),
                          n_resamples=20000, method="percentile", confidence_level=0.95, random_state=6,
                          vectorized=True)
    assert low == pytest.approx(ref.confidence_interval.low, abs=0.012)
    assert high == pytest.approx(ref.confidence_interval.high, abs=0.012)
    # and both sit near the normal approximation, diff ± 1.96 SE
    diff = cyc.mean() - base.mean()
    se = np.sqrt(cyc.var(ddof=0) / len(cyc) + base.var(ddof=0) / len(base))
    assert low == pytest.approx(diff - 1.96 * se, abs=0.03)
    assert high == pytest.approx(diff + 1.96 * se, abs=0.03)


def test_same_seed_same_interval_and_empty_window():
    a, b = frame([1, 5, 2, 8]), frame([3, 3, 9])
    assert pc.bootstrap_difference(a, b, replicates=300, seed=9)[:2] == pc.bootstrap_difference(a, b, replicates=300,
                                                                                                 seed=9)[:2]
    low, high, diffs = pc.bootstrap_difference(a, frame([])[:0], replicates=300, seed=9)
    assert (low, high, len(diffs)) == (None, None, 0)


# ---------------------------------------------------------------------------- the decision rule
@pytest.mark.parametrize("better, diff, low, high, expected", [
    ("higher", 0.1, 0.01, 0.2, "keep"),
    ("higher", -0.1, -0.2, -0.01, "reverse"),
    ("higher", 0.1, -0.01, 0.2, "inconclusive"),
    ("higher", 0.1, 0.0, 0.2, "inconclusive"),       # zero is inside a closed interval
    ("lower", -3.0, -5.0, -1.0, "keep"),             # fewer days is better
    ("lower", 3.0, 1.0, 5.0, "reverse"),
    ("lower", 1.0, -1.0, 3.0, "inconclusive"),
])
def test_keep_reverse_or_extend(better, diff, low, high, expected):
    decision, reason = pc.decide(diff, low, high, better, n_cycle=20, n_baseline=20, min_n=5)
    assert decision == expected
    side = {"keep": "better side", "reverse": "worse side", "inconclusive": "includes no change"}[expected]
    assert side in reason


def test_too_few_members_or_no_data_is_inconclusive():
    decision, reason = pc.decide(0.5, 0.4, 0.6, "higher", n_cycle=4, n_baseline=30, min_n=5)
    assert decision == "inconclusive" and "4 in the cycle and 30 in the baseline, at least 5" in reason
    assert pc.decide(None, None, None, "higher", n_cycle=0, n_baseline=3, min_n=1)[0] == "inconclusive"


# ---------------------------------------------------------------------------- end to end on a hand-built world
ACCOUNTS = """account_id,name,segment,csm,arr,contracted_modules,signed_at
a1,Alpha,SMB,Ann,1000,1,2024-05-01
a2,Beta,SMB,Ann,1000,1,2024-05-10
a3,Gamma,Enterprise,Bob,9000,2,2024-04-01
b1,Delta,SMB,Bob,1000,1,2024-04-10
b2,Epsilon,SMB,Ann,1000,1,2024-04-01
c1,Zeta,SMB,Ann,1000,1,2024-05-20
"""
# Time to value (first_value - signed_at), by window:
#   cycle 15..28 June:    a1 06-20 (50 days), a2 06-25 (46), a3 06-16 (76, Enterprise: outside an SMB filter)
#   baseline 1..14 June:  b1 06-05 (56), b2 06-10 (70)
#   after the cycle:      c1 06-29 (40): in neither window
MILESTONES = """account_id,milestone,reached_at
a1,first_value,2024-06-20
a2,first_value,2024-06-25
a3,first_value,2024-06-16
b1,first_value,2024-06-05
b2,first_value,2024-06-10
c1,first_value,2024-06-29
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("cycle_world")
    (d / "accounts.csv").write_text(ACCOUNTS)
    (d / "milestones.csv").write_text(MILESTONES)
    days = pd.date_range("2024-04-01", "2024-06-30")
    pd.DataFrame({"account_id": "a1", "date": days.strftime("%Y-%m-%d"), "module": "core", "active_users": 1,
                  "actions": 1}).to_csv(d / "usage.csv", index=False)
    ws = open_data(d)
    yield ws
    ws.close()


def test_hand_world_smb_cycle_keeps(world):
    c = pc.cycle_from_params({**CYCLE, "segment": "SMB", "min_n": 2, "replicates": 2000, "seed": 1})
    r = pc.analyse(world, c)
    # cycle SMB: (50 + 46) / 2 = 48 days; baseline: (56 + 70) / 2 = 63 days; change -15 days
    assert (r.cycle_value, r.cycle_n, r.baseline_value, r.baseline_n) == (48.0, 2, 63.0, 2)
    assert r.difference == -15.0
    # resampled cycle means are 46, 48 or 50 and baseline means 56, 63 or 70, so every replicate
    # difference lies in [-24, -6]: the whole interval is below zero and lower is better.
    assert -24.0 <= r.ci_low <= r.ci_high <= -6.0
    assert r.decision == "keep" and r.better == "lower" and r.unit == "days" and r.member == "account"
    assert r.excluded == {"outside the cohort filter (segment SMB)": 1}    # a3
    assert sorted(r.rows["account_id"]) == ["a1", "a2", "b1", "b2"]
    assert r.target == 30.0                                                  # params/targets.yaml


def test_hand_world_all_segments_and_min_n(world):
    r = pc.analyse(world, pc.cycle_from_params({**CYCLE, "min_n": 5}))
    # with Gamma: (50 + 46 + 76) / 3 = 57.33 days against 63: but 3 and 2 accounts are fewer than 5
    assert r.cycle_value == pytest.approx(172 / 3) and r.cycle_n == 3
    assert r.decision == "inconclusive" and "too few accounts" in r.reason
    assert r.excluded == {}


def test_as_of_rules(world):
    c = pc.cycle_from_params(CYCLE)
    with pytest.raises(BadInput, match="not over"):
        pc.analyse(world, c, as_of="2024-06-20")
    late = pc.cycle_from_params({**CYCLE, "cycle_start": "2024-06-25", "cycle_end": "2024-07-08"})
    with pytest.raises(BadInput, match="does not cover"):
        pc.analyse(world, late)                      # the data ends on 2024-06-30
    # an explicit later as_of sees the same windows: c1's first value (06-29) is outside both
    assert pc.analyse(world, c, as_of="2024-06-30").cycle_n == 3


def test_metric_without_its_table_has_no_data(world):
    r = pc.analyse(world, pc.cycle_from_params({**CYCLE, "metric": "onboarding_nps"}))
    assert r.cycle_value is None and r.baseline_value is None and r.member == "response"
    assert r.decision == "inconclusive" and "surveys table is absent" in r.reason


def test_summary_table_rows(world):
    c = pc.cycle_from_params({**CYCLE, "segment": "SMB", "min_n": 2})
    t = pc.summary_table(c, pc.analyse(world, c))
    assert list(t["window"]) == ["baseline", "cycle", "change (cycle − baseline)"]
    assert list(t["value"]) == [63.0, 48.0, -15.0]
    assert list(t["members"][:2]) == [2, 2]


def test_no_cycle_defined_is_bad_input_saying_what_to_fill_in():
    """params/post_cycle.yaml ships without a cycle: a report on it must stop, not invent one."""
    import yaml
    from workbook.params import params_dir
    shipped = yaml.safe_load((params_dir() / "post_cycle.yaml").read_text(encoding="utf-8"))
    assert shipped["metric"] is None and shipped["cycle_start"] is None and shipped["hypothesis"] is None
    with pytest.raises(BadInput) as info:
        pc.cycle_from_params(shipped)
    assert info.value.table == "params/post_cycle.yaml" and "no improvement cycle is defined" in str(info.value)
