"""Accounts still onboarding are scored against their segment's onboarding plan (SPEC section 5,
docs/health.md "Accounts still onboarding").

Hand-worked world, scored on AS_OF = 2026-06-30. Every account is SMB (window 45 days, from
params/targets.yaml) unless it has an ``onboarding_due_at``. Constants from params/health.yaml:
plan shares kickoff 0.15, go_live 0.45, activation 0.6, first_value 0.75, onboarding_complete 1.0
(due days = share x window rounded up: 7, 21, 27, 34, 45), allowance 30 days (onboarding while
days since signature <= 75), late grace 14 days, usage ramp 28 days. No touchpoints, surveys
or contacts tables: engagement, sentiment and relationship have no data, so (redistribute)
score = (30 x adoption + 20 x outcomes) / 50 x 100 with the v1 weights.

  fresh    signed 06-27 (day 3): nothing due -> progress 1 (outcomes 1); usage not expected
           before go-live (day 21) -> adoption 1. Score 100, green.
  late     signed 06-01 (day 29): kickoff reached 06-03 (1); go_live due day 21, not reached,
           8 days late -> 1 - 8/14 = 0.428571; activation due day 27, 2 days late ->
           1 - 2/14 = 0.857143; first_value (day 34) not due yet.
           progress = (1 + 0.428571 + 0.857143) / 3 = 0.761905.
           Usage expected for 29 - 21 = 8 days: ramp 8/28 = 0.285714; no usage (measured
           adoption 0) -> adoption = 1 - 0.285714 + 0.285714 x 0 = 0.714286.
           Score (30 x 0.714286 + 20 x 0.761905) / 50 x 100 = 73.3333, amber.
  due_at   signed 06-01 with onboarding_due_at 08-30 (own window 90 days): kickoff due day
           ceil(13.5) = 14, not reached, 15 days late -> max(0, 1 - 15/14) = 0; nothing else due
           -> progress 0; go_live due day ceil(40.5) = 41 -> adoption 1.
           Score (30 x 1 + 20 x 0) / 50 x 100 = 60, amber (60 is amber's threshold).
  done     signed 06-01, onboarding_complete 06-25: handed over -> the five dimensions apply.
  overdue  signed 2026-03-01 (day 121 > 75), never completed -> the five dimensions apply.
"""
from __future__ import annotations

import csv
import math

import pandas as pd
import pytest

import workbook as wb
from workbook import health
from workbook.cli import main
from workbook.weights import DIMENSIONS, Weights
from workbook.workspace import open_data

from test_health import write_world

AS_OF = pd.Timestamp("2026-06-30")
ACCOUNTS = [
    {"account_id": "fresh", "signed_at": "2026-06-27"},
    {"account_id": "late", "signed_at": "2026-06-01"},
    {"account_id": "due_at", "signed_at": "2026-06-01", "onboarding_due_at": "2026-08-30"},
    {"account_id": "done", "signed_at": "2026-06-01"},
    {"account_id": "overdue", "signed_at": "2026-03-01"},
]
MILESTONES = [
    {"account_id": "late", "milestone": "kickoff", "reached_at": "2026-06-03"},
    {"account_id": "done", "milestone": "kickoff", "reached_at": "2026-06-02"},
    {"account_id": "done", "milestone": "go_live", "reached_at": "2026-06-10"},
    {"account_id": "done", "milestone": "onboarding_complete", "reached_at": "2026-06-25"},
    {"account_id": "overdue", "milestone": "kickoff", "reached_at": "2026-03-05"},
]
USAGE = [{"account_id": "fresh", "date": "2026-06-29", "module": "X", "active_users": 1, "actions": 3}]
V1 = Weights({"adoption": 30, "engagement": 20, "sentiment": 15, "outcomes": 20, "relationship": 15}, 80, 60)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return write_world(tmp_path_factory.mktemp("onboarding") / "w", ACCOUNTS, milestones=MILESTONES, usage=USAGE)


@pytest.fixture(scope="module")
def table(world):
    with open_data(world) as ws:
        return health.health_table(ws, AS_OF, V1).set_index("account_id")


def test_who_is_onboarding(table):
    assert table["onboarding"].to_dict() == {"fresh": True, "late": True, "due_at": True, "done": False,
                                             "overdue": False}
    assert table["plan_progress"].isna().loc[["done", "overdue"]].all()


