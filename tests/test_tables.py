"""Escaped, formatted HTML tables with status badges."""
from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from workbook import tables
from workbook.plots import PALETTE
from workbook.tables import MISSING, fmt, html_table


class _Cells(HTMLParser):
    """Collects the tags and the text of every th/td/caption, unescaped."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.cells: list[str] = []
        self._open = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag in ("td", "th", "caption"):
            self.cells.append("")
            self._open = True

    def handle_endtag(self, tag):
        if tag in ("td", "th", "caption"):
            self._open = False

    def handle_data(self, data):
        if self._open:
            self.cells[-1] += data


def _parse(fragment: str) -> _Cells:
    parser = _Cells()
    parser.feed(fragment)
    return parser


@pytest.mark.parametrize("value, kind, text", [
    (23.456, "days", "23.5 d"),
    (-2, "delta_days", "-2.0 d"),
    (1.5, "delta_days", "+1.5 d"),
    (0.7123, "pct", "71.2%"),
    (1, "pct", "100.0%"),
    (0.031, "pp", "+3.1 pp"),
    (-0.0001, "pp", "0.0 pp"),
    (12, "nps", "+12"),
    (-5.4, "nps", "-5"),
    (0.2, "nps", "0"),
    (80.6, "score", "80.6"), (59.96, "score", "59.9"),
    (12300, "money", "$12,300"),
    (-1200.4, "money", "-$1,200"),
    (1234.6, "int", "1,235"),
    (np.int64(7), "int", "7"),
    (1.2345, "number", "1.23"),
    (pd.Timestamp("2024-06-30 13:45"), "date", "2024-06-30"),
    (dt.date(2024, 6, 30), "date", "2024-06-30"),
    ("2024-06-30", "date", "2024-06-30"),
    ("n/a", "pct", "n/a"),
    ("<b>", "text", "<b>"),
])
def test_fmt_by_kind(value, kind, text):
    assert fmt(value, kind) == text


@pytest.mark.parametrize("value", [None, np.nan, float("nan"), pd.NaT, pd.NA])
@pytest.mark.parametrize("kind", [None, "days", "pct", "date", "text"])
def test_missing_values_show_a_dash(value, kind):
    assert fmt(value, kind) == MISSING == "—"


def test_fmt_without_kind_and_with_a_callable():
    assert fmt(1234) == "1,234"
    assert fmt(2.345) == "2.3"
    assert fmt(True) == "yes"
    assert fmt(pd.Timestamp("2024-01-02")) == "2024-01-02"
    assert fmt(pd.Timestamp("2024-01-02 10:30")) == "2024-01-02 10:30"
    assert fmt("abc") == "abc"
    assert fmt(3, lambda v: f"<{v}>") == "<3>"
    with pytest.raises(ValueError, match="unknown unit 'percent'"):
        fmt(1, "percent")


def test_every_value_header_and_caption_is_escaped():
    nasty = ["<script>alert(1)</script>", "Tom & Jerry", 'say "hi"', "it's", "<img src=x onerror=alert(1)>"]
    df = pd.DataFrame({"name <i>": nasty, "ok": range(5)})
    out = html_table(df, caption="Caption <b>bold</b> & 'quoted'")
    parsed = _parse(out)
    assert set(parsed.tags) <= {"table", "caption", "thead", "tbody", "tr", "th", "td"}
    assert parsed.cells[0] == "Caption <b>bold</b> & 'quoted'"
    assert parsed.cells[1] == "name <i>"
    assert parsed.cells[3::2] == nasty
    assert "<script>" not in out and "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "&quot;hi&quot;" in out and "it&#x27;s" in out


def test_formats_status_badges_and_numeric_alignment():
    df = pd.DataFrame({
        "account": ["A", "B", "C"],
        "ttv": [23.5, np.nan, 40.0],
        "arr": [12300, 1_000_000, 0],
        "status": ["On target", "off_target", None],
    })
    out = html_table(df, formats={"ttv": "days", "arr": "money"}, status_col="status")
    cells = _parse(out).cells
    assert cells[4:] == ["A", "23.5 d", "$12,300", "On target",
                         "B", MISSING, "$1,000,000", "off_target",
                         "C", "40.0 d", "$0", "no data"]
    assert '<tr class="wb-row-green">' in out and '<tr class="wb-row-red">' in out
    assert '<tr class="wb-row-neutral">' in out
    assert '<span class="wb-badge wb-green">On target</span>' in out
    assert '<th scope="col" class="wb-num">ttv</th>' in out and '<th scope="col">account</th>' in out
    assert '<td class="wb-num">23.5 d</td>' in out


@pytest.mark.parametrize("word, key", [
    ("red", "red"), ("Amber", "amber"), ("GREEN", "green"), ("on target", "green"), ("off-target", "red"),
    ("near target", "amber"), ("no data", "neutral"), (None, "neutral"), ("unknown", None),
])
def test_status_key(word, key):
    assert tables.status_key(word) == key


def test_unknown_status_is_plain_text():
    out = html_table(pd.DataFrame({"s": ["paused"]}), status_col="s")
    assert "<tr>" in out and 'class="wb-badge' not in out and "paused" in out


def test_index_can_be_shown():
    df = pd.DataFrame({"v": [0.5]}, index=pd.Index(["x<y"], name="segment"))
    cells = _parse(html_table(df, formats={"v": "pct"}, index=True)).cells
    assert cells == ["segment", "v", "x<y", "50.0%"]


def test_unknown_columns_are_refused():
    with pytest.raises(KeyError):
        html_table(pd.DataFrame({"a": [1]}), formats={"b": "int"})
    with pytest.raises(KeyError):
        html_table(pd.DataFrame({"a": [1]}), status_col="colour")


def test_result_displays_as_html_and_is_a_string():
    out = html_table(pd.DataFrame({"a": [1]}))
    assert isinstance(out, str) and out._repr_html_() == str(out)


def test_style_block_uses_the_palette_with_readable_text():
    css = tables.style_block()
    assert css.startswith("<style>") and css.endswith("</style>")
    for key in ("green", "amber", "red", "neutral"):
        assert PALETTE[key] in css
    assert ".wb-badge.wb-red{background:#CC3311;color:#ffffff;}" in css
    assert "http" not in css


def test_empty_frame():
    cells = _parse(html_table(pd.DataFrame({"a": []}))).cells
    assert cells == ["a"]


@pytest.mark.parametrize("value, kind, text", [
    (-0.0001, "pct", "0.0%"), (-0.02, "score", "0.0"), (-0.4, "money", "$0"), (-0.01, "days", "0.0 d"),
    (-0.004, "number", "0.00"), (-0.001, lambda v: f"{v:+.1f}", "0.0"),
    (-5, "score", "-5.0"), (-0.05, "number", "-0.05"), (-10.04, "days", "-10.0 d"), (-0.3, "pct", "-30.0%"),
])
def test_no_negative_zero(value, kind, text):
    """A tiny negative that rounds to zero prints as zero, never -0.0; real negatives keep their sign."""
    assert fmt(value, kind) == text


# ---------------------------------------------------------------------------- interactive tables
ACCOUNTS = pd.DataFrame({"Account": ["Acme <script>alert(1)</script>", "Beta & Co"], "Owner": ["Dana Lee", "Sam Ortiz"],
                         "Segment": ["SMB", "Enterprise"], "ARR": [9000.0, None],
                         "Signed": [pd.Timestamp("2026-01-05"), pd.NaT], "Colour": ["red", "amber"]})


def test_interactive_table_holds_the_escaped_static_table():
    """The page carries the whole table, cell for cell as html_table writes it (printing, no
    JavaScript, pagetables), with sort keys on numbers and dates; DataTables enhances it in place."""
    from pagetables import tables as read_tables
    frag = tables.interactive_table(ACCOUNTS, formats={"ARR": "money", "Signed": "date"}, status_col="Colour",
                                    caption="Red <accounts>")
    static = html_table(ACCOUNTS, formats={"ARR": "money", "Signed": "date"}, status_col="Colour",
                        caption="Red <accounts>")
    assert read_tables(frag) == read_tables(static)
    assert "<script>alert(1)" not in frag and "Acme &lt;script&gt;alert(1)&lt;/script&gt;" in frag
    assert "Red &lt;accounts&gt;" in frag
    assert ' data-order="9000.0">$9,000<' in frag and ' data-order="">' in frag
    assert ' data-order="2026-01-05">2026-01-05<' in frag
    assert "new ITable(table, dt_args)" in frag and "http" not in frag


def _dt_args(frag: str) -> dict:
    import json
    import re
    return json.loads(re.search(r"let dt_args = (\{.*?\});", frag, re.S).group(1))


def test_interactive_table_filters_owner_segment_and_colour_by_default():
    args = _dt_args(tables.interactive_table(ACCOUNTS, status_col="Colour"))
    assert [d["targets"] for d in args["columnDefs"]] == [1, 2, 5]           # Owner, Segment, Colour
    assert args["columnDefs"][0]["columnControl"] == [{"target": 1, "content": [
        {"extend": "search", "placeholder": "filter", "titleAttr": "Filter Owner"}]}]
    assert args["order"] == [] and args["pageLength"] == 25
    assert args["paging"] is False                                   # two rows: one page, no controls
    args = _dt_args(tables.interactive_table(ACCOUNTS, filters=["Account"], page_length=1))
    assert [d["targets"] for d in args["columnDefs"]] == [0] and args["paging"] is True and args["pageLength"] == 1
    odd = pd.DataFrame({"Owner </script><b>": ["x"]})
    assert "</script><b>" not in tables.interactive_table(odd).split("<script", 1)[1]   # names kept out of the JSON
    with pytest.raises(KeyError, match="Nope"):
        tables.interactive_table(ACCOUNTS, filters=["Nope"])
    with pytest.raises(KeyError, match="Nope"):
        tables.interactive_table(ACCOUNTS, formats={"Nope": "money"})


def test_interactive_tables_on_one_page_have_their_own_ids():
    ids = {_table_id(tables.interactive_table(ACCOUNTS)) for _ in range(3)}
    assert len(ids) == 3


def _table_id(frag: str) -> str:
    import re
    return re.search(r'<table class="wb-table" id="([^"]+)"', frag).group(1)


def test_interactive_setup_is_the_offline_bundle_and_nothing_remote():
    from workbook.report import audit_html
    setup = tables.interactive_setup()
    assert setup.startswith("<script>") and setup.endswith("</script>")
    assert "injectModule" in setup and 500_000 < len(setup) < 2_000_000
    assert audit_html(setup) == [] and "http" not in setup and "<noscript>" not in setup
