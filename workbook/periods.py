"""Reporting periods ending on ``as_of`` (SPEC section 3).

``as_of`` is the last day included. A **week** is the 7 days ``as_of - 6 … as_of`` and the previous
week the 7 days before it. A **month** is the calendar month of ``as_of`` from its first day to
``as_of``; the previous month is the whole calendar month before. Every bound is inclusive and a
``pandas.Timestamp`` at midnight.

A measure over a period is judged against its target by one rule, :func:`status` (the seven
KPIs, the supporting metrics and the revenue KPIs alike), with :func:`difference` for changes.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass

import pandas as pd

from .contract import DATE_MAX, DATE_MIN
from .errors import BadInput

KINDS = ("week", "month")


@dataclass(frozen=True)
class Period:
    """One reporting period and the one before it (all bounds inclusive, midnight Timestamps)."""

    kind: str
    start: pd.Timestamp
    end: pd.Timestamp
    previous_start: pd.Timestamp
    previous_end: pd.Timestamp

    @property
    def days(self) -> int:
        """Length of the period in calendar days (7 for a week, 1..31 for a month to date)."""
        return (self.end - self.start).days + 1

    def contains(self, dates: pd.Series) -> pd.Series:
        """Boolean mask: which ``dates`` fall in the period (NaT never does)."""
        return (dates >= self.start) & (dates <= self.end)

    def previous(self) -> "Period":
        """The previous period as a :class:`Period` of its own (whose previous is the one before)."""
        return period(self.kind, self.previous_end)

    def label(self) -> str:
        """A short human label, e.g. ``week 2026-11-09 – 2026-11-15``."""
        return f"{self.kind} {self.start:%Y-%m-%d} – {self.end:%Y-%m-%d}"


_DAY_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _in_range(ts: pd.Timestamp, what: str, value) -> pd.Timestamp:
    if not pd.Timestamp(DATE_MIN) <= ts <= pd.Timestamp(DATE_MAX):
        raise BadInput(what, None, f"{value!s} is out of range: dates must lie between {DATE_MIN} "
                       f"and {DATE_MAX}")
    return ts


def parse_day(value, what: str = "as_of") -> pd.Timestamp:
    """A day given by a person (``--as-of``, ``--from``, a report parameter) as a midnight Timestamp.

    Text must be exactly ``YYYY-MM-DD`` (blanks around it are ignored): ``20261115``,
    ``2026-W46-7`` and timestamps are refused. A ``datetime.date``/``datetime``/``Timestamp`` is
    taken as its day. The day must lie within ``DATE_MIN .. DATE_MAX`` (1900-01-01 .. 2199-12-31).
    Anything else is :class:`BadInput` naming ``what``.
    """
    if isinstance(value, (dt.date, pd.Timestamp)) and not pd.isna(value):
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            value = value.replace(tzinfo=None)
        day = value.date() if isinstance(value, dt.datetime) else value
        return _in_range(pd.Timestamp(dt.date(day.year, day.month, day.day)), what, day.isoformat())
    text = str(value).strip() if isinstance(value, str) else None
    if text is None or not _DAY_RE.fullmatch(text):
        raise BadInput(what, None, f"must be a date YYYY-MM-DD, got {value!r}")
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise BadInput(what, None, f"{text!r} is not a calendar day (YYYY-MM-DD)") from None
    return _in_range(pd.Timestamp(day), what, text)


def to_day(value) -> pd.Timestamp:
    """``value`` (a date, a string YYYY-MM-DD or a timestamp) as a midnight ``pandas.Timestamp``
    within ``DATE_MIN .. DATE_MAX``; anything else is :class:`BadInput`."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        raise BadInput("as_of", None, f"{value!r} is not a date: use YYYY-MM-DD") from None
    if ts is pd.NaT or pd.isna(ts):
        raise BadInput("as_of", None, "is missing")
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    return _in_range(ts.normalize(), "as_of", f"{ts:%Y-%m-%d}")


def week(as_of) -> Period:
    """The 7 days ending on ``as_of`` and the 7 days before them."""
    end = to_day(as_of)
    start = end - pd.Timedelta(days=6)
    return Period("week", start, end, start - pd.Timedelta(days=7), start - pd.Timedelta(days=1))


def month(as_of) -> Period:
    """The calendar month of ``as_of`` up to ``as_of``, and the whole calendar month before."""
    end = to_day(as_of)
    start = end.replace(day=1)
    previous_end = start - pd.Timedelta(days=1)
    return Period("month", start, end, previous_end.replace(day=1), previous_end)


def period(kind: str, as_of) -> Period:
    """``week(as_of)`` or ``month(as_of)``; any other ``kind`` is :class:`BadInput`."""
    if kind == "week":
        return week(as_of)
    if kind == "month":
        return month(as_of)
    raise BadInput("period", None, f"{kind!r} is not a period: use week or month")


def resolve_as_of(ws, as_of=None) -> pd.Timestamp:
    """``as_of`` as a midnight Timestamp; ``None`` means the latest ``usage.date`` (SPEC section 3)."""
    return to_day(as_of) if as_of is not None else to_day(ws.default_as_of())


def series(kind: str, as_of, periods: int) -> list[Period]:
    """The last ``periods`` periods of ``kind``, oldest first, the newest ending on ``as_of``.

    Weeks step back 7 days at a time; for months the newest is the month to date and each earlier
    one is a whole calendar month.
    """
    if periods < 1:
        raise BadInput("periods", None, f"must be at least 1 (got {periods})")
    out = [period(kind, as_of)]
    for _ in range(periods - 1):
        out.append(out[-1].previous())
    return out[::-1]


# ---------------------------------------------------------------------------- a value against its target
def status(value, target, better: str) -> str:
    """``on target`` / ``off target`` (respecting ``better``: ``higher`` or ``lower``; equal is on
    target), ``no data`` without a value, ``no target`` without a target."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "no data"
    if target is None:
        return "no target"
    ok = value >= target if better == "higher" else value <= target
    return "on target" if ok else "off target"


def difference(a, b):
    """``a - b``, or None when either is missing."""
    return None if a is None or b is None else a - b
