"""Optional columns left out of a source (SPEC section 2: only the bold columns are required).

Two promises (docs/data-contract.md, "Optional columns"):

- **it runs**: valid data without any optional column validates and scores (exit 0, never 1).
  The typed table carries an absent optional column as typed NULLs, so no query meets a
  missing column, and a row rule reading an absent column is not checked;
- **absent is not false**: a health part (or a KPI) that rests on an absent column alone is not
  measured (NaN / null) and drops out, instead of reading the missing column as "never".

Every number checked by a hand-made world below is worked out in the test's comments.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbook import activity, health, kpis, quality
from workbook.contract import TABLES
from workbook.workspace import open_data, summarise

WORKBOOK = str(Path(sys.executable).with_name("workbook"))
OPTIONAL = [(t.name, c.name) for t in TABLES.values() for c in t.columns if not c.required]


def _without(sample_dir: Path, folder: Path, table: str, *columns: str) -> Path:
    """A copy of the sample world whose ``table`` file lacks ``columns`` (no receipt copied)."""
    shutil.copytree(sample_dir, folder, ignore=shutil.ignore_patterns(".workbook-receipt*"))
    path = folder / f"{table}.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.drop(columns=list(columns)).to_csv(path, index=False)
    return folder


@pytest.fixture(scope="module")
def worlds(sample_dir, tmp_path_factory):
    """``worlds(table, column)``: the sample world without that one optional column (made once)."""
    made: dict[tuple[str, str], Path] = {}

    def get(table: str, column: str) -> Path:
        if (table, column) not in made:
            made[table, column] = _without(sample_dir, tmp_path_factory.mktemp("opt") / f"{table}.{column}",
                                           table, column)
        return made[table, column]
    return get


def _write(folder: Path, tables: dict[str, tuple[list[str], list[tuple]]]) -> Path:
    """Write each table as ``(columns, rows)`` to ``<folder>/<table>.csv``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, (columns, rows) in tables.items():
        pd.DataFrame(rows, columns=columns).to_csv(folder / f"{name}.csv", index=False)
    return folder


# A hand-made world: one SMB account signed a year before AS_OF, onboarding done (so it is scored
# as a mature account), first value reached, daily use of one module.
AS_OF = pd.Timestamp("2026-03-31")
ACCOUNTS = (["account_id", "name", "segment", "csm", "arr", "contracted_modules", "signed_at", "churned_at"],
            [("A1", "Acme", "SMB", "Ana", 1000, 1, "2025-03-31", "")])
MILESTONES = (["account_id", "milestone", "reached_at"],
              [("A1", "kickoff", "2025-04-02"), ("A1", "first_value", "2025-04-20"),
               ("A1", "onboarding_complete", "2025-05-01"), ("A1", "handover", "2025-05-05")])
USAGE = (["account_id", "date", "module", "active_users", "actions"],
         [("A1", f"{AS_OF - pd.Timedelta(days=i):%Y-%m-%d}", "core", 2, 5) for i in range(60)])


def _hand_world(folder: Path, **tables) -> Path:
    return _write(folder, {"accounts": ACCOUNTS, "milestones": MILESTONES, "usage": USAGE, **tables})


def _row(ws) -> pd.Series:
    parts = health.dimension_parts(ws, [AS_OF])
    return parts[parts["account_id"] == "A1"].iloc[0]


# ---------------------------------------------------------------------------- it runs
@pytest.mark.parametrize("table,column", OPTIONAL, ids=[f"{t}.{c}" for t, c in OPTIONAL])
def test_every_optional_column_may_be_left_out(worlds, table, column):
    """validate, health and kpis (the JSON ``workbook kpis`` prints) on the sample world without
    one optional column: no error, and the workspace names the column as absent."""
    with open_data(worlds(table, column)) as ws:
        assert not ws.errors
        assert ws.absent_columns() == {table: [column]}
        assert not ws.has_column(table, column) and ws.has(table)
        assert f"{table:<13} {column}" in summarise(ws)
        # the typed table carries the column as NULLs of its kind
        assert ws.sql(f'SELECT count("{column}") AS n FROM {table}')["n"].iloc[0] == 0
        assert column in ws.frame(table).columns
        scored = health.health_table(ws)
        assert len(scored) > 0 and scored["score"].notna().all()
        json.dumps(kpis.compute(ws, period="month"), default=str)


