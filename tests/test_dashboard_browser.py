"""The dashboard's account tables in a real browser, offline: sortable, searchable, filterable.

The dashboard is rendered once from the small sample world with ``<script>alert(1)</script>``
appended to every account name, then opened in headless chromium with the network off
(tests/browser.py). A filter is typed into the red-accounts table's Owner box the way a reader
types it (value + ``input`` event); the rows left on screen must all be that CSM's. Escaping
is checked where it matters, in the DOM: the names show the markup as text, no ``<script>``
element came from the data and ``alert`` never ran.
"""
from __future__ import annotations

import json

import pandas as pd
import pytest

from browser import open_page, require_chromium
from pagetables import table
from workbook import report

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SCRIPT = "<script>alert(1)</script>"
RED = "Red accounts ("

# The red-accounts table on the page: its wrapper, the index of a column, the visible rows.
_FIND = """
const box = Array.from(document.querySelectorAll('.wb-interactive'))
  .find(w => w.querySelector('caption').textContent.startsWith(%(caption)s));
const titles = Array.from(box.querySelectorAll('thead tr:first-child th')).map(th => th.textContent.trim());
const col = name => titles.indexOf(name);
const visible = name => Array.from(box.querySelectorAll('tbody tr'))
  .filter(tr => tr.cells.length > 1).map(tr => tr.cells[col(name)].textContent.trim());
""" % {"caption": json.dumps(RED)}


def _in_table(body: str) -> str:
    return "(() => {" + _FIND + body + "})()"


@pytest.fixture(scope="module")
def dashboard_page(scripted_world, tmp_path_factory):
    """The rendered dashboard of a world whose account names end with script markup."""
    result = report.render("dashboard", data=scripted_world, out=tmp_path_factory.mktemp("out"))
    return result.html


def test_the_page_holds_every_red_row_for_printing_and_parsing(dashboard_page):
    page = dashboard_page.read_text(encoding="utf-8")
    assert report.audit_html(page) == []
    reds = table(page, RED)["rows"]                     # the static table DataTables enhances
    assert len(reds) > 1 and all(r["Account"].endswith(SCRIPT) for r in reds)   # shown as text
    assert page.count("window._itables_") >= 1 and SCRIPT not in page


def test_typing_a_csm_leaves_only_that_csms_red_accounts(dashboard_page, tmp_path):
    require_chromium()
    rows = table(dashboard_page.read_text(encoding="utf-8"), RED)["rows"]
    owners = pd.Series([r["Owner"] for r in rows]).value_counts()
    assert len(owners) > 1, "the sample needs red accounts of more than one CSM"
    csm = owners.index[0]
    before = open_page(dashboard_page, tmp_path / "before.png", evaluate={
        "owners": _in_table("return [...new Set(visible('Owner'))];"),
        "enhanced": _in_table("return box.querySelector('.dt-container') !== null;"),
    })
    # negative check: unfiltered, the table shows more than one CSM
    assert before.values["enhanced"] is True
    assert len(before.values["owners"]) > 1

    typed = _in_table(f"""
      const input = box.querySelector('thead tr:nth-child(2) [data-dt-column="' + col('Owner') + '"] input');
      input.value = {json.dumps(csm)};
      input.dispatchEvent(new Event('input', {{bubbles: true}}));
      input.dispatchEvent(new KeyboardEvent('keyup', {{bubbles: true}}));
      return true;""")
    after = open_page(dashboard_page, tmp_path / "after.png", script=typed, evaluate={
        "owners": _in_table("return visible('Owner');"),
        "accounts": _in_table("return visible('Account');"),
        "info": _in_table("return box.querySelector('.dt-info').textContent;"),
        "scripts_from_data": "Array.from(document.scripts).filter(s => s.textContent.includes('alert(1)')).length",
    })
    assert after.values["owners"] == [csm] * int(owners[csm]), after.values
    assert all(name.endswith(SCRIPT) for name in after.values["accounts"])      # literal text, not markup
    assert f"{int(owners[csm])} entries" in after.values["info"]
    assert after.values["scripts_from_data"] == 0
    assert after.console_errors == []
    # the library is imported from a blob: URL the page makes from its own inline copy
    assert [u for u in after.requests if not u.startswith(("file:", "data:", "blob:"))] == []


def test_sorting_uses_the_value_not_the_text(dashboard_page, tmp_path):
    require_chromium()
    click = _in_table("box.querySelectorAll('thead tr:first-child th')[col('ARR')]"
                      ".querySelector('.dt-column-order').click(); return true;")
    sorted_ = open_page(dashboard_page, tmp_path / "sorted.png", script=click, evaluate={
        "arr": _in_table("return visible('ARR');"),
    })
    values = [float(v.replace("$", "").replace(",", "")) for v in sorted_.values["arr"]]
    assert values == sorted(values) and len(values) > 1
