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
:mod:`workbook.narrative`. Each report object computes what it needs once, on first use. In the
kernels of ``workbook report`` (several reports, members or weeks in one kernel) the open workspace
and the expensive results (health table, KPI tables, calibration snapshots) are also shared between
the report objects of the kernel, keyed by the source's files, ``as_of``, weights and engine: see
:func:`shared_workspace` and :meth:`Report.shared`.

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

from . import display, narrative, plots, quality, scoring, wins
from . import health as _health
from . import kpis as _kpis
from . import weights as _weights
from .display import is_missing
from .errors import BadInput
from .report import DATA_ENV, DEFAULT_DATA, resolve_data  # noqa: F401 - re-exported for notebooks
from .scoring import DIMENSIONS
from .tables import HtmlFragment, html_table, interactive_setup, interactive_table, style_block

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
        self.ws, self._shared_key = shared_workspace(source)
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
        return self.shared("health", compute=lambda: _health.health_table(self.ws, self.as_of, self.weights,
                                                                            self.engine))

    def shared(self, kind: str, *key, compute):
        """``compute()``, once per kernel for this source, ``as_of``, weights, engine, ``kind`` and
        ``key`` when results are shared (:func:`shared_workspace`), else once per call. A DataFrame
        comes back as a copy, so a report that changes it changes nobody else's."""
        if self._shared_key is None:
            return compute()
        w = self.weights
        full = (self._shared_key, kind, key, str(self.as_of), self.engine_name,
                (w.label, w.path, tuple(sorted(w.weights.items())), w.green, w.amber))
        if full not in _SHARED_RESULTS:
            _SHARED_RESULTS[full] = compute()
            while len(_SHARED_RESULTS) > _SHARED_RESULTS_MAX:   # a long backfill: the oldest go
                del _SHARED_RESULTS[next(iter(_SHARED_RESULTS))]
        value = _SHARED_RESULTS[full]
        return value.copy() if isinstance(value, pd.DataFrame) else value

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
        return narrative.score_basis(self.measured, live=len(self.health), as_of=self.as_of)

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
        if "why" in rows:      # the one-line why (workbook.explanation.why_lines), when the caller added it
            frame["Why"] = rows["why"]
        return frame if with_action else frame.drop(columns="Recovery action")

    def risk_table(self, rows: pd.DataFrame, caption: str | None = None, with_action: bool = True,
                   interactive: bool = False, segment: bool = False) -> HtmlFragment:
        """The risk table; ``interactive`` (the page shows :func:`interactive_setup` in its header)
        makes it sortable, searchable and filterable by owner (and segment: ``segment`` adds a
        Segment column after Owner)."""
        frame = self.risk_frame(rows, with_action)
        if segment and "segment" in rows:
            frame.insert(frame.columns.get_loc("Owner") + 1, "Segment", rows["segment"].astype(object).to_numpy())
        draw = interactive_table if interactive else html_table
        table = draw(frame, caption=caption, formats={"ARR": "money", "Score": "points",
                                                      "Change 7 d": display.score_change_text})
        return fragment('<div class="wb-risks">', table, "</div>")

    def action_legend(self) -> str:
        """``Recovery starts with the lowest dimension: adoption: ...; engagement: ...`` (plain text)."""
        outreach = (_health.playbooks().get("outreach") or {})
        dims = self.measured["measured"] or list(DIMENSIONS)     # an unmeasured one is never lowest
        return "Recovery starts with the lowest dimension: " + "; ".join(
            f"{d}: {outreach[d]}" for d in dims if d in outreach) + "."

    # -- revenue, renewals and expansion (monthly, book, dashboard)
    def revenue_kpis(self, period: str = "month") -> HtmlFragment:
        """The revenue KPIs of the ``period`` (:func:`workbook.revenue.revenue_kpis`), or one line
        saying the source has no contracts table."""
        from . import revenue
        if not revenue.has_contracts(self.ws):
            return paragraph("No contracts table in this source: no revenue KPIs (GRR, NRR, logo retention, "
                             "expansion, contraction and churned ARR).", "wb-note")
        table = self.shared("revenue", period, compute=lambda: revenue.revenue_kpis(self.ws, self.as_of, period))
        previous = "last month" if period == "month" else "last week"
        frame = kpi_frame(table, previous).rename(columns={"KPI": "Revenue KPI"})
        return html_table(frame, formats={"n": "count"}, status_col="Status",
                          caption=f"Revenue KPIs, {period} to {self.as_of:%Y-%m-%d}: the cohort is the accounts with "
                                  "ARR on the day before the period (trailing 12 months for the last two)")

    def renewal_days(self) -> int:
        """The renewal forecast's horizon in days (setting ``renewal_days``, default 90)."""
        if self.settings.get("renewal_days") is None:
            return 90
        return self.setting_int("renewal_days")

    @cached_property
    def forecast(self):
        """:func:`workbook.renewals.renewal_forecast` over :meth:`renewal_days` (the hazard model
        fitted on the fly on this source's history; shared by the reports of one kernel)."""
        from . import renewals
        days = self.renewal_days()
        return self.shared("renewals", days, compute=lambda: renewals.renewal_forecast(
            self.ws, self.as_of, days, health=self.health, engine=self.engine))

    def renewal_section(self, csm: str | None = None, top: int = 10) -> HtmlFragment:
        """The renewal forecast: one sentence, where the probabilities come from, and the
        accounts carrying most of the ARR at risk (``csm``: that CSM's renewals only)."""
        from . import renewals
        f = self.forecast
        if f.note:
            return paragraph(f.note, "wb-note")
        rows = f.table if csm is None else f.table[(f.table["csm"] == csm).fillna(False).to_numpy(dtype=bool)]
        summary = f.summary if csm is None else renewals.summarise(rows)
        who = "" if csm is None else f" in {csm}'s book"
        parts = [_p(narrative.renewal_sentence(summary, horizon_days=f.horizon_days, end=f.end, who=who),
                    "wb-headline"),
                 _p(f"Renewal probability: the chance the account is not lost before or at its renewal day, by "
                    f"the {f.method}. ARR at risk = ARR × (1 − probability).", "wb-note")]
        if len(rows):
            view = rows.head(top)
            parts.append(html_table(pd.DataFrame({
                "Account": view["name"], "Owner": view["csm"], "Segment": view["segment"],
                "Renewal": view["renewal_at"], "Days": view["days_to_renewal"], "ARR": view["arr"],
                "Renewal probability": view["p_renew"], "ARR at risk": view["arr_at_risk"],
                "Colour": view["colour"].astype(object).where(view["colour"].notna(), "not scored")}),
                formats={"Renewal": "date", "Days": "count", "ARR": "money", "Renewal probability": "fraction",
                         "ARR at risk": "money"}, status_col="Colour",
                caption=f"Renewals carrying the most ARR at risk ({len(view)} of {len(rows)})"))
        return fragment(*parts)

    @cached_property
    def expansion(self) -> pd.DataFrame:
        """:func:`workbook.expansion.expansion_signals` on ``as_of``."""
        from .expansion import expansion_signals
        return self.shared("expansion", compute=lambda: expansion_signals(self.ws, self.as_of, health=self.health,
                                                                          engine=self.engine))

    def expansion_section(self, csm: str | None = None, limit: int = 15) -> HtmlFragment:
        """Accounts showing an expansion signal, largest ARR first (``csm``: that CSM's only)."""
        from . import revenue
        e = self.expansion
        if csm is not None:
            e = e[(e["csm"] == csm).fillna(False).to_numpy(dtype=bool)]
        note = "" if revenue.has_contracts(self.ws) else _p(
            "No contracts table in this source: licensed users and entitled modules are unknown, so only "
            "\"green and growing\" can show (and a recent expansion cannot be ruled out).", "wb-note")
        if e.empty:
            return fragment(note, _p("No account shows an expansion signal.", "wb-note"))
        view = e.head(limit)
        return fragment(note, html_table(pd.DataFrame({
            "Account": view["name"], "Owner": view["csm"], "ARR": view["arr"], "Signal": view["signal"],
            "Detail": view["detail"]}), formats={"ARR": "money"},
            caption=f"Expansion signals, largest ARR first ({len(view)} of {len(e)}; "
                    f"{e['account_id'].nunique():,} accounts)"))

    # -- the end of every report
    def exclusions(self) -> list[quality.Exclusion]:
        """Rows this report's figures left out (each report adds its own)."""
        return []

    def notes(self) -> list[str]:
        return []

    def as_of_notes(self) -> list[str]:
        """The note for an ``as_of`` well past the last usage date
        (:func:`workbook.narrative.as_of_gap`): usage after it is unknown, not zero."""
        note = narrative.as_of_gap(self.as_of, self.ws.usage_date_range[1], name="This report's as_of")
        return [note + "."] if note else []

    def data_quality(self) -> HtmlFragment:
        """What validation found, rows left out and why, facts not known yet on ``as_of``, and an
        ``as_of`` well past the data's last usage date."""
        return quality.section(self.ws, self.as_of, self.exclusions(), [*self.as_of_notes(), *self.notes()])

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
        """Close the engine and the data source (a shared source stays open for the next report)."""
        self.engine.close()
        if self._shared_key is None:
            self.ws.close()


