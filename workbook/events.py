"""The contract's ``usage`` table built from a product event log.

Many teams have no daily per-module usage export, only the product's event stream: one row per
event with ``account_id, user_id, timestamp, event``. :func:`usage_from_events` turns such an
export (CSV or Parquet, any size: the work runs in DuckDB) into ``usage.parquet``::

    summary = usage_from_events("events.parquet", "params/event_modules.example.yaml", "data/acme")

- each event name is assigned to a module by the map (``modules: {module: [names or globs]}``;
  the first module in the file whose list matches wins);
- per account, day (the timestamp's date) and module: ``active_users`` = distinct users,
  ``actions`` = events;
- events that no module claims are counted by name and reported (the top ``top`` names);
  rows without an account or a readable timestamp are counted and reported: nothing is dropped
  without a count;
- the file is written atomically (a temporary file in the same folder, then renamed).

docs/events.md describes the map format and how to derive milestones from events.
"""
from __future__ import annotations

import fnmatch
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from . import queries
from .errors import BadInput

REQUIRED = ("account_id", "user_id", "timestamp", "event")
_GLOB = set("*?[")
_NULL_EVENT = "(no event name)"


# ---------------------------------------------------------------------------- the module map
def read_module_map(modules: str | Path | Mapping) -> dict[str, list[str]]:
    """The ``modules:`` mapping of a map file (or of a mapping), checked: module name → list of
    event names or glob patterns (``*``, ``?``, ``[...]``). :class:`BadInput` when malformed."""
    source = "module map"
    if not isinstance(modules, Mapping):
        from .params import read_yaml
        source = str(modules)
        if not Path(modules).is_file():
            raise BadInput(source, None, "module map file not found")
        modules = read_yaml(modules) or {}
    raw = modules.get("modules") if isinstance(modules, Mapping) else None
    if not isinstance(raw, Mapping) or not raw:
        raise BadInput(source, "modules", "must map module names to lists of event names or glob patterns")
    out: dict[str, list[str]] = {}
    for name, patterns in raw.items():
        if isinstance(patterns, str):
            patterns = [patterns]
        if not isinstance(patterns, list) or not patterns or \
                not all(isinstance(p, str) and p.strip() for p in patterns):
            raise BadInput(source, f"modules.{name}", "must be a non-empty list of event names or glob patterns")
        out[str(name)] = [p.strip() for p in patterns]
    return out


def assign_modules(event_names, module_map: Mapping[str, list[str]]) -> dict[str, str]:
    """Module of each distinct event name (names no module claims are left out).

    Exact names are matched first (in map order), then glob patterns (in map order), so an exact
    listing always beats a broad pattern such as ``report_*``.
    """
    exact: dict[str, str] = {}
    globs: list[tuple[str, str]] = []
    for module, patterns in module_map.items():
        for p in patterns:
            if _GLOB & set(p):
                globs.append((p, module))
            else:
                exact.setdefault(p, module)
    out = {}
    for name in event_names:
        if name is None:
            continue
        if name in exact:
            out[name] = exact[name]
            continue
        for p, module in globs:
            if fnmatch.fnmatchcase(name, p):
                out[name] = module
                break
    return out


