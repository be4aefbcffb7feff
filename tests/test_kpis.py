"""The seven KPIs on tests/fixtures/kpi_world, every value worked out by hand.

as_of = 2026-06-20 (a Saturday), so
  week W   = 06-14 .. 06-20     previous week PW  = 06-07 .. 06-13
  month M  = 06-01 .. 06-20     previous month PM = 05-01 .. 05-31
Windows (params/targets.yaml): SMB 45, Mid-Market 60, Enterprise 90, default 60; activation 30.
The fixture also holds facts dated after as_of (06-21 .. 06-26) that must not count, and one
usage row on 06-25, so the default as_of (latest usage date) is 2026-06-25.

Accounts by role (all dates 2026 unless written):
  t1..t7  time to value   (explicit due 12-31, signed before April: in no other cohort)
  c1..c9  onboarding completion and adoption (their onboarding_complete days)
  v1..v7  activation
  h1..h5  readiness at handover
  r1..r7  first-90-day retention
  p1, p2  open onboardings past due; p3 handed over (04-05) without onboarding_complete: its
          onboarding is closed, so it is not past due although its due date (04-10) has passed
  x1      signed 06-25 (after as_of: does not exist)
"""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from workbook import kpis, metrics
from workbook.cli import main
from workbook.errors import BadInput
from workbook.workspace import open_data

FIXTURE = Path(__file__).parent / "fixtures" / "kpi_world"
AS_OF = "2026-06-20"
OPTIONAL = ["surveys", "readiness", "time_entries", "advocacy"]


@pytest.fixture(scope="module")
def ws():
    w = open_data(FIXTURE)
    yield w
    w.close()


@pytest.fixture(scope="module")
def week(ws):
    return kpis.compute(ws, as_of=AS_OF, period="week")


@pytest.fixture(scope="module")
def month(ws):
    return kpis.compute(ws, as_of=AS_OF, period="month")


def approx(x):
    return pytest.approx(x, rel=1e-12, abs=1e-12)


# ------------------------------------------------------------------------------------------------
# time_to_value_days: accounts whose first_value falls in P, mean(first_value - signed_at)
#   t1 signed 03-31, first_value 06-14 (W's FIRST day; a repeat on 06-16 is ignored) -> 75 days
#   t2 signed 03-20, first_value 06-20 (W's LAST day)                               -> 92
#   t3 signed 03-15, first_value 06-13 (one day before W: PW)                       -> 90
#   t6 signed 03-01, first_value 06-07 (PW's first day)                             -> 98
#   t7 signed 03-28, first_value 06-02 (M only)                                     -> 66
#   t5 signed 02-01, first_value 05-31 (PM's last day)                              -> 119
#   t4 first_value 06-21: after as_of, does not exist
# W = (75 + 92) / 2 = 83.5     PW = (90 + 98) / 2 = 94
# M = (75 + 92 + 90 + 98 + 66) / 5 = 421 / 5 = 84.2     PM = 119
def test_time_to_value(week, month):
    assert week["kpis"]["time_to_value_days"] == {"value": 83.5, "n": 2, "previous": 94.0, "target": 30.0,
                                                  "better": "lower"}
    k = month["kpis"]["time_to_value_days"]
    assert (k["value"], k["n"], k["previous"]) == (approx(84.2), 5, 119.0)


# onboarding_completion_rate: accounts whose due date falls in P; share completing on or before it
#   c1 SMB signed 05-01 -> due 06-15 (45 days); complete 06-15: ON the due date, counts     W  1
#   c2 explicit due 06-19; complete 06-20: one day late                                     W  0
#   c4 segment "Startup" is not in the map -> default 60: signed 04-18 -> due 06-17;
#      complete 06-16                                                                        W  1
#      (SMB's 45 would put the due date on 06-02, Enterprise's 90 on 07-17)
#   c8 SMB signed 05-06 -> due 06-20; complete 06-21 is after as_of: not (yet) complete      W  0
#   c3 Mid-Market signed 03-17 (window due 05-16) but explicit onboarding_due_at 06-10
#      overrides it; complete 06-08                                                          PW 1
#   c5 Enterprise signed 03-10 -> due 06-08; never completes                                 PW 0
#   c9 explicit due 06-12; complete 06-12                                                    PW 1
#   c6 SMB signed 03-25 -> due 05-09; complete 05-01                                         PM 1
#   c7 Mid-Market signed 03-20 -> due 05-19; complete 06-01 (late)                           PM 0
# W = 2/4   PW = 2/3   M = W + PW = 4/7   PM = 1/2
def test_onboarding_completion(week, month):
    k = week["kpis"]["onboarding_completion_rate"]
    assert (k["value"], k["n"], k["previous"], k["target"], k["better"]) == (0.5, 4, approx(2 / 3), 0.85, "higher")
    k = month["kpis"]["onboarding_completion_rate"]
    assert (k["value"], k["n"], k["previous"]) == (approx(4 / 7), 7, 0.5)


