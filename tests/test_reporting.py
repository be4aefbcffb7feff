"""The report sections, in process, on the 150-account sample world (tests/conftest.py).

Each section is read back as rows of text (tests/pagetables.py) and checked against the tested
modules it presents: the KPI table against :func:`workbook.kpis.compute`, the risks against the
red accounts of :func:`workbook.health.health_table`, the wins against :func:`workbook.wins.events`.
Settings: where each one comes from (the source's ``report_params.yaml``, ``params/<report>.yaml``,
an explicit ``-p``) and that a bad one is refused naming where it came from.
"""
from __future__ import annotations

import math

import html
import re

import pandas as pd
import pytest

from pagetables import tables as read_tables
from workbook import health, kpis, narrative, quality, reporting, scoring, wins
from workbook.errors import BadInput

SAMPLE_ASK = "Sales: put the customer's named onboarding owner"


@pytest.fixture(scope="module")
def weekly(sample_dir):
    rep = reporting.Weekly(data=sample_dir)
    yield rep
    rep.close()


@pytest.fixture(scope="module")
def monthly(sample_dir):
    rep = reporting.Monthly(data=sample_dir)
    yield rep
    rep.close()


@pytest.fixture(scope="module")
def dashboard(sample_dir):
    rep = reporting.Dashboard(data=sample_dir, points=4)
    yield rep
    rep.close()


def only_table(fragment) -> dict:
    tables = read_tables(str(fragment))
    assert len(tables) == 1, [t["caption"] for t in tables]
    return tables[0]


# ---------------------------------------------------------------------------- weekly
def test_weekly_kpi_table_holds_the_seven_kpis_as_computed(weekly, sample_ws):
    table = only_table(weekly.kpi_table())
    computed = kpis.compute(sample_ws, as_of=weekly.as_of, period="week")["kpis"]
    assert [r["KPI"] for r in table["rows"]] == [kpis.MEASURES[k].label for k in kpis.KPIS]
    assert len(table["rows"]) == 7
    for row, (key, k) in zip(table["rows"], computed.items()):
        unit = kpis.MEASURES[key].unit
        assert row["Value"] == narrative.value_text(k["value"], unit), key
        assert row["Target"] == narrative.value_text(k["target"], unit), key
        assert row["n"] == (f"{k['n']:,}" if k["value"] is not None or k["n"] else "—"), key
        if k["value"] is not None and k["previous"] is not None:
            change = reporting.change_text(k["value"] - k["previous"], unit)
            assert row["Change vs last week"].startswith(change), key
    assert table["caption"].startswith(f"Week {reporting.period_text(weekly.period.start, weekly.period.end)}")


def test_weekly_risks_list_exactly_the_red_accounts_by_arr(weekly, sample_ws):
    h = health.health_table(sample_ws, weekly.as_of)
    reds = h[h["colour"] == "red"].sort_values(["arr", "score"], ascending=[False, True])
    assert len(reds) > 0
    text = str(weekly.risks())
    table = only_table(text)
    shown = reds.head(weekly.max_risks)
    assert [r["Account"] for r in table["rows"]] == shown["name"].tolist()
    assert [r["ARR"] for r in table["rows"]] == [f"${a:,.0f}" for a in shown["arr"]]
    # one decimal, cut toward zero: the shown score never reaches a threshold the score has not
    assert [r["Score"] for r in table["rows"]] == [f"{math.floor(s * 10 + 1e-9) / 10:.1f}" for s in shown["score"]]
    assert f"{len(reds)} accounts are red ({narrative.money_text(reds['arr'].sum())} ARR" in text
    assert table["caption"] == f"Red accounts, largest ARR first ({len(shown)} of {len(reds)})"


def test_weekly_new_red_counts_reds_that_were_not_red_a_week_before(weekly, sample_ws):
    before = health.colours_on(sample_ws, weekly.health, weekly.weights, weekly.as_of - pd.Timedelta(days=7))
    red = weekly.health["colour"] == "red"
    assert weekly.new_red() == int((red & (before != "red")).sum())
    assert f"{weekly.new_red():,} new this week" in str(weekly.risks())


