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

#: The one palette every report uses (hex RGB). ``green``/``amber``/``red`` are status colours,
#: ``neutral`` is "no data", ``target`` draws target lines, ``primary`` draws a data series.
PALETTE: dict[str, str] = {
    "green": "#009E73",    # Okabe–Ito bluish green
    "amber": "#F5C710",    # golden yellow
    "red": "#CC3311",      # Paul Tol's vibrant red
    "neutral": "#BBBBBB",  # light grey: no data
    "target": "#222222",   # near-black, dashed
    "primary": "#0072B2",  # Okabe–Ito blue: the data series
}

#: Order in which health colours are listed (worst first).
COLOUR_ORDER = ("red", "amber", "green")

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
    from .tables import fmt  # lazy: tables imports this module's palette
    return fmt(value, kind)


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
    if value is None or target is None or _missing(value) or _missing(target):
        return None
    if better not in ("higher", "lower"):
        raise ValueError("better must be 'higher' or 'lower'")
    return value >= target if better == "higher" else value <= target


def _missing(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def trend(df: pd.DataFrame, x: str, y: str, *, target: float | None = None, title: str | None = None,
          better: str = "higher", kind: str | None = None, ylabel: str | None = None) -> Chart:
    """A line chart of ``df[y]`` over ``df[x]`` with an optional dashed target line.

    ``kind`` is a :func:`workbook.tables.fmt` kind ("days", "pct", "nps", ...) used for the y axis
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
        ax.text(0.5, 0.5, "No data", ha="center", va="center", transform=ax.transAxes,
                color=PALETTE["neutral"], fontsize=14)
        ax.set_xticks([])
        ax.set_yticks([])
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


def _relative_luminance(hex_colour: str) -> float:
    """WCAG relative luminance of a ``#RRGGBB`` colour (0 black .. 1 white)."""
    rgb = [int(hex_colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast_ratio(a: str, b: str) -> float:
    """WCAG contrast ratio between two ``#RRGGBB`` colours (1 .. 21)."""
    la, lb = sorted((_relative_luminance(a), _relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_colour_on(background: str) -> str:
    """Black or white, whichever reads better on ``background``."""
    black, white = contrast_ratio(background, "#000000"), contrast_ratio(background, "#ffffff")
    return "#000000" if black >= white else "#ffffff"


__all__ = ["PALETTE", "COLOUR_ORDER", "Chart", "setup", "show", "trend", "colour_counts", "on_target",
           "new_figure", "image_bundle", "contrast_ratio", "text_colour_on"]