# adoption_rate: accounts whose onboarding_complete falls in P; mean of
# min(1, modules with actions > 0 in the 28 days ending on the completion day / contracted)
#   c1 complete 06-15, 3 contracted: window 05-19..06-15. A on 06-15, B on 05-19 (the 28th day:
#      inside), C on 05-18 (29 days back: outside) -> 2/3                               W
#   c2 complete 06-20, 2 contracted: A on 06-01 has actions 0 (not use), B on 06-02 -> 1/2 W
#   c4 complete 06-16, 1 contracted: A and B used -> 2/1 capped at 1                     W
#   c3 complete 06-08, 4 contracted: A, B, C -> 3/4                                      PW
#   c9 complete 06-12, no usage -> 0                                                     PW
#   c7 complete 06-01, 5 contracted: A -> 1/5                                            M
#   c6 complete 05-01, 2 contracted: A (04-30), B (05-01) -> 1                           PM
#   (h1..h5 completed 04-20, r* in Feb/March: outside every period; c8's 06-21 is after as_of)
# W = (2/3 + 1/2 + 1) / 3 = 13/18     PW = (3/4 + 0) / 2 = 3/8
# M = (2/3 + 1/2 + 1 + 3/4 + 0 + 1/5) / 6 = (187/60) / 6 = 187/360     PM = 1
def test_adoption_rate(week, month):
    k = week["kpis"]["adoption_rate"]
    assert (k["value"], k["n"], k["previous"]) == (approx(13 / 18), 3, approx(3 / 8))
    k = month["kpis"]["adoption_rate"]
    assert (k["value"], k["n"], k["previous"]) == (approx(187 / 360), 6, 1.0)


# activation_rate: accounts with signed_at + 30 in P; share with activation on or before that day
#   v1 signed 05-15 -> 06-14 (W first day); activation 06-14                 W  1
#   v2 signed 05-21 -> 06-20 (W last day); activation 06-21, after as_of      W  0
#   v5 signed 05-16 -> 06-15; activation 06-15                               W  1
#   v3 signed 05-10 -> 06-09; activation 06-10 (one day late)                 PW 0
#   v4 signed 05-12 -> 06-11; activation 06-01                               PW 1
#   c8 signed 05-06 -> 06-05; activation 06-05                               M  1
#   v7 signed 05-03 -> 06-02; never                                          M  0
#   c1 signed 05-01 -> 05-31; activation 05-20                               PM 1
#   c4 signed 04-18 -> 05-18; never                                          PM 0
#   v6 signed 04-05 -> 05-05; activation 05-06                               PM 0
# W = 2/3   PW = 1/2   M = (2 + 1 + 1) / 7 = 4/7   PM = 1/3
def test_activation_rate(week, month):
    k = week["kpis"]["activation_rate"]
    assert (k["value"], k["n"], k["previous"]) == (approx(2 / 3), 3, 0.5)
    k = month["kpis"]["activation_rate"]
    assert (k["value"], k["n"], k["previous"]) == (approx(4 / 7), 7, approx(1 / 3))


# onboarding_nps: onboarding_nps answers in P, 100 x (share 9-10 - share 0-6)
#   W : 10 (06-14, first day), 6 (06-20, last day), 8            -> 100 x (1/3 - 1/3) = 0 (a real 0)
#   PW: 9 (06-13, one day before W), 3 (06-10), 10 (06-08)       -> 100 x (2/3 - 1/3) = 33.33
#   M : W + PW + 7 (06-03)   -> 3 promoters, 2 detractors of 7   -> 100/7 = 14.29
#   PM: 9 (05-15)                                                -> 100
#   (a 0 on 06-21 is after as_of; relationship `nps` answers are a different KPI)
def test_onboarding_nps(week, month):
    k = week["kpis"]["onboarding_nps"]
    assert (k["value"], k["n"], k["previous"], k["target"]) == (0.0, 3, approx(100 / 3), 40.0)
    k = month["kpis"]["onboarding_nps"]
    assert (k["value"], k["n"], k["previous"]) == (approx(100 / 7), 7, 100.0)


# readiness_at_handover: accounts whose handover falls in P; mean of
# 100 x weight of items completed on or before handover / weight of all the account's items
#   h1 handover 06-14: w2 done 06-10, w1 done 06-14 (on the day), w1 done 06-15 (after) -> 100 x 3/4 = 75
#   h2 handover 06-20: w(blank = 1) done 06-01, w1 never                              -> 50
#   h3 handover 06-18: no items at all -> left out of the mean, counted
#   h4 handover 06-12 (PW): w1, w1 done 06-01, w3 done 06-30 (after handover AND as_of) -> 100 x 2/5 = 40
#   h5 handover 05-20 (PM): w1 05-10, w2 05-19                                        -> 100
# W = (75 + 50) / 2 = 62.5, n 2, 1 left out    PW = 40    M = (75 + 50 + 40) / 3 = 55    PM = 100
def test_readiness_at_handover(ws, week, month):
    k = week["kpis"]["readiness_at_handover"]
    assert (k["value"], k["n"], k["previous"], k["target"]) == (62.5, 2, 40.0, 80.0)
    k = month["kpis"]["readiness_at_handover"]
    assert (k["value"], k["n"], k["previous"]) == (55.0, 3, 100.0)
    assert week["metrics"]["left_out"]["readiness_at_handover"]["current"] == 1
    assert week["metrics"]["left_out"]["readiness_at_handover"]["previous"] == 0
    table = kpis.kpi_table(ws, as_of=AS_OF).set_index("key")
    assert table.loc["readiness_at_handover", "left_out"] == 1


