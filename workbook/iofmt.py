"""Writing tables for people: CSV that is safe to open in a spreadsheet, JSON, aligned text.

CSV written for people (``workbook health --format csv``, ``workbook kpis --format csv``, the
calibration CSVs) goes through :func:`write_csv`:

- a **text** cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
  leading single quote ``'``, so Excel, LibreOffice and Google Sheets show it as text instead of
  running it as a formula ("CSV injection"). Numbers are never changed: ``-3.5`` in a number
  column stays a number. ``raw=True`` (the command line's ``--raw``) writes text unchanged;
- a cell holding a comma, a double quote, a line feed or a carriage return is quoted, so a
  stray carriage return inside a name can never split a record;
- records end with ``\\n``; dates are written ``YYYY-MM-DD``; empty cells are nulls.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import math
import os
import sys
from typing import IO

import numpy as np
import pandas as pd

__all__ = ["FORMULA_PREFIXES", "neutralise", "write_csv", "csv_text", "to_json", "print_frame"]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_QUOTE_IF = (",", '"', "\n", "\r")


def neutralise(text: str) -> str:
    """``text`` with a leading ``'`` when a spreadsheet would read it as a formula."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _cell(value, raw: bool) -> str:
    """One CSV cell: numbers as pandas writes them, dates as YYYY-MM-DD, text neutralised."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return "" if math.isnan(value) else repr(float(value))
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date, np.datetime64)):
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    text = str(value)
    return text if raw else neutralise(text)


def _field(text: str) -> str:
    if any(ch in text for ch in _QUOTE_IF):
        return '"' + text.replace('"', '""') + '"'
    return text


def write_csv(df: pd.DataFrame, path_or_buf: str | os.PathLike | IO[str], *, raw: bool = False) -> None:
    """Write ``df`` (without its index) as CSV to a path or an open text stream.

    Text cells that a spreadsheet would run as a formula are prefixed with ``'`` unless
    ``raw=True``; see the module docstring for the exact rules. A path is written atomically
    (a temporary file beside it, then renamed).
    """
    if isinstance(path_or_buf, (str, os.PathLike)):
        path = os.fspath(path_or_buf)
        tmp = f"{path}.tmp-{os.getpid()}"
        try:
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                write_csv(df, fh, raw=raw)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        return
    out = path_or_buf
    out.write(",".join(_field(_cell(str(c), raw)) for c in df.columns) + "\n")
    for row in df.itertuples(index=False, name=None):
        out.write(",".join(_field(_cell(v, raw)) for v in row) + "\n")


def csv_text(df: pd.DataFrame, *, raw: bool = False) -> str:
    """:func:`write_csv` into a string."""
    buf = io.StringIO()
    write_csv(df, buf, raw=raw)
    return buf.getvalue()


def _jsonable(value):
    if value is None:
        return None
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, (pd.Timestamp,)):
        return value.strftime("%Y-%m-%d")
    if value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "item"):
        return _jsonable(value.item())
    return value


def to_json(obj) -> str:
    """JSON text with NaN/NA/NaT as null and dates as YYYY-MM-DD."""
    def walk(o):
        if isinstance(o, dict):
            return {str(k): walk(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [walk(v) for v in o]
        return _jsonable(o)
    return json.dumps(walk(obj), indent=2, ensure_ascii=False)


def print_frame(df: pd.DataFrame, fmt: str, *, raw: bool = False) -> None:
    """Print ``df`` to standard output as an aligned table, CSV (:func:`write_csv`) or JSON records.

    An empty table prints ``(no rows)``; empty CSV is the header line alone; empty JSON is ``[]``.
    """
    if fmt == "csv":
        write_csv(df, sys.stdout, raw=raw)
    elif fmt == "json":
        print(to_json(df.to_dict(orient="records")))
    elif df.empty:
        print("(no rows)")
    else:
        with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 200):
            print(df.to_string(index=False, na_rep="—"))
