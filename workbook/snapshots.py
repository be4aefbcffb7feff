"""Calibration snapshots (SPEC section 6): every account's five dimensions on every observation
date, labelled with churn within the horizon, and the out-of-time split of their dates.

- :func:`build_snapshots` scores every account on every observation date (first of each month,
  plus ``as_of``) with :func:`workbook.health.dimension_scores` and labels each row: churned
  within ``horizon_days`` after the date. Rows whose horizon is not over by ``as_of`` stay
  unlabelled (``churned`` is null) and are counted, never used for training or testing.
- :func:`load_snapshots` reads and validates a reviewer's snapshot CSV into the same frame;
  :func:`synthetic_snapshots` draws a statistical test bed with known weights.
- :func:`split_dates` splits labelled observation dates out of time (train, gap, test).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

from .calibration import health_score, horizon
from .errors import BadInput, Finding
from .scoring import COLOURS, DIMENSIONS

__all__ = ["SNAPSHOT_COLUMNS", "observation_dates", "label_snapshots", "build_snapshots", "load_snapshots",
           "synthetic_snapshots", "split_dates", "check_snapshots", "from_source"]

SNAPSHOT_COLUMNS = ["account_id", "observed_at", *DIMENSIONS, "churned"]


def observation_dates(start, end) -> list[pd.Timestamp]:
    """The first day of every month from ``start`` (rounded up to a first) to ``end``, inclusive."""
    start, end = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    first = start if start.day == 1 else (start + pd.offsets.MonthBegin(1))
    return list(pd.date_range(first, end, freq="MS"))


def label_snapshots(frame: pd.DataFrame, churned_at: pd.Series, *, as_of, horizon_days: int) -> pd.Series:
    """Churn label per snapshot row: 1 when the account churned in (observed_at, observed_at + H],
    0 when it did not, null (``pd.NA``) when observed_at + H is after ``as_of`` (horizon not over).

    ``churned_at``: per row, the account's churn date (NaT when it has not churned). A churn dated
    after ``as_of`` does not exist yet (point-in-time). Returns an ``Int64`` series.
    """
    as_of = pd.Timestamp(as_of)
    obs = pd.to_datetime(frame["observed_at"])
    end = obs + pd.Timedelta(days=int(horizon_days))
    ch = pd.to_datetime(churned_at)
    ch = ch.where(ch <= as_of)
    label = ((ch > obs) & (ch <= end)).astype("Int64")
    return label.mask(end > as_of)


def build_snapshots(ws, *, as_of=None, horizon_days: int | None = None, dates=None, engine=None,
                    include_as_of: bool = True, progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Labelled dimension snapshots of every account on every observation date.

    Dates default to the first of each month from the start of the data (earliest signature or
    usage day) up to ``as_of`` (default: the latest usage date), plus ``as_of`` itself (the
    current snapshot, always unlabelled). Nothing is built after the data's end (the latest
    usage date): an ``as_of`` beyond it is cut back to it (``attrs['requested_as_of']`` keeps
    the request), and a label needs its horizon to be over by that date — the data cannot show
    a churn it does not contain. Scores come from
    :func:`workbook.health.dimension_scores` in one shared pass, so each row uses only facts
    dated on or before its date. Returns a DataFrame: ``account_id, observed_at`` (datetime),
    the five dimensions (0..1, NaN = no data), ``churned`` (Int64: 1/0, null while the horizon
    is not over), ``override_colour`` (the override active on that date, or null) and
    ``tenure_days`` (days since signature).
    ``attrs`` carries ``as_of``, ``horizon_days`` and ``source``.
    """
    from . import health
    if not hasattr(health, "dimension_scores"):
        raise RuntimeError("workbook.health.dimension_scores is not available in this version")
    H = horizon(horizon_days)
    accounts = ws.frame("accounts")
    if accounts.empty:
        raise BadInput("accounts", None, "has no rows: there is nothing to calibrate")
    data_end, requested, as_of = _window(ws, as_of)
    dates = _dates(ws, accounts, as_of, dates, include_as_of)
    if progress:
        progress(f"calibrate: scoring {len(accounts):,} accounts on {len(dates)} dates "
                 f"({dates[0]:%Y-%m-%d} .. {dates[-1]:%Y-%m-%d})")
    scores = health.dimension_scores(ws, dates, engine=engine)
    if scores.empty:
        raise BadInput("accounts", "signed_at", f"no account is signed and active on any observation date up to "
                       f"{as_of:%Y-%m-%d}: there is nothing to calibrate")
    snaps = _label(scores, accounts, as_of, H)
    active = health.active_overrides(ws, snaps.rename(columns={"observed_at": "date"}))
    snaps["override_colour"] = active["override_colour"].to_numpy()
    snaps = snaps.sort_values(["observed_at", "account_id"]).reset_index(drop=True)
    snaps.attrs.update(as_of=as_of, horizon_days=H, source=str(ws.source), data_end=data_end,
                       requested_as_of=requested)
    return snaps