# first_90_day_retention: accounts with handover + 90 days in P; share not churned by that day
# AND with actions > 0 on some day of the 28 days ending on it
#   r1 handover 03-16 -> 06-14; usage 05-18 (the 28th day back)                          W  1
#   r2 handover 03-22 -> 06-20; churned 07-01 (after as_of: not churned yet); usage 06-20   W  1
#   r3 handover 03-20 -> 06-18; usage 05-21 (29 days back: outside), 06-10 actions 0       W  0
#   r4 handover 03-19 -> 06-17; churned 06-17 (churned BY that day), usage 06-15           W  0
#   r5 handover 03-10 -> 06-08; churned 06-09 (later than the day), usage 06-01            PW 1
#   r6 handover 02-05 -> 05-06; usage 05-01                                               PM 1
#   r7 handover 02-10 -> 05-11; no usage                                                  PM 0
# W = 2/4   PW = 1/1   M = 3/5   PM = 1/2
def test_first_90_day_retention(week, month):
    k = week["kpis"]["first_90_day_retention"]
    assert (k["value"], k["n"], k["previous"]) == (0.5, 4, 1.0)
    k = month["kpis"]["first_90_day_retention"]
    assert (k["value"], k["n"], k["previous"]) == (0.6, 5, 0.5)


def test_header_and_targets(week, month):
    assert (week["as_of"], week["period"], week["start"], week["end"]) == (AS_OF, "week", "2026-06-14", AS_OF)
    assert (month["period"], month["start"], month["end"]) == ("month", "2026-06-01", AS_OF)
    assert list(week["kpis"]) == ["time_to_value_days", "onboarding_completion_rate", "adoption_rate",
                                  "activation_rate", "onboarding_nps", "readiness_at_handover",
                                  "first_90_day_retention"]
    for k in week["kpis"].values():
        assert set(k) == {"value", "n", "previous", "target", "better"}


# ------------------------------------------------------------------------------------------------
# Supporting metrics, same periods.
#   nps : W 10, 8 -> 100 x (1/2 - 0) = 50; PW 9 -> 100; M 10, 8, 9 -> 66.67; PM 2 -> -100
#   csat: W 5, 3 -> 1/2; PW 4 -> 1; M 5, 3, 4 -> 2/3; PM 4, 1 -> 1/2
#   ces : W 7, 4 -> 5.5; PW 2; M (7 + 4 + 2) / 3 = 13/3; PM 6
#   utilization: W customer 6 + 4 of 6 + 2 + 4 = 12 hours -> 10/12; PW 5 of 10 -> .5;
#         M (10 + 5) / (12 + 10) = 15/22; PM 8 of 10 -> .8 (06-21's 10 hours are after as_of)
#   advocacy: W 06-14, 06-20 -> 2; PW 06-13 -> 1; M + 06-02 -> 4; PM 05-15 -> 1
#   open onboardings past due on the period's last day:
#     06-20: c5 (due 06-08, never completed) and p2 (due 04-30, churns 06-25: after as_of,
#            still open) -> 2; p1 churned 06-16 (gone); c8 due 06-20 itself is not late yet.
#            Open that day: t1-t7, v1-v7, c5, c8, p2 = 17
#     06-13: c5, p1, p2 -> 3          05-31: c7 (due 05-19, completed 06-01), p1, p2 -> 3
def test_supporting_metrics(week, month):
    w, m = week["metrics"], month["metrics"]
    assert (w["nps"]["value"], w["nps"]["n"], w["nps"]["previous"]) == (50.0, 2, 100.0)
    assert (m["nps"]["value"], m["nps"]["previous"]) == (approx(200 / 3), -100.0)
    assert (w["csat"]["value"], w["csat"]["previous"], m["csat"]["value"], m["csat"]["previous"]) == (
        0.5, 1.0, approx(2 / 3), 0.5)
    assert (w["ces"]["value"], w["ces"]["previous"], m["ces"]["value"], m["ces"]["previous"]) == (
        5.5, 2.0, approx(13 / 3), 6.0)
    assert (w["utilization"]["value"], w["utilization"]["previous"]) == (approx(10 / 12), 0.5)
    assert (m["utilization"]["value"], m["utilization"]["previous"]) == (approx(15 / 22), approx(0.8))
    assert (w["advocacy_events"]["value"], w["advocacy_events"]["previous"]) == (2, 1)
    assert (m["advocacy_events"]["value"], m["advocacy_events"]["previous"]) == (4, 1)
    assert w["open_onboardings_past_due"] == {"value": 2, "n": 17, "previous": 3, "target": 0.0, "better": "lower"}
    assert m["open_onboardings_past_due"]["previous"] == 3
    # ttv by segment, month: SMB 66, 75, 92 -> mean 77.67, median 75, p75 = 75 + .5 x 17 = 83.5;
    # Mid-Market 90 (t3); Enterprise 98 (t6)
    seg = m["time_to_value_by_segment"]
    assert seg["SMB"] == {"n": 3, "mean": approx(233 / 3), "median": 75.0, "p75": 83.5, "target": 21.0}
    assert (seg["Mid-Market"]["mean"], seg["Enterprise"]["p75"]) == (90.0, 98.0)
    # the adoption summary covers the 35 accounts live on 06-20: 39 less x1 (signed later) and
    # r4, r5, p1 (churned by then)
    assert m["adoption"]["accounts"] == 35
    assert sum(m["adoption"]["breadth"].values()) == 35


