"""Report figures: one colour-blind-safe palette, readable at report width, alt text on every image.

Every figure a report shows goes through :func:`show` (or is a :class:`Chart`, which calls it), so
it reaches the HTML as an embedded PNG whose ``<img>`` carries the alt text. Chart functions build
figures with :class:`matplotlib.figure.Figure` directly, not through ``pyplot``, so the inline
backend never shows a second, alt-less copy.

Status colours are chosen to stay apart under deuteranopia, protanopia and tritanopia (simulated
with Machado et al. 2009; CIE Lab distance at least 30 between any two of red/amber/green, at
least 20 to the "no data" grey, for every kind of vision): green is Okabe–Ito *bluish green*
(#009E73), amber a golden yellow (#F5C710), red Paul Tol's vibrant red (#CC3311). Colour is
never the only cue: status words are written out in tables and on charts.
"""
from __future__ import annotations

import base64
import io
import struct
from collections.abc import Mapping
from dataclasses import dataclass

import matplotlib
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from . import display
# the palette and its contrast helpers live in workbook.display; re-exported for notebooks and tests
from .display import COLOUR_ORDER, PALETTE, contrast_ratio, text_colour_on  # noqa: F401

#: Figure size in inches at report width; PNGs are drawn at ``DPI`` and shown at 100 px per inch.
FIGSIZE = (9.0, 4.0)
DPI = 200
_DISPLAY_DPI = 100


def setup() -> None:
    """Set the seaborn theme and fonts used by every report figure (call once per notebook)."""
    sns.set_theme(
        style="whitegrid",
        context="notebook",
        font_scale=1.05,
        rc={
            "figure.figsize": FIGSIZE,
            "figure.dpi": _DISPLAY_DPI,
            "font.family": "DejaVu Sans",
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titleweight": "bold",
            "axes.titlelocation": "left",
            "legend.frameon": False,
        },
    )


def new_figure(figsize: tuple[float, float] = FIGSIZE) -> tuple[Figure, matplotlib.axes.Axes]:
    """A figure and one axes, outside pyplot (so nothing is shown unless :func:`show` is called)."""
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.subplots()


