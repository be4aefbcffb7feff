"""Risk signals: the adoption decline pattern, risk archetypes, lifecycle stage and score alerts.

Every function works for many dates at once and only on facts dated on or before each date
(point-in-time). Usage is read through :func:`workbook.adoption.adoption_signals` (one usage
query for all dates); the small tables (milestones, contacts, tickets, advocacy) are handled with
vectorised pandas "as-of" look-ups, never one pass per account or per date.

Rules (constants in the ``signals:`` section of ``params/health.yaml``; docs/health.md has the
worked examples):

- **lifecycle stage** from milestones: onboarding → adoption (go_live, activation,
  onboarding_complete or handover reached) → value realization (first_value) → retention
  (first_value and onboarding_complete or handover) → loyalty & growth (retention and an
  advocacy event). Skipped stages are allowed; a stage is never left backwards.
- **decline pattern**: breadth, depth, frequency and stakeholders all strictly lower over the last
  28 days than over the 28 days before.
- **stuck**: in onboarding, adoption or value realization for longer than the benchmark (the
  segment's 75th percentile of completed stays in that stage, known on the date).
- **championless**: the contacts table exists and no champion is active.
- **victim**: at least 3 tickets, or at least 1 escalated ticket, opened in the last 30 days.
- **slacker**: active days in the last 28 fell by at least half from at least 6 in the 28 before.
- **alert**: ARR at or above the threshold and the score more than 10 points below its highest
  weekly value of the last 4 weeks (:func:`score_alerts`).
"""
from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .adoption import adoption_signals
from .errors import BadInput

STAGES = ("onboarding", "adoption", "value realization", "retention", "loyalty & growth")
STUCK_STAGES = ("onboarding", "adoption", "value realization")
ARCHETYPES = ("stuck", "championless", "victim", "slacker")
ROLES = ("champion", "decision_maker", "business_owner", "user")
_PACKAGE_PARAMS = Path(__file__).resolve().parent.parent / "params"
_FAR_PAST = pd.Timestamp("1900-01-01")


# ---------------------------------------------------------------------------- settings
def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in (over or {}).items():
        out[k] = _merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


def load_settings(name: str = "health") -> dict[str, Any]:
    """``params/<name>.yaml`` merged over the repository's own copy (which supplies any missing key).

    A params directory made for one purpose (say, a test with only ``active_weights``) still
    gets every tuning constant; a key it does set wins.
    """
    from .params import params_dir
    here = params_dir() / f"{name}.yaml"
    base_path = _PACKAGE_PARAMS / f"{name}.yaml"
    base = _read_cached(base_path) if base_path.is_file() else {}
    over = _read_cached(here) if here.is_file() and here.resolve() != base_path.resolve() else {}
    return _merge(base, over)


_CACHE: dict[Path, tuple[float, int, dict]] = {}


def _read_cached(path: Path) -> dict:
    """read_yaml, re-read whenever the file's modification time or size changes."""
    from .params import read_yaml
    st = path.stat()
    hit = _CACHE.get(path)
    if hit is None or hit[:2] != (st.st_mtime, st.st_size):
        hit = (st.st_mtime, st.st_size, read_yaml(path))
        _CACHE[path] = hit
    return copy.deepcopy(hit[2])


def number(cfg: dict, path: str, *, source: str = "params/health.yaml", minimum: float | None = 0,
           integer: bool = False) -> float:
    """The number at dotted ``path`` of ``cfg``; :class:`BadInput` naming the key when wrong."""
    value: Any = cfg
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadInput(source, path, f"must be a number, got {value!r}")
    if minimum is not None and value < minimum:
        raise BadInput(source, path, f"must be >= {minimum:g}, got {value!r}")
    if integer and value != int(value):
        raise BadInput(source, path, f"must be a whole number, got {value!r}")
    return int(value) if integer else float(value)


