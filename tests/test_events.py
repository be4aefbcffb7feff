"""workbook.events: the usage table built from a product event log.

A generated log of 3 million events (numpy → Parquet) over 400 accounts and 60 days; the usage
rows of a sample of accounts are checked against an independent pandas computation (distinct
users and events per account, day and module), and every row not in usage is counted: events of
names the map does not claim, rows without an account, rows without a timestamp.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from workbook.cli import main
from workbook.errors import BadInput
from workbook.events import assign_modules, read_module_map, usage_from_events

N = 3_000_000
EVENTS = np.array(["search_run", "search_filter_date", "dashboard_viewed", "widget_added", "export_csv",
                   "export_pdf", "page_view", "heartbeat", "login"])
MAP = {"modules": {"search": ["search_run", "search_filter_*"], "dashboards": ["dashboard_viewed", "widget_*"],
                   "exports": ["export_*"]}}
MODULE_OF = {"search_run": "search", "search_filter_date": "search", "dashboard_viewed": "dashboards",
             "widget_added": "dashboards", "export_csv": "exports", "export_pdf": "exports"}


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    """The generated event log, its pandas frame, and the usage built from it."""
    rng = np.random.default_rng(11)
    folder = tmp_path_factory.mktemp("events")
    acc = rng.integers(0, 400, N)
    ts = (np.datetime64("2026-03-01T00:00:00", "s") + rng.integers(0, 60 * 86_400, N).astype("timedelta64[s]"))
    # skewed event mix: page views and heartbeats are frequent and unmapped on purpose
    ev = EVENTS[rng.choice(len(EVENTS), N, p=[.15, .05, .15, .05, .05, .05, .25, .2, .05])]
    null_acc = rng.random(N) < 0.001
    null_ts = rng.random(N) < 0.001
    table = pa.table({
        "account_id": pa.array(np.char.add("A", acc.astype(str)), mask=null_acc),
        "user_id": pa.array(np.char.add("u", rng.integers(0, 30, N).astype(str))),
        "timestamp": pa.array(ts, mask=null_ts),
        "event": pa.array(ev),
    })
    path = folder / "events.parquet"
    pq.write_table(table, path)
    summary = usage_from_events(path, MAP, folder / "src")
    frame = pd.DataFrame({"account_id": table["account_id"].to_pandas(), "user_id": table["user_id"].to_pandas(),
                          "timestamp": table["timestamp"].to_pandas(), "event": table["event"].to_pandas()})
    usage = pd.read_parquet(folder / "src" / "usage.parquet")
    return {"path": path, "frame": frame, "summary": summary, "usage": usage, "folder": folder}


def test_counts_match_pandas_on_a_sample_of_accounts(log):
    f = log["frame"]
    sample = ["A0", "A7", "A123", "A250", "A399"]
    f = f[f["account_id"].isin(sample) & f["timestamp"].notna()].copy()
    f["module"] = f["event"].map(MODULE_OF)
    f = f[f["module"].notna()]
    f["date"] = f["timestamp"].dt.normalize()
    expect = (f.groupby(["account_id", "date", "module"])
              .agg(active_users=("user_id", "nunique"), actions=("event", "size")).reset_index())
    got = log["usage"]
    got = got[got["account_id"].isin(sample)].copy()
    got["date"] = pd.to_datetime(got["date"])
    got = got.sort_values(["account_id", "date", "module"]).reset_index(drop=True)
    expect = expect.sort_values(["account_id", "date", "module"]).reset_index(drop=True)
    assert len(got) == len(expect) == 5 * 60 * 3          # dense: every account, day and module
    keys = ["account_id", "date", "module"]
    as_text = {"account_id": object, "module": object}
    pd.testing.assert_frame_equal(got[keys].astype(as_text), expect[keys].astype(as_text), check_dtype=False)
    assert (got["active_users"].to_numpy() == expect["active_users"].to_numpy()).all()
    assert (got["actions"].to_numpy() == expect["actions"].to_numpy()).all()


def test_every_row_is_accounted_for(log):
    f, s = log["frame"], log["summary"]
    no_acc = f["account_id"].isna()
    no_ts = f["account_id"].notna() & f["timestamp"].isna()
    rest = f[~no_acc & ~no_ts]
    unmapped = rest[~rest["event"].isin(list(MODULE_OF))]
    assert s["events"] == N
    assert s["no_account"] == int(no_acc.sum()) > 0
    assert s["no_timestamp"] == int(no_ts.sum()) > 0
    assert s["unmapped"] == len(unmapped)
    assert s["mapped"] == len(rest) - len(unmapped) == int(log["usage"]["actions"].sum())
    assert s["events"] == s["mapped"] + s["unmapped"] + s["no_account"] + s["no_timestamp"]
    by_name = unmapped["event"].value_counts()
    assert s["unmapped_names"] == 3
    assert s["unmapped_top"] == [(k, int(v)) for k, v in by_name.items()]
    assert [k for k, _ in s["unmapped_top"]] == ["page_view", "heartbeat", "login"]
    assert s["usage_rows"] == len(log["usage"]) and s["accounts"] == 400


def test_written_atomically_and_readable_as_usage(log):
    folder = log["folder"] / "src"
    assert sorted(p.name for p in folder.iterdir()) == ["usage.parquet"]          # no temporary file left
    u = log["usage"]
    assert list(u.columns) == ["account_id", "date", "module", "active_users", "actions"]
    assert not u.duplicated(["account_id", "date", "module"]).any()
    assert (u["active_users"] >= 1).all() and (u["active_users"] <= 30).all()


def test_module_map_rules():
    m = read_module_map({"modules": {"a": ["x_*", "exact"], "b": ["x_special", "exact", "y?"]}})
    got = assign_modules(["x_special", "x_other", "exact", "y1", "y12", None], m)
    # exact names before patterns; among duplicates the first module wins; unmatched names left out
    assert got == {"x_special": "b", "x_other": "a", "exact": "a", "y1": "b"}
    with pytest.raises(BadInput, match="non-empty list"):
        read_module_map({"modules": {"a": []}})
    with pytest.raises(BadInput, match="must map module names"):
        read_module_map({"mods": {}})


def test_cli_and_bad_input(tmp_path, capsys):
    events = tmp_path / "e.csv"
    pd.DataFrame({"account_id": ["a", "a", "b", None], "user_id": ["u1", "u2", "u1", "u1"],
                  "timestamp": ["2026-01-01T09:00:00", "2026-01-01T23:59:59", "not a time", "2026-01-02T00:00:00"],
                  "event": ["search_run", "search_run", "search_run", "search_run"]}).to_csv(events, index=False)
    (tmp_path / "map.yaml").write_text("modules:\n  search: [search_run]\n")
    out = tmp_path / "out"
    assert main(["usage-from-events", "--events", str(events), "--modules", str(tmp_path / "map.yaml"),
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "1 usage rows, 1 accounts, 2026-01-01 .. 2026-01-01" in text
    assert "1 without account_id; 1 without a readable timestamp" in text
    u = pd.read_parquet(out / "usage.parquet")
    assert u[["active_users", "actions"]].values.tolist() == [[2, 2]]
    before = (out / "usage.parquet").read_bytes()
    pd.DataFrame({"account_id": ["a"], "when": ["2026-01-01"], "event": ["x"]}).to_csv(events, index=False)
    assert main(["usage-from-events", "--events", str(events), "--modules", str(tmp_path / "map.yaml"),
                 "--out", str(out)]) == 2
    assert "user_id, timestamp" in capsys.readouterr().err
    assert (out / "usage.parquet").read_bytes() == before                      # the previous file is untouched