def test_weekly_wins_count_the_wins_of_the_week(weekly, sample_ws):
    ev = wins.events(sample_ws, weekly.health, weekly.period.start, weekly.period.end, weekly.colour_before)
    rows = {r["Win"]: r for r in only_table(weekly.wins())["rows"]}
    assert list(rows) == ["First value reached", "Onboarding completed", "Advocacy", "Turned green"]
    for kind in wins.KINDS:
        n = ev.loc[ev["kind"] == kind, "account_id"].nunique()
        assert rows[kind[0].upper() + kind[1:]]["Accounts"] == f"{n:,}"


def test_weekly_headline_and_asks_from_the_source(weekly):
    headline = str(weekly.headline())
    red = int((weekly.health["colour"] == "red").sum())
    assert headline.startswith('<p class="wb-headline">We are') and f"{red} accounts are red" in headline
    asks = str(weekly.asks())
    assert asks.startswith('<ul class="wb-asks">') and asks.count("<li>") == 3 and html.escape(SAMPLE_ASK) in asks


def test_data_quality_section_and_provenance_line(weekly):
    dq = str(weekly.data_quality())
    assert dq.startswith('<div class="wb-quality">') and dq.endswith("</div>")
    assert "Validation found" in dq
    prov = str(weekly.provenance())
    assert prov.startswith('<p class="wb-provenance">Provenance: data fingerprint ')
    for part in (weekly.fingerprint, f"as of {weekly.as_of:%Y-%m-%d}", f"weights {weekly.weights_version}",
                 "engine duckdb", "generated "):
        assert part in prov
    assert re.search(r"generated \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC</p>$", prov)


def test_header_is_the_style_block_and_the_subtitle(weekly):
    header = str(weekly.header())
    assert header.startswith("<style>") and f"{len(weekly.health):,} live accounts" in header


# ---------------------------------------------------------------------------- settings
def test_settings_come_from_the_source_then_the_defaults_file_then_p(sample_dir):
    assert reporting.source_defaults("weekly", sample_dir)["asks"][0].startswith(SAMPLE_ASK)
    assert reporting.report_defaults("weekly")["asks"] == []
    rep = reporting.Weekly(data=sample_dir)                      # the source's asks over params/weekly.yaml
    try:
        assert rep.asks_list[0].startswith(SAMPLE_ASK) and rep.max_risks == 10
    finally:
        rep.close()
    rep = reporting.Weekly(data=sample_dir, asks=[], max_risks=3)  # a scheduler passing the defaults: source wins
    try:
        assert rep.asks_list[0].startswith(SAMPLE_ASK) and rep.max_risks == 3
    finally:
        rep.close()
    rep = reporting.Weekly(data=sample_dir, asks=["Finance: approve the trainer"])   # -p wins over both
    try:
        assert rep.asks_list == ["Finance: approve the trainer"]
    finally:
        rep.close()


def test_a_bad_setting_names_where_it_came_from(sample_dir):
    with pytest.raises(BadInput) as given:
        reporting.Weekly(data=sample_dir, max_risks=0)
    assert (given.value.table, given.value.column) == ("-p", "max_risks")
    assert "whole number >= 1" in given.value.rule
    with pytest.raises(BadInput) as given:
        reporting.Monthly(data=sample_dir, recommendations={"time_to_value_days": "Fix {nothing}"})
    assert (given.value.table, given.value.column) == ("-p", "recommendations.time_to_value_days")


def test_source_of_a_setting(weekly):
    assert weekly._source("max_risks") == "params/weekly.yaml"
    assert weekly._source() == "params/weekly.yaml"


# ---------------------------------------------------------------------------- monthly
def test_monthly_kpi_table_and_story(monthly, sample_ws):
    computed = kpis.compute(sample_ws, as_of=monthly.as_of, period="month")["kpis"]
    rows = only_table(monthly.kpi_table())["rows"]
    assert [r["Value"] for r in rows] == [narrative.value_text(k["value"], kpis.MEASURES[key].unit)
                                          for key, k in computed.items()]
    story = str(monthly.story())
    ev = monthly.events
    first = int((ev["kind"] == "first value reached").sum())
    assert f"{narrative.plural(first, 'customer')} reached first value" in story
    reds = monthly.reds()
    assert f"holding {narrative.money_text(reds['arr'].sum())} of ARR" in story
    assert f"the largest is {reds.iloc[0]['name']}" in story


