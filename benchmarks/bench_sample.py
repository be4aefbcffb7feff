"""Benchmark: generating the sample world (`workbook.sample.write_sample`).

Runs the generator in a fresh process for each size and reports wall time, CPU time, usage rows
and the peak resident memory of that process. Output goes to a temporary directory that is
removed afterwards.

    .venv/bin/python benchmarks/bench_sample.py [--accounts 1500 50000] [--seed 7]

Targets (issue 2): the default world (1,500 accounts) in under 20 s; 50,000 accounts (tens of
millions of usage rows) within about 3 GB of memory.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

CHILD = """
import json, resource, sys, time
from workbook.sample import write_sample
accounts, seed, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
t0, c0 = time.perf_counter(), time.process_time()
counts = write_sample(out, accounts=accounts, seed=seed)
print(json.dumps({"accounts": accounts, "wall_s": round(time.perf_counter() - t0, 1),
                  "cpu_s": round(time.process_time() - c0, 1), "usage_rows": counts["usage"],
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
"""


def run(accounts: int, seed: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-sample-") as out:
        done = subprocess.run([sys.executable, "-c", CHILD, str(accounts), str(seed), out],
                              check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[1500, 50000])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(f"{'accounts':>9} {'usage rows':>12} {'wall s':>7} {'cpu s':>6} {'peak MB':>8}")
    for n in args.accounts:
        r = run(n, args.seed)
        print(f"{r['accounts']:>9,} {r['usage_rows']:>12,} {r['wall_s']:>7} {r['cpu_s']:>6} {r['peak_rss_mb']:>8,}")


if __name__ == "__main__":
    main()
