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