def test_monthly_top_risks_put_alerts_first(monthly):
    rows = only_table(monthly.top_risks())["rows"]
    reds = monthly.reds()
    expected = reds.assign(a=reds["alert"].astype(bool)).sort_values(["a", "arr"], ascending=[False, False])
    assert [r["Account"] for r in rows] == expected["name"].head(monthly.top).tolist()


# ---------------------------------------------------------------------------- dashboard
def test_dashboard_red_accounts_are_every_red_account(dashboard):
    reds = dashboard.reds()
    rows = only_table(dashboard.red_accounts())["rows"]
    assert [r["Account"] for r in rows] == reds["name"].tolist()
    assert "Recovery action" not in rows[0]


def test_dashboard_performance_charts_the_rolling_kpis(dashboard):
    chart = dashboard.performance()
    series = kpis.rolling(dashboard.ws, reporting.PERFORMANCE_KEYS, as_of=dashboard.as_of, days=90, points=4,
                          step_days=7)
    ttv = series["time_to_value_days"]["value"].iloc[-1]
    assert "Time to value: 4 points from" in chart.alt
    assert f"latest {ttv:.1f} d" in chart.alt


def test_dashboard_colour_counts_state_every_colour(dashboard):
    counts = dashboard.health["colour"].astype(object).value_counts()
    alt = dashboard.colour_counts().alt
    for colour in scoring.COLOURS:
        assert f"{int(counts.get(colour, 0)):,} {colour}" in alt


# ---------------------------------------------------------------------------- post-cycle, calibration
def test_post_cycle_five_lines_and_table(sample_dir):
    rep = reporting.PostCycle(data=sample_dir, replicates=200)
    try:
        lines = str(rep.five_lines())
        assert re.findall(r"<dt>([^<]+)</dt>", lines) == ["Hypothesis", "Intervention", "Result", "Decision",
                                                          "Next cycle"]
        table = only_table(rep.comparison_table())
        assert [r["Window"] for r in table["rows"]][:2] == ["baseline", "cycle"]
        r = rep.result
        assert table["rows"][1][r.label] == narrative.value_text(r.cycle_value, r.unit)
        assert rep.chart().alt.startswith(f"Bar chart and interval plot: {r.label}.")
        assert rep.decision().startswith('<p><span class="wb-badge wb-')
    finally:
        rep.close()


def test_calibration_weights_table_and_summary(sample_dir):
    rep = reporting.Calibration(data=sample_dir, replicates=20)
    try:
        r = rep.result
        rows = only_table(rep.weights_table())["rows"]
        assert [r_["Dimension"].split(" (")[0] for r_ in rows] == [*scoring.DIMENSIONS, "thresholds green / amber"]
        for row, d in zip(rows, scoring.DIMENSIONS):
            assert row[f"Current {rep.weights_version}"] == f"{r.current.weights[d]:,}"
            assert row["Proposed"] == f"{r.proposed.weights[d]:,}"
            assert row["Change"] == f"{r.proposed.weights[d] - r.current.weights[d]:+d}"
        assert rows[-1]["Proposed"] == f"{r.proposed.green:g} / {r.proposed.amber:g}" and rows[-1]["Change"] == "—"
        summary = str(rep.summary())
        assert summary.startswith('<p class="wb-headline">Recommendation: ')
        assert f"change the colour of {narrative.plural(len(r.colour_changes), 'account')} today" in summary
        assert rep.reliability().alt.startswith("Reliability diagram: ")
    finally:
        rep.close()


def test_exclusions_are_quality_rows(weekly):
    for e in weekly.exclusions():
        assert isinstance(e, quality.Exclusion) and e.rows > 0


# ---------------------------------------------------------------------------- account brief and CSM book
@pytest.fixture(scope="module")
def account(sample_dir):
    rep = reporting.Account(data=sample_dir)
    yield rep
    rep.close()


