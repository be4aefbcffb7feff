"""The ``workbook`` command line (SPEC section 8).

The top of the package: every command handler (``cmd_<command>``: parse, call the domain
functions, print) and the terminal output format (:func:`print_frame`) live here, and no module
of the package imports this one. Files and JSON text come from :mod:`workbook.iofmt`.

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

from . import __version__, display
from .errors import BadInput
from .iofmt import to_json, write_csv
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
REVALIDATE_HELP = ("check every rule of the data contract again instead of trusting the validation receipt "
                   "of unchanged files (docs/data-contract.md)")


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _note_as_of(ws, as_of) -> None:
    """A one-line note on stderr when ``--as-of`` is more than
    :data:`workbook.narrative.AS_OF_GAP_DAYS` days after the source's last usage date: the run goes
    on (a point-in-time look is legitimate), but past that day usage is unknown, not zero."""
    from .narrative import as_of_gap
    if as_of is None:
        return
    note = as_of_gap(as_of, ws.usage_date_range[1], name="--as-of")
    if note:
        print(f"note: {note}", file=sys.stderr)


# ---------------------------------------------------------------------------- terminal output
def print_frame(df: pd.DataFrame, fmt: str, *, raw: bool = False) -> None:
    """Print ``df`` to standard output as an aligned table, CSV (:func:`workbook.iofmt.write_csv`) or
    JSON records.

    An empty table prints ``(no rows)``; empty CSV is the header line alone; empty JSON is ``[]``.
    """
    if fmt == "csv":
        write_csv(df, sys.stdout, raw=raw)
    elif fmt == "json":
        print(to_json(df.to_dict(orient="records")))
    elif df.empty:
        print("(no rows)")
    else:
        with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 200):
            print(_missing_as_dash(df).to_string(index=False, na_rep=display.MISSING))


def _missing_as_dash(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with the missing cells of its nullable columns (pandas ``string``, ``Int64``,
    ``boolean``: ``to_string`` writes ``<NA>`` there whatever ``na_rep`` says) as "—"."""
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if getattr(s.dtype, "na_value", None) is pd.NA and s.isna().any():
            out[col] = s.astype(object).where(s.notna(), display.MISSING)
    return out


def _day(ts) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%d")


def _kpi_rows(df: pd.DataFrame) -> pd.DataFrame:
    """KPI rows (:func:`workbook.kpis.table`) as the terminal shows them: values in their units."""
    from .kpis import format_value
    return pd.DataFrame({
        "KPI": df["kpi"],
        "value": [format_value(v, u) for v, u in zip(df["value"], df["unit"])],
        "previous": [format_value(v, u) for v, u in zip(df["previous"], df["unit"])],
        "change": [format_value(v, u, change=True) for v, u in zip(df["change"], df["unit"])],
        "target": [format_value(v, u) for v, u in zip(df["target"], df["unit"])],
        "status": df["status"],
        "n": df["n"],
    })


