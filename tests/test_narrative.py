"""The sentences reports print (workbook.narrative), checked word for word against numbers worked out by hand."""
from __future__ import annotations

import pandas as pd
import pytest

from workbook import narrative
from workbook.post_cycle import Cycle, CycleResult


def kpi(key, label, unit, value, target, better, previous=None):
    """One row shaped like workbook.kpis.kpi_table (status by the same rule: at or beyond target is on)."""
    if value is None:
        status = "no data"
    elif target is None:
        status = "no target"
    else:
        status = "on target" if (value >= target if better == "higher" else value <= target) else "off target"
    return {"key": key, "kpi": label, "unit": unit, "value": value, "target": target, "better": better,
            "previous": previous, "status": status}


def week_rows():
    # The weekly KPI table of the 1,500-account sample world on 2026-11-15.
    return [
        kpi("time_to_value_days", "Time to value", "days", 45.6, 30.0, "lower"),             # 15.6/30 = 0.52 behind
        kpi("onboarding_completion_rate", "Onboarding completion rate", "fraction", 0.727, 0.85, "higher"),  # 0.145
        kpi("adoption_rate", "Adoption rate", "fraction", 0.903, 0.70, "higher"),            # on target
        kpi("activation_rate", "Activation rate", "fraction", 0.619, 0.80, "higher"),        # 0.226
        kpi("onboarding_nps", "Onboarding NPS", "nps", 12.5, 40.0, "higher"),                # 27.5/40 = 0.6875
        kpi("readiness_at_handover", "Readiness at handover", "points", 77.7, 80.0, "higher"),  # 0.029
        kpi("first_90_day_retention", "First-90-day retention", "fraction", 1.0, 0.90, "higher"),  # on target
    ]


# ---------------------------------------------------------------------------- helpers
def test_value_and_amount_texts_use_each_unit():
    assert narrative.value_text(0.7273, "fraction") == "72.7%"
    assert narrative.value_text(45.6, "days") == "45.6 days"
    assert narrative.value_text(12.5, "nps") == "+12.5"
    assert narrative.value_text(-3, "nps") == "-3.0"
    assert narrative.value_text(77.74, "points") == "77.7"
    assert narrative.value_text(None, "days") == "no data"
    assert narrative.value_text(float("nan"), "fraction") == "no data"
    assert narrative.amount_text(-0.077, "fraction") == "7.7 percentage points"
    assert narrative.amount_text(-15.3, "nps") == "15.3 points"
    assert narrative.money_text(2_812_345) == "$2.8M"
    assert narrative.money_text(388200) == "$388,200"


def test_labels_inside_sentences_keep_acronyms():
    assert narrative.label_in_sentence("Time to value") == "time to value"
    assert narrative.label_in_sentence("Onboarding NPS") == "onboarding NPS"
    assert narrative.label_in_sentence("CSAT (share scoring 4-5)") == "CSAT (share scoring 4-5)"
    assert narrative.join_words(["a"]) == "a"
    assert narrative.join_words(["a", "b", "c"]) == "a, b and c"


def test_shortfall_is_a_share_of_the_target_in_the_better_direction():
    assert narrative.shortfall(45.6, 30, "lower") == pytest.approx(15.6 / 30)
    assert narrative.shortfall(0.5, 0.8, "higher") == pytest.approx(0.375)
    assert narrative.shortfall(0.9, 0.8, "higher") == 0.0          # ahead: no shortfall
    assert narrative.shortfall(3, 0, "lower") == 3.0               # target 0: the plain difference
    assert narrative.shortfall(None, 30, "lower") is None


def test_furthest_behind_compares_units_by_shortfall():
    worst = narrative.furthest_behind(week_rows())
    assert worst["key"] == "onboarding_nps"                        # 0.6875 beats time to value's 0.52
    assert narrative.furthest_behind([r for r in week_rows() if r["status"] == "on target"]) is None


