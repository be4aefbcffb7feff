"""What happened to one account in a window: the dated facts of every table, one row each.

The account brief shows the last 90 days::

    timeline(ws, "A00123", start, end)

Columns :data:`COLUMNS`: ``date`` (midnight), ``kind`` (one of :data:`KINDS`), ``what`` (a few
words) and ``detail`` (text, possibly empty). Only facts dated in ``start … end`` (inclusive)
count, so the timeline for a past ``end`` reproduces what was knowable then: a ticket resolved
after ``end`` is still open in it, a contact who leaves later is still there. A table the source
does not hold gives no rows (optional tables: SPEC section 2); the caller says which are absent.
Newest first; on one day, in the order of :data:`KINDS`.
"""
from __future__ import annotations

import pandas as pd

COLUMNS = ["date", "kind", "what", "detail"]
#: Kinds of rows, in the order they are listed on one day.
KINDS = ("override", "escalation", "ticket", "milestone", "outcome", "survey", "contact", "touch", "advocacy")
#: The tables each kind reads (``accounts`` and ``milestones`` are always there).
SOURCES = {"override": "overrides", "escalation": "tickets", "ticket": "tickets", "milestone": "milestones",
           "outcome": "outcomes", "survey": "surveys", "contact": "contacts", "touch": "touchpoints",
           "advocacy": "advocacy"}
_SURVEY_LABELS = {"nps": "NPS", "onboarding_nps": "onboarding NPS", "csat": "CSAT", "ces": "CES"}


def timeline(ws, account_id: str, start, end) -> pd.DataFrame:
    """The dated facts of ``account_id`` in ``start … end`` (inclusive), newest first.

    Rows: milestones reached; tickets opened (``escalation`` when escalated) and resolved (a
    source without ``resolved_at`` says "resolution not recorded", never "open");
    outcomes achieved or falling due unachieved (without ``achieved_at``: falling due, achievement
    not recorded); survey answers with their comment; contacts who
    joined or left; touches (kind, direction, answered / attended); overrides set (colour, reason,
    author) and expired; advocacy. Returns a DataFrame with :data:`COLUMNS`.
    """
    start, end = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    parts = [fn(ws, account_id, start, end) for table, fn in _READERS if table == "milestones" or ws.has(table)]
    out = pd.concat([p for p in parts if len(p)] or [_frame([])], ignore_index=True)
    out["_order"] = out["kind"].map({k: i for i, k in enumerate(KINDS)})
    out = out.sort_values(["date", "_order", "what"], ascending=[False, True, True], kind="stable")
    out["date"] = pd.to_datetime(out["date"]).astype("datetime64[ns]")
    return out[COLUMNS].reset_index(drop=True)


def _frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS)


def _own(ws, table: str, account_id: str) -> pd.DataFrame:
    t = ws.frame(table)
    return t[(t["account_id"] == account_id).fillna(False).to_numpy(dtype=bool)]


def _within(value, start, end) -> bool:
    return not pd.isna(value) and start <= value <= end


def _text(value) -> str:
    return "" if value is None or pd.isna(value) else str(value).strip()


def _milestones(ws, account_id, start, end) -> pd.DataFrame:
    m = _own(ws, "milestones", account_id).sort_values("reached_at").drop_duplicates("milestone")
    return _frame([(r.reached_at, "milestone", f"{r.milestone.replace('_', ' ')} reached", "")
                   for r in m.itertuples() if _within(r.reached_at, start, end)])


def _tickets(ws, account_id, start, end) -> pd.DataFrame:
    rows = []
    tracked = ws.has_column("tickets", "resolved_at")   # absent: resolution not recorded, not "open"
    for r in _own(ws, "tickets", account_id).itertuples():
        priority = _text(r.priority) or "no priority"
        resolved = r.resolved_at if _within(r.resolved_at, r.opened_at, end) else None
        if _within(r.opened_at, start, end):
            escalated = bool(r.escalated) if not pd.isna(r.escalated) else False
            state = (f"resolved {resolved:%Y-%m-%d}" if resolved is not None else
                     f"open on {end:%Y-%m-%d}" if tracked else "resolution not recorded")
            rows.append((r.opened_at, "escalation" if escalated else "ticket",
                         f"{'escalated ticket' if escalated else 'ticket'} {r.ticket_id} opened",
                         f"{priority}; {state}"))
        if resolved is not None and resolved >= start:
            rows.append((resolved, "ticket", f"ticket {r.ticket_id} resolved",
                         f"{priority}; {(resolved - r.opened_at).days} days open"))
    return _frame(rows)


