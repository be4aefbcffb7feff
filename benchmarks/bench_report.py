"""How long rendering a report takes, against the floor of the machinery itself.

The floor is a notebook that imports the same libraries as a report (the ``workbook`` package,
pandas, matplotlib, seaborn) and draws one figure, executed and rendered exactly like a report
(papermill, a fresh kernel, nbconvert to self-contained HTML). The target in issue 6 is that
``weekly`` takes at most twice the floor, and all five reports together under 90 s.

    python benchmarks/bench_report.py                       # every notebook in notebooks/
    python benchmarks/bench_report.py weekly --data DIR     # one report on a data source
    python benchmarks/bench_report.py weekly --data DIR --max-ratio 2 --max-total 90

Without notebooks in ``notebooks/`` it times the stand-in notebook of the tests. Prints one line
per run and a summary; with ``--max-ratio``/``--max-total`` it exits 1 when a limit is broken.

``--batch`` times the command itself, side by side in one run: ``workbook report weekly`` alone
against ``workbook report all`` (the five scheduled reports in one process, one validation, one
kernel, shared results), alternating, ``--repeat`` times each; the target (issue 15) is ``all``
within 2.5 × ``weekly`` (``--max-batch-ratio``)::

    python benchmarks/bench_report.py --batch --repeat 3                         # 1,500 accounts
    python benchmarks/bench_report.py --batch --repeat 2 --data benchmarks/data/s20k --accounts 20000
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from workbook import report  # noqa: E402

# The renderer's own imports are paid once per process; pay them before timing anything so that
# the floor (timed first) does not carry them for everyone.
import jupyter_client.manager  # noqa: E402,F401
import nbconvert  # noqa: E402,F401
import papermill  # noqa: E402,F401

FLOOR_SOURCE = [
    ("code", "data = None\nas_of = None", ["parameters"]),
    ("code", "import pandas as pd\nimport workbook as wb\nfrom workbook import plots, report\n\nplots.setup()\n"
             "report.record(as_of=as_of or '2024-06-30')", []),
    ("markdown", "# Floor", []),
    ("code", "fig, ax = plots.new_figure()\nax.plot(pd.Series(range(10)))\nplots.show(fig, alt='A line.')", []),
]


def write_floor(directory: Path) -> Path:
    """The floor notebook, written as ``directory/floor.ipynb``."""
    cells = []
    for kind, source, tags in FLOOR_SOURCE:
        cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
        cell.metadata["tags"] = tags
        cells.append(cell)
    nb = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"}})
    path = directory / "floor.ipynb"
    nbformat.write(nb, path)
    return path


def timed_render(name: str, notebook_dir: Path, out: Path, **kwargs) -> float:
    started = time.perf_counter()
    report.render(name, notebook_dir=notebook_dir, out=out, **kwargs)
    return time.perf_counter() - started


def timed_command(names: list[str], data: Path, out: Path) -> float:
    """Seconds of one ``workbook report NAMES... --data DATA --out OUT`` (it must exit 0)."""
    import subprocess
    started = time.perf_counter()
    done = subprocess.run([str(Path(sys.executable).parent / "workbook"), "report", *names, "--data", str(data),
                           "--out", str(out)], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"workbook report {' '.join(names)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return seconds


def batch_main(args) -> int:
    """``weekly`` alone vs ``all``, alternating, medians and their ratio (with the load average)."""
    from _common import ensure_world
    data = Path(args.data) if args.data else REPO / "benchmarks" / "data" / "compare"
    ensure_world(data, args.accounts)
    runs: dict[str, list[float]] = {"weekly": [], "all": []}
    with tempfile.TemporaryDirectory(prefix="wb-bench-") as tmp:
        for i in range(args.repeat):
            for label in runs:
                seconds = timed_command([label], data, Path(tmp) / f"out-{label}-{i}")
                runs[label].append(seconds)
                print(f"{label:<7} run {i + 1}: {seconds:6.2f} s", flush=True)
    weekly, every = statistics.median(runs["weekly"]), statistics.median(runs["all"])
    ratio = every / weekly
    load = Path("/proc/loadavg").read_text().strip() if Path("/proc/loadavg").exists() else "n/a"
    print(f"\ndata {data}\nworkbook report weekly  median {weekly:6.2f} s  ({len(runs['weekly'])} runs)")
    print(f"workbook report all     median {every:6.2f} s  ({len(runs['all'])} runs)")
    print(f"ratio all / weekly      {ratio:6.2f}  (target <= {args.max_batch_ratio})\nload average  {load}")
    return 1 if ratio > args.max_batch_ratio else 0


def each_red_main(args) -> int:
    """``workbook report account --each red`` (one command) against one ``workbook report account
    -p account_id=ID`` per red account, on the same world, in one run (with the load average)."""
    import subprocess
    from _common import ensure_world

    from workbook import health
    from workbook.workspace import open_data
    data = Path(args.data) if args.data else REPO / "benchmarks" / "data" / "compare"
    ensure_world(data, args.accounts)
    ws = open_data(data)
    try:
        table = health.health_table(ws)
    finally:
        ws.close()
    reds = table.loc[table["colour"] == "red", "account_id"].tolist()
    exe = str(Path(sys.executable).parent / "workbook")
    with tempfile.TemporaryDirectory(prefix="wb-bench-") as tmp:
        started = time.perf_counter()
        subprocess.run([exe, "report", "account", "--each", "red", "--data", str(data), "--out", f"{tmp}/batch"],
                       check=True, capture_output=True)
        batch = time.perf_counter() - started
        print(f"batch of {len(reds)} briefs: {batch:.1f} s", flush=True)
        singles = []
        for i, account in enumerate(reds, 1):
            singles.append(timed_command(["account", "-p", f"account_id={account}"], data, Path(tmp) / f"s{i}"))
            if i % 10 == 0 or i == len(reds):
                print(f"single runs: {i}/{len(reds)}, {sum(singles):.1f} s so far", flush=True)
    load = Path("/proc/loadavg").read_text().strip() if Path("/proc/loadavg").exists() else "n/a"
    print(f"\ndata {data}: {len(reds)} red accounts\nbatch (one command)   {batch:7.1f} s  "
          f"({batch / len(reds):.2f} s a brief)\nsingle runs (summed)  {sum(singles):7.1f} s  (median "
          f"{statistics.median(singles):.2f} s a brief)\nratio singles / batch {sum(singles) / batch:7.1f}\n"
          f"load average  {load}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="reports to time (default: every notebook in --notebook-dir)")
    parser.add_argument("--data", help="data source passed to each report")
    parser.add_argument("--as-of", help="as_of passed to each report and to the floor")
    parser.add_argument("--notebook-dir", default=str(REPO / "notebooks"))
    parser.add_argument("--repeat", type=int, default=1, help="runs per notebook (the median counts)")
    parser.add_argument("--max-ratio", type=float, help="fail when a report's median exceeds this × the floor")
    parser.add_argument("--max-total", type=float, help="fail when the reports' medians add up to more (seconds)")
    parser.add_argument("--batch", action="store_true", help="time `workbook report weekly` vs `workbook report all`")
    parser.add_argument("--each-red", action="store_true",
                        help="time `workbook report account --each red` vs one single run per red account")
    parser.add_argument("--accounts", type=int, default=1500, help="--batch: accounts of a world generated for --data")
    parser.add_argument("--max-batch-ratio", type=float, default=2.5, help="--batch: fail above this all/weekly ratio")
    args = parser.parse_args(argv)
    if args.each_red:
        return each_red_main(args)
    if args.batch:
        return batch_main(args)

    notebook_dir = Path(args.notebook_dir)
    names = args.names or sorted(p.stem for p in notebook_dir.glob("*.ipynb"))
    data_kwargs = {"data": args.data} if args.data else {}
    if not names:
        notebook_dir, names, data_kwargs = REPO / "tests" / "fixtures" / "notebooks", ["standin"], {}
        print(f"no notebooks in {args.notebook_dir}; timing the stand-in notebook")

    with tempfile.TemporaryDirectory(prefix="wb-bench-") as tmp:
        tmp_path = Path(tmp)
        floor_dir = tmp_path / "nb"
        floor_dir.mkdir()
        write_floor(floor_dir)
        medians: dict[str, float] = {}
        for name, directory, kwargs in [("floor", floor_dir, {})] + [(n, notebook_dir, data_kwargs) for n in names]:
            runs = []
            for i in range(args.repeat):
                seconds = timed_render(name, directory, tmp_path / "out", as_of=args.as_of, **kwargs)
                runs.append(seconds)
                print(f"{name:<14} run {i + 1}: {seconds:6.2f} s", flush=True)
            medians[name] = statistics.median(runs)

    floor = medians.pop("floor")
    total = sum(medians.values())
    print(f"\n{'report':<14} {'median s':>9} {'× floor':>8}")
    print(f"{'floor':<14} {floor:9.2f} {1:8.2f}")
    for name, seconds in medians.items():
        print(f"{name:<14} {seconds:9.2f} {seconds / floor:8.2f}")
    print(f"{'total':<14} {total:9.2f}")

    failed = False
    if args.max_ratio is not None:
        for name, seconds in medians.items():
            if seconds > args.max_ratio * floor:
                print(f"FAIL {name}: {seconds / floor:.2f} × floor > {args.max_ratio}")
                failed = True
    if args.max_total is not None and total > args.max_total:
        print(f"FAIL total {total:.1f} s > {args.max_total} s")
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
