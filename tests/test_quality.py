"""The data-quality section and the provenance line (workbook.quality) on a small hand-built world."""
from __future__ import annotations

import re

import pandas as pd
import pytest

import workbook
from workbook import quality
from workbook.workspace import open_data

AS_OF = pd.Timestamp("2024-06-15")

ACCOUNTS = """account_id,name,segment,csm,arr,contracted_modules,signed_at,churned_at
a1,Alpha <b>Ltd</b>,SMB,Ann,1000,1,2024-01-01,
a2,Beta,SMB,Ann,1000,1,2024-06-20,
a3,Gamma,SMB,Bob,1000,1,2024-02-01,2024-06-18
"""
# a1 kickoff appears twice (a warning: the earliest counts); a1 go_live is after as_of.
MILESTONES = """account_id,milestone,reached_at
a1,kickoff,2024-01-05
a1,kickoff,2024-01-09
a1,go_live,2024-06-20
a3,kickoff,2024-02-03
"""
SURVEYS = """response_id,account_id,kind,score,responded_at,comment
r1,a1,csat,5,2024-06-01,"Great & ""fast"" <3"
r2,a1,nps,9,2024-06-16,
r3,a3,nps,3,2024-06-17,
"""


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    d = tmp_path_factory.mktemp("quality_world")
    (d / "accounts.csv").write_text(ACCOUNTS)
    (d / "milestones.csv").write_text(MILESTONES)
    (d / "surveys.csv").write_text(SURVEYS)
    days = pd.date_range("2024-06-01", "2024-06-30").strftime("%Y-%m-%d")
    pd.DataFrame({"account_id": "a1", "date": days, "module": "core", "active_users": 1,
                  "actions": 2}).to_csv(d / "usage.csv", index=False)
    w = open_data(d)
    yield w
    w.close()


def test_findings_table_lists_the_repeated_milestone(ws):
    found = quality.findings_table(ws)
    assert len(found) == 1
    row = found.iloc[0]
    assert (row["severity"], row["table"], row["column"], row["rows"], row["examples"]) == \
        ("warning", "milestones", "milestone", 1, "a1 kickoff")


def test_later_rows_counts_what_is_not_known_on_as_of(ws):
    later = quality.later_rows(ws, AS_OF).set_index(["table", "column"])
    # accounts: a2 signed 06-20; milestones: a1 go_live 06-20; surveys: r2 (06-16) and r3 (06-17);
    # churn: a3 on 06-18 has not happened on 06-15; usage runs to 06-30.
    assert later.loc[("accounts", "signed_at"), "rows"] == 1
    assert later.loc[("milestones", "reached_at"), "rows"] == 1
    assert later.loc[("surveys", "responded_at"), "rows"] == 2
    assert later.loc[("accounts", "churned_at"), "rows"] == 1
    assert pd.isna(later.loc[("usage", "date"), "rows"])
    assert later.loc[("usage", "date"), "meaning"] == "usage from 2024-06-16 to 2024-06-30 ignored"
    assert len(later) == 5
    assert quality.later_rows(ws, "2024-06-30").empty


def test_absent_tables(ws):
    assert quality.absent_tables(ws) == ["contacts", "touchpoints", "tickets", "outcomes", "readiness",
                                         "time_entries", "advocacy", "overrides", "contracts"]


def test_section_is_escaped_and_complete(ws):
    page = quality.section(ws, AS_OF, [quality.Exclusion("Readiness at handover", 2, "no <items> & none done",
                                                         "accounts"),
                                       {"what": "x", "rows": 0, "why": "nothing", "unit": "rows"}],
                           notes=["Calibration warning: only 3 churners <fewer than 100>"])
    assert "Validation found 1 warning" in page
    assert "no &lt;items&gt; &amp; none done" in page and "<items>" not in page
    assert "only 3 churners &lt;fewer than 100&gt;" in page
    assert "Left out of the figures, and why" in page
    assert "Not known yet on 2024-06-15" in page
    assert "contacts, touchpoints, tickets" in page
    # every table value went through the escaping table builder: the zero-row exclusion is kept
    assert re.search(r"<td>x</td><td class=\"wb-num\">0</td>", page)
    assert page._repr_html_() == str(page)


def test_section_without_findings_or_exclusions(tmp_path):
    (tmp_path / "accounts.csv").write_text("account_id,name,segment,csm,arr,contracted_modules,signed_at\n"
                                           "a1,A,SMB,Ann,1,1,2024-01-01\n")
    (tmp_path / "milestones.csv").write_text("account_id,milestone,reached_at\n")
    (tmp_path / "usage.csv").write_text("account_id,date,module,active_users,actions\na1,2024-01-02,core,1,1\n")
    with open_data(tmp_path) as w:
        page = quality.section(w, "2024-01-02")
    assert "Validation found nothing to report" in page
    assert "No row was left out" in page
    assert "Not known yet" not in page


def test_provenance_names_fingerprint_parameters_weights_and_version(ws):
    values = quality.provenance_values(ws, as_of=AS_OF, parameters={"data": "x", "as_of": None, "note": "<b>"},
                                       weights_version="v1", engine="duckdb")
    assert values["fingerprint"] == ws.fingerprint() and len(values["fingerprint"]) == 16
    assert values["as_of"] == "2024-06-15"
    assert values["parameters"] == {"data": "x", "note": "<b>"}                 # None left out
    assert values["workbook"] == workbook.__version__
    text = quality.provenance_text(values)
    assert text.startswith(f"Provenance: data fingerprint {ws.fingerprint()} (")
    assert 'parameters {"data": "x", "note": "<b>"}' in text
    assert "weights v1" in text and "engine duckdb" in text and f"workbook {workbook.__version__}" in text
    page = quality.provenance(ws, as_of=AS_OF, parameters={"note": "<b>"}, weights_version="v1")
    assert page.startswith('<p class="wb-provenance">') and "&lt;b&gt;" in page and "<b>" not in page