# ---------------------------------------------------------------------------- weekly headline
def test_weekly_headline_names_ahead_behind_furthest_and_reds():
    text = narrative.weekly_headline(week_rows(), red=84, new_red=19)
    assert text == ("We are ahead on adoption rate and first-90-day retention and behind on the other five KPIs, "
                    "furthest on onboarding NPS (+12.5 against a target of +40.0); 84 accounts are red, "
                    "19 of them new this week.")
    assert text.count(".") == 3  # one sentence: the only full stops are the decimals and the end


def test_weekly_headline_all_on_target_and_no_reds():
    rows = [kpi("a", "Adoption rate", "fraction", 0.9, 0.7, "higher"),
            kpi("t", "Time to value", "days", 20.0, 30.0, "lower")]
    assert narrative.weekly_headline(rows, red=0) == \
        "We are on target on adoption rate and time to value; no account is red."


def test_weekly_headline_one_kpi_behind_and_no_data():
    rows = [kpi("t", "Time to value", "days", 40.0, 30.0, "lower"),
            kpi("n", "Onboarding NPS", "nps", None, 40.0, "higher")]
    assert narrative.weekly_headline(rows, red=1, new_red=1) == (
        "We are behind on time to value (40.0 days against a target of 30.0 days); no data this week for "
        "onboarding NPS; 1 account is red, new this week.")


def test_weekly_headline_when_every_kpi_is_behind_or_empty():
    rows = [kpi(f"k{i}", f"KPI {i}", "fraction", 0.1 * i, 0.9, "higher") for i in range(1, 5)]
    text = narrative.weekly_headline(rows, red=3)
    assert text == ("We are behind on all four KPIs, furthest on KPI 1 (10.0% against a target of 90.0%); "
                    "3 accounts are red, none new this week.")
    empty = [kpi("n", "Onboarding NPS", "nps", None, 40.0, "higher")]
    assert narrative.weekly_headline(empty, red=2, new_red=2) == (
        "No onboarding KPI had data this week; 2 accounts are red, 2 of them new this week.")


# ---------------------------------------------------------------------------- monthly story
def month_rows():
    # November 2026 to date against October 2026, sample world.
    return [
        kpi("time_to_value_days", "Time to value", "days", 43.1, 30.0, "lower", previous=46.6),        # 3.5/30 = .117
        kpi("onboarding_completion_rate", "Onboarding completion rate", "fraction", 0.615, 0.85, "higher",
            previous=0.538),                                                                 # .077/.85 = .091
        kpi("activation_rate", "Activation rate", "fraction", 0.703, 0.80, "higher", previous=0.434),   # .269/.8 = .336
        kpi("onboarding_nps", "Onboarding NPS", "nps", 21.1, 40.0, "higher", previous=36.4),            # 15.3/40 = .383
        kpi("first_90_day_retention", "First-90-day retention", "fraction", 1.0, 0.90, "higher", previous=1.0),  # 0
        kpi("readiness_at_handover", "Readiness at handover", "points", None, 80.0, "higher", previous=72.0),
    ]


def test_biggest_moves_rank_by_change_over_target():
    moves = narrative.biggest_moves(month_rows())
    assert [m["key"] for m in moves] == ["onboarding_nps", "activation_rate"]
    assert narrative.move_text(moves[0]) == "onboarding NPS worsened 15.3 points to +21.1"
    assert narrative.move_text(moves[1]) == "activation rate improved 26.9 percentage points to 70.3%"
    # lower is better: a fall in days is an improvement
    assert narrative.move_text(month_rows()[0]) == "time to value improved 3.5 days to 43.1 days"


