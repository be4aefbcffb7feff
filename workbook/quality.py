"""The data-quality section and the provenance line that end every report.

SPEC section 2: rows are never silently dropped; whatever a rule excludes is counted in the
data-quality section of every report. The section shows

1. **what validation found**: every finding of :class:`workbook.workspace.Workspace` (warnings;
   an error would have stopped the run before the report), with rule, row count and examples;
2. **what was left out and why**: rows a KPI or analysis could not use (accounts without
   readiness items, snapshots whose churn horizon is not over, rows outside a cohort filter,
   ...), passed in by each report as :class:`Exclusion` rows;
3. **what is not known yet on as_of**: rows dated after ``as_of`` in each small table, ignored
   by the point-in-time rule (usage is summarised by its date range, without a scan), the
   optional tables that are absent (their KPIs show "no data") and the optional columns absent
   from present tables (not measured).

The provenance line names the data fingerprint, the source, ``as_of``, the parameters, the weights
version and the package version, so a reader can reproduce the page.
"""
from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from .contract import TABLE_ORDER, REQUIRED_TABLES
from .tables import HtmlFragment, html_table

#: The date column that places a row of each table in time (point-in-time rule).
DATED = {
    "accounts": "signed_at",
    "milestones": "reached_at",
    "contacts": "started_at",
    "surveys": "responded_at",
    "touchpoints": "date",
    "tickets": "opened_at",
    "readiness": "completed_at",
    "time_entries": "date",
    "advocacy": "date",
    "overrides": "set_at",
}
#: What a row dated after as_of means, in words.
LATER_MEANING = {
    "accounts": "accounts signed later: not customers yet",
    "milestones": "milestones reached later",
    "contacts": "contacts who start later",
    "surveys": "survey answers given later",
    "touchpoints": "touchpoints later",
    "tickets": "tickets opened later",
    "readiness": "checklist items completed later: not done yet",
    "time_entries": "hours logged later",
    "advocacy": "advocacy events later",
    "overrides": "overrides set later",
}


@dataclass(frozen=True)
class Exclusion:
    """Rows a report's computation left out: ``what`` (the figure), ``rows``, ``why``, ``unit``."""

    what: str
    rows: int
    why: str
    unit: str = "rows"


def findings_table(ws) -> pd.DataFrame:
    """Validation findings of ``ws`` as a frame: ``severity``, ``table``, ``column``, ``rule``,
    ``rows`` (rows breaking the rule) and ``examples`` (a few keys, comma-separated)."""
    rows = [{"severity": f.severity, "table": f.table, "column": f.column or "", "rule": f.rule,
             "rows": int(f.count), "examples": ", ".join(f.examples)} for f in ws.findings]
    return pd.DataFrame(rows, columns=["severity", "table", "column", "rule", "rows", "examples"])


def later_rows(ws, as_of) -> pd.DataFrame:
    """Rows dated after ``as_of`` per small table (ignored by the point-in-time rule).

    Columns ``table``, ``column``, ``rows``, ``meaning``; only tables with such rows. Usage is
    not scanned: when its last date is after ``as_of`` a row gives the date range instead
    (``rows`` is None).
    """
    as_of = pd.Timestamp(as_of).normalize()
    out = []
    for table, column in DATED.items():
        if not ws.has(table):
            continue
        n = int((ws.frame(table)[column] > as_of).sum())
        if n:
            out.append({"table": table, "column": column, "rows": n, "meaning": LATER_MEANING[table]})
    first, last = ws.usage_date_range
    if last is not None and last > as_of:
        out.append({"table": "usage", "column": "date", "rows": None,
                    "meaning": f"usage from {as_of + pd.Timedelta(days=1):%Y-%m-%d} to {last:%Y-%m-%d} ignored"})
    n = int((ws.frame("accounts")["churned_at"] > as_of).sum())
    if n:
        out.append({"table": "accounts", "column": "churned_at", "rows": n,
                    "meaning": "churn dated later: still customers on as_of"})
    return pd.DataFrame(out, columns=["table", "column", "rows", "meaning"])


def absent_tables(ws) -> list[str]:
    """Optional tables the source does not have (their KPIs and dimensions show "no data")."""
    return [t for t in TABLE_ORDER if t not in REQUIRED_TABLES and not ws.has(t)]


def absent_columns(ws) -> list[str]:
    """Optional columns the source's present tables lack, as ``table.column`` in contract order
    (:meth:`workbook.workspace.Workspace.absent_columns`): not measured, never read as false."""
    return [f"{table}.{col}" for table, cols in ws.absent_columns().items() for col in cols]