@pytest.fixture(scope="module")
def book(sample_dir):
    rep = reporting.Book(data=sample_dir)
    yield rep
    rep.close()


def test_account_default_is_the_largest_red_and_the_header_says_so(account, sample_dir):
    h = account.health
    reds = h[h["colour"] == "red"].sort_values("arr", ascending=False)
    assert account.picked and account.account_id == reds.iloc[0]["account_id"]
    acc = pd.read_csv(sample_dir / "accounts.csv").set_index("account_id").loc[account.account_id]
    text = html.unescape(str(account.header()))
    assert "No account_id was given" in text and "red account with the largest ARR" in text
    assert f"{acc['name']} ({account.account_id})" in text and f"<dd>{acc['csm']}</dd>" in text
    assert f"${acc['arr']:,.0f}" in text and f"<dd>{acc['signed_at']} (" in text
    assert "Renewal probability" in text and "no calibration map" in text         # v1 is not calibrated


def test_account_score_section_is_the_explanation(account):
    from workbook.explanation import explain
    ex = explain(account.ws, account.account_id, account.as_of)
    text = html.unescape(str(account.score()))
    assert '<span class="wb-badge wb-red">red</span>' in text
    assert f"Score {ex['score']:.1f} of 100" in text and "Why: " + ex["why"] in text


def test_account_history_is_26_weekly_points_ending_on_as_of(account):
    hist = account.score_history
    assert hist["account_id"].unique().tolist() == [account.account_id]
    assert len(hist) == 26 and hist["date"].max() == account.as_of
    assert set(hist["date"].diff().dropna().dt.days) == {7}
    chart = account.history()
    assert "26 weekly points" in chart.alt and "red below 60, amber 60 to 80, green from 80" in chart.alt


def test_account_dimensions_and_move_up(account):
    t = only_table(account.dimensions())
    assert [r["Dimension"].split(" ")[0] for r in t["rows"]] == list(scoring.DIMENSIONS)
    assert [r["Weight"] for r in t["rows"]] == ["30", "20", "15", "20", "15"]
    assert "cohort" in t["rows"][0]["Signals"]
    text = html.unescape(str(account.move_up()))
    assert text.startswith('<p class="wb-note">Amber starts at 60') and "<li>" in text


def test_account_timeline_and_next_review(account):
    from workbook.activity import last_reviews, timeline
    start = account.as_of - pd.Timedelta(days=89)
    expected = timeline(account.ws, account.account_id, start, account.as_of)
    t = only_table(account.timeline())
    assert len(t["rows"]) == len(expected) and t["rows"][0]["Date"] == f"{expected['date'].iloc[0]:%Y-%m-%d}"
    assert all(start <= pd.Timestamp(r["Date"]) <= account.as_of for r in t["rows"])
    # red: weekly; the next review is a week after the last review on record
    last = last_reviews(account.ws, account.as_of).get(account.account_id)
    text = html.unescape(str(account.playbook()))
    assert "<dd>weekly (red)</dd>" in text
    due = last + pd.Timedelta(days=7)
    assert (f"overdue since {due:%Y-%m-%d}" if due < account.as_of else f"{due:%Y-%m-%d}") in text


def test_account_refuses_an_unknown_id_with_close_matches(sample_dir):
    with pytest.raises(BadInput) as exc:
        reporting.Account(data=sample_dir, account_id="A0005")
    assert "no account 'A0005'" in str(exc.value) and re.search(r"did you mean A\d{5} \(", str(exc.value))


def test_book_default_is_the_csm_with_most_accounts(book):
    counts = book.health["csm"].value_counts()
    assert book.picked and book.csm == counts.index[0] and len(book.mine) == counts.iloc[0]
    assert "No csm was given" in html.unescape(str(book.header()))


def test_book_colours_count_accounts_and_arr(book):
    t = only_table(book.colours())
    m = book.mine
    for row in t["rows"]:
        k = m[m["colour"] == row["Colour"]]
        assert int(row["Accounts"]) == len(k)
        assert row["ARR"] == f"${k['arr'].sum():,.0f}" or k["arr"].sum() >= 1e6
    assert sum(int(r["Accounts"]) for r in t["rows"]) == len(m)