def test_monthly_story_has_four_sentences_from_the_numbers():
    text = narrative.monthly_story(month_rows(), period_label="November 2026 to date (1–15 Nov)",
                                   previous_label="October 2026", first_value=33, completed=1, red=84,
                                   red_arr=2_812_000, top_risk={"name": "Granite Labs GmbH", "arr": 388200,
                                                                "csm": "Goran Nguyen"})
    assert text == (
        "In November 2026 to date (1–15 Nov), 33 customers reached first value and 1 customer completed onboarding; "
        "one of the five KPIs with data is on target. "
        "Against October 2026, onboarding NPS worsened 15.3 points to +21.1 and activation rate improved 26.9 "
        "percentage points to 70.3%. "
        "84 accounts are red, holding $2.8M of ARR; the largest is Granite Labs GmbH ($388,200, owner Goran Nguyen). "
        "Furthest from target: onboarding NPS at +21.1 against a target of +40.0.")


def test_monthly_story_three_sentences_when_all_on_target():
    rows = [kpi("a", "Adoption rate", "fraction", 0.9, 0.7, "higher", previous=0.8)]
    text = narrative.monthly_story(rows, period_label="October 2026", previous_label="September 2026",
                                   first_value=0, completed=2, red=0, red_arr=0)
    assert text == ("In October 2026, 0 customers reached first value and 2 customers completed onboarding; the "
                    "one KPI with data is on target. Against September 2026, adoption rate improved 10.0 "
                    "percentage points to 90.0%. No account is red.")


# ---------------------------------------------------------------------------- recommendation
TEMPLATES = {"onboarding_nps": "Sponsor a review of onboarding: NPS is {value} against {target}.",
             "on_target": "Keep the plan; call the {red} red accounts ({red_arr} ARR)."}


def test_recommendation_uses_the_template_of_the_kpi_furthest_behind():
    assert narrative.recommendation(week_rows(), TEMPLATES) == \
        "Sponsor a review of onboarding: NPS is +12.5 against +40.0."


def test_recommendation_when_nothing_is_behind_and_without_a_template():
    on = [r for r in week_rows() if r["status"] == "on target"]
    assert narrative.recommendation(on, TEMPLATES, red=84, red_arr=2_812_000) == \
        "Keep the plan; call the 84 red accounts ($2.8M ARR)."
    text = narrative.recommendation(week_rows()[:1], {})
    assert text == ("Sponsor a focused two-week improvement cycle on time to value: it is 45.6 days against a "
                    "target of 30.0 days.")


# ---------------------------------------------------------------------------- post-cycle five lines
def cycle(**kw):
    base = dict(metric="activation_rate", start=pd.Timestamp("2026-11-02"), end=pd.Timestamp("2026-11-15"),
                baseline_start=pd.Timestamp("2026-10-19"), baseline_end=pd.Timestamp("2026-11-01"),
                hypothesis="We believed a day-25 call would lift activation",
                intervention="Every account got the call.",
                next_cycle="Next we test a day-20 call")
    base.update(kw)
    return Cycle(**base)


def result(**kw):
    base = dict(metric="activation_rate", label="Activation rate", unit="fraction", better="higher", member="account",
                cycle_value=0.703, cycle_n=37, baseline_value=0.4, baseline_n=30, difference=0.303, ci_low=0.074,
                ci_high=0.538, confidence=0.95, decision="keep",
                reason="the whole 95% interval is on the better side of no change (higher is better)",
                replicates=2000, seed=1)
    base.update(kw)
    return CycleResult(**base)


def test_five_lines_keep():
    lines = narrative.five_lines(cycle(), result())
    assert [label for label, _ in lines] == ["Hypothesis", "Intervention", "Result", "Decision", "Next cycle"]
    text = dict(lines)
    assert text["Hypothesis"] == "We believed a day-25 call would lift activation."
    assert text["Intervention"] == "Every account got the call."
    assert text["Result"] == ("Activation rate was 70.3% in the cycle (37 accounts) against 40.0% in the baseline "
                              "(30 accounts): it rose 30.3 percentage points; the 95% interval for the change is "
                              "between 7.4 and 53.8 percentage points higher.")
    assert text["Decision"] == ("Keep the change and make it the standard: the whole 95% interval is on the better "
                                "side of no change (higher is better).")
    assert text["Next cycle"] == "Next we test a day-20 call."


