"""The command handlers in ``cli.py``, run in-process through ``cli.main`` on one small world.

Each subcommand's output is checked against the package functions it prints (``kpis.compute``,
``kpis.table``, ``health.health_table``, ``weights.list_versions``), the SPEC section 8 shapes
(JSON keys, CSV columns) and its exit code; usage errors exit 2 without a traceback.
"""
from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from workbook import __version__, cli, health, kpis, periods, revenue
from workbook import weights as wmod
from workbook.iofmt import to_json

REPO_PARAMS = Path(__file__).resolve().parent.parent / "params"
KPI_FIELDS = {"value", "n", "previous", "target", "better"}
HEALTH_CSV_FIRST = ["account_id", "name", "segment", "csm", "arr", "score", "computed_colour", "colour",
                    "override_reason", "adoption", "engagement", "sentiment", "outcomes", "relationship",
                    "coverage", "lowest_dimension", "change_7d"]                       # SPEC section 8


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    from workbook.sample import write_sample
    out = tmp_path_factory.mktemp("cli") / "world"
    write_sample(out, accounts=60, seed=3)
    return out


@pytest.fixture(scope="module")
def ws(world):
    from workbook.workspace import open_data
    ws = open_data(world)
    yield ws
    ws.close()


def run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------- kpis
@pytest.mark.parametrize("extra, period", [([], "week"), (["--period", "month", "--as-of", "2026-10-20"], "month")])
def test_kpis_json_is_compute(capsys, world, ws, extra, period):
    code, out, err = run(capsys, "kpis", "--data", world, "--format", "json", *extra)
    assert (code, err) == (0, "")
    got = json.loads(out)
    assert list(got) == ["as_of", "period", "start", "end", "kpis", "metrics", "revenue"]
    assert list(got["revenue"]) == list(revenue.REVENUE_KPIS)              # the sample world has contracts
    assert got["revenue"]["grr"]["value"] is not None
    assert list(got["kpis"]) == list(kpis.KPIS)
    assert all(set(v) == KPI_FIELDS for v in got["kpis"].values())
    as_of = "2026-10-20" if extra else f"{ws.default_as_of():%Y-%m-%d}"
    per = periods.period(period, as_of)
    assert (got["as_of"], got["period"], got["start"], got["end"]) == \
        (as_of, period, f"{per.start:%Y-%m-%d}", f"{per.end:%Y-%m-%d}")
    assert got == json.loads(to_json(kpis.compute(ws, as_of, period)))


def test_kpis_csv_rows_are_the_kpi_table(capsys, world, ws):
    code, out, _ = run(capsys, "kpis", "--data", world, "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert list(rows[0]) == ["as_of", "period", "key", "kpi", "unit", "value", "n", "previous", "change", "target",
                             "gap_to_target", "better", "status", "left_out", "start", "end"]
    # KPIs first, then supporting metrics, then (the sample world has contracts) the revenue KPIs
    assert [r["key"] for r in rows] == [*kpis.MEASURES, *revenue.REVENUE_KPIS]
    expected = kpis.kpi_table(ws)
    for row, (_, want) in zip(rows, expected.iterrows()):
        assert row["value"] == ("" if want["value"] is None else repr(float(want["value"])))
        assert (row["n"], row["status"], row["period"]) == (str(want["n"]), want["status"], "week")
        assert row["as_of"] == f"{ws.default_as_of():%Y-%m-%d}"


def test_kpis_table_prints_values_in_their_units(capsys, world, ws):
    code, out, _ = run(capsys, "kpis", "--data", world)
    assert code == 0
    per = periods.week(ws.default_as_of())
    assert out.splitlines()[0] == (f"Onboarding KPIs, {per.label()} (as of {per.end:%Y-%m-%d}; previous "
                                   f"{per.previous_start:%Y-%m-%d} – {per.previous_end:%Y-%m-%d})")
    table = kpis.kpi_table(ws).set_index("key")
    ttv = table.loc["time_to_value_days"]
    line = next(line for line in out.splitlines() if line.strip().startswith("Time to value "))
    assert kpis.format_value(ttv["value"], "days") in line and ttv["status"] in line
    assert "\nSupporting metrics\n" in out and "Time to value by segment (days):" in out


