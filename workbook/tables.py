"""Styled, escaped HTML tables for reports.

:func:`html_table` turns a DataFrame into an HTML ``<table>``: every header, value and caption is
escaped with ``html.escape(..., quote=True)``, numbers are formatted by kind (see :func:`fmt`),
missing values show as "—", and a status column is drawn as a coloured, labelled badge using
:data:`workbook.plots.PALETTE`. Reports show the result with ``IPython.display.HTML`` (or as the last
expression of a cell: the result has ``_repr_html_``) after :func:`style_block` once.
"""
from __future__ import annotations

import datetime as dt
import html
import math
import numbers
import re
from collections.abc import Callable, Mapping

import pandas as pd

from .plots import PALETTE, text_colour_on

MISSING = "—"

#: Formatting kinds and what they show (value in, text out).
KINDS: dict[str, str] = {
    "days": "a number of days: 23.5 → '23.5 d'",
    "delta_days": "a change in days: -2 → '-2.0 d', 1.5 → '+1.5 d'",
    "pct": "a fraction 0..1 as a percentage: 0.712 → '71.2%'",
    "pp": "a change of a fraction in percentage points: 0.031 → '+3.1 pp'",
    "nps": "NPS points -100..100, signed: 12 → '+12'",
    "score": "a 0..100 score, whole: 80.6 → '81'",
    "money": "whole dollars: 12300 → '$12,300'",
    "int": "a whole number with thousands separators: 1234 → '1,234'",
    "number": "a number with two decimals: 1.2345 → '1.23'",
    "date": "an ISO date: 2024-06-30",
    "text": "the value as text",
}

#: Status words (lower case, spaces) and the palette colour that draws them.
STATUS_COLOURS: dict[str, str] = {
    "green": "green",
    "amber": "amber",
    "red": "red",
    "on target": "green",
    "near target": "amber",
    "off target": "red",
    "no data": "neutral",
}

Kind = str | Callable[[object], str]


class HtmlFragment(str):
    """A string of HTML that Jupyter displays as HTML (it has ``_repr_html_``)."""

    def _repr_html_(self) -> str:
        return str(self)


def is_missing(value) -> bool:
    """True for None, NaN, NaT and pandas NA."""
    if value is None:
        return True
    if not pd.api.types.is_scalar(value):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _number(value) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, numbers.Number):
        value = float(value)
        return None if math.isnan(value) else value
    return None


def _signed(text_value: float, fmt_spec: str) -> str:
    text = format(text_value, fmt_spec)
    zero = format(0.0, fmt_spec.replace("+", ""))
    return zero if text.lstrip("+-") == zero else text


_NEGATIVE_ZERO = re.compile(r"^-(?=\$?0(?:\.0+)?(?![\d.]))")


def _no_negative_zero(text: str) -> str:
    """``-0.0%`` / ``-0`` / ``-$0`` (a tiny negative rounded away) as ``0.0%`` / ``0`` / ``$0``."""
    return _NEGATIVE_ZERO.sub("", text)


def fmt(value, kind: Kind | None = None) -> str:
    """``value`` as display text (not escaped) for ``kind`` (see :data:`KINDS`); "—" when missing.

    A callable ``kind`` is called with the value. Without a kind, numbers get thousands separators
    (floats one decimal), dates their ISO form and everything else ``str``. A value that is not a
    number where a numeric kind expects one is shown as text.
    """
    if is_missing(value):
        return MISSING
    if callable(kind):
        return _no_negative_zero(str(kind(value)))
    return _no_negative_zero(_fmt(value, kind))


def _fmt(value, kind: Kind | None) -> str:
    if kind in (None, "text"):
        return _auto(value) if kind is None else str(value)
    if kind == "date":
        return _date(value)
    if kind not in KINDS:
        raise ValueError(f"unknown format kind {kind!r}; known: {', '.join(KINDS)}")
    number = _number(value)
    if number is None:
        return str(value)
    if kind == "days":
        return f"{number:.1f} d"
    if kind == "delta_days":
        return _signed(number, "+.1f") + " d"
    if kind == "pct":
        return f"{number * 100:.1f}%"
    if kind == "pp":
        return _signed(number * 100, "+.1f") + " pp"
    if kind == "nps":
        return _signed(number, "+.0f")
    if kind == "score":
        return f"{number:.0f}"
    if kind == "money":
        return ("-" if number < 0 else "") + f"${abs(number):,.0f}"
    if kind == "int":
        return f"{round(number):,}"
    return f"{number:,.2f}"  # number


def _date(value) -> str:
    if isinstance(value, (dt.datetime, pd.Timestamp)):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        return pd.Timestamp(value).date().isoformat()
    except (TypeError, ValueError):
        return str(value)