def test_five_lines_inconclusive_extends_first():
    r = result(cycle_value=27.9, baseline_value=24.1, difference=3.8, ci_low=-8.9, ci_high=15.7, unit="days",
               label="Time to value", better="lower", decision="inconclusive",
               reason="the 95% interval includes no change, so the data cannot tell the change from noise")
    text = dict(narrative.five_lines(cycle(), r))
    assert text["Result"] == ("Time to value was 27.9 days in the cycle (37 accounts) against 24.1 days in the "
                              "baseline (30 accounts): it rose 3.8 days; the 95% interval for the change is between "
                              "8.9 days lower and 15.7 days higher (no change is inside the interval).")
    assert text["Decision"].startswith("Inconclusive, extend the cycle: the 95% interval includes no change")
    assert text["Next cycle"] == "First, run the same change for another 14 days; then: next we test a day-20 call."


def test_five_lines_without_data_and_without_texts():
    r = result(cycle_value=None, cycle_n=0, difference=None, ci_low=None, ci_high=None, decision="inconclusive",
               reason="one of the windows has no data, so there is nothing to compare")
    text = dict(narrative.five_lines(cycle(hypothesis="", next_cycle=""), r))
    assert text["Hypothesis"] == "(not given in params/post_cycle.yaml)"
    assert text["Result"] == ("No result: activation rate has no data in the cycle (0 members in the cycle, "
                              "30 in the baseline).")


def test_interval_text_sides():
    assert narrative.interval_text(-0.05, 0.1, "fraction") == (
        "between 5.0 percentage points lower and 10.0 percentage points higher (no change is inside the interval)")
    assert narrative.interval_text(-11.8, -2.1, "days") == "between 2.1 and 11.8 days lower"
    assert narrative.interval_text(None, 1, "days") == "not available (too few members)"


# ---------------------------------------------------------------------------- calibration
def test_calibration_summary_reads_the_auc_difference_interval():
    metrics = {"current": {"version": "v1", "weights": {}, "auc": 0.736},
               "proposed": {"weights": {"adoption": 38, "engagement": 17, "sentiment": 26, "outcomes": 18,
                                        "relationship": 1}, "auc": 0.742},
               "difference": {"auc": {"value": 0.006, "ci": [-0.006, 0.019]}},
               "drift": {"recalibration_due": True, "max_dimension": "outcomes", "max_psi": 0.288}}
    assert narrative.calibration_summary(metrics, colour_changes=184) == (
        "The proposed weights (adoption 38, engagement 17, sentiment 26, outcomes 18, relationship 1) rank churners "
        "about as well as the current v1 on the later, held-out months: AUC 0.742 against 0.736 (difference +0.006, "
        "95% interval -0.006 to +0.019). Adopting them would change the colour of 184 accounts today; drift is high "
        "on outcomes (PSI 0.29), so a recalibration is due.")
    metrics["difference"]["auc"] = {"value": 0.05, "ci": [0.02, 0.08]}
    metrics["drift"] = {"recalibration_due": False}
    text = narrative.calibration_summary(metrics, colour_changes=1)
    assert "rank churners better than the current v1" in text
    assert text.endswith("change the colour of 1 account today.")


# ---------------------------------------------------------------------------- report wording (workbook.reporting)
def test_change_and_gap_texts_follow_units_and_direction():
    from workbook import reporting as r
    assert r.change_text(0.031, "fraction") == "+3.1 pp"
    assert r.change_text(-2, "days") == "-2.0 days"
    assert r.change_text(-25.0, "nps") == "-25.0"
    assert r.change_text(None, "days") == "—"
    assert r.gap_text(45.6, 30.0, "days", "lower") == "15.6 days behind"
    assert r.gap_text(0.903, 0.70, "fraction", "higher") == "20.3 pp ahead"
    assert r.gap_text(80.0, 80.0, "points", "higher") == "at target"
    assert r.gap_text(None, 80.0, "points", "higher") == "—"
    assert (r.direction_word(-3.5, "lower"), r.direction_word(-0.001, "higher"), r.direction_word(0, "higher")) == \
        ("better", "worse", "same")