def test_plan_progress_and_dimensions_by_hand(table):
    late = table.loc["late"]
    assert late["plan_progress"] == pytest.approx((1 + (1 - 8 / 14) + (1 - 2 / 14)) / 3, abs=1e-9)
    assert late["outcomes"] == pytest.approx(0.761905, abs=1e-6)
    assert late["adoption"] == pytest.approx(1 - 8 / 28, abs=1e-9)
    assert late["score"] == pytest.approx((30 * (1 - 8 / 28) + 20 * 0.7619047619) / 50 * 100, abs=1e-6)
    assert late["score"] == pytest.approx(73.3333, abs=1e-4) and late["colour"] == "amber"
    fresh = table.loc["fresh"]
    assert (fresh["adoption"], fresh["outcomes"], fresh["plan_progress"]) == (1.0, 1.0, 1.0)
    assert fresh["score"] == 100 and fresh["colour"] == "green"
    due = table.loc["due_at"]
    assert (due["adoption"], due["outcomes"], due["score"], due["colour"]) == (1.0, 0.0, 60.0, "amber")


def test_handed_over_and_overdue_accounts_use_the_five_dimensions(world, table):
    """After handover (or past window + allowance) outcomes is the usual formula: first value not
    reached and due (SMB: 45 days) scores 0 for `overdue`; `done` is not due yet -> no data."""
    assert table.loc["overdue", "outcomes"] == 0.0
    assert math.isnan(table.loc["done", "outcomes"])


def test_colour_follows_the_thresholds_of_the_score_shown(table):
    for _, r in table.iterrows():
        assert r["computed_colour"] == V1.colour(r["score"])


def test_a_weights_file_without_onboarding_section_scores_every_row_with_its_weights(table):
    """score = sum of weight x dimension over the dimensions with data, for every row."""
    for _, r in table.iterrows():
        have = [d for d in DIMENSIONS if not pd.isna(r[d])]
        expected = sum(V1.weights[d] * r[d] for d in have) / sum(V1.weights[d] for d in have) * 100
        assert r["score"] == pytest.approx(expected, abs=1e-6)


def test_the_onboarding_section_scores_onboarding_rows_only(world):
    w = Weights(dict(V1.weights), 80, 60, onboarding={"adoption": 0, "engagement": 0, "sentiment": 0,
                                                        "outcomes": 100, "relationship": 0})
    with open_data(world) as ws:
        t = health.health_table(ws, AS_OF, w).set_index("account_id")
    assert t.loc["late", "score"] == pytest.approx(100 * 0.7619047619, abs=1e-6)
    assert t.loc["due_at", "score"] == 0 and t.loc["due_at", "colour"] == "red"
    assert t.loc["overdue", "score"] == pytest.approx(0.0)      # mature: 30 x adoption 0 + 20 x outcomes 0