def test_past_due_list(ws):
    late = metrics.past_due(ws, as_of=AS_OF)
    assert late[["account_id", "days_overdue"]].values.tolist() == [["p2", 51], ["c5", 12]]


# ------------------------------------------------------------------------------------------------
def test_kpi_table_change_gap_status(ws):
    t = kpis.kpi_table(ws, as_of=AS_OF, period="week").set_index("key")
    # time to value 83.5 vs 94 the week before: change -10.5; target 30 (lower is better): off target
    assert t.loc["time_to_value_days", ["change", "gap_to_target", "status"]].tolist() == [-10.5, 53.5, "off target"]
    # adoption 13/18 = .7222 >= target .70 (higher is better): on target
    assert t.loc["adoption_rate", "status"] == "on target"
    assert t.loc["adoption_rate", "gap_to_target"] == approx(13 / 18 - 0.70)
    assert t.loc["onboarding_completion_rate", "change"] == approx(0.5 - 2 / 3)
    assert list(t.columns[:4]) == ["kpi", "unit", "value", "n"]


def test_status_respects_better():
    assert kpis.status(25.0, 30.0, "lower") == "on target"
    assert kpis.status(30.0, 30.0, "lower") == "on target"
    assert kpis.status(31.0, 30.0, "lower") == "off target"
    assert kpis.status(0.85, 0.85, "higher") == "on target"
    assert kpis.status(None, 0.85, "higher") == "no data"
    assert kpis.status(3, None, "higher") == "no target"


def test_trend_is_the_same_as_period_values(ws):
    # weekly activation: PW 1/2, W 2/3; monthly: April (act days of the t*/c* accounts signed in
    # March: c2, c3, c5, c6, c7, c9, t2, t3, t4, t6, t7 ... none activated) 0, May 1/3, June 4/7
    t = kpis.trend(ws, "activation_rate", periods=2, freq="week", as_of=AS_OF)
    assert t["value"].tolist() == [0.5, approx(2 / 3)]
    assert t["period_start"].tolist() == [pd.Timestamp("2026-06-07"), pd.Timestamp("2026-06-14")]
    t = kpis.trend(ws, "activation_rate", periods=3, freq="month", as_of=AS_OF)
    assert t["value"].tolist()[1:] == [approx(1 / 3), approx(4 / 7)]
    assert t["value"].iloc[0] == 0.0
    # past-due snapshot trend: 06-13 -> 3, 06-20 -> 2
    assert kpis.trend(ws, "open_onboardings_past_due", periods=2, as_of=AS_OF)["value"].tolist() == [3, 2]


def test_trend_matches_compute_for_every_kpi(ws, week):
    # independent route: compute() for the week of each as_of vs one trend pass
    for key in kpis.KPIS:
        t = kpis.trend(ws, key, periods=2, freq="week", as_of=AS_OF)
        assert t["value"].iloc[-1] == week["kpis"][key]["value"]
        assert t["value"].iloc[0] == week["kpis"][key]["previous"]


def test_trend_uses_one_usage_query(ws):
    calls = []

    class Counting:
        name = "counting"

        def __init__(self, inner):
            self.inner = inner

        def run(self, q, frames=None, **p):
            calls.append(q)
            return self.inner.run(q, frames=frames, **p)

    from workbook.engines import get_engine
    kpis.trend(ws, "first_90_day_retention", periods=8, freq="week", as_of=AS_OF, engine=Counting(get_engine(ws)))
    assert len(calls) == 1
    calls.clear()
    kpis.kpi_table(ws, as_of=AS_OF, engine=Counting(get_engine(ws)))   # adoption + retention together
    assert len(calls) == 1
    calls.clear()
    # the whole report: KPI windows and every account's adoption window in one pass over usage
    assert kpis.compute(ws, as_of=AS_OF, engine=Counting(get_engine(ws)))["metrics"]["adoption"]["accounts"] == 35
    assert calls == ["window_stats_mixed"]


def test_ttv_rolling_90_days(ws):
    # 90 days ending 06-20 = 03-23 .. 06-20: t1 75, t2 92, t3 90, t5 119, t6 98, t7 66 -> 540/6 = 90
    # ending 06-13 (03-16 .. 06-13): t3 90, t5 119, t6 98, t7 66 -> 373/4 = 93.25
    r = kpis.ttv_rolling(ws, as_of=AS_OF, days=90, points=2)
    assert r["date"].tolist() == [pd.Timestamp("2026-06-13"), pd.Timestamp(AS_OF)]
    assert r["value"].tolist() == [93.25, 90.0] and r["n"].tolist() == [4, 6]
    # 10-day windows ending 05-20, 05-27 (nothing: None, not 0 and not NaN), 06-03 (05-25..06-03:
    # t5 119, t7 66 -> 92.5) and 06-10 (06-01..06-10: t7 66, t6 98 -> 82)
    r = kpis.ttv_rolling(ws, as_of="2026-06-10", days=10, points=4, step_days=7)
    assert r["value"].tolist() == [None, None, 92.5, 82.0]


