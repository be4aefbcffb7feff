"""workbook.timeline and workbook.members on a hand-built world (worked out by hand below).

Window 2026-06-01 .. 06-30 for account a1 (signed 2026-01-01, CSM "Ines Costa"):
  milestones   go_live 05-20 (before the window: out), activation 06-03, first_value 06-03 and
               06-20 (a repeat: the earliest counts, so one row on 06-03), handover 07-02 (after)
  tickets      t1 opened 06-05, escalated, urgent, resolved 06-08 -> an escalation on 06-05 and a
               resolution on 06-08; t2 opened 06-25, normal, resolved 07-03 (after the window: it
               is open on 06-30); t3 opened 05-28 resolved 06-02 -> only the resolution is in
  surveys      nps 3 on 06-10 with a comment; csat 5 on 07-01 (after: out)
  contacts     c1 champion "Ana" joined 06-12; c2 user "Bo" (started 01-01) left 06-15; c3
               sponsor joined 05-01 (out)
  touchpoints  call outbound 06-11 answered; review outbound 06-12 attended; email outbound
               06-14 not answered; a review on 06-29 that was missed (attended false)
  outcomes     "go live in EU" due 06-15 achieved 06-18 (3 days late); "SSO" due 06-20 not achieved
  overrides    red, "exec escalation", by "Dana", set 06-16, expires 06-26 -> set and expired
  advocacy     reference 06-30 (the window's last day: in)
a2 (another account) has a ticket in the window: never in a1's timeline.
"""
from __future__ import annotations

import pandas as pd
import pytest

from test_health import write_world
from workbook import members
from workbook.activity import COLUMNS, last_reviews, review_due, timeline
from workbook.errors import BadInput
from workbook.workspace import open_data

START, END = "2026-06-01", "2026-06-30"


def _world(folder, **override):
    tables = dict(
        milestones=[dict(account_id="a1", milestone="go_live", reached_at="2026-05-20"),
                    dict(account_id="a1", milestone="activation", reached_at="2026-06-03"),
                    dict(account_id="a1", milestone="first_value", reached_at="2026-06-03"),
                    dict(account_id="a1", milestone="first_value", reached_at="2026-06-20"),
                    dict(account_id="a1", milestone="handover", reached_at="2026-07-02")],
        usage=[dict(account_id="a1", date="2026-06-30", module="X", active_users=1, actions=1)],
        tickets=[dict(ticket_id="t1", account_id="a1", opened_at="2026-06-05", resolved_at="2026-06-08",
                      priority="urgent", escalated="true"),
                 dict(ticket_id="t2", account_id="a1", opened_at="2026-06-25", resolved_at="2026-07-03",
                      priority="normal", escalated="false"),
                 dict(ticket_id="t3", account_id="a1", opened_at="2026-05-28", resolved_at="2026-06-02",
                      priority="low"),
                 dict(ticket_id="t4", account_id="a2", opened_at="2026-06-05", priority="high")],
        surveys=[dict(response_id="s1", account_id="a1", kind="nps", score=3, responded_at="2026-06-10",
                      comment="Too slow <b>again</b>"),
                 dict(response_id="s2", account_id="a1", kind="csat", score=5, responded_at="2026-07-01")],
        contacts=[dict(contact_id="c1", account_id="a1", role="champion", name="Ana", started_at="2026-06-12"),
                  dict(contact_id="c2", account_id="a1", role="user", name="Bo", started_at="2026-01-01",
                       left_at="2026-06-15"),
                  dict(contact_id="c3", account_id="a1", role="decision_maker", is_executive_sponsor="true",
                       started_at="2026-05-01")],
        touchpoints=[dict(account_id="a1", date="2026-06-11", kind="call", direction="outbound", responded="true"),
                     dict(account_id="a1", date="2026-06-12", kind="review", direction="outbound",
                          attended="true"),
                     dict(account_id="a1", date="2026-06-14", kind="email", direction="outbound",
                          responded="false"),
                     dict(account_id="a1", date="2026-06-29", kind="review", direction="outbound",
                          attended="false")],
        outcomes=[dict(account_id="a1", outcome="go live in EU", due_at="2026-06-15", achieved_at="2026-06-18"),
                  dict(account_id="a1", outcome="SSO", due_at="2026-06-20")],
        overrides=[dict(account_id="a1", colour="red", reason="exec escalation", author="Dana",
                        set_at="2026-06-16", expires_at="2026-06-26")],
        advocacy=[dict(account_id="a1", date="2026-06-30", kind="reference")],
    )
    tables.update(override)
    return write_world(folder, [dict(account_id="a1", csm="Ines Costa", name="Acme <script>"),
                                dict(account_id="a2", csm="Ines Coast", name="Globex"),
                                dict(account_id="a3", csm="Sam Ray", signed_at="2026-07-10", name="Late Ltd"),
                                dict(account_id="a4", csm="Sam Ray", churned_at="2026-03-01", name="Gone Ltd")],
                       **tables)


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = open_data(_world(tmp_path_factory.mktemp("timeline") / "w"))
    yield w
    w.close()


