"""Report sections: what each report notebook shows, one call per cell.

A report notebook opens one report object and then asks it for each section::

    rep = reporting.Weekly(data=data, as_of=as_of, engine=engine, asks=asks)
    report.record(as_of=rep.as_of, weights_version=rep.weights_version, fingerprint=rep.fingerprint)
    rep.header()        # style block and the line under the title
    rep.headline()      # the one-sentence headline
    rep.kpi_table()     # the seven KPIs
    ...
    rep.data_quality()  # what validation found, rows left out and why
    rep.provenance()    # fingerprint, parameters, weights version, package version

Every section returns something Jupyter displays: an escaped HTML fragment
(:class:`workbook.tables.HtmlFragment`) or a figure with alt text (:class:`workbook.plots.Chart`).
All numbers come from the tested modules (:mod:`workbook.kpis`, :mod:`workbook.health`,
:mod:`workbook.calibration`, :mod:`workbook.post_cycle`); the sentences from
:mod:`workbook.narrative`. Nothing here is cached at module level (a backfill reuses the kernel):
each report object computes what it needs once, on first use.

Parameters left as ``None`` in a notebook take their value from the report's defaults file,
``params/<name>.yaml`` (``params/calibration_report.yaml`` for the calibration report, whose
name is taken by the calibration settings). ``data=None`` means ``$WORKBOOK_DATA``, else
``data/sample`` (looked up under the current directory, then the repository, so a notebook
opened in JupyterLab from ``notebooks/`` finds it).
"""
from __future__ import annotations

import html
import math
import os
import re
from functools import cached_property
from pathlib import Path

import pandas as pd

from . import display, narrative, plots, quality, wins
from . import health as _health
from . import kpis as _kpis
from . import weights as _weights
from .display import is_missing
from .errors import BadInput
from .report import DATA_ENV, DEFAULT_DATA, resolve_data  # noqa: F401 - re-exported for notebooks
from .scoring import DIMENSIONS
from .tables import HtmlFragment, html_table, style_block

_WIN_TITLES = {"first value reached": "First value reached", "onboarding completed": "Onboarding completed",
               "advocacy": "Advocacy", "turned green": "Turned green"}

_CSS = """<style>
.wb-sub{color:#555555;margin:-0.2em 0 1.2em;font-size:15px;}
.wb-headline{font-size:19px;line-height:1.5;font-weight:600;border-left:5px solid #0072B2;
  padding:0.35em 0 0.35em 0.9em;margin:0.4em 0 1em;}
.wb-story{font-size:17px;line-height:1.6;max-width:60em;}
.wb-note{color:#444444;margin:0.3em 0 0.8em;}
.wb-recommendation{font-size:17px;line-height:1.5;border:2px solid #0072B2;border-radius:6px;padding:0.6em 0.9em;}
.wb-lines{display:grid;grid-template-columns:max-content 1fr;gap:0.45em 1.1em;font-size:16px;line-height:1.5;
  margin:0.6em 0 1.2em;}
.wb-lines dt{font-weight:700;} .wb-lines dd{margin:0;}
.wb-decision{display:inline-block;padding:0 0.5em;border-radius:0.6em;font-weight:700;}
.wb-asks li{margin:0.25em 0;font-size:16px;}
.wb-quality{font-size:14px;} .wb-quality p{margin:0.4em 0;}
.wb-provenance{color:#666666;font-size:12px;line-height:1.45;border-top:1px solid #dddddd;padding-top:0.6em;
  margin-top:1.6em;word-break:break-word;}
.wb-page-break{height:0;border:0;}
.wb-risks td:nth-child(1){min-width:10em;} .wb-risks td:nth-child(2){white-space:nowrap;}
.wb-risks td:nth-child(7){min-width:15em;} .wb-risks td:nth-child(8){min-width:12em;}
@media print{.wb-page-break{break-before:page;page-break-before:always;}}
</style>"""


# ---------------------------------------------------------------------------- small helpers
def defaults_path(name: str) -> Path:
    """The defaults file of report ``name`` (see :func:`workbook.report.defaults_path`)."""
    from .report import defaults_path as _path
    return _path(name)


def report_defaults(name: str) -> dict:
    """The parameters in the report's defaults file (empty when there is none)."""
    from .params import read_yaml
    path = defaults_path(name)
    return read_yaml(path) if path.is_file() else {}


#: Optional file beside the data (in a directory source) with per-report defaults for this source.
SOURCE_PARAMS = "report_params.yaml"


def source_defaults(name: str, data) -> dict:
    """The ``name:`` section of ``report_params.yaml`` in the data directory (empty when absent).

    Texts that belong to one team or one data source (the weekly asks, a cycle's hypothesis) live
    beside that source, not in the package's ``params/``: a file such as::

        weekly:
          asks: ["Sales: ...", "Product: ..."]

    overrides ``params/weekly.yaml`` for reports on this source; a parameter passed explicitly
    overrides both.
    """
    from .params import read_yaml
    folder = Path(os.fspath(data)) if data is not None else None
    path = folder / SOURCE_PARAMS if folder is not None and folder.is_dir() else None
    if path is None or not path.is_file():
        return {}
    doc = read_yaml(path) or {}
    if not isinstance(doc, dict):
        raise BadInput(str(path), None, "must map report names to their parameters")
    section = doc.get(name) or {}
    if not isinstance(section, dict):
        raise BadInput(str(path), name, "must map parameter names to values")
    return section


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _cls(cls: str | None) -> str:
    return f' class="{_e(cls)}"' if cls else ""


def _p(text: str, cls: str | None = None) -> str:
    return f"<p{_cls(cls)}>{_e(text)}</p>"


def fragment(*parts: str) -> HtmlFragment:
    """Several HTML strings (already escaped) as one displayable fragment."""
    return HtmlFragment("".join(parts))


def paragraph(text: str, cls: str | None = None) -> HtmlFragment:
    """``text`` (plain) as an escaped ``<p>``."""
    return HtmlFragment(_p(text, cls))


def bullets(items, cls: str | None = None) -> HtmlFragment:
    """Plain-text ``items`` as an escaped ``<ul>`` list."""
    lis = "".join(f"<li>{_e(i)}</li>" for i in items)
    return HtmlFragment(f"<ul{_cls(cls)}>{lis}</ul>")


def value_fmt(unit: str):
    """A cell formatter for values in ``unit`` (the same words the sentences use)."""
    return lambda v: display.text(v, unit, missing="no data")


def change_text(change, unit: str) -> str:
    """A signed change in ``unit``: ``+2.1 pp``, ``-3.0 days``, ``+8.0`` (NPS or readiness points)."""
    return display.text(change, unit, change=True)


def direction_word(change, better: str) -> str:
    """``better`` / ``worse`` / ``same`` for a change in a KPI whose ``better`` is higher or lower."""
    if is_missing(change):
        return ""
    if change == 0:
        return "same"
    return "better" if (change > 0) == (better == "higher") else "worse"


def gap_text(value, target, unit: str, better: str) -> str:
    """``15.6 days behind`` / ``3.2 pp ahead`` / ``on target`` (exactly at target)."""
    if is_missing(value) or is_missing(target):
        return "—"
    gap = float(value) - float(target)
    if gap == 0:
        return "at target"
    ahead = gap > 0 if better == "higher" else gap < 0
    return f"{change_text(abs(gap), unit).lstrip('+')} {'ahead' if ahead else 'behind'}"


def period_text(start, end) -> str:
    """``9–15 Nov 2026``, ``28 Oct – 3 Nov 2026`` or ``29 Dec 2025 – 4 Jan 2026``."""
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    if start.year != end.year:
        return f"{start.day} {start:%b %Y} – {end.day} {end:%b %Y}"
    if start.month != end.month:
        return f"{start.day} {start:%b} – {end.day} {end:%b %Y}"
    return f"{start.day}–{end.day} {end:%b %Y}"