# the columns `workbook health` shows in a terminal (CSV and JSON carry every column)
HEALTH_TABLE_VIEW = ["account_id", "name", "csm", "score", "colour", "computed_colour", "lowest_dimension",
                     "change_7d", "archetypes", "next_review", "override_reason"]



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
    ws = Workspace(args.data, validate=False, revalidate=getattr(args, "revalidate", False), progress=_progress)
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
    """``workbook kpis``: the KPIs and supporting metrics as a table, JSON (:func:`workbook.kpis.compute`) or CSV."""
    from . import kpis, metrics, periods, revenue
    from .engines import get_engine
    from .workspace import open_data
    with open_data(args.data, revalidate=getattr(args, "revalidate", False), progress=_progress) as ws:
        _note_as_of(ws, args.as_of)
        engine = get_engine(ws, getattr(args, "engine", None))
        try:
            if args.format == "json":
                print(to_json(kpis.compute(ws, args.as_of, args.period, engine)))
                return EXIT_OK
            with kpis.open_context(ws, args.as_of, engine) as ctx:
                per = periods.period(args.period, ctx.as_of)
                vals = kpis.measures(ctx, per)
                rows = kpis.table(vals, per)
                money = None   # revenue rows only with a contracts table: without, table and CSV are unchanged
                if revenue.has_contracts(ws):
                    money = revenue.table(revenue.period_values(ws, per, ctx.as_of), per)
                    rows = pd.concat([rows, money], ignore_index=True)
                if args.format == "csv":
                    rows.insert(0, "as_of", ctx.as_of)
                    rows.insert(1, "period", per.kind)
                    print_frame(rows, "csv", raw=getattr(args, "raw", False))
                    return EXIT_OK
                print(f"Onboarding KPIs, {per.label()} (as of {_day(ctx.as_of)}; previous "
                      f"{_day(per.previous_start)} – {_day(per.previous_end)})\n")
                print_frame(_kpi_rows(rows.iloc[:len(kpis.KPIS)]), "table")
                print("\nSupporting metrics\n")
                print_frame(_kpi_rows(rows.iloc[len(kpis.KPIS):len(vals)]), "table")
                if money is not None:
                    print("\nRevenue KPIs (contracts)\n")
                    print_frame(_kpi_rows(rows.iloc[len(vals):]), "table")
                print()
                print(metrics.summary_text(metrics.supporting(ctx, per, vals)))
                return EXIT_OK
        finally:
            engine.close()


def cmd_health(args) -> int:
    """``workbook health``: the health table (table, csv or json) for ``--as-of``."""
    from . import health, weights
    from .engines import get_engine
    from .workspace import open_data
    w = weights.resolve(args.weights)               # a bad weights file stops before the data is read
    health.renewal_probability([], w)               # ... and so does a malformed calibration map
    ws = open_data(args.data, revalidate=getattr(args, "revalidate", False), progress=_progress)
    try:
        as_of = ws.default_as_of() if args.as_of is None else pd.Timestamp(args.as_of).normalize()
        _note_as_of(ws, args.as_of)
        engine = get_engine(ws, getattr(args, "engine", None))
        try:
            table = health.health_table(ws, as_of, w, engine)
        finally:
            engine.close()
    finally:
        ws.close()
    if args.format != "table":
        print_frame(table, args.format, raw=getattr(args, "raw", False))
        return EXIT_OK
    view = table[[c for c in HEALTH_TABLE_VIEW if c in table]].copy()
    # the reports' rule (display.py): a score cut to one decimal, so 79.988 reads 79.9 beside amber
    view["score"] = [display.score_text(v) for v in view["score"]]
    view["change_7d"] = [display.score_change_text(v) for v in view["change_7d"]]
    counts = table["colour"].value_counts()
    print(f"health on {as_of:%Y-%m-%d} (weights {w.label}): "
          + ", ".join(f"{counts.get(c, 0)} {c}" for c in ("green", "amber", "red"))
          + (f", {int(table['colour'].isna().sum())} not scored" if table["colour"].isna().any() else ""))
    print(health.measured_text(table), file=sys.stderr)
    if table.empty:   # CSV and JSON stay machine-readable: a header alone, []
        print(f"no live accounts on {as_of:%Y-%m-%d}: none is signed on or before that day and not churned")
    else:
        print_frame(view, "table")
    return EXIT_OK


