"""Behaviour check for refactors: the command outputs and rendered reports, before and after.

Run once on the old code to take a snapshot, once on the new code to compare::

    python benchmarks/compare_outputs.py snapshot benchmarks/out/before
    # ... change the code ...
    python benchmarks/compare_outputs.py snapshot benchmarks/out/after
    python benchmarks/compare_outputs.py diff benchmarks/out/before benchmarks/out/after

A snapshot holds, for the sample world (``--accounts``, default 1,500; as of its last day):
``workbook health --format csv``, ``workbook kpis --format json`` for the week and the month,
every file ``workbook calibrate --out`` writes, and the five rendered reports (HTML and the
executed notebooks' outputs). Things that differ on every run are masked before comparing: the
``generated_at`` stamps, the per-run id in the HTML head, temporary paths, cell execution
timings and the random ids nbconvert gives figures. ``diff`` prints every file that differs and
exits 1 if any does.
"""
from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import ensure_world

BIN = Path(sys.executable).parent
WORKBOOK = str(BIN / "workbook")
REPORTS = ("weekly", "monthly", "post_cycle", "calibration", "dashboard")
MASKS = [
    (re.compile(r'"generated_at": "[^"]*"'), '"generated_at": "<masked>"'),
    (re.compile(r"generated_at: \S+"), "generated_at: <masked>"),
    (re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC"), "<time UTC>"),
    (re.compile(r'<meta name="workbook-run" content="[^"]*">'), '<meta name="workbook-run">'),
    (re.compile(r'"run": "[^"]*"'), '"run": "<masked>"'),
    (re.compile(r"/tmp/[A-Za-z0-9_./-]+"), "<tmp>"),
    (re.compile(r'"(start_time|end_time|duration|iopub\.[a-z_]+|shell\.[a-z_]+)": [^,}\n]+'), r'"\1": <masked>'),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    (re.compile(r'id="[A-Za-z0-9_-]{20,}"'), 'id="<id>"'),
    (re.compile(r'"id": "[0-9a-f]{8}"'), '"id": "<papermill cell id>"'),
]


def run(*argv: str) -> str:
    done = subprocess.run([WORKBOOK, *argv], check=True, text=True, capture_output=True)
    return done.stdout


def snapshot(out: Path, data: Path, accounts: int) -> None:
    ensure_world(data, accounts)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / "health.csv").write_text(run("health", "--data", str(data), "--format", "csv"), encoding="utf-8")
    for period in ("week", "month"):
        (out / f"kpis-{period}.json").write_text(
            run("kpis", "--data", str(data), "--period", period, "--format", "json"), encoding="utf-8")
    run("calibrate", "--data", str(data), "--out", str(out / "calibrate"))
    with tempfile.TemporaryDirectory(prefix="wb-compare-") as tmp:
        for name in REPORTS:
            print(f"rendering {name} ...", file=sys.stderr, flush=True)
            run("report", name, "--data", str(data), "--out", tmp)
        for path in Path(tmp).rglob("*"):
            if path.suffix in (".html", ".ipynb") and path.name != "index.html":
                target = out / "reports" / path.name
                target.parent.mkdir(parents=True, exist_ok=True)
                text = path.read_text(encoding="utf-8")
                if path.suffix == ".ipynb":  # outputs only: the code cells are the notebooks' own
                    nb = json.loads(text)
                    nb["metadata"].pop("papermill", None)
                    for cell in nb["cells"]:
                        cell.get("metadata", {}).pop("papermill", None)
                        cell.get("metadata", {}).pop("execution", None)
                    text = json.dumps(nb, indent=1, sort_keys=True)
                target.write_text(text, encoding="utf-8")
    print(f"snapshot written to {out}", file=sys.stderr)


def _masked(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    for pattern, repl in MASKS:
        text = pattern.sub(repl, text)
    return text.splitlines()


def diff(before: Path, after: Path) -> int:
    names = sorted({p.relative_to(before) for p in before.rglob("*") if p.is_file()}
                   | {p.relative_to(after) for p in after.rglob("*") if p.is_file()})
    differing = 0
    for name in names:
        a, b = before / name, after / name
        if not a.exists() or not b.exists():
            print(f"only in {'after' if not a.exists() else 'before'}: {name}")
            differing += 1
            continue
        la, lb = _masked(a), _masked(b)
        if la != lb:
            differing += 1
            print(f"differs: {name}")
            for line in list(difflib.unified_diff(la, lb, lineterm="", n=1))[:20]:
                print("   " + line[:200])
    print(f"{len(names)} files compared, {differing} differ")
    return 1 if differing else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    s = sub.add_parser("snapshot")
    s.add_argument("out", type=Path)
    s.add_argument("--data", type=Path, default=Path("benchmarks/data/compare"))
    s.add_argument("--accounts", type=int, default=1500)
    d = sub.add_parser("diff")
    d.add_argument("before", type=Path)
    d.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    os.chdir(Path(__file__).resolve().parent.parent)
    if args.what == "snapshot":
        snapshot(args.out, args.data, args.accounts)
        return 0
    return diff(args.before, args.after)


if __name__ == "__main__":
    sys.exit(main())
