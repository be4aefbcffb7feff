"""workbook.health: dimensions, score, colour, overrides, playbooks, drivers, history, CLI.

The hand-built world below is scored on AS_OF = 2026-06-30 (a Tuesday). Every account is SMB and
signed 2026-01-01 unless said otherwise, so all share one cohort (segment SMB, tenure 13+ weeks)
and, with fewer than 5 users in it, the adoption benchmark falls back to the median over every
account that used the product in the window (workbook.adoption). The 28-day usage window ending
on AS_OF is 06-03 .. 06-30; the 90-day engagement window is 04-02 .. 06-30.

  thrive  2 modules, modules X and Y every day 05-01 .. 06-30, 2 users and 20 actions each:
          breadth 1, depth 20/2 = 10 actions per user-day, frequency 28
  mid     4 modules, module X every day 06-10 .. 06-30 (21 days), 1 user, 5 actions:
          breadth 0.25, depth 5, frequency 21
  silent  nothing at all besides the account row
  => benchmark depth = median(10, 5) = 7.5, frequency = median(28, 21) = 24.5

  mid, by hand (constants from params/health.yaml; e(a, h) = 2^(-a/h), a weight halving every h days):
    adoption     breadth 1/4 = 0.25 (28 days).
                 depth: module X at 5 actions per active user (every day, so any recency weights
                 give 5). X has fewer than 5 other users, so the norm is the median over the OTHER
                 accounts of their actions per active user: thrive's 20/2 = 10. index 5/10 = 0.5
                 -> (ln 0.5 - ln 0.5) / (ln 1 - ln 0.5) = 0. (thrive: 10 / mid's 5 = 2 -> 1.)
                 frequency: active-day weights e(age, 28) over the 84 days ending 06-30 (a
                 geometric series: the days of ages 0..n-1 weigh (1 - q^n) / (1 - q), q = 2^(-1/28));
                 mid active at ages 0..20, thrive at 0..60: shares (1 - q^21) / (1 - q^84) = 0.463310
                 and (1 - q^61) / (1 - q^84) = 0.890406; benchmark (cohort and segment have < 5
                 users: all accounts) = their median 0.676858; ratio 0.684501 -> (r - 0.4)/0.6 = 0.474168
                 (1 x 0.25 + 2 x 0 + 1 x 0.474168) / 4                          = 0.181042
    engagement   last two-way touch 06-10 (20 days): recency (90-20)/(90-14)   = 0.921053
                 response: outbound weighted e(age, 60): 06-10 ans (age 20), 06-20 no (10),
                 05-01 ans (60), 05-15 no (46); thrive's 06-20 (10) and 06-15 (15) both answered.
                 prior = pooled SMB rate (e(20)+e(60)+e(10)+e(15)) / (e(20)+e(10)+e(60)+e(46)+e(10)+e(15))
                 = 0.671710; response = (e(20)+e(60) + 10 x prior) / (outbound + 10) = 0.627198
                 attendance: mid 05-01 attended (60), 05-15 not (46); thrive 06-15 attended (15):
                 prior (e(60)+e(15)) / (e(60)+e(46)+e(15)) = 0.695244;
                 (e(60) + 10 x prior) / (e(60)+e(46) + 10)                      = 0.672131
                 0.2 * 0.921053 + 0.4 * 0.627198 + 0.4 * 0.672131              = 0.703942
    sentiment    nps 8 on 06-30 (0.8, weight 1); csat 3 on 03-02 (0.5, weight w1 = 2^(-120/90));
                 ces 7 on 2025-06-01 is 394 days old: outside the 365-day lookback. Prior = pooled
                 SMB value with thrive's nps 10 on 06-01 (weight w2 = 2^(-29/90)):
                 (0.8 + 0.5 w1 + w2) / (1 + w1 + w2) = 0.818625; one prior response added:
                 (0.8 + 0.5 w1 + 0.818625) / (1 + w1 + 1)                      = 0.758099
    outcomes     first_value 02-01 reached -> 1; outcomes: o1 on time (1), o2 late (0), o3 due
                 06-15 missed (0), o4 due later and open (not counted), o5 due later but
                 already achieved 06-01 (1) -> 2/4; 0.4 * 1 + 0.6 * 0.5       = 0.7
    relationship active: c2 user (no start date), c3 decision maker + sponsor; c1 champion left
                 05-01; c4 starts 08-01 (not yet). contacts min(1, 2/2) = 1, champion 0,
                 sponsor 1, roles 2/3: 0.25 + 0 + 0.25 + 0.2 * 2/3             = 0.633333
    score (v1)   30*0.181042 + 20*0.703942 + 15*0.758099 + 20*0.7 + 15*0.633333 = 54.3816 (red)
  thrive: adoption 1, outcomes 1, relationship 1; engagement 0.2 + 0.4 x 0.720171 + 0.4 x 0.718883
          = 0.775622 (two answered touches are little evidence: shrunk toward the prior);
          sentiment (w2 + 0.818625) / (w2 + 1) = 0.899227; score 94.0008 (green).
"""
from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbook import health
from workbook.cli import main
from workbook.contract import TABLES
from workbook.errors import BadInput
from workbook.weights import DIMENSIONS, Weights, load as load_weights
from workbook.workspace import open_data

AS_OF = pd.Timestamp("2026-06-30")
HSET = settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))


