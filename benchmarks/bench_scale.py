"""Benchmark: `workbook health` and `workbook kpis` on DuckDB and on Spark (local) at scale.

For each world size it uses (and builds when missing, with ``workbook sample``) the sample world
``benchmarks/data/world-<N/1000>k``, then runs, each in a fresh process and REPEAT times:

* ``bare``      one bare DuckDB pass over usage: every column read once, no join, no grouping
                (``SELECT count(*), min/max/sum of each column FROM read_parquet(usage)``)
* ``bare_acct`` the same pass grouped by account (what a per-account query must at least do)
* ``health``    ``workbook health --data W --engine E --format csv`` (open + validate + score)
* ``kpis``      ``workbook kpis --data W --engine E --format json --period month``
* ``health_table`` (``--what health_table``) the health computation alone: the workspace is
                opened first (not timed), then ``health.health_table(ws, as_of, weights, engine)``
                is timed in the process (wall and CPU seconds of the call)

Every run also reports the CPU seconds (user + system, all threads) of its whole process.

Wall time is measured outside the process; memory is the peak resident set of the whole
process tree (the Python process plus, for Spark, its JVM), sampled every 50 ms. Phases inside a
run (open/validate, compute) come from the run itself. Prints a Markdown table of medians.

    .venv/bin/python benchmarks/bench_scale.py --accounts 20000 50000 --repeat 3
    .venv/bin/python benchmarks/bench_scale.py --accounts 20000 --engines duckdb --what health

Target (issue 7): at 20,000 accounts the DuckDB health run within 3x one bare pass and < 4 GB.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable

BARE_SQL = ("SELECT count(*), min(account_id), max(account_id), min(date), max(date), min(module), "
            "max(module), sum(active_users), sum(actions) FROM read_parquet('{path}')")
BARE_ACCT_SQL = ("SELECT account_id, count(*), min(date), max(date), max(module), sum(active_users), "
                 "sum(actions) FROM read_parquet('{path}') GROUP BY account_id")

# One measured run, executed in a child process: prints {"phases": {...}} as its last line.
CHILD = r"""
import json, resource, sys, time
kind, engine, data = sys.argv[1], sys.argv[2], sys.argv[3]
t0 = time.perf_counter()
phases = {}
if kind == "health_table":
    from workbook import health
    from workbook.engines import get_engine
    from workbook.weights import resolve
    from workbook.workspace import open_data
    ws = open_data(data)
    eng = get_engine(ws, engine)
    as_of, w = ws.default_as_of(), resolve(None)
    phases["open"] = time.perf_counter() - t0
    t1, c1 = time.perf_counter(), time.process_time()
    health.health_table(ws, as_of, w, eng)
    phases["compute"], phases["compute_cpu"] = time.perf_counter() - t1, time.process_time() - c1
    eng.close()
    ws.close()
elif kind in ("bare", "bare_acct"):
    import duckdb
    from workbook.workspace import DEFAULT_MEMORY_LIMIT
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{DEFAULT_MEMORY_LIMIT}'")
    rows = con.execute(sys.argv[4]).fetchall()
    phases["scan"] = time.perf_counter() - t0
else:
    import io, contextlib
    from workbook.cli import main
    argv = [kind, "--data", data, "--engine", engine]
    argv += ["--format", "csv"] if kind == "health" else ["--format", "json", "--period", "month"]
    with contextlib.redirect_stdout(io.StringIO()) as out:
        code = main(argv)
    if code:
        raise SystemExit(f"workbook {' '.join(argv)} exited {code}")
    phases["output_bytes"] = len(out.getvalue())
