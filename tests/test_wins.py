"""workbook.wins: the wins of a window, worked out by hand on a four-account world.

Window 2026-06-08 .. 06-14 (a week). Accounts (SMB, cs1):
  a1  signed 01-01, ARR 5,000: first_value 06-10 (day 160 after signing), onboarding_complete
      06-14 (the window's last day: day 164); green now, amber at the start -> turned green
  a2  signed 03-01, ARR 9,000: first_value 06-07 (one day before the window: not a win); a
      reference on 06-08 (the first day) and a review on 06-15 (after the window)
  a3  signed 06-20, after the window: its advocacy on 06-21 is not counted either way
  a4  signed 01-01, ARR 2,000: green now but not scored at the start (None) -> no turned-green win
  a5  signed 01-01, ARR 3,000: red now and red before -> no win
"""
from __future__ import annotations

import pandas as pd
import pytest

from test_health import write_world
from workbook import wins
from workbook.workspace import open_data

START, END = "2026-06-08", "2026-06-14"


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    folder = write_world(
        tmp_path_factory.mktemp("wins") / "w",
        [dict(account_id="a1", arr=5000), dict(account_id="a2", arr=9000, signed_at="2026-03-01"),
         dict(account_id="a3", arr=1000, signed_at="2026-06-20"), dict(account_id="a4", arr=2000),
         dict(account_id="a5", arr=3000)],
        milestones=[dict(account_id="a1", milestone="first_value", reached_at="2026-06-10"),
                    dict(account_id="a1", milestone="onboarding_complete", reached_at="2026-06-14"),
                    dict(account_id="a2", milestone="first_value", reached_at="2026-06-07")],
        advocacy=[dict(account_id="a2", date="2026-06-08", kind="reference"),
                  dict(account_id="a2", date="2026-06-15", kind="review"),
                  dict(account_id="a3", date="2026-06-21", kind="referral")],
        usage=[dict(account_id="a1", date="2026-06-30", module="X", active_users=1, actions=1)])
    w = open_data(folder)
    yield w
    w.close()


HEALTH = pd.DataFrame({"account_id": ["a1", "a2", "a4", "a5"], "colour": ["green", "green", "green", "red"],
                       "score": [81.4, 90.0, 85.0, 20.0]})
BEFORE = pd.Series(["amber", "green", None, "red"], dtype=object)


def test_wins_of_the_window(ws):
    ev = wins.events(ws, HEALTH, START, END, BEFORE)
    assert list(ev.columns) == wins.COLUMNS
    rows = [(r.account_id, r.kind, f"{r.date:%m-%d}", r.detail, r.arr) for r in ev.itertuples()]
    assert rows == [
        ("a1", "onboarding completed", "06-14", "day 164 after signing", 5000),
        ("a1", "turned green", "06-14", "amber → green, score 81", 5000),
        ("a1", "first value reached", "06-10", "day 160 after signing", 5000),
        ("a2", "advocacy", "06-08", "reference", 9000),
    ]
    assert ev["name"].tolist() == ["Acct a1"] * 3 + ["Acct a2"]


def test_without_colours_before_there_is_no_turned_green(ws):
    ev = wins.events(ws, HEALTH, START, END)
    assert "turned green" not in set(ev["kind"]) and len(ev) == 3


def test_a_window_without_wins_is_empty(ws):
    ev = wins.events(ws, HEALTH, "2026-05-01", "2026-05-07", pd.Series([None] * 4, dtype=object))
    assert ev.empty and list(ev.columns) == wins.COLUMNS


def test_kinds_are_the_report_order():
    assert wins.KINDS == ("first value reached", "onboarding completed", "advocacy", "turned green")
