"""Benchmark: `workbook validate` on a 50-million-row usage Parquet file.

Builds (once) a synthetic source under benchmarks/data/validate-50m/: 50,000 accounts and
50,000,000 usage rows (1,000 per account: 500 days x 2 modules), written by DuckDB straight to
Parquet, then runs `workbook validate --data` on it REPEAT times in a fresh process and reports
the median wall time and the peak resident memory of the validating process.

    .venv/bin/python benchmarks/bench_validate.py [--rows 50000000] [--repeat 3]

Target (issue 2): under 30 s and under 2 GB peak on a 2-core machine.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent


def build(root: Path, rows: int, accounts: int) -> None:
    if (root / "usage.parquet").exists():
        return
    root.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    per = rows // accounts
    t = time.perf_counter()
    con.execute(f"""
        COPY (SELECT 'A' || lpad(CAST(i AS VARCHAR), 6, '0') AS account_id,
                     'Acct ' || CAST(i AS VARCHAR) AS name,
                     CASE i % 3 WHEN 0 THEN 'SMB' WHEN 1 THEN 'Mid-Market' ELSE 'Enterprise' END AS segment,
                     'csm' || CAST(i % 40 AS VARCHAR) AS csm,
                     CAST(1000 + (i % 97) * 1000 AS DOUBLE) AS arr,
                     1 + i % 6 AS contracted_modules,
                     DATE '2024-01-01' + CAST(i % 30 AS INTEGER) AS signed_at
              FROM range({accounts}) t(i))
        TO '{root / "accounts.parquet"}' (FORMAT parquet)""")
    con.execute(f"""
        COPY (SELECT 'A' || lpad(CAST(i % {accounts} AS VARCHAR), 6, '0') AS account_id,
                     DATE '2024-02-01' + CAST((i // {accounts}) // 2 AS INTEGER) AS date,
                     CASE (i // {accounts}) % 2 WHEN 0 THEN 'core' ELSE 'reports' END AS module,
                     CAST(1 + i % 7 AS BIGINT) AS active_users,
                     CAST((i * 7919) % 50 AS BIGINT) AS actions
              FROM range({per * accounts}) t(i))
        TO '{root / "usage.parquet"}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)""")
    con.execute(f"""
        COPY (SELECT 'A' || lpad(CAST(i AS VARCHAR), 6, '0') AS account_id, 'kickoff' AS milestone,
                     DATE '2024-02-01' AS reached_at FROM range({accounts}) t(i))
        TO '{root / "milestones.parquet"}' (FORMAT parquet)""")
    print(f"built {per * accounts:,} usage rows in {time.perf_counter() - t:.1f} s", file=sys.stderr)


def run_once(root: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one `workbook validate` in a fresh process."""
    code = ("import resource, sys, time; from workbook.cli import main; t = time.perf_counter(); "
            f"rc = main(['validate', '--data', {str(root)!r}]); "
            "print(f'@@ {time.perf_counter() - t:.3f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}', file=sys.stderr); "
            "sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"validate failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    line = next(l for l in proc.stderr.splitlines() if l.startswith("@@ "))
    secs, rss = line.split()[1:]
    return float(secs), float(rss)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=50_000_000)
    ap.add_argument("--accounts", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data", default=str(HERE / "data" / "validate-50m"))
    args = ap.parse_args()
    root = Path(args.data)
    build(root, args.rows, args.accounts)
    runs = [run_once(root) for _ in range(args.repeat)]
    walls, rss = [r[0] for r in runs], [r[1] for r in runs]
    load = os.getloadavg()
    print(f"usage rows: {args.rows:,}  runs: {args.repeat}")
    print(f"wall seconds: median {statistics.median(walls):.2f} (runs: {', '.join(f'{w:.2f}' for w in walls)})")
    print(f"peak RSS MiB: max {max(rss):.0f} (runs: {', '.join(f'{r:.0f}' for r in rss)})")
    print(f"load average at end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