# ---------------------------------------------------------------------------- shared in a kernel
#: Set (to ``1``) in the kernels ``workbook report`` starts: the report objects of one kernel share
#: one open workspace per source and the results memoised by :meth:`Report.shared`.
SHARE_ENV = "WORKBOOK_SHARE_RESULTS"
_SHARED_SOURCES = 2                      # sources kept open; the oldest goes (with its results)
_SHARED_RESULTS_MAX = 24                 # results kept; the oldest goes first
_SHARED_WORKSPACES: dict[tuple, object] = {}
_SHARED_RESULTS: dict[tuple, object] = {}


def source_key(source) -> tuple:
    """The source's path and the size, mtime, ctime and inode of each of its files (hidden
    files left out): a file that changed, moved or was replaced gives another key."""
    path = Path(os.fspath(source)).resolve()
    files = [path] if path.is_file() else sorted(
        p for p in path.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts))
    stats = []
    for file in files:
        st = file.stat()
        stats.append((file.relative_to(path).as_posix() if file != path else "", st.st_size, st.st_mtime_ns,
                      st.st_ctime_ns, st.st_ino))
    return str(path), tuple(stats)


def shared_workspace(source):
    """``(workspace, key)``: in a kernel of ``workbook report`` (``$WORKBOOK_SHARE_RESULTS``) the one
    open workspace of this source for the life of the kernel (the namespace reset between reports
    keeps it: it lives in this module), else a newly opened one and key None."""
    from .workspace import open_data
    if os.environ.get(SHARE_ENV) != "1":
        return open_data(source), None
    key = source_key(source)
    if key not in _SHARED_WORKSPACES:
        _SHARED_WORKSPACES[key] = open_data(source)
        while len(_SHARED_WORKSPACES) > _SHARED_SOURCES:
            clear_shared(next(iter(_SHARED_WORKSPACES)))
    return _SHARED_WORKSPACES[key], key