def month_text(start, end) -> str:
    """``October 2026`` for a whole month, ``November 2026 to date (1–15 Nov)`` for a part."""
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    whole = start.day == 1 and end == start + pd.offsets.MonthEnd(0)
    return f"{start:%B %Y}" if whole else f"{start:%B %Y} to date ({period_text(start, end).rsplit(' ', 1)[0]})"


# ---------------------------------------------------------------------------- shared computations
def kpi_frame(table: pd.DataFrame, previous_word: str = "last week") -> pd.DataFrame:
    """The KPI table as the report shows it: ``KPI``, ``Value``, ``n``, ``Change vs <previous>``,
    ``Target``, ``Gap to target``, ``Status`` (text, formatted in each KPI's unit)."""
    rows = []
    for r in table.to_dict("records"):
        unit, better = r["unit"], r["better"]
        change = r["change"]
        word = direction_word(change, better)
        rows.append({
            "KPI": r["kpi"], "Value": narrative.value_text(r["value"], unit),
            # no value and no cohort (often: its table is absent) is "no data", not a cohort of 0
            "n": None if is_missing(r["value"]) and not r["n"] else r["n"],
            f"Change vs {previous_word}": "—" if is_missing(change) else f"{change_text(change, unit)} ({word})",
            "Target": "—" if is_missing(r["target"]) else narrative.value_text(r["target"], unit),
            "Gap to target": gap_text(r["value"], r["target"], unit, better),
            "Status": r["status"],
        })
    return pd.DataFrame(rows)


def named(rows: pd.DataFrame, limit: int) -> str:
    """``Acme Ltd ($120,000, Dana Lee); Globex ($80,000, Sam Ray) and 4 more`` (largest ARR first)."""
    rows = rows.sort_values("arr", ascending=False)
    names = [f"{r.name} ({narrative.money_text(r.arr)}, {r.csm})" for r in rows.head(limit).itertuples()]
    more = len(rows) - len(names)
    return "; ".join(names) + (f" and {more:,} more" if more > 0 else "")


def _risk_note(r) -> str:
    """The signals behind a red account in a few words: override (reason, author), alert, archetypes."""
    notes = []
    if isinstance(r.get("override_reason"), str) and r["override_reason"]:
        notes.append(f"override to {r['colour']} by {r['override_author']}: {r['override_reason']}")
    if r.get("alert"):
        notes.append("alert: " + re.sub(r"\s*\(ARR [^)]*\)", "", str(r["alert_reason"])))
    if isinstance(r.get("archetypes"), str) and r["archetypes"]:
        notes.append(r["archetypes"])
    if r.get("decline_pattern"):
        notes.append("declining usage")
    return "; ".join(notes)


def short_params(parameters: dict, width: int = 60) -> dict:
    """Parameters for the provenance line: long texts cut to ``width`` characters, lists and
    mappings summarised by their size (the executed notebook beside the report keeps them whole)."""
    out = {}
    for key, value in parameters.items():
        if isinstance(value, (list, tuple)):
            value = f"[{len(value)} items]"
        elif isinstance(value, dict):
            value = f"{{{len(value)} keys}}"
        elif isinstance(value, str) and len(value) > width:
            value = value[: width - 1] + "…"
        out[key] = value
    return out