def test_by_segment_and_csm(ws):
    s = kpis.by_segment(ws, as_of=AS_OF, period="month").set_index(["key", "segment"])
    # completion in June by segment: SMB c1 1, c2 0, c8 0 -> 1/3; Startup c4 1; Mid-Market c3 1, c9 1;
    # Enterprise c5 0. May: SMB c6 1 -> 1; Mid-Market c7 0 -> 0
    assert s.loc[("onboarding_completion_rate", "SMB"), "value"] == approx(1 / 3)
    assert s.loc[("onboarding_completion_rate", "SMB"), "previous"] == 1.0
    assert s.loc[("onboarding_completion_rate", "Startup"), ["value", "n"]].tolist() == [1.0, 1]
    assert s.loc[("onboarding_completion_rate", "Startup"), "previous"] is None
    assert s.loc[("onboarding_completion_rate", "Enterprise"), "value"] == 0.0
    # cohort sizes add up to the whole
    assert s.xs("onboarding_completion_rate")["n"].sum() == 7
    c = kpis.by_csm(ws, as_of=AS_OF, period="week", keys=["time_to_value_days", "utilization"]).set_index(["key", "csm"])
    # W: t1 (ana) 75, t2 (ben) 92; utilization ana 6 of 8, ben 4 of 4
    assert c.loc[("time_to_value_days", "ana"), "value"] == 75.0
    assert c.loc[("utilization", "ana"), "value"] == 0.75 and c.loc[("utilization", "ben"), "value"] == 1.0


def test_point_in_time_previous_as_of(ws):
    # computed on 06-13, the week 06-07..06-13 has the same values as "previous" on 06-20
    early = kpis.compute(ws, as_of="2026-06-13")["kpis"]
    late = kpis.compute(ws, as_of=AS_OF)["kpis"]
    for key in kpis.KPIS:
        assert early[key]["value"] == late[key]["previous"], key


def test_default_as_of_is_latest_usage_date(ws):
    assert kpis.compute(ws)["as_of"] == "2026-06-25"


def test_unknown_key_and_bad_period_are_bad_input(ws):
    with pytest.raises(BadInput, match="unknown KPI"):
        kpis.trend(ws, "happiness")
    with pytest.raises(BadInput, match="week or month"):
        kpis.compute(ws, as_of=AS_OF, period="fortnight")


# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    """The fixture without any optional table."""
    d = tmp_path_factory.mktemp("bare")
    for name in ("accounts", "milestones", "usage"):
        shutil.copy(FIXTURE / f"{name}.csv", d / f"{name}.csv")
    w = open_data(d)
    yield w
    w.close()


def test_optional_tables_absent_give_no_data(bare):
    out = kpis.compute(bare, as_of=AS_OF)
    for key in ("onboarding_nps", "readiness_at_handover"):
        assert out["kpis"][key]["value"] is None and out["kpis"][key]["previous"] is None
        assert out["kpis"][key]["n"] == 0
    for key in ("nps", "csat", "ces", "utilization", "advocacy_events"):
        assert out["metrics"][key]["value"] is None, key        # "no data", never 0
    # KPIs from the required tables are unchanged
    assert out["kpis"]["time_to_value_days"]["value"] == 83.5
    t = kpis.kpi_table(bare, as_of=AS_OF).set_index("key")
    assert t.loc["onboarding_nps", "status"] == "no data"
    assert metrics.metrics_table(bare, as_of=AS_OF).set_index("key").loc["advocacy_events", "status"] == "no data"


def test_empty_cohort_is_none_never_zero_or_nan(ws):
    # the week ending 2026-01-31: nothing happens in the fixture then
    out = kpis.compute(ws, as_of="2026-01-31")
    for key, k in out["kpis"].items():
        assert k["value"] is None and k["n"] == 0, key
    assert out["metrics"]["advocacy_events"]["value"] == 0      # a count over a present table: real 0
    text = json.dumps(out)
    assert "NaN" not in text


