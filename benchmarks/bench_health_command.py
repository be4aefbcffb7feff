"""Benchmark: the whole `workbook health` command with and without a validation receipt (issue 15).

On the 20,000-account sample world (``workbook sample --out benchmarks/data/s20k --accounts
20000``, built when missing), REPEAT rounds, each running three fresh processes interleaved:

* ``bare``  one bare DuckDB pass over usage, Python start and ``import duckdb`` included:
            ``SELECT account_id, count(*) FROM read_parquet(usage) GROUP BY account_id``
* ``cold``  ``workbook health --data DIR --format csv --revalidate > /dev/null``: every rule
            checked again (the first run on new data); it writes the receipt
* ``warm``  ``workbook health --data DIR --format csv > /dev/null`` right after: the receipt stands
            for the validation

Wall time is measured around each process; peak RSS is the child's own ``ru_maxrss``
(``os.wait4``). Prints a Markdown table of medians and ratios to ``bare`` for docs/benchmarks.md.

    .venv/bin/python benchmarks/bench_health_command.py --repeat 3

Targets: warm <= 3 x bare, cold <= 5 x bare, peak < 4 GB.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable
WORKBOOK = str(Path(PYTHON).parent / "workbook")

from _common import ensure_world  # noqa: E402 - the scripts' own folder is on sys.path

BARE = ("import sys, duckdb; duckdb.connect().execute('SELECT account_id, count(*) FROM read_parquet(?) "
        "GROUP BY account_id', [sys.argv[1]]).fetchall()")
TARGETS = {"warm": 3.0, "cold": 5.0}


def commands(data: Path) -> dict[str, list[str]]:
    health = [WORKBOOK, "health", "--data", str(data), "--format", "csv"]
    return {"bare": [PYTHON, "-c", BARE, str(data / "usage.parquet")],
            "cold": [*health, "--revalidate"],
            "warm": health}


def measure(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one fresh process, its output thrown away."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr.read().decode()[-2000:]}")
    proc.stderr.close()
    return wall, usage.ru_maxrss / 1024


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(HERE / "data" / "s20k"))
    p.add_argument("--accounts", type=int, default=20000)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    data = Path(args.data)
    ensure_world(data, args.accounts)
    cmds = commands(data)
    runs: dict[str, list[tuple[float, float]]] = {k: [] for k in cmds}
    load_start = os.getloadavg()
    for i in range(args.repeat):
        for kind, argv in cmds.items():        # bare, cold (writes the receipt), warm (uses it)
            if kind == "warm" and not any(data.glob(".workbook-receipt.json")):
                raise SystemExit("no receipt after the cold run: the warm run would validate")
            runs[kind].append(measure(argv))
            print(f"round {i + 1} {kind}: {runs[kind][-1][0]:.2f} s, {runs[kind][-1][1]:,.0f} MiB",
                  file=sys.stderr, flush=True)
    load_end = os.getloadavg()
    bare = statistics.median(w for w, _ in runs["bare"])
    print("| run | command | wall, median (runs) | × bare | peak RSS (max) |")
    print("|---|---|---|---:|---:|")
    for kind, argv in cmds.items():
        walls = [w for w, _ in runs[kind]]
        med = statistics.median(walls)
        shown = " ".join(Path(a).name if a in (PYTHON, WORKBOOK) else a for a in argv)
        if kind == "bare":
            shown = "python -c 'import duckdb; SELECT account_id, count(*) ... GROUP BY account_id'"
        target = f" (target ≤ {TARGETS[kind]:g})" if kind in TARGETS else ""
        print(f"| {kind} | `{shown}` | {med:.2f} s ({', '.join(f'{w:.2f}' for w in walls)}) | "
              f"{med / bare:.2f}{target} | {max(m for _, m in runs[kind]):,.0f} MiB |")
    print(f"\nload average (1, 5, 15 min): start {', '.join(f'{v:.2f}' for v in load_start)}; "
          f"end {', '.join(f'{v:.2f}' for v in load_end)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