# ---------------------------------------------------------------------------- the base report
class Report:
    """What every report shares: the data, ``as_of``, the engine, the weights, the settings, the
    header, the data-quality section and the provenance line.

    ``settings`` are the report's defaults file overlaid with the non-None parameters passed in.
    """

    name = "report"
    title = "Report"

    def __init__(self, *, data=None, as_of=None, engine=None, **parameters):
        plots.setup()
        self.parameters = {"data": None if data is None else os.fspath(data),
                           "as_of": None if as_of is None else str(as_of), "engine": engine, **parameters}
        source = resolve_data(data)
        defaults, own = report_defaults(self.name), source_defaults(self.name, source)
        # a scheduler may pass the defaults file's values as parameters; such a value is still the
        # package default, so the source's own value wins over it (any other given value wins)
        given = {k: v for k, v in parameters.items()
                 if v is not None and not (k in own and k in defaults and v == defaults[k])}
        self.settings = {**defaults, **own, **given}
        from .engines import default_engine_name, get_engine
        from .workspace import open_data
        self.ws = open_data(source)
        self.engine_name = (engine or default_engine_name()).lower()
        self.engine = get_engine(self.ws, engine)
        self.weights = _weights.load_active()
        self.as_of = self._resolve_as_of(as_of)
        self.record()

    def record(self) -> None:
        """Tell the renderer what this report is for (``as_of``, weights version, data fingerprint):
        :func:`workbook.report.record`, published once the report object exists, so a notebook
        needs no plumbing cell of its own (outside a kernel it does nothing)."""
        from .report import record
        record(as_of=self.as_of, weights_version=self.weights_version, fingerprint=self.fingerprint)

    # -- settings
    def _source(self, key: str | None = None) -> str:
        """Where setting ``key`` came from, for error messages: ``-p KEY`` when it was passed as a
        parameter with a value other than the defaults file's, else the defaults file."""
        explicit = self.parameters.get(key) if key is not None else None
        if explicit is not None and explicit != report_defaults(self.name).get(key):
            return "-p"
        return f"params/{defaults_path(self.name).name}"

    def setting_int(self, key: str, minimum: int = 1) -> int:
        """Setting ``key`` as a whole number >= ``minimum`` (BadInput naming the key otherwise)."""
        value = self.settings.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or int(value) != value or value < minimum:
            raise BadInput(self._source(key), key, f"must be a whole number >= {minimum}, got {value!r}")
        return int(value)

    def setting_list(self, key: str) -> list[str]:
        """Setting ``key`` as a list of texts (None = empty)."""
        value = self.settings.get(key)
        if value is None:
            return []
        if isinstance(value, str) or not isinstance(value, (list, tuple)) or \
                not all(isinstance(v, (str, int, float)) for v in value):
            raise BadInput(self._source(), key, f"must be a list of texts, got {value!r}")
        return narrative.bullet_items(value)

    def _resolve_as_of(self, as_of) -> pd.Timestamp:
        from .periods import resolve_as_of
        return resolve_as_of(self.ws, as_of)

    # -- identity
    @property
    def fingerprint(self) -> str:
        """The data fingerprint (:meth:`workbook.workspace.Workspace.fingerprint`)."""
        return self.ws.fingerprint()

    @property
    def weights_version(self) -> str:
        """The active weights version, e.g. ``v1``."""
        return self.weights.label

    def subtitle(self) -> str:
        """The line under the title (plain text)."""
        return f"As of {self.as_of:%A %d %B %Y} · data {self.ws.source}"

    def header(self) -> HtmlFragment:
        """The styles every section uses and the line under the title."""
        return fragment(style_block(), _CSS, _p(self.subtitle(), "wb-sub"))

    # -- shared data
    @cached_property
    def health(self) -> pd.DataFrame:
        """:func:`workbook.health.health_table` on ``as_of`` with the active weights."""
        return _health.health_table(self.ws, self.as_of, self.weights, self.engine)

    @cached_property
    def accounts(self) -> pd.DataFrame:
        return self.ws.frame("accounts")

    @cached_property
    def measured(self) -> dict:
        """Which health dimensions this source measures and the mean coverage
        (:func:`workbook.health.measured`)."""
        return _health.measured(self.health)

    def score_basis(self) -> str | None:
        """What limits trust in the scores, for the headline (:func:`workbook.narrative.score_basis`)."""
        return narrative.score_basis(self.measured)

    def small_cohorts(self, kpis: pd.DataFrame) -> str | None:
        """KPIs resting on fewer accounts than the ``small_cohort`` setting (None when unset)."""
        value = self.settings.get("small_cohort")
        return narrative.small_cohorts(kpis, None if value is None else self.setting_int("small_cohort"))

    def score_note(self) -> str:
        """The line shown beside scores: ``Scores measured: adoption, outcomes (coverage 50 %) — ...``."""
        return "Health scores " + _health.measured_text(self.health) + "."

    def reds(self) -> pd.DataFrame:
        """Red accounts (final colour), largest ARR first."""
        h = self.health
        return h[h["colour"] == "red"].sort_values(["arr", "score"], ascending=[False, True]).reset_index(drop=True)

    def risk_frame(self, rows: pd.DataFrame, with_action: bool = True) -> pd.DataFrame:
        """Red accounts as the risk tables show them: owner, ARR, score, 7-day change, lowest
        dimension, the recovery action for it (from params/playbooks.yaml ``outreach``) and the
        signals behind the colour (override with reason and author, alert, archetypes)."""
        outreach = (_health.playbooks().get("outreach") or {})
        frame = pd.DataFrame({
            "Account": rows["name"], "Owner": rows["csm"], "ARR": rows["arr"], "Score": rows["score"],
            "Change 7 d": rows["change_7d"], "Lowest dimension": rows["lowest_dimension"],
            "Recovery action": [outreach.get(d, "targeted outreach") if isinstance(d, str)
                                else "review the account" for d in rows["lowest_dimension"]],
            "Signals": [_risk_note(r) for r in rows.to_dict("records")],
        })
        return frame if with_action else frame.drop(columns="Recovery action")

    def risk_table(self, rows: pd.DataFrame, caption: str | None = None, with_action: bool = True) -> HtmlFragment:
        table = html_table(self.risk_frame(rows, with_action), caption=caption,
                           formats={"ARR": "money", "Score": "points",
                                    "Change 7 d": lambda v: display.text(v, "points", change=True)})
        return fragment('<div class="wb-risks">', table, "</div>")

    def action_legend(self) -> str:
        """``Recovery starts with the lowest dimension: adoption: ...; engagement: ...`` (plain text)."""
        outreach = (_health.playbooks().get("outreach") or {})
        dims = self.measured["measured"] or list(DIMENSIONS)     # an unmeasured one is never lowest
        return "Recovery starts with the lowest dimension: " + "; ".join(
            f"{d}: {outreach[d]}" for d in dims if d in outreach) + "."

    # -- the end of every report
    def exclusions(self) -> list[quality.Exclusion]:
        """Rows this report's figures left out (each report adds its own)."""
        return []

    def notes(self) -> list[str]:
        return []

    def data_quality(self) -> HtmlFragment:
        """What validation found, rows left out and why, facts not known yet on ``as_of``."""
        return quality.section(self.ws, self.as_of, self.exclusions(), self.notes())

    def provenance(self) -> HtmlFragment:
        """Data fingerprint, source, as_of, parameters, weights version, engine, package version."""
        return quality.provenance(self.ws, as_of=self.as_of, parameters=short_params(self.parameters),
                                  weights_version=self.weights_version, engine=self.engine_name)

    def health_exclusions(self) -> list[quality.Exclusion]:
        """Accounts scored without one of the five dimensions (its weight was spread over the others)."""
        h = self.health
        out = []
        for dim in DIMENSIONS:
            n = int(h[dim].isna().sum())
            if n == len(h) and n:
                out.append(quality.Exclusion(f"health score: {dim}", n, "not measured in this source (no data "
                                             "for any account): its weight was spread over the measured "
                                             "dimensions", "accounts"))
            elif n:
                out.append(quality.Exclusion(f"health score: {dim}", n, "no data for this dimension on as_of: "
                                             "its weight was spread over the others", "accounts"))
        return out

    def kpi_exclusions(self, table: pd.DataFrame, period: str) -> list[quality.Exclusion]:
        out = []
        for r in table.to_dict("records"):
            if r.get("left_out"):
                why = ("account has no readiness items" if r["key"] == "readiness_at_handover"
                       else "no value for this KPI")
                out.append(quality.Exclusion(f"{r['kpi']} ({period})", int(r["left_out"]), why, "accounts"))
        return out

    def close(self) -> None:
        """Close the engine and the data source."""
        self.engine.close()
        self.ws.close()


# ---------------------------------------------------------------------------- weekly
class Weekly(Report):
    """The weekly operating report: headline, the seven KPIs, risks, wins, asks (SPEC section 7)."""

    name = "weekly"
    title = "Weekly onboarding operating report"

    def __init__(self, *, data=None, as_of=None, engine=None, asks=None, max_risks=None, max_named=None,
                 small_cohort=None):
        super().__init__(data=data, as_of=as_of, engine=engine, asks=asks, max_risks=max_risks, max_named=max_named,
                         small_cohort=small_cohort)
        self.asks_list = self.setting_list("asks")
        self.max_risks = self.setting_int("max_risks")
        self.max_named = self.setting_int("max_named")
        from .periods import week
        self.period = week(self.as_of)

    def subtitle(self) -> str:
        return (f"Week {period_text(self.period.start, self.period.end)} · as of {self.as_of:%Y-%m-%d} · "
                f"{len(self.health):,} live accounts · data {self.ws.source}")

    @cached_property
    def kpis(self) -> pd.DataFrame:
        """:func:`workbook.kpis.kpi_table` for the week."""
        return _kpis.kpi_table(self.ws, self.as_of, "week", self.engine)

    @cached_property
    def colour_before(self) -> pd.Series:
        """Each account's final colour 7 days before ``as_of`` (:func:`workbook.health.colours_on`)."""
        return _health.colours_on(self.ws, self.health, self.weights, self.as_of - pd.Timedelta(days=7))

    def new_red(self) -> int:
        """Red accounts that were not red 7 days before (or not scored then)."""
        red = self.health["colour"] == "red"
        return int((red & (self.colour_before != "red")).sum())

    def headline(self) -> HtmlFragment:
        """The one-sentence headline (:func:`workbook.narrative.weekly_headline`)."""
        red = int((self.health["colour"] == "red").sum())
        return paragraph(narrative.weekly_headline(self.kpis, red=red, new_red=self.new_red(),
                                                   basis=self.score_basis(), few=self.small_cohorts(self.kpis)),
                         "wb-headline")

    def kpi_table(self) -> HtmlFragment:
        """The seven KPIs: value, cohort size, change vs last week, target, gap, status."""
        caption = f"Week {period_text(self.period.start, self.period.end)}; previous week " \
                  f"{period_text(self.period.previous_start, self.period.previous_end)}"
        return html_table(kpi_frame(self.kpis, "last week"), formats={"n": "count"}, status_col="Status",
                          caption=caption)

    def risks(self) -> HtmlFragment:
        """Red accounts with owner, score, lowest dimension and recovery action, largest ARR first."""
        reds = self.reds()
        book = _health.playbooks()
        actions = narrative.join_words([a[0].lower() + a[1:] for a in book["red"].get("actions", [])])
        intro = (f"{narrative.plural(len(reds), 'account')} {'is' if len(reds) == 1 else 'are'} red "
                 f"({narrative.money_text(reds['arr'].sum())} ARR, {self.new_red():,} new this week). "
                 f"Red playbook: {actions}.")
        parts = [_p(intro, "wb-note"), _p(self.score_note(), "wb-note")]
        if len(reds):
            shown = reds.head(self.max_risks)
            caption = f"Red accounts, largest ARR first ({len(shown)} of {len(reds)})"
            parts.append(self.risk_table(shown, caption))
            if len(reds) > len(shown):
                parts.append(_p(f"{len(reds) - len(shown):,} more red accounts, holding "
                                f"{narrative.money_text(reds['arr'].iloc[len(shown):].sum())} ARR, are listed "
                                "in the dashboard report.", "wb-note"))
        return fragment(*parts)

    @cached_property
    def wins_events(self) -> pd.DataFrame:
        """The week's wins (:func:`workbook.wins.events`)."""
        return wins.events(self.ws, self.health, self.period.start, self.period.end, self.colour_before)

    def wins(self) -> HtmlFragment:
        """This week's wins by kind: first value, onboarding completed, advocacy, turned green."""
        ev = self.wins_events
        rows = []
        for kind in wins.KINDS:
            if kind == "advocacy" and not self.ws.has("advocacy"):
                rows.append({"Win": _WIN_TITLES[kind], "Accounts": None, "Who": "no data (no advocacy table)"})
                continue
            k = ev[ev["kind"] == kind]
            per = k.sort_values("arr", ascending=False).drop_duplicates("account_id")
            who = named(per, self.max_named) if len(per) else "—"
            rows.append({"Win": _WIN_TITLES[kind], "Accounts": len(per), "Who": who})
        return html_table(pd.DataFrame(rows), formats={"Accounts": "count"},
                          caption=f"Wins dated {period_text(self.period.start, self.period.end)} "
                                  "(largest ARR named first)")

    def asks(self) -> HtmlFragment:
        """The asks of other functions: ``weekly: asks:`` in the source's ``report_params.yaml``,
        else ``asks:`` in ``params/weekly.yaml`` (empty by default), else the ``asks`` parameter."""
        if not self.asks_list:
            return paragraph(f"No asks this week (list them under weekly: asks: in {SOURCE_PARAMS} beside the "
                             "data, or pass -p asks=...).", "wb-note")
        return bullets(self.asks_list, "wb-asks")

    def exclusions(self) -> list[quality.Exclusion]:
        return self.kpi_exclusions(self.kpis, "this week") + self.health_exclusions()


