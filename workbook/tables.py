"""Styled, escaped HTML tables for reports.

:func:`html_table` turns a DataFrame into an HTML ``<table>``: every header, value and caption is
escaped with ``html.escape(..., quote=True)``, numbers are written in their unit (see
:func:`fmt`, in the short style of :func:`workbook.display.text`), missing values show as "—",
and a status column is drawn as a coloured, labelled badge using :data:`workbook.display.PALETTE`.
Reports show the result with ``IPython.display.HTML`` (or as the last expression of a cell: the
result has ``_repr_html_``) after :func:`style_block` once.

:func:`interactive_table` writes the same table and lets DataTables (the offline bundle of the
``itables`` package, put on the page once by :func:`interactive_setup`) sort, search, filter and
page it in the browser; the page still loads nothing from the network.
"""
from __future__ import annotations

import html
import itertools
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import date

import pandas as pd

from . import display
from .display import ALIASES, MISSING, PALETTE, UNITS, is_missing, text_colour_on  # noqa: F401 - re-exported

#: Every format a table column may name: the units, then their older names.
KINDS: dict[str, str] = {**UNITS, **{k: f"a {'change in ' if c else ''}{u}" for k, (u, c) in ALIASES.items()}}

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


def fmt(value, kind: Kind | None = None) -> str:
    """``value`` as a table cell (not escaped): :func:`workbook.display.label`, the short style of
    the unit ``kind`` names (a unit of :data:`workbook.display.UNITS`, an older name of
    :data:`workbook.display.ALIASES`, or a callable); "—" when missing. Without a kind, numbers get
    thousands separators (floats one decimal), dates their ISO form and everything else ``str``.
    """
    return display.label(value, kind)


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
    frame, formats = _checked(df, formats, status_col, index, "html_table")
    return HtmlFragment(_table_html(frame, formats, status_col, caption))


def _checked(df: pd.DataFrame, formats, status_col, index: bool, caller: str):
    formats = dict(formats or {})
    unknown = [c for c in list(formats) + ([status_col] if status_col else []) if c not in df.columns]
    if unknown:
        raise KeyError(f"{caller}: no column(s) {unknown!r} in the frame")
    return (df.reset_index() if index else df), formats


