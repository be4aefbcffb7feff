"""adoption.usage_windows and adoption.adoption_signals on a tiny world worked out by hand.

World (dates 2026), window = 28 days, so the window ending 03-31 covers 03-04 .. 03-31:

  a1 SMB  signed 03-02, 1 module   usage 03-30 X 3u/30a, 03-31 Y 1u/10a, 03-31 X 2u/20a,
                                    03-20 Z 5u/0a (actions 0: not use), 03-03 Z 9u/5a (29th day back:
                                    outside the 03-31 window), 04-01 X 7u/70a (after the date)
  a2 SMB  signed 03-01, 4 modules  usage 03-10 X 2u/8a, 03-11 Y 2u/4a, 03-04 X 1u/2a (28th day: inside)
  a3 SMB  signed 03-25, 3 modules  no usage
  a4 SMB  signed 2025-12-01, 2 mod usage 03-31 X 4u/40a
  a5 Ent  signed 02-24, 5 modules  usage 03-31 X 1u/1a
  a6 SMB  signed 01-01, churned 03-31 (churned by 03-31: left out that day, live on 03-15)
  a7 SMB  signed 03-03, churned 04-15 (after the date: still live), no usage
  a8 SMB  signed 04-01 (after the date: does not exist yet)
"""
from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from workbook.adoption import adoption_signals, tenure_band, usage_windows, adoption_settings
from workbook.engines import get_engine
from workbook.errors import BadInput
from workbook.workspace import open_data

D0, D1 = pd.Timestamp("2026-03-15"), pd.Timestamp("2026-03-31")

ACCOUNTS = [
    # account_id, segment, contracted_modules, signed_at, churned_at
    ("a1", "SMB", 1, "2026-03-02", ""),
    ("a2", "SMB", 4, "2026-03-01", ""),
    ("a3", "SMB", 3, "2026-03-25", ""),
    ("a4", "SMB", 2, "2025-12-01", ""),
    ("a5", "Enterprise", 5, "2026-02-24", ""),
    ("a6", "SMB", 2, "2026-01-01", "2026-03-31"),
    ("a7", "SMB", 2, "2026-03-03", "2026-04-15"),
    ("a8", "SMB", 2, "2026-04-01", ""),
]
USAGE = [
    # account_id, date, module, active_users, actions
    ("a1", "2026-03-30", "X", 3, 30), ("a1", "2026-03-31", "Y", 1, 10), ("a1", "2026-03-31", "X", 2, 20),
    ("a1", "2026-03-20", "Z", 5, 0), ("a1", "2026-03-03", "Z", 9, 5), ("a1", "2026-04-01", "X", 7, 70),
    ("a2", "2026-03-10", "X", 2, 8), ("a2", "2026-03-11", "Y", 2, 4), ("a2", "2026-03-04", "X", 1, 2),
    ("a4", "2026-03-31", "X", 4, 40),
    ("a5", "2026-03-31", "X", 1, 1),
]


