"""Benchmark: the health table for every account of a 50,000-account world, and its history.

Generates the world once (``workbook sample --accounts 50000`` into benchmarks/data/world-50k,
about 50 million usage rows) when it is missing, then REPEAT times, each in a fresh process:

- ``health``: open the source (typing + validation of every table), then
  ``health.health_table`` on the default as_of (score, colours, overrides, 7-day change, alerts'
  weekly points, decline windows, archetypes, playbooks). Times open and compute separately and
  reads the peak resident memory (``ru_maxrss``) of the process;
- ``history``: open, then ``health.history`` for 13 weekly points ending on the default as_of
  (one usage query for all points);
- ``floor``: one bare DuckDB pass over the same usage file,
  ``SELECT account_id, count(*), sum(actions) FROM read_parquet(...) GROUP BY 1``.

Prints medians, the ratios health ÷ floor and history ÷ health (compute times), and the load
average, as Markdown for docs/benchmarks.md.

    .venv/bin/python benchmarks/bench_health.py [--data DIR] [--accounts 50000] [--repeat 3]

Targets (issue 4): health under 45 s and under 4 GB peak; 13 weekly points under 3 × one day.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable

from _common import ensure_world  # noqa: E402 - the scripts' own folder is on sys.path


def _peak() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_health(data: str) -> dict:
    from workbook import health
    from workbook.workspace import open_data
    t0 = time.perf_counter()
    ws = open_data(data)
    t1 = time.perf_counter()
    table = health.health_table(ws)
    t2 = time.perf_counter()
    rows = ws.tables["usage"].rows
    ws.close()
    return {"open": t1 - t0, "compute": t2 - t1, "total": t2 - t0, "usage_rows": rows, "peak_mib": _peak(),
            "accounts": len(table), "colours": table["colour"].value_counts().to_dict()}


def child_history(data: str, points: int) -> dict:
    import pandas as pd

    from workbook import health
    from workbook.workspace import open_data
    ws = open_data(data)
    end = ws.default_as_of()
    t1 = time.perf_counter()
    hist = health.history(ws, end - pd.Timedelta(days=7 * (points - 1)), end)
    t2 = time.perf_counter()
    ws.close()
    return {"compute": t2 - t1, "rows": len(hist), "points": int(hist["date"].nunique()), "peak_mib": _peak()}


def child_floor(data: str) -> dict:
    import duckdb
    con = duckdb.connect()
    t0 = time.perf_counter()
    n = len(con.execute(f"SELECT account_id, count(*), sum(actions) FROM read_parquet('{data}/usage.parquet') "
                        "GROUP BY 1").fetchall())
    return {"floor": time.perf_counter() - t0, "groups": n, "peak_mib": _peak()}


def run_child(*args: str) -> dict:
    out = subprocess.run([PYTHON, __file__, *args], check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _fmt(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s (runs {', '.join(f'{v:.2f}' for v in values)})"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(HERE / "data" / "world-50k"))
    p.add_argument("--accounts", type=int, default=50000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--points", type=int, default=13)
    p.add_argument("--child", choices=["health", "history", "floor"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child == "health":
        print(json.dumps(child_health(args.data)))
        return 0
    if args.child == "history":
        print(json.dumps(child_history(args.data, args.points)))
        return 0
    if args.child == "floor":
        print(json.dumps(child_floor(args.data)))
        return 0

    data = Path(args.data)
    ensure_world(data, args.accounts)
    runs = {"health": [], "history": [], "floor": []}
    for i in range(args.repeat):
        for kind in runs:
            extra = ["--points", str(args.points)] if kind == "history" else []
            r = run_child("--data", str(data), "--child", kind, *extra)
            runs[kind].append(r)
            print(f"run {i + 1} {kind}: {json.dumps(r)}", file=sys.stderr, flush=True)
    h, hist, fl = runs["health"], runs["history"], runs["floor"]
    compute = statistics.median(r["compute"] for r in h)
    floor = statistics.median(r["floor"] for r in fl)
    hist_t = statistics.median(r["compute"] for r in hist)
    total = statistics.median(r["total"] for r in h)
    load = os.getloadavg()
    print(f"| usage rows | {h[0]['usage_rows']:,} |")
    print(f"| accounts scored | {h[0]['accounts']:,} ({', '.join(f'{v:,} {k}' for k, v in h[0]['colours'].items())}) |")
    print(f"| open (typing + validation), median of {args.repeat} | {_fmt([r['open'] for r in h])} |")
    print(f"| health_table, median of {args.repeat} | {_fmt([r['compute'] for r in h])} |")
    print(f"| open + health_table | {_fmt([r['total'] for r in h])} |")
    print(f"| peak RSS (open + health_table), max of {args.repeat} | {max(r['peak_mib'] for r in h):,.0f} MiB |")
    print(f"| history, {args.points} weekly points | {_fmt([r['compute'] for r in hist])} |")
    print(f"| peak RSS (open + history) | {max(r['peak_mib'] for r in hist):,.0f} MiB |")
    print(f"| floor: bare DuckDB pass over usage | {_fmt([r['floor'] for r in fl])} |")
    print(f"| ratio health_table ÷ floor | {compute / floor:.1f} |")
    print(f"| ratio (open + health_table) ÷ floor | {total / floor:.1f} |")
    print(f"| ratio history ({args.points} points) ÷ health_table (one day) | {hist_t / compute:.2f} |")
    print(f"| load average at the end (1, 5, 15 min) | {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
