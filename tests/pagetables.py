"""Read the tables of a rendered report page back into rows of text (standard library only)."""
from __future__ import annotations

import re
from html.parser import HTMLParser


class _Tables(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables: list[dict] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._caption: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append({"caption": "", "header": [], "rows": []})
        elif tag == "caption":
            self._caption = []
        elif tag == "tr" and self.tables:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "caption" and self._caption is not None:
            self.tables[-1]["caption"] = " ".join("".join(self._caption).split())
            self._caption = None
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            table = self.tables[-1]
            if not table["header"] and not table["rows"]:
                table["header"] = self._row
            else:
                table["rows"].append(dict(zip(table["header"], self._row)))
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        elif self._caption is not None:
            self._caption.append(data)


def tables(page: str) -> list[dict]:
    """Every ``<table>`` of the page: ``{"caption", "header", "rows": [{column: text}]}``."""
    parser = _Tables()
    parser.feed(page)
    return parser.tables


def table(page: str, caption_start: str) -> dict:
    """The one table whose caption starts with ``caption_start``."""
    found = [t for t in tables(page) if t["caption"].startswith(caption_start)]
    assert len(found) == 1, (caption_start, [t["caption"] for t in tables(page)])
    return found[0]


def number(text: str) -> float | None:
    """The number a cell shows: ``"17.0 days"`` → 17.0, ``"85.0%"`` → 85.0, ``"$230,900"`` → 230900,
    ``"+12.5"`` → 12.5; None for "no data" or "—"."""
    match = re.search(r"[-+]?\d[\d,]*(?:\.\d+)?", text.replace("−", "-"))
    return float(match.group(0).replace(",", "")) if match else None
