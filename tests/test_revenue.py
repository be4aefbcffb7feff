"""Contracts and the revenue KPIs, worked out by hand on a small world.

The world (as_of 2026-06-20, period = month: June 1..20; previous = May 1..31):

- U1 (SMB, Jo): K1 2025-07-01 → 2026-07-01 10,000 new; K2 2026-06-10 → 2026-07-01 2,000 expansion
  (an add-on overlapping K1: an upgrade)
- U2 (Enterprise, Kim): K3 2025-06-15 → 2026-06-15 20,000 new; K4 2026-06-15 → 2027-06-15 25,000
  renewal (an up-priced renewal)
- D1 (SMB, Kim): K5 2025-06-05 → 2026-06-05 8,000 new; K6 2026-06-05 → 2027-06-05 6,000 contraction
  (a downgrade)
- C1 (Enterprise, Jo): K7 2025-09-01 → 2026-09-01 30,000 new; accounts.churned_at 2026-06-12
  (mid-term churn)
- S1 (Mid-Market, Kim): K9 2025-03-01 → 2027-03-01 15,000 new (steady)
- P1 (SMB, Kim): K10 2025-05-01 → 2026-05-15 4,000 new, never renewed (lapses in May)
- N1 (SMB, Jo): K11 2026-06-03 → 2027-06-03 7,000 new (a new logo inside June)
- F1 (SMB, Jo): K8 2026-06-25 → 2027-06-25 5,000 new: starts after as_of, not counted
- X1 (SMB, Jo): no contract at all (its accounts.arr 50,000 is not used when contracts exist)

A contract is active on day d when starts_at <= d < ends_at.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from workbook import kpis, revenue
from workbook.cli import main
from workbook.errors import BadInput
from workbook.workspace import open_data

AS_OF = "2026-06-20"

ACCOUNTS = """account_id,name,segment,csm,arr,contracted_modules,signed_at,churned_at
U1,Upgrade by add-on,SMB,Jo,10000,2,2025-01-01,
U2,Upgrade at renewal,Enterprise,Kim,20000,3,2025-01-01,
D1,Downgrade,SMB,Kim,8000,2,2025-01-01,
C1,Mid-term churn,Enterprise,Jo,30000,4,2025-01-01,2026-06-12
S1,Steady,Mid-Market,Kim,15000,2,2025-01-01,
P1,Lapsed,SMB,Kim,4000,1,2025-01-01,
N1,New logo,SMB,Jo,7000,1,2025-01-01,
F1,Future start,SMB,Jo,5000,1,2025-01-01,
X1,No contract,SMB,Jo,50000,3,2025-01-01,
"""
CONTRACTS = """account_id,contract_id,starts_at,ends_at,arr,licensed_users,modules,kind
U1,K1,2025-07-01,2026-07-01,10000,10,core;reports,new
U1,K2,2026-06-10,2026-07-01,2000,,analytics,expansion
U2,K3,2025-06-15,2026-06-15,20000,40,core;reports;analytics,new
U2,K4,2026-06-15,2027-06-15,25000,50,core;reports;analytics;billing,renewal
D1,K5,2025-06-05,2026-06-05,8000,20,core;reports,new
D1,K6,2026-06-05,2027-06-05,6000,15,core,contraction
C1,K7,2025-09-01,2026-09-01,30000,100,core;reports;analytics;billing,new
S1,K9,2025-03-01,2027-03-01,15000,12,core;reports,new
P1,K10,2025-05-01,2026-05-15,4000,5,core,new
N1,K11,2026-06-03,2027-06-03,7000,8,core,new
F1,K8,2026-06-25,2027-06-25,5000,5,core,new
"""
MILESTONES = """account_id,milestone,reached_at
U1,kickoff,2025-01-05
"""
USAGE = """account_id,date,module,active_users,actions
U1,2026-06-20,core,3,10
U1,2026-06-20,analytics,2,5
U1,2026-06-20,reports,1,4
D1,2026-06-20,core,2,7
D1,2026-06-20,reports,1,3
"""


def world(root: Path, contracts: str | None = CONTRACTS) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    tables = {"accounts": ACCOUNTS, "milestones": MILESTONES, "usage": USAGE, "contracts": contracts}
    for name, text in tables.items():
        if text is not None:
            (root / f"{name}.csv").write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def ws(tmp_path):
    w = open_data(world(tmp_path / "w"))
    yield w
    w.close()


def kpis_json(root: Path, *extra: str, capsys) -> dict:
    code = main(["kpis", "--data", str(root), "--as-of", AS_OF, "--period", "month", "--format", "json", *extra])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


# ---------------------------------------------------------------------------- contract_state
def test_contract_state_point_in_time(ws):
    s = revenue.contract_state(ws, ["2026-05-31", "2026-06-20"]).set_index(["account_id", "date"])
    may, june = pd.Timestamp("2026-05-31"), pd.Timestamp("2026-06-20")
    # U1 on 06-20: K1 10,000 + add-on K2 2,000; users 10 (K2 gives none); modules core, reports + analytics
    u1 = s.loc[("U1", june)]
    assert u1["arr"] == 12000.0 and u1["licensed_users"] == 10.0
    assert u1["modules"] == ("analytics", "core", "reports") and u1["n_modules"] == 3
    assert u1["renewal_at"] == pd.Timestamp("2026-07-01") and u1["contract_id"] == "K1"   # the base, not the add-on
    assert s.loc[("U1", may), "arr"] == 10000.0 and s.loc[("U1", may), "n_modules"] == 2
    # U2 renewed on 06-15: K4 is the active base contract on 06-20
    assert s.loc[("U2", june), "arr"] == 25000.0 and s.loc[("U2", june), "contract_id"] == "K4"
    assert s.loc[("U2", june), "renewal_at"] == pd.Timestamp("2027-06-15")
    # D1 downgraded to one module on 06-05
    assert s.loc[("D1", june), "arr"] == 6000.0 and s.loc[("D1", june), "modules"] == ("core",)
    # C1 churned on 06-12, inside K7: no revenue from that day on, though K7 runs to 2026-09-01
    assert s.loc[("C1", may), "arr"] == 30000.0 and s.loc[("C1", june), "arr"] == 0.0
    assert pd.isna(s.loc[("C1", june), "renewal_at"])
    # P1's contract ended 05-15 (ends_at is the first day no longer covered)
    assert s.loc[("P1", may), "arr"] == 0.0
    # F1 starts 06-25, X1 has no contract: 0, unknown users, modules fall back to contracted_modules
    for aid, contracted in (("F1", 1), ("X1", 3)):
        row = s.loc[(aid, june)]
        assert row["arr"] == 0.0 and pd.isna(row["licensed_users"]) and row["modules"] == ()
        assert row["n_modules"] == contracted
    assert len(s) == 9 * 2                                     # every account, every date


def test_contract_state_as_of_hides_later_contracts_and_churns(ws):
    # seen from 2026-06-01, C1 has not churned yet and U2's renewal (starting 06-15) does not exist
    s = revenue.contract_state(ws, ["2026-06-20"], as_of="2026-06-01").set_index("account_id")
    assert s.loc["C1", "arr"] == 30000.0
    assert s.loc["U2", "arr"] == 0.0          # K3 ended 06-15, K4 not known yet
    assert s.loc["F1", "arr"] == 0.0


def test_contract_state_without_contracts_comes_from_accounts(tmp_path):
    with open_data(world(tmp_path / "w", contracts=None)) as w:
        assert not revenue.has_contracts(w)
        s = revenue.contract_state(w, ["2024-12-31", AS_OF]).set_index(["account_id", "date"])
    june, before = pd.Timestamp(AS_OF), pd.Timestamp("2024-12-31")
    assert s.loc[("X1", june), "arr"] == 50000.0               # accounts.arr while signed and live
    assert s.loc[("X1", before), "arr"] == 0.0                 # not signed yet
    assert s.loc[("C1", june), "arr"] == 0.0                   # churned 06-12
    assert s.loc[("U2", june), "n_modules"] == 3 and s.loc[("U2", june), "modules"] == ()
    assert s["licensed_users"].isna().all() and s["renewal_at"].isna().all() and s["contract_id"].isna().all()


# ---------------------------------------------------------------------------- the KPIs, by hand
# June (cohort on 05-31, measured on 06-20):
#   cohort: U1 10,000, U2 20,000, D1 8,000, C1 30,000, S1 15,000 → n 5, starting ARR 83,000
#   (P1 lapsed 05-15, N1 starts 06-03, F1 starts after as_of, X1 has no contract: not in it)
#   06-20: U1 12,000 (+2,000 add-on), U2 25,000 (+5,000 renewal), D1 6,000 (−2,000), C1 0 (churned), S1 15,000
#   expansion 7,000; contraction 2,000; churned 30,000
#   GRR = (83,000 − 2,000 − 30,000) / 83,000 = 51,000 / 83,000
#   NRR = (83,000 + 7,000 − 2,000 − 30,000) / 83,000 = 58,000 / 83,000
#   logo retention = 4 / 5
# May (cohort on 04-30, measured on 05-31):
#   cohort: U1 10,000, U2 20,000, D1 8,000, C1 30,000, S1 15,000, P1 4,000 → n 6, 87,000
#   05-31: P1 0 (its contract lapsed 05-15, no renewal) → churned 4,000; nothing else moved
#   GRR = NRR = 83,000 / 87,000; logo retention 5 / 6; expansion 0; contraction 0
# Trailing 12 months to 06-20 (cohort on 2025-06-20, measured on 2026-06-20):
#   cohort: U2 20,000 (K3 from 2025-06-15), D1 8,000 (K5 from 06-05), S1 15,000, P1 4,000 → 47,000
#   (U1's K1 starts 2025-07-01 and C1's K7 2025-09-01: not yet customers then)
#   end: U2 25,000 (+5,000), D1 6,000 (−2,000), S1 15,000, P1 0 (churned 4,000)
#   GRR = (47,000 − 2,000 − 4,000) / 47,000 = 41,000 / 47,000
#   NRR = (47,000 + 5,000 − 2,000 − 4,000) / 47,000 = 46,000 / 47,000
# Trailing 12 months to 05-31 (previous; cohort on 2025-05-31): S1 15,000 and P1 4,000 → 19,000;
#   on 2026-05-31 P1 is gone → GRR = NRR = 15,000 / 19,000
EXPECTED = {
    "grr": (51000 / 83000, 5, 83000 / 87000),
    "nrr": (58000 / 83000, 5, 83000 / 87000),
    "logo_retention": (4 / 5, 5, 5 / 6),
    "expansion_arr": (7000.0, 5, 0.0),
    "contraction_arr": (2000.0, 5, 0.0),
    "churned_arr": (30000.0, 5, 4000.0),
    "grr_t12m": (41000 / 47000, 4, 15000 / 19000),
    "nrr_t12m": (46000 / 47000, 4, 15000 / 19000),
}


def test_revenue_kpis_worked_by_hand(ws):
    got = revenue.compute(ws, AS_OF, "month")
    assert list(got) == list(EXPECTED)
    for key, (value, n, previous) in EXPECTED.items():
        assert got[key]["value"] == pytest.approx(value), key
        assert got[key]["n"] == n, key
        assert got[key]["previous"] == pytest.approx(previous), key
    assert {k: v["better"] for k, v in got.items()} == {
        "grr": "higher", "nrr": "higher", "logo_retention": "higher", "expansion_arr": "higher",
        "contraction_arr": "lower", "churned_arr": "lower", "grr_t12m": "higher", "nrr_t12m": "higher"}
    # targets from params/targets.yaml: none for a single period, 0.90 / 1.00 over 12 months
    assert got["grr"]["target"] is None and got["grr_t12m"]["target"] == 0.90 and got["nrr_t12m"]["target"] == 1.00


def test_week_period_and_empty_cohort(ws):
    # week 06-14..06-20, cohort on 06-13: U1 12,000 (K1 + the add-on K2 from 06-10), U2 20,000 (K3
    # until 06-15), D1 6,000 (downgraded 06-05), S1 15,000, N1 7,000 (from 06-03) → n 5, 60,000;
    # C1 churned 06-12 and is already out. On 06-20 only U2 moved: 25,000 (+5,000).
    # GRR = 60,000 / 60,000 = 1; NRR = 65,000 / 60,000
    got = revenue.compute(ws, AS_OF, "week")
    assert got["grr"]["value"] == pytest.approx(1.0) and got["grr"]["n"] == 5
    assert got["nrr"]["value"] == pytest.approx(65000 / 60000)
    assert got["expansion_arr"]["value"] == pytest.approx(5000.0)
    # a period before any contract: empty cohort → None, never 0
    early = revenue.compute(ws, "2025-02-10", "week")
    assert all(v["value"] is None and v["n"] == 0 for v in early.values())


def test_breakdown_by_segment_and_csm(ws):
    seg = revenue.by_segment(ws, AS_OF, "month")
    grr = seg[seg["key"] == "grr"].set_index("segment")
    # SMB: U1 10,000 → 12,000, D1 8,000 → 6,000: GRR (18,000 − 2,000) / 18,000; NRR 18,000 / 18,000
    # Enterprise: U2 20,000 → 25,000, C1 30,000 → churned: GRR 20,000 / 50,000; NRR 25,000 / 50,000
    # Mid-Market: S1 unchanged: 1
    assert grr.loc["SMB", "value"] == pytest.approx(16000 / 18000)
    assert grr.loc["Enterprise", "value"] == pytest.approx(20000 / 50000)
    assert grr.loc["Mid-Market", "value"] == pytest.approx(1.0)
    nrr = seg[seg["key"] == "nrr"].set_index("segment")
    assert nrr.loc["SMB", "value"] == pytest.approx(1.0) and nrr.loc["Enterprise", "value"] == pytest.approx(0.5)
    assert grr["n"].sum() == 5                                  # the groups add up to the cohort
    # May, SMB: U1 10,000, D1 8,000, P1 4,000 (lapsed) → 18,000 / 22,000
    assert grr.loc["SMB", "previous"] == pytest.approx(18000 / 22000)
    csm = revenue.by_csm(ws, AS_OF, "month")
    churned = csm[csm["key"] == "churned_arr"].set_index("csm")
    # Jo's cohort: U1, C1 (churned 30,000); Kim's: U2, D1, S1 (none)
    assert churned.loc["Jo", "value"] == pytest.approx(30000.0) and churned.loc["Kim", "value"] == pytest.approx(0.0)
    assert churned.loc["Kim", "previous"] == pytest.approx(4000.0)    # P1 is Kim's
    with pytest.raises(BadInput):
        revenue.breakdown(ws, "region")


def test_revenue_kpis_table_has_the_kpi_table_columns(ws):
    t = revenue.revenue_kpis(ws, AS_OF, "month")
    assert list(t.columns) == list(kpis.kpi_table(ws, AS_OF, "month").columns)
    row = t.set_index("key").loc["grr_t12m"]
    # 41,000 / 47,000 = 0.872 is below the 0.90 target
    assert row["status"] == "off target" and row["change"] == pytest.approx(41000 / 47000 - 15000 / 19000)


# ---------------------------------------------------------------------------- command line
SIX = ("grr", "nrr", "logo_retention", "expansion_arr", "contraction_arr", "churned_arr")


def test_kpis_json_carries_the_revenue_object(tmp_path, capsys):
    out = kpis_json(world(tmp_path / "w"), capsys=capsys)
    rev = out["revenue"]
    assert set(SIX) <= set(rev) and set(rev) - set(SIX) == {"grr_t12m", "nrr_t12m"}
    for key in rev:
        assert set(rev[key]) == {"value", "n", "previous", "target", "better"}
    assert rev["grr"]["value"] == pytest.approx(51000 / 83000) and rev["churned_arr"]["value"] == 30000
    assert rev["logo_retention"]["n"] == 5


def test_without_contracts_only_revenue_nulls_are_added(tmp_path, capsys):
    """The same world with and without contracts.csv: with contracts that entitle exactly the
    contracted number of modules (so adoption breadth has the same denominator), every key but
    ``revenue`` is equal; without, every revenue value is null."""
    same = "\n".join(",".join(r) for r in [
        "account_id,contract_id,starts_at,ends_at,arr,licensed_users,modules,kind".split(","),
        *[[a, f"K{a}", "2025-01-01", "2027-01-01", "1000", "", ";".join(f"m{i}" for i in range(n)), "new"]
          for a, n in (("U1", 2), ("U2", 3), ("D1", 2), ("C1", 4), ("S1", 2), ("P1", 1), ("N1", 1), ("F1", 1),
                       ("X1", 3))]]) + "\n"
    without = kpis_json(world(tmp_path / "without", contracts=None), capsys=capsys)
    with_ = kpis_json(world(tmp_path / "with", contracts=same), capsys=capsys)
    assert list(without) == ["as_of", "period", "start", "end", "kpis", "metrics", "revenue"]
    assert {k: v for k, v in without.items() if k != "revenue"} == {k: v for k, v in with_.items() if k != "revenue"}
    for key, v in without["revenue"].items():
        assert v["value"] is None and v["previous"] is None and v["n"] == 0, key
    # with contracts: nine accounts at 1,000 on 05-31; C1 churned 06-12 → GRR (9,000 − 1,000) / 9,000
    assert with_["revenue"]["grr"]["value"] == pytest.approx(8000 / 9000)


def test_kpis_table_and_csv_show_revenue_rows_only_with_contracts(tmp_path, capsys):
    root = world(tmp_path / "w")
    assert main(["kpis", "--data", str(root), "--as-of", AS_OF, "--period", "month"]) == 0
    text = capsys.readouterr().out
    assert "Revenue KPIs" in text and "Gross revenue retention" in text and "$30,000" in text
    assert main(["kpis", "--data", str(root), "--as-of", AS_OF, "--period", "month", "--format", "csv"]) == 0
    import csv
    rows = {r["key"]: r for r in csv.DictReader(capsys.readouterr().out.splitlines())}
    assert list(rows)[-8:] == list(EXPECTED)                       # after the seven KPIs and the metrics
    assert float(rows["grr"]["value"]) == pytest.approx(51000 / 83000) and rows["grr"]["unit"] == "fraction"
    assert float(rows["churned_arr"]["value"]) == 30000 and rows["churned_arr"]["better"] == "lower"
    bare = world(tmp_path / "bare", contracts=None)
    assert main(["kpis", "--data", str(bare), "--as-of", AS_OF, "--period", "month"]) == 0
    assert "Revenue" not in capsys.readouterr().out
    assert main(["kpis", "--data", str(bare), "--as-of", AS_OF, "--period", "month", "--format", "csv"]) == 0
    assert "grr" not in capsys.readouterr().out


# ---------------------------------------------------------------------------- adoption breadth
def test_adoption_breadth_counts_entitled_modules(ws, tmp_path):
    from workbook.adoption import adoption_signals
    # On 06-20 U1 used core, analytics, reports: entitled 3 (K1 core;reports + add-on analytics) → 1.0
    # (contracted_modules says 2: capped at 1 either way). D1 used core and reports but is entitled
    # to core only since its downgrade → min(1, 2/1) = 1; S1 did not use anything → 0.
    sig = adoption_signals(ws, [AS_OF]).set_index("account_id")
    assert sig.loc["U1", "breadth"] == 1.0 and sig.loc["S1", "breadth"] == 0.0
    # U2 is entitled to 4 modules after its renewal (contracted_modules 3): use one of them → 1/4
    root = world(tmp_path / "u2", contracts=CONTRACTS)
    (root / "usage.csv").write_text(USAGE + "U2,2026-06-19,core,1,1\n", encoding="utf-8")
    with open_data(root) as w:
        sig = adoption_signals(w, [AS_OF]).set_index("account_id")
    assert sig.loc["U2", "breadth"] == pytest.approx(1 / 4)
    bare = world(tmp_path / "bare", contracts=None)
    (bare / "usage.csv").write_text(USAGE + "U2,2026-06-19,core,1,1\n", encoding="utf-8")
    with open_data(bare) as w:
        sig = adoption_signals(w, [AS_OF]).set_index("account_id")
    assert sig.loc["U2", "breadth"] == pytest.approx(1 / 3)       # contracted_modules without contracts