# ---------------------------------------------------------------------------- monthly
class Monthly(Report):
    """The monthly executive summary: the story (page 1), the evidence (page 2)."""

    name = "monthly"
    title = "Monthly onboarding executive summary"

    def __init__(self, *, data=None, as_of=None, engine=None, trend_months=None, ttv_days=None, ttv_points=None,
                 top=None, recommendations=None, small_cohort=None):
        super().__init__(data=data, as_of=as_of, engine=engine, trend_months=trend_months, ttv_days=ttv_days,
                         ttv_points=ttv_points, top=top, recommendations=recommendations, small_cohort=small_cohort)
        self.trend_months = self.setting_int("trend_months", 2)
        self.ttv_days = self.setting_int("ttv_days")
        self.ttv_points = self.setting_int("ttv_points", 2)
        self.top = self.setting_int("top")
        templates = self.settings.get("recommendations") or {}
        if not isinstance(templates, dict):
            raise BadInput(self._source("recommendations"), "recommendations",
                           "must map KPI keys to recommendation texts")
        self.templates = {str(k): str(v) for k, v in templates.items()}
        for key, text in self.templates.items():
            narrative.check_template(text, narrative.RECOMMENDATION_FIELDS, self._source("recommendations"),
                                     f"recommendations.{key}")
        from .periods import month
        self.period = month(self.as_of)

    @property
    def period_label(self) -> str:
        return month_text(self.period.start, self.period.end)

    def subtitle(self) -> str:
        return f"{self.period_label} · as of {self.as_of:%Y-%m-%d} · data {self.ws.source}"

    @cached_property
    def kpis(self) -> pd.DataFrame:
        """:func:`workbook.kpis.kpi_table` for the month (to date)."""
        return _kpis.kpi_table(self.ws, self.as_of, "month", self.engine)

    @cached_property
    def colour_at_start(self) -> pd.Series:
        """Final colour of each account in :attr:`health` on the day before the month began."""
        day = self.period.start - pd.Timedelta(days=1)
        hist = _health.history(self.ws, day, day, weights=self.weights, engine=self.engine)
        colour = hist.set_index("account_id")["colour"].astype(object)
        return pd.Series(self.health["account_id"].map(colour).to_numpy(), index=self.health.index, dtype=object)

    @cached_property
    def events(self) -> pd.DataFrame:
        """The month's wins (:func:`workbook.wins.events`)."""
        return wins.events(self.ws, self.health, self.period.start, self.period.end, self.colour_at_start)

    def _top_risks(self) -> pd.DataFrame:
        reds = self.reds()
        return reds.assign(_alert=reds["alert"].astype(bool)).sort_values(
            ["_alert", "arr"], ascending=[False, False]).head(self.top)

    def story(self) -> HtmlFragment:
        """Page 1: the 3–4 sentence headline story (:func:`workbook.narrative.monthly_story`)."""
        ev = self.events
        reds = self.reds()
        top = None
        if len(reds):
            r = reds.iloc[0]
            top = {"name": r["name"], "arr": r["arr"], "csm": r["csm"]}
        prev = month_text(self.period.previous_start, self.period.previous_end)
        text = narrative.monthly_story(
            self.kpis, period_label=self.period_label, previous_label=prev,
            first_value=int((ev["kind"] == "first value reached").sum()),
            completed=int((ev["kind"] == "onboarding completed").sum()),
            red=len(reds), red_arr=float(reds["arr"].sum()), top_risk=top,
            basis=self.score_basis(), few=self.small_cohorts(self.kpis))
        return paragraph(text, "wb-story")

    def page_break(self) -> HtmlFragment:
        """Starts page 2 when the report is printed."""
        return HtmlFragment('<hr class="wb-page-break">')

    def trends(self) -> plots.Chart:
        """TTV as a rolling 90-day average, completion rate, first-90-day retention and onboarding NPS,
        each against its target line."""
        ttv = _kpis.ttv_rolling(self.ws, self.as_of, days=self.ttv_days, points=self.ttv_points, engine=self.engine)
        panels = [{"data": ttv, "x": "date", "y": "value", "title": f"Time to value, rolling {self.ttv_days}-day mean",
                   "target": ttv["target"].iloc[0], "better": "lower", "kind": "days"}]
        for key in ("onboarding_completion_rate", "first_90_day_retention", "onboarding_nps"):
            t = _kpis.trend(self.ws, key, periods=self.trend_months, freq="month", as_of=self.as_of, engine=self.engine)
            m = _kpis.MEASURES[key]
            panels.append({"data": t, "x": "period_end", "y": "value", "title": f"{m.label}, by month",
                           "target": t["target"].iloc[0], "better": m.better, "kind": m.unit})
        return plots.trend_grid(panels, ncols=2)

    def kpi_table(self) -> HtmlFragment:
        """The seven KPIs for the month against the previous month."""
        prev = month_text(self.period.previous_start, self.period.previous_end)
        return html_table(kpi_frame(self.kpis, "last month"), formats={"n": "count"}, status_col="Status",
                          caption=f"{self.period_label}; previous month {prev}")

    def top_risks(self) -> HtmlFragment:
        """The top red accounts: high-value alerts first, then the largest ARR."""
        rows = self._top_risks()
        if rows.empty:
            return fragment(_p("No account is red.", "wb-note"), _p(self.score_note(), "wb-note"))
        return fragment(_p(self.score_note(), "wb-note"),
                        self.risk_table(rows, f"Top {len(rows)} risks (alerts first, then largest ARR)"))

    def top_wins(self) -> HtmlFragment:
        """The month's wins on the largest accounts, one row per account."""
        ev = self.events
        if ev.empty:
            return paragraph(f"No first value, completed onboarding, advocacy or newly green account in "
                             f"{self.period_label}.", "wb-note")
        ev = ev.assign(win=ev["kind"] + " (" + ev["detail"].astype(str) + ")")
        per = (ev.groupby("account_id", sort=False)
               .agg(name=("name", "first"), csm=("csm", "first"), segment=("segment", "first"), arr=("arr", "first"),
                    wins=("win", lambda k: "; ".join(dict.fromkeys(k))), date=("date", "max"))
               .sort_values(["arr", "date"], ascending=[False, False]).head(self.top).reset_index(drop=True))
        view = per.rename(columns={"name": "Account", "csm": "Owner", "segment": "Segment", "arr": "ARR",
                                   "wins": "Wins", "date": "Latest"})
        return html_table(view[["Account", "Owner", "Segment", "ARR", "Wins", "Latest"]],
                          formats={"ARR": "money", "Latest": "date"},
                          caption=f"Top {len(view)} wins (largest ARR first)")

    def recommendation(self) -> HtmlFragment:
        """The one recommendation that needs a leadership decision (:func:`workbook.narrative.recommendation`)."""
        reds = self.reds()
        text = narrative.recommendation(self.kpis, self.templates, red=len(reds), red_arr=float(reds["arr"].sum()))
        return paragraph(text, "wb-recommendation")

    def exclusions(self) -> list[quality.Exclusion]:
        out = self.kpi_exclusions(self.kpis, "this month") + self.health_exclusions()
        n = int(self.colour_at_start.isna().sum())
        if n:
            out.append(quality.Exclusion("turned green this month", n, "not scored on the day before the month "
                                         "began (signed later)", "accounts"))
        return out