def test_onboarding_weights_file_round_trip_and_bad_section_exit_2(tmp_path, world, capsys):
    good = tmp_path / "w.yaml"
    good.write_text("weights: {adoption: 30, engagement: 20, sentiment: 15, outcomes: 20, relationship: 15}\n"
                    "thresholds: {green: 80, amber: 60}\n"
                    "onboarding: {weights: {adoption: 0, engagement: 0, sentiment: 0, outcomes: 100, relationship: 0}}\n")
    assert main(["health", "--data", str(world), "--as-of", "2026-06-30", "--weights", str(good),
                 "--format", "csv"]) == 0
    rows = {r["account_id"]: r for r in csv.DictReader(capsys.readouterr().out.splitlines())}
    assert float(rows["due_at"]["score"]) == 0 and rows["due_at"]["onboarding"] == "True"
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("outcomes: 100", "outcomes: 90"))
    assert main(["health", "--data", str(world), "--weights", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "onboarding.weights" in err and "sum to 100" in err and "Traceback" not in err


def test_explain_says_where_the_account_stands_on_its_plan(world):
    with open_data(world) as ws:
        e = wb.explain(ws, "late", AS_OF, weights=V1)
        f = wb.explain(ws, "fresh", AS_OF, weights=V1)
        d = wb.explain(ws, "done", AS_OF, weights=V1)
    assert e["onboarding"] == {"day": 29, "window_days": 45, "plan_progress": pytest.approx(0.761905, abs=1e-6),
                               "usage_expected": True, "late_milestone": "go_live", "late_days": 8}
    assert "Still onboarding (day 29 of a 45-day window): scored against the onboarding plan, " \
           "go live is 8 days late." in e["sentences"]
    assert "go live 8 days late against the onboarding plan" in e["why"]
    assert "Still onboarding (day 3 of a 45-day window): scored against the onboarding plan, on plan." \
        in f["sentences"]
    assert d["onboarding"] is None


# ---------------------------------------------------------------------------- calibration
def _snapshots(onboarding_accounts: int):
    """Synthetic snapshots (known weights, workbook.snapshots.synthetic_snapshots): mature rows
    follow 40/10/5/30/15; ``onboarding_accounts`` more accounts, marked as scored against the
    onboarding plan, follow ONBOARDING_TRUE."""
    from workbook.snapshots import synthetic_snapshots
    mature = synthetic_snapshots(1200, 12, seed=1)
    mature["onboarding"] = False
    if not onboarding_accounts:
        return mature
    onb = synthetic_snapshots(onboarding_accounts, 12, weights=ONBOARDING_TRUE, seed=2)
    onb["account_id"] = ("O" + onb["account_id"].str[1:]).astype("string")
    onb["onboarding"] = True
    out = pd.concat([mature, onb], ignore_index=True).sort_values(["observed_at", "account_id"]).reset_index(drop=True)
    out.attrs.update(mature.attrs)
    return out


ONBOARDING_TRUE = {"adoption": 10, "engagement": 10, "sentiment": 0, "outcomes": 70, "relationship": 10}


def test_calibration_fits_an_onboarding_section_when_there_are_enough_churners(params):
    from workbook.evaluation import evaluate
    snaps = _snapshots(1500)
    churners = int(snaps.loc[snaps["onboarding"], "churned"].sum())
    assert churners >= 100                                 # the default min_onboarding_churners
    res = evaluate(snaps, V1, replicates=20)
    ob = res.metrics["onboarding"]
    assert ob["fitted"] and ob["rows"] == 1500 * 12 and ob["churners"] == churners
    assert sum(ob["weights"].values()) == 100
    for d in DIMENSIONS:                                   # recovered from the onboarding rows alone
        assert abs(ob["weights"][d] - ONBOARDING_TRUE[d]) <= 8, (d, ob["weights"])
    doc = res.proposal_document()
    assert doc["onboarding"] == {"weights": ob["weights"]}
    assert "onboarding weights: fitted on 18,000 onboarding snapshots" in res.summary()


def test_calibration_leaves_the_onboarding_section_alone_without_enough_churners(params):
    from workbook.evaluation import evaluate
    snaps = _snapshots(0)
    first = (snaps["observed_at"] == snaps["observed_at"].min()) & (snaps["account_id"] < "S000400")
    snaps.loc[first, "onboarding"] = True                                                  # 400 rows
    k = int(snaps.loc[snaps["onboarding"], "churned"].sum())
    assert 0 < k < 100
    res = evaluate(snaps, V1, replicates=20)
    assert res.metrics["onboarding"] == {"rows": 400, "churners": k, "min_churners": 100, "fitted": False,
                                         "weights": None}
    assert "onboarding" not in res.proposal_document()
    assert (f"onboarding weights: not fitted ({k} churners among 400 labelled onboarding snapshots, need 100): "
            "onboarding accounts keep the main weights") in res.summary()


def test_no_new_account_is_red_for_being_new(sample_ws):
    """The sample world (150 accounts): every account signed in the 30 days before as_of that is
    red is behind its onboarding plan or carries a named risk (archetype, decline pattern)."""
    t = health.health_table(sample_ws)
    signed = sample_ws.frame("accounts").set_index("account_id")["signed_at"]
    t["days"] = (t["as_of"] - t["account_id"].map(signed)).dt.days
    new = t[t["days"] <= 30]
    assert len(new) and new["onboarding"].all()
    red = new[new["computed_colour"] == "red"]
    named = (red["plan_progress"] < 1) | (red["archetypes"].fillna("") != "") | red["decline_pattern"]
    assert named.all(), red[["account_id", "score", "plan_progress", "archetypes"]]
