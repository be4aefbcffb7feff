"""workbook.signals: lifecycle stage, archetypes, the decline pattern and score alerts.

Crafted accounts, all SMB and scored on AS_OF = 2026-06-30 unless said otherwise. The decline
windows are 06-03 .. 06-30 ("now") and 05-06 .. 06-02 ("before"). Constants from
params/health.yaml: stuck fallback days onboarding 90 / adoption 60 / value realization 120 (used
while fewer than 10 completed stays are known), victim = 3 tickets or 1 escalated in 30 days,
slacker = active days down by half from at least 6.
"""
from __future__ import annotations

import pandas as pd
import pytest

from test_health import days, usage_rows, write_world
from workbook import health, signals
from workbook.workspace import open_data

AS_OF = pd.Timestamp("2026-06-30")
NOW, BEFORE = days("2026-06-03", "2026-06-30"), days("2026-05-06", "2026-06-02")


def ms(acc, **kw):
    return [dict(account_id=acc, milestone=m, reached_at=d) for m, d in kw.items()]


def world_tables():
    milestones = (ms("onb", kickoff="2026-01-05")
                  + ms("ado", go_live="2026-03-01")
                  + ms("val", first_value="2026-04-01")                          # adoption skipped
                  + ms("ret", go_live="2026-01-20", first_value="2026-02-01", onboarding_complete="2026-03-15")
                  + ms("loy", first_value="2026-02-01", handover="2026-03-01")
                  + ms("late", first_value="2026-07-15")                          # after AS_OF
                  + ms("healthy", go_live="2026-01-10", first_value="2026-01-25", onboarding_complete="2026-02-20")
                  + ms("decliner", go_live="2026-01-10", first_value="2026-01-25", onboarding_complete="2026-02-20"))
    usage = (
        # decliner: before 2 modules x 3 users x 10 actions daily; now 1 module x 2 users x 5 actions, every other day
        usage_rows("decliner", BEFORE, ("X", "Y"), 3, 10) + usage_rows("decliner", NOW[::2], ("X",), 2, 5)
        # steady: identical windows
        + usage_rows("healthy", BEFORE + NOW, ("X", "Y"), 3, 10)
        # partial: frequency and depth down, breadth and stakeholders unchanged -> no pattern
        + usage_rows("partial", BEFORE, ("X", "Y"), 3, 10) + usage_rows("partial", NOW[::2], ("X", "Y"), 3, 5)
        # slacker: 20 active days before, 8 now (down 60%); not_slacker: 20 -> 12 (down 40%)
        + usage_rows("slacker", BEFORE[:20], ("X",), 2, 10) + usage_rows("slacker", NOW[:8], ("X",), 2, 10)
        + usage_rows("not_slacker", BEFORE[:20], ("X",), 2, 10) + usage_rows("not_slacker", NOW[:12], ("X",), 2, 10))
    contacts = [
        dict(contact_id="h1", account_id="healthy", role="champion", started_at="2026-01-01"),
        dict(contact_id="d1", account_id="decliner", role="champion", started_at="2026-01-01", left_at="2026-06-01"),
        dict(contact_id="d2", account_id="decliner", role="user", started_at="2026-01-01"),
        dict(contact_id="f1", account_id="future_champ", role="champion", started_at="2026-07-01"),
    ]
    tickets = ([dict(ticket_id=f"v{i}", account_id="victim3", opened_at=d) for i, d in
                enumerate(["2026-06-01", "2026-06-15", "2026-06-30"])]
               + [dict(ticket_id=f"n{i}", account_id="two", opened_at=d) for i, d in
                  enumerate(["2026-06-10", "2026-06-20"])]
               + [dict(ticket_id="e1", account_id="escalated", opened_at="2026-06-25", escalated="true")]
               + [dict(ticket_id=f"o{i}", account_id="old", opened_at=d, escalated="true") for i, d in
                  enumerate(["2026-05-01", "2026-05-10", "2026-05-31"])])           # 05-31: outside 06-01..06-30
    advocacy = [dict(account_id="loy", date="2026-05-01", kind="reference"),
                dict(account_id="val", date="2026-05-01", kind="review")]          # no retention yet
    return dict(milestones=milestones, usage=usage, contacts=contacts, tickets=tickets, advocacy=advocacy)