def _table_html(frame: pd.DataFrame, formats: dict, status_col: str | None, caption: str | None,
                table_id: str | None = None, sort_keys: bool = False) -> str:
    """The escaped ``<table>``; with ``sort_keys`` numeric and date cells carry ``data-order``
    (the raw value, so an interactive table sorts $9,000 below $10,000)."""
    columns = list(frame.columns)
    numeric = {c: _is_numeric_kind(formats.get(c)) if c in formats
               else pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
               for c in columns}
    ident = f' id="{_e(table_id)}"' if table_id else ""
    out = [f'<table class="wb-table"{ident}>']
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
                continue
            cls = _num_class(numeric[column]) or (' class="wb-date"' if formats.get(column) == "date" else "")
            order = _order_attr(value) if sort_keys and (numeric[column] or formats.get(column) == "date") else ""
            cells.append(f"<td{cls}{order}>{_e(fmt(value, formats.get(column)))}</td>")
        out.append(f"<tr{row_class}>{''.join(cells)}</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _order_attr(value) -> str:
    """``data-order`` with the value an interactive table sorts by (missing sorts first)."""
    if is_missing(value):
        return ' data-order=""'
    if isinstance(value, (pd.Timestamp, date)):
        return f' data-order="{_e(pd.Timestamp(value).strftime("%Y-%m-%d"))}"'
    try:
        return f' data-order="{float(value)!r}"'
    except (TypeError, ValueError):
        return f' data-order="{_e(value)}"'


def _num_class(is_numeric: bool) -> str:
    return ' class="wb-num"' if is_numeric else ""


def _badge(value, key: str | None) -> str:
    label = "no data" if is_missing(value) else str(value)
    if key is None:
        return _e(label)
    return f'<span class="wb-badge wb-{key}">{_e(label)}</span>'


#: Column names (any case) that get a filter box in an :func:`interactive_table` by default:
#: the owner (CSM), the segment and the colour. The status column always gets one.
FILTER_COLUMNS: tuple[str, ...] = ("owner", "csm", "segment", "colour", "color")

_TABLE_IDS = itertools.count(1)


def interactive_table(df: pd.DataFrame, *, formats: Mapping[str, Kind] | None = None, status_col: str | None = None,
                      caption: str | None = None, filters: Sequence[str] | None = None, page_length: int = 25,
                      index: bool = False) -> HtmlFragment:
    """``df`` as :func:`html_table` draws it, made sortable, searchable, filterable and paged in
    the browser by DataTables (through itables, offline: show :func:`interactive_setup` once per
    page first).

    The page holds the complete escaped ``<table>`` (so it prints, reads without JavaScript and is
    parsed like any table); DataTables enhances that table in place and never turns a value into
    HTML. Numeric and date columns sort by their value, not their text. ``filters`` names the
    columns that get a filter box under their heading (default: the columns named in
    :data:`FILTER_COLUMNS`, plus ``status_col``); ``page_length`` rows show per page (all of them,
    without paging controls, when the table is that short). The other arguments are
    :func:`html_table`'s.
    """
    from itables.javascript import html_table_from_template   # lazy: only reports with such tables need it
    import itables.options as itables_options

    frame, formats = _checked(df, formats, status_col, index, "interactive_table")
    columns = list(frame.columns)
    chosen = _filter_columns(columns, filters, status_col)
    table_id = f"wb-itable-{next(_TABLE_IDS)}-{uuid.uuid4().hex[:8]}"
    table = _table_html(frame, formats, status_col, caption, table_id=table_id, sort_keys=True)
    short = len(frame) <= page_length
    dt_args = {
        "classes": ["compact", "hover"], "style": {}, "order": [], "autoWidth": False,
        "pageLength": int(page_length), "paging": not short,
        "lengthMenu": [[10, 25, 50, 100, -1], [10, 25, 50, 100, "All"]],
        "layout": {"topStart": None if short else "pageLength", "topEnd": "search",
                   "bottomStart": "info", "bottomEnd": None if short else "paging"},
        "columnControl": [{"target": 1, "content": []}],
        "columnDefs": [{"targets": columns.index(c), "columnControl": [
            {"target": 1, "content": [{"extend": "search", "placeholder": "filter",
                                       "titleAttr": f"Filter {_plain(c)}"}]}]} for c in chosen],
    }
    code = html_table_from_template(table_id=table_id, dt_url=itables_options.dt_url, connected=False,
                                    display_logo_when_loading=False, kwargs=dt_args, fallback_html="")
    script = code[code.index("<script"):]      # itables' placeholder table (a link to its help page) is ours
    return HtmlFragment(f'<div class="wb-interactive">{table}{script}</div>')


def _plain(name) -> str:
    """A column name fit for the settings JSON inside ``<script>`` (no markup characters)."""
    return "".join(ch for ch in str(name) if ch not in "<>&\"'")


def _filter_columns(columns: list, filters: Sequence[str] | None, status_col: str | None) -> list:
    if filters is None:
        return [c for c in columns if str(c).strip().lower() in FILTER_COLUMNS or c == status_col]
    unknown = [c for c in filters if c not in columns]
    if unknown:
        raise KeyError(f"interactive_table: no column(s) {unknown!r} to filter in the frame")
    return [c for c in columns if c in filters]


def interactive_setup() -> HtmlFragment:
    """The DataTables library that :func:`interactive_table` needs, inline (itables' offline
    bundle, about 950 KB of base64 in a ``<script>``; nothing is fetched). Show it once per page,
    before the first interactive table: a second copy does no harm but doubles the weight."""
    from itables.javascript import generate_init_offline_itables_html
    import itables.options as itables_options

    code = generate_init_offline_itables_html(itables_options.dt_bundle)
    # Keep the <script>; drop the <noscript> note after it, which links to the itables website.
    return HtmlFragment(code[: code.rindex("</script>") + len("</script>")])


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


__all__ = ["ALIASES", "FILTER_COLUMNS", "HtmlFragment", "KINDS", "MISSING", "STATUS_COLOURS", "fmt", "html_table",
           "interactive_setup", "interactive_table", "is_missing", "status_key", "style_block"]