# ---------------------------------------------------------------------------- dashboard
PERFORMANCE_KEYS = ("time_to_value_days", "onboarding_completion_rate", "adoption_rate", "onboarding_nps",
                    "readiness_at_handover", "first_90_day_retention")


class Dashboard(Report):
    """The always-on dashboard: pipeline, health, performance, quality."""

    name = "dashboard"
    title = "Onboarding dashboard"

    def __init__(self, *, data=None, as_of=None, engine=None, rolling_days=None, points=None, step_days=None,
                 recent_days=None, max_rows=None):
        super().__init__(data=data, as_of=as_of, engine=engine, rolling_days=rolling_days, points=points,
                         step_days=step_days, recent_days=recent_days, max_rows=max_rows)
        self.rolling_days = self.setting_int("rolling_days")
        self.points = self.setting_int("points", 2)
        self.step_days = self.setting_int("step_days")
        self.recent_days = self.setting_int("recent_days")
        self.max_rows = self.setting_int("max_rows")
        self.recent_start = self.as_of - pd.Timedelta(days=self.recent_days - 1)

    def subtitle(self) -> str:
        basis = self.score_basis()
        return (f"As of {self.as_of:%Y-%m-%d} · {len(self.health):,} live accounts · recent = the last "
                f"{self.recent_days} days · data {self.ws.source}" + (f" · {basis}" if basis else ""))

    # -- pipeline
    def stages(self) -> list[str]:
        """The lifecycle stages this source can show: loyalty & growth needs an advocacy table
        (without one it has no data, which is not the same as no account in it)."""
        from .signals import STAGES
        return [s for s in STAGES if s != "loyalty & growth" or self.ws.has("advocacy")]

    @cached_property
    def open_onboardings(self) -> pd.DataFrame:
        """Live accounts whose onboarding is open on ``as_of`` (neither onboarding_complete nor
        handover reached): ``account_id, segment, signed_at, due, past_due`` — the definition of
        :func:`workbook.metrics.past_due`, so the pipeline and the past-due list agree."""
        with _kpis.open_context(self.ws, self.as_of, self.engine) as ctx:
            acc = ctx.accounts
            rows = acc[_kpis.open_onboardings(ctx, ctx.as_of).to_numpy()]
            out = rows[["account_id", "segment", "signed_at", "due"]].copy()
        out["past_due"] = (out["due"] < self.as_of).to_numpy()
        return out.reset_index(drop=True)

    def stage_counts(self) -> plots.Chart:
        """Live accounts per lifecycle stage."""
        counts = self.health["lifecycle_stage"].astype(object).value_counts().reindex(self.stages(), fill_value=0)
        return plots.bars(counts, title="Live accounts per lifecycle stage")

    def time_in_stage(self) -> HtmlFragment:
        """Per stage: accounts, median and longest days in the stage, accounts flagged stuck."""
        h = self.health
        stuck = h["archetypes"].fillna("").str.contains("stuck")
        rows = []
        for stage in self.stages():
            m = (h["lifecycle_stage"] == stage).fillna(False).to_numpy(dtype=bool)
            days = h.loc[m, "days_in_stage"]
            rows.append({"Stage": stage, "Accounts": int(m.sum()),
                         "Median days in stage": float(days.median()) if m.any() else None,
                         "Longest": float(days.max()) if m.any() else None, "Stuck": int((stuck & m).sum())})
        return html_table(pd.DataFrame(rows), formats={"Accounts": "count", "Median days in stage": "days",
                                                       "Longest": "days", "Stuck": "count"},
                          caption="Time in stage (stuck: longer than the segment's 75th percentile)")

    def days_since_signature(self) -> plots.Chart:
        """Days since signature of the open onboardings (as in the past-due list), with the
        onboarding window of each segment present in the data marked (params/targets.yaml, its
        ``default`` for a segment it does not name)."""
        o = self.open_onboardings
        days = (self.as_of - o["signed_at"]).dt.days
        windows = _kpis.settings().onboarding_window_days
        segments = sorted(self.health["segment"].dropna().astype(str).unique())
        by_days: dict[int, list[str]] = {}
        for seg in segments:
            by_days.setdefault(windows.get(seg, windows["default"]), []).append(seg)
        marks = {}
        for d, segs in sorted(by_days.items()):
            named_ = [g for g in segs if g in windows] + [f"{g} (default window)" for g in segs if g not in windows]
            marks[f"{', '.join(named_)} due, {d} d"] = d
        return plots.histogram(days, title="Days since signature, open onboardings",
                               xlabel="days since signature", marks=marks, empty="No open onboarding.")

    def past_due(self) -> HtmlFragment:
        """The open onboardings most past their due date."""
        from .metrics import past_due
        late = past_due(self.ws, self.as_of, self.engine)
        o = self.open_onboardings
        stage = o["account_id"].map(self.health.set_index("account_id")["lifecycle_stage"].astype(object))
        early = int((stage == "onboarding").sum())
        intro = (f"{narrative.plural(len(o), 'open onboarding')} (neither onboarding_complete nor handover "
                 f"reached), {int(o['past_due'].sum()):,} past due")
        if len(o) > early:
            intro += (f"; {early:,} of them {'is' if early == 1 else 'are'} in the lifecycle stage onboarding and "
                      f"{len(o) - early:,} already went live or activated (a later stage), which is why the stage "
                      "chart counts fewer")
        intro += "."
        if late.empty:
            return fragment(_p(intro, "wb-note"), _p("No open onboarding is past its due date.", "wb-note"))
        view = late.head(self.max_rows).rename(columns={"name": "Account", "csm": "Owner", "segment": "Segment",
                                                        "signed_at": "Signed", "due": "Due",
                                                        "days_overdue": "Days overdue"})
        return fragment(_p(intro, "wb-note"), html_table(
            view[["Account", "Owner", "Segment", "Signed", "Due", "Days overdue"]],
            formats={"Signed": "date", "Due": "date", "Days overdue": "count"},
            caption=f"Open onboardings past due, most overdue first ({len(view)} of {len(late)})"))

    # -- health
    def colour_counts(self) -> plots.Chart:
        """Accounts per final colour."""
        return plots.colour_counts(self.health["colour"].astype(object).value_counts())

    def red_accounts(self) -> HtmlFragment:
        """Every red account, named and owned, largest ARR first."""
        reds = self.reds()
        if reds.empty:
            return fragment(_p("No account is red.", "wb-note"), _p(self.score_note(), "wb-note"))
        return fragment(_p(self.score_note(), "wb-note"), _p(self.action_legend(), "wb-note"),
                        self.risk_table(reds, f"Red accounts ({len(reds)}), largest ARR first", with_action=False))

    def overrides(self) -> HtmlFragment:
        """Active overrides with their reason and author."""
        h = self.health
        o = h[h["override_reason"].notna().to_numpy()]
        if not self.ws.has("overrides"):
            return paragraph("No overrides table in this source: every colour is the formula's.", "wb-note")
        if o.empty:
            return paragraph("No override is active.", "wb-note")
        view = pd.DataFrame({"Account": o["name"], "Owner": o["csm"], "Formula colour": o["computed_colour"],
                             "Reason": o["override_reason"], "Author": o["override_author"],
                             "Set": o["override_set_at"], "Expires": o["override_expires_at"], "Colour": o["colour"]})
        return html_table(view, formats={"Set": "date", "Expires": "date"}, status_col="Colour",
                          caption=f"Active overrides ({len(view)}): the final colour, with the reason and author")

    # -- performance
    def performance(self) -> plots.Chart:
        """Rolling KPI charts against their target lines."""
        series = _kpis.rolling(self.ws, PERFORMANCE_KEYS, as_of=self.as_of, days=self.rolling_days,
                               points=self.points, step_days=self.step_days, engine=self.engine)
        panels = []
        for key in PERFORMANCE_KEYS:
            m = _kpis.MEASURES[key]
            panels.append({"data": series[key], "x": "date", "y": "value", "title": m.label,
                           "target": series[key]["target"].iloc[0], "better": m.better, "kind": m.unit})
        return plots.trend_grid(panels, ncols=2, title=f"Rolling {self.rolling_days}-day KPIs, every "
                                f"{self.step_days} days")

    # -- quality
    def comments(self) -> HtmlFragment:
        """The latest survey answers with a comment, newest first."""
        if not self.ws.has("surveys"):
            return paragraph("No surveys table: no comments.", "wb-note")
        s = self.ws.frame("surveys")
        s = s[(s["responded_at"] >= self.recent_start) & (s["responded_at"] <= self.as_of)
              & s["comment"].fillna("").str.strip().ne("").to_numpy(dtype=bool)]
        if s.empty:
            return paragraph(f"No survey comment in the last {self.recent_days} days.", "wb-note")
        s = s.sort_values(["responded_at", "response_id"], ascending=[False, True])
        names = self.accounts.set_index("account_id")["name"]
        view = pd.DataFrame({"Date": s["responded_at"], "Account": s["account_id"].map(names), "Survey": s["kind"],
                             "Score": s["score"], "Comment": s["comment"]}).head(self.max_rows)
        return html_table(view, formats={"Date": "date", "Score": "count"},
                          caption=f"Recent survey comments ({len(view)} of {len(s)}, newest first)")

    def escalations(self) -> HtmlFragment:
        """Escalated tickets opened recently, newest first, with whether they are resolved."""
        if not self.ws.has("tickets"):
            return paragraph("No tickets table: no escalations.", "wb-note")
        t = self.ws.frame("tickets")
        t = t[t["escalated"].fillna(False).to_numpy(dtype=bool) & (t["opened_at"] >= self.recent_start).to_numpy()
              & (t["opened_at"] <= self.as_of).to_numpy()]
        if t.empty:
            return paragraph(f"No escalated ticket in the last {self.recent_days} days.", "wb-note")
        t = t.sort_values(["opened_at", "ticket_id"], ascending=[False, True])
        acc = self.accounts.set_index("account_id")
        resolved = t["resolved_at"].where(t["resolved_at"] <= self.as_of)
        view = pd.DataFrame({"Opened": t["opened_at"], "Account": t["account_id"].map(acc["name"]),
                             "Owner": t["account_id"].map(acc["csm"]), "Priority": t["priority"],
                             "Resolved": [f"{r:%Y-%m-%d}" if pd.notna(r) else "open" for r in resolved]})
        return html_table(view.head(self.max_rows), formats={"Opened": "date"},
                          caption=f"Escalations opened in the last {self.recent_days} days "
                                  f"({min(len(view), self.max_rows)} of {len(view)}, newest first)")

    def advocacy(self) -> HtmlFragment:
        """Recent advocacy moments (references, reviews, case studies, referrals)."""
        if not self.ws.has("advocacy"):
            return paragraph("No advocacy table: no advocacy moments.", "wb-note")
        a = self.ws.frame("advocacy")
        start = self.as_of - pd.Timedelta(days=max(self.recent_days, 30) - 1)
        a = a[(a["date"] >= start) & (a["date"] <= self.as_of)].sort_values("date", ascending=False)
        if a.empty:
            return paragraph("No advocacy moment in the last 30 days.", "wb-note")
        acc = self.accounts.set_index("account_id")
        view = pd.DataFrame({"Date": a["date"], "Account": a["account_id"].map(acc["name"]),
                             "Owner": a["account_id"].map(acc["csm"]), "Kind": a["kind"]})
        days = max(self.recent_days, 30)
        return html_table(view.head(self.max_rows), formats={"Date": "date"},
                          caption=f"Advocacy in the last {days} days ({min(len(view), self.max_rows)} of {len(view)})")

    def exclusions(self) -> list[quality.Exclusion]:
        return self.health_exclusions()


