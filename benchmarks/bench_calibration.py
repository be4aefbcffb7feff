"""Benchmark: churn calibration on the sample world and on 100,000 synthetic snapshot rows.

Two measurements, each repeated REPEAT times in this process (medians reported):

1. sample world (``--accounts``, default 1,500; written once under benchmarks/data/ unless
   ``--data DIR`` is given): opening the source, building the monthly snapshots with
   ``health.dimension_scores``, fitting current and proposed weights and the full evaluation
   (1,000 bootstrap replicates, bands, thresholds, overrides, colour changes, drift, backtest);
2. fit + full evaluation on ``--rows`` synthetic snapshot rows (default 100,000: 5,000 accounts
   x 20 months) — the target in issue 5 is under 20 s.

    .venv/bin/python benchmarks/bench_calibration.py [--repeat 3] [--rows 100000] [--data DIR]

Prints one line per run, then the medians, the ratio of each to its target, the peak RSS and
the load average. Exits 1 when the 100,000-row median breaks ``--max-seconds`` (default 20).
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from workbook import evaluation as ev  # noqa: E402
from workbook import snapshots as snap  # noqa: E402
from workbook import weights as wmod  # noqa: E402
from workbook.workspace import open_data  # noqa: E402


def _sample(accounts: int) -> Path:
    out = REPO / "benchmarks" / "data" / f"sample-{accounts}"
    if not (out / "accounts.csv").exists():
        from workbook.sample import write_sample
        write_sample(out, accounts=accounts, seed=7)
    return out


def run_world(source: Path, current) -> tuple[float, float, float, str]:
    t0 = time.perf_counter()
    with open_data(source) as ws:
        snaps = snap.build_snapshots(ws)
        accounts = ws.frame("accounts")
    t1 = time.perf_counter()
    result = ev.evaluate(snaps, current, accounts=accounts)
    t2 = time.perf_counter()
    m = result.metrics
    line = (f"{len(snaps):,} snapshots, n_train {m['n_train']:,}, n_test {m['n_test']:,}; "
            f"AUC {m['current']['auc']:.3f} -> {m['proposed']['auc']:.3f}")
    return t1 - t0, t2 - t1, t2 - t0, line


def run_synthetic(rows: int, current) -> tuple[float, str]:
    months = 20
    snaps = snap.synthetic_snapshots(rows // months, months, seed=1)
    t0 = time.perf_counter()
    result = ev.evaluate(snaps, current)
    elapsed = time.perf_counter() - t0
    m = result.metrics
    return elapsed, (f"{len(snaps):,} rows, n_train {m['n_train']:,}, n_test {m['n_test']:,}, "
                     f"{m['bootstrap']['replicates']} replicates over {m['bootstrap']['n_clusters']:,} accounts")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--accounts", type=int, default=1500)
    ap.add_argument("--data", type=Path, default=None, help="a data source instead of the sample world")
    ap.add_argument("--max-seconds", type=float, default=20.0)
    args = ap.parse_args(argv)
    current = wmod.load_active()
    source = args.data or _sample(args.accounts)

    world, synth = [], []
    for i in range(args.repeat):
        snap_s, eval_s, total_s, line = run_world(source, current)
        world.append((snap_s, eval_s, total_s))
        print(f"world run {i + 1}: snapshots {snap_s:.2f} s + evaluation {eval_s:.2f} s = {total_s:.2f} s ({line})",
              flush=True)
    for i in range(args.repeat):
        elapsed, line = run_synthetic(args.rows, current)
        synth.append(elapsed)
        print(f"synthetic run {i + 1}: fit + evaluation {elapsed:.2f} s ({line})", flush=True)

    med = [statistics.median(x[k] for x in world) for k in range(3)]
    med_synth = statistics.median(synth)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nsample world {source}: snapshots {med[0]:.2f} s, evaluation {med[1]:.2f} s, total {med[2]:.2f} s "
          f"(median of {args.repeat})")
    print(f"{args.rows:,} synthetic rows: fit + evaluation {med_synth:.2f} s (median of {args.repeat}; "
          f"runs {', '.join(f'{s:.2f}' for s in synth)}); {med_synth / args.max_seconds:.2f} x the "
          f"{args.max_seconds:g} s target")
    print(f"peak RSS {peak:,.0f} MiB; load average {os.getloadavg()[0]:.2f}")
    return 0 if med_synth <= args.max_seconds else 1


if __name__ == "__main__":
    sys.exit(main())