def _window(ws, as_of) -> tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp]:
    """(data end, requested as_of, as_of used): the data ends on its latest usage date and
    ``as_of`` is cut back to it."""
    data_end = ws.usage_date_range[1]
    if data_end is None:
        raise BadInput("usage", "date", "has no rows: no account can be scored, so there is nothing to calibrate")
    data_end = pd.Timestamp(data_end).normalize()
    requested = pd.Timestamp(as_of).normalize() if as_of is not None else data_end
    return data_end, requested, min(requested, data_end)


def _dates(ws, accounts: pd.DataFrame, as_of: pd.Timestamp, dates, include_as_of: bool) -> list[pd.Timestamp]:
    """The observation dates on or before ``as_of`` (default: first of each month from the data's
    start, plus ``as_of``), sorted and unique; :class:`BadInput` when there is none."""
    if dates is None:
        starts = [accounts["signed_at"].min()]
        first_usage = ws.usage_date_range[0]
        if first_usage is not None:
            starts.append(first_usage)
        start = min(s for s in starts if pd.notna(s))
        dates = observation_dates(start, as_of)
        if include_as_of and (not dates or dates[-1] != as_of):
            dates.append(as_of)
    dates = sorted({pd.Timestamp(d).normalize() for d in dates if pd.Timestamp(d) <= as_of})
    if not dates:
        raise BadInput("snapshots", "observed_at", f"no observation date on or before as_of {as_of:%Y-%m-%d}")
    return dates


def _label(scores: pd.DataFrame, accounts: pd.DataFrame, as_of: pd.Timestamp, H: int) -> pd.DataFrame:
    """The dimension scores as snapshot rows with ``churned`` and ``tenure_days``."""
    snaps = scores.rename(columns={"date": "observed_at"})[["account_id", "observed_at", *DIMENSIONS]].copy()
    snaps["account_id"] = snaps["account_id"].astype("string")
    snaps["observed_at"] = pd.to_datetime(snaps["observed_at"]).astype("datetime64[ns]")
    for d in DIMENSIONS:
        snaps[d] = pd.to_numeric(snaps[d]).astype(float)
    by_id = accounts.set_index(accounts["account_id"].astype("string"))
    snaps["churned"] = label_snapshots(snaps, snaps["account_id"].map(by_id["churned_at"]), as_of=as_of,
                                       horizon_days=H)
    snaps["tenure_days"] = (snaps["observed_at"] - snaps["account_id"].map(by_id["signed_at"])).dt.days.astype("Int64")
    if "onboarding" in scores:              # scored against the onboarding plan (docs/health.md)
        snaps["onboarding"] = scores["onboarding"].fillna(False).to_numpy(dtype=bool)
    return snaps