NAMES = ["onb", "ado", "val", "ret", "loy", "late", "healthy", "decliner", "partial", "slacker", "not_slacker",
         "victim3", "two", "escalated", "old", "future_champ"]
ACCOUNTS = [{"account_id": a} for a in NAMES] + [{"account_id": "fresh", "signed_at": "2026-06-01"}]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    ws = open_data(write_world(tmp_path_factory.mktemp("signals") / "w", ACCOUNTS, **world_tables()))
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def risk(world):
    return signals.risk_signals(world, [AS_OF]).set_index("account_id")


def test_lifecycle_stages(risk):
    stage = risk["lifecycle_stage"]
    assert stage[["onb", "ado", "val", "ret", "loy", "late", "fresh"]].tolist() == [
        "onboarding", "adoption", "value realization", "retention", "loyalty & growth", "onboarding", "onboarding"]
    assert risk.loc["ado", "stage_entered_at"] == pd.Timestamp("2026-03-01")
    assert risk.loc["ado", "days_in_stage"] == 121                       # 03-01 .. 06-30
    assert risk.loc["ret", "stage_entered_at"] == pd.Timestamp("2026-03-15")   # onboarding_complete
    assert risk.loc["loy", "stage_entered_at"] == pd.Timestamp("2026-05-01")   # first advocacy
    # "val" has advocacy but no completed onboarding: stays in value realization
    assert risk.loc["val", "lifecycle_stage"] == "value realization"


def test_stuck_with_fallback_benchmarks(risk):
    # fewer than 10 completed stays known: fallback days from params
    assert risk.loc["onb", "stage_benchmark_days"] == 90 and risk.loc["onb", "stuck"]      # 180 days > 90
    assert risk.loc["ado", "stuck"]                                                         # 121 days > 60
    assert not risk.loc["val", "stuck"]                                                     # 90 days <= 120
    assert not risk.loc["fresh", "stuck"]                                                   # 29 days <= 90
    assert not risk.loc["healthy", "stuck"] and pd.isna(risk.loc["healthy", "stage_benchmark_days"])


def test_stuck_benchmark_from_completed_stays(tmp_path):
    """Ten accounts left onboarding after 10..19 days (go_live): p75 = 10 + 0.75 * 9 = 16.75 days.

    On AS_OF, "s17" has been onboarding 17 days (stuck) and "s16" 16 days (not stuck). A stay
    that ends after AS_OF ("later", go_live 07-05) is not known yet, so it does not count."""
    acc = [{"account_id": f"d{k}", "signed_at": "2026-03-01"} for k in range(10)]
    acc += [{"account_id": "s17", "signed_at": "2026-06-13"}, {"account_id": "s16", "signed_at": "2026-06-14"},
            {"account_id": "later", "signed_at": "2026-06-01"}]
    mil = [dict(account_id=f"d{k}", milestone="go_live",
                reached_at=(pd.Timestamp("2026-03-01") + pd.Timedelta(days=10 + k)).strftime("%Y-%m-%d"))
           for k in range(10)]
    mil += [dict(account_id="later", milestone="go_live", reached_at="2026-07-05")]
    ws = open_data(write_world(tmp_path / "w", acc, milestones=mil))
    try:
        life = signals.lifecycle(ws, [AS_OF]).set_index("account_id")
    finally:
        ws.close()
    assert life.loc["s17", "stage_benchmark_days"] == pytest.approx(16.75)
    assert life.loc["s17", "stuck"] and not life.loc["s16", "stuck"]
    assert life.loc["later", "stuck"]                               # 29 days in onboarding > 16.75


def test_championless(risk, tmp_path):
    assert not risk.loc["healthy", "championless"]
    assert risk.loc["decliner", "championless"]                      # the champion left 06-01
    assert risk.loc["future_champ", "championless"]                  # starts after AS_OF
    assert "championless" in risk.loc["decliner", "archetypes"]
    ws = open_data(write_world(tmp_path / "nocontacts", [{"account_id": "a"}]))
    try:                                                              # no contacts table: cannot tell
        assert not signals.risk_signals(ws, [AS_OF])["championless"].any()
    finally:
        ws.close()


def test_victim(risk):
    assert risk.loc["victim3", "victim"] and risk.loc["escalated", "victim"]
    assert not risk.loc["two", "victim"] and not risk.loc["old", "victim"] and not risk.loc["healthy", "victim"]
    # victim3 has no milestones (onboarding for 180 days) and no contacts table rows: all three fire
    assert risk.loc["victim3", "archetypes"] == "stuck, championless, victim"


