"""The report palette, figures with alt text, and the generic chart helpers."""
from __future__ import annotations

import base64
import itertools

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from workbook import plots
from workbook.plots import PALETTE

# Machado, Oliveira & Fernandes (2009), severity 1.0, applied to linear RGB.
CVD = {
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                   [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                     [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                   [0.004733, 0.691367, 0.303900]],
    "typical": np.eye(3).tolist(),
}


def _linear(hex_colour: str) -> np.ndarray:
    c = np.array([int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _lab(linear_rgb: np.ndarray) -> np.ndarray:
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) \
        @ np.clip(linear_rgb, 0, 1)
    t = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


@pytest.fixture
def published(monkeypatch):
    """Captures what plots.show publishes instead of sending it to a front end."""
    seen: list[tuple[dict, dict]] = []
    monkeypatch.setattr(plots, "_publish", lambda data, meta: seen.append((data, meta)))
    return seen


@pytest.mark.parametrize("vision", sorted(CVD))
def test_status_colours_stay_apart_for_colour_blind_readers(vision):
    matrix = np.array(CVD[vision])
    lab = {k: _lab(matrix @ _linear(PALETTE[k])) for k in ("green", "amber", "red", "neutral")}
    for a, b in itertools.combinations(("green", "amber", "red"), 2):
        assert np.linalg.norm(lab[a] - lab[b]) >= 30, (vision, a, b)
    for key in ("green", "amber", "red"):
        assert np.linalg.norm(lab[key] - lab["neutral"]) >= 20, (vision, key)


def test_palette_has_the_named_colours():
    assert {"green", "amber", "red", "neutral", "target"} <= set(PALETTE)
    for colour in PALETTE.values():
        assert len(colour) == 7 and colour.startswith("#")
        int(colour[1:], 16)


def test_contrast_ratio_and_text_colour():
    assert plots.contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert plots.contrast_ratio("#777777", "#777777") == pytest.approx(1.0)
    for key in ("green", "amber", "red", "neutral"):
        text = plots.text_colour_on(PALETTE[key])
        assert plots.contrast_ratio(PALETTE[key], text) >= 4.5, key


def test_show_publishes_an_embedded_png_with_alt_text_and_closes_the_figure(published):
    fig, ax = plt.subplots(figsize=(4, 2))
    ax.plot([1, 2, 3])
    plots.show(fig, alt="A rising line.")
    assert plt.get_fignums() == []
    (data, meta), = published
    assert data["text/plain"] == "A rising line."
    png = base64.b64decode(data["image/png"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert meta["image/png"]["alt"] == "A rising line."
    # drawn at DPI, shown at 100 px per inch: about 400 x 200 CSS pixels
    assert meta["image/png"]["width"] == pytest.approx(400, abs=2)
    assert meta["image/png"]["height"] == pytest.approx(200, abs=2)


@pytest.mark.parametrize("alt", ["", "   ", None])
def test_show_refuses_a_figure_without_alt_text(published, alt):
    fig, _ = plots.new_figure()
    with pytest.raises(ValueError, match="alt text"):
        plots.show(fig, alt=alt)
    assert published == []


@pytest.fixture
def weekly():
    weeks = pd.date_range("2024-05-05", periods=4, freq="7D")
    return pd.DataFrame({"week": weeks, "rate": [0.62, 0.66, np.nan, 0.71]})


def test_trend_alt_text_describes_period_latest_range_and_target(weekly):
    chart = plots.trend(weekly, "week", "rate", target=0.75, title="Completion rate", kind="pct")
    assert chart.alt == ("Line chart: Completion rate, 3 points from 2024-05-05 to 2024-05-26. "
                         "Latest 71.0%; lowest 62.0%, highest 71.0%. "
                         "Target 75.0% (higher is better): latest is off target.")
    ax = chart.fig.axes[0]
    target_lines = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(target_lines) == 1 and target_lines[0].get_ydata()[0] == 0.75
    assert ax.yaxis.get_major_formatter()(0.5, 0) == "50.0%"


def test_trend_lower_is_better_and_no_target(weekly):
    on = plots.trend(weekly, "week", "rate", target=0.8, better="lower", kind="pct")
    assert on.alt.endswith("(lower is better): latest is on target.")
    plain = plots.trend(weekly, "week", "rate")
    assert "Target" not in plain.alt


def test_trend_without_data_says_so(weekly):
    chart = plots.trend(weekly.assign(rate=np.nan), "week", "rate", title="NPS")
    assert chart.alt == "Line chart: NPS. No data for this period."


def test_chart_displays_itself_through_show(published, weekly):
    chart = plots.trend(weekly, "week", "rate", kind="pct")
    chart._ipython_display_()
    assert published[0][1]["image/png"]["alt"] == chart.alt
    assert chart.png().startswith(b"\x89PNG")


def test_chart_helpers_do_not_leave_pyplot_figures(weekly):
    plots.trend(weekly, "week", "rate")
    plots.colour_counts({"green": 1})
    assert plt.get_fignums() == []


def test_colour_counts_orders_worst_first_and_states_counts():
    chart = plots.colour_counts({"green": 12, "red": 3, "amber": 5})
    assert chart.alt == "Bar chart: Accounts by health colour. 3 red, 5 amber, 12 green; 20 accounts in total."
    ax = chart.fig.axes[0]
    labels_top_down = [t.get_text() for t in sorted(ax.get_yticklabels(), key=lambda t: -t.get_position()[1])]
    assert labels_top_down == ["red", "amber", "green"]
    colours = {p.get_y(): p.get_facecolor() for p in ax.patches}
    assert len(colours) == 3


def test_colour_counts_accepts_a_series_and_unknown_colours():
    chart = plots.colour_counts(pd.Series({"amber": 2, "no data": 1}), title="Colours")
    assert chart.alt == "Bar chart: Colours. 2 amber, 1 no data; 3 accounts in total."


def test_on_target():
    assert plots.on_target(0.8, 0.75) is True
    assert plots.on_target(30, 25, better="lower") is False
    assert plots.on_target(None, 25) is None
    assert plots.on_target(float("nan"), 25) is None
    with pytest.raises(ValueError):
        plots.on_target(1, 2, better="up")


def test_setup_sets_report_width_theme():
    plots.setup()
    assert tuple(plt.rcParams["figure.figsize"]) == plots.FIGSIZE
    assert plt.rcParams["axes.spines.top"] is False