# ---------------------------------------------------------------------------- calibration
class Calibration(Report):
    """The calibration review: current vs proposed weights and their out-of-time evaluation."""

    name = "calibration"
    title = "Health-score calibration review"

    def __init__(self, *, data=None, as_of=None, engine=None, horizon_days=None, replicates=None, seed=None,
                 max_changes=None):
        super().__init__(data=data, as_of=as_of, engine=engine, horizon_days=horizon_days, replicates=replicates,
                         seed=seed, max_changes=max_changes)
        from . import calibration as _cal
        cfg = _cal.settings()
        self.horizon_days = self.setting_int("horizon_days") if self.settings.get("horizon_days") is not None \
            else int(cfg["horizon_days"])
        self.replicates = self.setting_int("replicates", 0) if self.settings.get("replicates") is not None \
            else int(cfg["bootstrap"]["replicates"])
        self.seed = self.setting_int("seed", 0) if self.settings.get("seed") is not None \
            else int(cfg["bootstrap"]["seed"])
        self.max_changes = self.setting_int("max_changes")
        self.psi_limits = (float(cfg["psi"]["watch"]), float(cfg["psi"]["recalibrate"]))

    def subtitle(self) -> str:
        return (f"As of {self.as_of:%Y-%m-%d} · churn within {self.horizon_days} days · current weights "
                f"{self.weights_version} · data {self.ws.source}")

    @cached_property
    def result(self):
        """The :class:`workbook.evaluation.CalibrationResult` for ``as_of``."""
        from . import evaluation, snapshots
        snaps = snapshots.build_snapshots(self.ws, as_of=self.as_of, horizon_days=self.horizon_days,
                                          engine=self.engine)
        return evaluation.evaluate(snaps, self.weights, horizon_days=self.horizon_days, accounts=self.accounts,
                                   replicates=self.replicates, seed=self.seed)

    def summary(self) -> HtmlFragment:
        """Two sentences: how the proposal ranks churners and what adopting it would change."""
        r = self.result
        return paragraph(narrative.calibration_summary(r.metrics, colour_changes=len(r.colour_changes)),
                         "wb-headline")

    def weights_table(self) -> HtmlFragment:
        """Current and proposed weights per dimension, with the unrounded fitted weight."""
        r = self.result
        raw = r.metrics.get("raw_weights") or {}
        unmeasured = set(r.metrics.get("not_measured") or [])
        rows = [{"Dimension": d + (" (not measured in this data)" if d in unmeasured else ""),
                 f"Current {self.weights_version}": r.current.weights[d],
                 "Proposed": r.proposed.weights[d], "Change": r.proposed.weights[d] - r.current.weights[d],
                 "Fitted (unrounded)": raw.get(d)} for d in DIMENSIONS]
        rows.append({"Dimension": "thresholds green / amber",
                     f"Current {self.weights_version}": f"{r.current.green:g} / {r.current.amber:g}",
                     "Proposed": f"{r.proposed.green:g} / {r.proposed.amber:g}", "Change": None,
                     "Fitted (unrounded)": None})
        return html_table(pd.DataFrame(rows),
                          formats={"Change": lambda v: display.text(v, "count", change=True),
                                   "Fitted (unrounded)": "number"},
                          caption="Weights (points out of 100)")

    def metrics_table(self) -> HtmlFragment:
        """Each metric for the current and the proposed weights with 95% intervals, and the difference."""
        m = self.result.metrics
        names = {"auc": ("ROC AUC", "higher"), "pr_auc": ("PR AUC", "higher"), "brier": ("Brier score", "lower"),
                 "log_loss": ("Log loss", "lower"), "ece": ("Expected calibration error", "lower"),
                 "top_decile_lift": ("Top-decile lift", "higher")}

        def ci(side, key):
            v, (lo, hi) = side[key], side["ci"][key]
            return f"{v:.3f}" + (f" [{lo:.3f}, {hi:.3f}]" if lo is not None else "")
        rows = []
        for key, (label, better) in names.items():
            d = m["difference"][key]
            lo, hi = d["ci"]
            rows.append({"Metric": label, "Better": better, f"Current {self.weights_version}": ci(m["current"], key),
                         "Proposed": ci(m["proposed"], key),
                         "Difference [95%]": f"{d['value']:+.3f}"
                         + (f" [{lo:+.3f}, {hi:+.3f}]" if lo is not None else "")})
        caption = (f"Out of time: trained on {m['data_window']['train'][0]} … {m['data_window']['train'][1]} "
                   f"({m['n_train']:,} rows), tested on {m['data_window']['test'][0]} … "
                   f"{m['data_window']['test'][1]} ({m['n_test']:,} rows); bootstrap by account, "
                   f"{m['bootstrap']['replicates']:,} replicates. ROC AUC, PR AUC and lift rank accounts by the "
                   "score itself; Brier, log loss and calibration error judge the fitted score-to-churn map"
                   + "".join(f"; the {side} map is flat: no usable signal" for side in ("current", "proposed")
                             if m[side].get("signal") == "no usable signal"))
        return html_table(pd.DataFrame(rows), caption=caption)

    def reliability(self) -> plots.Chart:
        """Reliability diagram of the test rows for both weight sets."""
        return plots.reliability(self.result.reliability)

    def bands(self) -> plots.Chart:
        """Churn rate per colour band, current vs proposed (and suggested thresholds)."""
        return plots.band_rates(self.result.bands)

    def band_table(self) -> HtmlFragment:
        b = self.result.bands
        view = pd.DataFrame({"Weights": b["weights"], "Thresholds": b["thresholds"], "Rows": b["n"],
                             "Share of rows": b["share_of_rows"], "Churned": b["churned"],
                             "Churn rate": b["churn_rate"],
                             "95% interval": [f"{max(lo, 0.0):.1%} – {min(hi, 1.0):.1%}" if lo == lo and hi == hi
                                              else "no rows" for lo, hi in zip(b["ci_low"], b["ci_high"])],
                             "Share of churners": b["share_of_churners"], "Band": b["colour"]})
        return html_table(view, formats={"Rows": "count", "Share of rows": "fraction", "Churned": "count",
                                         "Churn rate": "fraction", "Share of churners": "fraction"}, status_col="Band",
                          caption="Churn per colour band on the test rows")

    def thresholds(self) -> HtmlFragment:
        st = self.result.metrics["suggested_thresholds"]
        if st.get("green") is None:
            why = st.get("reason") or "the training rows do not support one"
            return paragraph(f"No thresholds satisfy the rule ({st['rule']}): {why}. The current thresholds stay.",
                             "wb-note")
        return paragraph(f"Suggested thresholds (not applied; the proposal keeps the current ones): green "
                         f"{st['green']}, amber {st['amber']}, because {st['rule']}.", "wb-note")

    def colour_changes(self) -> HtmlFragment:
        """Which accounts would change colour today if the proposal were adopted."""
        ch = self.result.colour_changes
        if ch.empty:
            return paragraph("Adopting the proposal would change no account's colour.", "wb-note")
        moves = ch.groupby(["colour_current", "colour_proposed"]).size().rename("Accounts").reset_index()
        moves.insert(0, "Change", moves["colour_current"] + " → " + moves["colour_proposed"])
        summary = html_table(moves[["Change", "Accounts"]], formats={"Accounts": "count"},
                             caption=f"{len(ch):,} accounts change")
        when = _p(f"On {self.result.metrics['colour_changes']['observed_at']}, the latest snapshot, "
                  f"{len(ch):,} accounts would change colour under the proposed weights.", "wb-note")
        top = ch.head(self.max_changes)
        view = pd.DataFrame({"Account": top.get("name", top["account_id"]), "Owner": top.get("csm"),
                             "ARR": top.get("arr"), "Score now": top["score_current"],
                             "Score proposed": top["score_proposed"], "Now": top["colour_current"],
                             "Direction": top["direction"], "Proposed": top["colour_proposed"]})
        detail = html_table(view, formats={"ARR": "money", "Score now": "points", "Score proposed": "points"},
                            status_col="Proposed", caption=f"Largest accounts that would change colour "
                                                           f"({len(view)} of {len(ch):,}; worse first)")
        return fragment(when, summary, detail)

    def drift(self) -> plots.Chart:
        """Population stability index per dimension and score, training window vs latest snapshot."""
        return plots.psi_bars(self.result.drift, watch=self.psi_limits[0], recalibrate=self.psi_limits[1])

    def overrides(self) -> HtmlFragment:
        """Whether overrides were right: churn of overridden accounts against the formula's colour."""
        acc = self.result.metrics.get("override_accuracy")
        if not acc:
            return paragraph("No override changed a colour on the labelled snapshots, so their accuracy cannot be "
                             "measured yet.", "wb-note")
        share = "n/a" if acc.get("share_right") is None else f"{acc['share_right']:.0%}"
        parts = [_p(f"{acc['n_changed_colour']:,} override(s) changed a colour on labelled snapshots; "
                    f"{share} of them were right by the churn that followed.", "wb-note")]
        if not self.result.overrides.empty:
            parts.append(html_table(self.result.overrides, caption="Override accuracy by colour pair"))
        return fragment(*parts)

    def exclusions(self) -> list[quality.Exclusion]:
        s = self.result.metrics["snapshots"]
        m = self.result.metrics
        rows = [
            quality.Exclusion("calibration snapshots", s["n_pending"],
                              f"the {self.horizon_days}-day churn horizon is not over on as_of (kept for drift and "
                              "colour changes only)", "snapshots"),
            quality.Exclusion("calibration snapshots", s["n_onboarding"],
                              f"account younger than {s['min_tenure_days']} days on the date (onboarding)",
                              "snapshots"),
            quality.Exclusion("calibration snapshots", m["split"]["n_gap"],
                              "gap between training and test dates (their label windows overlap the test period)",
                              "snapshots"),
            quality.Exclusion("calibration snapshots", s["n_unscored"], "no dimension had data", "snapshots"),
        ]
        return [r for r in rows if r.rows]

    def notes(self) -> list[str]:
        return [f"Calibration warning: {w}" for w in self.result.warnings]