def load_snapshots(path, *, horizon_days: int | None = None, as_of=None) -> pd.DataFrame:
    """Read and validate a reviewer's snapshot CSV (SPEC section 6 columns).

    Required: ``account_id, observed_at, adoption, engagement, sentiment, outcomes,
    relationship, churned``; optional ``override_colour`` (red/amber/green or empty) and
    ``tenure_days`` (days since signature, a whole number >= 0 or empty). Dimensions
    are 0..1 (an empty cell = no data for that dimension), churned is 0 or 1 (within the
    horizon), observed_at an ISO date, and (account_id, observed_at) unique. Every broken rule is
    collected and raised together as :class:`BadInput` (exit code 2 on the command line).

    ``as_of`` defaults to the latest observed_at + ``horizon_days`` (every row labelled); rows
    observed after ``as_of`` are dropped and counted (``attrs['n_after_as_of']``), rows whose
    horizon ends after ``as_of`` become unlabelled. Returns the frame of :func:`build_snapshots`.
    """
    path = Path(path)
    name = str(path)
    H = horizon(horizon_days)
    out = _parse(_read(path), name)
    as_of = pd.Timestamp(as_of).normalize() if as_of is not None else out["observed_at"].max() + pd.Timedelta(days=H)
    after = out["observed_at"] > as_of
    out = out[~after].copy()
    if out.empty:
        raise BadInput(name, "observed_at", f"every row is observed after as_of {as_of:%Y-%m-%d}", int(after.sum()))
    out.loc[out["observed_at"] + pd.Timedelta(days=H) > as_of, "churned"] = pd.NA
    out = out.sort_values(["observed_at", "account_id"]).reset_index(drop=True)
    out.attrs.update(as_of=as_of, horizon_days=H, source=name, n_after_as_of=int(after.sum()))
    return out


def _read(path: Path) -> pd.DataFrame:
    """The snapshot CSV as stripped text cells, with every required column, or :class:`BadInput`."""
    name = str(path)
    if not path.is_file():
        raise BadInput(name, None, "snapshot file does not exist")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        why = str(exc).splitlines()[0] if str(exc) else "empty"
        raise BadInput(name, None, f"is not a readable CSV file ({why})") from None
    raw.columns = [str(c).strip() for c in raw.columns]
    missing = [c for c in SNAPSHOT_COLUMNS if c not in raw.columns]
    if missing:
        raise BadInput(name, missing[0], f"required column(s) missing: {', '.join(missing)} "
                       f"(expected {', '.join(SNAPSHOT_COLUMNS)})")
    if raw.empty:
        raise BadInput(name, None, "has no rows")
    return raw.apply(lambda c: c.str.strip())