def by_segment(cfg: dict, path: str, segments: pd.Series, source: str = "params/health.yaml") -> np.ndarray:
    """Per-row value of a ``{segment: number, default: number}`` map at ``path`` (floats)."""
    value: Any = cfg
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if not isinstance(value, dict) or "default" not in value:
        raise BadInput(source, path, "must map segments to numbers and give a default")
    for k, v in value.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
            raise BadInput(source, f"{path}.{k}", f"must be a number > 0, got {v!r}")
    mapped = segments.astype("object").map({k: float(v) for k, v in value.items() if k != "default"})
    return mapped.fillna(float(value["default"])).to_numpy(dtype="float64")


# ---------------------------------------------------------------------------- as-of look-ups
_DAY_SPAN = np.int64(1 << 24)     # room for every day from 1900 to far beyond 2100 in one key
_DAY_OFFSET = np.int64(1 << 23)


def _days(values) -> np.ndarray:
    """Dates as whole days since 1970 (int64)."""
    return np.asarray(values, dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)


@dataclass(frozen=True)
class GridKeys:
    """Integer keys of a grid (account_id, date): built once, shared by every look-up on it."""

    ids: pd.Index           # the distinct account ids; a row's code is its position here
    code: np.ndarray        # per grid row
    day: np.ndarray         # per grid row, days since 1970


def grid_keys(grid: pd.DataFrame) -> GridKeys:
    """The :class:`GridKeys` of a frame with ``account_id`` and ``date``."""
    codes, uniques = pd.factorize(grid["account_id"])
    return GridKeys(pd.Index(uniques), np.asarray(codes, dtype=np.int64), _days(grid["date"]))


def account_codes(ids: pd.Index, values) -> np.ndarray:
    """Position of each of ``values`` in ``ids`` (int64; -1 when absent or missing).

    Equal to ``ids.get_indexer(values)``; string ids are matched by Arrow's hash look-up
    (about 15 times faster than ``get_indexer`` on Arrow-backed strings).
    """
    try:
        wanted, known = pa.array(values), pa.array(ids)
    except (pa.ArrowException, TypeError, ValueError):
        wanted = known = None
    if wanted is not None and all(pa.types.is_string(a.type) or pa.types.is_large_string(a.type)
                                  for a in (wanted, known)):
        pos = pc.index_in(wanted.cast(pa.large_string()), value_set=known.cast(pa.large_string()))
        return pos.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    return np.asarray(ids.get_indexer(values), dtype=np.int64)


