"""workbook.explain: why an account sits in its colour, what would move it up, the one-line why.

A tiny world scored on AS_OF = 2026-06-30 with v1 weights (30/20/15/20/15, green 80, amber 60).
Every account is SMB, signed 2026-01-01 (one cohort, under 5 users: the adoption benchmark falls
back to the median over every account that used the product in the window).

  thrive  2 modules, X and Y every day 05-01 .. 06-30, 2 users, 20 actions each: 10 actions per user;
          inbound call 06-28; NPS 10 (the only survey: the SMB prior is thrive's own 1.0); first
          value 01-20, its one outcome early; champion (also sponsor), business owner and user
          active -> every dimension 1.0, score 100, green.
          Override red by Kim on 06-20, "Budget freeze", open.
  low     6 modules, X every day 06-03 .. 06-30, 1 user, 10 actions: 10 actions per user.
            adoption     breadth 1/6. depth: X has fewer than 5 other users, so its norm is the
                         median of the other accounts' actions per user: thrive's 10 -> index 1 -> 1.
                         frequency: active-day weights 2^(-age/28) over the 84 days ending 06-30;
                         low is active on the last 28 days (ages 0..27), the first of three 4-week
                         blocks weighing 1, 1/2, 1/4: share 1 / 1.75 = 4/7 = 0.571429; thrive (ages
                         0..60) (1 - q^61) / (1 - q^84) = 0.890406 (q = 2^(-1/28)); benchmark their
                         median 0.730918; ratio 0.781796 -> (r - 0.4)/0.6 = 0.636327
                         (1 x 1/6 + 2 x 1 + 1 x 0.636327) / 4                          = 0.700748
          last (and only) touch: inbound call 05-20, 41 days: no outbound or scheduled touch
            engagement   recency (90 - 41) / 76                                       = 0.644737
          no survey: sentiment has no data
            outcomes     first value 02-01 (1); o1 due 05-01 and o2 due 06-01 missed: 0 of 2
                         0.4 * 1 + 0.6 * 0                                            = 0.4
            relationship champion c1 left 06-02; user c2 active: contacts 1/2, no champion,
                         no sponsor, 1 role of 3: 0.25 * 0.5 + 0.2 / 3               = 0.191667
          score (redistribute over 85): (30*0.700748 + 20*0.644737 + 20*0.4 + 15*0.191667) / 85
                = 44.792190 / 85 = 52.6967 -> red; coverage 0.85; lowest dimension relationship
          points lost (effective weight x (1 - value)): relationship 100*15/85*0.808333 = 14.26,
          outcomes 100*20/85*0.6 = 14.12, adoption 100*30/85*0.299252 = 10.56, engagement 8.36
  future  signed 2026-07-05: not live on AS_OF
"""
from __future__ import annotations

import json

import pandas as pd
import pytest

import workbook as wb
from test_health import days, usage_rows, write_world
from workbook import health
from workbook.errors import BadInput
from workbook.explanation import explain, needed, why_lines
from workbook.weights import resolve
from workbook.workspace import open_data

AS_OF = pd.Timestamp("2026-06-30")
ACCOUNTS = [{"account_id": "thrive"}, {"account_id": "low", "contracted_modules": 6},
            {"account_id": "future", "signed_at": "2026-07-05"}]