def cmd_calibrate(args) -> int:
    """``workbook calibrate (--data SRC | --snapshots FILE) [--as-of] [--horizon-days N] [--out DIR]``."""
    from pathlib import Path

    from . import calibration, evaluation, snapshots, weights
    H = calibration.check_horizon(args.horizon_days)
    if args.out:                                  # refuse an unwritable destination before any work
        evaluation.check_writable(args.out)
    snaps, accounts = snapshots.from_source(data=getattr(args, "data", None), path=args.snapshots,
                                            as_of=args.as_of, horizon_days=H, progress=_progress,
                                            revalidate=getattr(args, "revalidate", False))
    out = Path(args.out) if args.out else Path("reports") / "calibration" / f"{snaps.attrs['as_of']:%Y-%m-%d}"
    evaluation.check_writable(out)
    result = evaluation.evaluate(snaps, weights.load_active(), horizon_days=H, accounts=accounts, progress=_progress)
    paths = result.write(out)
    if getattr(args, "data", None):      # the renewal hazard model, beside the weights (docs/calibration.md 8)
        from . import renewals
        paths += renewals.write_calibration_files(args.data, out, snaps, as_of=args.as_of, progress=_progress)
    print(result.summary())
    print(f"wrote {len(paths)} files to {out}: {', '.join(p.name for p in paths)}")
    if result.metrics["recommendation"]["adopt"]:
        print(f"next: review them, then `workbook weights adopt {out / 'weights.yaml'} --reason \"...\"`")
    else:
        print("next: nothing should change - keep the current weights (the files are there for review)")
    return EXIT_OK


def cmd_weights(args) -> int:
    """``workbook weights list`` and ``workbook weights adopt FILE --reason TEXT [--force]``."""
    from . import weights
    if args.weights_command == "list":
        table = weights.list_versions()
        table["active"] = table["active"].map({True: "*", False: ""})
        table["intact"] = table["intact"].map({True: "yes", False: "EDITED", None: "?"})
        table["reason"] = table["reason"].map(lambda r: r if r is None or len(r) <= 70 else r[:67] + "...")
        print_frame(table.astype(object).where(table.notna(), "—"), "table")
        _, problems = weights.read_log()
        for problem in problems:
            print(f"workbook: warning: {weights.weights_dir() / 'CHANGELOG.md'}: {problem}: the log was edited by "
                  "hand; versions concerned are not shown as intact", file=sys.stderr)
        return EXIT_OK
    new = weights.adopt(args.file, args.reason, force=bool(getattr(args, "force", False)))
    print(f"adopted {new.version} (parent {new.meta.get('parent')}): {new.path}")
    if new.meta.get("forced"):
        print("  forced: the proposal recommended not adopting it (recorded in the change log)")
    print(f"  weights {'/'.join(str(new.weights[d]) for d in weights.DIMENSIONS)}, "
          f"thresholds {new.green:g}/{new.amber:g}")
    print(f"  active_weights -> {new.version} in {weights.params_dir() / 'health.yaml'}; "
          f"{weights.weights_dir() / 'CHANGELOG.md'} updated")
    return EXIT_OK


def cmd_report(args) -> int:
    """``workbook report NAME... | all [--each csm|red] [--data SRC] [--as-of D] [-p KEY=VALUE ...]
    [--out DIR] [--from D --to D] [--engine duckdb|spark] [--notebooks DIR]``.

    Everything that can be checked before a kernel starts is (:func:`workbook.report.plan`): the
    report names (``all`` = the five scheduled reports), the parameters (a key a notebook does not
    have is refused), ``--each`` (one report whose notebook has the member parameter), the dates,
    the output folder and the data itself, validated once for the whole run, so bad input exits 2
    with nothing written and no kernel started. Then it renders every report (or member, or week
    of a backfill) in one kernel, with progress lines on stderr (``[n/N] name: ...`` for several),
    and prints the path of each HTML page written. A failed report prints which cell failed and
    why and where the failed notebook is kept; the others still render. Exit 0 when all rendered,
    2 when every failure was bad input, 1 otherwise.
    """
    from . import report
    parameters = dict(report.parse_parameter(p) for p in (getattr(args, "parameter", None) or []))
    if getattr(args, "engine", None):
        parameters["engine"] = args.engine
    date_from, date_to = getattr(args, "date_from", None), getattr(args, "date_to", None)
    out, notebooks = args.out or "reports", getattr(args, "notebooks", None) or "notebooks"
    jobs, as_of = report.plan(args.name, each=getattr(args, "each", None), notebook_dir=notebooks, data=args.data,
                              as_of=args.as_of, parameters=parameters, out=out, date_from=date_from,
                              date_to=date_to, revalidate=bool(getattr(args, "revalidate", False)),
                              progress=_progress)
    if not jobs:
        print(f"workbook: no {args.each} members on this as_of: nothing to render", file=sys.stderr)
        return EXIT_OK
    if args.as_of is not None:
        _note_report_as_of(args.as_of, args.data if args.data is not None else parameters.get("data"))
    if len(jobs) > 1 or jobs[0].member is not None:
        batch = report.render_batch(jobs, notebook_dir=notebooks, out=out, progress=_progress)
        for result in batch.results:
            print(result.html)
        for job, failure in batch.failures:
            print(f"workbook: {job.label}: {failure}", file=sys.stderr)
        if batch.failures:
            print(f"workbook: {len(batch.failures)} of {len(jobs)} failed; {len(batch.results)} written",
                  file=sys.stderr)
        return batch.exit_code
    name = jobs[0].name
    try:
        if date_from is not None:
            results = report.backfill(name, date_from, date_to, notebook_dir=notebooks, data=args.data,
                                      parameters=parameters, out=out, progress=_progress)
        else:
            results = [report.render(name, notebook_dir=notebooks, data=args.data, as_of=as_of,
                                     parameters=parameters, out=out, progress=_progress)]
    except report.ReportFailed as exc:
        print(f"workbook: {exc}", file=sys.stderr)
        return exc.exit_code
    for result in results:
        print(result.html)
    return EXIT_OK