class Timeline:
    """The events of a small table lined up for as-of look-ups on a grid (sorted once).

    ``events`` has ``account_id``, ``date`` and the numeric ``cols``. Running totals per account
    (reset at each account, so no cancellation across accounts) are found by binary search:
    no per-account or per-date loop.
    """

    def __init__(self, keys: GridKeys, events: pd.DataFrame, cols: list[str] = ()):
        self.keys, self.cols = keys, list(cols)
        code = account_codes(keys.ids, events["account_id"]) if len(events) else \
            np.zeros(0, dtype=np.int64)
        day = _days(events["date"]) if len(events) else np.zeros(0, dtype=np.int64)
        ok = (code >= 0) & (day > np.iinfo(np.int64).min)
        key = np.where(ok, code * _DAY_SPAN + day + _DAY_OFFSET, -1)
        order = np.argsort(key, kind="stable")
        order = order[key[order] >= 0]
        self.key = key[order]
        if self.cols:
            vals = events[self.cols].to_numpy(dtype="float64")[order]
            self.cum = pd.DataFrame(vals).groupby(self.key // _DAY_SPAN, sort=False).cumsum().to_numpy()

    def _position(self, day: np.ndarray) -> np.ndarray:
        """Index of each grid row's last event on or before ``day`` (same account); -1 when none."""
        code = self.keys.code
        pos = np.searchsorted(self.key, code * _DAY_SPAN + day + _DAY_OFFSET, side="right") - 1
        hit = pos >= 0
        hit[hit] = (self.key[pos[hit]] // _DAY_SPAN) == code[hit]
        return np.where(hit, pos, -1)

    def sums(self, window_days: int | None = None) -> np.ndarray:
        """Per grid row, the totals of ``cols`` over events dated ``date - window_days + 1 .. date``
        (everything up to ``date`` when None); shape (rows, cols), zeros where nothing."""
        if not len(self.key):
            return np.zeros((len(self.keys.code), len(self.cols)))

        def at(day):
            pos = self._position(day)
            return np.where((pos >= 0)[:, None], self.cum[np.maximum(pos, 0)], 0.0)
        total = at(self.keys.day)
        if window_days is not None:
            total = total - at(self.keys.day - int(window_days))
        return total

    def last(self) -> np.ndarray:
        """Per grid row, the latest event date on or before the row's date (datetime64[ns], NaT when none)."""
        out = np.full(len(self.keys.code), np.datetime64("NaT"), dtype="datetime64[ns]")
        if not len(self.key):
            return out
        pos = self._position(self.keys.day)
        ok = pos >= 0
        out[ok] = ((self.key[pos[ok]] % _DAY_SPAN) - _DAY_OFFSET).astype("datetime64[D]")
        return out


def window_sums(grid: pd.DataFrame, events: pd.DataFrame, cols: list[str],
                window_days: int | None = None, *, keys: GridKeys | None = None) -> pd.DataFrame:
    """Sum of ``cols`` over each account's events dated in the window ending on each grid date.

    ``grid`` has ``account_id`` and ``date``; ``events`` has ``account_id``, ``date`` and ``cols``.
    The window is the ``window_days`` days ``date - window_days + 1 .. date`` (all history up to
    ``date`` when None). Returns a frame aligned with ``grid`` (0 where there is nothing).
    """
    if events is None or events.empty or grid.empty:
        return pd.DataFrame(0.0, index=grid.index, columns=cols)
    tl = Timeline(grid_keys(grid) if keys is None else keys, events, cols)
    return pd.DataFrame(tl.sums(window_days), index=grid.index, columns=cols)


def last_date(grid: pd.DataFrame, events: pd.DataFrame, *, keys: GridKeys | None = None) -> pd.Series:
    """The latest event date on or before each grid date, per account (NaT when none)."""
    if events is None or events.empty or grid.empty:
        return pd.Series(pd.NaT, index=grid.index, dtype="datetime64[ns]")
    tl = Timeline(grid_keys(grid) if keys is None else keys, events)
    return pd.Series(tl.last(), index=grid.index)


def contact_counts(ws, grid: pd.DataFrame, *, keys: GridKeys | None = None) -> pd.DataFrame:
    """Contacts per grid row (account_id, date): ``known`` (started on or before the date, or no
    start given), ``active`` (and not left by it), ``active_<role>`` per role and
    ``active_sponsor`` (executive sponsors). All zero when the contacts table is absent."""
    cols = ["known", "active", *(f"active_{r}" for r in ROLES), "active_sponsor"]
    if not ws.has("contacts"):
        return pd.DataFrame(0.0, index=grid.index, columns=cols)
    c = ws.frame("contacts")
    start = c["started_at"].fillna(_FAR_PAST)
    sponsor = c["is_executive_sponsor"].fillna(False).astype(bool).to_numpy()
    base = {"account_id": c["account_id"]}
    ups = pd.DataFrame({**base, "date": start, "known": 1.0, "active": 1.0,
                        **{f"active_{r}": (c["role"] == r).fillna(False).astype(float).to_numpy() for r in ROLES},
                        "active_sponsor": sponsor.astype(float)})
    left = c["left_at"].notna().to_numpy()
    downs = ups[left].copy()
    downs["date"] = c.loc[left, "left_at"].to_numpy()
    downs[cols] = -downs[cols]
    downs["known"] = 0.0
    return window_sums(grid, pd.concat([ups, downs], ignore_index=True), cols, keys=keys)


# ---------------------------------------------------------------------------- lifecycle
def stage_entries(ws) -> pd.DataFrame:
    """Per account, the date it entered each lifecycle stage (NaT: not yet, in all the data).

    Columns ``account_id``, ``segment``, ``signed_at`` and ``entered_<k>`` for k = 0..4 (the
    indexes of :data:`STAGES`). Entry to stage k is the first day the conditions of stage k or
    of any later stage held, so entries never decrease and a stage can be skipped.
    """
    acc = ws.frame("accounts")[["account_id", "segment", "signed_at"]].copy()
    ms = ws.frame("milestones")
    piv = ms.pivot_table(index="account_id", columns="milestone", values="reached_at", aggfunc="min")
    piv = piv.reindex(acc["account_id"].astype(object)).reset_index(drop=True)

    def col(name):
        return piv[name].astype("datetime64[ns]") if name in piv else pd.Series(pd.NaT, index=piv.index,
                                                                               dtype="datetime64[ns]")
    finished = pd.concat([col("onboarding_complete"), col("handover")], axis=1).min(axis=1)
    c1 = pd.concat([col("go_live"), col("activation"), finished], axis=1).min(axis=1)
    c2 = col("first_value")
    c3 = pd.concat([c2, finished], axis=1).max(axis=1, skipna=False)
    if ws.has("advocacy"):
        adv = ws.frame("advocacy").groupby("account_id")["date"].min()
        adv.index = adv.index.astype(object)
        first_adv = pd.Series(adv.reindex(acc["account_id"].astype(object).to_numpy()).to_numpy(dtype="datetime64[ns]"))
    else:
        first_adv = pd.Series(pd.NaT, index=piv.index, dtype="datetime64[ns]")
    c4 = pd.concat([c3, first_adv], axis=1).max(axis=1, skipna=False)
    acc = acc.reset_index(drop=True)
    acc["entered_4"] = c4
    acc["entered_3"] = pd.concat([c3, c4], axis=1).min(axis=1)
    acc["entered_2"] = pd.concat([c2, acc["entered_3"]], axis=1).min(axis=1)
    acc["entered_1"] = pd.concat([c1, acc["entered_2"]], axis=1).min(axis=1)
    acc["entered_0"] = acc["signed_at"]
    return acc


def lifecycle(ws, dates: Iterable, *, entries: pd.DataFrame | None = None,
              grid: pd.DataFrame | None = None) -> pd.DataFrame:
    """Lifecycle stage per live account and date, with time in stage and the stuck rule.

    Returns one row per (``account_id``, ``date``) for accounts signed on or before the date and
    not churned by it: ``lifecycle_stage`` (one of :data:`STAGES`), ``stage_entered_at``,
    ``days_in_stage`` (calendar days), ``stage_benchmark_days`` (the segment's percentile of
    completed stays in that stage known on the date; NaN for retention and loyalty & growth) and
    ``stuck`` (days_in_stage > benchmark).
    """
    cfg = load_settings()
    entries = stage_entries(ws) if entries is None else entries
    grid = (_live_grid(ws, dates) if grid is None else grid)[["account_id", "date"]]
    g = grid.merge(entries, on="account_id", how="left")
    when = g["date"].to_numpy(dtype="datetime64[ns]")
    ent = np.stack([g[f"entered_{k}"].to_numpy(dtype="datetime64[ns]") for k in range(5)], axis=1)
    reached = (~np.isnat(ent)) & (ent <= when[:, None])
    stage = reached.sum(axis=1) - 1                      # entries are ordered, so count = index + 1
    stage = np.clip(stage, 0, 4)
    entered = ent[np.arange(len(g)), stage]
    out = pd.DataFrame({"account_id": g["account_id"].to_numpy(), "date": g["date"].to_numpy()})
    out["lifecycle_stage"] = pd.Series(np.asarray(STAGES, dtype=object)[stage], dtype="string")
    out["stage_entered_at"] = entered
    out["days_in_stage"] = (when - entered).astype("timedelta64[D]").astype("int64")
    bench = _stage_benchmarks(entries, g, stage, cfg)
    out["stage_benchmark_days"] = bench
    out["stuck"] = np.isin(stage, [0, 1, 2]) & (out["days_in_stage"].to_numpy() > np.nan_to_num(bench, nan=np.inf))
    return out


def _stage_benchmarks(entries: pd.DataFrame, g: pd.DataFrame, stage: np.ndarray, cfg: dict) -> np.ndarray:
    """Per grid row: the benchmark days for its current stage (stuck stages only), point-in-time."""
    q = number(cfg, "signals.stuck.percentile", minimum=0)
    if q > 1:
        raise BadInput("params/health.yaml", "signals.stuck.percentile", f"must be within 0..1, got {q}")
    min_cohort = number(cfg, "signals.stuck.min_cohort", minimum=1, integer=True)
    fallback = {s: number(cfg, f"signals.stuck.fallback_days.{s.replace(' ', '_')}", minimum=0)
                for s in STUCK_STAGES}
    out = np.full(len(g), np.nan)
    dates = np.unique(g["date"].to_numpy(dtype="datetime64[ns]"))
    if not len(dates):
        return out
    for k, name in enumerate(STUCK_STAGES):
        start, end = entries[f"entered_{k}"], entries[f"entered_{k + 1}"]
        done = end.notna() & start.notna() & (end > start)
        stays = pd.DataFrame({"segment": entries.loc[done, "segment"].astype(object).to_numpy(),
                              "end": end[done].to_numpy(dtype="datetime64[ns]"),
                              "days": (end[done] - start[done]).dt.days.to_numpy(dtype="float64")})
        rows = []
        for d in dates:                                   # a handful of dates; each step is vectorised
            known = stays[stays["end"] <= d]
            seg = known.groupby("segment")["days"].agg(["size", lambda s: s.quantile(q)])
            seg.columns = ["n", "p"]
            overall = known["days"].quantile(q) if len(known) >= min_cohort else fallback[name]
            seg = seg[seg["n"] >= min_cohort]["p"]
            rows.append(pd.DataFrame({"date": d, "segment": seg.index, "p": seg.to_numpy(), "all": overall}))
            if seg.empty:
                rows[-1] = pd.DataFrame({"date": [d], "segment": [None], "p": [np.nan], "all": [overall]})
        table = pd.concat(rows, ignore_index=True)
        overall = table.drop_duplicates("date").set_index("date")["all"]
        here = stage == k
        if not here.any():
            continue
        sub = pd.DataFrame({"date": g.loc[here, "date"].to_numpy(dtype="datetime64[ns]"),
                            "segment": g.loc[here, "segment"].astype(object).to_numpy()})
        hit = sub.merge(table[["date", "segment", "p"]].dropna(subset=["segment"]), on=["date", "segment"],
                        how="left")
        p = hit["p"].to_numpy(dtype="float64")
        p = np.where(np.isnan(p), sub["date"].map(overall).to_numpy(dtype="float64"), p)
        out[here] = p
    return out


def _live_grid(ws, dates: Iterable) -> pd.DataFrame:
    """(account_id, date, segment, signed_at) for accounts signed on or before and not churned by each date."""
    ends = sorted({pd.Timestamp(d).normalize() for d in dates})
    acc = ws.frame("accounts")[["account_id", "segment", "signed_at", "churned_at", "arr"]]
    n, k = len(acc), len(ends)
    grid = acc.iloc[np.repeat(np.arange(n), k)].reset_index(drop=True)
    grid["date"] = np.tile(np.asarray(ends, dtype="datetime64[ns]"), n)
    live = (grid["signed_at"] <= grid["date"]) & (grid["churned_at"].isna() | (grid["churned_at"] > grid["date"]))
    return grid[live.to_numpy()].reset_index(drop=True)


# ---------------------------------------------------------------------------- usage-based signals
def _usage_signals(adopt: pd.DataFrame, grid: pd.DataFrame, cfg: dict) -> pd.DataFrame:
    """decline_pattern and slacker per grid row from adoption rows at the date and 28 days before."""
    days = number(cfg, "signals.decline_window_days", minimum=1, integer=True)
    drop = number(cfg, "signals.slacker.drop_share", minimum=0)
    min_prev = number(cfg, "signals.slacker.min_previous_active_days", minimum=0)
    dims = ["breadth", "depth", "frequency", "stakeholders"]
    now = grid[["account_id", "date"]].merge(adopt[["account_id", "date", *dims]], on=["account_id", "date"],
                                             how="left")
    prev = adopt[["account_id", "date", *dims]].copy()
    prev["date"] = prev["date"] + pd.Timedelta(days=days)
    both = now.merge(prev, on=["account_id", "date"], how="left", suffixes=("", "_before"))
    lower = np.ones(len(both), dtype=bool)
    for d in dims:
        lower &= (both[d].to_numpy(dtype="float64") < both[f"{d}_before"].to_numpy(dtype="float64"))
    f_now = both["frequency"].to_numpy(dtype="float64")
    f_before = both["frequency_before"].to_numpy(dtype="float64")
    with np.errstate(invalid="ignore"):
        slacker = (f_before >= max(min_prev, 1e-9)) & (f_now <= (1 - drop) * f_before)
    out = both[["account_id", "date"]].copy()
    for d in dims:
        out[f"{d}_before"] = both[f"{d}_before"].to_numpy()
    out["decline_pattern"] = lower
    out["slacker"] = np.nan_to_num(slacker, nan=0).astype(bool)
    return out


def _ticket_victim(ws, grid: pd.DataFrame, cfg: dict, keys: GridKeys | None = None) -> np.ndarray:
    window = number(cfg, "signals.victim.window_days", minimum=1, integer=True)
    min_t = number(cfg, "signals.victim.min_tickets", minimum=1)
    min_e = number(cfg, "signals.victim.min_escalated", minimum=1)
    if not ws.has("tickets"):
        return np.zeros(len(grid), dtype=bool)
    t = ws.frame("tickets")
    ev = pd.DataFrame({"account_id": t["account_id"], "date": t["opened_at"], "n": 1.0,
                       "esc": t["escalated"].fillna(False).astype(float).to_numpy()})
    s = window_sums(grid, ev, ["n", "esc"], window, keys=keys)
    return ((s["n"] >= min_t) | (s["esc"] >= min_e)).to_numpy()


def signal_frame(ws, grid: pd.DataFrame, adopt: pd.DataFrame, *, contacts: pd.DataFrame | None = None,
                 entries: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every risk signal for the rows of ``grid`` (account_id, date, segment), given adoption rows
    ``adopt`` that cover each date and the date 28 days before. Used by :func:`risk_signals` and
    by :mod:`workbook.health` (which shares its usage scan)."""
    cfg = load_settings()
    grid = grid[["account_id", "date", "segment"]].reset_index(drop=True)
    life = lifecycle(ws, [], entries=entries, grid=grid)
    use = _usage_signals(adopt, grid, cfg)
    keys = grid_keys(grid)
    counts = contact_counts(ws, grid, keys=keys) if contacts is None else contacts.reset_index(drop=True)
    out = life.copy()
    out["championless"] = ws.has("contacts") & (counts["active_champion"].to_numpy() <= 0)
    out["victim"] = _ticket_victim(ws, grid, cfg, keys)
    out["slacker"] = use["slacker"].to_numpy()
    out["decline_pattern"] = use["decline_pattern"].to_numpy()
    text = pd.Series("", index=out.index, dtype="object")
    for a in ARCHETYPES:
        fired = out[a].to_numpy(dtype=bool)
        text = text.where(~fired, text.where(text == "", text + ", ") + a)
    out["archetypes"] = text.astype("string")
    return out


def risk_signals(ws, dates: Iterable, *, engine=None) -> pd.DataFrame:
    """Lifecycle stage, archetypes and the decline pattern per live account and date.

    One row per (``account_id``, ``date``): ``lifecycle_stage``, ``stage_entered_at``,
    ``days_in_stage``, ``stage_benchmark_days``, booleans ``stuck``, ``championless``,
    ``victim``, ``slacker``, ``decline_pattern`` and ``archetypes`` (the archetypes that fire,
    comma-separated, empty when none). One usage query covers every date and the date 28 days
    before it. ``engine=None`` uses DuckDB.
    """
    cfg = load_settings()
    days = number(cfg, "signals.decline_window_days", minimum=1, integer=True)
    ends = sorted({pd.Timestamp(d).normalize() for d in dates})
    adopt = adoption_signals(ws, ends + [d - pd.Timedelta(days=days) for d in ends], engine=engine)
    grid = _live_grid(ws, ends)
    return signal_frame(ws, grid, adopt)


def decline_pattern(ws, dates: Iterable, *, engine=None) -> pd.DataFrame:
    """The adoption decline pattern per live account and date.

    One row per (``account_id``, ``date``) with ``breadth``, ``depth``, ``frequency``,
    ``stakeholders`` over the 28 days ending on the date, the same four as ``<dim>_before`` over
    the 28 days before, and ``decline_pattern``: True when all four are strictly lower now.
    One usage query (two 28-day windows per date). ``engine=None`` uses DuckDB.
    """
    cfg = load_settings()
    days = number(cfg, "signals.decline_window_days", minimum=1, integer=True)
    ends = sorted({pd.Timestamp(d).normalize() for d in dates})
    adopt = adoption_signals(ws, ends + [d - pd.Timedelta(days=days) for d in ends], engine=engine)
    grid = adopt[adopt["date"].isin(ends)][["account_id", "date"]].reset_index(drop=True)
    use = _usage_signals(adopt, grid, cfg)
    now = grid.merge(adopt[["account_id", "date", "breadth", "depth", "frequency", "stakeholders"]],
                     on=["account_id", "date"], how="left")
    return pd.concat([now, use.drop(columns=["account_id", "date", "slacker"])], axis=1)


# ---------------------------------------------------------------------------- alerts
def score_alerts(scores: pd.DataFrame, as_of, *, accounts: pd.DataFrame | None = None) -> pd.DataFrame:
    """High-value accounts whose score fell fast, from weekly scores.

    ``scores`` has ``account_id``, ``date``, ``score`` (and ``arr`` unless ``accounts`` gives it)
    for ``as_of`` and the weekly points before it. Returns one row per account scored on
    ``as_of``: ``score_peak`` (highest score at as_of − 7·k days, k = 1..weeks), ``score_drop``
    (peak − score, points) and ``alert`` (ARR >= arr_threshold and drop > drop_points), plus
    ``alert_reason`` (text, empty when no alert).
    """
    cfg = load_settings()
    arr_min = number(cfg, "signals.alerts.arr_threshold")
    drop_min = number(cfg, "signals.alerts.drop_points")
    weeks = number(cfg, "signals.alerts.weeks", minimum=1, integer=True)
    as_of = pd.Timestamp(as_of).normalize()
    s = scores[["account_id", "date", "score", *(["arr"] if "arr" in scores and accounts is None else [])]]
    now = s[s["date"] == as_of].drop(columns="date")
    if accounts is not None:
        now = now.merge(accounts[["account_id", "arr"]], on="account_id", how="left")
    past_dates = [as_of - pd.Timedelta(days=7 * k) for k in range(1, weeks + 1)]
    # an account without a score on a past point (no weighted dimension had data) has no peak there
    past = s[s["date"].isin(past_dates) & s["score"].notna()].groupby("account_id")["score"].agg(["max", "idxmax"])
    peak_date = s.loc[past["idxmax"].dropna(), ["account_id", "date"]].set_index("account_id")["date"] \
        if not past.empty else pd.Series(dtype="datetime64[ns]")
    now = now.merge(past["max"].rename("score_peak"), left_on="account_id", right_index=True, how="left")
    now["score_drop"] = now["score_peak"] - now["score"]
    now["alert"] = ((now["arr"] >= arr_min) & (now["score_drop"] > drop_min)).fillna(False).astype(bool)
    now["alert_reason"] = pd.Series("", index=now.index, dtype="string")
    hit = now[now["alert"]]
    now.loc[hit.index, "alert_reason"] = [         # only the few alerted accounts
        f"score fell {drop:.1f} points since {peak_date[aid]:%Y-%m-%d} (ARR {arr:,.0f})"
        for aid, drop, arr in zip(hit["account_id"], hit["score_drop"], hit["arr"])]
    return now.reset_index(drop=True)