def tables() -> dict:
    usage = (usage_rows("thrive", days("2026-05-01", "2026-06-30"), ("X", "Y"), 2, 20)
             + usage_rows("low", days("2026-06-03", "2026-06-30"), ("X",), 1, 10))
    touch = [dict(account_id="thrive", date="2026-06-28", kind="call", direction="inbound"),
             dict(account_id="low", date="2026-05-20", kind="call", direction="inbound")]
    surveys = [dict(response_id="r1", account_id="thrive", kind="nps", score=10, responded_at="2026-06-01")]
    milestones = [dict(account_id="thrive", milestone="first_value", reached_at="2026-01-20"),
                  dict(account_id="low", milestone="first_value", reached_at="2026-02-01")]
    outcomes = [dict(account_id="thrive", outcome="t1", due_at="2026-05-01", achieved_at="2026-04-01"),
                dict(account_id="low", outcome="o1", due_at="2026-05-01"),
                dict(account_id="low", outcome="o2", due_at="2026-06-01")]
    contacts = [dict(contact_id="t1", account_id="thrive", role="champion", is_executive_sponsor="true",
                     started_at="2026-01-01"),
                dict(contact_id="t2", account_id="thrive", role="business_owner", started_at="2026-01-01"),
                dict(contact_id="t3", account_id="thrive", role="user", started_at="2026-01-01"),
                dict(contact_id="c1", account_id="low", role="champion", started_at="2026-01-01",
                     left_at="2026-06-02"),
                dict(contact_id="c2", account_id="low", role="user")]
    overrides = [dict(account_id="thrive", colour="red", reason="Budget freeze", author="Kim",
                      set_at="2026-06-20")]
    return dict(usage=usage, touchpoints=touch, surveys=surveys, milestones=milestones, outcomes=outcomes,
                contacts=contacts, overrides=overrides)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    ws = open_data(write_world(tmp_path_factory.mktemp("explanation") / "w", ACCOUNTS, **tables()))
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def low(world):
    return explain(world, "low", AS_OF)


@pytest.fixture(scope="module")
def thrive(world):
    return explain(world, "thrive", AS_OF)


# ---------------------------------------------------------------------------- the score arithmetic
def test_needed_value_by_hand():
    w = resolve(None)                            # v1: 30/20/15/20/15
    # full coverage, score 30*.55 + 20*.5 + 15*.5 + 20*.6 + 15*.6 = 55: amber (60) needs 5 points
    v = dict(adoption=0.55, engagement=0.5, sentiment=0.5, outcomes=0.6, relationship=0.6)
    assert needed(v, "adoption", 60, w) == pytest.approx(0.55 + 0.1667)          # + 5/30, rounded up
    assert needed(v, "engagement", 60, w) == pytest.approx(0.75)                  # + 5/20
    assert needed(v, "sentiment", 60, w) == pytest.approx(0.8334)                 # 0.5 + 5/15 = 0.83333
    assert needed(v, "relationship", 60, w) == pytest.approx(0.9334)
    assert needed(v, "adoption", 80, w) is None                                   # + 25/30 > 1
    # no data on sentiment (redistribute): it joins the total when it gets a value
    v["sentiment"] = None                     # score = 47.5 / 85 = 55.88
    assert needed(v, "adoption", 60, w) == pytest.approx(0.55 + 0.1167)           # 3.5 / 30 = 0.11667
    assert needed(v, "sentiment", 60, w) == pytest.approx(0.8334)                 # (47.5 + 15x) / 100 >= .6


# ---------------------------------------------------------------------------- one account by hand
def test_low_account_numbers(low):
    assert low["account"] == {"id": "low", "name": "Acct low", "segment": "SMB", "csm": "cs1", "arr": 1000.0,
                              "signed_at": "2026-01-01", "lifecycle_stage": "value realization",
                              "days_in_stage": 149}
    assert low["score"] == pytest.approx(44.792190 / 85 * 100, abs=1e-4)
    assert (low["colour"], low["computed_colour"], low["weights_version"]) == ("red", "red", "v1")
    assert low["coverage"] == pytest.approx(0.85) and low["thresholds"] == {"green": 80.0, "amber": 60.0}
    d = low["dimensions"]
    assert list(d) == ["adoption", "engagement", "sentiment", "outcomes", "relationship"]
    assert d["adoption"]["value"] == pytest.approx(0.700748, abs=1e-6)
    assert d["adoption"]["points"] == pytest.approx(30 / 85 * 70.0748, abs=1e-3)
    assert sum(v["points"] for v in d.values()) == pytest.approx(low["score"])
    assert d["sentiment"]["value"] is None and d["sentiment"]["points"] == 0
    assert d["adoption"]["signals"] == {
        "modules_used": 1, "modules_contracted": 6, "window_days": 28, "actions_per_active_user_day": 10.0,
        "cohort_actions_per_active_user_day": 10.0, "active_days": 28, "cohort_active_days": 28.0,
        "benchmark_basis": "all", "depth_index": pytest.approx(1.0), "active_share": pytest.approx(4 / 7),
        "cohort_active_share": pytest.approx(0.730918, abs=1e-6),
        "parts": {"breadth": pytest.approx(1 / 6), "depth": 1.0, "frequency": pytest.approx(0.636327, abs=1e-6)}}
    assert d["engagement"]["signals"]["days_since_two_way_touch"] == 41
    assert d["engagement"]["signals"]["parts"] == {"recency": pytest.approx(49 / 76), "response": None,
                                                   "attendance": None}
    assert d["outcomes"]["signals"]["outcomes_counted"] == 2 and d["outcomes"]["signals"]["outcomes_on_time"] == 0
    assert d["outcomes"]["signals"]["first_value_reached_at"] == "2026-02-01"
    rel = d["relationship"]["signals"]
    assert (rel["active_contacts"], rel["champion"], rel["executive_sponsor"], rel["roles"]) == (1, False, False, 1)
    assert rel["champion_left_at"] == "2026-06-02"


