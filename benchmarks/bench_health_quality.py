"""Benchmark: how stable and how informative the health score is (issue 13).

On a sample world (generated once with ``workbook sample --accounts N --seed S`` when missing),
measures through the package:

- **weekly colour changes**: ``health.history`` over 13 weekly points ending on the default
  as_of (12 weekly transitions); for each transition the share of accounts live at both points
  whose formula colour (``computed_colour``) differs; the median of the 12 shares;
- **accounts with 2+ changes**: accounts whose formula colour changed at least twice in those
  12 transitions;
- **colour mix**: red / amber / green (formula colours) of the live accounts on as_of;
- the same two stability figures for the accounts signed at least 150 days before the first
  point (past any onboarding rule, so only the five dimensions move them);
- **out-of-time ROC AUC** of the active weights with its bootstrap 95 % interval, exactly as
  ``workbook calibrate --data DIR --out OUT`` prints it (line ``auc`` under ``current``), read
  from ``OUT/metrics.json``.

Prints the figures as Markdown for docs/benchmarks.md, section "Health score: stability and
information (issue 13)".

    .venv/bin/python benchmarks/bench_health_quality.py [--data DIR] [--accounts 1500] [--seed 7]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable
WEEKS = 13


def world(data: Path, accounts: int, seed: int) -> None:
    """Write the sample world into ``data`` unless it is already there."""
    if (data / "usage.parquet").exists() and (data / "accounts.csv").exists():
        return
    print(f"generating {accounts:,}-account world (seed {seed}) in {data} ...", file=sys.stderr, flush=True)
    subprocess.run([str(Path(PYTHON).parent / "workbook"), "sample", "--out", str(data),
                    "--accounts", str(accounts), "--seed", str(seed)], check=True)


def stability(data: Path) -> dict:
    """Weekly colour changes, 2+ changers and the colour mix on as_of (formula colours)."""
    from workbook import health
    from workbook.workspace import open_data
    ws = open_data(str(data))
    try:
        end = ws.default_as_of()
        start = end - pd.Timedelta(days=7 * (WEEKS - 1))
        hist = health.history(ws, start, end)
        signed = ws.frame("accounts").set_index("account_id")["signed_at"]
    finally:
        ws.close()
    wide = hist.pivot(index="account_id", columns="date", values="computed_colour")
    shares, changes = _changes(wide)
    mature = wide[wide.index.isin(signed.index[(start - signed).dt.days >= 150])]
    m_shares, m_changes = _changes(mature)
    now = wide[end].dropna().value_counts()
    return {"as_of": f"{end:%Y-%m-%d}", "weekly_change_median": float(np.median(shares)),
            "weekly_change_shares": [round(float(s), 4) for s in shares],
            "two_plus_changes": int((changes >= 2).sum()), "live": int(wide[end].notna().sum()),
            "mature": len(mature), "mature_weekly_change_median": float(np.median(m_shares)),
            "mature_two_plus_changes": int((m_changes >= 2).sum()),
            "red": int(now.get("red", 0)), "amber": int(now.get("amber", 0)), "green": int(now.get("green", 0))}


def _changes(wide: pd.DataFrame) -> tuple[list[float], pd.Series]:
    """Per weekly transition, the share of accounts (live at both points) whose colour changed;
    and per account, how many times it changed."""
    dates = sorted(wide.columns)
    shares, changes = [], pd.Series(0, index=wide.index)
    for a, b in zip(dates[:-1], dates[1:]):
        both = wide[a].notna() & wide[b].notna()
        moved = both & (wide[a] != wide[b])
        shares.append(moved.sum() / both.sum())
        changes += moved.astype(int)
    return shares, changes


def calibration(data: Path) -> dict:
    """``workbook calibrate``'s out-of-time AUC of the current weights, with its interval."""
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([str(Path(PYTHON).parent / "workbook"), "calibrate", "--data", str(data), "--out", out],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        metrics = json.loads((Path(out) / "metrics.json").read_text())
    cur = metrics["current"]
    ci = (cur.get("ci") or {}).get("auc") or [None, None]
    return {"auc": cur["auc"], "auc_ci": ci, "n_test": metrics.get("n_test")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=HERE / "data" / "world-1500")
    ap.add_argument("--accounts", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    world(args.data, args.accounts, args.seed)
    t0 = time.perf_counter()
    s = stability(args.data)
    c = calibration(args.data)
    lo, hi = c["auc_ci"]
    interval = "" if lo is None else f" [{lo:.3f}, {hi:.3f}]"
    print(f"| world | {args.accounts:,} accounts, seed {args.seed}, as_of {s['as_of']} ({s['live']:,} live) |")
    print("|---|---|")
    print(f"| weekly colour changes (median of {WEEKS - 1} transitions) | {100 * s['weekly_change_median']:.1f} % |")
    print(f"| accounts with 2+ colour changes in {WEEKS - 1} weeks | {s['two_plus_changes']:,} |")
    print(f"| red / amber / green on as_of | {s['red']:,} / {s['amber']:,} / {s['green']:,} |")
    print(f"| accounts signed 150+ days before the first point ({s['mature']:,}): weekly changes, 2+ | "
          f"{100 * s['mature_weekly_change_median']:.1f} %, {s['mature_two_plus_changes']:,} |")
    print(f"| calibrate AUC (current weights, out of time) | {c['auc']:.3f}{interval} (n_test {c['n_test']:,}) |")
    print(f"\nweekly shares: {s['weekly_change_shares']}  ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