def test_period_and_month_texts():
    from workbook import reporting as r
    assert r.period_text("2026-11-09", "2026-11-15") == "9–15 Nov 2026"
    assert r.period_text("2026-10-28", "2026-11-03") == "28 Oct – 3 Nov 2026"
    assert r.period_text("2025-12-29", "2026-01-04") == "29 Dec 2025 – 4 Jan 2026"
    assert r.month_text("2026-10-01", "2026-10-31") == "October 2026"
    assert r.month_text("2026-11-01", "2026-11-15") == "November 2026 to date (1–15 Nov)"


def test_kpi_frame_formats_each_row_in_its_unit():
    from workbook import reporting as r
    table = pd.DataFrame([
        {"kpi": "Time to value", "unit": "days", "value": 45.6, "n": 10, "change": 3.5, "target": 30.0,
         "better": "lower", "status": "off target"},
        {"kpi": "Adoption rate", "unit": "fraction", "value": 0.903, "n": 16, "change": -0.001, "target": 0.7,
         "better": "higher", "status": "on target"},
        {"kpi": "Onboarding NPS", "unit": "nps", "value": None, "n": 0, "change": None, "target": 40.0,
         "better": "higher", "status": "no data"},
    ])
    frame = r.kpi_frame(table, "last week")
    frame["n"] = frame["n"].astype(object).where(frame["n"].notna(), "missing")
    assert frame.to_dict("records") == [
        {"KPI": "Time to value", "Value": "45.6 days", "n": 10, "Change vs last week": "+3.5 days (worse)",
         "Target": "30.0 days", "Gap to target": "15.6 days behind", "Status": "off target"},
        {"KPI": "Adoption rate", "Value": "90.3%", "n": 16, "Change vs last week": "-0.1 pp (worse)",
         "Target": "70.0%", "Gap to target": "20.3 pp ahead", "Status": "on target"},
        # no value and no cohort: the cohort size is missing (shown as —), not a 0 beside "no data"
        {"KPI": "Onboarding NPS", "Value": "no data", "n": "missing", "Change vs last week": "—", "Target": "+40.0",
         "Gap to target": "—", "Status": "no data"},
    ]


def test_short_params_for_the_provenance_line():
    from workbook import reporting as r
    assert r.short_params({"asks": ["a", "b", "c"], "templates": {"x": 1}, "note": "y" * 80, "n": 3}) == \
        {"asks": "[3 items]", "templates": "{1 keys}", "note": "y" * 59 + "…", "n": 3}


# ---------------------------------------------------------------------------- alt text of the report figures
def test_trend_grid_alt_text_describes_every_panel():
    from workbook import plots
    data = pd.DataFrame({"date": pd.date_range("2026-10-04", periods=3, freq="7D"), "value": [0.5, 0.6, 0.9]})
    chart = plots.trend_grid([
        {"data": data, "x": "date", "y": "value", "title": "Activation rate", "target": 0.8, "kind": "pct"},
        {"data": data.assign(value=None), "x": "date", "y": "value", "title": "Onboarding NPS", "kind": "nps"},
    ], title="Rolling KPIs")
    assert chart.alt == ("Rolling KPIs. Line charts, 2 panels. Activation rate: 3 points from 2026-10-04 to "
                         "2026-10-18, latest 90.0%, range 50.0% to 90.0%, target 80.0% (higher is better): on "
                         "target. Onboarding NPS: no data.")