# ---------------------------------------------------------------------------- post-cycle
class PostCycle(Report):
    """The report after a two-week improvement cycle: five lines, evidence, decision rule."""

    name = "post_cycle"
    title = "Improvement cycle: what we tried and what we decided"

    def __init__(self, *, data=None, as_of=None, engine=None, hypothesis=None, intervention=None, metric=None,
                 cycle_start=None, cycle_end=None, baseline_start=None, baseline_end=None, segment=None,
                 next_cycle=None, replicates=None, seed=None, confidence=None, min_n=None):
        self._as_of_given = as_of
        super().__init__(data=data, as_of=as_of, engine=engine, hypothesis=hypothesis, intervention=intervention,
                         metric=metric, cycle_start=cycle_start, cycle_end=cycle_end, baseline_start=baseline_start,
                         baseline_end=baseline_end, segment=segment, next_cycle=next_cycle, replicates=replicates,
                         seed=seed, confidence=confidence, min_n=min_n)

    @cached_property
    def cycle(self):
        """The :class:`workbook.post_cycle.Cycle` from the settings; None when no cycle is defined
        (no metric and no cycle dates: the page then says how to define one, and shows no result)."""
        from .post_cycle import cycle_from_params
        if all(self.settings.get(key) is None for key in ("metric", "cycle_start", "cycle_end")):
            return None
        return cycle_from_params(self.settings)

    def _resolve_as_of(self, as_of) -> pd.Timestamp:
        """The cycle's last day unless ``as_of`` is given (checked by :func:`workbook.post_cycle.analyse`)."""
        from .periods import to_day
        if as_of is not None:
            return to_day(as_of)
        latest = self.ws.default_as_of()
        if self.cycle is None:
            return latest
        if self.cycle.end > latest:
            raise BadInput(self._source(), "cycle_end", f"{self.cycle.end:%Y-%m-%d} is after the latest data "
                           f"({latest:%Y-%m-%d}): the data does not cover the whole cycle yet")
        return self.cycle.end

    @cached_property
    def result(self):
        """The :class:`workbook.post_cycle.CycleResult`."""
        from .post_cycle import analyse
        return analyse(self.ws, self.cycle, self.as_of, self.engine)

    def subtitle(self) -> str:
        c = self.cycle
        if c is None:
            return f"No improvement cycle is defined for this source · data {self.ws.source}"
        return (f"Cycle {period_text(c.start, c.end)} ({c.days} days) · baseline "
                f"{period_text(c.baseline_start, c.baseline_end)} · {c.cohort_text()} · data {self.ws.source}")

    def five_lines(self) -> HtmlFragment:
        """Hypothesis, intervention, result, decision, next cycle (:func:`workbook.narrative.five_lines`)."""
        if self.cycle is None:
            return paragraph(
                f"No improvement cycle is defined for this data source, so there is nothing to analyse. To "
                f"report on one, give its hypothesis, intervention, metric, cycle_start and cycle_end under "
                f"post_cycle: in {SOURCE_PARAMS} beside the data (or in params/post_cycle.yaml, or with -p).",
                "wb-headline")
        lines = narrative.five_lines(self.cycle, self.result)
        body = "".join(f"<dt>{_e(label)}</dt><dd>{_e(text)}</dd>" for label, text in lines)
        return HtmlFragment(f'<dl class="wb-lines">{body}</dl>')

    def decision(self) -> HtmlFragment:
        """The decision as a coloured label (keep green, reverse red, inconclusive amber) and its rule."""
        if self.cycle is None:
            return None
        colour = {"keep": "green", "reverse": "red", "inconclusive": "amber"}[self.result.decision]
        label = {"keep": "Keep", "reverse": "Reverse", "inconclusive": "Inconclusive — extend"}[self.result.decision]
        return fragment(f'<p><span class="wb-badge wb-{colour}">{_e(label)}</span> {_e(self.result.reason)}.</p>')

    def chart(self) -> plots.Chart:
        """The metric in the baseline and the cycle, and the change with its bootstrap interval."""
        if self.cycle is None:
            return None
        r = self.result
        return plots.cycle_chart(label=r.label, unit=r.unit, better=r.better,
                                 baseline=r.baseline_value, cycle=r.cycle_value, baseline_n=r.baseline_n,
                                 cycle_n=r.cycle_n, difference=r.difference, low=r.ci_low, high=r.ci_high,
                                 target=r.target, confidence=r.confidence)

    def comparison_table(self) -> HtmlFragment:
        """Baseline, cycle and change with its interval, in the metric's unit."""
        from .post_cycle import summary_table
        if self.cycle is None:
            return None
        r = self.result
        t = summary_table(self.cycle, r)
        t["interval"] = ["" if i < 2 else narrative.interval_text(lo, hi, r.unit)
                         for i, (lo, hi) in enumerate(zip(t["interval_low"], t["interval_high"]))]
        t["value"] = [narrative.value_text(v, r.unit) if i < 2 else
                      (change_text(v, r.unit) if v is not None else "no data") for i, v in enumerate(t["value"])]
        view = t.rename(columns={"window": "Window", "from": "From", "to": "To", "members": f"{r.member.title()}s",
                                 "value": r.label, "interval": f"{round(100 * r.confidence)}% interval"})
        return html_table(view[["Window", "From", "To", f"{r.member.title()}s", r.label,
                                f"{round(100 * r.confidence)}% interval"]],
                          formats={"From": "date", "To": "date", f"{r.member.title()}s": "count"},
                          caption=f"{r.label} ({r.better} is better); bootstrap over accounts, "
                                  f"{r.replicates:,} replicates, seed {r.seed}")

    def setup_table(self) -> HtmlFragment:
        """The cycle as written in params/post_cycle.yaml."""
        c = self.cycle
        if c is None:
            return None
        rows = [("Metric", f"{self.result.label} ({c.metric})"), ("Cycle", f"{c.start:%Y-%m-%d} … {c.end:%Y-%m-%d}"),
                ("Baseline", f"{c.baseline_start:%Y-%m-%d} … {c.baseline_end:%Y-%m-%d}"), ("Cohort", c.cohort_text()),
                ("Rule", f"keep if the whole {round(100 * c.confidence)}% interval of the change is on the better "
                         f"side of zero, reverse if it is on the worse side, otherwise extend; at least {c.min_n} "
                         f"{self.result.member}s in each window")]
        return html_table(pd.DataFrame(rows, columns=["Item", "Value"]))

    def exclusions(self) -> list[quality.Exclusion]:
        if self.cycle is None:
            return []
        return [quality.Exclusion(f"{self.result.label} (baseline and cycle)", n, why, f"{self.result.member}s")
                for why, n in self.result.excluded.items()]


__all__ = ["Calibration", "Dashboard", "Monthly", "PostCycle", "Report", "Weekly", "kpi_frame", "report_defaults",
           "resolve_data"]