def _note_report_as_of(as_of, data) -> None:
    """:func:`_note_as_of` for ``workbook report --as-of``, on the source the reports read (already
    validated by :func:`workbook.report.plan`, so opening it again trusts its receipt)."""
    from .report import resolve_data
    from .workspace import open_data
    with open_data(resolve_data(data)) as ws:
        _note_as_of(ws, as_of)


def cmd_usage_from_events(args) -> int:
    """``workbook usage-from-events --events FILE --modules MAP.yaml --out DIR [--top N]``."""
    from . import events
    summary = events.usage_from_events(args.events, args.modules, args.out, top=getattr(args, "top", 10) or 10)
    print(events.summary_text(summary))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The ``workbook`` argument parser (SPEC section 8).

    Why this is long: it declares every subcommand and option in one place, in the order of the
    SPEC, so ``workbook --help`` and this function read the same; each handler is a ``cmd_*``.
    """
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
    s.add_argument("--revalidate", action="store_true", help=REVALIDATE_HELP)
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
    s.add_argument("--revalidate", action="store_true", help=REVALIDATE_HELP)
    s.add_argument("--format", choices=["table", "json", "csv"], default="table")
    raw_arg(s)
    engine_arg(s)
    s.set_defaults(func=cmd_kpis)

    s = sub.add_parser("health", help="health score, colour and drivers per account")
    s.add_argument("--data", required=True)
    s.add_argument("--as-of", type=_date, default=None, metavar="YYYY-MM-DD")
    s.add_argument("--weights", default=None, help="weights YAML for this run (default: the active version)")
    s.add_argument("--revalidate", action="store_true", help=REVALIDATE_HELP)
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
    s.add_argument("--revalidate", action="store_true", help=REVALIDATE_HELP)
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

    s = sub.add_parser("report", help="render report notebooks to self-contained HTML")
    s.add_argument("name", nargs="+", metavar="NAME",
                   help="reports to render in one run (weekly, monthly, post_cycle, calibration, dashboard, "
                        "account, book), or all: the five scheduled ones")
    s.add_argument("--each", choices=["csm", "red"], default=None,
                   help="one report per CSM (-p csm=...) or per red account (-p account_id=...)")
    s.add_argument("--notebooks", default=None, metavar="DIR", help="folder of report notebooks (default notebooks/)")
    s.add_argument("--revalidate", action="store_true", help=REVALIDATE_HELP)
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
    s.set_defaults(func=cmd_usage_from_events)
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