# ---------------------------------------------------------------------------- the build
def _read_sql(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return queries.read_parquet(str(path))
    if suffix == ".csv":
        return queries.read_csv_text(str(path), strict_quotes=False)
    raise BadInput(str(path), None, "the event export must be a .csv or .parquet file")


def usage_from_events(events: str | Path, modules: str | Path | Mapping, out: str | Path, *,
                      top: int = 10) -> dict[str, Any]:
    """Build ``out/usage.parquet`` (the contract's usage table) from an event export.

    ``events``: a CSV or Parquet file with ``account_id, user_id, timestamp, event`` (extra
    columns ignored). ``modules``: a map file or mapping (:func:`read_module_map`). Returns a
    summary: ``events`` (rows read), ``usage_rows``, ``accounts``, ``first_date``, ``last_date``,
    ``mapped`` (events counted in usage), ``unmapped`` (events of names no module claims),
    ``unmapped_names`` (how many distinct such names), ``unmapped_top`` (list of
    ``(event, count)``, most frequent first, at most ``top``), ``no_account``,
    ``no_timestamp`` (missing or unreadable), ``no_user`` (counted as actions but not as users)
    and ``path``. Every event row is in exactly one of mapped, unmapped, no_account, no_timestamp.
    """
    events, out = Path(events), Path(out)
    if not events.is_file():
        raise BadInput(str(events), None, "event export not found")
    module_map = read_module_map(modules)
    con = duckdb.connect()
    try:
        con.execute(queries.create("VIEW", "raw", _read_sql(events)))
        cols = [r[0] for r in con.execute(queries.describe("raw")).fetchall()]
        missing = [c for c in REQUIRED if c not in cols]
        if missing:
            raise BadInput(str(events), ", ".join(missing), f"required column(s) missing; found {', '.join(cols)}")
        con.execute(queries.create("TABLE", "ev", queries.events_typed("raw"), temp=True), [_NULL_EVENT])
        names = [r[0] for r in con.execute(queries.event_names()).fetchall()]
        assigned = assign_modules(names, module_map)
        con.register("event_map_df", pd.DataFrame({"event": list(assigned), "module": list(assigned.values())},
                                                   dtype="object"))
        con.execute(queries.create("TABLE", "event_map", queries.event_map("event_map_df"), temp=True))
        summary = _counts(con, top)
        out.mkdir(parents=True, exist_ok=True)
        target = out / "usage.parquet"
        fd, tmp = tempfile.mkstemp(prefix=".usage.", suffix=".parquet.tmp", dir=out)
        os.close(fd)
        try:
            con.execute(queries.write_usage_from_events(tmp))
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        stats = con.execute(queries.usage_file_stats(str(target))).fetchone()
    finally:
        con.close()
    summary.update(usage_rows=int(stats[0]), accounts=int(stats[1]),
                   first_date=None if stats[2] is None else pd.Timestamp(stats[2]),
                   last_date=None if stats[3] is None else pd.Timestamp(stats[3]), path=str(target))
    return summary


def _counts(con, top: int) -> dict[str, Any]:
    """Where every event row went: usage, unmapped, no account, no timestamp (one scan)."""
    row = con.execute(queries.event_counts()).fetchone()
    unmapped = con.execute(queries.unmapped_events()).fetchall()
    return {"events": int(row[0]), "no_account": int(row[1]), "no_timestamp": int(row[2]),
            "unmapped": int(row[3]), "mapped": int(row[4]), "no_user": int(row[5]),
            "unmapped_names": len(unmapped), "unmapped_top": [(str(e), int(n)) for e, n in unmapped[:max(top, 0)]]}


# ---------------------------------------------------------------------------- command line
def summary_text(s: Mapping[str, Any]) -> str:
    """The summary as a few plain lines (what was written and every row not counted in usage)."""
    span = "no dates" if s.get("first_date") is None else f"{s['first_date']:%Y-%m-%d} .. {s['last_date']:%Y-%m-%d}"
    lines = [f"wrote {s['path']}: {s['usage_rows']:,} usage rows, {s['accounts']:,} accounts, {span}",
             f"events read: {s['events']:,}; counted in usage: {s['mapped']:,}"]
    if s["no_user"]:
        lines.append(f"  {s['no_user']:,} of them have no user_id: counted as actions, not as active users")
    lines.append(f"not in usage: {s['unmapped']:,} events of {s['unmapped_names']:,} names no module claims; "
                 f"{s['no_account']:,} without account_id; {s['no_timestamp']:,} without a readable timestamp")
    if s["unmapped_top"]:
        lines.append("most frequent unmapped events (add them to the module map if they are product use):")
        lines += [f"  {name:<32} {n:>12,}" for name, n in s["unmapped_top"]]
    return "\n".join(lines)