def _parse(raw: pd.DataFrame, name: str) -> pd.DataFrame:
    """Typed snapshot columns from the text cells; every broken rule raised together (file ``name``)."""
    findings: list[Finding] = []
    line = pd.Series(np.arange(len(raw)) + 2, index=raw.index)           # header is line 1

    def fail(col, rule, mask):
        if mask.any():
            ex = [f"line {ln} ({aid or '?'})" for ln, aid in zip(line[mask][:5], raw.loc[mask, "account_id"][:5])]
            findings.append(Finding("error", name, col, rule, int(mask.sum()), tuple(ex)))

    fail("account_id", "must not be empty", raw["account_id"] == "")
    obs = pd.to_datetime(raw["observed_at"].str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
    fail("observed_at", "must be an ISO date (YYYY-MM-DD)", obs.isna())
    out = pd.DataFrame({"account_id": raw["account_id"].astype("string"), "observed_at": obs})
    for d in DIMENSIONS:
        text = raw[d]
        num = pd.to_numeric(text.where(text != ""), errors="coerce")
        fail(d, "must be a number (or empty for no data)", (text != "") & num.isna())
        fail(d, "must be within 0..1", num.notna() & ((num < 0) | (num > 1)))
        out[d] = num.astype(float)
    ch = pd.to_numeric(raw["churned"].where(raw["churned"] != ""), errors="coerce")
    fail("churned", "must be 0 or 1 (churned within the horizon)", ~ch.isin([0, 1]))
    _optional_columns(raw, out, fail)
    dup = out.duplicated(["account_id", "observed_at"], keep=False) & obs.notna()
    fail("account_id, observed_at", "must be unique together (one snapshot per account and date)", dup)
    if findings:
        raise BadInput.from_findings(findings)
    out["churned"] = ch.astype("Int64")
    if "tenure_days" in out.columns:
        out["tenure_days"] = out["tenure_days"].round().astype("Int64")
    out["observed_at"] = out["observed_at"].astype("datetime64[ns]")
    return out


def _optional_columns(raw: pd.DataFrame, out: pd.DataFrame, fail: Callable) -> None:
    """``override_colour`` (always, null when absent), ``onboarding`` and ``tenure_days`` (when
    present) into ``out``."""
    if "override_colour" in raw.columns:
        oc = raw["override_colour"].str.lower()
        fail("override_colour", "must be red, amber, green or empty", ~oc.isin(["", *COLOURS]))
        out["override_colour"] = oc.where(oc != "").astype("string")
    else:
        out["override_colour"] = pd.Series(pd.NA, index=raw.index, dtype="string")
    if "onboarding" in raw.columns:        # scored against the onboarding plan (docs/health.md)
        flag = raw["onboarding"].str.strip().str.lower()
        fail("onboarding", "must be true/false, 1/0, yes/no or empty",
             ~flag.isin(["", "true", "false", "1", "0", "yes", "no"]))
        out["onboarding"] = flag.isin(["true", "1", "yes"]).to_numpy()
    if "tenure_days" in raw.columns:
        text = raw["tenure_days"]
        num = pd.to_numeric(text.where(text != ""), errors="coerce")
        fail("tenure_days", "must be a whole number >= 0 (or empty)",
             (text != "") & (num.isna() | (num < 0) | (num % 1 != 0)))
        out["tenure_days"] = num


def synthetic_snapshots(n_accounts: int = 1000, months: int = 24, *, weights=None, intercept: float = 2.0,
                        slope: float = -8.0, missing: Mapping[str, float] | None = None,
                        start: str = "2024-01-01", late_shift: Mapping[str, float] | None = None,
                        seed: int = 0) -> pd.DataFrame:
    """A statistical test bed: snapshots whose churn follows known weights (not a sample world).

    Each account has a persistent level per dimension (Beta(1.5, 1.5)); each month's value mixes
    it with fresh noise (60/40), so rows of one account are correlated. A share of each
    dimension (``missing``, default 10% sentiment) is NaN. The label is drawn from
    churn = expit(intercept + slope × score/100) with score the redistributed health score under
    ``weights`` (default 40/10/5/30/15). ``late_shift`` adds a constant to a dimension in the
    final month (for drift tests). Observation dates are first-of-month from ``start``.
    Returns the :func:`load_snapshots` frame, every row labelled.
    """
    rng = np.random.default_rng(seed)
    weights = weights or {"adoption": 40, "engagement": 10, "sentiment": 5, "outcomes": 30, "relationship": 15}
    missing = {"sentiment": 0.10} if missing is None else missing
    dates = pd.date_range(start, periods=months, freq="MS")
    k = len(DIMENSIONS)
    level = rng.beta(1.5, 1.5, size=(n_accounts, 1, k))
    x = 0.6 * level + 0.4 * rng.beta(1.5, 1.5, size=(n_accounts, months, k))
    for j, d in enumerate(DIMENSIONS):
        if late_shift and d in late_shift:
            x[:, -1, j] += late_shift[d]
    x = np.clip(x, 0, 1).reshape(-1, k)
    for j, d in enumerate(DIMENSIONS):
        share = missing.get(d, 0.0)
        if share:
            x[rng.random(len(x)) < share, j] = np.nan
    score = health_score(x, weights)
    p = expit(intercept + slope * np.nan_to_num(score, nan=50.0) / 100.0)
    frame = pd.DataFrame(x, columns=list(DIMENSIONS))
    frame.insert(0, "observed_at", np.tile(dates.to_numpy(), n_accounts))
    frame.insert(0, "account_id", pd.array(np.repeat([f"S{i:06d}" for i in range(n_accounts)], months), dtype="string"))
    frame["churned"] = pd.array((rng.random(len(frame)) < p).astype(int), dtype="Int64")
    frame["override_colour"] = pd.Series(pd.NA, index=frame.index, dtype="string")
    frame = frame.sort_values(["observed_at", "account_id"]).reset_index(drop=True)
    frame.attrs.update(as_of=dates[-1] + pd.Timedelta(days=90), horizon_days=90, source="synthetic")
    return frame


def split_dates(dates, horizon_days: int, test_fraction: float = 0.25) -> dict[str, list[pd.Timestamp]]:
    """Out-of-time split of labelled observation dates.

    Test: the last ``ceil(test_fraction × n_dates)`` dates. Train: the dates whose label window
    (date, date + horizon] ends on or before the first test date — so every training label was
    known when the test period starts. Dates in between are the gap (used for neither).
    Returns ``{"train": [...], "gap": [...], "test": [...]}``; raises :class:`BadInput` when
    there is no training date left.
    """
    dates = sorted({pd.Timestamp(d) for d in dates})
    if len(dates) < 2:
        raise BadInput("snapshots", "observed_at", f"an out-of-time split needs at least 2 labelled observation "
                       f"dates, found {len(dates)}")
    n_test = max(1, math.ceil(test_fraction * len(dates)))
    test = dates[-n_test:]
    cut = test[0]
    train = [d for d in dates[:-n_test] if d + pd.Timedelta(days=int(horizon_days)) <= cut]
    gap = [d for d in dates[:-n_test] if d not in train]
    if not train:
        raise BadInput("snapshots", "observed_at", f"no observation date ends its {horizon_days}-day label window "
                       f"before the test period starts {cut:%Y-%m-%d}: need a longer history "
                       f"({len(dates)} labelled dates)")
    return {"train": train, "gap": gap, "test": test}


def check_snapshots(snapshots: pd.DataFrame) -> pd.DataFrame:
    """A copy of a snapshot frame with typed columns (``observed_at`` datetime, ``churned`` and
    ``tenure_days`` Int64, ``override_colour`` present), or :class:`BadInput` for a missing column."""
    missing = [c for c in SNAPSHOT_COLUMNS if c not in snapshots.columns]
    if missing:
        raise BadInput("snapshots", missing[0], f"required column(s) missing: {', '.join(missing)}")
    snaps = snapshots.copy()
    snaps["observed_at"] = pd.to_datetime(snaps["observed_at"]).astype("datetime64[ns]")
    snaps["churned"] = pd.to_numeric(snaps["churned"]).astype("Int64")
    if "tenure_days" in snaps.columns:
        snaps["tenure_days"] = pd.to_numeric(snaps["tenure_days"]).astype("Int64")
    if "override_colour" not in snaps.columns:
        snaps["override_colour"] = pd.Series(pd.NA, index=snaps.index, dtype="string")
    return snaps


def from_source(*, data=None, path=None, as_of=None, horizon_days: int | None = None,
                progress: Callable[[str], None] | None = None,
                revalidate: bool = False) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The snapshots to calibrate on and the accounts table: built from the data source ``data``
    (a folder or DuckDB file, :func:`build_snapshots`) or read from the snapshot CSV ``path``
    (:func:`load_snapshots`; no accounts table, so None). ``attrs['as_of']`` is the date used.
    ``revalidate`` checks the data again instead of trusting its validation receipt."""
    if data:
        from .workspace import open_data
        ws = open_data(data, revalidate=revalidate, progress=progress)
        try:
            snaps = build_snapshots(ws, as_of=as_of, horizon_days=horizon_days, progress=progress)
            return snaps, ws.frame("accounts")
        finally:
            ws.close()
    return load_snapshots(path, horizon_days=horizon_days, as_of=as_of), None
