"""The reports on a source with only the three required tables (accounts, milestones, usage).

A product world (tests/product_world.py: segments Starter/Growth/Scale, no touchpoints, surveys,
outcomes, contacts or advocacy) must not make a report say what the data does not support:
no "0" where a table is absent, the health score's basis (two of five dimensions, coverage) in
the headline and beside the scores, the pipeline agreeing with the past-due list, the onboarding
windows of the segments present, no other company's asks, and no nan/None/-0.0 anywhere.
"""
from __future__ import annotations

import re

import pytest

from product_world import write_product_world
from workbook import health, metrics, reporting

BAD_TEXT = re.compile(r"\bnan\b|\bNaN\b|\bNone\b|<NA>|\bNaT\b|-0\.0\b|-0 ?%")
SAMPLE_ASK = "Sales: put the customer's named onboarding owner"


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return write_product_world(tmp_path_factory.mktemp("pw") / "src", accounts=150, seed=2)


@pytest.fixture(scope="module")
def weekly(source):
    rep = reporting.Weekly(data=source)
    yield rep
    rep.close()


@pytest.fixture(scope="module")
def dashboard(source):
    rep = reporting.Dashboard(data=source)
    yield rep
    rep.close()


def _coverage(rep) -> int:
    h = rep.health
    return round(100 * ((h["adoption"].notna() * 30 + h["outcomes"].notna() * 20) / 100).mean())


def test_weekly_headline_says_what_the_score_stands_on(weekly):
    text = str(weekly.headline())
    assert (f"(health measured on adoption and outcomes only: coverage {_coverage(weekly)} %, no data for "
            "engagement, sentiment and relationship).</p>") in text
    red = int((weekly.health["colour"] == "red").sum())
    assert f"{red} accounts are red" in text or (red == 1 and "1 account is red" in text)


def test_weekly_shows_the_basis_beside_the_scores(weekly):
    assert (f"Health scores measured: adoption, outcomes (coverage {_coverage(weekly)} %) — engagement, "
            "sentiment, relationship have no data in this source.") in str(weekly.risks())


def test_no_advocacy_table_is_no_data_not_zero(weekly):
    wins = str(weekly.wins())
    row = re.search(r"<tr><td>Advocacy</td>(.*?)</tr>", wins)
    assert row, wins
    assert "no data (no advocacy table)" in row.group(1)
    assert not re.search(r">0<", row.group(1))


def test_asks_belong_to_the_source(weekly, source, tmp_path):
    assert SAMPLE_ASK not in str(weekly.asks())
    assert "No asks this week" in str(weekly.asks())
    # a source's own asks, from report_params.yaml beside its data
    (source / "report_params.yaml").write_text('weekly:\n  asks: ["Product: ship the SSO fix for Scale accounts."]\n')
    try:
        for given, shown in ((None, "Product: ship the SSO fix for Scale accounts."),
                             ([], "Product: ship the SSO fix for Scale accounts."),   # = params/weekly.yaml's value
                             (["CS ops: fix the CRM sync."], "CS ops: fix the CRM sync.")):  # a real -p wins
            rep = reporting.Weekly(data=source, asks=given)
            try:
                assert f"<li>{shown}</li>" in str(rep.asks())
            finally:
                rep.close()
    finally:
        (source / "report_params.yaml").unlink()


def test_pipeline_agrees_with_past_due(dashboard):
    late = metrics.past_due(dashboard.ws, dashboard.as_of)
    text = str(dashboard.past_due())
    open_ = dashboard.open_onboardings
    assert open_["past_due"].sum() == len(late) > 0
    assert f"{len(open_)} open onboardings (neither onboarding_complete nor handover reached), {len(late)} past due" \
        in text
    chart = dashboard.days_since_signature()
    assert f"{len(open_)} accounts" in chart.alt
    # every past-due account is among the open onboardings the histogram counts
    assert set(late["account_id"]) <= set(open_["account_id"])


def test_due_lines_are_the_segments_present(dashboard):
    alt = dashboard.days_since_signature().alt
    assert "Growth (default window), Scale (default window), Starter (default window) due, 60 d at 60" in alt
    for name in ("SMB", "Mid-Market", "Enterprise"):
        assert name not in alt


def test_unmeasurable_stage_is_left_out(dashboard):
    alt = dashboard.stage_counts().alt
    assert "loyalty & growth" not in alt and "onboarding:" in alt
    assert "loyalty &amp; growth" not in str(dashboard.time_in_stage())


def test_dashboard_subtitle_and_health_panel_name_the_basis(dashboard):
    assert "health measured on adoption and outcomes only" in dashboard.subtitle()
    assert "Health scores measured: adoption, outcomes" in str(dashboard.red_accounts())


def test_monthly_story_carries_the_basis(source):
    rep = reporting.Monthly(data=source)
    try:
        story = str(rep.story())
        assert "(health measured on adoption and outcomes only: coverage" in story
        assert story.count(". ") + 1 <= 4                          # still three or four sentences
    finally:
        rep.close()


def test_no_nan_none_or_negative_zero_in_any_section(weekly, dashboard):
    parts = [weekly.header(), weekly.headline(), weekly.kpi_table(), weekly.risks(), weekly.wins(), weekly.asks(),
             weekly.data_quality(), dashboard.header(), dashboard.time_in_stage(), dashboard.past_due(),
             dashboard.red_accounts(), dashboard.overrides(), dashboard.comments(), dashboard.escalations(),
             dashboard.advocacy(), dashboard.data_quality()]
    for part in parts:
        assert not BAD_TEXT.search(str(part)), BAD_TEXT.search(str(part)).group(0)
    for chart in (dashboard.stage_counts(), dashboard.days_since_signature(), dashboard.colour_counts()):
        assert not BAD_TEXT.search(chart.alt)


def test_health_measured_on_this_source(weekly):
    m = health.measured(weekly.health)
    assert m["measured"] == ["adoption", "outcomes"]
    assert m["unmeasured"] == ["engagement", "sentiment", "relationship"]
    assert 0.2 < m["coverage"] <= 0.5
