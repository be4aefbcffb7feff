"""Helpers shared by the benchmark scripts (run as ``python benchmarks/bench_*.py``)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PYTHON = sys.executable


def ensure_world(data: Path, accounts: int) -> None:
    """Write the sample world into ``data`` unless its usage file is already there."""
    if (data / "usage.parquet").exists() and (data / "accounts.csv").exists():
        return
    print(f"generating {accounts:,}-account world in {data} ...", file=sys.stderr, flush=True)
    subprocess.run([str(Path(PYTHON).parent / "workbook"), "sample", "--out", str(data),
                    "--accounts", str(accounts)], check=True)