phases["total_in_process"] = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_SELF)
phases["cpu"] = ru.ru_utime + ru.ru_stime
print(json.dumps(phases))
"""


def world(accounts: int) -> Path:
    """The sample world of ``accounts`` accounts under benchmarks/data (built when missing)."""
    path = HERE / "data" / f"world-{accounts // 1000}k"
    if not (path / "accounts.csv").exists() and not (path / "accounts.parquet").exists():
        print(f"building {path} ...", file=sys.stderr, flush=True)
        subprocess.run([str(Path(PY).parent / "workbook"), "sample", "--out", str(path),
                        "--accounts", str(accounts)], check=True, cwd=ROOT)
    return path


def usage_file(path: Path) -> Path:
    for name in ("usage.parquet", "usage.csv"):
        if (path / name).exists():
            return path / name
    raise SystemExit(f"{path} has no usage table")


def tree_rss(proc: psutil.Process) -> int:
    """Resident bytes of ``proc`` and all its descendants (0 for those already gone)."""
    total = 0
    try:
        procs = [proc] + proc.children(recursive=True)
    except psutil.NoSuchProcess:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def measure(kind: str, engine: str, data: Path) -> dict:
    """Run one child; return wall seconds, peak tree RSS (MiB) and the child's phases."""
    args = [PY, "-c", CHILD, kind, engine, str(data)]
    if kind == "bare":
        args.append(BARE_SQL.format(path=usage_file(data)))
    elif kind == "bare_acct":
        args.append(BARE_ACCT_SQL.format(path=usage_file(data)))
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(args, stdout=out, stderr=err, cwd=ROOT, env=env)
        ps, peak = psutil.Process(proc.pid), 0
        while proc.poll() is None:
            peak = max(peak, tree_rss(ps))
            time.sleep(0.05)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            raise SystemExit(f"{kind}/{engine} failed:\n{err.read().decode()[-3000:]}")
        phases = json.loads(out.read().decode().strip().splitlines()[-1])
    return {"wall": wall, "peak_mib": peak / 2**20, "phases": phases}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, nargs="+", default=[20000, 50000])
    ap.add_argument("--engines", nargs="+", default=["duckdb", "spark"], choices=["duckdb", "spark"])
    ap.add_argument("--what", nargs="+", default=["health", "kpis"], choices=["health", "kpis", "health_table"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", help="also write every run to this JSON file")
    args = ap.parse_args()

    results = []
    for n in args.accounts:
        data = world(n)
        plan = [("bare", "duckdb"), ("bare_acct", "duckdb")]
        plan += [(w, e) for e in args.engines for w in args.what]
        for kind, engine in plan:
            runs = []
            for i in range(args.repeat):
                r = measure(kind, engine, data)
                runs.append(r)
                print(f"{n:>6} {kind:<9} {engine:<6} run {i + 1}: {r['wall']:7.2f} s  {r['peak_mib']:7.0f} MiB",
                      file=sys.stderr, flush=True)
            med = {k: statistics.median(r["phases"][k] for r in runs)
                   for k in ("cpu", "compute", "compute_cpu") if k in runs[0]["phases"]}
            results.append({"accounts": n, "kind": kind, "engine": engine, "runs": runs, **med,
                            "wall": statistics.median(r["wall"] for r in runs),
                            "peak_mib": max(r["peak_mib"] for r in runs)})
    load = os.getloadavg()
    print(f"\nload average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n")
    print("| accounts | run | engine | wall, median (runs) | ratio to bare pass | CPU, median | peak RSS, max |")
    print("|---:|---|---|---|---:|---:|---:|")
    for r in results:
        bare = next(x for x in results if x["accounts"] == r["accounts"] and x["kind"] == "bare")["wall"]
        runs = ", ".join(f"{x['wall']:.1f}" for x in r["runs"])
        print(f"| {r['accounts']:,} | {r['kind']} | {r['engine']} | {r['wall']:.2f} s ({runs}) | "
              f"{r['wall'] / bare:.1f}x | {r['cpu']:.2f} s | {r['peak_mib']:,.0f} MiB |")
        if "compute" in r:   # the health computation alone, timed inside the process
            runs = ", ".join(f"{x['phases']['compute']:.2f}" for x in r["runs"])
            print(f"| {r['accounts']:,} | health_table (compute only) | {r['engine']} | {r['compute']:.2f} s "
                  f"({runs}) | {r['compute'] / bare:.1f}x | {r['compute_cpu']:.2f} s | |")
    if args.json:
        Path(args.json).write_text(json.dumps({"load": load, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