def clear_shared(key: tuple | None = None) -> None:
    """Close the shared workspace of ``key`` (None: of every source) and forget its results."""
    for k in [k for k in _SHARED_WORKSPACES if key is None or k == key]:
        _SHARED_WORKSPACES.pop(k).close()
    for k in [k for k in _SHARED_RESULTS if key is None or k[0] == key]:
        del _SHARED_RESULTS[k]


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
        return self.shared("kpis", "week", compute=lambda: _kpis.kpi_table(self.ws, self.as_of, "week", self.engine))

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

    def header(self) -> HtmlFragment:
        """The base header, and the table library the risks table needs (once per page)."""
        return fragment(super().header(), interactive_setup())

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
            from .explanation import why_lines
            shown = reds.head(self.max_risks).copy()
            shown["why"] = why_lines(self.ws, shown, self.as_of, weights=self.weights,
                                     engine=self.engine).to_numpy()
            caption = f"Red accounts, largest ARR first ({len(shown)} of {len(reds)})"
            parts.append(self.risk_table(shown, caption, interactive=True))
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
                 top=None, recommendations=None, small_cohort=None, renewal_days=None):
        super().__init__(data=data, as_of=as_of, engine=engine, trend_months=trend_months, ttv_days=ttv_days,
                         ttv_points=ttv_points, top=top, recommendations=recommendations, small_cohort=small_cohort,
                         renewal_days=renewal_days)
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
        return self.shared("kpis", "month", compute=lambda: _kpis.kpi_table(self.ws, self.as_of, "month",
                                                                             self.engine))

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

    def revenue(self) -> HtmlFragment:
        """The revenue KPIs of the month (GRR, NRR, logo retention, expansion, contraction and churned
        ARR; trailing 12-month GRR and NRR), or one line without a contracts table."""
        return self.revenue_kpis("month")

    def renewals(self) -> HtmlFragment:
        """The renewals due in the next ``renewal_days`` (90): expected renewals against target and the
        accounts carrying most of the ARR at risk, or one line without a contracts table."""
        return self.renewal_section(top=max(self.top, 5))

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

    def header(self) -> HtmlFragment:
        """The base header, and the table library the account lists need (once per page)."""
        return fragment(super().header(), interactive_setup())

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
        return fragment(_p(intro, "wb-note"), interactive_table(
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
        from .explanation import why_lines
        reds = reds.assign(why=why_lines(self.ws, reds, self.as_of, weights=self.weights,
                                         engine=self.engine).to_numpy())
        return fragment(_p(self.score_note(), "wb-note"), _p(self.action_legend(), "wb-note"),
                        self.risk_table(reds, f"Red accounts ({len(reds)}), largest ARR first", with_action=False,
                                        interactive=True, segment=True))

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
        return interactive_table(view, formats={"Set": "date", "Expires": "date"}, status_col="Colour",
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

    def revenue(self) -> HtmlFragment:
        """The revenue KPIs of the month to date, or one line without a contracts table."""
        return self.revenue_kpis("month")

    def expansion_signals(self) -> HtmlFragment:
        """Accounts near their licence, using modules they are not entitled to, or green and growing."""
        return self.expansion_section(limit=self.max_rows)

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
        if not self.ws.has_column("tickets", "escalated"):
            return paragraph("The tickets table has no escalated column: escalations are not recorded in this "
                             "source.", "wb-note")
        t = self.ws.frame("tickets")
        t = t[t["escalated"].fillna(False).to_numpy(dtype=bool) & (t["opened_at"] >= self.recent_start).to_numpy()
              & (t["opened_at"] <= self.as_of).to_numpy()]
        if t.empty:
            return paragraph(f"No escalated ticket in the last {self.recent_days} days.", "wb-note")
        t = t.sort_values(["opened_at", "ticket_id"], ascending=[False, True])
        acc = self.accounts.set_index("account_id")
        resolved = t["resolved_at"].where(t["resolved_at"] <= self.as_of)
        open_text = "open" if self.ws.has_column("tickets", "resolved_at") else "not recorded"
        view = pd.DataFrame({"Opened": t["opened_at"], "Account": t["account_id"].map(acc["name"]),
                             "Owner": t["account_id"].map(acc["csm"]), "Priority": t["priority"],
                             "Resolved": [f"{r:%Y-%m-%d}" if pd.notna(r) else open_text for r in resolved]})
        return interactive_table(view.head(self.max_rows), formats={"Opened": "date"},
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
        return interactive_table(view.head(self.max_rows), formats={"Date": "date"},
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

    def header(self) -> HtmlFragment:
        """The base header, and the table library the colour changes need (once per page)."""
        return fragment(super().header(), interactive_setup())

    def subtitle(self) -> str:
        return (f"As of {self.as_of:%Y-%m-%d} · churn within {self.horizon_days} days · current weights "
                f"{self.weights_version} · data {self.ws.source}")

    @cached_property
    def result(self):
        """The :class:`workbook.evaluation.CalibrationResult` for ``as_of``."""
        from . import evaluation, snapshots
        snaps = self.shared("snapshots", self.horizon_days, compute=lambda: snapshots.build_snapshots(
            self.ws, as_of=self.as_of, horizon_days=self.horizon_days, engine=self.engine))
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
        detail = interactive_table(view, formats={"ARR": "money", "Score now": "points", "Score proposed": "points"},
                                   status_col="Proposed", filters=["Owner", "Now", "Proposed"],
                                   caption=f"Largest accounts that would change colour "
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


# ---------------------------------------------------------------------------- one account, one CSM
def _facts(pairs) -> HtmlFragment:
    """``(label, text)`` pairs as the two-column fact list (plain text, escaped)."""
    body = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in pairs if v is not None)
    return HtmlFragment(f'<dl class="wb-lines">{body}</dl>')


def _badge(colour) -> str:
    key = str(colour) if isinstance(colour, str) else "none"
    return f'<span class="wb-badge wb-{_e(key)}">{_e(key if isinstance(colour, str) else "not scored")}</span>'


def _cadence() -> dict[str, int]:
    """Days between reviews per colour (params/playbooks.yaml ``review_every_days``)."""
    book = _health.playbooks()
    return {c: int(book[c]["review_every_days"]) for c in ("red", "amber", "green")}


def _cadence_word(days: int) -> str:
    return {7: "weekly", 14: "fortnightly", 30: "monthly"}.get(days, f"every {days} days")


def _n(value, digits: int = 1) -> str:
    """A signal's number in a few characters (``no data`` for None)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "no data"
    return f"{value:,.0f}" if float(value) == int(value) else f"{value:,.{digits}f}"


#: The Signals cell of a dimension without data, per missing-data policy.
_NO_DATA_SIGNAL = {"redistribute": "no data: its weight is spread over the measured dimensions",
                   "zero": "no data: counted as 0 (missing-data policy zero)"}


def _weight_text(weight) -> str:
    """A weight in points: whole when it is whole (``30``, ``60``), else one decimal cut toward zero
    like the points beside it (``46.1``), so points never read above their weight; "—" for None."""
    if weight is None:
        return display.MISSING
    rounded = round(float(weight), 6)
    return f"{rounded:.0f}" if rounded == int(rounded) else display.text(weight, "points")


def _dimensions_caption(nominal: dict, measured, policy: str, version: str) -> str:
    """The caption of the account's dimension table: what value, weight and points are, and how
    the weights of dimensions without data were treated."""
    text = ("Dimensions: value 0–1; weight = the points the dimension can give this account's score; "
            "points = weight × value (out of the weight); changes in points; signals against the cohort "
            "benchmark.")
    unmeasured = [d for d in DIMENSIONS if d not in measured]
    if unmeasured and nominal.get(DIMENSIONS[0]) is not None:
        weights = ", ".join(f"{d} {_weight_text(nominal[d])}" for d in DIMENSIONS)
        if policy == "zero":
            text += (f" Weights {version} ({weights}); {narrative.join_words(unmeasured)} "
                     f"{'has' if len(unmeasured) == 1 else 'have'} no data and count as 0 (missing-data "
                     "policy zero).")
        else:
            text += (f" Weights {version} are {weights}; {narrative.join_words(unmeasured)} "
                     f"{'has' if len(unmeasured) == 1 else 'have'} no data, so by the missing-data policy "
                     "their weight is spread over the measured dimensions in proportion to their weights.")
    return text


def _signal_text(dim: str, s: dict | None, ws=None) -> str:
    """A dimension's signals (``signals`` of :func:`workbook.explanation.explain`) against the cohort
    benchmark, as one line of plain text. ``ws``: the workspace, to say when a signal's optional
    table is absent from the source (instead of counting zero of nothing)."""
    s = s or {}
    if dim == "adoption":
        return (f"{_n(s.get('modules_used'))} of {_n(s.get('modules_contracted'))} contracted modules used in "
                f"{_n(s.get('window_days'))} days; {_n(s.get('actions_per_active_user_day'))} actions per active "
                f"user-day (cohort {_n(s.get('cohort_actions_per_active_user_day'))}); active on "
                f"{_n(s.get('active_days'))} days (cohort {_n(s.get('cohort_active_days'))})"
                + ("" if s.get("benchmark_basis") in (None, "cohort") else f"; benchmark: {s['benchmark_basis']}"))
    if dim == "engagement":
        last = s.get("days_since_two_way_touch")
        return (("no two-way touch on record" if last is None else f"last two-way touch {_n(last)} days ago")
                + f"; {_n(s.get('answered'))} of {_n(s.get('outbound_touches'))} outbound touches answered, "
                f"{_n(s.get('attended'))} of {_n(s.get('scheduled_touches'))} scheduled touches attended "
                f"(last {_n(s.get('window_days'))} days)")
    if dim == "sentiment":
        return (f"{_n(s.get('responses'))} survey responses in the last {_n(s.get('lookback_days'))} days, "
                "the most recent weighing most")
    if dim == "outcomes":
        fv = s.get("first_value_reached_at")
        due = s.get("first_value_due_at")
        first = f"first value reached {fv}" if fv else "first value not reached" + (f" (due {due})" if due else "")
        if ws is not None and not ws.has("outcomes"):
            return f"{first}; no outcomes table in this source, so no stated outcome is known"
        if not s.get("outcomes_counted"):
            return f"{first}; no stated outcome due yet"
        return f"{first}; {_n(s.get('outcomes_on_time'))} of {_n(s.get('outcomes_counted'))} stated outcomes on time"
    if dim == "relationship":
        champ = "an active champion" if s.get("champion") else "no active champion" + (
            f" (left {s['champion_left_at']})" if s.get("champion_left_at") else "")
        sponsor = "an executive sponsor" if s.get("executive_sponsor") else "no executive sponsor"
        return (f"{_n(s.get('active_contacts'))} active contacts ({_n(s.get('contacts_for_full_marks'))} for full "
                f"marks); {champ}; {sponsor}; {_n(s.get('roles'))} roles covered")
    return ""


class Account(Report):
    """One account's brief (SPEC section 7, ``account``): who it is, its score and why, 26 weeks of
    history, each dimension's signals, what would move it up a colour, the last 90 days, the next
    step. ``account_id=None`` shows the red account with the largest ARR
    (:func:`workbook.members.default_account`) and says so in the header."""

    name = "account"
    title = "Account brief"

    def __init__(self, *, data=None, as_of=None, engine=None, account_id=None, history_weeks=None,
                 timeline_days=None):
        super().__init__(data=data, as_of=as_of, engine=engine, account_id=account_id,
                         history_weeks=history_weeks, timeline_days=timeline_days)
        from . import members
        self.history_weeks = self.setting_int("history_weeks", 2)
        self.timeline_days = self.setting_int("timeline_days")
        given = self.settings.get("account_id")
        self.picked = given is None
        self.account_id = members.default_account(self.health) if self.picked else \
            members.find_account(self.ws, given)
        if self.account_id is None:
            raise BadInput("accounts", None, f"no account is live on {self.as_of:%Y-%m-%d}: nothing to brief on")
        rows = self.health[self.health["account_id"] == self.account_id]
        if rows.empty:
            raise BadInput("-p", "account_id", members.not_live_text(self.ws, self.account_id, self.as_of))
        self.row = rows.iloc[0]

    @cached_property
    def explained(self) -> dict:
        """:func:`workbook.explanation.explain` for the account on ``as_of``."""
        from .explanation import explain
        return explain(self.ws, self.account_id, self.as_of, weights=self.weights, engine=self.engine,
                       table=self.health)

    def subtitle(self) -> str:
        return f"{self.row['name']} · as of {self.as_of:%Y-%m-%d} · data {self.ws.source}"

    def header(self) -> HtmlFragment:
        """Styles, the line under the title and who the account is: segment, CSM, ARR, signed,
        lifecycle stage and days in it, renewal probability (when the weights are calibrated)."""
        r = self.row
        signed = self.accounts.set_index("account_id").loc[self.account_id, "signed_at"]
        rp = r.get("renewal_probability")
        facts = [("Account", f"{r['name']} ({self.account_id})"), ("Segment", r["segment"]), ("CSM", r["csm"]),
                 ("ARR", narrative.money_text(r["arr"])),
                 ("Signed", f"{signed:%Y-%m-%d} ({(self.as_of - signed).days:,} days ago)"),
                 ("Lifecycle stage", f"{r['lifecycle_stage']} for {int(r['days_in_stage']):,} days"
                  if not is_missing(r["days_in_stage"]) else r["lifecycle_stage"]),
                 ("Renewal probability", f"not available (weights {self.weights_version} carry no calibration map)"
                  if is_missing(rp) else f"{rp:.0%} (calibrated map of weights {self.weights_version})")]
        parts = [style_block(), _CSS, _p(self.subtitle(), "wb-sub")]
        if self.picked:
            parts.append(_p("No account_id was given, so this brief shows the red account with the largest ARR "
                            "(the lowest score when none is red). Pass -p account_id=… for another.", "wb-note"))
        return fragment(*parts, _facts(facts))

    def score(self) -> HtmlFragment:
        """The score, the final colour and the one-line why (``why`` of :func:`workbook.explanation.explain`,
        the line :func:`workbook.explanation.why_lines` gives every account), override and alert."""
        r, ex = self.row, self.explained
        change = "" if is_missing(r["change_7d"]) else f", {change_text(r['change_7d'], 'points')} in 7 days"
        head = (f"<p class=\"wb-headline\">{_badge(r['colour'])} Score {_e(display.text(r['score'], 'points'))} "
                f"of 100{_e(change)} · coverage {_e(display.text(r['coverage'], 'fraction'))}</p>")
        parts = [head, _p("Why: " + str(ex.get("why") or ""), "wb-story")]
        o = ex.get("override")
        if o:
            parts.append(_p(f"Override: shown {o['colour']} instead of the formula's {ex['computed_colour']}, set by "
                            f"{o['author']} on {o['set_at']}" + (f" until {o['expires_at']}" if o.get("expires_at")
                                                                 else "") + f": {o['reason']}.", "wb-note"))
        flags = [a.strip() for a in ex.get("archetypes") or [] if a.strip()]
        if ex.get("decline_pattern"):
            flags.append("adoption declining (last 4 weeks below the 4 before)")
        if flags:
            parts.append(_p("Risk signals: " + ", ".join(flags) + ".", "wb-note"))
        if (ex.get("alert") or {}).get("on"):
            parts.append(_p(f"Alert: {ex['alert']['reason']}.", "wb-note"))
        return fragment(*parts)

    @cached_property
    def score_history(self) -> pd.DataFrame:
        """Weekly points over ``history_weeks`` weeks ending on ``as_of`` (:func:`workbook.health.history`)."""
        start = self.as_of - pd.Timedelta(days=7 * (self.history_weeks - 1))
        return _health.history(self.ws, start, self.as_of, "W", weights=self.weights, engine=self.engine,
                               accounts=[self.account_id])

    def history_marks(self) -> pd.DataFrame:
        """Dates to mark on the history: overrides set on this account and weights versions adopted."""
        start = self.as_of - pd.Timedelta(days=7 * (self.history_weeks - 1))
        rows = []
        if self.ws.has("overrides"):
            o = self.ws.frame("overrides")
            o = o[(o["account_id"] == self.account_id) & (o["set_at"] >= start) & (o["set_at"] <= self.as_of)]
            rows += [(r.set_at, f"override to {r.colour} by {r.author}") for r in o.itertuples()]
        for v in _weights.list_versions().itertuples():
            at = pd.to_datetime(v.adopted_at, errors="coerce", utc=True) if v.adopted_at else pd.NaT
            at = at.tz_convert(None) if not pd.isna(at) else at       # adoption stamps are UTC ("...Z")
            if not pd.isna(at) and start <= at.normalize() <= self.as_of:
                rows.append((at.normalize(), f"weights {v.version} adopted"))
        return pd.DataFrame(rows, columns=["date", "label"]).sort_values("date").reset_index(drop=True)

    def history(self) -> plots.Chart:
        """The weekly score over the colour bands, with overrides and weights versions marked."""
        return plots.score_history(self.score_history, green=self.weights.green, amber=self.weights.amber,
                                   marks=self.history_marks(),
                                   title=f"{self.row['name']}: score, last {self.history_weeks} weeks")

    def history_note(self) -> HtmlFragment:
        """How to read the chart: every point uses the active weights; what the numbered marks are."""
        marks = self.history_marks()
        text = (f"Every point is scored with the active weights {self.weights_version} (green from "
                f"{self.weights.green:g}, amber from {self.weights.amber:g}), so the line compares like with like; "
                "each dot has the final colour of its week (an override shows there).")
        if len(marks):
            text += " Marked: " + "; ".join(f"{i} {m.date:%Y-%m-%d} {m.label}"
                                            for i, m in enumerate(marks.itertuples(), start=1)) + "."
        return paragraph(text, "wb-note")

    def dimensions(self) -> HtmlFragment:
        """Each dimension: value, the weight it carries in this account's score, points, change in
        points over 7 and 28 days, and its signals against the cohort benchmark.

        The weight is the effective one (:func:`workbook.scoring.effective_weights`): with the default missing-data
        policy the weights of the dimensions without data are spread over the measured ones, so
        points (weight × value) never exceed the weight shown. A dimension without data shows "—"
        for its value, points and changes.
        """
        dims = self.explained.get("dimensions") or {}
        nominal = {d: (dims.get(d) or {}).get("weight") for d in DIMENSIONS}
        measured = [d for d in DIMENSIONS if (dims.get(d) or {}).get("value") is not None]
        policy = scoring.missing_data_policy()
        weight = scoring.effective_weights(nominal, measured, policy)
        rows = []
        for d in DIMENSIONS:
            x, have = dims.get(d) or {}, d in measured
            rows.append({"Dimension": d + (" (lowest)" if d == self.row["lowest_dimension"] else ""),
                         "Value": x.get("value"), "Weight": weight[d],
                         "Points": x.get("points") if have or policy == "zero" else None,
                         "Change 7 d": (x.get("change_7d") or {}).get("points") if have else None,
                         "Change 28 d": (x.get("change_28d") or {}).get("points") if have else None,
                         "Signals": _signal_text(d, x.get("signals"), self.ws) if have else
                         _NO_DATA_SIGNAL[policy]})
        return html_table(pd.DataFrame(rows), formats={"Value": "number", "Weight": _weight_text,
                                                       "Points": "points", "Change 7 d": display.score_change_text,
                                                       "Change 28 d": display.score_change_text},
                          caption=_dimensions_caption(nominal, measured, policy, self.weights_version))

    def move_up(self) -> HtmlFragment:
        """What would move the account up a colour: the value each dimension alone would need."""
        m = self.explained.get("move_up")
        if m is None:
            return paragraph("The formula already gives green, the top colour: keep it there (monthly check, "
                             "advocacy).", "wb-note")
        ways = [v["hint"] for v in m["dimensions"].values() if v.get("needed") is not None]
        intro = (f"{m['target_colour'].capitalize()} starts at {m['threshold']:g}: the score needs "
                 f"{m['points_needed']:.1f} more points. Any one of these would do it on its own:")
        if not ways:
            return paragraph(f"{m['target_colour'].capitalize()} starts at {m['threshold']:g} "
                             f"({m['points_needed']:.1f} points away): no single dimension can get there alone.",
                             "wb-note")
        return fragment(_p(intro, "wb-note"), bullets(ways))

    @cached_property
    def events(self) -> pd.DataFrame:
        """:func:`workbook.timeline.timeline` over the last ``timeline_days`` days."""
        from .activity import timeline
        return timeline(self.ws, self.account_id, self.as_of - pd.Timedelta(days=self.timeline_days - 1), self.as_of)

    def timeline(self) -> HtmlFragment:
        """The last 90 days: milestones, tickets and escalations, surveys with comments, touches,
        contacts who joined or left, overrides with reason and author, newest first."""
        from .activity import SOURCES
        absent = sorted({t for t in SOURCES.values() if not self.ws.has(t)})
        note = _p("Not in this source, so not in the timeline: " + ", ".join(absent) + ".", "wb-note") \
            if absent else ""
        if self.events.empty:
            return fragment(_p(f"Nothing recorded in the last {self.timeline_days} days.", "wb-note"), note)
        view = self.events.rename(columns={"date": "Date", "kind": "Kind", "what": "What", "detail": "Detail"})
        return fragment(html_table(view, formats={"Date": "date"},
                                   caption=f"The last {self.timeline_days} days, newest first ({len(view)} entries)"),
                        note)

    def playbook(self) -> HtmlFragment:
        """The playbook step for the colour and the next review by the cadence."""
        from .activity import last_reviews, review_due
        r = self.row
        if not isinstance(r["colour"], str):
            return paragraph("Not scored on as_of (no dimension has data): no colour, so no playbook step or "
                             "review cadence.", "wb-note")
        cadence = _cadence()[r["colour"]]
        last = last_reviews(self.ws, self.as_of).get(self.account_id)
        signed = self.accounts.set_index("account_id").loc[self.account_id, "signed_at"]
        due, days = review_due(last, signed, cadence, self.as_of)
        when = (f"due now (overdue since {due:%Y-%m-%d})" if days < 0 else
                f"{due:%Y-%m-%d} ({'today' if days == 0 else 'in ' + narrative.plural(days, 'day')})")
        seen = f"{last:%Y-%m-%d}" if not pd.isna(last) else "none on record"
        if not self.ws.has("touchpoints"):        # no record of reviews at all: not "overdue since signing"
            seen = "unknown (no touchpoints table in this source)"
            when = "unknown: no review on record to count the cadence from"
        step = self.explained.get("recommended_action") or r["recommended_action"]
        facts = [("Next step", step),
                 ("Review cadence", f"{_cadence_word(cadence)} ({r['colour']})"),
                 ("Last review", seen),
                 ("Next review", when)]
        return fragment(_facts(facts), bullets(_health.playbooks()[r["colour"]].get("actions", []), "wb-asks"))

    def exclusions(self) -> list[quality.Exclusion]:
        r = self.row
        return [quality.Exclusion(f"health score: {d}", 1, "no data for this account on as_of: its weight was "
                                  "spread over the others", "accounts") for d in DIMENSIONS if is_missing(r[d])]


class Book(Report):
    """One CSM's book (SPEC section 7, ``book``): accounts by colour and ARR, who moved colour this
    week and why, reviews due by the cadence, open onboardings against plan, ARR at risk, wins.
    ``csm=None`` shows the CSM with the most live accounts (:func:`workbook.members.default_csm`)
    and says so in the header."""

    name = "book"
    title = "CSM book of business"

    def __init__(self, *, data=None, as_of=None, engine=None, csm=None, max_rows=None, renewal_days=None):
        super().__init__(data=data, as_of=as_of, engine=engine, csm=csm, max_rows=max_rows, renewal_days=renewal_days)
        from . import members
        self.max_rows = self.setting_int("max_rows")
        given = self.settings.get("csm")
        self.picked = given is None
        self.csm = members.default_csm(self.health) if self.picked else members.find_csm(self.ws, given)
        if self.csm is None:
            raise BadInput("accounts", "csm", f"no account is live on {self.as_of:%Y-%m-%d}: no book to show")
        from .periods import week
        self.period = week(self.as_of)

    @cached_property
    def mine(self) -> pd.DataFrame:
        """The CSM's live accounts (rows of :attr:`health`), largest ARR first."""
        h = self.health
        own = h[(h["csm"] == self.csm).fillna(False).to_numpy(dtype=bool)]
        return own.sort_values(["arr", "account_id"], ascending=[False, True]).reset_index(drop=True)

    def subtitle(self) -> str:
        return (f"{self.csm} · {narrative.plural(len(self.mine), 'live account')}, "
                f"{narrative.money_text(self.mine['arr'].sum())} ARR · week "
                f"{period_text(self.period.start, self.period.end)} · as of {self.as_of:%Y-%m-%d} · "
                f"data {self.ws.source}")

    def header(self) -> HtmlFragment:
        parts = [style_block(), _CSS, _p(self.subtitle(), "wb-sub")]
        if self.picked:
            parts.append(_p("No csm was given, so this book shows the CSM with the most live accounts. Pass "
                            "-p csm=\"Name\" for another.", "wb-note"))
        if self.mine.empty:
            parts.append(_p(f"{self.csm} owns no account live on {self.as_of:%Y-%m-%d}.", "wb-note"))
        return fragment(*parts)

    def colours(self) -> HtmlFragment:
        """Accounts and ARR per final colour."""
        m = self.mine
        rows = []
        for c in ("red", "amber", "green"):
            k = m[(m["colour"] == c).fillna(False).to_numpy(dtype=bool)]
            rows.append({"Colour": c, "Accounts": len(k), "ARR": float(k["arr"].sum()),
                         "Share of ARR": float(k["arr"].sum() / m["arr"].sum()) if m["arr"].sum() else None})
        return html_table(pd.DataFrame(rows), formats={"Accounts": "count", "ARR": "money", "Share of ARR": "fraction"},
                          status_col="Colour", caption=f"{self.csm}'s accounts by colour")

    def accounts_table(self) -> HtmlFragment:
        """Every account of the book: colour, score, 7-day change, ARR, lowest dimension, stage."""
        m = self.mine
        if m.empty:
            return None
        order = m["colour"].astype(object).map({"red": 0, "amber": 1, "green": 2})
        m = m.assign(_o=order).sort_values(["_o", "arr"], ascending=[True, False])
        view = pd.DataFrame({"Account": m["name"], "Colour": m["colour"], "Score": m["score"],
                             "Change 7 d": m["change_7d"], "ARR": m["arr"], "Lowest dimension": m["lowest_dimension"],
                             "Stage": m["lifecycle_stage"]})
        return html_table(view, formats={"Score": "points", "ARR": "money",
                                         "Change 7 d": display.score_change_text},
                          status_col="Colour", caption="The book, red first, then the largest ARR")

    @cached_property
    def colour_before(self) -> pd.Series:
        """Each of the CSM's accounts' final colour 7 days before (:func:`workbook.health.colours_on`)."""
        return _health.colours_on(self.ws, self.mine, self.weights, self.as_of - pd.Timedelta(days=7))

    def movers(self) -> HtmlFragment:
        """Accounts whose final colour changed in the last 7 days, and why
        (:func:`workbook.explanation.why_lines`)."""
        m = self.mine
        scored = m["colour"].notna().to_numpy(dtype=bool) & self.colour_before.notna().to_numpy(dtype=bool)
        moved = m[scored & (m["colour"].astype(object) != self.colour_before).to_numpy(dtype=bool)]
        new = m[self.colour_before.isna().to_numpy()]
        note = _p(f"{narrative.plural(len(new), 'account')} not scored 7 days ago (signed since) "
                  f"{'is' if len(new) == 1 else 'are'} not counted as moved.", "wb-note") if len(new) else ""
        if moved.empty:
            return fragment(_p("No account changed colour in the last 7 days.", "wb-note"), note)
        from .explanation import why_lines
        why = why_lines(self.ws, moved, self.as_of, weights=self.weights, engine=self.engine)
        rank = {"red": 0, "amber": 1, "green": 2}
        before = self.colour_before[moved.index]
        view = pd.DataFrame({"Account": moved["name"],
                             "Move": [f"{b} → {c}" for b, c in zip(before, moved["colour"])],
                             "Direction": ["worse" if rank[str(c)] < rank[str(b)] else "better"
                                           for b, c in zip(before, moved["colour"])],
                             "Score": moved["score"], "Change 7 d": moved["change_7d"], "ARR": moved["arr"],
                             "Why": [str(why.get(a, "")) for a in moved["account_id"]], "Colour": moved["colour"]})
        return fragment(html_table(view, formats={"Score": "points", "ARR": "money",
                                                  "Change 7 d": display.score_change_text},
                                   status_col="Colour", caption=f"Changed colour since "
                                                                f"{self.as_of - pd.Timedelta(days=7):%Y-%m-%d}"), note)

    @cached_property
    def reviews(self) -> pd.DataFrame:
        """Per account: colour, cadence (days), last review, due date and days until due
        (:func:`workbook.timeline.review_due`; the last review is the last touchpoint of kind review)."""
        from .activity import last_reviews, review_due
        cadence = _cadence()
        last = last_reviews(self.ws, self.as_of)
        signed = self.accounts.set_index("account_id")["signed_at"]
        rows = []
        for r in self.mine.itertuples():
            if not isinstance(r.colour, str):       # not scored (no dimension has data): no cadence
                continue
            seen = last.get(r.account_id)
            due, days = review_due(seen, signed[r.account_id], cadence[r.colour], self.as_of)
            rows.append({"Account": r.name, "Colour": r.colour, "Cadence": _cadence_word(cadence[r.colour]),
                         "Last review": seen, "Due": due, "Days": days, "ARR": r.arr})
        return pd.DataFrame(rows, columns=["Account", "Colour", "Cadence", "Last review", "Due", "Days", "ARR"])

    def reviews_due(self) -> HtmlFragment:
        """Reviews due in the next 7 days (or overdue) by the cadence: red weekly, amber fortnightly,
        green monthly, counted from the last review (a touchpoint of kind ``review``, not missed)."""
        r = self.reviews
        due = r[r["Days"] <= 6].sort_values(["Days", "ARR"], ascending=[True, False])
        intro = _p("Cadence: red weekly, amber fortnightly, green monthly (params/playbooks.yaml), counted from the "
                   "last review on record — a touchpoint of kind review that was not missed — else from the "
                   "signature date.", "wb-note")
        if not self.ws.has("touchpoints"):
            return fragment(intro, _p("No touchpoints table in this source, so the last review of each account is "
                                      "unknown: no review is counted as due or overdue.", "wb-note"))
        if due.empty:
            return fragment(intro, _p("No review falls due in the next 7 days.", "wb-note"))
        view = due.assign(When=["overdue by " + narrative.plural(-d, "day") if d < 0 else
                                ("today" if d == 0 else "in " + narrative.plural(d, "day")) for d in due["Days"]])
        view["Last review"] = [f"{v:%Y-%m-%d}" if not pd.isna(v) else "none" for v in view["Last review"]]
        return fragment(intro, html_table(view[["Account", "Colour", "Cadence", "Last review", "Due", "When"]],
                                          formats={"Due": "date"}, status_col="Colour",
                                          caption=f"Reviews due by {self.as_of + pd.Timedelta(days=6):%Y-%m-%d} "
                                                  f"({len(view)} of {len(r)} accounts), most overdue first"))

    @cached_property
    def onboarding_rows(self) -> pd.DataFrame:
        """The CSM's open onboardings (as :func:`workbook.metrics.past_due` defines open) with the
        milestones reached, days since signature and the due date."""
        with _kpis.open_context(self.ws, self.as_of, self.engine) as ctx:
            acc = ctx.accounts
            rows = acc[(_kpis.open_onboardings(ctx, ctx.as_of) & (acc["csm"] == self.csm)).to_numpy()].copy()
        steps = ("kickoff", "go_live", "activation", "first_value", "onboarding_complete", "handover")
        rows["reached"] = [[s.replace("_", " ") for s in steps if s in rows and not pd.isna(r[s])]
                           for _, r in rows.iterrows()]
        rows["days_since"] = (self.as_of - rows["signed_at"]).dt.days
        rows["window"] = (rows["due"] - rows["signed_at"]).dt.days
        return rows.sort_values("due").reset_index(drop=True)

    def onboardings(self) -> HtmlFragment:
        """Open onboardings against plan: milestones reached, days used of the window, due date."""
        o = self.onboarding_rows
        if o.empty:
            return paragraph(f"{self.csm} has no open onboarding.", "wb-note")
        left = (o["due"] - self.as_of).dt.days
        view = pd.DataFrame({"Account": o["name"], "Signed": o["signed_at"],
                             "Milestones reached": [", ".join(r) or "none yet" for r in o["reached"]],
                             "Day of window": [f"day {d:,} of {w:,}" for d, w in zip(o["days_since"], o["window"])],
                             "Due": o["due"],
                             "Against plan": ["past due by " + narrative.plural(-d, "day") if d < 0 else
                                              f"{narrative.plural(d, 'day')} left" for d in left],
                             "Status": ["red" if d < 0 else "green" for d in left]})
        return html_table(view.head(self.max_rows), formats={"Signed": "date", "Due": "date"}, status_col="Status",
                          caption=f"Open onboardings, soonest due first ({min(len(view), self.max_rows)} of "
                                  f"{len(view)}); the plan is the segment's onboarding window (params/targets.yaml) "
                                  "or the account's onboarding_due_at")

    def arr_at_risk(self) -> HtmlFragment:
        """Red ARR and amber ARR, and the ARR expected to churn where the weights are calibrated."""
        m = self.mine
        red = float(m.loc[(m["colour"] == "red").fillna(False).to_numpy(dtype=bool), "arr"].sum())
        amber = float(m.loc[(m["colour"] == "amber").fillna(False).to_numpy(dtype=bool), "arr"].sum())
        text = (f"{narrative.money_text(red)} ARR is red and {narrative.money_text(amber)} amber, of "
                f"{narrative.money_text(m['arr'].sum())} in the book.")
        if "renewal_probability" in m:
            lost = float((m["arr"] * (1 - m["renewal_probability"])).sum())
            text += (f" By the calibrated renewal probabilities of weights {self.weights_version}, "
                     f"{narrative.money_text(lost)} of the book's ARR is expected not to renew.")
        else:
            text += (f" Weights {self.weights_version} carry no calibration map, so no renewal probability is "
                     "shown.")
        parts = [_p(text, "wb-headline")]
        risky = m[m["colour"].isin(["red", "amber"]).fillna(False).to_numpy(dtype=bool)]
        if len(risky):
            view = self.risk_frame(risky.head(self.max_rows)).drop(columns="Owner")
            if "renewal_probability" in risky:
                view.insert(3, "Renewal probability", risky["renewal_probability"].head(self.max_rows).to_numpy())
            formats = {"ARR": "money", "Score": "points",
                       "Change 7 d": display.score_change_text}
            if "Renewal probability" in view:
                formats["Renewal probability"] = "fraction"
            parts.append(fragment('<div class="wb-risks">', html_table(
                view, formats=formats,
                caption=f"Red and amber accounts, largest ARR first ({min(len(risky), self.max_rows)} of "
                        f"{len(risky)})"), "</div>"))
        return fragment(*parts)

    def renewals(self) -> HtmlFragment:
        """The CSM's renewals due in the next ``renewal_days`` (90), most ARR at risk first."""
        return self.renewal_section(csm=self.csm, top=self.max_rows)

    def expansion_signals(self) -> HtmlFragment:
        """The CSM's accounts showing an expansion signal."""
        return self.expansion_section(csm=self.csm, limit=self.max_rows)

    def wins(self) -> HtmlFragment:
        """The week's wins on the CSM's accounts (:func:`workbook.wins.events`)."""
        ev = wins.events(self.ws, self.mine, self.period.start, self.period.end, self.colour_before)
        ev = ev[(ev["csm"] == self.csm).fillna(False).to_numpy(dtype=bool)]
        if ev.empty:
            return paragraph(f"No first value, completed onboarding, advocacy or newly green account in the week "
                             f"{period_text(self.period.start, self.period.end)}.", "wb-note")
        view = pd.DataFrame({"Date": ev["date"], "Account": ev["name"], "Win": ev["kind"], "Detail": ev["detail"],
                             "ARR": ev["arr"]})
        return html_table(view, formats={"Date": "date", "ARR": "money"},
                          caption=f"Wins in the week {period_text(self.period.start, self.period.end)}")

    def exclusions(self) -> list[quality.Exclusion]:
        m = self.mine
        return [quality.Exclusion(f"health score: {d} ({self.csm}'s accounts)", int(m[d].isna().sum()),
                                  "no data for this dimension on as_of: its weight was spread over the others",
                                  "accounts") for d in DIMENSIONS if int(m[d].isna().sum())]


__all__ += ["Account", "Book"]