# ------------------------------------------------------------------------------------------------
def run_cli(capsys, *args):
    code = main(["kpis", "--data", str(FIXTURE), *args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_cli_json_shape(capsys):
    code, out, _ = run_cli(capsys, "--as-of", AS_OF, "--period", "month", "--format", "json", "--engine", "duckdb")
    assert code == 0
    doc = json.loads(out)
    assert list(doc) == ["as_of", "period", "start", "end", "kpis", "metrics", "revenue"]
    # the fixture has no contracts table: every revenue KPI is there, with a null value
    assert all(v["value"] is None for v in doc["revenue"].values())
    assert (doc["as_of"], doc["period"], doc["start"], doc["end"]) == (AS_OF, "month", "2026-06-01", AS_OF)
    assert set(doc["kpis"]) == set(kpis.KPIS)
    for k in doc["kpis"].values():
        assert list(k) == ["value", "n", "previous", "target", "better"]
    assert doc["kpis"]["onboarding_completion_rate"]["value"] == approx(4 / 7)
    assert doc["kpis"]["time_to_value_days"]["previous"] == 119.0
    assert doc["metrics"]["csat"]["value"] == approx(2 / 3)
    assert "NaN" not in out


def test_cli_json_nulls_without_optional_tables(capsys, bare, tmp_path):
    code = main(["kpis", "--data", str(bare.source), "--as-of", AS_OF, "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert doc["kpis"]["onboarding_nps"]["value"] is None
    assert doc["metrics"]["advocacy_events"]["value"] is None


def test_cli_table_and_csv(capsys):
    code, out, _ = run_cli(capsys, "--as-of", AS_OF)
    assert code == 0
    assert "Time to value" in out and "83.5 days" in out and "-10.5 days" in out
    assert "50.0%" in out and "off target" in out and "Supporting metrics" in out
    code, out, _ = run_cli(capsys, "--as-of", AS_OF, "--format", "csv")
    assert code == 0
    import io
    df = pd.read_csv(io.StringIO(out))
    assert len(df) == len(kpis.KPIS) + len(kpis.METRICS)
    assert df.set_index("key").loc["adoption_rate", "value"] == approx(13 / 18)


def test_cli_bad_input_exits_2(capsys, tmp_path):
    code = main(["kpis", "--data", str(tmp_path / "nowhere"), "--format", "json"])
    assert code == 2
    assert "does not exist" in capsys.readouterr().err


def test_no_nan_anywhere_in_tables(ws):
    t = pd.concat([kpis.kpi_table(ws, as_of="2026-01-31"), metrics.metrics_table(ws, as_of="2026-01-31")])
    for col in ("value", "previous", "change", "gap_to_target"):
        assert all(v is None or not math.isnan(v) for v in t[col]), col


# ------------------------------------------------------------------------------------------------
# Property tests (hypothesis): ranges hold on any world, and facts dated after as_of change nothing.
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

BASE = pd.Timestamp("2026-01-01")
RATES = ("onboarding_completion_rate", "adoption_rate", "activation_rate", "first_90_day_retention")
MILESTONE_KINDS = ("activation", "first_value", "onboarding_complete", "handover")


def _day(offset: int) -> str:
    return (BASE + pd.Timedelta(days=int(offset))).strftime("%Y-%m-%d")


def _write(folder: Path, tables: dict[str, pd.DataFrame]) -> None:
    for name, df in tables.items():
        df.to_csv(folder / f"{name}.csv", index=False)


@st.composite
def worlds(draw):
    n = draw(st.integers(1, 6))
    accounts, milestones, usage, surveys, readiness = [], [], [], [], []
    for i in range(n):
        signed = draw(st.integers(0, 120))
        churn = draw(st.one_of(st.none(), st.integers(signed, 200)))
        due = draw(st.one_of(st.none(), st.integers(signed, 200)))
        accounts.append({"account_id": f"a{i}", "name": f"A{i}", "csm": "cs",
                         "segment": draw(st.sampled_from(["SMB", "Mid-Market", "Enterprise", "Other"])),
                         "arr": 1000, "contracted_modules": draw(st.integers(1, 4)), "signed_at": _day(signed),
                         "churned_at": "" if churn is None else _day(churn),
                         "onboarding_due_at": "" if due is None else _day(due)})
        for kind in MILESTONE_KINDS:
            gap = draw(st.one_of(st.none(), st.integers(0, 150)))
            if gap is not None:
                milestones.append({"account_id": f"a{i}", "milestone": kind, "reached_at": _day(signed + gap)})
        for item in range(draw(st.integers(0, 3))):
            done = draw(st.one_of(st.none(), st.integers(signed, 250)))
            readiness.append({"account_id": f"a{i}", "item": f"item{item}",
                              "completed_at": "" if done is None else _day(done),
                              "weight": draw(st.sampled_from(["", "0.5", "1", "3"]))})
    cells = draw(st.sets(st.tuples(st.integers(0, n - 1), st.integers(0, 220), st.sampled_from("ABCDE")), max_size=40))
    for acc, day, module in cells:
        usage.append({"account_id": f"a{acc}", "date": _day(day), "module": module,
                      "active_users": draw(st.integers(0, 5)), "actions": draw(st.integers(0, 20))})
    if not usage:
        usage.append({"account_id": "a0", "date": _day(10), "module": "A", "active_users": 1, "actions": 1})
    scale = {"nps": (0, 10), "onboarding_nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
    for j in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(sorted(scale)))
        surveys.append({"response_id": f"s{j}", "account_id": f"a{draw(st.integers(0, n - 1))}", "kind": kind,
                        "score": draw(st.integers(*scale[kind])), "responded_at": _day(draw(st.integers(0, 220)))})
    tables = {"accounts": pd.DataFrame(accounts), "usage": pd.DataFrame(usage),
              "milestones": pd.DataFrame(milestones, columns=["account_id", "milestone", "reached_at"]),
              "surveys": pd.DataFrame(surveys, columns=["response_id", "account_id", "kind", "score", "responded_at"]),
              "readiness": pd.DataFrame(readiness, columns=["account_id", "item", "completed_at", "weight"])}
    return tables, _day(draw(st.integers(20, 230))), draw(st.sampled_from(["week", "month"]))


def _finite_or_none(v):
    return v is None or (isinstance(v, (int, float)) and math.isfinite(v))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_property_values_stay_in_range(tmp_path_factory, world):
    tables, as_of, period = world
    folder = tmp_path_factory.mktemp("prop")
    _write(folder, tables)
    with open_data(folder) as w:
        out = kpis.compute(w, as_of=as_of, period=period)
    k, m = out["kpis"], out["metrics"]
    for key, v in {**k, **{x: m[x] for x in kpis.METRICS}}.items():
        assert _finite_or_none(v["value"]) and _finite_or_none(v["previous"]), key
        assert (v["value"] is None) == (v["n"] == 0) or kpis.MEASURES[key].agg in ("count", "snapshot"), key
    for key in RATES + ("csat",):
        for v in ((k.get(key) or m.get(key))["value"], (k.get(key) or m.get(key))["previous"]):
            assert v is None or 0.0 <= v <= 1.0, key
    for v in (k["onboarding_nps"]["value"], k["onboarding_nps"]["previous"], m["nps"]["value"], m["nps"]["previous"]):
        assert v is None or -100.0 <= v <= 100.0
    for v in (k["readiness_at_handover"]["value"], k["readiness_at_handover"]["previous"]):
        assert v is None or 0.0 <= v <= 100.0
    assert k["time_to_value_days"]["value"] is None or k["time_to_value_days"]["value"] >= 0
    assert m["ces"]["value"] is None or 1.0 <= m["ces"]["value"] <= 7.0


def _fixture_tables() -> dict[str, pd.DataFrame]:
    return {p.stem: pd.read_csv(p, dtype=str, keep_default_na=False) for p in FIXTURE.glob("*.csv")}


@st.composite
def future_facts(draw):
    """Rows dated after 2026-06-20 (offsets 171..260 from 2026-01-01), for the fixture's accounts."""
    after = st.integers(171, 260)
    ids = _fixture_tables()["accounts"]["account_id"].tolist()
    acc = st.sampled_from(ids)
    return {
        "milestones": [{"account_id": draw(acc), "milestone": draw(st.sampled_from(MILESTONE_KINDS)),
                        "reached_at": _day(draw(after))} for _ in range(draw(st.integers(0, 6)))],
        "usage": [{"account_id": a, "date": _day(d), "module": "F", "active_users": 3, "actions": 9}
                  for a, d in draw(st.sets(st.tuples(acc, after), max_size=8))],
        "surveys": [{"response_id": f"late{j}", "account_id": draw(acc), "kind": kind,
                     "score": draw(st.integers(1, 5)), "responded_at": _day(draw(after))}
                    for j, kind in enumerate(draw(st.lists(st.sampled_from(["nps", "onboarding_nps", "csat", "ces"]),
                                                           max_size=6)))],
        "time_entries": [{"csm": "ana", "date": _day(draw(after)), "hours": 3, "customer_work": "true"}
                         for _ in range(draw(st.integers(0, 3)))],
        "advocacy": [{"account_id": draw(acc), "date": _day(draw(after)), "kind": "referral"}
                     for _ in range(draw(st.integers(0, 3)))],
        "churn": draw(st.lists(acc, max_size=5, unique=True)),
        "churn_day": _day(draw(after)),
        "finish_readiness": draw(st.booleans()),
        "new_account": draw(st.booleans()),
    }


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(future_facts())
def test_property_facts_after_as_of_change_nothing(tmp_path_factory, week, month, extra):
    tables = _fixture_tables()
    for name in ("milestones", "usage", "surveys", "time_entries", "advocacy"):
        if extra[name]:
            tables[name] = pd.concat([tables[name], pd.DataFrame(extra[name]).astype(str)], ignore_index=True)
    acc = tables["accounts"]
    churn = acc["account_id"].isin(extra["churn"]) & (acc["churned_at"] == "")
    acc.loc[churn, "churned_at"] = extra["churn_day"]
    if extra["finish_readiness"]:
        r = tables["readiness"]
        r.loc[r["completed_at"] == "", "completed_at"] = "2026-06-21"
    if extra["new_account"]:
        tables["accounts"] = pd.concat([acc, pd.DataFrame([{"account_id": "z1", "name": "Zebra", "segment": "SMB",
                                                             "csm": "ana", "arr": "1", "contracted_modules": "1",
                                                             "signed_at": "2026-06-21"}])], ignore_index=True).fillna("")
        tables["milestones"] = pd.concat([tables["milestones"], pd.DataFrame([
            {"account_id": "z1", "milestone": "first_value", "reached_at": "2026-06-22"}])], ignore_index=True)
    folder = tmp_path_factory.mktemp("future")
    _write(folder, tables)
    with open_data(folder) as w:
        assert kpis.compute(w, as_of=AS_OF, period="week") == week
        assert kpis.compute(w, as_of=AS_OF, period="month") == month


# ------------------------------------------------------------------------------------------------
# The 150-account sample world, against an independent route: plain SQL over the typed tables.
def _sql_value(ws, sql: str):
    return ws.sql(sql).iloc[0, 0]


def test_sample_world_matches_plain_sql(sample_ws):
    as_of = sample_ws.default_as_of()
    out = kpis.compute(sample_ws, as_of=as_of, period="month")
    start = as_of.replace(day=1)
    d = lambda t: f"DATE '{t:%Y-%m-%d}'"   # noqa: E731
    lo, hi = d(start), d(as_of)
    ms = (f"(SELECT account_id, milestone, min(reached_at) AS at FROM milestones "
          f"WHERE reached_at <= {hi} GROUP BY ALL)")
    ttv = _sql_value(sample_ws, f"""
        SELECT avg(m.at - a.signed_at) FROM {ms} m JOIN accounts a USING (account_id)
        WHERE m.milestone = 'first_value' AND m.at BETWEEN {lo} AND {hi}""")
    assert out["kpis"]["time_to_value_days"]["value"] == pytest.approx(float(ttv))
    completion = _sql_value(sample_ws, f"""
        WITH a AS (SELECT account_id, coalesce(onboarding_due_at, signed_at + CAST(CASE segment
                     WHEN 'SMB' THEN 45 WHEN 'Mid-Market' THEN 60 WHEN 'Enterprise' THEN 90 ELSE 60 END
                     AS INTEGER)) AS due FROM accounts WHERE signed_at <= {hi})
        SELECT avg(CASE WHEN m.at <= a.due THEN 1.0 ELSE 0.0 END) FROM a
        LEFT JOIN (SELECT * FROM {ms} WHERE milestone = 'onboarding_complete') m USING (account_id)
        WHERE a.due BETWEEN {lo} AND {hi}""")
    assert out["kpis"]["onboarding_completion_rate"]["value"] == pytest.approx(float(completion))
    adoption = _sql_value(sample_ws, f"""
        WITH c AS (SELECT a.account_id, a.contracted_modules, m.at FROM {ms} m JOIN accounts a USING (account_id)
                   WHERE m.milestone = 'onboarding_complete' AND m.at BETWEEN {lo} AND {hi}),
        used AS (SELECT c.account_id, count(DISTINCT u.module) AS k FROM c JOIN usage u
                   ON u.account_id = c.account_id AND u.date BETWEEN c.at - 27 AND c.at AND u.actions > 0
                 GROUP BY c.account_id)
        SELECT avg(least(1.0, coalesce(used.k, 0) / c.contracted_modules)) FROM c LEFT JOIN used USING (account_id)""")
    assert out["kpis"]["adoption_rate"]["value"] == pytest.approx(float(adoption))
    nps = _sql_value(sample_ws, f"""
        SELECT 100.0 * avg(CASE WHEN score >= 9 THEN 1 WHEN score <= 6 THEN -1 ELSE 0 END) FROM surveys
        WHERE kind = 'onboarding_nps' AND responded_at BETWEEN {lo} AND {hi}""")
    assert out["kpis"]["onboarding_nps"]["value"] == pytest.approx(float(nps))
    for key, k in out["kpis"].items():
        assert k["value"] is not None and k["n"] > 0, key      # the sample world fills every cohort


def test_sample_world_trend_equals_separate_reports(sample_ws):
    as_of = sample_ws.default_as_of()
    months = {key: kpis.trend(sample_ws, key, periods=3, freq="month", as_of=as_of) for key in kpis.KPIS}
    for back in range(3):
        end = months["adoption_rate"]["period_end"].iloc[back]
        report = kpis.compute(sample_ws, as_of=end, period="month")["kpis"]
        for key in kpis.KPIS:
            assert months[key]["value"].iloc[back] == pytest.approx(report[key]["value"]), (key, end)


def test_rolling_any_kpi_by_its_own_definition(ws):
    # 7-day windows ending 06-13 and 06-20 are the weeks PW and W (hand-worked above):
    #   time to value  PW 94 (t3, t6)     W 83.5 (t1, t2)
    #   onboarding NPS PW 33.33 (3)       W 0, a real 0 (3)
    #   readiness      PW 40 (h4)         W 62.5 (h1, h2; h3 without items is left out)
    r = kpis.rolling(ws, ["time_to_value_days", "onboarding_nps", "readiness_at_handover"], as_of=AS_OF, days=7,
                     points=2, step_days=7)
    assert list(r) == ["time_to_value_days", "onboarding_nps", "readiness_at_handover"]
    assert r["time_to_value_days"]["date"].tolist() == [pd.Timestamp("2026-06-13"), pd.Timestamp(AS_OF)]
    assert r["time_to_value_days"]["value"].tolist() == [94.0, 83.5]
    assert r["time_to_value_days"]["n"].tolist() == [2, 2]
    assert r["onboarding_nps"]["value"].tolist() == [approx(100 / 3), 0.0]
    assert r["onboarding_nps"]["n"].tolist() == [3, 3]
    assert r["readiness_at_handover"]["value"].tolist() == [40.0, 62.5]
    assert r["readiness_at_handover"]["n"].tolist() == [1, 2]
    assert r["onboarding_nps"]["target"].tolist() == [40.0, 40.0]
    # ttv_rolling is the TTV column of the general form (with None for an empty window)
    pd.testing.assert_frame_equal(
        kpis.ttv_rolling(ws, as_of=AS_OF, days=90, points=2).astype({"value": float, "target": float}),
        kpis.rolling(ws, ["time_to_value_days"], as_of=AS_OF, days=90, points=2)["time_to_value_days"]
        .astype({"value": float, "target": float}))
    with pytest.raises(BadInput, match="at least 1"):
        kpis.rolling(ws, ["onboarding_nps"], as_of=AS_OF, days=0)