def _auto(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dt.date, pd.Timestamp)):
        if isinstance(value, (dt.datetime, pd.Timestamp)) and value != pd.Timestamp(value).normalize():
            return pd.Timestamp(value).isoformat(sep=" ", timespec="minutes")
        return _date(value)
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        return f"{float(value):,.1f}"
    return str(value)


def status_key(value) -> str | None:
    """The palette key (green, amber, red, neutral) for a status word, or None if not a status."""
    if is_missing(value):
        return "neutral"
    word = str(value).strip().lower().replace("_", " ").replace("-", " ")
    return STATUS_COLOURS.get(" ".join(word.split()))


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _is_numeric_kind(kind) -> bool:
    return isinstance(kind, str) and kind not in ("date", "text")


def html_table(df: pd.DataFrame, *, formats: Mapping[str, Kind] | None = None, status_col: str | None = None,
               caption: str | None = None, index: bool = False) -> HtmlFragment:
    """``df`` as an escaped HTML table (an :class:`HtmlFragment`).

    ``formats`` maps a column to a kind of :data:`KINDS` or a callable; other columns are
    formatted by :func:`fmt` without a kind. ``status_col`` names a column of status words (red /
    amber / green, on target / off target / no data): its cells become labelled badges in the
    palette colour and each row gets a ``wb-row-<colour>`` class. ``index=True`` shows the index
    as the first column. Style the table with :func:`style_block` (once per report).
    """
    formats = dict(formats or {})
    unknown = [c for c in list(formats) + ([status_col] if status_col else []) if c not in df.columns]
    if unknown:
        raise KeyError(f"html_table: no column(s) {unknown!r} in the frame")
    frame = df.reset_index() if index else df
    columns = list(frame.columns)
    numeric = {c: _is_numeric_kind(formats.get(c)) if c in formats
               else pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
               for c in columns}
    out = ['<table class="wb-table">']
    if caption:
        out.append(f"<caption>{_e(caption)}</caption>")
    head = "".join(f'<th scope="col"{_num_class(numeric[c])}>{_e(c)}</th>' for c in columns)
    out.append(f"<thead><tr>{head}</tr></thead>")
    out.append("<tbody>")
    for row in frame.itertuples(index=False, name=None):
        values = dict(zip(columns, row))
        key = status_key(values[status_col]) if status_col else None
        row_class = f' class="wb-row-{key}"' if key else ""
        cells = []
        for column in columns:
            value = values[column]
            if column == status_col:
                cells.append(f'<td class="wb-status">{_badge(value, key)}</td>')
            else:
                cls = _num_class(numeric[column]) or (' class="wb-date"' if formats.get(column) == "date" else "")
                cells.append(f"<td{cls}>{_e(fmt(value, formats.get(column)))}</td>")
        out.append(f"<tr{row_class}>{''.join(cells)}</tr>")
    out.append("</tbody></table>")
    return HtmlFragment("".join(out))


def _num_class(is_numeric: bool) -> str:
    return ' class="wb-num"' if is_numeric else ""


def _badge(value, key: str | None) -> str:
    label = "no data" if is_missing(value) else str(value)
    if key is None:
        return _e(label)
    return f'<span class="wb-badge wb-{key}">{_e(label)}</span>'


def style_block() -> HtmlFragment:
    """The ``<style>`` for :func:`html_table` tables and status badges (show once per report)."""
    # "table.wb-table.wb-table" outranks JupyterLab's ":not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon td"
    # (which right-aligns every cell) in the notebook and in the HTML report alike.
    t = "table.wb-table.wb-table"
    rules = [
        f"{t}{{border-collapse:collapse;margin:0.4em 0 1.2em;font-size:14px;line-height:1.4;table-layout:auto;}}",
        f"{t} caption{{caption-side:top;text-align:left;font-weight:600;padding:0 0 0.4em;}}",
        f"{t} th,{t} td{{padding:4px 10px;border:none;border-bottom:1px solid #d9d9d9;"
        "text-align:left;vertical-align:top;}",
        f"{t} th{{font-weight:600;border-bottom:2px solid #999999;}}",
        f"{t} th.wb-num,{t} td.wb-num{{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap;}}",
        f"{t} td.wb-date{{white-space:nowrap;}}",
        ".wb-badge{display:inline-block;padding:0 0.55em;border-radius:0.7em;font-weight:600;"
        "white-space:nowrap;}",
    ]
    for key in ("green", "amber", "red", "neutral"):
        colour = PALETTE[key]
        rules.append(f".wb-badge.wb-{key}{{background:{colour};color:{text_colour_on(colour)};}}")
        rules.append(f"{t} tr.wb-row-{key} td:first-child{{box-shadow:inset 4px 0 0 {colour};}}")
    return HtmlFragment("<style>" + "".join(rules) + "</style>")


__all__ = ["HtmlFragment", "KINDS", "MISSING", "STATUS_COLOURS", "fmt", "html_table", "is_missing",
           "status_key", "style_block"]
