"""Measurement: the renewal hazard model out of time, and a backfilled renewal forecast.

On a sample world (``--data DIR``, else ``--accounts`` accounts written once under
benchmarks/data/, seed 7):

1. :func:`workbook.renewals.evaluate` — AUC, Brier and ECE (10 equal-width bins) at 30, 90 and
   365 days, for "lost within H days" (every snapshot) and, with contracts, "did not renew at a
   renewal due within H days", each with account-clustered bootstrap 95 % intervals;
2. the backfill check — the forecast made on ``--backfill-as-of`` (default the data's end minus
   120 days) over ``--horizon`` days (90), fitted only on what was known then, against what
   happened (:func:`workbook.renewals.renewal_outcome`): expected renewals, 95 % interval,
   actual, inside or not; the same for every 30 days back over the last year (``--rolling``);
3. timings: history (snapshots), one fit, the forecast with an on-the-fly fit.

    .venv/bin/python benchmarks/bench_renewals.py [--data DIR] [--accounts 1500] [--replicates 1000]

Exits 1 when the 90-day renewal ECE (the forecast's own question; churn without contracts)
exceeds ``--max-ece`` (0.03) or the backfilled actual falls outside its interval.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from workbook import renewals  # noqa: E402
from workbook.workspace import open_data  # noqa: E402


def _world(args) -> Path:
    if args.data:
        return Path(args.data)
    out = REPO / "benchmarks" / "data" / f"sample-{args.accounts}"
    if not (out / "contracts.csv").exists():
        from workbook.sample import write_sample
        write_sample(out, accounts=args.accounts, seed=7)
    return out


def _ci(v, ci) -> str:
    if v is None or pd.isna(v):
        return "n/a"
    lo, hi = ci if isinstance(ci, (list, tuple)) else (None, None)
    return f"{v:.3f} [{lo:.3f}, {hi:.3f}]" if lo is not None else f"{v:.3f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data")
    ap.add_argument("--accounts", type=int, default=1500)
    ap.add_argument("--replicates", type=int, default=1000)
    ap.add_argument("--horizon", type=int, default=90)
    ap.add_argument("--backfill-as-of")
    ap.add_argument("--rolling", type=int, default=12, help="backfills every 30 days back (0: none)")
    ap.add_argument("--max-ece", type=float, default=0.03)
    args = ap.parse_args()
    data = _world(args)
    ws = open_data(data)
    t0 = time.perf_counter()
    hist = renewals.history(ws)
    t_hist = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = renewals.fit(hist)
    t_fit = time.perf_counter() - t0
    print(f"world {data} as of {hist.data_end:%Y-%m-%d}: {len(hist.snaps):,} monthly snapshots, "
          f"contracts={hist.contracts}; full fit {model.n_steps_:,} steps, {model.n_events_:,} lost")
    print("coefficients: " + ", ".join(f"{f} {c:+.3f}" for f, c in zip(renewals.FEATURES, model.coef_))
          + f"; intercept {model.intercept_:+.3f}")
    ev = renewals.evaluate(hist, replicates=args.replicates)
    print("\nout of time (test = last 25 % of the dates with a known outcome; fit on steps over by the first):")
    print(f"{'H':>4} {'kind':8} {'n':>6} {'lost':>5} {'observed':>9} {'predicted':>9}  {'AUC':22} {'Brier':22} ECE")
    for r in ev.to_dict("records"):
        if r.get("note") and not isinstance(r.get("n"), (int, float)):
            print(f"{r['horizon_days']:>4} {r['kind']:8} {r['note']}")
            continue
        print(f"{r['horizon_days']:>4} {r['kind']:8} {int(r['n']):>6} {int(r['n_lost']):>5} {r['observed']:>9.4f} "
              f"{r['predicted']:>9.4f}  {_ci(r['auc'], r['auc_ci']):22} {_ci(r['brier'], r['brier_ci']):22} "
              f"{_ci(r['ece'], r['ece_ci'])}   (train to {r['train_end']}, test {r['test_dates']})")
    kind = "renewal" if hist.contracts else "churn"
    ece90 = ev[(ev["horizon_days"] == 90) & (ev["kind"] == kind)]["ece"].iloc[0]

    as_of = pd.Timestamp(args.backfill_as_of) if args.backfill_as_of else hist.data_end - pd.Timedelta(days=120)
    t0 = time.perf_counter()
    f = renewals.renewal_forecast(ws, as_of, args.horizon)
    t_fc = time.perf_counter() - t0
    out = renewals.renewal_outcome(ws, f)
    print(f"\nbackfill: forecast on {as_of:%Y-%m-%d} over {args.horizon} days ({f.method})")
    print(f"  due {out['n']:,} (ARR {f.summary['arr_due']:,.0f}); expected renewals {out['expected']:.1f}, "
          f"95 % interval {out['interval']}; actual {out['renewed']:,} of {out['n_known']:,} known -> "
          f"{'INSIDE' if out['inside'] else 'OUTSIDE'}; expected ARR rate {f.summary['expected_arr_rate']:.3f}, "
          f"actual {out['arr_renewed_rate'] if out['arr_renewed_rate'] is None else round(out['arr_renewed_rate'], 3)}")
    inside_all = [bool(out["inside"])]
    if args.rolling:
        print(f"\nrolling backfills ({args.horizon}-day forecasts every 30 days, each fitted on its own past):")
        for k in range(args.rolling):
            day = hist.data_end - pd.Timedelta(days=args.horizon + 30 * k)
            fk = renewals.renewal_forecast(ws, day, args.horizon)
            ok = renewals.renewal_outcome(ws, fk)
            if not ok["n"]:
                continue
            inside_all.append(bool(ok["inside"]))
            print(f"  {day:%Y-%m-%d}: due {ok['n']:>4}, expected {ok['expected']:7.1f} {str(ok['interval']):>12}, "
                  f"actual {ok['renewed']:>4}  {'inside' if ok['inside'] else 'OUTSIDE'}")
        print(f"  inside {sum(inside_all)} of {len(inside_all)}")
    print(f"\ntimings: history (snapshots) {t_hist:.2f} s, one fit {t_fit:.2f} s, "
          f"forecast with an on-the-fly fit {t_fc:.2f} s")
    ws.close()
    bad = ece90 > args.max_ece or not out["inside"]
    print(f"90-day {kind} ECE {ece90:.4f} (max {args.max_ece}); backfill inside: {bool(out['inside'])}"
          + (" -> FAIL" if bad else " -> ok"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