def test_changes_by_hand(world, low):
    """7 days before (06-23): low active on ages 0..20 of the 84-day window (share (1 - q^21) /
    (1 - q^84) = 0.463310, q = 2^(-1/28)), thrive on 0..53 (0.842641); benchmark their median
    0.652976; ratio 0.709537 -> frequency part 0.515895; breadth 1/6 and depth 1 as on 06-30 ->
    adoption (1/6 + 2 + 0.515895) / 4 = 0.670640; last touch 34 days old -> engagement 56/76 =
    0.736842. 28 days before (06-02): no use yet (adoption 0), touch 13 days old (engagement 1)."""
    q = 2 ** (-1 / 28)
    low_share, thrive_share = (1 - q ** 21) / (1 - q ** 84), (1 - q ** 54) / (1 - q ** 84)
    before = (1 / 6 + 2 + (low_share / ((low_share + thrive_share) / 2) - 0.4) / 0.6) / 4
    assert before == pytest.approx(0.670640, abs=1e-6)
    d = low["dimensions"]
    assert d["adoption"]["change_7d"]["value"] == pytest.approx(0.700748 - before, abs=1e-6)
    assert d["adoption"]["change_7d"]["points"] == pytest.approx(100 * 30 / 85 * (0.700748 - before), abs=1e-3)
    assert d["engagement"]["change_7d"]["value"] == pytest.approx(49 / 76 - 56 / 76)
    assert d["adoption"]["change_28d"]["points"] == pytest.approx(100 * 30 / 85 * 0.700748, abs=1e-3)
    assert d["sentiment"]["change_7d"]["value"] is None
    # the 7-day point changes are those of health.drivers
    drv = health.drivers(world, AS_OF).set_index("account_id").loc["low"]
    for dim, v in d.items():
        assert v["change_7d"]["points"] == pytest.approx(drv[f"contribution_{dim}"])


def test_move_up_by_hand(low):
    """Amber needs 60 - 52.6967 = 7.3033 points; effective weights are weight / 85."""
    m = low["move_up"]
    assert (m["target_colour"], m["threshold"]) == ("amber", 60.0)
    assert m["points_needed"] == pytest.approx(60 - 52.696694, abs=1e-4)
    need = {d: v["needed"] for d, v in m["dimensions"].items()}
    assert need == {"adoption": pytest.approx(0.9077),        # 0.700748 + 7.303306 * 85 / 3000 = 0.907675
                    "engagement": pytest.approx(0.9552),      # 0.644737 + 7.303306 * 85 / 2000 = 0.955127
                    "sentiment": None,                        # (44.792190 + 15 x) / 100 = 0.6 -> x = 1.0139
                    "outcomes": pytest.approx(0.7104),        # 0.4 + 0.310390
                    "relationship": pytest.approx(0.6056)}    # 0.191667 + 7.303306 * 85 / 1500 = 0.605521
    hints = {d: v["hint"] for d, v in m["dimensions"].items()}
    # breadth is 1/4 of adoption: 0.206927 more adoption = 0.206927 * 4 * 6 = 4.97 modules -> 5
    assert hints["adoption"] == "adoption from 0.70 to 0.91: use 5 more contracted modules"
    assert hints["engagement"] == "engagement from 0.64 to 0.96: a two-way touch (the last was 41 days ago)"
    assert hints["sentiment"] == "sentiment from no data: even 1.00 is not enough on its own"
    assert hints["outcomes"] == "outcomes from 0.40 to 0.71: achieve the next outcomes on time (0 of 2 so far)"
    # a champion (0.3) or a sponsor (0.25) alone is not the 0.41 needed; both are
    assert hints["relationship"] == "relationship from 0.19 to 0.61: name a champion and an executive sponsor"


