"""workbook.display: one vocabulary of units, one missing-value test, the palette."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from workbook import display, kpis, narrative, plots, scoring, tables
from workbook.display import MISSING, label, text


@pytest.mark.parametrize("value, unit, default, short", [
    (31.24, "days", "31.2 days", "31.2 d"),
    (0.7123, "fraction", "71.2%", "71.2%"),
    (12.5, "nps", "+12.5", "+12"),
    (-3, "nps", "-3.0", "-3"),
    (0.2, "nps", "+0.2", "0"),              # short: a change of sign that rounds away is no sign
    (77.74, "points", "77.7", "77.7"),
    (59.96, "points", "59.9", "59.9"),           # cut, not rounded: red never reads as the threshold 60
    (5.5, "ces", "5.50", "5.50"),
    (1204, "count", "1,204", "1,204"),
    (12300, "money", "$12,300", "$12,300"),
    (2_812_345, "money", "$2.8M", "$2,812,345"),
    (1234.5, "number", "1234.50", "1,234.50"),
    (pd.Timestamp("2024-06-30 13:45"), "date", "2024-06-30", "2024-06-30"),
    ("<b>", "text", "<b>", "<b>"),
    ("n/a", "fraction", "n/a", "n/a"),      # not a number: shown as text
])
def test_each_unit_in_both_styles(value, unit, default, short):
    assert text(value, unit) == default
    assert text(value, unit, short=True) == short


@pytest.mark.parametrize("value, unit, default, short", [
    (0.031, "fraction", "+3.1 pp", "+3.1 pp"),
    (-2, "days", "-2.0 days", "-2.0 d"),
    (8, "points", "+8.0", "+8"),
    (-25, "nps", "-25.0", "-25"),
    (0.0, "fraction", "+0.0 pp", "0.0 pp"),     # short: no sign on a change that is zero
    (5, "count", "+5", "5"),                     # short: ces and count changes are plain numbers
    (0.25, "ces", "+0.25", "0.25"),
])
def test_changes_in_both_styles(value, unit, default, short):
    assert text(value, unit, change=True) == default
    assert text(value, unit, change=True, short=True) == short


@pytest.mark.parametrize("value", [None, np.nan, float("nan"), pd.NaT, pd.NA])
def test_missing_values(value):
    assert display.is_missing(value)
    assert text(value, "days") == MISSING == "—"
    assert text(value, "fraction", missing="no data") == "no data"
    assert label(value, "points") == label(value, lambda v: "x") == MISSING


@pytest.mark.parametrize("value", [0, 0.0, "", "nan", [None], np.array([np.nan]), False])
def test_values_that_are_not_missing(value):
    assert not display.is_missing(value)


def test_short_style_never_writes_minus_zero():
    assert text(-0.0001, "fraction", short=True) == "0.0%"
    assert text(-0.02, "points", short=True) == "0.0"
    assert text(-0.4, "money", short=True) == "$0"
    assert text(-0.01, "days", short=True) == "0.0 d"
    assert text(-5, "points", short=True) == "-5.0"
    assert label(-0.001, lambda v: f"{v:+.1f}") == "0.0"


def test_without_a_unit_and_unknown_units():
    assert text(1234) == "1,234" and text(2.345) == "2.3" and text(True) == "yes"
    assert text(pd.Timestamp("2024-01-02 10:30")) == "2024-01-02 10:30"
    assert text(dt.date(2024, 1, 2)) == "2024-01-02"
    with pytest.raises(ValueError, match="unknown unit 'percent'"):
        text(1, "percent")


def test_older_names_are_units():
    for old, (unit, change) in display.ALIASES.items():
        assert label(0.5, old) == text(0.5, unit, change=change, short=True)
    assert label(0.712, "pct") == "71.2%" and label(0.031, "pp") == "+3.1 pp" and label(80.6, "score") == "80.6"
    assert label(-2, "delta_days") == "-2.0 d" and label(1234.6, "int") == "1,235"


def test_amount_text_is_the_size_in_words():
    assert display.amount_text(-0.077, "fraction") == "7.7 percentage points"
    assert display.amount_text(3.14, "days") == "3.1 days"
    assert display.amount_text(-15.3, "nps") == display.amount_text(15.3, "points") == "15.3 points"
    assert display.amount_text(1234, "count") == "1,234" and display.amount_text(0.25, "ces") == "0.25"


def test_every_caller_writes_a_value_the_same_way():
    """The command line, the sentences and the tables name a value's unit and get its one text."""
    for value, unit in [(0.825, "fraction"), (31.2, "days"), (35.0, "nps"), (78.0, "points"), (5.5, "ces"),
                        (1204, "count")]:
        assert kpis.format_value(value, unit) == narrative.value_text(value, unit) == text(value, unit)
        assert kpis.format_value(value, unit, change=True) == text(value, unit, change=True)
        assert tables.fmt(value, unit) == plots._fmt(value, unit) == text(value, unit, short=True)
    assert narrative.money_text(388200) == text(388200, "money") == "$388,200"
    assert narrative.value_text(None, "days") == "no data" and kpis.format_value(None, "days") == MISSING


def test_one_palette():
    assert plots.PALETTE is tables.PALETTE is display.PALETTE
    assert display.COLOUR_ORDER == scoring.COLOURS == ("red", "amber", "green")
    assert plots.text_colour_on is display.text_colour_on
    assert display.text_colour_on(display.PALETTE["red"]) == "#ffffff"
    assert display.text_colour_on(display.PALETTE["amber"]) == "#000000"
    assert display.contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
