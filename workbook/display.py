"""How values are shown, in one place: the palette, the missing-value test and the value formatters.

Used by every module that shows a value (tables, figures, sentences, the command line); it
imports nothing above :mod:`workbook.scoring`.

**Units.** A value's unit names how it is shown everywhere (:data:`UNITS`): the KPI units
(``days``, ``fraction``, ``nps``, ``points``, ``ces``, ``count``) plus ``money``, ``number``,
``date`` and ``text``. :func:`text` writes a value in its unit, in one of two styles:

- the default, for sentences and the KPI tables: ``31.2 days``, ``72.7%``, ``+12.5`` (NPS),
  ``77.7`` (points), ``5.50`` (CES), ``1,204``, ``$12,300`` (``$1.2M`` from a million up);
- ``short=True``, for columns of numbers and chart labels: ``31.2 d``, ``72.7%``, ``+12``
  (NPS, whole), ``78`` (points, whole), ``1,204``, ``$1,204,000`` (exact), and never ``-0``.

``change=True`` writes a signed difference in the unit (``+3.1 pp``, ``-2.0 days``); in the
short style a change that rounds to zero has no sign, and ``ces`` and ``count`` changes are
written as plain numbers. :func:`amount_text` writes the size of a difference in words
(``7.7 percentage points``).

Health scores and their changes have one table form, in the reports and on the command line
alike: :func:`score_text` (``79.9`` for 79.988: cut, so a shown score never reaches a threshold
the score has not) and :func:`score_change_text` (``+1.2``, ``0.0``, never ``-0.0``).

**Missing values** (None, NaN, NaT, pandas NA; :func:`is_missing`) are written as
:data:`MISSING` (``—``) unless the caller names another word (``no data`` in sentences).

**Palette.** :data:`PALETTE` (hex RGB) is the one set of colours every report uses; the health
colours are listed worst first (:data:`COLOUR_ORDER`). Status colours stay apart under
deuteranopia, protanopia and tritanopia (see :mod:`workbook.plots`).
"""
from __future__ import annotations

import datetime as dt
import math
import numbers
import re

import pandas as pd

from .scoring import COLOURS

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
COLOUR_ORDER = COLOURS

#: How a missing value is shown in tables and on charts.
MISSING = "—"

#: The units a value can be shown in, and what they show (default style; ``short=True`` style).
UNITS: dict[str, str] = {
    "days": "a number of days: 31.24 → '31.2 days' ('31.2 d'); change '+1.5 days' ('+1.5 d')",
    "fraction": "a share 0..1 as a percentage: 0.712 → '71.2%'; change in percentage points '+3.1 pp'",
    "nps": "NPS points -100..100, always signed: 12.5 → '+12.5' ('+12', whole)",
    "points": "a 0..100 score or readiness points, one decimal cut toward zero (77.76 → '77.7', 59.96 → "
              "'59.9': a red score never reads as the amber threshold); change '+8.0' ('+8')",
    "ces": "a customer-effort score 1..7: 5.5 → '5.50'",
    "count": "a whole number with thousands separators: 1204 → '1,204'",
    "money": "whole dollars: 12300 → '$12,300'; from a million up '$1.2M' ('$1,204,000', exact); change '-$1,200'",
    "number": "a number with two decimals: 1.2345 → '1.23' ('1,234.50' with separators)",
    "date": "an ISO date: 2024-06-30",
    "text": "the value as text",
}


# ---------------------------------------------------------------------------- missing values
def is_missing(value) -> bool:
    """True for None, NaN, NaT and pandas NA (a list or array is never missing)."""
    if value is None:
        return True
    if not pd.api.types.is_scalar(value):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


# ---------------------------------------------------------------------------- values in their unit
def text(value, unit: str | None = None, *, change: bool = False, short: bool = False,
         missing: str = MISSING) -> str:
    """``value`` written in ``unit`` (see :data:`UNITS` and the module docstring); ``missing``
    when the value is missing. Without a unit: numbers with thousands separators (floats one
    decimal), dates in ISO form, booleans yes/no, anything else as text. A value that is not a
    number where the unit expects one is written as text.
    """
    if is_missing(value):
        return missing
    if unit is not None and unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}; known: {', '.join(UNITS)}")
    out = _text(value, unit, change, short)
    return _no_negative_zero(out) if short else out


def _text(value, unit: str | None, change: bool, short: bool) -> str:
    if unit is None:
        return _auto(value)
    if unit in ("date", "text"):
        return date_text(value) if unit == "date" else str(value)
    number = _number(value)
    if number is None:
        return str(value)
    if short:
        return _short_change(number, unit) if change else _short(number, unit)
    return _change(number, unit) if change else _long(number, unit)


def _long(x: float, unit: str) -> str:
    if unit == "fraction":
        return f"{100 * x:.1f}%"
    if unit == "days":
        return f"{x:.1f} days"
    if unit == "nps":
        return f"{x:+.1f}"
    if unit == "count":
        return f"{x:,.0f}"
    if unit == "points":
        return _points(x)
    if unit == "money":
        return f"${x / 1_000_000:.1f}M" if abs(x) >= 1_000_000 else f"${x:,.0f}"
    return f"{x:.2f}"                                   # ces, number


def _change(x: float, unit: str) -> str:
    if unit == "fraction":
        return f"{100 * x:+.1f} pp"
    if unit == "days":
        return f"{x:+.1f} days"
    if unit == "count":
        return f"{x:+,.0f}"
    if unit in ("nps", "points"):
        return f"{x:+.1f}"
    if unit == "money":
        return ("-" if x < 0 else "+") + f"${abs(x):,.0f}"
    return f"{x:+.2f}"                                  # ces, number