def write_table(folder: Path, name: str, header: list[str], rows) -> None:
    with open(folder / f"{name}.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("adoption_world")
    write_table(d, "accounts", ["account_id", "name", "segment", "csm", "arr", "contracted_modules",
                                "signed_at", "churned_at"],
                [(a, f"Acct {a}", s, "cs1", 1000, m, sg, ch) for a, s, m, sg, ch in ACCOUNTS])
    write_table(d, "milestones", ["account_id", "milestone", "reached_at"], [("a1", "kickoff", "2026-03-05")])
    write_table(d, "usage", ["account_id", "date", "module", "active_users", "actions"], USAGE)
    ws = open_data(d)
    yield ws
    ws.close()


@pytest.fixture
def min2(tmp_path, monkeypatch):
    """A params directory whose adoption benchmark needs only 2 using accounts per cohort."""
    (tmp_path / "targets.yaml").write_text(
        "adoption:\n  window_days: 28\n  tenure_band_weeks: [4, 8, 12]\n"
        "  benchmark_min_accounts: 2\n  benchmark_tolerance: 0.10\n")
    monkeypatch.setenv("WORKBOOK_PARAMS", str(tmp_path))


class CountingEngine:
    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def run(self, query, frames=None, **params):
        self.calls.append(query)
        return self.inner.run(query, frames=frames, **params)


def test_tenure_bands_use_completed_weeks():
    # 34 days = 4 completed weeks (band 0-4); 35 days = week 5; 90 days = 12 weeks; 91 = 13
    days = [0, 34, 35, 62, 63, 90, 91, 400]
    assert list(tenure_band(days, adoption_settings())) == [
        "0-4", "0-4", "5-8", "5-8", "9-12", "9-12", "13+", "13+"]


def test_usage_windows_edges(world):
    eng = get_engine(world)
    out = usage_windows(eng, dates=[D1], accounts=["a1", "a2", "a3"]).set_index("account_id")
    # a1: modules X, Y (Z only with actions 0 in the window; 03-03 is outside) -> 2
    #     actions 30 + 10 + 20 + 0 = 60; user_days 3 + 1 + 2 = 6; active days 03-30, 03-31 = 2; peak 3
    assert out.loc["a1", ["modules_used", "actions", "user_days", "active_days", "peak_users"]].tolist() == [2, 60, 6, 2, 3]
    # a2: the 03-04 row is the 28th day back, inside: X, Y; 14 actions; 5 user-days; 3 days; peak 2
    assert out.loc["a2", ["modules_used", "actions", "user_days", "active_days", "peak_users"]].tolist() == [2, 14, 5, 3, 2]
    assert out.loc["a3", ["modules_used", "actions", "active_days"]].tolist() == [0, 0, 0]
    # per-account windows: a1's window ending 03-03 holds the single 03-03 row (Z, 9 users, 5 actions)
    per = usage_windows(eng, ends=pd.DataFrame({"account_id": ["a1", "a3"], "window_end": [pd.Timestamp("2026-03-03")] * 2}))
    per = per.set_index("account_id")
    assert per.loc["a1", ["modules_used", "actions", "user_days", "active_days", "peak_users"]].tolist() == [1, 5, 9, 1, 9]
    assert per.loc["a3", "actions"] == 0


def test_usage_windows_both_sets_in_one_query(world):
    eng = CountingEngine(get_engine(world))
    ends = pd.DataFrame({"account_id": ["a1", "a3", "a2"],
                         "window_end": [pd.Timestamp("2026-03-03"), D1, D1]})
    both = usage_windows(eng, dates=[D1, D0], ends=ends, accounts=["a1", "a2", "a3", "a4"])
    assert eng.calls == ["window_stats_mixed"]
    apart = pd.concat([usage_windows(eng, dates=[D1, D0], accounts=["a1", "a2", "a3", "a4"]),
                       usage_windows(eng, ends=ends)]).drop_duplicates(["account_id", "window_end"])
    key = ["account_id", "window_end"]
    pd.testing.assert_frame_equal(both.sort_values(key).reset_index(drop=True),
                                  apart.sort_values(key).reset_index(drop=True))
    # 4 accounts x 2 dates, plus a1's own window ending 03-03 (a3 and a2 on 03-31 are already there)
    assert len(both) == 9


def test_adoption_signals_by_hand(world, min2):
    eng = CountingEngine(get_engine(world))
    sig = adoption_signals(world, [D1, D0], engine=eng)
    assert eng.calls == ["window_stats_all"]            # one usage query for every date
    assert list(sig.columns[:8]) == ["account_id", "date", "segment", "tenure_band", "breadth", "depth",
                                     "frequency", "stakeholders"]
    s1 = sig[sig["date"] == D1].set_index("account_id")
    # live on 03-31: a6 churned that day (gone), a7 churns later (live), a8 not signed yet
    assert sorted(s1.index) == ["a1", "a2", "a3", "a4", "a5", "a7"]
    # bands: a1 29 days, a2 30, a3 6, a7 28 -> 0-4; a4 120 days = 17 weeks -> 13+; a5 35 days -> 5-8
    assert s1["tenure_band"].to_dict() == {"a1": "0-4", "a2": "0-4", "a3": "0-4", "a4": "13+", "a5": "5-8", "a7": "0-4"}
    # a1: breadth min(1, 2/1) = 1 (capped); depth 60/6 = 10; frequency 2; stakeholders 3
    assert s1.loc["a1", ["breadth", "depth", "frequency", "stakeholders"]].tolist() == [1.0, 10.0, 2, 3]
    # a2: 2/4 = .5; 14/5 = 2.8; 3; 2
    assert s1.loc["a2", ["breadth", "depth", "frequency", "stakeholders"]].tolist() == pytest.approx([0.5, 2.8, 3, 2])
    # a3: no usage is a real zero
    assert s1.loc["a3", ["breadth", "depth", "frequency", "stakeholders"]].tolist() == [0, 0, 0, 0]
    # a5: 1/5 = .2; 1/1 = 1; 1; 1
    assert s1.loc["a5", ["breadth", "depth", "frequency", "stakeholders"]].tolist() == [0.2, 1.0, 1, 1]
    bench = ["bench_breadth", "bench_depth", "bench_frequency", "bench_stakeholders"]
    flags = ["flag_breadth", "flag_depth", "flag_frequency", "flag_stakeholders"]
    # SMB 0-4 users: a1 (1, 10, 2, 3), a2 (.5, 2.8, 3, 2) -> medians .75, 6.4, 2.5, 2.5 (2 >= min 2)
    for a in ["a1", "a2", "a3", "a7"]:
        assert s1.loc[a, bench].tolist() == pytest.approx([0.75, 6.4, 2.5, 2.5])
        assert s1.loc[a, "bench_basis"] == "cohort"
    # tolerance 10%: a1 breadth 1 > .825 above; depth 10 > 7.04 above; freq 2 < 2.25 below; 3 > 2.75 above
    assert s1.loc["a1", flags].tolist() == ["above", "above", "below", "above"]
    # a2: .5 < .675 below; 2.8 < 5.76 below; 3 > 2.75 above; 2 < 2.25 below
    assert s1.loc["a2", flags].tolist() == ["below", "below", "above", "below"]
    assert s1.loc["a7", flags].tolist() == ["below"] * 4
    # SMB 13+ has one user (a4) -> falls back to SMB users a1, a2, a4:
    # breadth (1, .5, .5) -> .5; depth (10, 2.8, 10) -> 10; freq (2, 3, 1) -> 2; stakeholders (3, 2, 4) -> 3
    assert s1.loc["a4", bench].tolist() == pytest.approx([0.5, 10.0, 2.0, 3.0])
    assert s1.loc["a4", "bench_basis"] == "segment"
    assert s1.loc["a4", flags].tolist() == ["at", "at", "below", "above"]
    # Enterprise has one user (a5) -> everyone using: a1, a2, a4, a5
    # breadth (1, .5, .5, .2) -> .5; depth (10, 2.8, 10, 1) -> 6.4; freq (2, 3, 1, 1) -> 1.5; (3, 2, 4, 1) -> 2.5
    assert s1.loc["a5", bench].tolist() == pytest.approx([0.5, 6.4, 1.5, 2.5])
    assert s1.loc["a5", "bench_basis"] == "all"
    assert s1.loc["a5", flags].tolist() == ["below"] * 4
    # 03-15: window 02-16 .. 03-15. a6 (churns 03-31) is live, a3 (signed 03-25) is not yet
    s0 = sig[sig["date"] == D0].set_index("account_id")
    assert sorted(s0.index) == ["a1", "a2", "a4", "a5", "a6", "a7"]
    # a1 on 03-15 saw only the 03-03 row: Z 9 users 5 actions -> breadth 1, depth 5/9, freq 1, 9 users
    assert s0.loc["a1", ["breadth", "depth", "frequency", "stakeholders"]].tolist() == pytest.approx([1, 5 / 9, 1, 9])
    assert s0.loc["a6", "tenure_band"] == "9-12"      # 73 days = 10 completed weeks


def test_default_min_cohort_falls_back_to_everyone(world):
    # default benchmark_min_accounts is 5: every cohort and segment here is smaller -> "all"
    sig = adoption_signals(world, [D1])
    assert set(sig["bench_basis"]) == {"all"}
    assert sig["bench_breadth"].tolist() == pytest.approx([0.5] * len(sig))


def test_nobody_using_gives_zero_benchmark_and_at(world):
    # on 2026-02-01 only a6 and a4 are live and nobody used anything in the window
    sig = adoption_signals(world, ["2026-02-01"])
    assert sorted(sig["account_id"]) == ["a4", "a6"]
    assert set(sig["bench_basis"]) == {"none"}
    assert (sig[["bench_breadth", "bench_depth"]].to_numpy() == 0).all()
    assert set(sig["flag_frequency"]) == {"at"}


def test_no_dates_gives_empty_frame(world):
    sig = adoption_signals(world, [])
    assert sig.empty and "flag_breadth" in sig.columns


def test_bad_adoption_params_are_bad_input(world, tmp_path, monkeypatch):
    (tmp_path / "targets.yaml").write_text("adoption:\n  benchmark_tolerance: 2\n")
    monkeypatch.setenv("WORKBOOK_PARAMS", str(tmp_path))
    with pytest.raises(BadInput) as err:
        adoption_signals(world, [D1])
    assert err.value.column == "adoption"


def test_dates_default_to_the_latest_usage_date_and_engine_is_a_keyword(world):
    pd.testing.assert_frame_equal(adoption_signals(world), adoption_signals(world, [world.default_as_of()]))
    with pytest.raises(TypeError):
        adoption_signals(world, [D1], None)     # engine is keyword-only