def test_every_fact_of_the_window_once_newest_first(ws):
    t = timeline(ws, "a1", START, END)
    assert list(t.columns) == COLUMNS
    rows = [(f"{r.date:%m-%d}", r.kind, r.what, r.detail) for r in t.itertuples()]
    assert rows == [
        ("06-30", "advocacy", "reference", ""),
        ("06-29", "touch", "review (outbound)", "not attended"),
        ("06-26", "override", "override to red expired", "set by Dana"),
        ("06-25", "ticket", "ticket t2 opened", "normal; open on 2026-06-30"),
        ("06-20", "outcome", "outcome due, not achieved: SSO", ""),
        ("06-18", "outcome", "outcome achieved: go live in EU", "due 2026-06-15, 3 days late"),
        ("06-16", "override", "override to red (until 2026-06-26)", "exec escalation — Dana"),
        ("06-15", "outcome", "outcome due, not achieved: go live in EU", ""),
        ("06-15", "contact", "Bo left", "user"),
        ("06-14", "touch", "email (outbound)", "no answer"),
        ("06-12", "contact", "Ana joined", "champion"),
        ("06-12", "touch", "review (outbound)", "attended"),
        ("06-11", "touch", "call (outbound)", "answered"),
        ("06-10", "survey", "NPS 3", "Too slow <b>again</b>"),
        ("06-08", "ticket", "ticket t1 resolved", "urgent; 3 days open"),
        ("06-05", "escalation", "escalated ticket t1 opened", "urgent; resolved 2026-06-08"),
        ("06-03", "milestone", "activation reached", ""),
        ("06-03", "milestone", "first value reached", ""),
        ("06-02", "ticket", "ticket t3 resolved", "low; 5 days open"),
    ]
    assert t["date"].dtype == "datetime64[ns]"


def test_point_in_time_an_earlier_end_knows_less(ws):
    t = timeline(ws, "a1", START, "2026-06-06")
    assert [(f"{r.date:%m-%d}", r.what, r.detail) for r in t.itertuples()] == [
        ("06-05", "escalated ticket t1 opened", "urgent; open on 2026-06-06"),      # resolved later
        ("06-03", "activation reached", ""), ("06-03", "first value reached", ""),
        ("06-02", "ticket t3 resolved", "low; 5 days open")]


def test_absent_optional_tables_give_no_rows(tmp_path):
    folder = _world(tmp_path / "w", tickets=None, surveys=None, contacts=None, touchpoints=None, outcomes=None,
                    overrides=None, advocacy=None)
    w = open_data(folder)
    try:
        t = timeline(w, "a1", START, END)
        assert t["kind"].tolist() == ["milestone", "milestone"]
        assert last_reviews(w, END).empty
        assert timeline(w, "a2", START, END).empty
    finally:
        w.close()


def test_last_review_skips_missed_reviews_and_the_cadence_counts_from_it(ws):
    last = last_reviews(ws, END)
    assert last.to_dict() == {"a1": pd.Timestamp("2026-06-12")}                 # 06-29 was missed
    assert last_reviews(ws, "2026-06-11").empty                          # not yet held
    due, days = review_due(last["a1"], "2026-01-01", 14, END)             # amber: fortnightly
    assert (due, days) == (pd.Timestamp("2026-06-26"), -4)
    due, days = review_due(None, "2026-06-20", 7, END)                    # never reviewed: from signing
    assert (due, days) == (pd.Timestamp("2026-06-27"), -3)


def test_members_known_unknown_and_close_matches(ws):
    assert members.find_account(ws, "a1") == "a1"
    with pytest.raises(BadInput) as exc:
        members.find_account(ws, "a11")
    assert "'a11'" in str(exc.value) and "a1 (Acme <script>)" in str(exc.value)
    with pytest.raises(BadInput) as exc:
        members.find_account(ws, "Globx")                                         # by name
    assert "a2 (Globex)" in str(exc.value)
    assert members.find_csm(ws, "  ines COSTA ") == "Ines Costa"                   # any case
    with pytest.raises(BadInput) as exc:
        members.find_csm(ws, "Ines Cost")
    assert "did you mean Ines Costa or Ines Coast?" in str(exc.value) or \
        "did you mean Ines Coast or Ines Costa?" in str(exc.value)


def test_members_check_refuses_an_account_not_live_on_as_of(ws):
    members.check("account", ws, {"account_id": "a1", "as_of": END})
    members.check("weekly", ws, {"account_id": "nobody"})                          # other reports: no check
    with pytest.raises(BadInput, match="signed on 2026-07-10, after as_of 2026-06-30"):
        members.check("account", ws, {"account_id": "a3", "as_of": END})
    with pytest.raises(BadInput, match="churned on 2026-03-01"):
        members.check("account", ws, {"account_id": "a4", "as_of": END})
    with pytest.raises(BadInput, match="no CSM 'Nobody'"):
        members.check("book", ws, {"csm": "Nobody"})


def test_default_members():
    h = pd.DataFrame({"account_id": ["x", "y", "z", "w"], "colour": ["red", "red", "amber", "green"],
                      "score": [50.0, 40.0, 70.0, 90.0], "arr": [100.0, 90.0, 500.0, 10.0],
                      "csm": ["A", "B", "B", "A"]})
    assert members.default_account(h) == "x"                                      # red, largest ARR
    assert members.default_account(h[h["colour"] != "red"]) == "z"                 # no red: lowest score
    assert members.default_csm(h) == "B"                                           # 2 each: larger ARR
    assert members.default_account(h.iloc[:0]) is None and members.default_csm(h.iloc[:0]) is None
