"""CSV for people: formula-like text is neutralised, numbers are not, CR/LF never split a record."""
from __future__ import annotations

import csv
import io

import pandas as pd
import pytest

from workbook.iofmt import csv_text, neutralise, write_csv


@pytest.mark.parametrize("text, expected", [
    ("=1+1", "'=1+1"), ("+44 20", "'+44 20"), ("-x", "'-x"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tcmd", "'\tcmd"), ("\rcmd", "'\rcmd"), ("Acme = best", "Acme = best"), ("", ""),
])
def test_neutralise(text, expected):
    assert neutralise(text) == expected


def test_text_cells_are_neutralised_numbers_and_dates_are_not():
    df = pd.DataFrame({"name": ["=HYPERLINK(\"x\")", "-5", "Plain"],
                       "change": [-3.5, 2.0, None],
                       "n": pd.array([-1, None, 3], dtype="Int64"),
                       "day": pd.to_datetime(["2026-11-15", None, "2026-01-02"]),
                       "ok": [True, False, True]})
    text = csv_text(df)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[1] == ["'=HYPERLINK(\"x\")", "-3.5", "-1", "2026-11-15", "True"]
    assert rows[2] == ["'-5", "2.0", "", "", "False"]
    assert rows[3] == ["Plain", "", "3", "2026-01-02", "True"]
    assert csv_text(df, raw=True).splitlines()[1].startswith('"=HYPERLINK(""x"")",-3.5')


def test_carriage_return_and_line_feed_are_quoted_so_records_stay_whole():
    df = pd.DataFrame({"name": ["Acme\rEvil", "Two\nLines", "a,b"], "x": [1, 2, 3]})
    text = csv_text(df)
    assert text.count("\n") == 5 and text.endswith("\n")          # 4 record ends + the one inside a value
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert [r[0] for r in rows[1:]] == ["Acme\rEvil", "Two\nLines", "a,b"]


def test_write_csv_to_a_path_matches_the_text(tmp_path):
    df = pd.DataFrame({"score": [0, 100], "colour": ["red", "+green"]})
    write_csv(df, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_text() == csv_text(df) == "score,colour\n0,red\n100,'+green\n"