def exclusions_frame(exclusions: Iterable[Exclusion | Mapping]) -> pd.DataFrame:
    """:class:`Exclusion` rows (or mappings with the same keys) as a frame, zero-row ones kept."""
    rows = [e.__dict__ if isinstance(e, Exclusion) else dict(e) for e in exclusions]
    frame = pd.DataFrame(rows, columns=["what", "rows", "unit", "why"])
    frame["rows"] = frame["rows"].astype("Int64")
    return frame


def section(ws, as_of, exclusions: Iterable[Exclusion | Mapping] = (), notes: Iterable[str] = ()) -> HtmlFragment:
    """The data-quality section as escaped HTML: validation findings, exclusions, later rows,
    absent tables, absent optional columns and free-text ``notes`` (e.g. calibration warnings)."""
    parts = []
    found = findings_table(ws)
    if found.empty:
        parts.append(_p("Validation found nothing to report: every contract rule holds."))
    else:
        warnings = int((found["severity"] == "warning").sum())
        parts.append(_p(f"Validation found {warnings} warning{'s' if warnings != 1 else ''} "
                        "(the run went on; an error would have stopped it):"))
        parts.append(html_table(found, formats={"rows": "count"}, caption="Validation findings"))
    excl = exclusions_frame(exclusions)
    if excl.empty:
        parts.append(_p("No row was left out of this report's figures."))
    else:
        view = excl.rename(columns={"what": "figure", "rows": "left out", "unit": "of", "why": "why"})
        parts.append(html_table(view, formats={"left out": "count"}, caption="Left out of the figures, and why"))
    later = later_rows(ws, as_of)
    if not later.empty:
        parts.append(html_table(later, formats={"rows": "count"},
                                caption=f"Not known yet on {pd.Timestamp(as_of):%Y-%m-%d} (point in time: ignored)"))
    absent = absent_tables(ws)
    if absent:
        parts.append(_p("Optional tables absent from the source (their figures show “no data”, never 0): "
                        + ", ".join(absent) + "."))
    columns = absent_columns(ws)
    if columns:
        parts.append(_p("Optional columns absent from the source (read as the data contract says: a part that "
                        "rests on one alone is not measured, never false or 0): " + ", ".join(columns) + "."))
    for note in notes:
        parts.append(_p(str(note)))
    return HtmlFragment('<div class="wb-quality">' + "".join(parts) + "</div>")


def provenance_values(ws, *, as_of, parameters: Mapping | None = None, weights_version: str | None = None,
                      engine: str | None = None) -> dict:
    """What the provenance line states: ``fingerprint``, ``source``, ``as_of``, ``parameters``
    (None values left out), ``weights_version``, ``engine``, ``workbook`` (package version) and
    ``generated_at`` (UTC, to the minute)."""
    from . import __version__
    params = {k: v for k, v in (parameters or {}).items() if v is not None}
    return {"fingerprint": ws.fingerprint(), "source": str(ws.source),
            "as_of": pd.Timestamp(as_of).strftime("%Y-%m-%d"), "parameters": params,
            "weights_version": weights_version, "engine": engine, "workbook": __version__,
            "generated_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def provenance_text(values: Mapping) -> str:
    """The provenance line as plain text (see :func:`provenance_values`)."""
    params = json.dumps(values.get("parameters") or {}, ensure_ascii=False, sort_keys=True, default=str)
    bits = [f"data fingerprint {values['fingerprint']} ({values['source']})", f"as of {values['as_of']}",
            f"parameters {params}", f"weights {values.get('weights_version') or 'n/a'}"]
    if values.get("engine"):
        bits.append(f"engine {values['engine']}")
    bits += [f"workbook {values['workbook']}", f"generated {values['generated_at']}"]
    return "Provenance: " + " · ".join(bits)


def provenance(ws, *, as_of, parameters: Mapping | None = None, weights_version: str | None = None,
               engine: str | None = None) -> HtmlFragment:
    """The provenance line as escaped HTML (a small grey paragraph at the end of the report)."""
    text = provenance_text(provenance_values(ws, as_of=as_of, parameters=parameters,
                                             weights_version=weights_version, engine=engine))
    return HtmlFragment(f'<p class="wb-provenance">{html.escape(text)}</p>')


def _p(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


__all__ = ["DATED", "Exclusion", "absent_columns", "absent_tables", "exclusions_frame", "findings_table", "later_rows",
           "provenance", "provenance_text", "provenance_values", "section"]
