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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="reports to time (default: every notebook in --notebook-dir)")
    parser.add_argument("--data", help="data source passed to each report")
    parser.add_argument("--as-of", help="as_of passed to each report and to the floor")
    parser.add_argument("--notebook-dir", default=str(REPO / "notebooks"))
    parser.add_argument("--repeat", type=int, default=1, help="runs per notebook (the median counts)")
    parser.add_argument("--max-ratio", type=float, help="fail when a report's median exceeds this × the floor")
    parser.add_argument("--max-total", type=float, help="fail when the reports' medians add up to more (seconds)")
    args = parser.parse_args(argv)

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
