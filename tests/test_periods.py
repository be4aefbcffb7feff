"""periods: weeks and months ending on as_of (SPEC section 3)."""
from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, strategies as st

from workbook import periods
from workbook.errors import BadInput

T = pd.Timestamp


def test_week_is_seven_days_ending_on_as_of():
    p = periods.week("2026-06-20")
    assert (p.kind, p.start, p.end) == ("week", T("2026-06-14"), T("2026-06-20"))
    assert (p.previous_start, p.previous_end) == (T("2026-06-07"), T("2026-06-13"))
    assert p.days == 7


def test_week_across_a_year_end():
    p = periods.week("2026-01-03")
    assert (p.start, p.end, p.previous_start, p.previous_end) == (
        T("2025-12-28"), T("2026-01-03"), T("2025-12-21"), T("2025-12-27"))


def test_month_to_date_and_whole_previous_month():
    p = periods.month("2026-06-20")
    assert (p.kind, p.start, p.end) == ("month", T("2026-06-01"), T("2026-06-20"))
    assert (p.previous_start, p.previous_end) == (T("2026-05-01"), T("2026-05-31"))
    assert p.days == 20


def test_month_edges_leap_february_and_january():
    p = periods.month("2028-03-01")            # first day of the month: a one-day month to date
    assert (p.start, p.end, p.days) == (T("2028-03-01"), T("2028-03-01"), 1)
    assert (p.previous_start, p.previous_end) == (T("2028-02-01"), T("2028-02-29"))
    p = periods.month("2026-01-31")
    assert (p.previous_start, p.previous_end) == (T("2025-12-01"), T("2025-12-31"))


def test_timestamps_are_truncated_to_the_day():
    p = periods.period("week", pd.Timestamp("2026-06-20 17:45"))
    assert p.end == T("2026-06-20") and p.start == T("2026-06-14")


def test_series_steps_back_whole_periods_oldest_first():
    weeks = periods.series("week", "2026-06-20", 3)
    assert [(w.start, w.end) for w in weeks] == [
        (T("2026-05-31"), T("2026-06-06")), (T("2026-06-07"), T("2026-06-13")), (T("2026-06-14"), T("2026-06-20"))]
    months = periods.series("month", "2026-06-20", 3)
    assert [(m.start, m.end) for m in months] == [
        (T("2026-04-01"), T("2026-04-30")), (T("2026-05-01"), T("2026-05-31")), (T("2026-06-01"), T("2026-06-20"))]


def test_contains_is_inclusive_and_ignores_missing_dates():
    p = periods.week("2026-06-20")
    s = pd.Series([T("2026-06-13"), T("2026-06-14"), T("2026-06-20"), T("2026-06-21"), pd.NaT])
    assert p.contains(s).tolist() == [False, True, True, False, False]


def test_bad_kind_and_bad_date_are_bad_input():
    with pytest.raises(BadInput, match="week or month"):
        periods.period("quarter", "2026-06-20")
    with pytest.raises(BadInput, match="not a date"):
        periods.week("20/06/2026x")
    with pytest.raises(BadInput):
        periods.series("week", "2026-06-20", 0)


@given(st.dates(min_value=pd.Timestamp("2001-01-01").date(), max_value=pd.Timestamp("2098-12-31").date()),
       st.sampled_from(["week", "month"]))
def test_periods_tile_the_calendar(day, kind):
    p = periods.period(kind, day)
    # the previous period ends the day before this one starts, and neither is empty
    assert p.previous_end == p.start - pd.Timedelta(days=1)
    assert p.previous_start <= p.previous_end and p.start <= p.end == T(day)
    if kind == "month":
        assert p.start.day == 1 and p.previous_start.day == 1
        assert (p.previous_end + pd.Timedelta(days=1)).day == 1      # a whole calendar month
    else:
        assert (p.end - p.start).days == 6 and (p.previous_end - p.previous_start).days == 6