def test_book_movers_are_the_colour_changes_of_the_week(book):
    before = health.colours_on(book.ws, book.mine, book.weights, book.as_of - pd.Timedelta(days=7))
    moved = book.mine[(book.mine["colour"].astype(object) != before).to_numpy() & before.notna().to_numpy()]
    frag = book.movers()
    if moved.empty:
        assert "No account changed colour" in str(frag)
        return
    t = only_table(frag)
    assert sorted(r["Account"] for r in t["rows"]) == sorted(moved["name"])
    assert all(r["Why"] for r in t["rows"])


def test_book_reviews_due_follow_the_cadence(book):
    r = book.reviews
    assert set(zip(r["Colour"], r["Cadence"])) <= {("red", "weekly"), ("amber", "fortnightly"),
                                                   ("green", "monthly")}
    for row in r.itertuples():
        step = {"weekly": 7, "fortnightly": 14, "monthly": 30}[row.Cadence]
        if not pd.isna(row._4):                                                  # Last review
            assert row.Due == row._4 + pd.Timedelta(days=step)
    t = [x for x in read_tables(str(book.reviews_due())) if x["caption"].startswith("Reviews due")]
    assert len(t[0]["rows"]) == int((r["Days"] <= 6).sum()) if t else (r["Days"] > 6).all()


def test_book_onboardings_arr_at_risk_and_wins(book):
    from workbook.metrics import past_due
    late = past_due(book.ws, book.as_of)
    late = late[late["csm"] == book.csm]
    o = book.onboarding_rows
    assert set(late["account_id"]) <= set(o["account_id"])
    assert int((o["due"] < book.as_of).sum()) == len(late)
    m = book.mine
    red, amber = m.loc[m["colour"] == "red", "arr"].sum(), m.loc[m["colour"] == "amber", "arr"].sum()
    text = html.unescape(str(book.arr_at_risk()))
    assert f"{narrative.money_text(red)} ARR is red and {narrative.money_text(amber)} amber" in text
    ev = wins.events(book.ws, book.mine, book.period.start, book.period.end, book.colour_before)
    ev = ev[ev["csm"] == book.csm]                       # milestone wins come for every account: keep the CSM's
    frag = str(book.wins())
    assert ("No first value" in frag) == ev.empty


def test_book_csm_is_matched_without_case_and_unknown_is_refused(sample_dir, book):
    rep = reporting.Book(data=sample_dir, csm=f"  {book.csm.upper()} ")
    try:
        assert rep.csm == book.csm and not rep.picked
    finally:
        rep.close()
    with pytest.raises(BadInput) as exc:
        reporting.Book(data=sample_dir, csm=book.csm[:-1])
    assert f"did you mean {book.csm}" in str(exc.value)


def test_renewal_probability_where_the_weights_are_calibrated(sample_dir, params):
    probs = [round(0.5 - 0.004 * i, 4) for i in range(101)]                      # 50% churn at 0 .. 10% at 100
    path = params / "weights" / "v1.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "calibration:\n  horizon_days: 90\n  churn_probability: "
                    + str(probs) + "\n", encoding="utf-8")
    rep = reporting.Account(data=sample_dir)
    try:
        expected = 1 - probs[int(rep.row["score"] + 0.5)]
        assert f"<dd>{expected:.0%} (calibrated map of weights v1)</dd>" in str(rep.header())
    finally:
        rep.close()
    rep = reporting.Book(data=sample_dir)
    try:
        m = rep.mine
        lost = sum(a * p for a, p in zip(m["arr"], [probs[int(s + 0.5)] for s in m["score"]]))
        text = html.unescape(str(rep.arr_at_risk()))
        assert f"{narrative.money_text(lost)} of the book's ARR is expected not to renew" in text
        assert "Renewal probability" in text
    finally:
        rep.close()


