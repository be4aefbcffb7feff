"""The ``workbook`` command line (SPEC section 8).

Exit codes: 0 success; 2 bad input (data, parameters or arguments) with a short message naming
what is wrong and where, never a traceback; 1 anything else (set ``WORKBOOK_DEBUG=1`` to see the
traceback of an unexpected error).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import traceback

import pandas as pd

from . import __version__
from .errors import BadInput

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as bad input (exit 2) in the project's own words."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.print_usage(sys.stderr)
        print(f"workbook: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def _date(text: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(dt_parse(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: use YYYY-MM-DD") from None


def dt_parse(text: str):
    import datetime as dt
    return dt.date.fromisoformat(text.strip())


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- output helpers
def _jsonable(value):
    if value is None:
        return None
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, (pd.Timestamp,)):
        return value.strftime("%Y-%m-%d")
    if value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "item"):
        return _jsonable(value.item())
    return value


def to_json(obj) -> str:
    """JSON text with NaN/NA/NaT as null and dates as YYYY-MM-DD."""
    def walk(o):
        if isinstance(o, dict):
            return {str(k): walk(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [walk(v) for v in o]
        return _jsonable(o)
    return json.dumps(walk(obj), indent=2, ensure_ascii=False)


def print_frame(df: pd.DataFrame, fmt: str) -> None:
    """Print a DataFrame as an aligned table, CSV or JSON records."""
    if fmt == "csv":
        df.to_csv(sys.stdout, index=False, date_format="%Y-%m-%d")
    elif fmt == "json":
        print(to_json(df.to_dict(orient="records")))
    else:
        with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 200):
            print(df.to_string(index=False, na_rep="—"))


# ---------------------------------------------------------------------------- commands
def cmd_sample(args) -> int:
    import shutil
    from pathlib import Path

    from .sample import write_sample
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise BadInput(str(out), None, "exists and is not a directory")
    # write beside the target, then swap it in: a crash never leaves a half-written world
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        counts = write_sample(tmp, accounts=args.accounts, seed=args.seed, progress=_progress)
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        if out.exists():
            out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    total = sum(counts.values())
    print(f"wrote {len(counts)} tables ({total:,} rows) to {args.out}")
    for name, n in counts.items():
        print(f"  {name:<13} {n:>12,}")
    return EXIT_OK


def cmd_validate(args) -> int:
    from .workspace import Workspace, summarise
    ws = Workspace(args.data, validate=False)
    if ws.findings:
        rows = [{"severity": f.severity, "table": f.table, "column": f.column or "", "rule": f.rule,
                 "rows": f.count or "", "examples": ", ".join(f.examples)} for f in ws.findings]
        print_frame(pd.DataFrame(rows), "table")
        print()
    errors, warnings = len(ws.errors), len(ws.warnings)
    if errors:
        print(f"{args.data}: {errors} error(s), {warnings} warning(s): fix the errors before running reports",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    print(summarise(ws))
    print(f"\n{args.data}: valid ({warnings} warning(s))")
    return EXIT_OK


def cmd_kpis(args) -> int:
    from . import kpis
    return kpis.cli(args)


def cmd_health(args) -> int:
    from . import health
    return health.cli(args)


def cmd_calibrate(args) -> int:
    from . import calibration
    return calibration.cli(args)


def cmd_weights(args) -> int:
    from . import weights
    return weights.cli(args)


def cmd_report(args) -> int:
    from . import report
    return report.cli(args)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="workbook", description="Onboarding and customer-success reporting: KPIs, health, "
                "churn calibration and scheduled reports.")
    p.add_argument("--version", action="version", version=f"workbook {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    s = sub.add_parser("sample", help="write the deterministic sample world")
    s.add_argument("--out", required=True, help="directory to write the tables into")
    s.add_argument("--accounts", type=_positive_int, default=1500, help="number of accounts (default 1500)")
    s.add_argument("--seed", type=int, default=7, help="random seed (default 7): same seed, same files")
    s.set_defaults(func=cmd_sample)

    s = sub.add_parser("validate", help="check a data source against the data contract")
    s.add_argument("--data", required=True, help="data directory (CSV/Parquet per table) or DuckDB file")
    s.set_defaults(func=cmd_validate)

    def engine_arg(sp):
        sp.add_argument("--engine", choices=["duckdb", "spark"], default=None,
                        help="query engine (default: params/engine.yaml, else duckdb)")

    s = sub.add_parser("kpis", help="the seven onboarding KPIs and supporting metrics")
    s.add_argument("--data", required=True)
    s.add_argument("--as-of", type=_date, default=None, help="last day included (default: latest usage date)")
    s.add_argument("--period", choices=["week", "month"], default="week")
    s.add_argument("--format", choices=["table", "json", "csv"], default="table")
    engine_arg(s)
    s.set_defaults(func=cmd_kpis)

    s = sub.add_parser("health", help="health score, colour and drivers per account")
    s.add_argument("--data", required=True)
    s.add_argument("--as-of", type=_date, default=None)
    s.add_argument("--weights", default=None, help="weights YAML for this run (default: the active version)")
    s.add_argument("--format", choices=["table", "json", "csv"], default="table")
    engine_arg(s)
    s.set_defaults(func=cmd_health)

    s = sub.add_parser("calibrate", help="re-fit the health weights against churn and evaluate them")
    src = s.add_mutually_exclusive_group(required=True)
    src.add_argument("--data")
    src.add_argument("--snapshots", help="a snapshot CSV (SPEC section 6 columns)")
    s.add_argument("--as-of", type=_date, default=None)
    s.add_argument("--horizon-days", type=_positive_int, default=90)
    s.add_argument("--out", default=None, help="output directory (default reports/calibration/<as_of>/)")
    s.set_defaults(func=cmd_calibrate)

    s = sub.add_parser("weights", help="list or adopt versioned health weights")
    wsub = s.add_subparsers(dest="weights_command", metavar="ACTION", parser_class=_Parser)
    wsub.required = True
    wl = wsub.add_parser("list", help="versions, the active one, dates and reasons")
    wl.set_defaults(func=cmd_weights)
    wa = wsub.add_parser("adopt", help="adopt a proposed weights file as the next version")
    wa.add_argument("file")
    wa.add_argument("--reason", required=True)
    wa.set_defaults(func=cmd_weights)

    s = sub.add_parser("report", help="render a report notebook to self-contained HTML")
    s.add_argument("name", choices=["weekly", "monthly", "post_cycle", "calibration", "dashboard"])
    s.add_argument("--data", default=None)
    s.add_argument("--as-of", type=_date, default=None)
    s.add_argument("-p", "--parameter", action="append", default=[], metavar="KEY=VALUE",
                   help="notebook parameter (repeatable)")
    s.add_argument("--out", default=None, help="reports root (default reports/)")
    s.add_argument("--from", dest="date_from", type=_date, default=None, help="backfill: first as_of (weekly)")
    s.add_argument("--to", dest="date_to", type=_date, default=None, help="backfill: last as_of (weekly)")
    engine_arg(s)
    s.set_defaults(func=cmd_report)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return int(args.func(args) or 0)
    except SystemExit as exc:
        return int(exc.code or 0) if isinstance(exc.code, int) else EXIT_BAD_INPUT
    except BadInput as exc:
        print(f"workbook: bad input: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("workbook: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - the last line of defence: exit 1, short message
        if os.environ.get("WORKBOOK_DEBUG"):
            traceback.print_exc()
        print(f"workbook: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