def test_low_sentences_word_for_word(world, low):
    action = health.health_table(world, AS_OF).set_index("account_id").loc["low", "recommended_action"]
    assert low["why"] == ("champion left 2026-06-02; 0 of 2 outcomes achieved on time; "
                          "adoption 0.70 (1 of 6 modules in 28 days)")
    assert low["sentences"] == [
        "Red (score 52.7, threshold 60): relationship is the lowest dimension at 0.19 — champion left "
        "2026-06-02; 0 of 2 outcomes achieved on time; adoption 0.70 (1 of 6 modules in 28 days).",
        "Sentiment has no data: the weight is spread over the others (coverage 85 %).",
        # sentiment cannot do it alone (it would need 1.0125), so it is not among the ways
        "To reach amber (60) it needs 7.3 more points: adoption from 0.70 to 0.91: use 5 more contracted "
        "modules; or engagement from 0.64 to 0.96: a two-way touch (the last was 41 days ago); or outcomes "
        "from 0.40 to 0.71: achieve the next outcomes on time (0 of 2 so far); or relationship from 0.19 to "
        "0.61: name a champion and an executive sponsor.",
        # 06-23: (30*0.670640 + 20*0.736842 + 8 + 2.875) / 85 = 53.8012; adoption +1.06, engagement -2.17
        "Over 7 days the score moved -1.1 points, most from engagement (-2.2).",
        f"Next review 2026-07-07: {action}",
    ]
    assert low["override"] is None and low["next_review"] == "2026-07-07"
    assert action.startswith("Intervene this week") and "relationship" in action


def test_green_account_with_an_override(thrive):
    assert thrive["score"] == pytest.approx(100) and thrive["computed_colour"] == "green"
    assert thrive["colour"] == "red"
    assert thrive["move_up"] is None                         # green by the formula: nothing to move up to
    assert thrive["override"] == {"colour": "red", "reason": "Budget freeze", "author": "Kim",
                                  "set_at": "2026-06-20", "expires_at": None}
    assert thrive["why"] == "override red by Kim: Budget freeze"
    assert thrive["sentences"][:2] == [
        "Green (score 100.0, threshold 80).",
        "Shown red by an override of Kim set 2026-06-20: Budget freeze (the formula says green)."]


def test_json_able(low, thrive):
    for e in (low, thrive):
        text = json.dumps(e, allow_nan=False)
        assert json.loads(text) == e


def test_why_lines_word_for_word(world):
    table = health.health_table(world, AS_OF)
    lines = why_lines(world, table)
    assert list(lines.index) == list(table["account_id"])
    assert lines.to_dict() == {
        "low": "champion left 2026-06-02; 0 of 2 outcomes achieved on time; adoption 0.70 (1 of 6 modules in "
               "28 days)",
        "thrive": "override red by Kim: Budget freeze"}


def test_bad_account_names_it_with_close_matches(world):
    with pytest.raises(BadInput) as err:
        explain(world, "lwo", AS_OF)
    assert err.value.table == "account_id" and "'lwo'" in str(err.value) and "close matches: low" in str(err.value)
    with pytest.raises(BadInput, match="'future' is not live on 2026-06-30"):
        explain(world, "future", AS_OF)


def test_exported_as_wb_explain(world):
    import workbook.explanation  # noqa: F401
    assert wb.explain is explain
    assert wb.explain(world, "low", AS_OF)["why"].startswith("champion left")


