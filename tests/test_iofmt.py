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


def test_jsonable_one_rule_for_json_and_report_parameters():
    import datetime as dt
    import math
    from pathlib import Path

    import numpy as np

    from workbook.iofmt import jsonable, to_json
    assert jsonable({1: [np.int64(3), np.float64(2.5), math.nan, math.inf, pd.NA, pd.NaT, None]}, strict=True) == \
        {"1": [3, 2.5, None, None, None, None, None]}
    assert jsonable([math.inf, np.float64(-math.inf), math.nan]) == [math.inf, -math.inf, None]   # parameters
    assert jsonable([pd.Timestamp("2026-11-15 10:30"), dt.datetime(2026, 11, 15), dt.datetime(2026, 11, 15, 9),
                     dt.date(2026, 1, 2), Path("a/b"), (True, "x")]) == \
        ["2026-11-15", "2026-11-15", "2026-11-15T09:00:00", "2026-01-02", "a/b", [True, "x"]]
    assert to_json({"é": float("nan"), "x": [math.inf]}) == '{\n  "é": null,\n  "x": [\n    null\n  ]\n}'


def test_atomic_write_replaces_keeps_mode_and_refuses_when_exclusive(tmp_path):
    import os
    import stat

    from workbook.iofmt import atomic_write, new_file_mode
    path = tmp_path / "sub" / "f.txt"
    atomic_write(path, "one")                                   # parent created, mode as open() gives
    assert path.read_text() == "one" and stat.S_IMODE(path.stat().st_mode) == new_file_mode()
    os.chmod(path, 0o640)
    atomic_write(path, b"two")                                  # a replaced file keeps its mode
    assert path.read_bytes() == b"two" and stat.S_IMODE(path.stat().st_mode) == 0o640
    with pytest.raises(FileExistsError):
        atomic_write(path, "three", exclusive=True)
    assert path.read_text() == "two"
    atomic_write(tmp_path / "sub" / "g.txt", "new", exclusive=True)
    assert sorted(p.name for p in path.parent.iterdir()) == ["f.txt", "g.txt"]   # no temp files left