def _short(x: float, unit: str) -> str:
    if unit == "days":
        return f"{x:.1f} d"
    if unit == "fraction":
        return f"{x * 100:.1f}%"
    if unit == "nps":
        return _signed(x, "+.0f")
    if unit == "points":
        return _points(x)
    if unit == "money":
        return ("-" if x < 0 else "") + f"${abs(x):,.0f}"
    if unit == "count":
        return f"{round(x):,}"
    return f"{x:,.2f}"                                  # ces, number


def _short_change(x: float, unit: str) -> str:
    if unit == "days":
        return _signed(x, "+.1f") + " d"
    if unit == "fraction":
        return _signed(x * 100, "+.1f") + " pp"
    if unit in ("nps", "points"):
        return _signed(x, "+.0f")
    return _short(x, unit)                              # ces, count, number, money: as values


#: Older names of table and chart formats, kept for callers written before the units: each is a
#: unit of :data:`UNITS`, or a change in one (``pp``: a change of a fraction).
ALIASES: dict[str, tuple[str, bool]] = {
    "pct": ("fraction", False),     # 0.712 → '71.2%'
    "pp": ("fraction", True),       # 0.031 → '+3.1 pp'
    "delta_days": ("days", True),   # -2 → '-2.0 d'
    "score": ("points", False),     # 80.6 → '80.6'
    "int": ("count", False),        # 1234 → '1,234'
}


def label(value, unit=None, *, change: bool = False) -> str:
    """``value`` as a table cell or chart label: :func:`text` in the short style. ``unit`` is a
    unit of :data:`UNITS`, an older name of :data:`ALIASES`, None (automatic) or a callable
    (called with the value); "—" when the value is missing."""
    if is_missing(value):
        return MISSING
    if callable(unit):
        return _no_negative_zero(str(unit(value)))
    if unit in ALIASES:
        unit, change = ALIASES[unit][0], change or ALIASES[unit][1]
    return text(value, unit, change=change, short=True)


def score_text(value) -> str:
    """A health score as every table shows it (the reports and ``workbook health``): one decimal
    cut toward zero (79.988 → ``79.9``), so the colour beside it always follows the thresholds
    applied to the number shown; "—" when missing."""
    return label(value, "points")


def score_change_text(value) -> str:
    """A change of a health score in points as every table shows it: one decimal with its sign
    (``+1.2``, ``-0.3``), ``0.0`` when it rounds to zero (never ``+0.0`` or ``-0.0``); "—" when
    missing."""
    if is_missing(value):
        return MISSING
    number = _number(value)
    return str(value) if number is None else _signed(number, "+.1f")


def amount_text(amount, unit: str) -> str:
    """The size of a difference (no sign) in words: ``7.7 percentage points``, ``3.1 days``,
    ``8.0 points`` (NPS and readiness), ``12`` (count), ``0.25`` (CES)."""
    amount = abs(float(amount))
    if unit == "fraction":
        return f"{100 * amount:.1f} percentage points"
    if unit == "days":
        return f"{amount:.1f} days"
    if unit in ("nps", "points"):
        return f"{amount:.1f} points"
    if unit == "count":
        return f"{amount:,.0f}"
    return f"{amount:.2f}"


def date_text(value) -> str:
    """An ISO date (``2024-06-30``) from a date, timestamp or date-like text; other values as text."""
    if isinstance(value, (dt.datetime, pd.Timestamp)):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        return pd.Timestamp(value).date().isoformat()
    except (TypeError, ValueError):
        return str(value)


def _number(value) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, numbers.Number):
        value = float(value)
        return None if math.isnan(value) else value
    return None


def _points(x: float) -> str:
    """A score to one decimal, cut (not rounded) toward zero: 59.96 reads '59.9', so a shown score
    never reaches a colour threshold (60, 80) that the score itself has not reached."""
    import math
    cut = math.floor(abs(x) * 10 + 1e-9) / 10
    return "0.0" if cut == 0 else f"{math.copysign(cut, x):.1f}"


def _signed(x: float, spec: str) -> str:
    """``x`` with a sign, except when it rounds to zero (``0.0``, never ``+0.0`` or ``-0.0``)."""
    out = format(x, spec)
    zero = format(0.0, spec.replace("+", ""))
    return zero if out.lstrip("+-") == zero else out


_NEGATIVE_ZERO = re.compile(r"^-(?=\$?0(?:\.0+)?(?![\d.]))")


def _no_negative_zero(out: str) -> str:
    """``-0.0%`` / ``-0`` / ``-$0`` (a tiny negative rounded away) as ``0.0%`` / ``0`` / ``$0``."""
    return _NEGATIVE_ZERO.sub("", out)


def _auto(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dt.date, pd.Timestamp)):
        if isinstance(value, (dt.datetime, pd.Timestamp)) and value != pd.Timestamp(value).normalize():
            return pd.Timestamp(value).isoformat(sep=" ", timespec="minutes")
        return date_text(value)
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        return f"{float(value):,.1f}"
    return str(value)


# ---------------------------------------------------------------------------- colours
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


__all__ = ["ALIASES", "COLOUR_ORDER", "MISSING", "PALETTE", "UNITS", "amount_text", "contrast_ratio", "date_text",
           "is_missing", "label", "score_change_text", "score_text", "text", "text_colour_on"]