def test_cycle_psi_and_bar_chart_alt_texts():
    from workbook import plots
    chart = plots.cycle_chart(label="Activation rate", unit="fraction", better="higher", baseline=0.4,
                              cycle=0.703, baseline_n=30, cycle_n=37, difference=0.303, low=0.074, high=0.538,
                              target=0.8)
    assert chart.alt == ("Bar chart and interval plot: Activation rate. Baseline 40.0% (n=30), cycle 70.3% (n=37), "
                         "target 80.0%. Change +30.3 pp, 95% interval +7.4 pp to +53.8 pp; higher is better.")
    drift = pd.DataFrame({"dimension": ["adoption", "outcomes"], "psi": [0.077, 0.288],
                          "status": ["stable", "recalibrate"]})
    assert plots.psi_bars(drift, watch=0.1, recalibrate=0.2).alt.endswith(
        "adoption: 0.077 (stable); outcomes: 0.288 (recalibrate).")
    assert plots.bars({"onboarding": 65, "adoption": 136}, title="Stages").alt == \
        "Bar chart: Stages. onboarding: 65; adoption: 136."


# ---------------------------------------------------------------------------- what limits trust
PRODUCT_SOURCE = {"measured": ["adoption", "outcomes"], "unmeasured": ["engagement", "sentiment", "relationship"],
                  "coverage": 0.4946, "unscored": 0}


def test_score_basis_names_measured_dimensions_and_coverage():
    assert narrative.score_basis(PRODUCT_SOURCE) == ("health measured on adoption and outcomes only: coverage 49 %, "
                                                     "no data for engagement, sentiment and relationship")
    full = {"measured": ["adoption", "engagement", "sentiment", "outcomes", "relationship"], "unmeasured": [],
            "coverage": 0.93, "unscored": 0}
    assert narrative.score_basis(full) is None
    assert narrative.score_basis({**full, "coverage": 0.62}) == "health coverage 62 %"
    assert narrative.score_basis({**PRODUCT_SOURCE, "unscored": 3}).endswith(", 3 accounts not scored")
    assert narrative.score_basis(None) is None


def test_small_cohorts():
    rows = week_rows()
    rows[0]["n"], rows[1]["n"], rows[4]["n"] = 6, 4, 30
    assert narrative.small_cohorts(rows, 10) == ("time to value and onboarding completion rate rest on fewer than "
                                                 "10 accounts (6 and 4)")
    assert narrative.small_cohorts(rows[:1], 10) == "time to value rests on 6 accounts"
    assert narrative.small_cohorts(rows, None) is None
    assert narrative.small_cohorts(rows, 3) is None


def test_weekly_headline_carries_what_limits_trust():
    rows = [kpi("time_to_value_days", "Time to value", "days", 29.8, 30.0, "lower"),
            kpi("onboarding_nps", "Onboarding NPS", "nps", None, 40.0, "higher")]
    text = narrative.weekly_headline(rows, red=67, new_red=7, basis=narrative.score_basis(PRODUCT_SOURCE),
                                     few="time to value rests on 6 accounts")
    assert text == ("We are on target on time to value; no data this week for onboarding NPS; time to value rests on 6 "
                    "accounts; 67 accounts are red, 7 of them new this week (health measured on adoption and "
                    "outcomes only: coverage 49 %, no data for engagement, sentiment and relationship).")


def test_interval_text_never_says_minus_zero():
    assert narrative.interval_text(-0.00001, 0.2, "fraction") == "between 0.0 and 20.0 percentage points higher"
    assert narrative.interval_text(-0.0001, 0.0001, "fraction") == "exactly no change"


def test_small_cohorts_many_stay_short():
    rows = week_rows()
    for r, n in zip(rows, (4, 6, 5, 3, 2, 1, 60)):
        r["n"] = n
    assert narrative.small_cohorts(rows, 10) == "six of the seven KPIs with a value rest on fewer than 10 accounts"
    rows[-1]["n"] = 6
    assert narrative.small_cohorts(rows, 10) == "every KPI with a value rests on fewer than 10 accounts"


