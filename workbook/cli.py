"""The ``workbook`` command line (SPEC section 8).

Exit codes: 0 success; 2 bad input (data, parameters or arguments) with a short message naming
what is wrong and where, never a traceback; 1 anything else (set ``WORKBOOK_DEBUG=1`` to see the
traceback of an unexpected error).
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback

import pandas as pd

from . import __version__
from .errors import BadInput
from .iofmt import print_frame, to_json  # noqa: F401 - print_frame/to_json were defined here once
from .periods import parse_day

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as bad input (exit 2) in the project's own words."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.print_usage(sys.stderr)
        print(f"workbook: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def _date(text: str) -> pd.Timestamp:
    """A day argument: exactly YYYY-MM-DD within the supported range (:func:`periods.parse_day`)."""
    try:
        return parse_day(text)
    except BadInput as exc:
        raise argparse.ArgumentTypeError(exc.rule) from None


def _bounded_int(low: int, high: int | None = None):
    """An argparse type: a whole number within low..high (high None: no upper bound)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{text!r} must be at least {low}" if high is None
                                             else f"{text!r} must lie within {low}..{high}")
        return value
    return parse


_positive_int = _bounded_int(1)
# calibration horizon: one day to ten years
HORIZON_DAYS_MAX = 3650


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)



# ---------------------------------------------------------------------------- commands
def cmd_sample(args) -> int:
    from .sample import write_sample
    # writes only the sample's own tables (all built first, then renamed into place); refuses a
    # folder holding other files unless --force, and never removes anything it did not write
    counts = write_sample(args.out, accounts=args.accounts, seed=args.seed, progress=_progress, force=args.force)
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
    s.add_argument("--force", action="store_true",
                   help="write into a folder that also holds other files (they are kept, never removed)")
    s.set_defaults(func=cmd_sample)

    s = sub.add_parser("validate", help="check a data source against the data contract")
    s.add_argument("--data", required=True, help="data directory (CSV/Parquet per table) or DuckDB file")
    s.set_defaults(func=cmd_validate)

    def raw_arg(sp):
        sp.add_argument("--raw", action="store_true",
                        help="CSV: write text cells as they are (by default a cell starting with = + - @ "
                             "is prefixed with ' so spreadsheets do not run it as a formula)")

    def engine_arg(sp):
        sp.add_argument("--engine", choices=["duckdb", "spark"], default=None,
                        help="query engine (default: params/engine.yaml, else duckdb)")

    s = sub.add_parser("kpis", help="the seven onboarding KPIs and supporting metrics")
    s.add_argument("--data", required=True)
    s.add_argument("--as-of", type=_date, default=None, metavar="YYYY-MM-DD", help="last day included (default: latest usage date)")
    s.add_argument("--period", choices=["week", "month"], default="week")
    s.add_argument("--format", choices=["table", "json", "csv"], default="table")
    raw_arg(s)
    engine_arg(s)
    s.set_defaults(func=cmd_kpis)

    s = sub.add_parser("health", help="health score, colour and drivers per account")
    s.add_argument("--data", required=True)
    s.add_argument("--as-of", type=_date, default=None, metavar="YYYY-MM-DD")
    s.add_argument("--weights", default=None, help="weights YAML for this run (default: the active version)")
    s.add_argument("--format", choices=["table", "json", "csv"], default="table")
    raw_arg(s)
    engine_arg(s)
    s.set_defaults(func=cmd_health)

    s = sub.add_parser("calibrate", help="re-fit the health weights against churn and evaluate them")
    src = s.add_mutually_exclusive_group(required=True)
    src.add_argument("--data")
    src.add_argument("--snapshots", help="a snapshot CSV (SPEC section 6 columns)")
    s.add_argument("--as-of", type=_date, default=None, metavar="YYYY-MM-DD")
    s.add_argument("--horizon-days", type=_bounded_int(1, HORIZON_DAYS_MAX), default=90,
                   help=f"label window in days, 1..{HORIZON_DAYS_MAX} (default 90)")
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
    wa.add_argument("--force", action="store_true",
                    help="adopt even when the proposal recommends not to (recorded in the change log)")
    wa.set_defaults(func=cmd_weights)

    s = sub.add_parser("report", help="render a report notebook to self-contained HTML")
    s.add_argument("name", choices=["weekly", "monthly", "post_cycle", "calibration", "dashboard"])
    s.add_argument("--data", default=None)
    s.add_argument("--as-of", type=_date, default=None, metavar="YYYY-MM-DD")
    s.add_argument("-p", "--parameter", action="append", default=[], metavar="KEY=VALUE",
                   help="notebook parameter (repeatable)")
    s.add_argument("--out", default=None, help="reports root (default reports/)")
    s.add_argument("--from", dest="date_from", type=_date, default=None, metavar="YYYY-MM-DD", help="backfill: first as_of (weekly)")
    s.add_argument("--to", dest="date_to", type=_date, default=None, metavar="YYYY-MM-DD", help="backfill: last as_of (weekly)")
    engine_arg(s)
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("usage-from-events", help="build the usage table from a product event log")
    s.add_argument("--events", required=True, help="event export: CSV or Parquet with account_id, user_id, "
                   "timestamp, event")
    s.add_argument("--modules", required=True, help="YAML map of modules to event names or glob patterns")
    s.add_argument("--out", required=True, help="folder to write usage.parquet into")
    s.add_argument("--top", type=_bounded_int(1), default=10, help="unmapped event names listed (default 10)")
    s.set_defaults(func=lambda a: __import__("workbook.events", fromlist=["cli"]).cli(a))
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