@pytest.mark.parametrize("table,column,command", [
    ("contracts", "kind", "validate"), ("contracts", "kind", "health"),
    ("contacts", "started_at", "kpis"), ("readiness", "weight", "kpis"), ("readiness", "completed_at", "kpis"),
])
def test_command_line_without_optional_column(worlds, table, column, command):
    """The installed executable: exit 0 and no traceback (each once reported exit 1)."""
    run = subprocess.run([WORKBOOK, command, "--data", str(worlds(table, column))], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    if command == "validate":
        assert "optional columns absent from the source" in run.stdout
        assert f"{table:<13} {column}" in run.stdout


def test_sample_world_has_no_absent_columns(sample_ws):
    assert sample_ws.absent_columns() == {}
    assert "optional columns absent" not in summarise(sample_ws)
    assert "Optional columns absent" not in str(quality.section(sample_ws, sample_ws.default_as_of()))


def test_absent_column_is_a_typed_null(tmp_path):
    src = _hand_world(tmp_path / "w", readiness=(["account_id", "item"], [("A1", "SSO")]),
                      contacts=(["contact_id", "account_id", "role", "left_at"], [("C1", "A1", "champion", "")]))
    with open_data(src) as ws:
        types = dict(ws.sql("SELECT column_name, column_type FROM (DESCRIBE readiness)").values.tolist())
        assert types == {"account_id": "VARCHAR", "item": "VARCHAR", "completed_at": "DATE", "weight": "DOUBLE"}
        assert ws.absent_columns() == {"accounts": ["region", "onboarding_due_at"],
                                       "contacts": ["is_executive_sponsor", "name", "started_at"],
                                       "readiness": ["completed_at", "weight"]}


# ---------------------------------------------------------------------------- row rules on absent columns
def test_rule_reading_an_absent_column_is_skipped(tmp_path):
    """``left_at >= started_at`` cannot be broken without started_at; with it, it still is."""
    rows = [("C1", "A1", "champion", "2025-01-01", "2025-06-01")]
    cols = ["contact_id", "account_id", "role", "started_at", "left_at"]
    with open_data(_hand_world(tmp_path / "a", contacts=(cols, rows)), validate=False) as ws:
        assert not ws.errors
    rows = [("C1", "A1", "champion", "2025-07-01", "2025-06-01")]    # left before it started
    with open_data(_hand_world(tmp_path / "b", contacts=(cols, rows)), validate=False) as ws:
        assert [(f.table, f.column, f.count) for f in ws.errors] == [("contacts", "left_at", 1)]
    no_start = (["contact_id", "account_id", "role", "left_at"], [("C1", "A1", "champion", "2025-06-01")])
    with open_data(_hand_world(tmp_path / "c", contacts=no_start)) as ws:
        assert not ws.errors and ws.absent_columns()["contacts"] == ["is_executive_sponsor", "name", "started_at"]


# ---------------------------------------------------------------------------- absent means not measured
TOUCH_COLS = ["account_id", "date", "kind", "direction", "responded", "attended"]


def _touches(responded: bool) -> tuple[list[str], list[tuple]]:
    """All on one day, 52 days before AS_OF: five outbound meetings, four attended, and five
    outbound emails nobody answered (an empty ``responded`` cell reads as false)."""
    day = f"{AS_OF - pd.Timedelta(days=52):%Y-%m-%d}"
    rows = [("A1", day, "meeting", "outbound", "", "true" if i < 4 else "false") for i in range(5)]
    rows += [("A1", day, "email", "outbound", "", "") for _ in range(5)]
    cols = TOUCH_COLS if responded else [c for c in TOUCH_COLS if c != "responded"]
    return cols, [r if responded else r[:4] + r[5:] for r in rows]


def test_engagement_without_responded_is_built_from_measured_parts(tmp_path):
    """Worked by hand (params/health.yaml: parts recency 0.2, response 0.4, attendance 0.4;
    recency 1 at 14 days falling to 0 at 90).

    - recency: the last two-way touch (an attended outbound meeting) is 52 days old:
      (90 − 52) ÷ (90 − 14) = 0.5.
    - attendance: 4 of 5 scheduled touches attended, all on one day (the recency weights cancel)
      and the only account of its segment (the prior is its own rate, so shrinking changes
      nothing): 0.8.
    - response with the column present but empty: answered = outbound and (responded or
      attended) = 4 of 10 → 0.4; engagement = 0.2 × 0.5 + 0.4 × 0.4 + 0.4 × 0.8 = 0.58.
    - response with the column absent: not measured, drops out; engagement =
      (0.2 × 0.5 + 0.4 × 0.8) ÷ (0.2 + 0.4) = 0.42 ÷ 0.6 = 0.70.
    """
    with open_data(_hand_world(tmp_path / "present", touchpoints=_touches(True))) as ws:
        r = _row(ws)
        assert r["engagement_recency"] == pytest.approx(0.5)
        assert r["engagement_attendance"] == pytest.approx(0.8)
        assert r["engagement_response"] == pytest.approx(0.4)
        assert r["engagement"] == pytest.approx(0.58)
        assert r["engagement_answered"] == 4
    with open_data(_hand_world(tmp_path / "absent", touchpoints=_touches(False))) as ws:
        assert ws.absent_columns()["touchpoints"] == ["responded"]
        r = _row(ws)
        assert np.isnan(r["engagement_response"]) and np.isnan(r["engagement_answered"])
        assert r["engagement_attendance"] == pytest.approx(0.8)
        assert r["engagement"] == pytest.approx(0.70)


def test_engagement_without_attended(tmp_path):
    """The same touches without ``attended``: no meeting is known to have taken place, so no
    outbound touch is two-way (none answered either) and recency falls back to the signature,
    a year ago: 0. Attendance is not measured; response = 0 of 10 answered → 0.
    engagement = (0.2 × 0 + 0.4 × 0) ÷ 0.6 = 0, from the parts measured — not 0.4 × 0 for an
    attendance read as "never"."""
    cols, rows = _touches(True)
    keep = [c for c in cols if c != "attended"]
    touch = (keep, [r[:5] for r in rows])
    with open_data(_hand_world(tmp_path / "w", touchpoints=touch)) as ws:
        r = _row(ws)
        assert np.isnan(r["engagement_attendance"]) and np.isnan(r["engagement_attended"])
        assert r["engagement_recency"] == 0 and r["engagement_response"] == 0
        assert r["engagement"] == 0


def test_outcomes_without_achieved_at_is_first_value_only(tmp_path):
    """Two stated outcomes, both due before AS_OF, first value reached (outcomes parts:
    first value 0.4, stated 0.6). With ``achieved_at`` present but empty: stated 0 of 2 = 0,
    outcomes = 0.4 × 1 + 0.6 × 0 = 0.4. Without the column: stated is not measured, outcomes =
    first value = 1.0, and the counts read 0 of 0 (as without the table)."""
    cols = ["account_id", "outcome", "due_at", "achieved_at"]
    rows = [("A1", "Close books in 5 days", "2025-09-30", ""), ("A1", "One report a week", "2025-12-31", "")]
    with open_data(_hand_world(tmp_path / "present", outcomes=(cols, rows))) as ws:
        r = _row(ws)
        assert r["outcomes_stated"] == 0 and r["outcomes"] == pytest.approx(0.4)
    with open_data(_hand_world(tmp_path / "absent", outcomes=(cols[:3], [x[:3] for x in rows]))) as ws:
        r = _row(ws)
        assert np.isnan(r["outcomes_stated"]) and r["outcomes_counted"] == 0
        assert r["outcomes"] == pytest.approx(1.0)
        line = activity.timeline(ws, "A1", "2025-09-01", AS_OF)
        assert "achievement not recorded" in set(line["detail"])
        assert not line["what"].str.contains("not achieved").any()


def test_relationship_without_sponsor_column(tmp_path):
    """Two active contacts (champion, user) of an SMB account (full marks at 2 contacts, 3 roles;
    parts contacts 0.25, champion 0.3, sponsor 0.25, roles 0.2): contacts 1, champion 1,
    roles 2 ÷ 3. Sponsor column present, all false: (0.25 + 0.3 + 0.2 × 2/3) ÷ 1 = 0.68333.
    Column absent: sponsor drops out, (0.25 + 0.3 + 0.2 × 2/3) ÷ 0.75 = 0.91111."""
    cols = ["contact_id", "account_id", "role", "is_executive_sponsor"]
    rows = [("C1", "A1", "champion", "false"), ("C2", "A1", "user", "false")]
    with open_data(_hand_world(tmp_path / "present", contacts=(cols, rows))) as ws:
        assert _row(ws)["relationship"] == pytest.approx(0.55 + 0.2 * 2 / 3)
    with open_data(_hand_world(tmp_path / "absent", contacts=(cols[:3], [x[:3] for x in rows]))) as ws:
        r = _row(ws)
        assert np.isnan(r["relationship_sponsor"])
        assert r["relationship"] == pytest.approx((0.55 + 0.2 * 2 / 3) / 0.75)


def test_timeline_without_resolved_at_does_not_call_tickets_open(tmp_path):
    tickets = (["ticket_id", "account_id", "opened_at"], [("T1", "A1", "2026-03-20")])
    with open_data(_hand_world(tmp_path / "w", tickets=tickets)) as ws:
        line = activity.timeline(ws, "A1", "2026-03-01", AS_OF)
        assert list(line["detail"]) == ["no priority; resolution not recorded"]


# ---------------------------------------------------------------------------- readiness at handover
def _readiness_kpi(folder: Path) -> dict:
    with open_data(folder) as ws:
        return kpis.compute(ws, as_of=AS_OF, period="week")["kpis"]["readiness_at_handover"]


def test_readiness_default_weight_and_missing_completion(tmp_path):
    """Handover on 2026-03-30, in the week ending AS_OF. Four checklist items; all but the first
    completed before handover. Weights 3, 1, 1, 1: 100 × 3 ÷ 6 = 50.0. Without the weight column
    every item weighs 1 (SPEC: default 1): 100 × 3 ÷ 4 = 75.0. Without completed_at nothing can
    be shown done: readiness is not measured (null, cohort 0), not 0."""
    milestones = (MILESTONES[0], [m for m in MILESTONES[1] if m[1] != "handover"] + [("A1", "handover", "2026-03-30")])
    rows = [("A1", "SSO", "", 3), ("A1", "Admins", "2026-03-01", 1), ("A1", "Data", "2026-03-02", 1),
            ("A1", "Training", "2026-03-29", 1)]
    cols = ["account_id", "item", "completed_at", "weight"]
    full = _hand_world(tmp_path / "full", milestones=milestones, readiness=(cols, rows))
    assert _readiness_kpi(full)["value"] == pytest.approx(50.0)
    no_weight = _hand_world(tmp_path / "w", milestones=milestones, readiness=(cols[:3], [r[:3] for r in rows]))
    assert _readiness_kpi(no_weight)["value"] == pytest.approx(75.0)
    no_done = _hand_world(tmp_path / "c", milestones=milestones,
                          readiness=(["account_id", "item", "weight"], [(r[0], r[1], r[3]) for r in rows]))
    got = _readiness_kpi(no_done)
    assert got["value"] is None and got["n"] == 0


# ---------------------------------------------------------------------------- contracts
CONTRACT_COLS = ["account_id", "contract_id", "starts_at", "ends_at", "arr"]
TWO_ACCOUNTS = (ACCOUNTS[0], [ACCOUNTS[1][0], ("A2", "Bolt", "SMB", "Ana", 500, 1, "2025-03-31", ""),
                              ("A3", "Gone", "SMB", "Ana", 500, 1, "2025-03-31", "2025-12-31")])


def test_overlapping_contracts_without_kind_are_a_warning(tmp_path):
    """A base contract and an add-on overlapping: without a kind column the add-on cannot be told
    from an early renewal, so it is a warning (exit 0), not an error; with the column and the
    kinds empty it stays an error (a contract without a kind is not an add-on)."""
    rows = [("A1", "K1", "2025-03-31", "2026-03-31", 1000), ("A1", "K2", "2025-09-01", "2026-03-31", 200)]
    with open_data(_hand_world(tmp_path / "nokind", contracts=(CONTRACT_COLS, rows))) as ws:
        found = [(f.severity, f.table, f.column, f.count) for f in ws.findings if f.table == "contracts"]
        assert found == [("warning", "contracts", "starts_at", 2)]
        assert "no kind column" in ws.warnings[-1].rule
    with_kind = (CONTRACT_COLS + ["kind"], [r + ("",) for r in rows])
    with open_data(_hand_world(tmp_path / "kind", contracts=with_kind), validate=False) as ws:
        assert [(f.table, f.column) for f in ws.errors] == [("contracts", "starts_at")]


def test_live_accounts_without_contracts_warn(tmp_path):
    """A1 has a contract, A2 (live) none, A3 none but churned: one live account without a
    contract, whose ARR counts as 0 (SPEC: ARR from contracts) — a warning, not an error."""
    rows = [("A1", "K1", "2025-03-31", "2027-03-31", 1000)]
    with open_data(_write(tmp_path / "w", {"accounts": TWO_ACCOUNTS, "milestones": MILESTONES, "usage": USAGE,
                                           "contracts": (CONTRACT_COLS, rows)})) as ws:
        found = [f for f in ws.findings if f.table == "contracts"]
        assert [(f.severity, f.column, f.count, f.examples) for f in found] == [("warning", "account_id", 1, ("A2",))]
        assert "ARR counts as 0" in found[0].rule
    with open_data(_write(tmp_path / "empty", {"accounts": TWO_ACCOUNTS, "milestones": MILESTONES, "usage": USAGE,
                                               "contracts": (CONTRACT_COLS, [])})) as ws:
        found = [f for f in ws.findings if f.table == "contracts"]
        assert [(f.severity, f.column, f.count, f.examples) for f in found] == [
            ("warning", "account_id", 2, ("A1", "A2"))]
        assert found[0].rule.startswith("has no rows")


# ---------------------------------------------------------------------------- what a reader is told
def test_report_quality_section_names_absent_columns(worlds):
    with open_data(worlds("touchpoints", "responded")) as ws:
        text = str(quality.section(ws, ws.default_as_of()))
        assert "Optional columns absent from the source" in text and "touchpoints.responded" in text
        assert quality.absent_columns(ws) == ["touchpoints.responded"]


def _text(fragment) -> str:
    import re
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", str(fragment._repr_html_())))


def test_dashboard_escalations_say_what_the_tickets_file_does_not_record(sample_dir, worlds):
    from workbook import reporting
    full = _text(reporting.Dashboard(data=sample_dir).escalations())
    assert " open " in full and "not recorded" not in full                 # the sample has open escalations
    no_resolved = _text(reporting.Dashboard(data=worlds("tickets", "resolved_at")).escalations())
    assert "not recorded" in no_resolved and " open " not in no_resolved   # unknown, not open
    no_flag = _text(reporting.Dashboard(data=worlds("tickets", "escalated")).escalations())
    assert "escalations are not recorded in this source" in no_flag