# ---------------------------------------------------------------------------- sentences that must hold (repro 7, 10)
MONTHLY_ON_TARGET = ("Keep the current plan: every KPI with data is on target. Sponsor executive calls with the "
                     "{red} red accounts ({red_arr} ARR) this month.")


def test_recommendation_with_no_kpi_data_says_so_not_on_target():
    """No KPI with data to compare (every status "no data" or "no target"): the on_target text
    would claim "every KPI with data is on target" about nothing."""
    empty = [kpi("time_to_value_days", "Time to value", "days", None, 30.0, "lower"),
             kpi("onboarding_nps", "Onboarding NPS", "nps", None, 40.0, "higher"),
             kpi("nps", "NPS", "nps", 12.0, None, "higher")]                        # a value, but no target
    templates = {"on_target": MONTHLY_ON_TARGET}
    text = narrative.recommendation(empty, templates, red=0, red_arr=0.0)
    assert text == narrative.NO_KPI_DATA
    assert text.startswith("No KPI has data to compare with its target")
    assert "on target" not in text and "0 red accounts" not in text
    # a team's own no_data text wins
    assert narrative.recommendation(empty, {**templates, "no_data": "Fix the milestone feed first."}) == \
        "Fix the milestone feed first."


def test_recommendation_leaves_out_a_call_to_the_0_red_accounts():
    on = [r for r in week_rows() if r["status"] == "on target"]
    assert narrative.recommendation(on, {"on_target": MONTHLY_ON_TARGET}, red=0, red_arr=0.0) == \
        "Keep the current plan: every KPI with data is on target."
    assert narrative.recommendation(on, {"on_target": MONTHLY_ON_TARGET}, red=2, red_arr=150_000) == (
        "Keep the current plan: every KPI with data is on target. Sponsor executive calls with the 2 red accounts "
        "($150,000 ARR) this month.")
    # a text that is nothing but the red sentence falls back to the plain one
    assert narrative.recommendation(on, TEMPLATES, red=0) == "Keep the current plan: every KPI with data is on target."


def test_score_basis_with_no_live_account_does_not_blame_the_source():
    nothing = {"measured": [], "unmeasured": ["adoption", "engagement", "sentiment", "outcomes", "relationship"],
               "coverage": None, "unscored": 0}
    basis = narrative.score_basis(nothing, live=0, as_of=pd.Timestamp("2015-09-05"))
    assert basis == "no live accounts on 2015-09-05"
    # with live accounts and nothing measured, the source has no health data: that sentence stays
    assert narrative.score_basis(nothing, live=3) == "no health dimension has data in this source"
    none = [kpi("time_to_value_days", "Time to value", "days", None, 30.0, "lower")]
    assert narrative.weekly_headline(none, red=0, basis=basis) == \
        "No onboarding KPI had data this week; no account is red (no live accounts on 2015-09-05)."


def test_as_of_gap_note_counts_calendar_days_past_the_last_usage():
    # 2015-09-02 -> 2016-06-01: 28 (rest of Sep) + 31 + 30 + 31 + 31 + 29 (2016 is a leap year) + 31 + 30 + 31 + 1
    assert narrative.as_of_gap("2016-06-01", pd.Timestamp("2015-09-02"), name="--as-of") == (
        "--as-of 2016-06-01 is 273 days after the last usage date in the source (2015-09-02); usage after that "
        "day is unknown, not zero")
    assert narrative.AS_OF_GAP_DAYS == 7
    assert narrative.as_of_gap("2015-09-09", "2015-09-02") is None                  # 7 days: within the threshold
    assert narrative.as_of_gap("2015-09-10", "2015-09-02").startswith("as_of 2015-09-10 is 8 days after")
    assert narrative.as_of_gap("2015-09-03", "2015-09-02", threshold_days=0).startswith("as_of 2015-09-03 is 1 day ")
    assert narrative.as_of_gap("2015-08-01", "2015-09-02") is None                  # before the end: no note
    assert narrative.as_of_gap("2016-06-01", None) is None                          # no usage rows at all