def test_slacker(risk):
    assert risk.loc["slacker", "slacker"]                             # 20 -> 8 active days
    assert not risk.loc["not_slacker", "slacker"]                     # 20 -> 12
    assert not risk.loc["healthy", "slacker"]
    assert risk.loc["decliner", "slacker"]                            # 28 -> 14: exactly half


def test_decline_pattern(world, risk):
    dp = signals.decline_pattern(world, [AS_OF]).set_index("account_id")
    d = dp.loc["decliner"]
    assert (d["breadth_before"], d["breadth"]) == (1.0, 0.5)
    assert (d["depth_before"], d["depth"]) == (pytest.approx(10 / 3), 2.5)
    assert (d["frequency_before"], d["frequency"]) == (28, 14)
    assert (d["stakeholders_before"], d["stakeholders"]) == (3, 2)
    assert d["decline_pattern"] and risk.loc["decliner", "decline_pattern"]
    assert not dp.loc["healthy", "decline_pattern"]
    assert not dp.loc["partial", "decline_pattern"]                   # breadth and stakeholders held
    assert not dp.loc["onb", "decline_pattern"]                       # never used: nothing to fall from


def test_health_table_carries_signals(world):
    t = health.health_table(world, AS_OF).set_index("account_id")
    assert t.loc["decliner", "decline_pattern"] and not t.loc["healthy", "decline_pattern"]
    assert t.loc["loy", "lifecycle_stage"] == "loyalty & growth"
    assert t.loc["healthy", "archetypes"] == ""
    assert set(t.loc["decliner", "archetypes"].split(", ")) == {"championless", "slacker"}


def test_point_in_time(tmp_path, risk):
    t = world_tables()
    after = "2026-07-02"
    t["milestones"] += ms("onb", go_live=after, first_value=after)
    t["usage"] += usage_rows("decliner", days("2026-07-01", "2026-07-10"), ("X", "Y", "Z"), 9, 99)
    t["contacts"] += [dict(contact_id="x", account_id="decliner", role="champion", started_at=after)]
    t["tickets"] += [dict(ticket_id="x", account_id="two", opened_at=after, escalated="true")]
    t["advocacy"] += [dict(account_id="ret", date=after, kind="referral")]
    ws = open_data(write_world(tmp_path / "later", ACCOUNTS, **t))
    try:
        later = signals.risk_signals(ws, [AS_OF]).set_index("account_id")
    finally:
        ws.close()
    pd.testing.assert_frame_equal(later, risk)


def test_many_dates_match_single_dates(world, risk):
    both = signals.risk_signals(world, ["2026-05-31", AS_OF])
    last = both[both["date"] == AS_OF].set_index("account_id").drop(columns="date")
    pd.testing.assert_frame_equal(last, risk.drop(columns="date"), check_index_type=False)


def test_score_alerts():
    """Weekly scores; alert when ARR >= 100,000 and the score is more than 10 points below its
    highest value of the 4 weekly points before AS_OF."""
    pts = [AS_OF - pd.Timedelta(days=7 * k) for k in range(6)]       # k = 5 is outside the 4 weeks
    rows = []
    for acc, arr, series in [("big_fall", 200000, [60, 65, 75, 70, 70, 99]),     # peak 75 -> drop 15
                             ("small", 50000, [60, 65, 75, 70, 70, 70]),         # ARR below threshold
                             ("gentle", 200000, [62, 65, 70, 70, 70, 70]),       # drop 8
                             ("exact", 200000, [60, 70, 70, 65, 65, 65]),        # drop 10: not MORE than 10
                             ("old_peak", 200000, [60, 61, 62, 63, 64, 95])]:    # the 95 is 5 weeks back
        rows += [dict(account_id=acc, date=d, score=s, arr=arr) for d, s in zip(pts, series)]
    out = signals.score_alerts(pd.DataFrame(rows), AS_OF).set_index("account_id")
    assert out["alert"].to_dict() == {"big_fall": True, "small": False, "gentle": False, "exact": False,
                                      "old_peak": False}
    assert out.loc["big_fall", "score_drop"] == 15
    assert out.loc["big_fall", "alert_reason"] == "score fell 15.0 points since 2026-06-16 (ARR 200,000)"
    assert out.loc["small", "alert_reason"] == ""