def _no_data(ax, *, fontsize: int = 14, text: str = "No data") -> None:
    """Write "No data" (or ``text``) across an empty axes and drop its ticks."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes,
            color=PALETTE["neutral"], fontsize=fontsize)
    ax.set_xticks([])
    ax.set_yticks([])


def png_bytes(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes at ``dpi``."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    return buffer.getvalue()


def _png_size(png: bytes) -> tuple[int, int]:
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def image_bundle(fig: Figure, alt: str, dpi: int = DPI) -> tuple[dict, dict]:
    """The display data and metadata that :func:`show` publishes.

    Data: ``image/png`` (base64) and ``text/plain`` (the alt text, for text-only front ends).
    Metadata: ``{"image/png": {"alt", "width", "height"}}``, the size in CSS pixels at 100 px/inch
    (the PNG itself is drawn at ``dpi`` so it stays sharp on high-density screens).
    """
    if not isinstance(alt, str) or not alt.strip():
        raise ValueError("every figure needs alt text: pass alt='what the figure shows'")
    png = png_bytes(fig, dpi)
    width, height = _png_size(png)
    scale = _DISPLAY_DPI / dpi
    data = {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": alt.strip()}
    meta = {"image/png": {"alt": alt.strip(), "width": round(width * scale), "height": round(height * scale)}}
    return data, meta


def _publish(data: dict, metadata: dict) -> None:
    """Publish a raw display bundle (a separate function so tests can capture it)."""
    from IPython.display import display
    display(data, metadata=metadata, raw=True)


def show(fig, alt: str) -> None:
    """Display ``fig`` as an embedded PNG with alt text ``alt``, then close it.

    The report renderer writes ``alt`` into the ``<img alt="...">`` of the HTML. Works for a
    pyplot figure too (it is closed, so the inline backend does not show it a second time).
    """
    data, meta = image_bundle(fig, alt)
    _publish(data, meta)
    _close(fig)


def _close(fig) -> None:
    import matplotlib.pyplot as plt
    plt.close(fig)


@dataclass
class Chart:
    """A figure with its alt text; displaying it (last expression of a cell) calls :func:`show`."""

    fig: Figure
    alt: str

    def _ipython_display_(self) -> None:
        show(self.fig, self.alt)

    def png(self, dpi: int = DPI) -> bytes:
        """The chart as PNG bytes."""
        return png_bytes(self.fig, dpi)


def _fmt(value, kind: str | None) -> str:
    """A chart label: :func:`workbook.display.label` (the short style of the unit ``kind``)."""
    return display.label(value, kind)


def _axis_formatter(kind: str | None):
    if kind is None:
        return None
    return FuncFormatter(lambda v, _pos: _fmt(v, kind))


def _label(value) -> str:
    if isinstance(value, pd.Timestamp) or hasattr(value, "isoformat"):
        return _fmt(value, "date")
    return str(value)


def on_target(value: float | None, target: float | None, better: str = "higher") -> bool | None:
    """Whether ``value`` meets ``target`` in the ``better`` direction; None when either is missing."""
    if value is None or target is None or display.is_missing(value) or display.is_missing(target):
        return None
    if better not in ("higher", "lower"):
        raise ValueError("better must be 'higher' or 'lower'")
    return value >= target if better == "higher" else value <= target


def trend(df: pd.DataFrame, x: str, y: str, *, target: float | None = None, title: str | None = None,
          better: str = "higher", kind: str | None = None, ylabel: str | None = None) -> Chart:
    """A line chart of ``df[y]`` over ``df[x]`` with an optional dashed target line.

    ``kind`` is a unit of :data:`workbook.display.UNITS` ("days", "fraction", "nps", ...) used for the y axis
    and the alt text; the latest point is coloured green when on target and red when not.
    Returns a :class:`Chart` whose alt text states the period, latest value, range and target.
    """
    title = title or y
    data = df[[x, y]].dropna(subset=[y]).sort_values(x)
    fig, ax = new_figure()
    ax.set_title(title)
    ax.set_xlabel("")
    ax.set_ylabel(ylabel if ylabel is not None else y)
    if data.empty:
        _no_data(ax, fontsize=14)
        return Chart(fig, f"Line chart: {title}. No data for this period.")
    sns.lineplot(data=data, x=x, y=y, ax=ax, color=PALETTE["primary"], marker="o", linewidth=2,
                 label=ylabel or y)
    last_x, last_y = data[x].iloc[-1], float(data[y].iloc[-1])
    status = on_target(last_y, target, better)
    if target is not None:
        ax.axhline(target, color=PALETTE["target"], linestyle="--", linewidth=1.5,
                   label=f"Target {_fmt(target, kind)}")
    colour = PALETTE["neutral"] if status is None else PALETTE["green" if status else "red"]
    ax.scatter([last_x], [last_y], s=90, color=colour, zorder=5, edgecolor="white", linewidth=1.5)
    ax.annotate(_fmt(last_y, kind), (last_x, last_y), textcoords="offset points", xytext=(0, 10),
                ha="center", fontweight="bold")
    formatter = _axis_formatter(kind)
    if formatter is not None:
        ax.yaxis.set_major_formatter(formatter)
    ax.legend(loc="best")
    ax.set_ylabel(ylabel if ylabel is not None else y)
    return Chart(fig, _trend_alt(data, x, y, title, target, better, kind, status))


def _trend_alt(data, x, y, title, target, better, kind, status) -> str:
    values = data[y].astype(float)
    parts = [
        f"Line chart: {title}, {len(data)} point{'s' if len(data) != 1 else ''} "
        f"from {_label(data[x].iloc[0])} to {_label(data[x].iloc[-1])}.",
        f"Latest {_fmt(values.iloc[-1], kind)}; lowest {_fmt(values.min(), kind)}, "
        f"highest {_fmt(values.max(), kind)}.",
    ]
    if target is not None:
        verdict = "on target" if status else "off target"
        parts.append(f"Target {_fmt(target, kind)} ({better} is better): latest is {verdict}.")
    return " ".join(parts)


def colour_counts(counts, *, title: str = "Accounts by health colour") -> Chart:
    """A horizontal bar chart of accounts per colour (red, amber, green first; others after).

    ``counts`` is a mapping or Series ``{colour: count}``. Bars use :data:`PALETTE` and each bar is
    labelled with its colour name and count, so colour is not the only cue.
    """
    series = pd.Series(dict(counts) if isinstance(counts, Mapping) else counts, dtype="float64").fillna(0)
    order = [c for c in COLOUR_ORDER if c in series.index] + [c for c in series.index if c not in COLOUR_ORDER]
    series = series.reindex(order).astype(int)
    fig, ax = new_figure((9.0, 0.6 * max(len(series), 1) + 1.2))
    ax.set_title(title)
    labels = [str(c) for c in series.index]
    colours = [PALETTE.get(str(c).lower(), PALETTE["neutral"]) for c in series.index]
    positions = list(range(len(series)))[::-1]
    ax.barh(positions, series.to_numpy(), color=colours, height=0.6)
    ax.set_yticks(positions, labels)
    ax.set_xlabel("accounts")
    ax.grid(axis="y", visible=False)
    top = max(int(series.max()) if len(series) else 0, 1)
    for pos, value in zip(positions, series.to_numpy()):
        ax.text(value + top * 0.01, pos, f"{value:,}", va="center", ha="left")
    ax.set_xlim(0, top * 1.12)
    total = int(series.sum())
    listed = ", ".join(f"{int(v):,} {c}" for c, v in series.items()) or "none"
    alt = f"Bar chart: {title}. {listed}; {total:,} account{'s' if total != 1 else ''} in total."
    return Chart(fig, alt)


__all__ = ["PALETTE", "COLOUR_ORDER", "Chart", "setup", "show", "trend", "colour_counts", "on_target",
           "new_figure", "image_bundle", "contrast_ratio", "text_colour_on"]


# --------------------------------------------------------------------------------------------
# Report charts (issue 6): small multiples of KPI trends, distributions, calibration and cycles.
# Each returns a Chart whose alt text is generated from the data it draws.


def _draw_trend_panel(ax, data: pd.DataFrame, x: str, y: str, *, title: str, target, better: str,
                      kind: str | None) -> str:
    """One KPI trend on ``ax`` (line, dashed target, latest point coloured by status); returns its alt text."""
    ax.set_title(title, fontsize=11)
    ax.set_xlabel("")
    ax.set_ylabel("")
    data = data[[x, y]].dropna(subset=[y]).sort_values(x)
    if data.empty:
        _no_data(ax, fontsize=13)
        return f"{title}: no data."
    values = data[y].astype(float)
    ax.plot(data[x], values, color=PALETTE["primary"], marker="o", markersize=3.5, linewidth=1.8)
    last_x, last_y = data[x].iloc[-1], float(values.iloc[-1])
    status = on_target(last_y, target, better)
    if target is not None and not display.is_missing(target):
        ax.axhline(float(target), color=PALETTE["target"], linestyle="--", linewidth=1.2)
        ax.annotate(f"target {_fmt(target, kind)}", xy=(0.0, float(target)), xycoords=("axes fraction", "data"),
                    xytext=(2, 3), textcoords="offset points", fontsize=8.5, color=PALETTE["target"])
    colour = PALETTE["neutral"] if status is None else PALETTE["green" if status else "red"]
    ax.scatter([last_x], [last_y], s=60, color=colour, zorder=5, edgecolor="white", linewidth=1.2)
    ax.annotate(_fmt(last_y, kind), (last_x, last_y), textcoords="offset points", xytext=(-6, 7),
                ha="right", fontweight="bold", fontsize=9.5,
                bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85})
    formatter = _axis_formatter(kind)
    if formatter is not None:
        ax.yaxis.set_major_formatter(formatter)
    ax.tick_params(axis="both", labelsize=8.5)
    for label in ax.get_xticklabels():
        label.set_rotation(0)
    import matplotlib.dates as mdates
    if pd.api.types.is_datetime64_any_dtype(data[x]):
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=5))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %y"))
    text = (f"{title}: {len(data)} points from {_label(data[x].iloc[0])} to {_label(data[x].iloc[-1])}, "
            f"latest {_fmt(last_y, kind)}, range {_fmt(values.min(), kind)} to {_fmt(values.max(), kind)}")
    if target is not None and not display.is_missing(target):
        text += f", target {_fmt(target, kind)} ({better} is better): {'on' if status else 'off'} target"
    return text + "."


def trend_grid(panels, *, ncols: int = 2, title: str | None = None, panel_height: float = 2.6) -> Chart:
    """Several KPI trends as small multiples, each with its dashed target line.

    ``panels`` is a list of mappings with ``data`` (a DataFrame), ``x``, ``y``, ``title`` and
    optional ``target``, ``better`` (default higher) and ``kind`` (a unit of
    :data:`workbook.display.UNITS`, for the axis and labels). The latest point is green on target,
    red off target. Returns a :class:`Chart` whose alt text describes every panel.
    """
    panels = list(panels)
    ncols = max(1, min(ncols, len(panels) or 1))
    nrows = max(1, -(-len(panels) // ncols))
    fig = Figure(figsize=(FIGSIZE[0], panel_height * nrows + (0.4 if title else 0.0)), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    texts = []
    for ax, panel in zip(axes.flat, panels):
        texts.append(_draw_trend_panel(ax, panel["data"], panel["x"], panel["y"], title=panel["title"],
                                       target=panel.get("target"), better=panel.get("better", "higher"),
                                       kind=panel.get("kind")))
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title, fontweight="bold", x=0.01, ha="left")
    intro = f"{title}. " if title else ""
    return Chart(fig, f"{intro}Line charts, {len(panels)} panels. " + " ".join(texts))


def bars(values, *, title: str, xlabel: str = "accounts", kind: str | None = "int",
         colours: Mapping[str, str] | None = None) -> Chart:
    """Horizontal bars of ``values`` (a mapping or Series label → number), in the given order, each
    labelled with its value. ``colours`` maps a label to a palette key (default: the data colour)."""
    series = pd.Series(dict(values) if isinstance(values, Mapping) else values, dtype="float64").fillna(0)
    fig, ax = new_figure((FIGSIZE[0], 0.45 * max(len(series), 1) + 1.2))
    ax.set_title(title)
    positions = list(range(len(series)))[::-1]
    palette = [PALETTE.get((colours or {}).get(str(k), "primary"), PALETTE["primary"]) for k in series.index]
    ax.barh(positions, series.to_numpy(), color=palette, height=0.6)
    ax.set_yticks(positions, [str(k) for k in series.index])
    ax.set_xlabel(xlabel)
    ax.grid(axis="y", visible=False)
    top = max(float(series.max()) if len(series) else 0.0, 1.0)
    for pos, value in zip(positions, series.to_numpy()):
        ax.text(value + top * 0.01, pos, _fmt(value, kind), va="center", ha="left")
    ax.set_xlim(0, top * 1.15)
    listed = "; ".join(f"{k}: {_fmt(v, kind)}" for k, v in series.items()) or "no data"
    return Chart(fig, f"Bar chart: {title}. {listed}.")


def histogram(values, *, title: str, xlabel: str, bins: int = 20, marks: Mapping[str, float] | None = None,
              empty: str = "No data") -> Chart:
    """A histogram of ``values`` (numbers; missing ones ignored) with labelled vertical ``marks``.

    ``empty`` is what an empty chart says: "No data" by default; a caller whose empty set is a
    real zero (no open onboarding) says so instead."""
    data = pd.Series(values, dtype="float64").dropna()
    fig, ax = new_figure((FIGSIZE[0], 3.2))
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("accounts")
    if data.empty:
        _no_data(ax, fontsize=14, text=empty.rstrip("."))
        return Chart(fig, f"Histogram: {title}. {empty.rstrip('.')}.")
    ax.hist(data.to_numpy(), bins=bins, color=PALETTE["primary"], edgecolor="white")
    for i, (label, x) in enumerate((marks or {}).items()):   # labels stepped down so close marks stay legible
        ax.axvline(float(x), color=PALETTE["target"], linestyle="--", linewidth=1.2)
        ax.annotate(label, xy=(float(x), 1.0), xycoords=("data", "axes fraction"), xytext=(3, -12 - 12 * i),
                    textcoords="offset points", fontsize=9,
                    bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.85})
    alt = (f"Histogram: {title}. {len(data):,} accounts; median {data.median():.0f}, "
           f"range {data.min():.0f} to {data.max():.0f} {xlabel}.")
    if marks:
        alt += " Marks: " + ", ".join(f"{k} at {float(v):.0f}" for k, v in marks.items()) + "."
    return Chart(fig, alt)


def reliability(df: pd.DataFrame, *, title: str = "Reliability: predicted vs observed churn") -> Chart:
    """A reliability diagram from ``model, mean_predicted, observed_rate, n`` rows (one per bin and
    model; empty bins skipped): points on the diagonal are perfectly calibrated."""
    data = df[df["n"] > 0].dropna(subset=["mean_predicted", "observed_rate"])
    fig, ax = new_figure((6.5, 5.0))
    ax.set_title(title)
    top = max(0.05, float(data[["mean_predicted", "observed_rate"]].max().max()) * 1.1) if len(data) else 1.0
    ax.plot([0, top], [0, top], color=PALETTE["target"], linestyle="--", linewidth=1.2, label="perfect calibration")
    markers = ["o", "s", "^", "D"]
    colours = ["#555555", PALETTE["primary"], PALETTE["amber"], PALETTE["red"]]   # current, proposed, ...
    texts = []
    biggest = max(float(data["n"].max()) if len(data) else 1.0, 1.0)
    for i, (model, g) in enumerate(data.groupby("model", sort=False)):
        g = g.sort_values("mean_predicted")
        ax.plot(g["mean_predicted"], g["observed_rate"], color=colours[i % 4], linewidth=1.2, alpha=0.6)
        # point area grows with the rows in the bin: a bin of 1 row must not look like evidence
        sizes = 12 + 200 * (g["n"].to_numpy(dtype=float) / biggest) ** 0.5
        ax.scatter(g["mean_predicted"], g["observed_rate"], s=sizes, marker=markers[i % 4], color=colours[i % 4],
                   edgecolor="white", linewidth=0.8, alpha=0.85, label=f"{model} (area: rows in the bin)", zorder=3)
        pts = ", ".join(f"{p:.0%}→{o:.0%} (n={int(n):,})" for p, o, n in
                        zip(g["mean_predicted"], g["observed_rate"], g["n"]))
        texts.append(f"{model}: {pts}")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("predicted churn probability (bin mean)")
    ax.set_ylabel("observed churn rate")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.0%}"))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.0%}"))
    legend = ax.legend(loc="upper left", fontsize=9)
    for handle in legend.legend_handles[1:]:      # legend markers at one size, whatever the bins hold
        handle.set_sizes([40])
    return Chart(fig, f"Reliability diagram: {title}. Predicted → observed per bin. " + "; ".join(texts) + ".")


def band_rates(bands: pd.DataFrame, *, title: str = "Churn rate by colour band") -> Chart:
    """Grouped bars: churn rate per colour band for each weights set (``weights`` + ``thresholds``),
    with the 95% interval (``ci_low``/``ci_high``) as error bars and the rate written on each bar."""
    data = bands.copy()
    data["set"] = data["weights"].astype(str) + " " + data["thresholds"].astype(str)
    sets = list(dict.fromkeys(data["set"]))
    fig, ax = new_figure((FIGSIZE[0], 3.8))
    ax.set_title(title)
    width = 0.8 / max(len(sets), 1)
    hatches = ["", "//", ".."]
    texts = []
    for j, name in enumerate(sets):
        g = data[data["set"] == name].set_index("colour").reindex(list(COLOUR_ORDER))
        xs = [i + (j - (len(sets) - 1) / 2) * width for i in range(len(COLOUR_ORDER))]
        rates = g["churn_rate"].to_numpy(dtype=float)
        low = rates - g["ci_low"].to_numpy(dtype=float)
        high = g["ci_high"].to_numpy(dtype=float) - rates
        ax.bar(xs, rates, width=width * 0.92, color=[PALETTE[c] for c in COLOUR_ORDER], hatch=hatches[j % 3],
               edgecolor="#333333", linewidth=0.6, yerr=[low, high], capsize=3, label=name)
        for x, r in zip(xs, rates):
            if r == r:  # not NaN: the band has rows
                ax.annotate(f"{r:.0%}", (x, r), textcoords="offset points", xytext=(0, 3), ha="center",
                            fontsize=8.5)
        texts.append(f"{name}: " + ", ".join(f"{c} {r:.1%} (n={int(n):,})" for c, r, n in
                                             zip(COLOUR_ORDER, rates, g["n"].fillna(0).to_numpy()) if r == r))
    ax.set_xticks(range(len(COLOUR_ORDER)), list(COLOUR_ORDER))
    ax.set_ylabel("churned within the horizon")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.0%}"))
    from matplotlib.patches import Patch
    handles = [Patch(facecolor="white", edgecolor="#333333", hatch=hatches[j % 3], label=name)
               for j, name in enumerate(sets)]
    ax.legend(handles=handles, loc="upper right", fontsize=8.5, title="weights, thresholds", title_fontsize=8.5)
    ax.grid(axis="x", visible=False)
    return Chart(fig, f"Grouped bar chart: {title}, test rows, 95% intervals. " + "; ".join(texts) + ".")


def psi_bars(drift: pd.DataFrame, *, watch: float, recalibrate: float,
             title: str = "Drift since training (population stability index)") -> Chart:
    """Horizontal bars of PSI per dimension (``dimension``, ``psi``, ``status``), coloured green
    (stable), amber (watch) or red (recalibrate), with dashed lines at the two thresholds."""
    data = drift.reset_index(drop=True)
    status_colour = {"stable": "green", "watch": "amber", "recalibrate": "red"}
    fig, ax = new_figure((FIGSIZE[0], 0.45 * max(len(data), 1) + 1.4))
    ax.set_title(title)
    positions = list(range(len(data)))[::-1]
    ax.barh(positions, data["psi"].astype(float).fillna(0.0).to_numpy(), height=0.6,
            color=[PALETTE[status_colour.get(str(s), "neutral")] for s in data["status"]])
    ax.set_yticks(positions, data["dimension"].astype(str).tolist())
    for x, label in ((watch, "watch"), (recalibrate, "recalibrate")):
        ax.axvline(x, color=PALETTE["target"], linestyle="--", linewidth=1.1)
        ax.annotate(f"{label} {x:g}", xy=(x, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -11),
                    textcoords="offset points", fontsize=8.5)
    top = max(float(data["psi"].max()) if len(data) else 0.0, recalibrate) * 1.25
    for pos, (value, status) in zip(positions, zip(data["psi"], data["status"])):
        # a dimension with no data on either side has no PSI: say so rather than "0.000 stable"
        text = f"{value:.3f} {status}" if value == value else "not measured in this data"
        ax.text((value if value == value else 0.0) + top * 0.01, pos, text, va="center", fontsize=9)
    ax.set_xlim(0, top)
    ax.set_xlabel("PSI")
    ax.grid(axis="y", visible=False)
    listed = "; ".join(f"{d}: {p:.3f} ({s})" if p == p else f"{d}: not measured in this data"
                       for d, p, s in zip(data["dimension"], data["psi"], data["status"]))
    return Chart(fig, f"Bar chart: {title}; watch above {watch:g}, recalibrate above {recalibrate:g}. {listed}.")


def cycle_chart(*, label: str, unit: str | None, better: str, baseline: float | None, cycle: float | None,
                baseline_n: int, cycle_n: int, difference: float | None, low: float | None, high: float | None,
                target: float | None = None, confidence: float = 0.95) -> Chart:
    """Two panels: the metric in the baseline and in the cycle (bars with member counts and the
    target line), and the change with its bootstrap interval against the zero line, the better side
    shaded green. Values are written in ``unit`` (:data:`workbook.display.UNITS`), the change as a
    change in it."""
    fig = Figure(figsize=(FIGSIZE[0], 3.4), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[1, 1.3])
    _cycle_levels(left, label=label, unit=unit, baseline=baseline, cycle=cycle, baseline_n=baseline_n,
                  cycle_n=cycle_n, target=target)
    pct = f"{round(100 * confidence)}%"
    alt_change = _cycle_change(right, unit=unit, better=better, difference=difference, low=low, high=high, pct=pct)
    base_text = _fmt(baseline, unit) if baseline is not None else "no data"
    cycle_text = _fmt(cycle, unit) if cycle is not None else "no data"
    alt = (f"Bar chart and interval plot: {label}. Baseline {base_text} (n={baseline_n:,}), "
           f"cycle {cycle_text} (n={cycle_n:,})"
           + (f", target {_fmt(target, unit)}" if target is not None else "") + f". {alt_change}")
    return Chart(fig, alt)


def _cycle_levels(ax, *, label, unit, baseline, cycle, baseline_n, cycle_n, target) -> None:
    """The left panel of :func:`cycle_chart`: baseline and cycle bars, their values and the target."""
    ax.set_title(label, fontsize=11)
    vals = [baseline, cycle]
    xs = [0, 1]
    heights = [0.0 if v is None else float(v) for v in vals]
    ax.bar(xs, heights, color=[PALETTE["neutral"], PALETTE["primary"]], width=0.6)
    ax.set_xticks(xs, [f"baseline\n(n={baseline_n:,})", f"cycle\n(n={cycle_n:,})"])
    for x, v in zip(xs, vals):
        ax.annotate("no data" if v is None else _fmt(v, unit), (x, 0.0 if v is None else float(v)),
                    textcoords="offset points", xytext=(0, 3), ha="center", fontweight="bold")
    if target is not None:
        ax.axhline(float(target), color=PALETTE["target"], linestyle="--", linewidth=1.2)
        ax.annotate(f"target {_fmt(target, unit)}", xy=(1.0, float(target)), xycoords=("axes fraction", "data"),
                    xytext=(-3, 3), textcoords="offset points", ha="right", fontsize=8.5)
    formatter = _axis_formatter(unit)
    if formatter is not None:
        ax.yaxis.set_major_formatter(formatter)
    ax.grid(axis="x", visible=False)


def _cycle_change(ax, *, unit, better, difference, low, high, pct) -> str:
    """The right panel of :func:`cycle_chart`: the change and its interval against zero; returns
    the alt text's sentence on the change."""
    def change(v) -> str:
        return display.label(v, unit, change=True)
    ax.set_title(f"Change, cycle − baseline, with {pct} interval", fontsize=11)
    ax.axvline(0, color=PALETTE["target"], linewidth=1.2)
    if difference is None or low is None or high is None:
        ax.text(0.5, 0.5, "No data", ha="center", va="center", transform=ax.transAxes,
                color=PALETTE["neutral"], fontsize=13)
        ax.set_yticks([])
        return "The change has no interval: a window has no data."
    span = max(abs(low), abs(high), abs(difference), 1e-9) * 1.4
    ax.set_xlim(-span, span)
    ax.axvspan(*((0, span) if better == "higher" else (-span, 0)), color=PALETTE["green"], alpha=0.12)
    ax.annotate(f"better ({better})", xy=(0.98 if better == "higher" else 0.02, 0.92), xycoords="axes fraction",
                ha="right" if better == "higher" else "left", fontsize=9, color="#00573F")
    ax.errorbar([difference], [0], xerr=[[difference - low], [high - difference]], fmt="o",
                color=PALETTE["primary"], capsize=6, markersize=8, linewidth=2)
    ax.annotate(f"{change(difference)}\n[{change(low)}, {change(high)}]",
                (difference, 0), textcoords="offset points", xytext=(0, 12), ha="center", fontsize=9.5)
    ax.set_yticks([])
    ax.set_ylim(-1, 1.2)
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(nbins=4, symmetric=True))
    ax.tick_params(axis="x", labelsize=8.5)
    if unit is not None:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: change(v)))
    return f"Change {change(difference)}, {pct} interval {change(low)} to {change(high)}; {better} is better."