def _outcomes(ws, account_id, start, end) -> pd.DataFrame:
    rows = []
    if not ws.has_column("outcomes", "achieved_at"):   # achievement not recorded: only the due dates
        return _frame([(r.due_at, "outcome", f"outcome due: {r.outcome}", "achievement not recorded")
                       for r in _own(ws, "outcomes", account_id).itertuples() if _within(r.due_at, start, end)])
    for r in _own(ws, "outcomes", account_id).itertuples():
        if _within(r.achieved_at, start, end):
            late = (r.achieved_at - r.due_at).days
            rows.append((r.achieved_at, "outcome", f"outcome achieved: {r.outcome}",
                         f"due {r.due_at:%Y-%m-%d}" + (f", {late} days late" if late > 0 else ", on time")))
        achieved_by_due = not pd.isna(r.achieved_at) and r.achieved_at <= r.due_at
        if _within(r.due_at, start, end) and not achieved_by_due:
            rows.append((r.due_at, "outcome", f"outcome due, not achieved: {r.outcome}", ""))
    return _frame(rows)


def _surveys(ws, account_id, start, end) -> pd.DataFrame:
    s = _own(ws, "surveys", account_id)
    return _frame([(r.responded_at, "survey", f"{_SURVEY_LABELS.get(r.kind, r.kind)} {r.score}", _text(r.comment))
                   for r in s.itertuples() if _within(r.responded_at, start, end)])


def _contacts(ws, account_id, start, end) -> pd.DataFrame:
    rows = []
    for r in _own(ws, "contacts", account_id).itertuples():
        who = _text(r.name) or r.contact_id
        sponsor = bool(r.is_executive_sponsor) if not pd.isna(r.is_executive_sponsor) else False
        role = r.role.replace("_", " ") + (", executive sponsor" if sponsor else "")
        if _within(r.started_at, start, end):
            rows.append((r.started_at, "contact", f"{who} joined", role))
        if _within(r.left_at, start, end):
            rows.append((r.left_at, "contact", f"{who} left", role))
    return _frame(rows)


def _touches(ws, account_id, start, end) -> pd.DataFrame:
    rows = []
    for r in _own(ws, "touchpoints", account_id).itertuples():
        if not _within(r.date, start, end):
            continue
        notes = []
        if r.direction == "outbound" and not pd.isna(r.responded):
            notes.append("answered" if r.responded else "no answer")
        if not pd.isna(r.attended):
            notes.append("attended" if r.attended else "not attended")
        rows.append((r.date, "touch", f"{r.kind} ({r.direction})", ", ".join(notes)))
    return _frame(rows)


def _overrides(ws, account_id, start, end) -> pd.DataFrame:
    rows = []
    for r in _own(ws, "overrides", account_id).itertuples():
        if _within(r.set_at, start, end):
            until = f" (until {r.expires_at:%Y-%m-%d})" if not pd.isna(r.expires_at) else ""
            rows.append((r.set_at, "override", f"override to {r.colour}{until}", f"{_text(r.reason)} — {r.author}"))
        if _within(r.expires_at, start, end):
            rows.append((r.expires_at, "override", f"override to {r.colour} expired", f"set by {r.author}"))
    return _frame(rows)


def _advocacy(ws, account_id, start, end) -> pd.DataFrame:
    a = _own(ws, "advocacy", account_id)
    return _frame([(r.date, "advocacy", r.kind.replace("_", " "), "") for r in a.itertuples()
                   if _within(r.date, start, end)])


def last_reviews(ws, as_of) -> pd.Series:
    """Each account's latest review on or before ``as_of`` (account_id → date): a touchpoint of
    kind ``review`` not recorded as missed (``attended`` false). A review is the CSM's look at the
    account with the customer, which is what the cadence asks for; other two-way touches keep the
    engagement dimension up but do not count as a review. Empty without a touchpoints table."""
    as_of = pd.Timestamp(as_of).normalize()
    if not ws.has("touchpoints"):
        return pd.Series([], dtype="datetime64[ns]")
    t = ws.frame("touchpoints")
    held = (t["kind"] == "review") & (t["date"] <= as_of) & t["attended"].fillna(True).astype(bool)
    return t[held.fillna(False).to_numpy(dtype=bool)].groupby("account_id")["date"].max().astype("datetime64[ns]")


def review_due(last, signed_at, cadence_days, as_of) -> tuple[pd.Timestamp, int]:
    """When the next review is due and how many days from ``as_of`` (negative: overdue): the last
    review (else the signature date) plus the cadence of the account's colour, in days."""
    since = pd.Timestamp(signed_at) if pd.isna(last) else pd.Timestamp(last)
    due = since + pd.Timedelta(days=int(cadence_days))
    return due, int((due - pd.Timestamp(as_of).normalize()).days)


_READERS = (("overrides", _overrides), ("tickets", _tickets), ("milestones", _milestones),
            ("outcomes", _outcomes), ("surveys", _surveys), ("contacts", _contacts),
            ("touchpoints", _touches), ("advocacy", _advocacy))

__all__ = ["COLUMNS", "KINDS", "SOURCES", "last_reviews", "review_due", "timeline"]