def test_account_history_marks_a_version_adopted_with_a_utc_stamp(account, monkeypatch):
    """`weights adopt` stamps adopted_at as UTC ("...Z"); the history compares it with plain dates."""
    from workbook import weights as wmod
    versions = pd.DataFrame({"version": ["v1", "v2", "v3"],
                             "adopted_at": ["2026-01-01", "2026-10-20T09:30:00Z", "2026-12-01T08:00:00Z"]})
    monkeypatch.setattr(wmod, "list_versions", lambda: versions)
    marks = account.history_marks()
    weights_marks = marks[marks["label"].str.startswith("weights")]
    # v1 is before the 26 weeks, v3 after as_of (2026-11-15): only v2, on its UTC day
    assert weights_marks["label"].tolist() == ["weights v2 adopted"]
    assert weights_marks["date"].tolist() == [pd.Timestamp("2026-10-20")]


# ---------------------------------------------------------------------------- sources with little data (repro 6, 7, 8, 10)
def tiny_world(folder, *, churned_at: str = ""):
    """One SMB account (X1, signed 2025-01-01, one contracted module, CSM Ana) and only the three
    required tables: a kickoff milestone and daily use of one module from 2025-05-01 to 2025-07-20
    (to ``churned_at`` when given). On 2025-07-20 it is 200 days old (past the 60-day onboarding
    window: scored on the five dimensions) and its first value (due 45 days after signing) was not
    reached, so adoption and outcomes have data and engagement, sentiment and relationship none."""
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame([{"account_id": "X1", "name": "Tiny <b>Co</b>", "segment": "SMB", "csm": "Ana", "arr": 12000,
                   "contracted_modules": 1, "signed_at": "2025-01-01", "churned_at": churned_at}]).to_csv(
        folder / "accounts.csv", index=False)
    pd.DataFrame([{"account_id": "X1", "milestone": "kickoff", "reached_at": "2025-01-06"}]).to_csv(
        folder / "milestones.csv", index=False)
    days = pd.date_range("2025-05-01", churned_at or "2025-07-20", freq="D")
    pd.DataFrame({"account_id": "X1", "date": days.strftime("%Y-%m-%d"), "module": "core", "active_users": 3,
                  "actions": 30}).to_csv(folder / "usage.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_world(tmp_path_factory.mktemp("tiny") / "world")


def test_account_dimension_weights_are_the_weights_that_scored_it(tiny):
    """v1 with only adoption (30) and outcomes (20) measured: the score spreads the missing 50 over
    them, 30/50 × 100 = 60 and 20/50 × 100 = 40. Points never exceed the weight shown."""
    rep = reporting.Account(data=tiny, account_id="X1")
    try:
        t = only_table(rep.dimensions())
    finally:
        rep.close()
    rows = {r["Dimension"].split(" ")[0]: r for r in t["rows"]}
    assert [rows[d]["Weight"] for d in scoring.DIMENSIONS] == ["60", "—", "—", "40", "—"]
    for d in ("adoption", "outcomes"):
        assert float(rows[d]["Points"]) <= float(rows[d]["Weight"])
        assert float(rows[d]["Points"]) == pytest.approx(float(rows[d]["Weight"]) * float(rows[d]["Value"]), abs=0.1)
    assert rows["outcomes"]["Value"] == "0.00" and rows["outcomes"]["Points"] == "0.0"    # first value overdue
    for d in ("engagement", "sentiment", "relationship"):                                 # no data: no numbers
        assert [rows[d][c] for c in ("Value", "Weight", "Points", "Change 7 d", "Change 28 d")] == ["—"] * 5
        assert rows[d]["Signals"] == "no data: its weight is spread over the measured dimensions"
    assert "no outcomes table in this source" in rows["outcomes"]["Signals"]
    assert "0 of 0" not in rows["outcomes"]["Signals"]
    assert "spread over the measured dimensions" in t["caption"] and "adoption 30" in t["caption"]


def test_effective_weights_follow_the_missing_data_policy():
    v1 = {"adoption": 30, "engagement": 20, "sentiment": 15, "outcomes": 20, "relationship": 15}
    assert scoring.effective_weights(v1, list(scoring.DIMENSIONS)) == pytest.approx(
        {"adoption": 30, "engagement": 20, "sentiment": 15, "outcomes": 20, "relationship": 15})
    # without sentiment: 85 points carry the score, adoption 30/85 × 100 = 35.29...
    got = scoring.effective_weights(v1, ["adoption", "engagement", "outcomes", "relationship"])
    assert got["sentiment"] is None and got["adoption"] == pytest.approx(3000 / 85)
    assert reporting._weight_text(got["adoption"]) == "35.2"                              # cut like the points
    assert scoring.effective_weights(v1, ["adoption"], "zero") == pytest.approx(v1)


def test_book_without_touchpoints_counts_no_review_overdue(tiny):
    """Without a touchpoints table no review can be on record: counting from the signature date
    would call a 200-day-old account "overdue by" months."""
    rep = reporting.Book(data=tiny, csm="Ana")
    try:
        text = html.unescape(str(rep.reviews_due()))
    finally:
        rep.close()
    assert "overdue" not in text.replace("no review is counted as due or overdue", "")
    assert "the last review of each account is unknown: no review is counted as due or overdue" in text
    assert not read_tables(text)
    rep = reporting.Account(data=tiny, account_id="X1")
    try:
        text = html.unescape(str(rep.playbook()))
    finally:
        rep.close()
    assert "<dd>unknown (no touchpoints table in this source)</dd>" in text and "overdue" not in text


def test_no_live_account_and_no_kpi_data_say_so(tmp_path):
    """X1 churned on 2025-07-10: on 2025-07-12 no account is live and no KPI has data for July."""
    world = tiny_world(tmp_path / "churned", churned_at="2025-07-10")
    weekly = reporting.Weekly(data=world, as_of="2025-07-12")
    monthly = reporting.Monthly(data=world, as_of="2025-07-12")
    try:
        headline = html.unescape(str(weekly.headline()))
        story = html.unescape(str(monthly.story()))
        recommendation = html.unescape(str(monthly.recommendation()))
    finally:
        weekly.close()
        monthly.close()
    assert headline == ('<p class="wb-headline">No onboarding KPI had data this week; no account is red '
                        "(no live accounts on 2025-07-12).</p>")
    assert "no health dimension has data" not in story and "No account is red (no live accounts on 2025-07-12)." in story
    assert recommendation == f'<p class="wb-recommendation">{narrative.NO_KPI_DATA}</p>'
    assert "every KPI with data is on target" not in recommendation and "0 red accounts" not in recommendation


def test_data_quality_notes_an_as_of_past_the_last_usage(tiny):
    late = reporting.Weekly(data=tiny, as_of="2025-08-29")          # 2025-07-20 + 40 days
    on_time = reporting.Weekly(data=tiny, as_of="2025-07-27")       # + 7 days: within the threshold
    try:
        late_text, on_time_text = html.unescape(str(late.data_quality())), html.unescape(str(on_time.data_quality()))
    finally:
        late.close()
        on_time.close()
    assert ("This report's as_of 2025-08-29 is 40 days after the last usage date in the source (2025-07-20); "
            "usage after that day is unknown, not zero.") in late_text
    assert "after the last usage date" not in on_time_text


def test_post_cycle_without_a_cycle_renders_and_the_docs_say_so(tiny):
    """SPEC is silent on a source without a cycle; `report all` includes post_cycle, so the page
    says no cycle is defined (exit 0) and the docs must not promise exit 2 for it."""
    from pathlib import Path
    rep = reporting.PostCycle(data=tiny)
    try:
        assert rep.cycle is None and rep.decision() is None
        assert "No improvement cycle is defined for this data source" in str(rep.five_lines())
    finally:
        rep.close()
    root = Path(__file__).resolve().parent.parent
    guide = " ".join((root / "docs" / "report-guide.md").read_text(encoding="utf-8").split())
    params = " ".join((root / "params" / "post_cycle.yaml").read_text(encoding="utf-8").replace("#", " ").split())
    assert "no cycle defined stops with exit 2" not in guide
    assert "With no cycle defined (no metric and no cycle dates) the report still renders and exits 0" in guide
    assert "no metric and no cycle dates stops with exit 2" not in params
    assert "With no metric and no cycle dates the report still renders (exit 0)" in params