# ---------------------------------------------------------------------------- world builder
def write_world(folder: Path, accounts, **tables) -> Path:
    """Write CSV tables: ``accounts`` (dicts; defaults filled) and any other table as row dicts.
    A table passed as None is left out (absent); milestones and usage are always written."""
    folder.mkdir(parents=True, exist_ok=True)
    base = {"name": None, "segment": "SMB", "csm": "cs1", "arr": 1000, "contracted_modules": 2,
            "signed_at": "2026-01-01", "churned_at": ""}
    rows = [{**base, "name": f"Acct {a['account_id']}", **a} for a in accounts]
    tables = {"milestones": [], "usage": [], **tables, "accounts": rows}
    for name, data in tables.items():
        if data is None:
            continue
        cols = [c.name for c in TABLES[name].columns]
        with open(folder / f"{name}.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=cols)
            w.writeheader()
            for r in data:
                w.writerow({c: ("" if r.get(c) is None else r.get(c)) for c in cols})
    return folder


def days(start: str, end: str, step: int = 1) -> list[str]:
    return [d.strftime("%Y-%m-%d") for d in pd.date_range(start, end, freq=f"{step}D")]


def usage_rows(acc: str, dates: list[str], modules=("X",), users=1, actions=1) -> list[dict]:
    return [{"account_id": acc, "date": d, "module": m, "active_users": users, "actions": actions}
            for d in dates for m in modules]


def base_tables() -> dict:
    usage = (usage_rows("thrive", days("2026-05-01", "2026-06-30"), ("X", "Y"), 2, 20)
             + usage_rows("mid", days("2026-06-10", "2026-06-30"), ("X",), 1, 5))
    touch = [
        dict(account_id="thrive", date="2026-06-28", kind="call", direction="inbound"),
        dict(account_id="thrive", date="2026-06-20", kind="email", direction="outbound", responded="true"),
        dict(account_id="thrive", date="2026-06-15", kind="meeting", direction="outbound", responded="true",
             attended="true"),
        dict(account_id="mid", date="2026-06-10", kind="email", direction="outbound", responded="true"),
        dict(account_id="mid", date="2026-06-20", kind="email", direction="outbound", responded="false"),
        dict(account_id="mid", date="2026-05-01", kind="meeting", direction="outbound", responded="true",
             attended="true"),
        dict(account_id="mid", date="2026-05-15", kind="review", direction="outbound", responded="false",
             attended="false"),
        dict(account_id="mid", date="2026-03-01", kind="call", direction="inbound"),
    ]
    surveys = [
        dict(response_id="r1", account_id="thrive", kind="nps", score=10, responded_at="2026-06-01"),
        dict(response_id="r2", account_id="mid", kind="nps", score=8, responded_at="2026-06-30"),
        dict(response_id="r3", account_id="mid", kind="csat", score=3, responded_at="2026-03-02"),
        dict(response_id="r4", account_id="mid", kind="ces", score=7, responded_at="2025-06-01"),
    ]
    milestones = [dict(account_id="thrive", milestone="first_value", reached_at="2026-01-20"),
                  dict(account_id="mid", milestone="first_value", reached_at="2026-02-01")]
    outcomes = [
        dict(account_id="thrive", outcome="t1", due_at="2026-05-01", achieved_at="2026-04-01"),
        dict(account_id="mid", outcome="o1", due_at="2026-04-01", achieved_at="2026-03-20"),
        dict(account_id="mid", outcome="o2", due_at="2026-05-01", achieved_at="2026-05-10"),
        dict(account_id="mid", outcome="o3", due_at="2026-06-15"),
        dict(account_id="mid", outcome="o4", due_at="2026-09-01"),
        dict(account_id="mid", outcome="o5", due_at="2026-09-01", achieved_at="2026-06-01"),
    ]
    contacts = [
        dict(contact_id="t1", account_id="thrive", role="champion", is_executive_sponsor="true",
             started_at="2026-01-01"),
        dict(contact_id="t2", account_id="thrive", role="business_owner", started_at="2026-01-01"),
        dict(contact_id="t3", account_id="thrive", role="user", started_at="2026-01-01"),
        dict(contact_id="c1", account_id="mid", role="champion", started_at="2026-01-01", left_at="2026-05-01"),
        dict(contact_id="c2", account_id="mid", role="user"),
        dict(contact_id="c3", account_id="mid", role="decision_maker", is_executive_sponsor="true",
             started_at="2026-02-01"),
        dict(contact_id="c4", account_id="mid", role="business_owner", started_at="2026-08-01"),
    ]
    overrides = [
        dict(account_id="thrive", colour="red", reason="old worry", author="Ann", set_at="2026-06-01",
             expires_at="2026-06-20"),
        dict(account_id="mid", colour="green", reason="Exec call went well", author="Ann", set_at="2026-05-01"),
        dict(account_id="mid", colour="red", reason="Champion left", author="Bob", set_at="2026-06-15",
             expires_at="2026-07-31"),
        dict(account_id="silent", colour="green", reason="future", author="Cy", set_at="2026-07-01"),
        dict(account_id="new", colour="green", reason="kick-off great", author="Di", set_at="2026-06-29"),
        dict(account_id="new", colour="amber", reason="kick-off slipped", author="Ed", set_at="2026-06-29"),
    ]
    return dict(usage=usage, touchpoints=touch, surveys=surveys, milestones=milestones, outcomes=outcomes,
                contacts=contacts, overrides=overrides)


ACCOUNTS = [
    {"account_id": "thrive"}, {"account_id": "mid", "contracted_modules": 4}, {"account_id": "silent"},
    {"account_id": "new", "signed_at": "2026-06-29"},
    {"account_id": "future", "signed_at": "2026-07-05"},
    {"account_id": "gone", "churned_at": "2026-06-30"},
    {"account_id": "leaving", "churned_at": "2026-07-10"},
]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = write_world(tmp_path_factory.mktemp("health") / "w", ACCOUNTS, **base_tables())
    ws = open_data(d)
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def table(world):
    return health.health_table(world, AS_OF).set_index("account_id")


# ---------------------------------------------------------------------------- dimensions by hand
def test_dimension_scores_by_hand(world):
    dims = health.dimension_scores(world, [AS_OF]).set_index("account_id")
    # live on AS_OF: signed on/before and not churned by it ("gone" churned that day, "future" not signed)
    assert sorted(dims.index) == ["leaving", "mid", "new", "silent", "thrive"]
    mid = dims.loc["mid"]
    q = 2 ** (-1 / 28)                                   # active days of ages 0..n-1 weigh (1 - q^n) / (1 - q)
    share_mid, share_thrive = (1 - q ** 21) / (1 - q ** 84), (1 - q ** 61) / (1 - q ** 84)
    frequency = (share_mid / ((share_mid + share_thrive) / 2) - 0.4) / 0.6
    assert mid["adoption"] == pytest.approx((0.25 + 2 * 0 + frequency) / 4)        # depth index 5/10 = 0.5 -> 0
    assert mid["adoption"] == pytest.approx(0.181042, abs=1e-6)
    e = lambda age: 2 ** (-age / 60)                                                # noqa: E731
    out_mid, ans_mid, out_thrive = e(20) + e(10) + e(60) + e(46), e(20) + e(60), e(10) + e(15)
    prior = (ans_mid + out_thrive) / (out_mid + out_thrive)
    response = (ans_mid + 10 * prior) / (out_mid + 10)
    prior = (e(60) + e(15)) / (e(60) + e(46) + e(15))
    attendance = (e(60) + 10 * prior) / (e(60) + e(46) + 10)
    assert mid["engagement"] == pytest.approx(0.2 * (70 / 76) + 0.4 * response + 0.4 * attendance)
    assert mid["engagement"] == pytest.approx(0.703942, abs=1e-6)
    w_old, w_thrive = 2 ** (-120 / 90), 2 ** (-29 / 90)
    prior = (0.8 + 0.5 * w_old + 1.0 * w_thrive) / (1 + w_old + w_thrive)
    assert mid["sentiment"] == pytest.approx((0.8 + 0.5 * w_old + prior) / (1 + w_old + 1))
    assert mid["outcomes"] == pytest.approx(0.7)
    assert mid["relationship"] == pytest.approx(0.25 + 0.25 + 0.2 * 2 / 3)
    thrive = dims.loc["thrive"]
    assert thrive[["adoption", "outcomes", "relationship"]].tolist() == pytest.approx([1.0] * 3)
    assert thrive["engagement"] == pytest.approx(0.775622, abs=1e-6)
    assert thrive["sentiment"] == pytest.approx((w_thrive + (0.8 + 0.5 * w_old + w_thrive) / (1 + w_old + w_thrive))
                                                / (w_thrive + 1))
    # silent: no usage is a real zero; first value overdue (SMB: 45 days) is a real zero; no
    # touchpoints, surveys or contacts at all is "no data"
    silent = dims.loc["silent"]
    assert silent["adoption"] == 0 and silent["outcomes"] == 0
    assert silent[["engagement", "sentiment", "relationship"]].isna().all()
    # new (signed yesterday) is still onboarding (tests/test_onboarding.py): no plan milestone is
    # due yet (SMB kickoff is due on day 7), so outcomes = plan progress 1 and adoption is 1
    # (usage is not expected before go-live, day 21)
    assert dims.loc["new", "onboarding"] and dims.loc["new", "outcomes"] == 1.0 and dims.loc["new", "adoption"] == 1.0


def test_score_colour_and_columns(table):
    mid = table.loc["mid"]
    expected = (30 * 0.181042 + 20 * 0.703942 + 15 * 0.758099 + 20 * 0.7 + 15 * 0.633333)
    assert mid["score"] == pytest.approx(expected, abs=1e-3)
    assert mid["computed_colour"] == "red" and mid["lowest_dimension"] == "adoption"
    assert mid["coverage"] == pytest.approx(1.0)
    thrive = table.loc["thrive"]
    expected = 30 + 20 * 0.775622 + 15 * 0.899227 + 20 + 15
    assert thrive["score"] == pytest.approx(expected, abs=1e-3) and thrive["colour"] == "green"
    silent = table.loc["silent"]
    # adoption 0 (weight 30) and outcomes 0 (weight 20) have data: coverage 0.5, score 0
    assert silent["coverage"] == pytest.approx(0.5) and silent["score"] == 0 and silent["colour"] == "red"
    spec = ["account_id", "name", "segment", "csm", "arr", "score", "computed_colour", "colour",
            "override_reason", "adoption", "engagement", "sentiment", "outcomes", "relationship", "coverage",
            "lowest_dimension", "change_7d", "override_author", "lifecycle_stage", "archetypes",
            "decline_pattern", "next_review", "recommended_action", "weights_version"]
    assert set(spec) <= set(table.reset_index().columns)
    assert (table["weights_version"] == "v1").all()
    assert "renewal_probability" not in table


def test_overrides_active_expired_competing(table):
    # thrive: red override expired 06-20 -> no effect
    assert table.loc["thrive", "colour"] == "green" and pd.isna(table.loc["thrive", "override_reason"])
    # mid: green (05-01, open) and red (06-15, until 07-31): the latest wins
    mid = table.loc["mid"]
    assert (mid["computed_colour"], mid["colour"]) == ("red", "red")
    assert (mid["override_reason"], mid["override_author"]) == ("Champion left", "Bob")
    # silent: override set after AS_OF does not exist yet
    assert pd.isna(table.loc["silent", "override_reason"])
    # new: two overrides set the same day -> the more cautious colour
    assert table.loc["new", "colour"] == "amber" and table.loc["new", "override_author"] == "Ed"


def test_override_expiry_is_exclusive(world):
    keys = pd.DataFrame({"account_id": ["thrive", "thrive", "mid", "mid"],
                         "date": pd.to_datetime(["2026-06-19", "2026-06-20", "2026-07-30", "2026-07-31"])})
    ov = health.active_overrides(world, keys)
    # active while expires_at > day; on 07-31 the red expires and the older green shows again
    assert ov["override_colour"].fillna("-").tolist() == ["red", "-", "red", "green"]


def test_playbooks_next_review_and_action(table):
    assert table.loc["mid", "next_review"] == AS_OF + pd.Timedelta(days=7)           # final colour red
    assert table.loc["new", "next_review"] == AS_OF + pd.Timedelta(days=14)          # amber
    assert table.loc["thrive", "next_review"] == AS_OF + pd.Timedelta(days=30)       # green
    new = table.loc["new"]
    assert new["lowest_dimension"] in new["recommended_action"]
    assert "Fortnightly" in new["recommended_action"]
    assert "advocacy" in table.loc["thrive", "recommended_action"]
    assert "Intervene this week" in table.loc["silent", "recommended_action"]


def test_thriving_green_silent_red(table):
    assert table.loc["thrive", "computed_colour"] == "green"
    assert table.loc["silent", "computed_colour"] == "red"


def test_point_in_time(tmp_path, world, table):
    """Facts dated after AS_OF change nothing."""
    t = base_tables()
    after = "2026-07-02"
    t["usage"] += usage_rows("silent", days("2026-07-01", "2026-07-20"), ("X", "Y"), 5, 50)
    t["touchpoints"] += [dict(account_id="silent", date=after, kind="call", direction="inbound"),
                         dict(account_id="mid", date=after, kind="email", direction="outbound",
                              responded="true")]
    t["surveys"] += [dict(response_id="r9", account_id="mid", kind="nps", score=0, responded_at=after)]
    t["milestones"] += [dict(account_id="silent", milestone="first_value", reached_at=after)]
    # o3 (due 06-15) achieved late, after AS_OF: still missed on AS_OF; o6 is due and achieved later
    t["outcomes"] = [dict(o, achieved_at=after) if o["outcome"] == "o3" else o for o in t["outcomes"]]
    t["outcomes"] += [dict(account_id="mid", outcome="o6", due_at="2026-07-20", achieved_at=after)]
    t["contacts"] += [dict(contact_id="z", account_id="silent", role="champion", started_at=after)]
    t["overrides"] += [dict(account_id="thrive", colour="red", reason="x", author="y", set_at=after)]
    t["tickets"] = [dict(ticket_id="k1", account_id="mid", opened_at=after, escalated="true")]
    t["advocacy"] = [dict(account_id="thrive", date=after, kind="reference")]
    ws2 = open_data(write_world(tmp_path / "later", ACCOUNTS, **t))
    try:
        later = health.health_table(ws2, AS_OF).set_index("account_id")
    finally:
        ws2.close()
    pd.testing.assert_frame_equal(later, table)


# ---------------------------------------------------------------------------- score properties
dim_value = st.one_of(st.none(), st.floats(0, 1, allow_nan=False))


@st.composite
def weight_sets(draw):
    cuts = sorted(draw(st.lists(st.integers(0, 100), min_size=4, max_size=4)))
    w = [b - a for a, b in zip([0, *cuts], [*cuts, 100])]
    amber = draw(st.integers(0, 99))
    green = draw(st.integers(amber + 1, 100))
    return Weights(dict(zip(DIMENSIONS, w)), float(green), float(amber), version="t")


@given(rows=st.lists(st.tuples(*[dim_value] * 5), min_size=1, max_size=20), w=weight_sets(),
       policy=st.sampled_from(["redistribute", "zero"]))
@settings(max_examples=100, deadline=None)
def test_score_properties(rows, w, policy):
    dims = pd.DataFrame([[np.nan if v is None else v for v in r] for r in rows], columns=list(DIMENSIONS))
    out = health.score_dimensions(dims, w, policy=policy)
    wv = np.array([w.weights[d] for d in DIMENSIONS])
    for i, r in out.iterrows():
        x = dims.loc[i].to_numpy(dtype=float)
        have = ~np.isnan(x)
        cov = wv[have].sum() / 100
        assert r["coverage"] == pytest.approx(cov)
        if policy == "redistribute" and cov == 0:
            assert math.isnan(r["score"]) and pd.isna(r["computed_colour"])
            continue
        assert 0 <= r["score"] <= 100
        weighted = float((wv[have] * x[have]).sum())
        expected = weighted / cov if policy == "redistribute" else weighted
        assert r["score"] == pytest.approx(expected, abs=1e-6)
        if have.all():                                    # full coverage: score = Σ weight × dimension
            assert r["score"] == pytest.approx(float((wv * x).sum()), abs=1e-6)
        colour = "green" if r["score"] >= w.green else "amber" if r["score"] >= w.amber else "red"
        assert r["computed_colour"] == colour
        assert sum(r[f"points_{d}"] for d in DIMENSIONS) == pytest.approx(r["score"], abs=1e-6)


@given(x=st.lists(st.tuples(st.floats(0, 1), *[dim_value] * 4), min_size=1, max_size=10))
@settings(max_examples=40, deadline=None)
def test_adoption_only_weights_give_100_times_adoption(x):
    w = Weights({"adoption": 100, "engagement": 0, "sentiment": 0, "outcomes": 0, "relationship": 0}, 80, 60)
    dims = pd.DataFrame([[np.nan if v is None else v for v in r] for r in x], columns=list(DIMENSIONS))
    out = health.score_dimensions(dims, w)
    assert out["score"].to_numpy() == pytest.approx(100 * dims["adoption"].to_numpy(), abs=1e-9)


def test_adoption_only_weights_file(tmp_path, world):
    path = tmp_path / "a100.yaml"
    path.write_text("weights: {adoption: 100, engagement: 0, sentiment: 0, outcomes: 0, relationship: 0}\n"
                    "thresholds: {green: 80, amber: 60}\n")
    t = health.health_table(world, AS_OF, weights=str(path)).set_index("account_id")
    assert t["score"].to_numpy() == pytest.approx(100 * t["adoption"].to_numpy())
    assert (t["weights_version"] == "a100.yaml").all()
    # zero-weight dimensions are never named lowest: lifting them would not lift the score
    assert (t["lowest_dimension"] == "adoption").all()


def test_missing_data_zero_policy(world):
    dims = health.dimension_scores(world, [AS_OF]).set_index("account_id")
    z = health.score_dimensions(dims, policy="zero")
    # silent: adoption 0 and outcomes 0; engagement, sentiment, relationship missing count as 0
    assert z.loc["silent", "score"] == 0 and z.loc["silent", "coverage"] == pytest.approx(0.5)
    r = health.score_dimensions(dims, policy="redistribute")
    wv = pd.Series({"adoption": 30, "engagement": 20, "sentiment": 15, "outcomes": 20, "relationship": 15})
    new = dims.loc["new", list(wv.index)]
    have = new.notna()
    assert z.loc["new", "score"] == pytest.approx((wv[have] * new[have]).sum())
    assert r.loc["new", "score"] == pytest.approx((wv[have] * new[have]).sum() / wv[have].sum() * 100)


def test_missing_data_policy_from_params(tmp_path, monkeypatch):
    (tmp_path / "health.yaml").write_text("active_weights: v1\nmissing_data: zero\n")
    monkeypatch.setenv("WORKBOOK_PARAMS", str(tmp_path))
    assert health.missing_data_policy() == "zero"
    (tmp_path / "health.yaml").write_text("active_weights: v1\nmissing_data: ignore\n")
    with pytest.raises(BadInput, match="missing_data"):
        health.missing_data_policy()


# ---------------------------------------------------------------------------- monotonicity (hypothesis)
PEERS = [{"account_id": "p1"}, {"account_id": "p2"}]
PEER_USAGE = (usage_rows("p1", days("2026-06-03", "2026-06-30", 2), ("X",), 2, 10)
              + usage_rows("p2", days("2026-06-10", "2026-06-30", 3), ("X", "Y"), 1, 4))


def score_of(folder: Path, accounts, tables) -> float:
    ws = open_data(write_world(folder, accounts, **tables))
    try:
        dims = health.dimension_scores(ws, [AS_OF])
        return float(health.score_dimensions(dims).set_index("account_id").loc["t", "score"])
    finally:
        ws.close()


def rows_strategy():
    day = st.integers(0, 27).map(lambda k: (AS_OF - pd.Timedelta(days=k)).strftime("%Y-%m-%d"))
    return st.lists(st.tuples(day, st.sampled_from("XYZ"), st.integers(1, 4), st.integers(1, 30)),
                    max_size=12, unique_by=lambda r: (r[0], r[1]))


def _fresh(tmp_path_factory):
    return tmp_path_factory.mktemp("mono")


def _target_tables(**over):
    t = {"usage": list(PEER_USAGE)}
    t.update(over)
    return t


@HSET
@given(base=rows_strategy(), extra=st.lists(st.integers(0, 20), min_size=12, max_size=12),
       new=rows_strategy())
def test_more_usage_never_lowers_the_score(tmp_path_factory, base, extra, new):
    acc = [{"account_id": "t", "contracted_modules": 3}, *PEERS]
    rows = [dict(account_id="t", date=d, module=m, active_users=u, actions=a) for d, m, u, a in base]
    more = [dict(r, actions=r["actions"] + e) for r, e in zip(rows, extra)]
    # more usage: more actions on the same rows, plus new days/modules at the busiest row's intensity
    if more:
        top = max(more, key=lambda r: r["actions"] / r["active_users"])
        seen = {(r["date"], r["module"]) for r in more}
        more += [dict(top, date=d, module=m) for d, m, _, _ in new if (d, m) not in seen]
    root = _fresh(tmp_path_factory)
    before = score_of(root / "a", acc, _target_tables(usage=PEER_USAGE + rows))
    after = score_of(root / "b", acc, _target_tables(usage=PEER_USAGE + more))
    assert after >= before - 1e-9


touch_strategy = st.lists(st.tuples(st.integers(0, 120), st.sampled_from(["email", "call", "meeting", "review"]),
                                    st.sampled_from(["outbound", "inbound"]), st.booleans(), st.booleans()),
                          min_size=1, max_size=10)


@HSET
@given(touches=touch_strategy, flips=st.lists(st.booleans(), min_size=10, max_size=10))
def test_more_responses_never_lower_the_score(tmp_path_factory, touches, flips):
    acc = [{"account_id": "t"}, *PEERS]

    def rows(flip):
        out = []
        for (k, kind, direction, responded, attended), f in zip(touches, flips):
            r = dict(account_id="t", date=(AS_OF - pd.Timedelta(days=k)).strftime("%Y-%m-%d"), kind=kind,
                     direction=direction, attended=str(attended).lower() if kind in ("meeting", "review") else "")
            if direction == "outbound":
                r["responded"] = "true" if (responded or (flip and f)) else "false"
            out.append(r)
        return out
    root = _fresh(tmp_path_factory)
    before = score_of(root / "a", acc, _target_tables(touchpoints=rows(False)))
    after = score_of(root / "b", acc, _target_tables(touchpoints=rows(True)))
    assert after >= before - 1e-9


outcome_strategy = st.lists(st.tuples(st.integers(-150, 150), st.one_of(st.none(), st.integers(-60, 60))),
                            min_size=1, max_size=8)


@HSET
@given(outs=outcome_strategy, achieve=st.lists(st.tuples(st.booleans(), st.integers(0, 60)), min_size=8, max_size=8),
       fv=st.one_of(st.none(), st.integers(0, 170)))
def test_more_achieved_outcomes_never_lower_the_score(tmp_path_factory, outs, achieve, fv):
    acc = [{"account_id": "t"}, *PEERS]
    ms = [] if fv is None else [dict(account_id="t", milestone="first_value",
                                     reached_at=(pd.Timestamp("2026-01-01") + pd.Timedelta(days=fv)).strftime("%Y-%m-%d"))]

    def rows(more):
        out = []
        for i, ((due_k, ach_k), (go, early)) in enumerate(zip(outs, achieve)):
            due = AS_OF + pd.Timedelta(days=due_k)
            ach = None if ach_k is None else due + pd.Timedelta(days=ach_k)
            if more and go and ach is None:       # achieve an open outcome on or before its due date
                ach = due - pd.Timedelta(days=early)
            out.append(dict(account_id="t", outcome=f"o{i}", due_at=due.strftime("%Y-%m-%d"),
                            achieved_at=None if ach is None else max(ach, pd.Timestamp("2026-01-01")).strftime("%Y-%m-%d")))
        return out
    root = _fresh(tmp_path_factory)
    before = score_of(root / "a", acc, _target_tables(outcomes=rows(False), milestones=ms))
    after = score_of(root / "b", acc, _target_tables(outcomes=rows(True), milestones=ms))
    assert after >= before - 1e-9


contact_strategy = st.lists(st.tuples(st.sampled_from(["champion", "decision_maker", "business_owner", "user"]),
                                      st.booleans(), st.integers(0, 150), st.one_of(st.none(), st.integers(1, 200))),
                            min_size=1, max_size=6)


@HSET
@given(base=contact_strategy, added=st.lists(st.tuples(st.sampled_from(["champion", "decision_maker",
                                                                        "business_owner", "user"]),
                                                        st.booleans()), min_size=1, max_size=4))
def test_more_active_stakeholders_never_lower_the_score(tmp_path_factory, base, added):
    acc = [{"account_id": "t"}, *PEERS]
    start = pd.Timestamp("2026-01-01")
    rows = []
    for i, (role, sponsor, s, length) in enumerate(base):
        left = None if length is None else (start + pd.Timedelta(days=s + length)).strftime("%Y-%m-%d")
        rows.append(dict(contact_id=f"c{i}", account_id="t", role=role, is_executive_sponsor=str(sponsor).lower(),
                         started_at=(start + pd.Timedelta(days=s)).strftime("%Y-%m-%d"), left_at=left))
    more = rows + [dict(contact_id=f"n{i}", account_id="t", role=role, is_executive_sponsor=str(sp).lower(),
                        started_at="2026-03-01") for i, (role, sp) in enumerate(added)]
    root = _fresh(tmp_path_factory)
    before = score_of(root / "a", acc, _target_tables(contacts=rows))
    after = score_of(root / "b", acc, _target_tables(contacts=more))
    assert after >= before - 1e-9


@HSET
@given(usage=rows_strategy(), touches=touch_strategy, outs=outcome_strategy, contacts=contact_strategy,
       surveys=st.lists(st.tuples(st.sampled_from(["nps", "onboarding_nps", "csat", "ces"]), st.integers(0, 10),
                                  st.integers(0, 400)), max_size=5))
def test_dimensions_within_0_1_and_score_within_0_100(tmp_path_factory, usage, touches, outs, contacts, surveys):
    acc = [{"account_id": "t", "contracted_modules": 2}, *PEERS]
    scale = {"nps": (0, 10), "onboarding_nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
    t = _target_tables(
        usage=PEER_USAGE + [dict(account_id="t", date=d, module=m, active_users=u, actions=a) for d, m, u, a in usage],
        touchpoints=[dict(account_id="t", date=(AS_OF - pd.Timedelta(days=k)).strftime("%Y-%m-%d"), kind=kind,
                          direction=dr, responded=str(r).lower(), attended=str(a).lower())
                     for k, kind, dr, r, a in touches],
        outcomes=[dict(account_id="t", outcome=f"o{i}", due_at=(AS_OF + pd.Timedelta(days=d)).strftime("%Y-%m-%d"),
                       achieved_at=None if a is None else
                       max(AS_OF + pd.Timedelta(days=d + a), pd.Timestamp("2026-01-01")).strftime("%Y-%m-%d"))
                  for i, (d, a) in enumerate(outs)],
        contacts=[dict(contact_id=f"c{i}", account_id="t", role=r, is_executive_sponsor=str(sp).lower(),
                       started_at=(pd.Timestamp("2026-01-01") + pd.Timedelta(days=s)).strftime("%Y-%m-%d"))
                  for i, (r, sp, s, _) in enumerate(contacts)],
        surveys=[dict(response_id=f"r{i}", account_id="t", kind=k,
                      score=min(max(v, scale[k][0]), scale[k][1]),
                      responded_at=(AS_OF - pd.Timedelta(days=age)).strftime("%Y-%m-%d"))
                 for i, (k, v, age) in enumerate(surveys)])
    ws = open_data(write_world(_fresh(tmp_path_factory) / "w", acc, **t))
    try:
        dims = health.dimension_scores(ws, [AS_OF - pd.Timedelta(days=40), AS_OF])
        x = dims[list(DIMENSIONS)].to_numpy(dtype=float)
        assert np.all((x[~np.isnan(x)] >= 0) & (x[~np.isnan(x)] <= 1))
        s = health.score_dimensions(dims)["score"].dropna()
        assert ((s >= 0) & (s <= 100)).all()
    finally:
        ws.close()


# ---------------------------------------------------------------------------- history and drivers
def test_history_matches_single_dates(world):
    hist = health.history(world, "2026-06-10", AS_OF)
    # weekly points back from the end, not before the start
    assert sorted(hist["date"].unique()) == list(pd.to_datetime(["2026-06-16", "2026-06-23", "2026-06-30"]))
    for d in hist["date"].unique():
        one = health.score_dimensions(health.dimension_scores(world, [d]))
        mine = hist[hist["date"] == d].set_index("account_id")
        one = one.set_index("account_id")
        assert mine["score"].to_numpy() == pytest.approx(one.loc[mine.index, "score"].to_numpy(), nan_ok=True)
    last = hist[hist["date"] == AS_OF].set_index("account_id")
    assert last.loc["mid", "colour"] == "red" and last.loc["mid", "computed_colour"] == "red"


def test_history_dates():
    assert health.history_dates("2026-06-01", "2026-06-30", "D")[0] == pd.Timestamp("2026-06-01")
    assert len(health.history_dates("2026-04-01", "2026-06-30", "W")) == 13
    assert health.history_dates("2026-04-15", "2026-06-30", "M") == list(
        pd.to_datetime(["2026-04-30", "2026-05-31", "2026-06-30"]))
    with pytest.raises(BadInput):
        health.history_dates("2026-07-01", "2026-06-30")


def test_drivers_sum_to_change_and_waterfall(world, table):
    drv = health.drivers(world, AS_OF).set_index("account_id")
    contrib = drv[[f"contribution_{d}" for d in DIMENSIONS]].sum(axis=1)
    ok = drv["change"].notna()
    assert contrib[ok].to_numpy() == pytest.approx(drv.loc[ok, "change"].to_numpy())
    assert drv.loc["mid", "change"] == pytest.approx(table.loc["mid", "change_7d"])
    # "new" (signed 06-29) was not live 7 days before
    assert math.isnan(table.loc["new", "change_7d"]) and math.isnan(drv.loc["new", "change"])
    wf = health.waterfall(drv.reset_index(), "mid")
    assert wf["step"].tolist() == ["score before", *DIMENSIONS, "score now"]
    assert wf["end"].iloc[-2] == pytest.approx(wf["points"].iloc[-1])


def test_drivers_by_hand(tmp_path):
    """Only sentiment changes between 06-23 and 06-30: a detractor answers on 06-25.

    Before: one nps 10 on 06-01 -> sentiment 1. After: nps 10 (age 29 days, weight 2^(-29/90))
    and nps 0 (age 5, weight 2^(-5/90)) -> sentiment = w29 / (w29 + w5).
    Other dimensions: adoption 1 both days (steady usage), no other tables.
    """
    acc = [{"account_id": "a", "contracted_modules": 1}]
    t = dict(usage=usage_rows("a", days("2026-05-01", "2026-06-30"), ("X",), 1, 3),
             surveys=[dict(response_id="1", account_id="a", kind="nps", score=10, responded_at="2026-06-01"),
                      dict(response_id="2", account_id="a", kind="nps", score=0, responded_at="2026-06-25")],
             milestones=[dict(account_id="a", milestone="first_value", reached_at="2026-01-10")])
    ws = open_data(write_world(tmp_path / "w", acc, **t))
    try:
        drv = health.drivers(ws, AS_OF).set_index("account_id").loc["a"]
    finally:
        ws.close()
    w29, w5 = 2 ** (-29 / 90), 2 ** (-5 / 90)
    sent = w29 / (w29 + w5)
    # weights present: adoption 30, sentiment 15, outcomes 20 (first value reached) -> coverage 0.65
    assert drv["score_before"] == pytest.approx(100.0)
    assert drv["contribution_sentiment"] == pytest.approx(100 * 15 / 65 * (sent - 1))
    assert drv["contribution_adoption"] == pytest.approx(0) and drv["contribution_outcomes"] == pytest.approx(0)
    assert drv["change"] == pytest.approx(100 * 15 / 65 * (sent - 1))


# ---------------------------------------------------------------------------- calibration map
def test_renewal_probability_from_calibration_map(tmp_path, world, table):
    probs = [round(1 - s / 100, 4) for s in range(101)]           # churn 1.0 at score 0 .. 0.0 at 100
    path = tmp_path / "cal.yaml"
    path.write_text("weights: {adoption: 30, engagement: 20, sentiment: 15, outcomes: 20, relationship: 15}\n"
                    "thresholds: {green: 80, amber: 60}\n"
                    f"calibration: {{horizon_days: 90, churn_probability: {json.dumps(probs)}}}\n")
    t = health.health_table(world, AS_OF, weights=str(path)).set_index("account_id")
    s = t.loc["mid", "score"]                                         # 54.38 -> index 54
    assert t.loc["mid", "renewal_probability"] == pytest.approx(1 - probs[54])
    assert s == pytest.approx(table.loc["mid", "score"])
    assert t.loc["thrive", "renewal_probability"] == pytest.approx(1 - probs[94])   # 94.00 -> index 94
    cols = t.reset_index().columns.tolist()                           # SPEC's columns stay first
    assert cols.index("renewal_probability") == cols.index("change_7d") + 1
    w = load_weights(path)
    assert health.renewal_probability([62.5, 62.49], w) == pytest.approx([1 - probs[63], 1 - probs[62]])


def test_bad_calibration_map_refused(tmp_path):
    path = tmp_path / "cal.yaml"
    path.write_text("weights: {adoption: 30, engagement: 20, sentiment: 15, outcomes: 20, relationship: 15}\n"
                    "thresholds: {green: 80, amber: 60}\ncalibration: {horizon_days: 90, churn_probability: [0.5]}\n")
    with pytest.raises(BadInput, match="101"):
        health.renewal_probability([50.0], load_weights(path))


# ---------------------------------------------------------------------------- command line
@pytest.fixture(scope="module")
def world_dir(tmp_path_factory):
    return write_world(tmp_path_factory.mktemp("cli") / "w", ACCOUNTS, **base_tables())


def test_cli_csv(world_dir, capsys):
    assert main(["health", "--data", str(world_dir), "--as-of", "2026-06-30", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    df = pd.read_csv(pd.io.common.StringIO(out))
    spec = ["account_id", "name", "segment", "csm", "arr", "score", "computed_colour", "colour",
            "override_reason", "adoption", "engagement", "sentiment", "outcomes", "relationship", "coverage",
            "lowest_dimension", "change_7d"]
    assert df.columns[:len(spec)].tolist() == spec
    assert len(df) == 5 and df["account_id"].is_unique
    mid = df.set_index("account_id").loc["mid"]
    assert mid["colour"] == "red" and mid["override_reason"] == "Champion left"


def test_cli_json_and_table(world_dir, capsys):
    assert main(["health", "--data", str(world_dir), "--as-of", "2026-06-30", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["account_id"] for r in rows} == {"thrive", "mid", "silent", "new", "leaving"}
    assert all(r["next_review"] is None or len(r["next_review"]) == 10 for r in rows)
    assert main(["health", "--data", str(world_dir), "--as-of", "2026-06-30"]) == 0
    assert "weights v1" in capsys.readouterr().out


@pytest.mark.parametrize("text, message", [
    ("weights: {adoption: 30, engagement: 20, sentiment: 15, outcomes: 20, relationship: 10}\n"
     "thresholds: {green: 80, amber: 60}\n", "sum to 100"),
    ("weights: {adoption: -10, engagement: 40, sentiment: 15, outcomes: 40, relationship: 15}\n"
     "thresholds: {green: 80, amber: 60}\n", ">= 0"),
    ("weights: {adoption: 30.5, engagement: 19.5, sentiment: 15, outcomes: 20, relationship: 15}\n"
     "thresholds: {green: 80, amber: 60}\n", "whole number"),
    ("weights: {adoption: 30, engagement: 20, sentiment: 15, outcomes: 20, relationship: 15}\n"
     "thresholds: {green: 60, amber: 80}\n", "amber < green"),
    ("weights: {adoption: 30, engagement: 20, sentiment: 15, outcomes: 20, relationship: 15}\n"
     "thresholds: {green: 120, amber: 60}\n", "<= 100"),
    ("weights: [1, 2]\n", "mapping"),
    ("weights: {adoption: 30, engagement: 20, sentiment: 15, outcomes: 20, relationship: 15}\n"
     "thresholds: {green: 80, amber: 60}\ncalibration: {churn_probability: [0.1, 0.2]}\n", "101"),
])
def test_cli_bad_weights_exit_2(tmp_path, world_dir, capsys, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert main(["health", "--data", str(world_dir), "--weights", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "bad.yaml" in err and "Traceback" not in err


def test_cli_missing_weights_file_exit_2(world_dir, capsys):
    assert main(["health", "--data", str(world_dir), "--weights", "/nonexistent/w.yaml"]) == 2
    assert "does not exist" in capsys.readouterr().err


# ---------------------------------------------------------------------------- the sample world
def test_sample_world(sample_ws):
    t = health.health_table(sample_ws)
    assert t["account_id"].is_unique and len(t) > 100
    assert t["colour"].nunique() >= 2                                  # not all one colour
    assert t["score"].between(0, 100).all() and t["coverage"].between(0, 1).all()
    x = t[list(DIMENSIONS)].to_numpy(dtype=float)
    assert np.nanmin(x) >= 0 and np.nanmax(x) <= 1
    scen = sample_ws.sql("SELECT account_id, scenario FROM raw_accounts")
    m = t.merge(scen, on="account_id")
    declining, healthy = m[m["scenario"] == "declining"], m[m["scenario"] == "healthy"]
    assert len(declining) >= 3 and len(healthy) >= 30
    # the declining story shows: lower scores, more amber/red, and the decline pattern
    assert declining["score"].mean() < healthy["score"].mean()
    not_green = lambda df: df["computed_colour"].isin(["amber", "red"]).mean()  # noqa: E731
    assert not_green(declining) > not_green(healthy)
    assert declining["decline_pattern"].mean() > 0.5 > healthy["decline_pattern"].mean()


def test_ratio_to_benchmark_curve():
    """0 at or below 0.4 x benchmark, 1 at the benchmark and above, linear between; a benchmark of
    0 (nobody in the cohort used the product) gives 1 to any use and 0 to none."""
    value = np.array([0.0, 2.0, 4.0, 7.0, 10.0, 30.0, 3.0, 0.0])
    bench = np.array([10, 10, 10, 10, 10, 10, 0, 0], dtype=float)
    got = health._ratio_to_benchmark(value, bench, 0.4, 1.0)
    assert got == pytest.approx([0, 0, 0, 0.5, 1, 1, 1, 0])


# ---------------------------------------------------------------------------- any valid weights, any source
@pytest.fixture(scope="module")
def product_ws(tmp_path_factory):
    """A small product world: only accounts, milestones and usage (three dimensions have no data)."""
    from product_world import write_product_world
    ws = open_data(write_product_world(tmp_path_factory.mktemp("pw"), accounts=60, seed=3, churn_signal="none"))
    yield ws
    ws.close()


@st.composite
def valid_weight_files(draw):
    """Any weights file that passes validation: non-negative integers summing to 100 (zeros
    included, often) and ordered thresholds within 0..100."""
    cuts = sorted(draw(st.lists(st.integers(0, 100), min_size=4, max_size=4)))
    bounds = [0, *cuts, 100]
    w = dict(zip(DIMENSIONS, (b - a for a, b in zip(bounds, bounds[1:]))))
    amber = draw(st.integers(0, 99))
    green = draw(st.integers(amber + 1, 100))
    return Weights(w, float(green), float(amber), path="proposal")


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(w=valid_weight_files())
def test_any_valid_weights_score_a_product_world(product_ws, w):
    """Weights that `calibrate` may propose (say 0 on the only measured dimension) never crash the
    health table, its signals or alerts; scores stay within 0..100 and colours follow the thresholds.
    An account none of whose weighted dimensions has data is unscored (score and colour null,
    coverage 0) rather than given a number the data does not support."""
    t = health.health_table(product_ws, None, w)
    assert len(t) > 0
    assert t[["engagement", "sentiment", "relationship"]].isna().all().all()
    s = t["score"].to_numpy(dtype="float64")
    scored = ~np.isnan(s)
    assert ((s[scored] >= 0) & (s[scored] <= 100)).all()
    cov = t["coverage"].to_numpy(dtype="float64")
    assert (cov[~scored] == 0).all() and (cov[scored] > 0).all()
    expect = np.where(s >= w.green, "green", np.where(s >= w.amber, "amber", "red"))
    got = t["computed_colour"].astype(object).to_numpy()
    assert (got[scored] == expect[scored]).all()
    assert pd.isna(got[~scored]).all()
    assert t["alert"].dtype == bool
    if w.weights["adoption"] + w.weights["outcomes"] == 0:
        assert not scored.any()


def test_alerts_skip_unscored_points():
    """The alerts' look-back ignores weekly points without a score (it crashed on an all-null group)."""
    from workbook.signals import score_alerts
    d = pd.Timestamp("2026-06-30")
    week = pd.Timedelta(days=7)
    scores = pd.DataFrame({"account_id": ["a", "a", "b", "b", "b"],
                           "date": [d, d - week, d, d - week, d - 2 * week],
                           "score": [50.0, np.nan, 40.0, 70.0, np.nan],
                           "arr": [200_000.0] * 5})
    out = score_alerts(scores, d).set_index("account_id")
    assert np.isnan(out.loc["a", "score_peak"]) and not out.loc["a", "alert"]
    assert out.loc["b", "score_peak"] == 70.0 and out.loc["b", "alert"]
    assert out.loc["b", "alert_reason"] == "score fell 30.0 points since 2026-06-23 (ARR 200,000)"


def test_cli_table_names_measured_dimensions_and_coverage(tmp_path, capsys):
    """With only accounts, milestones and usage, the table output says on stderr which dimensions
    are measured and the mean coverage (v1: adoption 30 + outcomes 20 = 50 % where both have data)."""
    from product_world import write_product_world
    src = write_product_world(tmp_path / "pw", accounts=40, seed=5)
    assert main(["health", "--data", str(src), "--format", "csv"]) == 0
    table = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    assert list(table.columns[:17]) == ["account_id", "name", "segment", "csm", "arr", "score", "computed_colour",
                                        "colour", "override_reason", *DIMENSIONS, "coverage", "lowest_dimension",
                                        "change_7d"]
    expect_cov = ((table["adoption"].notna() * 30 + table["outcomes"].notna() * 20) / 100).mean()
    assert main(["health", "--data", str(src)]) == 0
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (f"measured: adoption, outcomes (coverage {round(100 * expect_cov)} %) — engagement, sentiment, "
                   "relationship have no data in this source")


def test_measured_text_all_dimensions_and_unscored():
    t = pd.DataFrame({d: [0.5, np.nan] for d in DIMENSIONS} | {"coverage": [1.0, 0.0], "score": [50.0, np.nan]})
    assert health.measured_text(t) == ("measured: adoption, engagement, sentiment, outcomes, relationship "
                                       "(coverage 50 %); 1 account not scored (no weighted dimension has data)")
    assert health.measured(t.iloc[:0])["coverage"] is None


# ---------------------------------------------------------------------------- colours on an earlier day
def test_colours_on_the_day_change_7d_looks_back_to(tmp_path):
    """Thresholds green 75, amber 50; the day is 06-23 (7 days before a health table of 06-30).

    a  80 − 5    = 75: green (exactly on the threshold)
    b  60 − 20   = 40: red by the formula, but an amber override set 06-01 (no expiry) is active: amber
    c  50 − NaN: not scored then: None, although an override is active that day
    d  70 − 20   = 50: amber; its override expired 06-22 (before the day) and one set 06-25 (after
       the day) is not active yet
    """
    folder = write_world(tmp_path / "w", [dict(account_id=a) for a in "abcd"], overrides=[
        dict(account_id="b", colour="amber", reason="call", author="Ann", set_at="2026-06-01"),
        dict(account_id="c", colour="green", reason="call", author="Ann", set_at="2026-06-01"),
        dict(account_id="d", colour="red", reason="old", author="Bob", set_at="2026-05-01", expires_at="2026-06-22"),
        dict(account_id="d", colour="green", reason="new", author="Bob", set_at="2026-06-25"),
    ], usage=usage_rows("a", ["2026-06-30"]))
    table = pd.DataFrame({"account_id": list("abcd"), "score": [80.0, 60.0, 50.0, 70.0],
                          "change_7d": [5.0, 20.0, np.nan, 20.0]}, index=[10, 11, 12, 13])
    w = Weights(dict(zip(DIMENSIONS, (30, 20, 15, 20, 15))), 75.0, 50.0)
    with open_data(folder) as ws:
        out = health.colours_on(ws, table, w, "2026-06-23")
    assert out.to_dict() == {10: "green", 11: "amber", 12: None, 13: "amber"}


def test_score_and_colour_come_from_scoring():
    """health scores and colours with workbook.scoring: one formula, one colour rule."""
    from workbook import scoring
    dims = pd.DataFrame({"adoption": [1.0, np.nan, np.nan], "engagement": [0.5, 0.5, np.nan],
                         "sentiment": [np.nan] * 3, "outcomes": [0.0, 1.0, np.nan], "relationship": [1.0, 1.0, np.nan]})
    w = Weights(dict(zip(DIMENSIONS, (30, 20, 15, 20, 15))), 75.0, 50.0)
    out = health.score_dimensions(dims, w, policy="redistribute")
    pts, score, cov = scoring.points(dims.to_numpy(), w, "redistribute")
    np.testing.assert_array_equal(out["score"].to_numpy(), score)
    # row 0: (30·1 + 20·0.5 + 20·0 + 15·1) / 85 · 100 = 64.705882353 (amber); row 1: 45 / 55 · 100 = 81.8 (green)
    assert out.loc[0, "score"] == pytest.approx(5500 / 85) and out.loc[0, "coverage"] == pytest.approx(0.85)
    assert out["computed_colour"].tolist() == ["amber", "green", pd.NA]
    assert health.colours([75.0, 74.999, np.nan], w).tolist() == ["green", "amber", pd.NA]
    assert w.colour(75.0) == scoring.colour(75.0, 75.0, 50.0) == "green"
    assert health.missing_data_policy is scoring.missing_data_policy
    assert health.COLOURS is scoring.COLOURS and DIMENSIONS is scoring.DIMENSIONS


# ---------------------------------------------------------------------------- signal constructions (issue 13)
def test_leave_one_out_median_by_hand():
    """Each row's benchmark is the median of the OTHER rows of its group (an account never moves
    its own norm): group 0 = 1, 2, 3, 10; group 1 = 5, 7; group 2 = 9 alone."""
    codes = np.array([0, 0, 0, 0, 1, 1, 2])
    values = np.array([1.0, 2.0, 3.0, 10.0, 5.0, 7.0, 9.0])
    med, others = health._loo_median(codes, values)
    # 1 -> median(2, 3, 10) = 3; 2 -> median(1, 3, 10) = 3; 3 -> median(1, 2, 10) = 2; 10 -> median(1, 2, 3) = 2
    assert med[:6].tolist() == [3.0, 3.0, 2.0, 2.0, 7.0, 5.0] and np.isnan(med[6])
    assert others.tolist() == [3, 3, 3, 3, 1, 1, 0]
    # an even number of others averages the middle two: 4 -> median(1, 2, 3, 10) = 2.5
    med, _ = health._loo_median(np.zeros(5, dtype=int), np.array([1.0, 2.0, 3.0, 10.0, 4.0]))
    assert med[4] == pytest.approx(2.5)


def test_log_ratio_part_curve():
    """depth part: 0 at or below 0.5 x the norm, 1 at the norm and above, linear in log(ratio):
    ratio 1/sqrt(2) sits half-way; no use (0) scores 0, use without any norm (inf) scores 1."""
    ratio = np.array([0.0, 0.25, 0.5, 2 ** -0.5, 1.0, 4.0, np.inf])
    assert health._log_ratio_part(ratio, 0.5, 1.0) == pytest.approx([0, 0, 0, 0.5, 1, 1, 1])


def test_decay_calendar_weights_by_hand():
    """A day `age` days back weighs 0.5 ** (age / half-life); active days use their own half-life
    and count weekend_weight on Saturdays and Sundays (2026-06-27 is a Saturday)."""
    from workbook.adoption import decay_calendar
    cal = decay_calendar([pd.Timestamp("2026-06-30")], days=14, half_life_days=7, weekend_weight=0.3,
                         day_half_life_days=14).set_index("age")
    assert len(cal) == 14 and cal.loc[0, "day"] == pd.Timestamp("2026-06-30")
    assert cal.loc[7, "weight"] == pytest.approx(0.5) and cal.loc[7, "day_weight"] == pytest.approx(2 ** -0.5)
    assert cal.loc[3, "day"] == pd.Timestamp("2026-06-27")
    assert cal.loc[3, "weight"] == pytest.approx(0.5 ** (3 / 7))
    assert cal.loc[3, "day_weight"] == pytest.approx(0.3 * 0.5 ** (3 / 14))


def test_shrunk_rate_with_known_counts():
    """(hits + k x prior) / (trials + k) with the pooled rate of the same date and segment as the
    prior; no trials: no rate. SMB prior (1 + 3) / (1 + 4) = 0.8; Enterprise 2 / 5 = 0.4; k = 10."""
    g = pd.DataFrame({"date": pd.Timestamp("2026-06-30"), "segment": ["SMB", "SMB", "SMB", "Enterprise"]})
    got = health._shrunk_rate(g, np.array([1.0, 3.0, 0.0, 2.0]), np.array([1.0, 4.0, 0.0, 5.0]), 10)
    assert got[0] == pytest.approx((1 + 10 * 0.8) / (1 + 10))          # one answered touch: 0.818, not 1.0
    assert got[1] == pytest.approx((3 + 10 * 0.8) / (4 + 10))          # 0.786
    assert np.isnan(got[2])
    assert got[3] == pytest.approx((2 + 10 * 0.4) / (5 + 10))          # 0.4: at the prior, stays there
    # more evidence at the same rate moves away from the prior: 30 of 40 -> (30 + 8) / 50 = 0.76
    more = health._shrunk_rate(g, np.array([1.0, 30.0, 0.0, 2.0]), np.array([1.0, 40.0, 0.0, 5.0]), 10)
    assert more[1] == pytest.approx((30 + 10 * (31 / 41)) / 50)


def _two_module_world(tmp_path):
    peers = [f"p{i}" for i in range(1, 7)]
    window = days("2026-06-03", "2026-06-30")
    usage = [r for p in peers for r in usage_rows(p, window, ("X",), 1, 20) + usage_rows(p, window, ("Y",), 1, 5)]
    usage += usage_rows("t", window, ("X", "Y"), 1, 10) + usage_rows("y", window, ("Y",), 1, 5)
    accounts = [{"account_id": a} for a in [*peers, "t", "y"]]
    ws = open_data(write_world(tmp_path / "w", accounts, usage=usage))
    try:
        return health.dimension_parts(ws, [AS_OF]).set_index("account_id")
    finally:
        ws.close()


def test_common_depth_norm_on_a_two_module_account(tmp_path):
    """The default (depth_norm: common): one norm, the median over the OTHER accounts of their
    actions per user over all modules. Peers 12.5 each ((20 + 5) / 2), t 10, y 5.
    t: others 12.5 x 6 and 5 -> norm 12.5; X 10/12.5 = Y 10/12.5 = 0.8 -> index 0.8 ->
       depth part ln(0.8/0.5) / ln(1/0.5) = 0.678072 (0 at half the norm, 1 at the norm, log-linear);
    y: others 12.5 x 6 and 10 -> 12.5; 5/12.5 = 0.4 -> part 0;
    p1: others 12.5 x 5, 10, 5 -> 12.5; X 20/12.5 = 1.6, Y 5/12.5 = 0.4, same user-days ->
       index sqrt(1.6 x 0.4) = 0.8."""
    p = _two_module_world(tmp_path)
    assert p.loc["t", "adoption_depth_index"] == pytest.approx(0.8)
    assert p.loc["y", "adoption_depth_index"] == pytest.approx(0.4)
    assert p.loc["p1", "adoption_depth_index"] == pytest.approx(0.8)
    assert p.loc["t", "adoption_depth"] == pytest.approx(math.log(1.6) / math.log(2))
    assert p.loc["y", "adoption_depth"] == 0


def test_module_normalised_depth_on_a_two_module_account(tmp_path, params):
    """depth_norm: module. Modules differ in intrinsic intensity: six peers use X at 20 actions per user and Y at 5,
    every day 06-03 .. 06-30. t uses X at 10 (half X's norm) and Y at 10 (twice Y's norm); y uses
    only Y at 5. Each module is compared with the median of the OTHER accounts using it (at least
    5 do): t: X 10/20 = 0.5, Y 10/5 = 2, same user-days -> index exp((ln 0.5 + ln 2) / 2) = 1 ->
    depth part 1; y: Y 5 / median(5 x 6, 10) = 1 -> 1; a peer: X 20 / median(20 x 5, 10) = 1, Y 1.
    Raw actions per user-day would have said 10 and 5 against the peers' 12.5 (parts 0.67 and 0)."""
    cfg = params / "health.yaml"
    cfg.write_text(cfg.read_text().replace("depth_norm: common", "depth_norm: module"))
    p = _two_module_world(tmp_path)
    assert p.loc["t", "adoption_depth_index"] == pytest.approx(1.0)
    assert p.loc["y", "adoption_depth_index"] == pytest.approx(1.0)
    assert p.loc["p1", "adoption_depth_index"] == pytest.approx(1.0)
    assert p.loc[["t", "y", "p1"], "adoption_depth"].tolist() == pytest.approx([1.0, 1.0, 1.0])
    assert p.loc["t", "depth"] == pytest.approx(10.0) and p.loc["p1", "depth"] == pytest.approx(12.5)


def test_module_depth_falls_back_to_all_modules_with_few_users():
    """Fewer than min_n other accounts on a module: the norm is the median over the other accounts
    of their actions per user over all modules. Account 0 (row 0) uses X at 4 and Y at 12 with
    user-days 1 and 3 (weights); the others' overall intensities are 8 and 16 -> norm 12 for both
    modules: index exp((1 x ln(4/12) + 3 x ln(12/12)) / 4) = (1/3) ** 0.25 = 0.7598."""
    d = pd.Timestamp("2026-06-30")
    m = pd.DataFrame({"_row": [0, 0, 1, 2], "date": d, "module": ["X", "Y", "X", "Z"],
                      "w_actions": [4.0, 36.0, 8.0, 32.0], "w_user_days": [1.0, 3.0, 1.0, 2.0]})
    got = health._module_depth(m, 3, min_n=5)
    assert got[0] == pytest.approx((1 / 3) ** 0.25)
    # row 1 (8): others 40/4 = 10 and 16 -> norm 13; row 2 (16): others 10 and 8 -> 9
    assert got[1] == pytest.approx(8 / 13) and got[2] == pytest.approx(16 / 9)


def test_first_use_of_a_heavy_module_never_lowers_the_score(tmp_path):
    """The case module norms get wrong (docs/health.md, Adoption): six peers use X at 20 actions
    per user and Y at 5; `light` uses only Y at 5. Adding X rows at light's busiest row's
    intensity (1 user, 5 actions) must not lower its score: with the default common norm its
    depth is unchanged (5 against the one norm) and breadth rises from 1/2 to 2/2."""
    peers = [f"p{i}" for i in range(1, 7)]
    window = days("2026-06-03", "2026-06-30")
    base = [r for p in peers for r in usage_rows(p, window, ("X",), 1, 20) + usage_rows(p, window, ("Y",), 1, 5)]
    base += usage_rows("light", window, ("Y",), 1, 5)
    accounts = [{"account_id": a} for a in [*peers, "light"]]
    scores = []
    for name, usage in (("before", base), ("after", base + usage_rows("light", window[-7:], ("X",), 1, 5))):
        with open_data(write_world(tmp_path / name, accounts, usage=usage)) as ws:
            t = health.health_table(ws, AS_OF).set_index("account_id")
        scores.append((t.loc["light", "score"], t.loc["light", "adoption"]))
    assert scores[1][0] >= scores[0][0] and scores[1][1] > scores[0][1]