# ---------------------------------------------------------------------------- health
def test_health_csv_has_the_spec_columns_and_the_table_values(capsys, world, ws):
    code, out, _ = run(capsys, "health", "--data", world, "--format", "csv")
    assert code == 0
    got = pd.read_csv(io.StringIO(out), dtype={"account_id": str})
    assert list(got.columns[:len(HEALTH_CSV_FIRST)]) == HEALTH_CSV_FIRST
    want = health.health_table(ws)
    assert list(got["account_id"]) == list(want["account_id"])
    assert got["score"].tolist() == pytest.approx(want["score"].astype(float).tolist(), nan_ok=True)
    assert list(got["colour"]) == list(want["colour"])
    assert ((got["adoption"].dropna() >= 0) & (got["adoption"].dropna() <= 1)).all()


def test_health_table_counts_colours_and_says_what_was_measured(capsys, world, ws):
    code, out, err = run(capsys, "health", "--data", world)
    assert code == 0
    want = health.health_table(ws)
    counts = want["colour"].value_counts()
    assert out.splitlines()[0].startswith(f"health on {ws.default_as_of():%Y-%m-%d} (weights v1): "
                                          f"{counts.get('green', 0)} green, {counts.get('amber', 0)} amber, "
                                          f"{counts.get('red', 0)} red")
    assert err.startswith("measured: ") and err == health.measured_text(want) + "\n"
    assert out.splitlines()[1].split()[:4] == ["account_id", "name", "csm", "score"]


def test_health_json_records(capsys, world, ws):
    code, out, _ = run(capsys, "health", "--data", world, "--format", "json")
    assert code == 0
    got = json.loads(out)
    assert [r["account_id"] for r in got] == list(health.health_table(ws)["account_id"])
    assert set(HEALTH_CSV_FIRST) <= set(got[0])


# ---------------------------------------------------------------------------- weights
def test_weights_list_and_adopt(capsys, params, tmp_path):
    code, out, err = run(capsys, "weights", "list")
    assert (code, err) == (0, "")
    header, first = out.splitlines()[:2]
    assert header.split() == ["version", "active", "adopted_at", "parent", "weights", "thresholds", "reason", "intact"]
    assert first.split()[:2] == ["v1", "*"] and first.split()[-1] == "yes"

    proposal = tmp_path / "w.yaml"
    proposal.write_text(yaml.safe_dump({"weights": {"adoption": 40, "engagement": 10, "sentiment": 5,
                                                    "outcomes": 30, "relationship": 15},
                                        "thresholds": {"green": 75, "amber": 55}}))
    code, out, _ = run(capsys, "weights", "adopt", proposal, "--reason", "cli test")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"adopted v2 (parent v1): {params / 'weights' / 'v2.yaml'}"
    assert lines[1] == "  weights 40/10/5/30/15, thresholds 75/55"
    assert lines[2] == (f"  active_weights -> v2 in {params / 'health.yaml'}; "
                        f"{params / 'weights' / 'CHANGELOG.md'} updated")
    assert wmod.active_version() == "v2"
    code, out, _ = run(capsys, "weights", "list")
    rows = [line.split() for line in out.splitlines()[1:]]
    assert [r[0] for r in rows] == ["v1", "v2"]
    assert rows[0][1] != "*" and rows[1][1:3] == ["*", wmod.load_active().meta["adopted_at"]]


# ---------------------------------------------------------------------------- validate, usage, version
def test_validate_exit_codes(capsys, world, tmp_path):
    code, out, _ = run(capsys, "validate", "--data", world)
    assert code == 0 and out.rstrip().endswith("warning(s))") and f"{world}: valid (" in out
    broken = tmp_path / "broken"
    shutil.copytree(world, broken)
    acc = pd.read_csv(broken / "accounts.csv", dtype=str, keep_default_na=False)
    acc.loc[0, "arr"] = "-5"
    acc.to_csv(broken / "accounts.csv", index=False)
    code, out, err = run(capsys, "validate", "--data", broken)
    assert code == 2
    assert "accounts" in out and "arr" in out
    assert err.startswith(f"{broken}: ") and "error(s)" in err
    code, _, err = run(capsys, "validate", "--data", tmp_path / "missing")
    assert code == 2 and err == f"workbook: bad input: {tmp_path / 'missing'}: data source does not exist\n"