# ---------------------------------------------------------------------------- the sample world
def test_every_red_account_of_the_sample_is_explained(sample_ws):
    table = health.health_table(sample_ws)
    reds = table[table["colour"] == "red"]
    assert len(reds) > 0
    lines = why_lines(sample_ws, table)
    for a in reds["account_id"]:
        assert lines[a].strip(), a
        e = explain(sample_ws, a, table=table)
        json.dumps(e, allow_nan=False)
        assert e["colour"] == "red" and e["sentences"][0].startswith(e["computed_colour"].capitalize())
        if e["computed_colour"] != "green":
            assert e["move_up"]["target_colour"] in ("amber", "green")
        assert e["score"] == pytest.approx(sum(v["points"] for v in e["dimensions"].values()))


def test_weekly_risks_and_dashboard_reds_carry_the_why(sample_dir, sample_ws):
    from pagetables import tables as read_tables
    from workbook import reporting
    for cls in (reporting.Weekly, reporting.Dashboard):
        rep = cls(data=sample_dir)
        try:
            section = rep.risks() if cls is reporting.Weekly else rep.red_accounts()
            rows = read_tables(str(section))[0]["rows"]
            reds = rep.reds()
            lines = why_lines(sample_ws, reds, rep.as_of)
            assert [r["Why"] for r in rows] == lines.iloc[:len(rows)].tolist()
            assert {"Account", "Owner", "ARR", "Score", "Lowest dimension"} <= set(rows[0])
        finally:
            rep.close()


def test_a_source_with_only_usage_and_milestones(tmp_path):
    """No touchpoints, surveys, outcomes, contacts or overrides: those dimensions have no data.
    low is the only account using the product: no other account gives a module norm, so any use
    is deep (depth 1), and the frequency benchmark is low's own share (ratio 1 -> 1): adoption
    (1/6 + 2 + 1) / 4 = 0.791667; outcomes = first value alone = 1 (no outcomes table).
    score = (30 * 0.791667 + 20 * 1) / 50 = 87.5 -> green, coverage 0.5."""
    t = tables()
    usage = [u for u in t["usage"] if u["account_id"] == "low"]
    ws = open_data(write_world(tmp_path / "w", ACCOUNTS, usage=usage, milestones=t["milestones"]))
    try:
        e = explain(ws, "low", AS_OF)
        assert e["score"] == pytest.approx((30 * (1 / 6 + 3) / 4 + 20) / 50 * 100)
        assert e["dimensions"]["adoption"]["signals"]["depth_index"] is None           # no norm to compare with
        assert e["computed_colour"] == "green" and e["move_up"] is None and e["coverage"] == pytest.approx(0.5)
        assert [d for d, v in e["dimensions"].items() if v["value"] is None] == ["engagement", "sentiment",
                                                                                 "relationship"]
        assert e["dimensions"]["engagement"]["signals"]["days_since_two_way_touch"] is None
        assert e["why"] == "adoption 0.79 (1 of 6 modules in 28 days)"
        assert e["sentences"][1] == ("Engagement, sentiment, relationship have no data: the weight is spread over "
                                     "the others (coverage 50 %).")
        json.dumps(e, allow_nan=False)
        assert why_lines(ws, health.health_table(ws, AS_OF))["low"] == e["why"]
    finally:
        ws.close()


def test_adoption_depth_hint_by_hand():
    """All 2 contracted modules in use and active on more days than the cohort: only depth can
    close a 0.2 gap. Depth is 2/4 of adoption, so its part must rise by 0.2 / 0.5 = 0.4, from 0.2
    to 0.6: index = exp(ln 0.5 + 0.6 x (ln 1 - ln 0.5)) = 0.5 x 2^0.6 = 0.7579 -> 0.76 (rounded
    up); now 0.5 x 2^0.2 = 0.5743."""
    from workbook.explanation import _action, _settings
    r = {"adoption": 0.55, "contracted_modules": 2, "breadth": 1.0, "adoption_breadth": 1.0,
         "adoption_frequency": 1.0, "adoption_active_share": 0.6, "adoption_bench_active_share": 0.5,
         "adoption_depth": 0.2, "adoption_depth_index": 0.5 * 2 ** 0.2}
    assert _action(r, "adoption", 0.2, _settings()) == ("use its modules more deeply: actions per active user at "
                                                        "0.76 x their norm (now 0.57)")