__all__ += ["trend_grid", "bars", "histogram", "reliability", "band_rates", "psi_bars", "cycle_chart"]


# --------------------------------------------------------------------------------------------
# The account brief (issue 14): one account's score over time against its colour bands.


def score_history(history: pd.DataFrame, *, green: float, amber: float, title: str,
                  marks: pd.DataFrame | None = None) -> Chart:
    """One account's weekly score (``history``: ``date``, ``score``, ``colour``) over the colour
    bands of the thresholds (red below ``amber``, amber up to ``green``, green above), each point
    in its final colour, with vertical ``marks`` (``date``, ``label``: overrides set, weights
    versions adopted) numbered on the chart and listed in the alt text."""
    data = history.dropna(subset=["score"]).sort_values("date")
    fig, ax = new_figure((9.0, 3.6))
    ax.set_title(title)
    for low, high, colour in ((0, amber, "red"), (amber, green, "amber"), (green, 100, "green")):
        ax.axhspan(low, high, color=PALETTE[colour], alpha=0.13, linewidth=0)
        ax.text(1.005, (low + high) / 2, colour, transform=ax.get_yaxis_transform(), va="center", fontsize=9)
    ax.set_ylim(0, 100)
    ax.set_ylabel("score")
    if data.empty:
        _no_data(ax, text="Not scored in this window")
        return Chart(fig, f"Line chart: {title}. The account was not scored in this window.")
    ax.plot(data["date"], data["score"], color=PALETTE["primary"], linewidth=2)
    ax.scatter(data["date"], data["score"], s=36, zorder=5, edgecolor="white", linewidth=1,
               color=[PALETTE.get(str(c), PALETTE["neutral"]) for c in data["colour"]])
    marks = marks if marks is not None else pd.DataFrame(columns=["date", "label"])
    for i, m in enumerate(marks.itertuples(), start=1):
        ax.axvline(m.date, color=PALETTE["target"], linestyle=":", linewidth=1.2)
        ax.annotate(str(i), (m.date, 97), ha="center", va="top", fontsize=9, fontweight="bold",
                    bbox={"boxstyle": "circle,pad=0.2", "fc": "white", "ec": PALETTE["target"]})
    from matplotlib.dates import DateFormatter
    ax.xaxis.set_major_formatter(DateFormatter("%d %b"))
    return Chart(fig, _history_alt(data, title, green, amber, marks))


def _history_alt(data: pd.DataFrame, title: str, green: float, amber: float, marks: pd.DataFrame) -> str:
    first, last = data.iloc[0], data.iloc[-1]
    counts = data["colour"].astype(str).value_counts()
    parts = [f"Line chart: {title}, {len(data)} weekly points from {_label(first['date'])} to "
             f"{_label(last['date'])}, over bands red below {amber:g}, amber {amber:g} to {green:g}, green "
             f"from {green:g}.",
             f"Score {_fmt(first['score'], 'points')} ({first['colour']}) at the start, "
             f"{_fmt(last['score'], 'points')} ({last['colour']}) at the end; lowest "
             f"{_fmt(data['score'].min(), 'points')}, highest {_fmt(data['score'].max(), 'points')}.",
             "Weeks per colour: " + ", ".join(f"{c} {int(counts[c])}" for c in COLOUR_ORDER if c in counts) + "."]
    if len(marks):
        parts.append("Marked: " + "; ".join(f"{i} {_label(m.date)} {m.label}"
                                            for i, m in enumerate(marks.itertuples(), start=1)) + ".")
    return " ".join(parts)


__all__ += ["score_history"]