@pytest.mark.parametrize("argv, says", [
    ([], "the following arguments are required: COMMAND"),
    (["kpis"], "the following arguments are required: --data"),
    (["kpis", "--data", "{world}", "--as-of", "2026-02-30"], "is not a calendar day"),
    (["kpis", "--data", "{world}", "--period", "year"], "invalid choice: 'year'"),
    (["sample", "--out", "{tmp}", "--accounts", "0"], "must be at least 1"),
    (["weights", "adopt", "x.yaml"], "the following arguments are required: --reason"),
    (["weights", "adopt", "{tmp}/missing.yaml", "--reason", "x"], "missing.yaml: parameters file does not exist"),
    (["report", "weekly", "-p", "nonsense"], "workbook: bad input: -p: expected KEY=VALUE"),
    (["report", "weekly", "--data", "{world}", "--from", "2026-11-01"],
     "workbook: bad input: --to: a backfill needs both --from and --to"),
    (["report", "weekly", "--data", "{world}", "--from", "2026-11-01", "--to", "2026-11-08", "--as-of", "2026-11-08"],
     "workbook: bad input: --as-of: a backfill (--from/--to) sets as_of for each report"),
    (["usage-from-events", "--events", "{tmp}/e.csv", "--modules", "m.yaml", "--out", "{tmp}"],
     "e.csv: event export not found"),
])
def test_usage_errors_exit_2_without_traceback(capsys, world, tmp_path, argv, says):
    argv = [a.format(world=world, tmp=tmp_path) for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 2, err
    assert says in err and "Traceback" not in err
    assert out == ""


def test_version(capsys):
    assert run(capsys, "--version") == (0, f"workbook {__version__}\n", "")


def test_usage_from_events_prints_the_summary(capsys, tmp_path):
    events = tmp_path / "events.csv"
    events.write_text("account_id,user_id,timestamp,event\n"
                      "A1,u1,2026-11-01T09:00:00,report.open\nA1,u2,2026-11-01T10:00:00,report.open\n"
                      "A2,u3,2026-11-02T09:00:00,other.thing\n")
    modules = tmp_path / "modules.yaml"
    modules.write_text("modules:\n  reports: ['report.*']\n")
    code, out, err = run(capsys, "usage-from-events", "--events", events, "--modules", modules, "--out", tmp_path / "o")
    assert code == 0, err
    assert (tmp_path / "o" / "usage.parquet").is_file()
    usage = pd.read_parquet(tmp_path / "o" / "usage.parquet")
    assert usage["account_id"].astype(str).tolist() == ["A1"]
    assert "other.thing" in out


def test_nothing_but_cli_prints_frames():
    """The handlers and the terminal table format live in cli.py (issue 12)."""
    for module in (kpis, health, wmod):
        assert not hasattr(module, "cli")
    assert not hasattr(__import__("workbook.iofmt", fromlist=["x"]), "print_frame")
    assert callable(cli.print_frame)


# ---------------------------------------------------------------------------- what the table shows (repro 5, 10)
def _crafted_health(as_of):
    """Three accounts whose scores sit just under a threshold, with hand-picked changes and reasons."""
    dims = {"adoption": [1.0, 0.5, 0.2], "engagement": [0.8, 0.6, 0.4], "sentiment": [None, None, None],
            "outcomes": [0.6, 0.7, 0.5], "relationship": [0.7, 0.6, 0.5]}
    return pd.DataFrame({
        "account_id": pd.array(["A1", "A2", "A3"], dtype="string"),
        "name": pd.array(["One", "Two", "Three"], dtype="string"),
        "segment": pd.array(["SMB"] * 3, dtype="string"), "csm": pd.array(["Ana"] * 3, dtype="string"),
        "arr": [1000.0, 2000.0, 3000.0],
        "score": [79.988285116, 59.96, 41.26],
        "computed_colour": pd.array(["amber", "red", "red"], dtype="string"),
        "colour": pd.array(["amber", "red", "amber"], dtype="string"),
        "override_reason": pd.array([None, None, "exec sponsor engaged"], dtype="string"),
        **{d: pd.array(v, dtype="float64") for d, v in dims.items()},
        "coverage": [0.85] * 3,
        "lowest_dimension": pd.array(["outcomes", "adoption", "adoption"], dtype="string"),
        "change_7d": [-0.04, 1.26, -0.3],
        "archetypes": ["", "stuck", ""],
        "next_review": [as_of + pd.Timedelta(days=14), as_of + pd.Timedelta(days=7), as_of + pd.Timedelta(days=14)],
    })


def test_health_table_shows_the_score_the_colour_follows(capsys, world, ws, monkeypatch):
    """79.988 is amber (green from 80): the table shows 79.9 like the reports (cut, not rounded to
    80.0); a change of -0.04 shows 0.0, not -0.0; no override shows —, not <NA>."""
    as_of = ws.default_as_of()
    monkeypatch.setattr(health, "health_table", lambda *a, **k: _crafted_health(as_of))
    code, out, _ = run(capsys, "health", "--data", world)
    assert code == 0
    rows = {line.split()[0]: line.split() for line in out.splitlines()[2:]}
    assert rows["A1"][3:7] == ["79.9", "amber", "amber", "outcomes"] and rows["A1"][7] == "0.0"
    assert rows["A1"][-1] == "—"
    assert rows["A2"][3:5] == ["59.9", "red"] and rows["A2"][6:8] == ["adoption", "+1.3"]
    assert rows["A3"][3:8] == ["41.2", "amber", "red", "adoption", "-0.3"]
    assert out.splitlines()[-1].endswith("exec sponsor engaged")
    assert "80.0" not in out and "60.0" not in out and "-0.0" not in out and "<NA>" not in out
    # the machine formats keep every digit
    code, out, _ = run(capsys, "health", "--data", world, "--format", "csv")
    got = pd.read_csv(io.StringIO(out))
    assert got["score"].tolist() == [79.988285116, 59.96, 41.26] and got["change_7d"].tolist() == [-0.04, 1.26, -0.3]
    code, out, _ = run(capsys, "health", "--data", world, "--format", "json")
    assert [r["score"] for r in json.loads(out)] == [79.988285116, 59.96, 41.26]


def test_as_of_far_past_the_usage_is_allowed_with_a_note(capsys, world, ws):
    last = ws.usage_date_range[1]
    late = last + pd.Timedelta(days=30)
    note = (f"note: --as-of {late:%Y-%m-%d} is 30 days after the last usage date in the source ({last:%Y-%m-%d}); "
            "usage after that day is unknown, not zero\n")
    code, out, err = run(capsys, "health", "--data", world, "--as-of", f"{late:%Y-%m-%d}", "--format", "csv")
    assert code == 0 and err.startswith(note) and out.startswith("account_id,")
    code, out, err = run(capsys, "kpis", "--data", world, "--as-of", f"{late:%Y-%m-%d}", "--format", "json")
    assert code == 0 and err == note and json.loads(out)["as_of"] == f"{late:%Y-%m-%d}"
    # a week past the data is within the threshold; the default as_of is the last usage date itself
    week = last + pd.Timedelta(days=7)
    code, _, err = run(capsys, "kpis", "--data", world, "--as-of", f"{week:%Y-%m-%d}", "--format", "json")
    assert code == 0 and err == ""
    code, _, err = run(capsys, "health", "--data", world, "--format", "json")
    assert code == 0 and "note:" not in err


def test_report_as_of_far_past_the_usage_notes_before_rendering(capsys, world, ws, tmp_path, monkeypatch):
    from types import SimpleNamespace

    from workbook import report
    rendered = []
    monkeypatch.setattr(report, "render", lambda name, **kw: rendered.append((name, kw["as_of"]))
                        or SimpleNamespace(html=tmp_path / name / "page.html"))
    last = ws.usage_date_range[1]
    late = last + pd.Timedelta(days=45)
    code, out, err = run(capsys, "report", "weekly", "--data", world, "--as-of", f"{late:%Y-%m-%d}",
                         "--out", tmp_path)
    assert code == 0 and rendered == [("weekly", f"{late:%Y-%m-%d}")]
    assert (f"note: --as-of {late:%Y-%m-%d} is 45 days after the last usage date in the source "
            f"({last:%Y-%m-%d}); usage after that day is unknown, not zero\n") in err
