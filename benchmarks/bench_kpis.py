"""Benchmark: every KPI and supporting metric on a 50,000-account sample world.

Generates the world once (``workbook sample --accounts 50000`` into benchmarks/data/world-50k,
about 50 million usage rows in usage.parquet) when it is missing, then REPEAT times, each in a
fresh process:

- ``kpis``: open the source (typing + validation of every table), then ``kpis.compute`` for the
  week ending on the default as_of — the seven KPIs, previous week, every supporting metric and
  the per-account adoption signals. Times the open and the compute separately and reads the peak
  resident memory (``ru_maxrss``) of the process;
- ``floor``: one bare DuckDB pass over the same usage file,
  ``SELECT account_id, count(*), sum(actions) FROM read_parquet(...) GROUP BY 1``.

Prints medians and the ratio compute ÷ floor (and end-to-end ÷ floor) as Markdown lines for
docs/benchmarks.md, plus the load average.

    .venv/bin/python benchmarks/bench_kpis.py [--data DIR] [--accounts 50000] [--repeat 3] [--period week]

Targets (issue 3): under 30 s, under 3 GB peak, ratio under 3.
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


def child_kpis(data: str, period: str) -> dict:
    from workbook import kpis
    from workbook.workspace import open_data
    t0 = time.perf_counter()
    ws = open_data(data)
    t1 = time.perf_counter()
    report = kpis.compute(ws, period=period)
    t2 = time.perf_counter()
    rows = ws.tables["usage"].rows
    ws.close()
    return {"open": t1 - t0, "compute": t2 - t1, "total": t2 - t0, "usage_rows": rows,
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "as_of": report["as_of"],
            "values": {k: v["value"] for k, v in report["kpis"].items()}}


def child_floor(data: str) -> dict:
    import duckdb
    con = duckdb.connect()
    t0 = time.perf_counter()
    n = len(con.execute(f"SELECT account_id, count(*), sum(actions) FROM read_parquet('{data}/usage.parquet') "
                        "GROUP BY 1").fetchall())
    return {"floor": time.perf_counter() - t0, "groups": n,
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_child(*args: str) -> dict:
    out = subprocess.run([PYTHON, __file__, *args], check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(HERE / "data" / "world-50k"))
    p.add_argument("--accounts", type=int, default=50_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--period", choices=["week", "month"], default="week")
    p.add_argument("--child", choices=["kpis", "floor"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child == "kpis":
        print(json.dumps(child_kpis(args.data, args.period)))
        return 0
    if args.child == "floor":
        print(json.dumps(child_floor(args.data)))
        return 0

    data = Path(args.data)
    ensure_world(data, args.accounts)
    runs, floors = [], []
    for i in range(args.repeat):
        floors.append(run_child("--child", "floor", "--data", str(data)))
        runs.append(run_child("--child", "kpis", "--data", str(data), "--period", args.period))
        r = runs[-1]
        print(f"run {i + 1}: open {r['open']:.2f} s, compute {r['compute']:.2f} s, total {r['total']:.2f} s, "
              f"peak {r['peak_mib']:.0f} MiB; floor {floors[-1]['floor']:.2f} s", file=sys.stderr, flush=True)
    med = {k: statistics.median(r[k] for r in runs) for k in ("open", "compute", "total")}
    floor = statistics.median(f["floor"] for f in floors)
    peak = max(r["peak_mib"] for r in runs)
    load = os.getloadavg()
    print(f"| usage rows | {runs[0]['usage_rows']:,} ({args.accounts:,} accounts, as_of {runs[0]['as_of']}, "
          f"period {args.period}) |")
    print(f"| open + validate, median of {args.repeat} | {med['open']:.2f} s |")
    print(f"| all KPIs + supporting metrics, median of {args.repeat} | {med['compute']:.2f} s "
          f"(runs {', '.join(format(r['compute'], '.2f') for r in runs)}) |")
    print(f"| end to end (open + compute), median | {med['total']:.2f} s |")
    print(f"| peak RSS, max of {args.repeat} | {peak:,.0f} MiB |")
    print(f"| floor: bare DuckDB GROUP BY over usage.parquet, median | {floor:.2f} s "
          f"(runs {', '.join(format(f['floor'], '.2f') for f in floors)}) |")
    print(f"| ratio compute ÷ floor | {med['compute'] / floor:.2f} |")
    print(f"| ratio end to end ÷ floor | {med['total'] / floor:.2f} |")
    print(f"| load average (1, 5, 15 min) at the end | {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
